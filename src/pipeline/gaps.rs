//! The knowledge-gap pass: resolved tickets with similar resolutions and no article become
//! draft articles (see [`crate::knowledge::draft_articles`]).

use std::sync::Arc;

use chrono::{Duration, Utc};

use super::{prepared_texts, Pipeline, PipelineError};
use crate::knowledge::{self, DraftSettings, ResolvedTicket};
use crate::problems::ClusterSettings;
use crate::store::OwnerKind;

impl Pipeline {
    /// Writes drafts for the knowledge gaps among the tickets resolved in the last
    /// `draft_window_days`; returns how many new drafts were stored. Nothing is clustered
    /// again while those tickets are the same as at the last pass.
    pub async fn draft_articles(&mut self) -> Result<usize, PipelineError> {
        // On GLPI the articles table mirrors GLPI's knowledge base under GLPI's ids: a draft
        // of ours could collide with one, and GLPI has no place for drafts yet.
        if self.system.writes_back() || self.is_dry_run() {
            return Ok(0);
        }
        let since = Utc::now() - Duration::days(i64::from(self.config.knowledge.draft_window_days));
        let rows = self.store.resolved_since(since).await?;
        let with_resolution: Vec<_> = rows
            .into_iter()
            // Only resolutions with something to share are embedded at all.
            .filter(|r| r.resolution.as_deref().is_some_and(knowledge::says_enough))
            .collect();
        let seen = (
            with_resolution.len(),
            with_resolution.iter().map(|r| r.id).max().unwrap_or(0),
        );
        if self.last_drafted == Some(seen) {
            return Ok(0);
        }
        self.last_drafted = Some(seen);
        let (usable, texts) = prepared_texts(&with_resolution);
        let resolutions: Vec<(i64, String)> = usable
            .iter()
            .map(|r| (r.id, r.resolution.clone().unwrap_or_default()))
            .collect();
        let vectors = self.vectors(OwnerKind::Ticket, &texts).await?.to_vecs();
        let resolution_vectors = self
            .vectors(OwnerKind::Resolution, &resolutions)
            .await?
            .to_vecs();
        let tickets: Vec<ResolvedTicket> = usable
            .into_iter()
            .zip(vectors.into_iter().zip(resolution_vectors))
            .map(|(row, (vector, resolution_vector))| ResolvedTicket {
                id: row.id,
                subject: row.subject_text(),
                resolution: row.resolution.clone().unwrap_or_default(),
                requester: row.requester.clone(),
                category: row.category.clone(),
                created_at: row.created_at,
                vector,
                resolution_vector,
            })
            .collect();
        let k = &self.config.knowledge;
        let settings = DraftSettings {
            cluster: ClusterSettings {
                min_size: k.draft_min_tickets,
                max_distance: k.draft_max_distance,
                min_cohesion: self.config.problems.min_cohesion,
            },
            covered_similarity: k.draft_covered_similarity,
        };
        let articles = Arc::clone(&self.articles);
        // Clustering is quadratic in the history: off the async threads.
        let drafts = tokio::task::spawn_blocking(move || {
            knowledge::draft_articles(&tickets, &articles, settings)
        })
        .await
        .expect("drafting does not panic")?;
        Ok(self.store.save_drafts(&drafts).await?)
    }
}
