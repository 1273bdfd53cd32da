//! The `suggestions` part of the evaluation: where the article that answers a ticket ranks
//! among the articles the pipeline suggested for it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{EvalError, LabelledTicket};
use crate::store::{NewArticle, Store, TriageRow};

/// Ranks the evaluation asks the pipeline for: recall is reported up to 10.
pub const RANKS: usize = 10;

/// One line of an `articles.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalArticle {
    pub id: String,
    pub title: String,
    pub body: String,
}

impl EvalArticle {
    /// The article as the temporary store holds it: published, under `id`.
    pub fn published(&self, id: i64) -> NewArticle {
        NewArticle {
            id: Some(id),
            title: self.title.clone(),
            body: self.body.clone(),
            category: None,
            visibility: "public".into(),
        }
    }
}

/// Article suggestion quality over the incoming tickets whose answer is a known article.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionReport {
    pub n: usize,
    pub recall_at_1: f64,
    pub recall_at_3: f64,
    pub recall_at_10: f64,
    /// Mean reciprocal rank of the answer (0 where it is not among the suggestions).
    pub mrr: f64,
}

/// Scores the article suggestions written under `version` for `judged` incoming tickets;
/// `None` without articles or without a ticket whose answer is one of them.
pub(super) async fn score(
    store: &Store,
    version: &str,
    articles: &[EvalArticle],
    judged: &[(&TriageRow, &LabelledTicket)],
) -> Result<Option<SuggestionReport>, EvalError> {
    if articles.is_empty() {
        return Ok(None);
    }
    // Store ids are positions in the file, from 1.
    let store_id: HashMap<&str, i64> = articles
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i as i64 + 1))
        .collect();
    let mut ranked: HashMap<i64, Vec<i64>> = HashMap::new();
    for (ticket, target) in store.suggested(version, "article").await? {
        ranked.entry(ticket).or_default().push(target);
    }
    let ranks: Vec<Option<usize>> = judged
        .iter()
        .filter_map(|(row, truth)| {
            let answer = *store_id.get(truth.answer_id.as_deref()?)?;
            let suggested = ranked.get(&row.ticket_id).map_or(&[][..], Vec::as_slice);
            Some(suggested.iter().position(|&a| a == answer).map(|i| i + 1))
        })
        .collect();
    Ok(report(&ranks))
}

/// Figures from the 1-based rank of each ticket's answer (`None`: not suggested).
fn report(ranks: &[Option<usize>]) -> Option<SuggestionReport> {
    if ranks.is_empty() {
        return None;
    }
    let n = ranks.len() as f64;
    let recall = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
    Some(SuggestionReport {
        n: ranks.len(),
        recall_at_1: recall(1),
        recall_at_3: recall(3),
        recall_at_10: recall(RANKS),
        mrr: ranks.iter().flatten().map(|&r| 1.0 / r as f64).sum::<f64>() / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_and_mrr_from_ranks() {
        let r = report(&[Some(1), Some(2), None, Some(4)]).unwrap();
        assert_eq!(r.n, 4);
        assert_eq!(
            (r.recall_at_1, r.recall_at_3, r.recall_at_10),
            (0.25, 0.5, 0.75)
        );
        assert!((r.mrr - (1.0 + 0.5 + 0.25) / 4.0).abs() < 1e-12);
        assert!(report(&[]).is_none());
    }
}
