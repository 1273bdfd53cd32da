//! Read-only summaries of what the pipeline wrote.

use serde::Serialize;
use sqlx::Row;

use super::{id_list, Store, StoreError, TriageRecord};
use crate::domain::{FieldStatus, PredictedField, SuggestionKind};

/// Triage rows of a set of tickets under one model version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TriageCounts {
    /// Tickets with a triage row.
    pub triaged: usize,
    pub applied: usize,
    pub needs_review: usize,
    pub skipped: usize,
    /// Suggestion rows for those tickets.
    pub suggestions: usize,
    /// What happened to each field of the tickets that were triaged (not skipped).
    pub fields: FieldTallies,
}

/// Per field, what triage did with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FieldTallies {
    pub category: FieldTally,
    pub urgency: FieldTally,
}

/// What triage did with one field over a set of tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FieldTally {
    /// Filled by triage: the class was confident enough by the team's history.
    pub applied: usize,
    /// Already set by a person, left as it was.
    pub kept: usize,
    /// Left empty for a person, with a suggestion (shadow mode included).
    pub review: usize,
}

impl FieldTally {
    /// Counts `n` tickets whose field ended as `status`.
    pub fn add(&mut self, status: FieldStatus, n: usize) {
        match status {
            FieldStatus::Apply => self.applied += n,
            FieldStatus::Kept => self.kept += n,
            FieldStatus::NeedsReview | FieldStatus::Shadow => self.review += n,
        }
    }
}

impl FieldTallies {
    pub fn add(&mut self, other: &FieldTallies) {
        for (mine, theirs) in [
            (&mut self.category, &other.category),
            (&mut self.urgency, &other.urgency),
        ] {
            mine.applied += theirs.applied;
            mine.kept += theirs.kept;
            mine.review += theirs.review;
        }
    }
}

impl Store {
    pub async fn triage_counts(
        &self,
        ticket_ids: &[i64],
        model_version: &str,
    ) -> Result<TriageCounts, StoreError> {
        if ticket_ids.is_empty() {
            return Ok(TriageCounts::default());
        }
        let ids = id_list(ticket_ids);
        let sql = format!(
            "SELECT outcome, COUNT(*) AS n FROM triage_results WHERE model_version = ? \
             AND ticket_id IN ({ids}) GROUP BY outcome"
        );
        let rows = sqlx::query(&self.sql(&sql))
            .bind(model_version)
            .fetch_all(self.pool())
            .await?;
        let mut counts = TriageCounts::default();
        for row in rows {
            let n = row.try_get::<i64, _>("n")? as usize;
            counts.triaged += n;
            match row.try_get::<String, _>("outcome")?.as_str() {
                "applied" => counts.applied += n,
                "needs_review" => counts.needs_review += n,
                _ => counts.skipped += n,
            }
        }
        let sql = format!(
            "SELECT category_status, urgency_status, COUNT(*) AS n FROM triage_results \
             WHERE model_version = ? AND ticket_id IN ({ids}) AND outcome <> 'skipped' \
             GROUP BY category_status, urgency_status"
        );
        for row in sqlx::query(&self.sql(&sql))
            .bind(model_version)
            .fetch_all(self.pool())
            .await?
        {
            let n = row.try_get::<i64, _>("n")? as usize;
            let fields = &mut counts.fields;
            for (tally, column) in [
                (&mut fields.category, "category_status"),
                (&mut fields.urgency, "urgency_status"),
            ] {
                let status = row.try_get::<String, _>(column)?;
                tally.add(
                    FieldStatus::parse(&status).unwrap_or(FieldStatus::NeedsReview),
                    n,
                );
            }
        }
        let sql = format!(
            "SELECT COUNT(*) FROM suggestions WHERE model_version = ? AND ticket_id IN ({ids})"
        );
        let suggestions: i64 = sqlx::query_scalar(&self.sql(&sql))
            .bind(model_version)
            .fetch_one(self.pool())
            .await?;
        counts.suggestions = suggestions as usize;
        Ok(counts)
    }
}

impl Store {
    /// Every triage row written under `model_version`.
    pub async fn triage_rows(&self, model_version: &str) -> Result<Vec<TriageRecord>, StoreError> {
        self.triage_rows_of(Some(model_version)).await
    }

