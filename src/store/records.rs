//! The rows the store reads and writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::backend::{lossy_text, parse_stamp, RowExt};
use super::StoreError;
use crate::domain::{FieldStatus, TicketKind, TicketStatus, TriageOutcome};

/// A ticket row that cannot be triaged because a column holds what it cannot hold. The stream
/// records it as skipped, with this as the reason, and moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub ticket_id: i64,
    /// Where the row stands in the change stream, so that the cursor can move past it.
    pub change_seq: i64,
    pub column: &'static str,
    pub problem: String,
}

/// What every unreadable ticket's skip reason says, and what monitoring counts them by.
pub(crate) const UNREADABLE: &str = "cannot be read:";

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ticket {} {UNREADABLE} its {} {}",
            self.ticket_id, self.column, self.problem
        )
    }
}

/// Why a ticket row was not read: the store failed (retry), or the row itself is bad
/// (quarantine it).
#[derive(Debug)]
pub(crate) enum RowError {
    Store(sqlx::Error),
    Unreadable(Unreadable),
}

/// The start of a bad value, for a message that must stay one line.
fn shorten(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// A ticket as the pipeline sees it. Subject and body are bytes: a ticket store may hold text
/// that is not valid UTF-8, and one such ticket must not fail the whole read.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub id: i64,
    pub subject: Option<Vec<u8>>,
    pub body: Option<Vec<u8>>,
    pub requester: Option<String>,
    pub kind: String,
    pub status: String,
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub impact: Option<String>,
    pub priority: Option<String>,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub change_seq: i64,
}

impl TicketRow {
    /// Reads a row of [`Store::ticket_select`](super::Store)'s shape. Text columns come as
    /// bytes and are decoded leniently: a help desk's other tools write what they like into
    /// them, and a stray byte must cost a replaced character, not the ticket. What cannot be
    /// read at all (a timestamp that is not one) is [`Unreadable`]: the ticket is quarantined,
    /// never the stream.
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, RowError> {
        let id: i64 = row.try_get("id").map_err(RowError::Store)?;
        let change_seq = row
            .try_get::<Option<i64>, _>("change_seq")
            .map_err(RowError::Store)?
            .unwrap_or(0);
        let unreadable = |column: &'static str, problem: String| {
            RowError::Unreadable(Unreadable {
                ticket_id: id,
                change_seq,
                column,
                problem,
            })
        };
        let bytes = |column: &'static str| -> Result<Option<Vec<u8>>, RowError> {
            row.try_get::<Option<Vec<u8>>, _>(column)
                .map_err(|e| unreadable(column, e.to_string()))
        };
        let text = |column: &'static str| -> Result<Option<String>, RowError> {
            Ok(bytes(column)?.map(lossy_text))
        };
        let created = text("created_at")?.unwrap_or_default();
        let created_at = parse_stamp(&created).map_err(|_| {
            unreadable(
                "created_at",
                format!("holds {:?}, which is not a timestamp", shorten(&created)),
            )
        })?;
        Ok(Self {
            id,
            subject: bytes("subject")?,
            body: bytes("body")?,
            requester: text("requester")?,
            kind: text("kind")?.unwrap_or_default(),
            status: text("status")?.unwrap_or_default(),
            category: text("category")?,
            urgency: text("urgency")?,
            impact: text("impact")?,
            priority: text("priority")?,
            resolution: text("resolution")?,
            created_at,
            change_seq,
        })
    }

    /// Resolved and closed tickets are history, not work to triage.
    pub fn is_open(&self) -> bool {
        !TicketStatus::text_is_done(&self.status)
    }

    /// The ticket's kind; `None` for a kind the native schema does not name.
    pub fn kind(&self) -> Option<TicketKind> {
        TicketKind::parse(&self.kind)
    }

    /// The subject as text, for titles and listings.
    pub fn subject_text(&self) -> String {
        self.subject
            .as_deref()
            .map(|s| String::from_utf8_lossy(s).trim().to_owned())
            .unwrap_or_default()
    }
}

/// A ticket to add to the store (the demo's and tests' way in; a help desk writes its own).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewTicket {
    /// Keep this id; `None` lets the store choose.
    pub id: Option<i64>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub requester: Option<String>,
    /// `incident` or `request`.
    pub kind: String,
    /// `new`, `open`, `pending`, `resolved` or `closed`.
    pub status: String,
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub impact: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A knowledge article to add.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewArticle {
    pub id: Option<i64>,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    /// `public` (end users may see it) or `internal`.
    pub visibility: String,
}

#[derive(Debug, Clone)]
pub struct ArticleRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub public: bool,
}

impl ArticleRow {
    /// From a row with id, title, body and visibility.
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            public: row.try_get::<String, _>("visibility")? == "public",
        })
    }
}

/// What an embedding cache entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Ticket,
    Article,
    ArticleTitle,
    Resolution,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Ticket => "ticket",
            OwnerKind::Article => "article",
            OwnerKind::ArticleTitle => "article_title",
            OwnerKind::Resolution => "resolution",
        }
    }
}

/// One triage result row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageRecord {
    pub ticket_id: i64,
    pub model_version: String,
    pub outcome: TriageOutcome,
    /// Why the ticket was skipped, or what was done to its text.
    pub reason: Option<String>,
    pub category: Option<String>,
    pub category_confidence: Option<f32>,
    pub category_status: FieldStatus,
    pub urgency: Option<String>,
    pub urgency_confidence: Option<f32>,
    pub urgency_status: FieldStatus,
    pub priority: Option<String>,
    pub evidence: serde_json::Value,
    /// The candidate problem the incident joined as it was triaged.
    pub problem_id: Option<i64>,
    /// That problem is growing fast: possibly part of a major incident.
    pub major_incident: bool,
}

impl TriageRecord {
    /// Reads a `triage_results` row (`SELECT *`, or a query selecting its columns): the one
    /// read shape of the table, whatever joins come with it.
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let evidence: String = row.try_get("evidence")?;
        Ok(Self {
            ticket_id: row.try_get("ticket_id")?,
            model_version: row.try_get("model_version")?,
            outcome: state(row, "outcome", TriageOutcome::parse)?,
            reason: row.try_get("reason")?,
            category: row.try_get("category")?,
            category_confidence: row.float_opt("category_confidence")?,
            category_status: state(row, "category_status", FieldStatus::parse)?,
            urgency: row.try_get("urgency")?,
            urgency_confidence: row.float_opt("urgency_confidence")?,
            urgency_status: state(row, "urgency_status", FieldStatus::parse)?,
            priority: row.try_get("priority")?,
            evidence: serde_json::from_str(&evidence).unwrap_or_default(),
            problem_id: row.try_get("problem_id")?,
            major_incident: row.flag("major_incident")?,
        })
    }
}

/// A state column read into its type; text the program never writes is a decoding error
/// that names the column.
pub(super) fn state<T>(
    row: &AnyRow,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("{text:?} is not a state ticketlens writes").into(),
    })
}
