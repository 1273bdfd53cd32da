//! The `suggestions` part of the evaluation: where the article that answers a ticket ranks
//! among the articles suggested for it, and whether an earlier ticket about the same issue is
//! among its most similar tickets (resolved or open).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{EvalError, LabelledTicket};
use crate::domain::SuggestionKind;
use crate::knowledge::Fusion;
use crate::store::{NewArticle, Store, TriageRecord};

/// Ranks the evaluation asks the pipeline for: recall is reported up to 10.
pub const RANKS: usize = 10;
/// How many similar tickets an agent looks at.
const SIMILAR_SEEN: usize = 3;

/// One line of an `articles.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalArticle {
    /// A string or a number.
    pub id: serde_json::Value,
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

/// Suggestion quality over the incoming tickets.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionReport {
    /// Incoming tickets whose answer is one of the articles.
    pub n: usize,
    pub recall_at_1: Option<f64>,
    pub recall_at_3: Option<f64>,
    pub recall_at_10: Option<f64>,
    /// Mean reciprocal rank of the answer (0 where it is not among the suggestions).
    pub mrr: Option<f64>,
    /// Incoming tickets whose group has an earlier ticket.
    pub duplicates_n: usize,
    /// Share of those with an earlier ticket of the group among the 3 most similar tickets.
    pub duplicates_recall_at_3: Option<f64>,
    /// How similar tickets were ranked: the weight of shared words, learned from the
    /// history's duplicate links (its tickets of one group) or the default.
    pub fusion: Fusion,
}

/// What the scoring reads: the set's articles, and the group of every ticket by store id.
pub(super) struct Truth<'a> {
    pub articles: &'a [EvalArticle],
    pub groups: HashMap<i64, &'a str>,
}

/// Scores the suggestions written under `version` for the `judged` incoming tickets; `None`
/// when the set has neither answers nor groups.
pub(super) async fn score(
    store: &Store,
    version: &str,
    truth: &Truth<'_>,
    judged: &[(&TriageRecord, &LabelledTicket)],
) -> Result<Option<SuggestionReport>, EvalError> {
    // Store ids of articles are positions in the file, from 1.
    let article_id: HashMap<String, i64> = truth
        .articles
        .iter()
        .enumerate()
        .map(|(i, a)| (key(&a.id), i as i64 + 1))
        .collect();
    let articles = by_ticket(store.suggested(version, SuggestionKind::Article).await?);
    let ranks: Vec<Option<usize>> = judged
        .iter()
        .filter_map(|(row, t)| {
            let answer = *article_id.get(&key(t.answer_id.as_ref()?))?;
            let suggested = articles.get(&row.ticket_id).map_or(&[][..], Vec::as_slice);
            Some(
                suggested
                    .iter()
                    .position(|&(a, _)| a == answer)
                    .map(|i| i + 1),
            )
        })
        .collect();

    // Resolved and open similar tickets together, as the agent sees them side by side.
    let mut similar = by_ticket(store.suggested(version, SuggestionKind::Ticket).await?);
    for (ticket, list) in by_ticket(store.suggested(version, SuggestionKind::Duplicate).await?) {
        similar.entry(ticket).or_default().extend(list);
    }
    let first_of_group = first_ids(&truth.groups);
    let found: Vec<bool> = judged
        .iter()
        .filter_map(|(row, _)| {
            let id = row.ticket_id;
            let group = *truth.groups.get(&id)?;
            (first_of_group[group] < id).then(|| {
                let mut list = similar.get(&id).cloned().unwrap_or_default();
                list.sort_by(|a, b| b.1.total_cmp(&a.1));
                list.iter()
                    .take(SIMILAR_SEEN)
                    .any(|(other, _)| *other < id && truth.groups.get(other) == Some(&group))
            })
        })
        .collect();
    Ok(report(&ranks, &found))
}

/// An id as text, whether the file wrote it as a string or a number.
fn key(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn by_ticket(rows: Vec<(i64, i64, f32)>) -> HashMap<i64, Vec<(i64, f32)>> {
    let mut out: HashMap<i64, Vec<(i64, f32)>> = HashMap::new();
    for (ticket, target, score) in rows {
        out.entry(ticket).or_default().push((target, score));
    }
    out
}

/// The lowest ticket id of each group.
fn first_ids<'a>(groups: &HashMap<i64, &'a str>) -> HashMap<&'a str, i64> {
    let mut first: HashMap<&str, i64> = HashMap::new();
    for (&id, &group) in groups {
        let e = first.entry(group).or_insert(id);
        *e = (*e).min(id);
    }
    first
}

/// Figures from the 1-based rank of each ticket's answer (`None`: not suggested) and, per
/// ticket with an earlier duplicate, whether one was among the similar tickets shown.
fn report(ranks: &[Option<usize>], found: &[bool]) -> Option<SuggestionReport> {
    if ranks.is_empty() && found.is_empty() {
        return None;
    }
    let n = ranks.len() as f64;
    let share = |hits: usize, of: usize| (of > 0).then(|| hits as f64 / of as f64);
    let recall = |k: usize| {
        share(
            ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count(),
            ranks.len(),
        )
    };
    Some(SuggestionReport {
        n: ranks.len(),
        recall_at_1: recall(1),
        recall_at_3: recall(3),
        recall_at_10: recall(RANKS),
        mrr: (!ranks.is_empty())
            .then(|| ranks.iter().flatten().map(|&r| 1.0 / r as f64).sum::<f64>() / n),
        duplicates_n: found.len(),
        duplicates_recall_at_3: share(found.iter().filter(|&&f| f).count(), found.len()),
        fusion: Fusion::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_and_mrr_from_ranks() {
        let r = report(&[Some(1), Some(2), None, Some(4)], &[true, false]).unwrap();
        assert_eq!(r.n, 4);
        assert_eq!(
            (r.recall_at_1, r.recall_at_3, r.recall_at_10),
            (Some(0.25), Some(0.5), Some(0.75))
        );
        assert!((r.mrr.unwrap() - (1.0 + 0.5 + 0.25) / 4.0).abs() < 1e-12);
        assert_eq!((r.duplicates_n, r.duplicates_recall_at_3), (2, Some(0.5)));
        assert!(report(&[], &[]).is_none());
        let only_groups = report(&[], &[true]).unwrap();
        assert_eq!(
            (only_groups.mrr, only_groups.duplicates_recall_at_3),
            (None, Some(1.0))
        );
    }

    #[test]
    fn the_first_ticket_of_each_group() {
        let groups = HashMap::from([(3, "a"), (1, "a"), (2, "b"), (7, "b")]);
        assert_eq!(first_ids(&groups), HashMap::from([("a", 1), ("b", 2)]));
    }
}
