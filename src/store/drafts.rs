//! Draft articles written from resolved tickets: stored as articles with status `draft`,
//! with the tickets they came from.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use serde::Serialize;
use sqlx::Row;

use super::{stamp, Store, StoreError};
use crate::knowledge::Draft;
use crate::problems;

/// A draft whose sources overlap a new one's this much (Jaccard) is the same knowledge gap.
const SAME_GAP: f32 = 0.3;

/// A stored draft, as listed for the knowledge manager.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub sources: Vec<i64>,
    pub created_at: String,
}

impl Store {
    /// Stores the drafts that are not already drafted (an existing draft or a published
    /// article written from mostly the same tickets), in one transaction; returns how many
    /// were new. Existing drafts are never changed: the knowledge manager may be editing them.
    pub async fn save_drafts(&self, drafts: &[Draft]) -> Result<usize, StoreError> {
        let known = self.draft_sources().await?;
        let now = stamp(Utc::now());
        let mut tx = self.pool().begin().await?;
        let mut added = 0;
        for draft in drafts {
            let ids: HashSet<i64> = draft.sources.iter().copied().collect();
            let seen = known
                .values()
                .any(|other| problems::jaccard(&ids, other) >= SAME_GAP);
            if seen {
                continue;
            }
            let id: i64 = sqlx::query_scalar(&self.sql(
                "INSERT INTO articles (title, body, category, visibility, status, created_at, \
                 updated_at) VALUES (?, ?, ?, 'internal', 'draft', ?, ?) RETURNING id",
            ))
            .bind(&draft.title)
            .bind(&draft.body)
            .bind(&draft.category)
            .bind(&now)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await?;
            for ticket in &draft.sources {
                sqlx::query(
                    &self.sql("INSERT INTO article_sources (article_id, ticket_id) VALUES (?, ?)"),
                )
                .bind(id)
                .bind(ticket)
                .execute(&mut *tx)
                .await?;
            }
            added += 1;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Source tickets of every article written from tickets, whatever its status now.
    async fn draft_sources(&self) -> Result<HashMap<i64, HashSet<i64>>, StoreError> {
        let rows = sqlx::query("SELECT article_id, ticket_id FROM article_sources")
            .fetch_all(self.pool())
            .await?;
        let mut out: HashMap<i64, HashSet<i64>> = HashMap::new();
        for row in rows {
            out.entry(row.try_get("article_id")?)
                .or_default()
                .insert(row.try_get("ticket_id")?);
        }
        Ok(out)
    }

    /// Drafts still waiting for the knowledge manager, newest first.
    pub async fn drafts(&self) -> Result<Vec<DraftRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, title, body, category, created_at FROM articles WHERE status = 'draft' \
             ORDER BY id DESC",
        )
        .fetch_all(self.pool())
        .await?;
        let sources = self.draft_sources().await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let mut ids: Vec<i64> = sources.get(&id).into_iter().flatten().copied().collect();
                ids.sort_unstable();
                Ok(DraftRow {
                    id,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    category: row.try_get("category")?,
                    sources: ids,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
