//! GLPI's numbers and text conventions, as GLPI 10 and 11 store them.

use crate::domain::TicketStatus;

/// `glpi_logs.linked_action` of the row GLPI writes when an item is created.
pub const HISTORY_CREATE_ITEM: i64 = 20;
/// `glpi_logs.linked_action` of a sub-item (a follow-up) added to a ticket.
pub const HISTORY_ADD_SUBITEM: i64 = 17;
/// `glpi_logs.linked_action` of a message (GLPI's second row for a new follow-up).
pub const HISTORY_LOG_SIMPLE_MESSAGE: i64 = 12;
/// `glpi_logs.linked_action` of a link between two items (a problem and a ticket).
pub const HISTORY_ADD_RELATION: i64 = 15;
/// `glpi_logs.linked_action` of a plain field change.
pub const HISTORY_FIELD: i64 = 0;

/// Ticket search options: what `glpi_logs.id_search_option` names for a changed field.
pub const OPTION_PRIORITY: i64 = 3;
pub const OPTION_CATEGORY: i64 = 7;
pub const OPTION_URGENCY: i64 = 10;

/// `glpi_problems.status` of a new problem.
pub const PROBLEM_NEW: i64 = 1;

/// Urgency, impact and priority: 1 (very low) to 5 (very high); priority 6 is "major".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(u8);

const LABELS: [&str; 6] = ["very low", "low", "medium", "high", "very high", "major"];

impl Level {
    pub fn from_number(n: i64) -> Option<Self> {
        (1..=6).contains(&n).then_some(Level(n as u8))
    }

    /// From triage's label (urgency is 1–5: "major" is a priority only).
    pub fn from_label(label: &str) -> Option<Self> {
        LABELS[..5]
            .iter()
            .position(|l| l.eq_ignore_ascii_case(label.trim()))
            .map(|i| Level(i as u8 + 1))
    }

    pub fn number(self) -> i64 {
        i64::from(self.0)
    }

    pub fn label(self) -> &'static str {
        LABELS[usize::from(self.0) - 1]
    }
}

/// GLPI's ticket status as ticketlens names it.
pub fn status(n: i64) -> TicketStatus {
    match n {
        1 => TicketStatus::New,
        2 | 3 => TicketStatus::Open, // assigned, planned
        4 => TicketStatus::Pending,  // waiting
        5 => TicketStatus::Resolved, // solved
        6 => TicketStatus::Closed,
        _ => TicketStatus::Open,
    }
}

/// GLPI's default priority by urgency and impact (`priority_matrix` as GLPI 10 installs it),
/// for a GLPI whose configuration holds none.
pub fn default_priority(urgency: Level, impact: Level) -> Level {
    // Rows: urgency 1..5; columns: impact 1..5.
    const MATRIX: [[u8; 5]; 5] = [
        [1, 1, 2, 2, 2],
        [1, 2, 2, 3, 3],
        [2, 2, 3, 4, 4],
        [2, 3, 4, 4, 5],
        [2, 3, 4, 5, 5],
    ];
    let row = usize::from(urgency.0.clamp(1, 5)) - 1;
    let column = usize::from(impact.0.clamp(1, 5)) - 1;
    Level(MATRIX[row][column])
}

/// Which GLPI, for how it stores text and history: GLPI 10 encodes `<`, `>` and `&` on write
/// (`&#60;`); GLPI 11 writes raw HTML, and on a database upgraded from 10 (or older, where rows
/// hold `&lt;`) decodes the old rows on read while `glpi_configs.must_unsanitize_db_data` is
/// not 0 (a missing row counts as 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Ten,
    Eleven { unsanitize: bool },
}

impl Version {
    /// A stored text as GLPI shows it.
    pub fn read(self, stored: &str) -> String {
        match self {
            Version::Ten | Version::Eleven { unsanitize: true } => decode_sanitized(stored),
            Version::Eleven { unsanitize: false } => stored.to_owned(),
        }
    }

    /// A category's full name as GLPI shows it: each part decoded on its own, since the
    /// " > " between them is stored raw.
    pub fn read_completename(self, stored: &str) -> String {
        stored
            .split('>')
            .map(|part| self.read(part))
            .collect::<Vec<_>>()
            .join(">")
    }

    /// HTML (or a name) as this GLPI stores it.
    pub fn write(self, html: &str) -> String {
        match self {
            Version::Ten => html
                .replace('&', "&#38;")
                .replace('<', "&#60;")
                .replace('>', "&#62;"),
            Version::Eleven { .. } => html.to_owned(),
        }
    }

    /// An item's name as GLPI's history holds it: stored (encoded) on 10, as shown on 11.
    pub fn history_name(self, stored: &str) -> String {
        match self {
            Version::Ten => stored.to_owned(),
            Version::Eleven { .. } => self.read(stored),
        }
    }

    /// What GLPI's history holds for a category, from its stored full name: on 10 the stored
    /// name with the separator encoded, on 11 the name as shown; none is "&nbsp; (0)" on 10
    /// and " (0)" on 11 (the empty names each writes).
    pub fn category_log(self, stored_completename: Option<&str>, id: i64) -> String {
        match (self, stored_completename) {
            (Version::Ten, Some(name)) => format!("{} ({id})", name.replace(" > ", " &#62; ")),
            (Version::Ten, None) => "&nbsp; (0)".to_owned(),
            (Version::Eleven { .. }, Some(name)) => {
                format!("{} ({id})", self.read_completename(name))
            }
            (Version::Eleven { .. }, None) => " (0)".to_owned(),
        }
    }
}

