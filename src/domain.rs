//! The words every part shares: the kinds and statuses of tickets, the fields triage may fill
//! and what it decided for each field and ticket, and the kinds of suggestion. They are types
//! everywhere and text only where they are stored or sent (`as_str`, `parse`, serde). A leaf:
//! it uses no other module, so the store, triage, knowledge and the ticket systems can all use
//! it without a cycle.

use serde::{Deserialize, Serialize};

/// The native schema's kinds of ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    Incident,
    Request,
}

impl TicketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Incident => "incident",
            TicketKind::Request => "request",
        }
    }

    /// Case and surrounding blanks ignored; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "incident" => Some(TicketKind::Incident),
            "request" => Some(TicketKind::Request),
            _ => None,
        }
    }
}

/// The native schema's ticket statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    New,
    Open,
    Pending,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    /// Case and surrounding blanks ignored; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "new" => Some(TicketStatus::New),
            "open" => Some(TicketStatus::Open),
            "pending" => Some(TicketStatus::Pending),
            "resolved" => Some(TicketStatus::Resolved),
            "closed" => Some(TicketStatus::Closed),
            _ => None,
        }
    }

    /// Resolved and closed tickets are history, not work to triage.
    pub fn is_done(self) -> bool {
        matches!(self, TicketStatus::Resolved | TicketStatus::Closed)
    }

    /// Whether a stored status is history. A status the native schema does not name (a help
    /// desk's own, written by its tools) is work still open.
    pub fn text_is_done(text: &str) -> bool {
        Self::parse(text).is_some_and(Self::is_done)
    }
}

/// A ticket's fields triage may fill, as they are at write time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrentFields {
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub impact: Option<String>,
    pub priority: Option<String>,
}

/// What triage does with one field of one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldStatus {
    /// Empty and predicted with enough confidence: fill it.
    #[serde(rename = "applied")]
    Apply,
    /// A person already set it: leave it.
    #[serde(rename = "kept")]
    Kept,
    /// Empty and not confident enough (or no prediction): a person decides.
    #[serde(rename = "needs_review")]
    NeedsReview,
    /// Confident, but the pipeline is in shadow mode: recorded, not applied; a person decides.
    #[serde(rename = "shadow")]
    Shadow,
}

/// A ticket field triage predicts (its column in the store has the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PredictedField {
    Category,
    Urgency,
}

impl PredictedField {
    pub const ALL: [PredictedField; 2] = [PredictedField::Category, PredictedField::Urgency];

    pub fn as_str(self) -> &'static str {
        match self {
            PredictedField::Category => "category",
            PredictedField::Urgency => "urgency",
        }
    }
}

impl FieldStatus {
    pub const ALL: [FieldStatus; 4] = [
        FieldStatus::Apply,
        FieldStatus::Kept,
        FieldStatus::NeedsReview,
        FieldStatus::Shadow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldStatus::Apply => "applied",
            FieldStatus::Kept => "kept",
            FieldStatus::NeedsReview => "needs_review",
            FieldStatus::Shadow => "shadow",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a person has to look at the field.
    pub fn needs_a_person(self) -> bool {
        matches!(self, FieldStatus::NeedsReview | FieldStatus::Shadow)
    }
}

/// What became of one ticket's triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageOutcome {
    /// Every field is set, by triage or by a person.
    Applied,
    /// At least one field is left for a person.
    NeedsReview,
    /// Not triaged (an empty text, an unreadable row), with the reason recorded.
    Skipped,
}

impl TriageOutcome {
    pub const ALL: [TriageOutcome; 3] = [
        TriageOutcome::Applied,
        TriageOutcome::NeedsReview,
        TriageOutcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriageOutcome::Applied => "applied",
            TriageOutcome::NeedsReview => "needs_review",
            TriageOutcome::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// What a suggestion points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// A knowledge-base article.
    Article,
    /// A similar solved ticket.
    Ticket,
    /// An open ticket that may be the same request.
    Duplicate,
}

impl SuggestionKind {
    pub const ALL: [SuggestionKind; 3] = [
        SuggestionKind::Article,
        SuggestionKind::Ticket,
        SuggestionKind::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionKind::Article => "article",
            SuggestionKind::Ticket => "ticket",
            SuggestionKind::Duplicate => "duplicate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One ranked suggestion for a ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuggestionRecord {
    pub kind: SuggestionKind,
    pub target_id: i64,
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text() {
        for kind in [TicketKind::Incident, TicketKind::Request] {
            assert_eq!(TicketKind::parse(kind.as_str()), Some(kind));
        }
        for status in [
            TicketStatus::New,
            TicketStatus::Open,
            TicketStatus::Pending,
            TicketStatus::Resolved,
            TicketStatus::Closed,
        ] {
            assert_eq!(TicketStatus::parse(status.as_str()), Some(status));
        }
        for status in FieldStatus::ALL {
            assert_eq!(FieldStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
        }
        for outcome in TriageOutcome::ALL {
            assert_eq!(TriageOutcome::parse(outcome.as_str()), Some(outcome));
            let json = serde_json::to_value(outcome).unwrap();
            assert_eq!(json, outcome.as_str());
        }
        for kind in SuggestionKind::ALL {
            assert_eq!(SuggestionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TicketStatus::parse(" Closed "), Some(TicketStatus::Closed));
        assert!(!TicketStatus::text_is_done("in progress"));
        assert!(TicketStatus::text_is_done("resolved"));
    }
}
