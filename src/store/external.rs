//! Tickets of any help desk, kept in the native tables under that desk's own id
//! (`external_id`): posted one at a time (`POST /v1/tickets`) or imported from an export
//! (`ticketlens import`). Both ways in check a ticket the same way ([`ExternalTicket::try_from`])
//! and write it the same way ([`Store::upsert_external`]), so that sending a ticket twice
//! changes nothing and only an edit of what a person wrote queues it for triage again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::backend::parse_stamp;
use super::{stamp, Store, StoreError};
use crate::domain::{TicketKind, TicketStatus};

/// Longest subject, body or resolution, in characters: the API's limit on any text.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest id, requester or label, in characters: names, not texts (the API's label limit).
pub const MAX_LABEL_CHARS: usize = 200;

/// Why a ticket sent from a help desk was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTicket {
    #[error("`external_id` is missing or empty: every ticket needs its help desk's id")]
    MissingId,
    #[error("`{field}` is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("`kind` is {0:?}; it must be `incident` or `request`")]
    Kind(String),
    #[error("`status` is {0:?}; it must be `new`, `open`, `pending`, `resolved` or `closed`")]
    Status(String),
    #[error(
        "`created_at` is {0:?}, which is neither an RFC 3339 time (2026-03-01T09:00:00Z) \
         nor a date (2026-03-01)"
    )]
    CreatedAt(String),
}

/// A ticket as a help desk sends it: every field as text, absent or blank when the desk has
/// no value (an empty cell of an export is no value).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalTicketInput {
    pub external_id: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub requester: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub resolution: Option<String>,
    pub created_at: Option<String>,
    /// The external id of an earlier ticket this one reports the same thing as.
    #[serde(default)]
    pub duplicate_of: Option<String>,
}

/// A checked ticket of a help desk. An absent field leaves what the store holds (a category
/// triage applied stays); on a new ticket it takes the schema's default.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalTicket {
    pub external_id: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub requester: Option<String>,
    pub kind: Option<TicketKind>,
    pub status: Option<TicketStatus>,
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub resolution: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The external id of an earlier ticket this one duplicates (a link that is kept).
    pub duplicate_of: Option<String>,
}

/// `value` unless blank, and no longer than `max` characters.
fn field(
    value: Option<String>,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, InvalidTicket> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(InvalidTicket::TooLong { field: name, max });
    }
    Ok(Some(value))
}

impl TryFrom<ExternalTicketInput> for ExternalTicket {
    type Error = InvalidTicket;

    fn try_from(input: ExternalTicketInput) -> Result<Self, Self::Error> {
        let external_id = field(input.external_id, "external_id", MAX_LABEL_CHARS)?
            .map(|id| id.trim().to_owned())
            .ok_or(InvalidTicket::MissingId)?;
        let created_at = field(input.created_at, "created_at", MAX_LABEL_CHARS)?
            .map(|text| parse_stamp(&text).map_err(|_| InvalidTicket::CreatedAt(text)))
            .transpose()?;
        Ok(Self {
            external_id,
            subject: field(input.subject, "subject", MAX_TEXT_CHARS)?,
            body: field(input.body, "body", MAX_TEXT_CHARS)?,
            requester: field(input.requester, "requester", MAX_LABEL_CHARS)?,
            kind: field(input.kind, "kind", MAX_LABEL_CHARS)?
                .map(|k| TicketKind::parse(&k).ok_or(InvalidTicket::Kind(k)))
                .transpose()?,
            status: field(input.status, "status", MAX_LABEL_CHARS)?
                .map(|s| TicketStatus::parse(&s).ok_or(InvalidTicket::Status(s)))
                .transpose()?,
            category: field(input.category, "category", MAX_LABEL_CHARS)?,
            urgency: field(input.urgency, "urgency", MAX_LABEL_CHARS)?,
            resolution: field(input.resolution, "resolution", MAX_TEXT_CHARS)?,
            created_at,
            duplicate_of: field(input.duplicate_of, "duplicate_of", MAX_LABEL_CHARS)?
                .map(|id| id.trim().to_owned()),
        })
    }
}

/// What writing a help desk's ticket did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Upserted {
    /// The ticket's id in the store.
    pub id: i64,
    /// It was not there before.
    pub created: bool,
    /// Something stored changed (always, when created).
    pub changed: bool,
    /// `duplicate_of` names no other ticket the store has (yet): no link was kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown_duplicate: bool,
}

