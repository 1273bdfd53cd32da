//! Turning what people type into a ticket into text the model can take. Tickets arrive empty,
//! as HTML mail, megabytes long or with broken encodings; none of that may stop the stream.
//!
//! Everything here is one forward pass over input cut to a fixed budget first: a ticket is
//! written by whoever can send mail to the help desk, and an attacker's megabytes of `<` or
//! `<script` once cost minutes per ticket when each tag searched the rest of the text.

use std::borrow::Cow;

/// Longest text kept, in bytes. The model reads at most 256 word pieces (about 1 KiB of
/// English); the margin keeps subject and the start of the body whatever the language.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Raw bytes of a subject or body read at all. HTML mail carries far more markup than text:
/// Outlook and Word put tens of KiB of CSS and conditional comments in the head before the first
/// word, and inline images or long tracking links follow; 16 times the text kept leaves room for
/// that, while one pass over it stays around a millisecond whatever size the ticket is.
const MAX_RAW_BYTES: usize = 16 * MAX_TEXT_BYTES;

/// The text that will be embedded, with what was done to it on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub text: String,
    /// Human-readable notes such as "HTML removed"; recorded with the triage result.
    pub notes: Vec<&'static str>,
}

/// Why a ticket cannot be triaged at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unusable {
    #[error("subject and body are empty")]
    Empty,
}

/// A ticket of any of the JSON-lines formats (fixtures, `../shared/data`) when only its text
/// matters: what `bench embed` and the benches read.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TicketText {
    pub subject: Option<String>,
    pub body: Option<String>,
}

impl TicketText {
    /// The text the model is given, if the ticket has a usable one.
    pub fn prepared(&self) -> Option<String> {
        let subject = self.subject.as_deref().map(str::as_bytes);
        let body = self.body.as_deref().map(str::as_bytes);
        prepare(subject, body).ok().map(|p| p.text)
    }
}

/// Builds the model's input from a ticket's raw subject and body bytes. Reads at most
/// `MAX_RAW_BYTES` of each, so its time does not depend on the ticket's size.
pub fn prepare(subject: Option<&[u8]>, body: Option<&[u8]>) -> Result<Prepared, Unusable> {
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    let mut raw_cut = false;
    for raw in [subject, body].into_iter().flatten() {
        let raw = if raw.len() > MAX_RAW_BYTES {
            raw_cut = true;
            &raw[..utf8_cut(raw, MAX_RAW_BYTES)]
        } else {
            raw
        };
        let decoded = match std::str::from_utf8(raw) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => {
                note(&mut notes, "invalid UTF-8 replaced");
                String::from_utf8_lossy(raw)
            }
        };
        let plain = if looks_like_html(&decoded) {
            note(&mut notes, "HTML removed");
            Cow::Owned(strip_html(&decoded))
        } else {
            decoded
        };
        let collapsed = collapse_whitespace(&plain);
        if !collapsed.is_empty() {
            parts.push(collapsed);
        }
    }
    let mut text = parts.join("\n");
    if text.is_empty() {
        return Err(Unusable::Empty);
    }
    if text.len() > MAX_TEXT_BYTES {
        note(&mut notes, "text cut to its first 16 KiB");
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.truncate(text.trim_end().len());
    } else if raw_cut {
        // Mostly markup: less than 16 KiB of text came out of what was read, and saying
        // "16 KiB" would hide that the rest of the ticket went unread.
        note(&mut notes, "input cut to its first 256 KiB");
    }
    Ok(Prepared { text, notes })
}

