//! What agents look at between runs: the needs-review queue, a ticket's latest triage, and the
//! figures `serve` exports. Every read takes each ticket's latest triage row (a new model
//! version writes new rows; the old ones stay for the report).

use std::collections::HashMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::backend::count_where;
use super::records::state;
use super::{id_list, ArticleRow, Backend, RowExt, Store, StoreError, TriageRecord};
use crate::domain::{FieldStatus, SuggestionKind, SuggestionRecord, TriageOutcome};

/// The latest triage row of each ticket, as a subquery.
const LATEST: &str = "(SELECT * FROM (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY ticket_id \
     ORDER BY triaged_at DESC, model_version DESC) AS nth FROM triage_results r) ranked \
     WHERE nth = 1)";

/// One field's prediction and what triage did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldPrediction {
    pub label: Option<String>,
    pub confidence: Option<f32>,
    pub status: FieldStatus,
}

/// A ticket's latest triage, as agents see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageView {
    pub ticket_id: i64,
    pub subject: String,
    pub created_at: String,
    /// The ticket's own status (new, open, pending, resolved, closed).
    pub ticket_status: String,
    pub model_version: String,
    pub triaged_at: String,
    pub outcome: TriageOutcome,
    /// Why it was skipped, or what was done to its text.
    pub reason: Option<String>,
    pub category: FieldPrediction,
    pub urgency: FieldPrediction,
    pub priority: Option<String>,
    /// The nearest past tickets that voted, with their labels and similarity.
    pub evidence: serde_json::Value,
    pub problem_id: Option<i64>,
    /// Joined a fast-growing problem: possibly part of a major incident.
    pub major_incident: bool,
}

/// A suggestion for a ticket, with the title of what it points to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuggestionView {
    /// An article, a similar resolved ticket or an earlier open one (a possible duplicate).
    pub kind: SuggestionKind,
    pub id: i64,
    pub title: String,
    pub score: f32,
}

/// Figures for monitoring, read from the store (so they hold for every process on it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    pub triaged: i64,
    pub applied: i64,
    pub needs_review: i64,
    /// Tickets that could not be triaged (empty, or a row that cannot be read).
    pub skipped: i64,
    /// Of those, rows the store holds that cannot be read (quarantined: see the reason).
    pub unreadable: i64,
    /// Needs-review tickets that are still open with the field unset.
    pub review_queue: i64,
    /// Changed tickets the pipeline has not taken yet.
    pub queue_depth: i64,
    /// Candidate and accepted problems.
    pub problems_open: i64,
}

/// A triage row read as every read of the table reads it ([`TriageRecord::from_row`]), with
/// its ticket's columns beside it.
fn view(row: &AnyRow) -> Result<TriageView, StoreError> {
    let r = TriageRecord::from_row(row)?;
    Ok(TriageView {
        ticket_id: r.ticket_id,
        subject: row.lossy("subject")?,
        created_at: row.try_get("created_at")?,
        ticket_status: row.try_get("ticket_status")?,
        model_version: r.model_version,
        triaged_at: row.try_get("triaged_at")?,
        outcome: r.outcome,
        reason: r.reason,
        category: FieldPrediction {
            label: r.category,
            confidence: r.category_confidence,
            status: r.category_status,
        },
        urgency: FieldPrediction {
            label: r.urgency,
            confidence: r.urgency_confidence,
            status: r.urgency_status,
        },
        priority: r.priority,
        evidence: r.evidence,
        problem_id: r.problem_id,
        major_incident: r.major_incident,
    })
}

fn select_views(backend: Backend, condition: &str) -> String {
    format!(
        "SELECT l.*, {} AS subject, t.created_at, t.status AS ticket_status \
         FROM {LATEST} l JOIN tickets t ON t.id = l.ticket_id {condition}",
        backend.text_as_bytes("COALESCE(t.subject, '')")
    )
}

/// Still waiting for a person: open, and a field triage left to a person (or only shadowed)
/// is still empty.
const WAITING: &str = "(l.outcome = 'needs_review' \
     AND t.status IN ('new', 'open', 'pending') \
     AND ((l.category_status IN ('needs_review', 'shadow') AND t.category IS NULL) \
       OR (l.urgency_status IN ('needs_review', 'shadow') AND t.urgency IS NULL)))";

impl Store {
    /// Tickets that need a person, oldest first (they have waited longest).
    pub async fn review_queue(&self, limit: usize) -> Result<Vec<TriageView>, StoreError> {
        let sql = format!(
            "{} ORDER BY t.created_at, l.ticket_id LIMIT ?",
            select_views(self.backend(), &format!("WHERE {WAITING}"))
        );
        let rows = sqlx::query(&self.sql(&sql))
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(view).collect()
    }

