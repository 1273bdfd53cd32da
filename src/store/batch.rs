//! One batch of results, written in one transaction together with its acknowledgement.

use std::collections::HashMap;

use chrono::Utc;
use sqlx::{Any, Row, Transaction};

use super::work::Claim;
use super::{
    id_list, last_of_each, stamp, value_rows, Backend, StoreError, TriageRecord, MAX_BINDS,
};
use crate::domain::{CurrentFields, SuggestionRecord};

/// A ticket field that triage may fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketField {
    Category,
    Urgency,
    Priority,
}

impl TicketField {
    fn column(self) -> &'static str {
        match self {
            TicketField::Category => "category",
            TicketField::Urgency => "urgency",
            TicketField::Priority => "priority",
        }
    }
}

/// Writes a batch; nothing is visible to others until [`BatchWriter::commit`], and dropping
/// it without committing rolls everything back, the acknowledgement included.
pub struct BatchWriter<'c> {
    tx: Transaction<'c, Any>,
    backend: Backend,
    /// Triage rows and suggestions wait here and go in a few statements for the whole batch
    /// when it is acknowledged or committed: a statement a ticket cost the database's worker
    /// thread more than the rows did, on a machine whose cores the model keeps busy.
    triage: Vec<TriageRecord>,
    /// (ticket, model version, the ticket's suggestions in rank order).
    suggestions: Vec<(i64, String, Vec<SuggestionRecord>)>,
}

impl<'c> BatchWriter<'c> {
    pub(super) fn new(tx: Transaction<'c, Any>, backend: Backend) -> Self {
        Self {
            tx,
            backend,
            triage: Vec::new(),
            suggestions: Vec::new(),
        }
    }

