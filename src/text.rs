//! Turning what people type into a ticket into text the model can take. Tickets arrive empty,
//! as HTML mail, megabytes long or with broken encodings; none of that may stop the stream.

/// Longest text kept, in bytes. The model reads at most 256 word pieces (about 1 KiB of
/// English); the margin keeps subject and the start of the body whatever the language.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

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

/// Builds the model's input from a ticket's raw subject and body bytes.
pub fn prepare(subject: Option<&[u8]>, body: Option<&[u8]>) -> Result<Prepared, Unusable> {
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    for raw in [subject, body].into_iter().flatten() {
        let decoded = match std::str::from_utf8(raw) {
            Ok(text) => text.to_owned(),
            Err(_) => {
                note(&mut notes, "invalid UTF-8 replaced");
                String::from_utf8_lossy(raw).into_owned()
            }
        };
        let plain = if looks_like_html(&decoded) {
            note(&mut notes, "HTML removed");
            strip_html(&decoded)
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
    }
    Ok(Prepared { text, notes })
}

fn note(notes: &mut Vec<&'static str>, what: &'static str) {
    if !notes.contains(&what) {
        notes.push(what);
    }
}

fn looks_like_html(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "<html", "<body", "<div", "<p>", "<p ", "<br", "<span", "<table", "</",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

/// Drops tags, comments and the contents of `script`/`style`, and decodes entities. Mail
/// clients' HTML is the target, not arbitrary web pages.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let lower_head: String = after
            .chars()
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        let skip_to = if lower_head.starts_with("<!--") {
            after.find("-->").map(|i| i + 3)
        } else if lower_head.starts_with("<script") {
            find_ci(after, "</script>").map(|i| i + 9)
        } else if lower_head.starts_with("<style") {
            find_ci(after, "</style>").map(|i| i + 8)
        } else {
            after.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => {
                // Block-level tags separate words; keep them apart.
                out.push(' ');
                rest = &after[n..];
            }
            None => {
                // A lone '<' (as in "a < b") is text, not a tag.
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    html_escape::decode_html_entities(&out).into_owned()
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

fn collapse_whitespace(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