impl Store {
    /// Creates the ticket of `ticket.external_id`, or brings it up to date. As for GLPI's
    /// mirror, what a person wrote (subject, body, kind, status) is written only when it
    /// differs, because the queueing triggers fire on any write of those columns: an update
    /// that changes none of them does not send the ticket to triage again.
    pub async fn upsert_external(&self, ticket: &ExternalTicket) -> Result<Upserted, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = stamp(Utc::now());
        let (id, created, changed) = match self.insert_external(&mut tx, ticket, &now).await? {
            Some(id) => (id, true, true),
            None => {
                let (id, changed) = self.update_external(&mut tx, ticket, &now).await?;
                (id, false, changed)
            }
        };
        let mut unknown_duplicate = false;
        if let Some(earlier) = &ticket.duplicate_of {
            let found: Option<i64> =
                sqlx::query_scalar(&self.sql("SELECT id FROM tickets WHERE external_id = ?"))
                    .bind(earlier)
                    .fetch_optional(&mut *tx)
                    .await?;
            unknown_duplicate = match found {
                Some(earlier) => !self.link_duplicate_on(&mut tx, id, earlier).await?,
                None => true,
            };
        }
        tx.commit().await?;
        Ok(Upserted {
            id,
            created,
            changed,
            unknown_duplicate,
        })
    }

    /// Brings a ticket the store has up to date; its id, and whether anything changed.
    async fn update_external(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        ticket: &ExternalTicket,
        now: &str,
    ) -> Result<(i64, bool), StoreError> {
        let kind = ticket.kind.map(TicketKind::as_str);
        let status = ticket.status.map(TicketStatus::as_str);
        let written = sqlx::query(&self.sql(
            "UPDATE tickets SET subject = COALESCE(?1, subject), body = COALESCE(?2, body), \
             kind = COALESCE(?3, kind), status = COALESCE(?4, status), updated_at = ?5, \
             resolved_at = CASE WHEN COALESCE(?4, status) IN ('resolved', 'closed') \
             THEN COALESCE(resolved_at, ?5) ELSE NULL END \
             WHERE external_id = ?6 AND (COALESCE(subject, '') <> COALESCE(?1, subject, '') \
             OR COALESCE(body, '') <> COALESCE(?2, body, '') OR kind <> COALESCE(?3, kind) \
             OR status <> COALESCE(?4, status))",
        ))
        .bind(&ticket.subject)
        .bind(&ticket.body)
        .bind(kind)
        .bind(status)
        .bind(now)
        .bind(&ticket.external_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let created_at = ticket.created_at.map(stamp);
        let fields = sqlx::query(&self.sql(
            "UPDATE tickets SET requester = COALESCE(?1, requester), \
             category = COALESCE(?2, category), urgency = COALESCE(?3, urgency), \
             resolution = COALESCE(?4, resolution), created_at = COALESCE(?5, created_at), \
             updated_at = ?6 \
             WHERE external_id = ?7 AND (COALESCE(requester, '') <> COALESCE(?1, requester, '') \
             OR COALESCE(category, '') <> COALESCE(?2, category, '') \
             OR COALESCE(urgency, '') <> COALESCE(?3, urgency, '') \
             OR COALESCE(resolution, '') <> COALESCE(?4, resolution, '') \
             OR created_at <> COALESCE(?5, created_at))",
        ))
        .bind(&ticket.requester)
        .bind(&ticket.category)
        .bind(&ticket.urgency)
        .bind(&ticket.resolution)
        .bind(&created_at)
        .bind(now)
        .bind(&ticket.external_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let id: i64 = sqlx::query_scalar(&self.sql("SELECT id FROM tickets WHERE external_id = ?"))
            .bind(&ticket.external_id)
            .fetch_one(&mut **tx)
            .await?;
        Ok((id, written + fields > 0))
    }

    /// Adds the ticket unless its external id is taken; its id if added.
    async fn insert_external(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        ticket: &ExternalTicket,
        now: &str,
    ) -> Result<Option<i64>, StoreError> {
        let status = ticket.status.unwrap_or(TicketStatus::New);
        let created_at = ticket
            .created_at
            .map(stamp)
            .unwrap_or_else(|| now.to_owned());
        // The best known resolution time of a ticket that arrives already done.
        let resolved_at = status.is_done().then(|| created_at.clone());
        let id = sqlx::query_scalar(&self.sql(
            "INSERT INTO tickets (external_id, subject, body, requester, kind, status, category, \
             urgency, resolution, created_at, updated_at, resolved_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (external_id) DO NOTHING RETURNING id",
        ))
        .bind(&ticket.external_id)
        .bind(&ticket.subject)
        .bind(&ticket.body)
        .bind(&ticket.requester)
        .bind(ticket.kind.unwrap_or(TicketKind::Incident).as_str())
        .bind(status.as_str())
        .bind(&ticket.category)
        .bind(&ticket.urgency)
        .bind(&ticket.resolution)
        .bind(&created_at)
        .bind(now)
        .bind(resolved_at)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(external_id: &str) -> ExternalTicketInput {
        ExternalTicketInput {
            external_id: Some(external_id.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_ticket_is_checked_field_by_field() {
        let ok = ExternalTicket::try_from(ExternalTicketInput {
            kind: Some("Request".into()),
            status: Some(" open ".into()),
            created_at: Some("2026-03-01".into()),
            category: Some("".into()),
            ..input(" INC-1 ")
        })
        .unwrap();
        assert_eq!(ok.external_id, "INC-1");
        assert_eq!(ok.kind, Some(TicketKind::Request));
        assert_eq!(ok.status, Some(TicketStatus::Open));
        assert_eq!(ok.category, None, "a blank value is no value");
        assert!(ok.created_at.is_some());

        let refused = |i| ExternalTicket::try_from(i).unwrap_err();
        assert_eq!(refused(input("  ")), InvalidTicket::MissingId);
        let bad_kind = refused(ExternalTicketInput {
            kind: Some("problem".into()),
            ..input("1")
        });
        assert!(bad_kind.to_string().contains("`kind` is \"problem\""));
        let bad_status = refused(ExternalTicketInput {
            status: Some("done".into()),
            ..input("1")
        });
        assert!(matches!(bad_status, InvalidTicket::Status(_)));
        let bad_date = refused(ExternalTicketInput {
            created_at: Some("yesterday".into()),
            ..input("1")
        });
        assert!(bad_date.to_string().contains("RFC 3339"));
        let long = refused(ExternalTicketInput {
            body: Some("x".repeat(MAX_TEXT_CHARS + 1)),
            ..input("1")
        });
        assert!(matches!(long, InvalidTicket::TooLong { field: "body", .. }));
    }
}