    /// The fields of the tickets `ids` as they are now, inside this transaction: one query for
    /// a batch, not one per ticket. Every id must be a ticket.
    pub async fn current_fields(
        &mut self,
        ids: &[i64],
    ) -> Result<HashMap<i64, CurrentFields>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT id, category, urgency, impact, priority FROM tickets WHERE id IN ({})",
            id_list(ids)
        );
        let rows = sqlx::query(&sql).fetch_all(&mut *self.tx).await?;
        let mut fields = HashMap::with_capacity(rows.len());
        for row in rows {
            let current = CurrentFields {
                category: row.try_get("category")?,
                urgency: row.try_get("urgency")?,
                impact: row.try_get("impact")?,
                priority: row.try_get("priority")?,
            };
            fields.insert(row.try_get::<i64, _>("id")?, current);
        }
        if let Some(&missing) = ids.iter().find(|id| !fields.contains_key(id)) {
            return Err(StoreError::NoSuchTicket(missing));
        }
        Ok(fields)
    }

    /// Sets `field` to `value` only if it is still empty; says whether it did. The guard is in
    /// the statement itself, so what an agent set is never overwritten.
    pub async fn fill_if_empty(
        &mut self,
        ticket_id: i64,
        field: TicketField,
        value: &str,
    ) -> Result<bool, StoreError> {
        let column = field.column();
        let sql = format!("UPDATE tickets SET {column} = ? WHERE id = ? AND {column} IS NULL");
        let result = sqlx::query(&self.backend.sql(&sql))
            .bind(value)
            .bind(ticket_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Inserts or replaces the result of (ticket, model version), with the batch.
    pub fn record_triage(&mut self, record: &TriageRecord) {
        self.triage.push(record.clone());
    }

    /// Adds an incident to a problem (once; not if it was merged away or rejected since the
    /// last pass), and brings the problem's size and last sighting up to date.
    pub async fn join_problem(
        &mut self,
        problem_id: i64,
        ticket_id: i64,
        similarity: f32,
    ) -> Result<(), StoreError> {
        sqlx::query(&self.backend.sql(
            "INSERT INTO problem_members (problem_id, ticket_id, similarity) \
             SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM problems WHERE id = ?1 \
             AND status NOT IN ('merged', 'rejected')) \
             ON CONFLICT (problem_id, ticket_id) DO NOTHING",
        ))
        .bind(problem_id)
        .bind(ticket_id)
        .bind(f64::from(similarity))
        .execute(&mut *self.tx)
        .await?;
        // (SQLite's two-argument MAX is PostgreSQL's GREATEST: a CASE is both's.)
        sqlx::query(&self.backend.sql(
            "UPDATE problems SET \
             size = (SELECT COUNT(*) FROM problem_members WHERE problem_id = ?1), \
             last_seen = (SELECT CASE WHEN created_at > problems.last_seen THEN created_at \
                 ELSE problems.last_seen END FROM tickets WHERE id = ?2), \
             updated_at = ?3 WHERE id = ?1",
        ))
        .bind(problem_id)
        .bind(ticket_id)
        .bind(stamp(Utc::now()))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Replaces the suggestions of (ticket, model version) with `suggestions`, ranked in
    /// order, with the batch.
    pub fn record_suggestions(
        &mut self,
        ticket_id: i64,
        model_version: &str,
        suggestions: &[SuggestionRecord],
    ) {
        self.suggestions
            .push((ticket_id, model_version.to_owned(), suggestions.to_vec()));
    }

    /// Writes the triage rows and suggestions recorded so far: the triage rows in one
    /// statement, the tickets' earlier suggestions removed in one and the new ones inserted in
    /// one (each split where it would bind too many values). A ticket recorded twice keeps
    /// its last record.
    async fn flush(&mut self) -> Result<(), StoreError> {
        let triage = last_of_each(std::mem::take(&mut self.triage), |r| {
            (r.ticket_id, r.model_version.clone())
        });
        self.write_triage(&triage).await?;
        let suggested = last_of_each(std::mem::take(&mut self.suggestions), |(id, version, _)| {
            (*id, version.clone())
        });
        self.write_suggestions(&suggested).await
    }

    async fn write_triage(&mut self, triage: &[TriageRecord]) -> Result<(), StoreError> {
        let now = stamp(Utc::now());
        const COLUMNS: usize = 15;
        for chunk in triage.chunks(MAX_BINDS / COLUMNS) {
            let rows = value_rows(COLUMNS, chunk.len());
            let sql = format!(
                "INSERT INTO triage_results (ticket_id, model_version, outcome, reason, category, \
                 category_confidence, category_status, urgency, urgency_confidence, \
                 urgency_status, priority, evidence, triaged_at, problem_id, major_incident) \
                 VALUES {rows} \
                 ON CONFLICT (ticket_id, model_version) DO UPDATE SET outcome = excluded.outcome, \
                 reason = excluded.reason, category = excluded.category, \
                 category_confidence = excluded.category_confidence, \
                 category_status = excluded.category_status, urgency = excluded.urgency, \
                 urgency_confidence = excluded.urgency_confidence, \
                 urgency_status = excluded.urgency_status, priority = excluded.priority, \
                 evidence = excluded.evidence, triaged_at = excluded.triaged_at, \
                 problem_id = COALESCE(excluded.problem_id, triage_results.problem_id), \
                 major_incident = excluded.major_incident"
            );
            let sql = self.backend.sql(&sql);
            let mut query = sqlx::query(&sql);
            for record in chunk {
                query = query
                    .bind(record.ticket_id)
                    .bind(&record.model_version)
                    .bind(record.outcome.as_str())
                    .bind(&record.reason)
                    .bind(&record.category);
                query = bind_real(query, record.category_confidence)
                    .bind(record.category_status.as_str())
                    .bind(&record.urgency);
                query = bind_real(query, record.urgency_confidence)
                    .bind(record.urgency_status.as_str())
                    .bind(&record.priority)
                    .bind(record.evidence.to_string())
                    .bind(&now)
                    .bind(record.problem_id)
                    .bind(i64::from(record.major_incident));
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// (ticket, model version, its suggestions) with no (ticket, version) twice.
    async fn write_suggestions(
        &mut self,
        suggested: &[(i64, String, Vec<SuggestionRecord>)],
    ) -> Result<(), StoreError> {
        let mut by_version = std::collections::BTreeMap::<&str, Vec<i64>>::new();
        for (id, version, _) in suggested {
            by_version.entry(version).or_default().push(*id);
        }
        for (version, ids) in by_version {
            for ids in ids.chunks(MAX_BINDS) {
                let sql = format!(
                    "DELETE FROM suggestions WHERE model_version = ? AND ticket_id IN ({})",
                    id_list(ids)
                );
                // Its ids are in its text: not worth a place in the prepared statements' cache.
                sqlx::query(&self.backend.sql(&sql))
                    .persistent(false)
                    .bind(version)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        let rows: Vec<(i64, &str, i64, &SuggestionRecord)> = suggested
            .iter()
            .flat_map(|(id, version, suggestions)| {
                let mut ranks = HashMap::new();
                suggestions.iter().map(move |s| {
                    let rank = ranks.entry(s.kind).or_insert(0i64);
                    *rank += 1;
                    (*id, version.as_str(), *rank, s)
                })
            })
            .collect();
        const COLUMNS: usize = 6;
        for chunk in rows.chunks(MAX_BINDS / COLUMNS) {
            let values = value_rows(COLUMNS, chunk.len());
            let sql = format!(
                "INSERT INTO suggestions (ticket_id, model_version, kind, rank, target_id, score) \
                 VALUES {values}"
            );
            let sql = self.backend.sql(&sql);
            let mut query = sqlx::query(&sql);
            for &(id, version, rank, s) in chunk {
                query = query
                    .bind(id)
                    .bind(version)
                    .bind(s.kind.as_str())
                    .bind(rank)
                    .bind(s.target_id)
                    .bind(f64::from(s.score));
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Acknowledges the batch's tickets (moves the cursor, or ends the leases), to take
    /// effect with [`BatchWriter::commit`]; from here until then the leases' rows are locked.
    /// A lease that ran out and went to another worker fails with
    /// [`StoreError::LeaseLost`]: nothing of this batch may be written, that worker's counts.
    pub async fn acknowledge(&mut self, pipeline: &str, claim: &Claim) -> Result<(), StoreError> {
        self.flush().await?;
        claim
            .acknowledge(&mut self.tx, self.backend, pipeline)
            .await
    }

    /// Records what the batch wrote to an outside ticket system (see
    /// [`Store::record_system_writes`]), to take effect with the acknowledgement.
    pub async fn record_system_writes(
        &mut self,
        writes: &[super::SystemWrite],
    ) -> Result<(), StoreError> {
        super::mirror::record_writes(self.backend, &mut self.tx, writes).await
    }

    /// Commits the whole batch.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.flush().await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// Binds an optional real. sqlx 0.8.6's `Any` driver sends a NULL `f64` to PostgreSQL as a
/// `float4` and a NULL `f32` as a `float8`; a statement prepared with one type then refuses
/// the other. A NULL is therefore bound as `f32` so that every value is a `float8`.
fn bind_real<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    value: Option<f32>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    match value {
        Some(x) => query.bind(f64::from(x)),
        None => query.bind(None::<f32>),
    }
}