/// GLPI's own decoder of sanitized text (`SanitizedStringsDecoder`): a text with no raw `<`,
/// `>` or bare `&` that holds GLPI 10's entities has `&#60;`, `&#62;` and `&#38;` undone; else
/// one with no raw `<` or `>` that holds GLPI 9.5's `&lt;`/`&gt;` has those undone. Raw HTML
/// (GLPI 11's) is left as it is; nothing is decoded twice.
pub fn decode_sanitized(value: &str) -> String {
    let raw_angle = value.contains(['<', '>']);
    if !raw_angle
        && !has_bare_ampersand(value)
        && ["&#60;", "&#62;", "&#38;"]
            .iter()
            .any(|e| value.contains(e))
    {
        return replace_all(value, &[("&#60;", "<"), ("&#62;", ">"), ("&#38;", "&")]);
    }
    if !raw_angle && (value.contains("&lt;") || value.contains("&gt;")) {
        let image = value.contains("&lt;img ") && value.contains("=&quot;");
        let mut pairs = vec![("&lt;", "<"), ("&gt;", ">")];
        if image {
            pairs.push(("&quot;", "\""));
        }
        return replace_all(value, &pairs);
    }
    value.to_owned()
}

/// Replaces every `from` with its `to` in one pass from the left (a replaced text is not
/// looked at again).
fn replace_all(value: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    'outer: while !rest.is_empty() {
        for (from, to) in pairs {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// An `&` that does not start an entity (`&name;`, `&#60;`).
fn has_bare_ampersand(value: &str) -> bool {
    value.match_indices('&').any(|(i, _)| {
        let after = &value[i + 1..];
        let after = after.strip_prefix('#').unwrap_or(after);
        let name = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
        !(name > 0 && after.as_bytes().get(name) == Some(&b';'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_and_name_both_ways() {
        for n in 1..=5 {
            let level = Level::from_number(n).unwrap();
            assert_eq!(Level::from_label(level.label()), Some(level));
        }
        assert_eq!(Level::from_number(6).unwrap().label(), "major");
        assert_eq!(Level::from_label("major"), None);
        assert_eq!(Level::from_number(0), None);
    }

    #[test]
    fn the_default_matrix_rises_with_urgency_and_impact() {
        let l = |n| Level::from_number(n).unwrap();
        assert_eq!(default_priority(l(3), l(3)).number(), 3);
        assert_eq!(default_priority(l(5), l(5)).number(), 5);
        assert_eq!(default_priority(l(1), l(1)).number(), 1);
        for u in 1..5 {
            for i in 1..=5 {
                assert!(default_priority(l(u + 1), l(i)) >= default_priority(l(u), l(i)));
            }
        }
    }

    #[test]
    fn glpi_html_round_trips() {
        let html = "<p>Tom & Jerry's <b>VPN</b></p>";
        let stored = Version::Ten.write(html);
        assert!(!stored.contains('<'));
        assert_eq!(Version::Ten.read(&stored), html);
        let eleven = Version::Eleven { unsanitize: true };
        assert_eq!(eleven.write(html), html);
        assert_eq!(eleven.read(html), html, "raw HTML is never decoded");
    }

    #[test]
    fn the_three_forms_read_as_glpi_11_reads_them() {
        let upgraded = Version::Eleven { unsanitize: true };
        let fresh = Version::Eleven { unsanitize: false };
        for stored in [
            "<p>a &amp; b</p>",                     // 11: raw
            "&#60;p&#62;a &#38;amp; b&#60;/p&#62;", // 10: encoded
            "&lt;p&gt;a &amp; b&lt;/p&gt;",         // 9.5: legacy
        ] {
            assert_eq!(upgraded.read(stored), "<p>a &amp; b</p>", "{stored}");
        }
        assert_eq!(fresh.read("&#60;p&#62;"), "&#60;p&#62;");
        // Decoded once: an encoded entity stays an entity.
        assert_eq!(decode_sanitized("&#38;#60;"), "&#60;");
        // A bare & means the text is not GLPI 10's encoding.
        assert_eq!(decode_sanitized("R&D &#60;"), "R&D &#60;");
        assert_eq!(
            upgraded.read_completename("Accounts &#38; Access > VPN"),
            "Accounts & Access > VPN"
        );
    }

    #[test]
    fn the_history_names_a_category_as_each_version_does() {
        let eleven = Version::Eleven { unsanitize: true };
        assert_eq!(
            Version::Ten.category_log(Some("Network > VPN"), 2),
            "Network &#62; VPN (2)"
        );
        assert_eq!(
            eleven.category_log(Some("Accounts &#38; Access"), 4),
            "Accounts & Access (4)"
        );
        assert_eq!(Version::Ten.category_log(None, 0), "&nbsp; (0)");
        assert_eq!(
            eleven.category_log(Some("Network > VPN"), 2),
            "Network > VPN (2)"
        );
        assert_eq!(eleven.category_log(None, 0), " (0)");
    }
}