    /// Every triage row of every model version, by ticket.
    pub async fn triage_rows_of_every_version(&self) -> Result<Vec<TriageRecord>, StoreError> {
        self.triage_rows_of(None).await
    }

    async fn triage_rows_of(&self, version: Option<&str>) -> Result<Vec<TriageRecord>, StoreError> {
        let sql = match version {
            Some(_) => "SELECT * FROM triage_results WHERE model_version = ? ORDER BY ticket_id",
            None => "SELECT * FROM triage_results ORDER BY ticket_id",
        };
        let sql = self.sql(sql);
        let mut query = sqlx::query(&sql);
        if let Some(version) = version {
            query = query.bind(version);
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows
            .iter()
            .map(TriageRecord::from_row)
            .collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// (ticket, suggested id, score) of every `kind` suggestion written under
    /// `model_version`, best first for each ticket.
    pub async fn suggested(
        &self,
        model_version: &str,
        kind: SuggestionKind,
    ) -> Result<Vec<(i64, i64, f32)>, StoreError> {
        let rows: Vec<(i64, i64, f64)> = sqlx::query_as(&self.sql(
            "SELECT ticket_id, target_id, score FROM suggestions \
             WHERE model_version = ? AND kind = ? ORDER BY ticket_id, rank",
        ))
        .bind(model_version)
        .bind(kind.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(t, a, s)| (t, a, s as f32)).collect())
    }
}

/// One field of one ticket: what triage predicted and did, and what the ticket holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldOutcome {
    pub field: &'static str,
    pub predicted: Option<String>,
    pub status: String,
    pub now: Option<String>,
}

impl Store {
    /// For every ticket's latest triage row, per field, the prediction against the ticket's
    /// current value: what `ticketlens report` compares.
    pub async fn field_outcomes(&self) -> Result<Vec<FieldOutcome>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.category, r.category_status, t.category AS category_now, \
             r.urgency, r.urgency_status, t.urgency AS urgency_now \
             FROM triage_results r JOIN tickets t ON t.id = r.ticket_id \
             WHERE r.outcome <> 'skipped' AND r.triaged_at = \
             (SELECT MAX(triaged_at) FROM triage_results l WHERE l.ticket_id = r.ticket_id)",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len() * 2);
        for row in rows {
            for field in ["category", "urgency"] {
                out.push(FieldOutcome {
                    field,
                    predicted: row.try_get(field)?,
                    status: row.try_get(format!("{field}_status").as_str())?,
                    now: row.try_get(format!("{field}_now").as_str())?,
                });
            }
        }
        Ok(out)
    }
}

/// A label triage predicted under one model version, at or above the confidence asked, for
/// a ticket since resolved: its confidence and whether the ticket was resolved with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfidentOutcome {
    pub confidence: f32,
    pub right: bool,
}

impl Store {
    /// The model version of the latest triage, if anything was triaged.
    pub async fn latest_model_version(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            &self.sql("SELECT model_version FROM triage_results ORDER BY triaged_at DESC LIMIT 1"),
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// `model_version`'s predictions of `label` for `field` at or above confidence `from`,
    /// on tickets since resolved or closed, applied or not (a person may have set the field
    /// first; the guard may have held it back): the latest `limit`, the latest resolved first.
    pub async fn confident_outcomes(
        &self,
        model_version: &str,
        field: PredictedField,
        label: &str,
        from: f32,
        limit: usize,
    ) -> Result<Vec<ConfidentOutcome>, StoreError> {
        let c = field.as_str();
        let sql = format!(
            "SELECT r.{c}_confidence, t.{c} FROM triage_results r \
             JOIN tickets t ON t.id = r.ticket_id \
             WHERE r.model_version = ? AND r.{c} = ? AND r.{c}_confidence >= ? \
             AND t.status IN ('resolved', 'closed') \
             ORDER BY COALESCE(t.resolved_at, t.created_at) DESC, t.id DESC LIMIT ?"
        );
        let rows: Vec<(f64, Option<String>)> = sqlx::query_as(&self.sql(&sql))
            .bind(model_version)
            .bind(label)
            .bind(f64::from(from))
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(confidence, now)| ConfidentOutcome {
                confidence: confidence as f32,
                right: now.as_deref() == Some(label),
            })
            .collect())
    }
}