/// Where to cut `raw` near `limit`: before a character that would straddle it when `raw` is
/// UTF-8. A continuation byte is never a character's first byte, and no character has more than
/// three of them; on anything else the cut may split a sequence, which lossy decoding replaces.
fn utf8_cut(raw: &[u8], limit: usize) -> usize {
    let mut end = limit;
    while end > limit.saturating_sub(3) && end < raw.len() && is_continuation(raw[end]) {
        end -= 1;
    }
    end
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

fn note(notes: &mut Vec<&'static str>, what: &'static str) {
    if !notes.contains(&what) {
        notes.push(what);
    }
}

/// Whether any `<` opens one of the tags mail clients write. Looks only a few bytes past each
/// `<`, without a lower-cased copy of the text.
fn looks_like_html(text: &str) -> bool {
    const TAGS: [&[u8]; 9] = [
        b"<html", b"<body", b"<div", b"<p>", b"<p ", b"<br", b"<span", b"<table", b"</",
    ];
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(offset) = text[at..].find('<') {
        let lt = at + offset;
        if TAGS.iter().any(|tag| starts_with_ci(&bytes[lt..], tag)) {
            return true;
        }
        at = lt + 1;
    }
    false
}

/// `haystack` starts with `needle`, ASCII letters of either case; `needle` is lower-case.
fn starts_with_ci(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len() && haystack[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Drops tags, comments and the contents of `script`/`style`, and decodes entities. Mail
/// clients' HTML is the target, not arbitrary web pages.
///
/// One forward pass: every search starts where the last one stopped and a match moves past
/// what it searched, so the time is linear in `html` whatever it holds. GLPI's solutions and
/// knowledge-base answers come here whole, not through `prepare`'s budget.
///
/// Follows the HTML tokenizer where it matters for text. A `<` opens markup only before an ASCII
/// letter, `/`, `!` or `?`; otherwise (as in "a < b" or "x<5") it is text. Markup that is never
/// closed (a tag without `>`, a comment without `-->`, `script` or `style` without their end
/// tag) hides everything to the end, as it would in a mail client; that is also what keeps a
/// body cut in the middle of its CSS or a conditional comment from turning into text.
pub fn strip_html(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    // Start of text not yet copied out; `at` is where the next `<` is looked for.
    let mut text_from = 0;
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let lt = at + offset;
        let Some(kind) = markup_at(&bytes[lt..]) else {
            at = lt + 1;
            continue;
        };
        out.push_str(&html[text_from..lt]);
        let Some(end) = markup_end(html, lt, kind) else {
            text_from = html.len();
            break;
        };
        // Block-level tags separate words; keep them apart.
        out.push(' ');
        text_from = end;
        at = end;
    }
    out.push_str(&html[text_from..]);
    html_escape::decode_html_entities(&out).into_owned()
}

/// What a `<` opens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Markup {
    Comment,
    /// `script` or `style`: their contents are code, not text, up to the end tag.
    RawText(&'static [u8]),
    /// Any other tag, end tag, doctype or processing instruction: ends at the next `>`.
    Tag,
}

/// The markup `<` opens at the start of `head`, or `None` when the `<` is text.
fn markup_at(head: &[u8]) -> Option<Markup> {
    if head.starts_with(b"<!--") {
        return Some(Markup::Comment);
    }
    for name in [&b"script"[..], b"style"] {
        if starts_with_ci(&head[1..], name) && ends_name(head.get(1 + name.len())) {
            return Some(Markup::RawText(name));
        }
    }
    match head.get(1) {
        Some(b) if b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?') => Some(Markup::Tag),
        _ => None,
    }
}

/// Whether the byte after a tag name ends the name (`None`: the text ends there).
fn ends_name(next: Option<&u8>) -> bool {
    matches!(
        next,
        None | Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>')
    )
}

/// Just past the markup `kind` that starts at `lt`, or `None` if it is never closed.
fn markup_end(html: &str, lt: usize, kind: Markup) -> Option<usize> {
    match kind {
        // From the second byte, so that `<!-->` and `<!--->` are (empty) comments too.
        Markup::Comment => html[lt + 2..].find("-->").map(|i| lt + 2 + i + 3),
        Markup::Tag => html[lt + 1..].find('>').map(|i| lt + 1 + i + 1),
        Markup::RawText(name) => {
            let bytes = html.as_bytes();
            let mut at = lt + 1 + name.len();
            loop {
                let close = at + html[at..].find("</")?;
                let after_name = close + 2 + name.len();
                if starts_with_ci(&bytes[close + 2..], name) && ends_name(bytes.get(after_name)) {
                    return html[after_name..].find('>').map(|i| after_name + i + 1);
                }
                at = close + 2;
            }
        }
    }
}

/// Whitespace and control characters become single spaces. Stops a little past
/// `MAX_TEXT_BYTES`: the rest would be cut anyway, and going past it is how `prepare` knows to
/// say it cut.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT_BYTES + 1));
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn joins_subject_and_body() {
        let p = prepare(Some(b"VPN down"), Some(b"since  the\tupdate\n")).unwrap();
        assert_eq!(p.text, "VPN down\nsince the update");
        assert!(p.notes.is_empty());
    }

    #[test]
    fn empty_and_whitespace_only_tickets_are_unusable() {
        assert_eq!(prepare(None, None), Err(Unusable::Empty));
        assert_eq!(prepare(Some(b"  "), Some(b"\n\t")), Err(Unusable::Empty));
    }

    #[test]
    fn html_mail_becomes_plain_text() {
        let html = b"<html><style>p{color:red}</style><body><p>Printer&nbsp;is <b>offline</b></p><br>a &lt; b</body></html>";
        let p = prepare(Some(b"Printer"), Some(html)).unwrap();
        assert_eq!(p.text, "Printer\nPrinter is offline a < b");
        assert_eq!(p.notes, vec!["HTML removed"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let p = prepare(Some(b"Caf\xe9 wifi \xff broken"), None).unwrap();
        assert!(p.text.starts_with("Caf"));
        assert!(p.text.contains("wifi"));
        assert_eq!(p.notes, vec!["invalid UTF-8 replaced"]);
    }

    #[test]
    fn megabytes_of_text_are_cut_on_a_character_boundary() {
        let body = "é".repeat(1 << 20);
        let p = prepare(Some(b"huge"), Some(body.as_bytes())).unwrap();
        assert!(p.text.len() <= MAX_TEXT_BYTES);
        assert!(p.notes.contains(&"text cut to its first 16 KiB"));
    }

    #[test]
    fn raw_input_is_cut_between_characters_when_it_is_utf8() {
        // Three-byte characters do not divide the raw budget: the cut has to move back.
        assert_ne!(MAX_RAW_BYTES % 3, 0);
        let body = "€".repeat(MAX_RAW_BYTES);
        let p = prepare(None, Some(body.as_bytes())).unwrap();
        assert_eq!(p.notes, vec!["text cut to its first 16 KiB"]);
        assert!(p.text.chars().all(|c| c == '€'));
    }

    #[test]
    fn a_lone_less_than_is_text() {
        assert_eq!(strip_html("<p>a < b</p>"), " a < b ");
        assert_eq!(strip_html("<p>x<5 and y>3</p>"), " x<5 and y>3 ");
        assert_eq!(strip_html("<p>ends with <"), " ends with <");
    }

    #[test]
    fn comments_scripts_and_styles_are_dropped_whatever_their_case() {
        let html = "<P>one</P><!-- two --><SCRIPT type=x>if (a<b) three()</script ><Style>four</STYLE>five<!-->six";
        assert_eq!(strip_html(html), " one    five six");
        // `<scripting>` is some other tag, and `</scriptx>` does not end a script.
        assert_eq!(strip_html("<scripting>a</scripting>"), " a ");
        assert_eq!(strip_html("<script>a</scriptx>b</script>c"), " c");
    }

    #[test]
    fn markup_never_closed_hides_the_rest() {
        assert_eq!(strip_html("a<!-- b <p>c</p>"), "a");
        assert_eq!(strip_html("a<script>b</p>c"), "a");
        assert_eq!(strip_html("a<style>b</style"), "a");
        assert_eq!(strip_html("a<span class=\"x"), "a");
    }

    #[test]
    fn entities_are_decoded_once_after_the_markup_is_gone() {
        assert_eq!(
            strip_html("&lt;p&gt; &amp;amp; &#233;&#x20AC;"),
            "<p> &amp; é€"
        );
    }

    #[test]
    fn looks_like_html_reads_tags_of_any_case() {
        assert!(looks_like_html("Hello<BR>world"));
        assert!(looks_like_html("text then </DIV>"));
        assert!(!looks_like_html("a < b and <none of those>"));
        assert!(!looks_like_html(""));
    }

    /// `prepare` on adversarial bodies: text within bounds, made of what the body says.
    fn adversarial(body: &[u8]) -> Prepared {
        let p = prepare(Some(b"VPN down"), Some(body)).expect("the subject alone is text");
        assert!(p.text.len() <= MAX_TEXT_BYTES);
        assert!(p.text.starts_with("VPN down"));
        assert!(!p.text.chars().any(|c| c.is_control() && c != '\n'));
        p
    }

    fn repeated(head: &str, unit: &str, bytes: usize) -> Vec<u8> {
        let mut body = head.to_owned();
        body.push_str(&unit.repeat(bytes / unit.len()));
        body.into_bytes()
    }

    #[test]
    fn a_megabyte_of_less_than_signs_is_text() {
        let p = adversarial(&repeated("<p>", "<", 1 << 20));
        assert!(p.text.ends_with("<<<<"));
        assert!(p.notes.contains(&"HTML removed"));
        assert!(p.notes.contains(&"text cut to its first 16 KiB"));
    }

    #[test]
    fn a_megabyte_of_unclosed_scripts_comments_or_styles_is_dropped() {
        for unit in [
            "<script",
            "<SCRIPT>",
            "<!--",
            "<style>p{}",
            "<script></scrip",
        ] {
            let p = adversarial(&repeated("<p>printer offline</p>", unit, 1 << 20));
            assert_eq!(p.text, "VPN down\nprinter offline", "{unit}");
            assert_eq!(
                p.notes,
                vec!["HTML removed", "input cut to its first 256 KiB"]
            );
        }
    }

    #[test]
    fn a_megabyte_of_tags_leaves_their_text() {
        let p = adversarial(&repeated("<p>", "<b>x</b>", 1 << 20));
        assert!(p.text.ends_with("x x x"));
        let p = adversarial(&repeated("<p>", "<a", 1 << 20));
        assert_eq!(p.text, "VPN down");
    }

    #[test]
    fn deeply_nested_tags_cost_no_more_than_flat_ones() {
        let depth = 200_000;
        let html = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
        assert_eq!(strip_html(&html).trim(), "deep");
        // Past the raw budget: the text is never reached.
        let p = adversarial(html.as_bytes());
        assert_eq!(p.text, "VPN down");
    }

    /// Bytes from a fixed xorshift, with markup's bytes made common.
    fn noise(len: usize, mut state: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 8 {
                    0 => b'<',
                    1 => b'>',
                    2 => b"!-/&;#s"[(state >> 8) as usize % 7],
                    _ => (state >> 16) as u8,
                }
            })
            .collect()
    }

    #[test]
    fn megabytes_of_random_bytes_are_cut_and_cleaned() {
        let mut body = b"<p>".to_vec();
        body.extend(noise(1 << 20, 0x2545_f491_4f6c_dd1d));
        let p = adversarial(&body);
        assert!(p.notes.contains(&"invalid UTF-8 replaced"));
        assert!(p.notes.contains(&"text cut to its first 16 KiB"));
    }

    /// Every attack of the bench at 5 MB: each would take hours if any step were quadratic.
    /// Only the first `MAX_RAW_BYTES` are read, so the result must be that of a prefix a
    /// little longer than that; strip_html, which reads everything, must end too.
    #[test]
    fn five_megabytes_read_like_their_first_quarter_megabyte() {
        let size = 5 << 20;
        let mut random = b"<p>".to_vec();
        random.extend(noise(size, 7));
        let bodies = [
            repeated("<p>", "<", size),
            repeated("<p>", "<script", size),
            repeated("<p>", "<!--", size),
            repeated(
                "<p>",
                "<p>Printer &amp; scanner offline since Monday.</p>\n",
                size,
            ),
            random,
        ];
        for body in bodies {
            let whole = adversarial(&body);
            let prefix = adversarial(&body[..MAX_RAW_BYTES + 4]);
            assert_eq!(whole, prefix);
            let _ = strip_html(&String::from_utf8_lossy(&body));
        }
    }

    /// HTML-ish pieces that put the parser in each of its states, in any order.
    fn fragments() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "<",
            ">",
            "<script>",
            "</script>",
            "<SCRIPT ",
            "</ScRiPt",
            "<style>",
            "</style>",
            "<!--",
            "-->",
            "<!-->",
            "&amp;",
            "&lt;",
            "&#0;",
            "&#x85;",
            "&",
            ";",
            "<p>",
            "</p>",
            "<br/>",
            "<div class=\"a\">",
            "</",
            "<!",
            "<?",
            "printer",
            " ",
            "\n",
            "\t",
            "\0",
            "\u{85}",
            "é",
            "日本語",
            "€",
            "🦀",
        ]);
        prop::collection::vec(piece, 0..400).prop_map(|pieces| pieces.concat())
    }

    /// What any prepared ticket must be, and the strip being total.
    fn check(subject: Option<&[u8]>, body: Option<&[u8]>) -> Result<(), TestCaseError> {
        for raw in [subject, body].into_iter().flatten() {
            let _ = strip_html(&String::from_utf8_lossy(raw));
        }
        match prepare(subject, body) {
            Ok(p) => {
                prop_assert!(!p.text.is_empty());
                prop_assert!(p.text.len() <= MAX_TEXT_BYTES);
                // The one control character is the line between subject and body.
                let controls: Vec<char> = p.text.chars().filter(|c| c.is_control()).collect();
                prop_assert!(controls.is_empty() || controls == ['\n']);
            }
            Err(e) => prop_assert_eq!(e, Unusable::Empty),
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_bytes_prepare_to_bounded_clean_text(
            subject in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
            body in prop::option::of(prop::collection::vec(any::<u8>(), 0..4096)),
        ) {
            check(subject.as_deref(), body.as_deref())?;
        }

        #[test]
        fn html_ish_text_prepares_to_bounded_clean_text(
            subject in fragments(),
            body in fragments(),
            repeat in 1usize..200,
        ) {
            // Repeating makes some bodies pass both budgets.
            let body = body.repeat(repeat);
            check(Some(subject.as_bytes()), Some(body.as_bytes()))?;
        }

        #[test]
        fn stripped_html_has_no_markup_left(body in fragments()) {
            // Entities may spell markup as text; without them, a `<` left is one that opened
            // nothing, so never one before a tag's first byte.
            let text = strip_html(&body.replace('&', ""));
            let bytes = text.as_bytes();
            for (i, _) in text.match_indices('<') {
                let next = bytes.get(i + 1).copied().unwrap_or(b' ');
                prop_assert!(!(next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?')));
            }
        }
    }
}