    /// The latest triage of one ticket with its suggestions, best first.
    pub async fn ticket_triage(
        &self,
        ticket_id: i64,
    ) -> Result<(TriageView, Vec<SuggestionView>), StoreError> {
        let sql = select_views(self.backend(), "WHERE l.ticket_id = ?");
        let row = sqlx::query(&self.sql(&sql))
            .bind(ticket_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotTriaged(ticket_id))?;
        let triage = view(&row)?;
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT s.kind, s.target_id, s.score, {} AS title FROM suggestions s \
             LEFT JOIN articles a ON s.kind = 'article' AND a.id = s.target_id \
             LEFT JOIN tickets t ON s.kind <> 'article' AND t.id = s.target_id \
             WHERE s.ticket_id = ? AND s.model_version = ? ORDER BY s.kind, s.rank",
            self.backend().text_as_bytes("COALESCE(a.title, t.subject, '')")
        )))
        .bind(ticket_id)
        .bind(&triage.model_version)
        .fetch_all(self.pool())
        .await?;
        let suggestions = rows
            .iter()
            .map(|r| {
                Ok(SuggestionView {
                    kind: state(r, "kind", SuggestionKind::parse)?,
                    id: r.try_get("target_id")?,
                    title: r.lossy("title")?,
                    score: r.float("score")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((triage, suggestions))
    }

    /// What suggested items are called in the store, by kind and id: an article's title, a
    /// ticket's subject (for a system's note, whose own API need not be asked).
    pub async fn suggestion_titles(
        &self,
        suggestions: &[SuggestionRecord],
    ) -> Result<HashMap<(SuggestionKind, i64), String>, StoreError> {
        let mut titles = HashMap::new();
        for (articles, table, column) in
            [(true, "articles", "title"), (false, "tickets", "subject")]
        {
            let ids: Vec<i64> = suggestions
                .iter()
                .filter(|s| (s.kind == SuggestionKind::Article) == articles)
                .map(|s| s.target_id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT id, {} AS title FROM {table} WHERE id IN ({})",
                self.backend()
                    .text_as_bytes(&format!("COALESCE({column}, '')")),
                id_list(&ids)
            );
            for row in sqlx::query(&self.sql(&sql)).fetch_all(self.pool()).await? {
                let id: i64 = row.try_get("id")?;
                let title = row.lossy("title")?;
                for s in suggestions.iter().filter(|s| s.target_id == id) {
                    if (s.kind == SuggestionKind::Article) == articles {
                        titles.insert((s.kind, id), title.clone());
                    }
                }
            }
        }
        Ok(titles)
    }

    /// A published public article: what an end user may open.
    pub async fn public_article(&self, id: i64) -> Result<Option<ArticleRow>, StoreError> {
        Ok(self.public_articles(&[id]).await?.pop())
    }

    /// Those of `ids` that are published public articles, by id: one query for a whole
    /// answer's articles.
    pub async fn public_articles(&self, ids: &[i64]) -> Result<Vec<ArticleRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, title, body, visibility FROM articles WHERE id IN ({}) \
             AND status = 'published' AND visibility = 'public' ORDER BY id",
            super::id_list(ids)
        );
        let rows = sqlx::query(&sql)
            .persistent(false)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(ArticleRow::from_row).collect()
    }

    /// The monitoring figures; `pipeline` names the queue whose depth is measured.
    pub async fn service_counts(&self, pipeline: &str) -> Result<ServiceCounts, StoreError> {
        // One pass over the latest rows: the window function sorts the whole table.
        let sql = format!(
            "SELECT COUNT(*) AS triaged, {applied} AS applied, {needs_review} AS needs_review, \
             {skipped} AS skipped, {unreadable} AS unreadable, \
             {waiting} AS review_queue FROM {LATEST} l JOIN tickets t ON t.id = l.ticket_id",
            applied = count_where("l.outcome = 'applied'"),
            needs_review = count_where("l.outcome = 'needs_review'"),
            skipped = count_where("l.outcome = 'skipped'"),
            unreadable = count_where(&format!(
                "l.outcome = 'skipped' AND l.reason LIKE '%{}%'",
                super::records::UNREADABLE
            )),
            waiting = count_where(WAITING),
        );
        let row = sqlx::query(&sql).fetch_one(self.pool()).await?;
        let mut counts = ServiceCounts {
            triaged: row.try_get("triaged")?,
            applied: row.try_get("applied")?,
            needs_review: row.try_get("needs_review")?,
            skipped: row.try_get("skipped")?,
            unreadable: row.try_get("unreadable")?,
            review_queue: row.try_get("review_queue")?,
            ..ServiceCounts::default()
        };
        counts.queue_depth = self.queue_depth(pipeline).await?;
        counts.problems_open = sqlx::query_scalar(
            "SELECT COUNT(*) FROM problems WHERE status IN ('candidate', 'accepted')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(counts)
    }

    /// Whether the store answers at all (for health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }
}
