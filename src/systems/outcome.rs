//! What the pipeline hands a ticket system: the results of triage and of a clustering pass,
//! in types every system reads the same way.

use chrono::{DateTime, Utc};

use crate::domain::{FieldStatus, SuggestionKind, SuggestionRecord, TriageOutcome};

/// One triaged ticket's results.
#[derive(Debug, Clone)]
pub struct TicketOutcome {
    pub ticket_id: i64,
    /// The model version that decided: named in the agents' note.
    pub model_version: String,
    /// sha256 of the text triaged: with the ticket, the key that makes a replay write nothing
    /// twice (a ticket whose text changes is triaged, and written, again).
    pub text_hash: String,
    pub outcome: TriageOutcome,
    /// Why the ticket was not triaged, or what was done to its text.
    pub reason: Option<String>,
    pub category: Option<FieldResult>,
    pub urgency: Option<FieldResult>,
    /// The words that weighed most in the decisions, most telling first.
    pub terms: Vec<String>,
    /// Articles, similar solved tickets and possible duplicates, each kind ranked.
    pub suggestions: Vec<SuggestionRecord>,
}

/// What triage predicted for one field and did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldResult {
    pub label: String,
    pub confidence: f32,
    pub status: FieldStatus,
    /// Why, against the class's threshold and its record on past tickets.
    pub why: String,
}

impl TicketOutcome {
    /// The field's label where triage decided to set it.
    pub fn applied(field: &Option<FieldResult>) -> Option<&str> {
        field
            .as_ref()
            .filter(|f| f.status == FieldStatus::Apply)
            .map(|f| f.label.as_str())
    }

    /// The ids suggested of one kind, best first.
    pub fn suggested(&self, kind: SuggestionKind) -> impl Iterator<Item = i64> + '_ {
        self.suggestions
            .iter()
            .filter(move |s| s.kind == kind)
            .map(|s| s.target_id)
    }
}

/// A candidate problem of a clustering pass.
#[derive(Debug, Clone)]
pub struct ProblemOutcome {
    /// ticketlens' id.
    pub id: i64,
    pub title: String,
    pub keywords: Vec<String>,
    pub tickets: Vec<i64>,
    pub requesters: usize,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}
