//! GLPI's numbers and text conventions, as GLPI 10 stores them.

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

/// Rich text as GLPI 10 stores it (HTML with `<`, `>` and `&` encoded as entities) back to HTML.
pub fn from_glpi_html(stored: &str) -> String {
    html_escape::decode_html_entities(stored).into_owned()
}

/// HTML as GLPI 10 stores rich text.
pub fn to_glpi_html(html: &str) -> String {
    html.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
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
        let stored = to_glpi_html(html);
        assert!(!stored.contains('<'));
        assert_eq!(from_glpi_html(&stored), html);
    }
}
