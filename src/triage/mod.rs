//! Triage: category and urgency for a ticket from the resolved tickets most like it, and the
//! decision of what to apply. For now a weighted k-nearest-neighbour vote whose confidence is
//! the winning label's share of the vote; the decision rules below do not depend on how the
//! confidence was made.

mod priority;

use serde::Serialize;

pub use priority::{priority, Impact, URGENCIES};

use crate::store::CurrentFields;
use crate::vectors::{Hit, VectorIndex};

/// A resolved ticket in the history index.
#[derive(Debug, Clone)]
pub struct PastTicket {
    pub id: i64,
    pub subject: String,
    pub category: Option<String>,
    pub urgency: Option<String>,
}

/// A predicted label and how sure triage is of it (0–1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub label: String,
    pub confidence: f32,
}

/// One past ticket that voted: the evidence shown with every decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub ticket_id: i64,
    pub similarity: f32,
    pub subject: String,
    pub category: Option<String>,
    pub urgency: Option<String>,
}

/// What triage thinks of one ticket, before any threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub category: Option<Prediction>,
    pub urgency: Option<Prediction>,
    pub evidence: Vec<Evidence>,
}

/// Classifies by the `k` nearest past tickets.
pub fn classify(history: &VectorIndex<PastTicket>, query: &[f32], k: usize) -> Verdict {
    classify_excluding(history, query, k, None)
}

/// As [`classify`], leaving the past ticket `exclude` out: how a history ticket would have
/// been judged by the rest of the history (leave-one-out).
pub fn classify_excluding(
    history: &VectorIndex<PastTicket>,
    query: &[f32],
    k: usize,
    exclude: Option<i64>,
) -> Verdict {
    let hits = history.nearest(query, k, |t| Some(t.id) != exclude);
    Verdict {
        category: vote(&hits, |t| t.category.as_deref()),
        urgency: vote(&hits, |t| t.urgency.as_deref()),
        evidence: hits
            .iter()
            .map(|hit| Evidence {
                ticket_id: hit.item.id,
                similarity: hit.similarity,
                subject: hit.item.subject.clone(),
                category: hit.item.category.clone(),
                urgency: hit.item.urgency.clone(),
            })
            .collect(),
    }
}

/// Similarity-weighted vote among the neighbours that carry a label.
fn vote(
    hits: &[Hit<'_, PastTicket>],
    label: impl Fn(&PastTicket) -> Option<&str>,
) -> Option<Prediction> {
    let mut tally: Vec<(&str, f32)> = Vec::new();
    for hit in hits {
        let Some(name) = label(hit.item) else {
            continue;
        };
        let weight = hit.similarity.max(0.0);
        match tally.iter_mut().find(|(n, _)| *n == name) {
            Some((_, w)) => *w += weight,
            None => tally.push((name, weight)),
        }
    }
    let total: f32 = tally.iter().map(|(_, w)| w).sum();
    let (label, weight) = tally.into_iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (total > 0.0).then(|| Prediction {
        label: label.to_owned(),
        confidence: weight / total,
    })
}

/// The team's settings that turn a verdict into actions.
#[derive(Debug, Clone)]
pub struct Policy {
    pub category_threshold: f32,
    pub urgency_threshold: f32,
    pub default_impact: Impact,
}

/// What happens to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldStatus {
    /// Empty and predicted with enough confidence: fill it.
    Apply,
    /// A person already set it: leave it.
    Kept,
    /// Empty and not confident enough (or no prediction): a person decides.
    NeedsReview,
}

impl FieldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldStatus::Apply => "applied",
            FieldStatus::Kept => "kept",
            FieldStatus::NeedsReview => "needs_review",
        }
    }
}

/// The decision for one ticket, given its fields as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub category: FieldStatus,
    pub urgency: FieldStatus,
    /// The priority to fill in, when the ticket has none and its urgency is known.
    pub priority: Option<&'static str>,
}

impl Decision {
    pub fn needs_review(&self) -> bool {
        self.category == FieldStatus::NeedsReview || self.urgency == FieldStatus::NeedsReview
    }
}

pub fn decide(verdict: &Verdict, current: &CurrentFields, policy: &Policy) -> Decision {
    let field = |current: &Option<String>, predicted: &Option<Prediction>, threshold: f32| match (
        current, predicted,
    ) {
        (Some(_), _) => FieldStatus::Kept,
        (None, Some(p)) if p.confidence >= threshold => FieldStatus::Apply,
        (None, _) => FieldStatus::NeedsReview,
    };
    let category = field(
        &current.category,
        &verdict.category,
        policy.category_threshold,
    );
    let urgency = field(&current.urgency, &verdict.urgency, policy.urgency_threshold);
    let final_urgency = match urgency {
        FieldStatus::Kept => current.urgency.as_deref(),
        FieldStatus::Apply => verdict.urgency.as_ref().map(|p| p.label.as_str()),
        FieldStatus::NeedsReview => None,
    };
    let impact = current
        .impact
        .as_deref()
        .and_then(Impact::parse)
        .unwrap_or(policy.default_impact);
    let priority = match (&current.priority, final_urgency) {
        (None, Some(u)) => priority(impact, u),
        _ => None,
    };
    Decision {
        category,
        urgency,
        priority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> VectorIndex<PastTicket> {
        let mut index = VectorIndex::new(2);
        let past = |id, category: &str, urgency: Option<&str>| PastTicket {
            id,
            subject: format!("ticket {id}"),
            category: Some(category.into()),
            urgency: urgency.map(Into::into),
        };
        index.push(&[1.0, 0.0], past(1, "network", Some("high")));
        index.push(&[0.99, 0.141], past(2, "network", Some("high")));
        index.push(&[0.98, 0.199], past(3, "network", None));
        index.push(&[0.0, 1.0], past(4, "printing", Some("low")));
        index
    }

    fn policy() -> Policy {
        Policy {
            category_threshold: 0.7,
            urgency_threshold: 0.7,
            default_impact: Impact::Medium,
        }
    }

    #[test]
    fn the_nearest_tickets_vote_weighted_by_similarity() {
        let verdict = classify(&history(), &[1.0, 0.0], 4);
        let category = verdict.category.unwrap();
        assert_eq!(category.label, "network");
        // Three network tickets at ~0.98–1.0 against one printing ticket at 0.
        assert!(category.confidence > 0.99, "{category:?}");
        assert_eq!(verdict.urgency.unwrap().label, "high");
        assert_eq!(verdict.evidence[0].ticket_id, 1);
        assert_eq!(verdict.evidence.len(), 4);
    }

    #[test]
    fn a_split_vote_is_not_confident() {
        // Closest to the one printing ticket, but three network tickets are not far.
        let verdict = classify(&history(), &[0.2, 0.98], 4);
        let category = verdict.category.unwrap();
        assert_eq!(category.label, "printing");
        assert!(category.confidence < 0.6, "{category:?}");
    }

    #[test]
    fn confident_predictions_fill_empty_fields_and_derive_priority() {
        let verdict = classify(&history(), &[1.0, 0.0], 3);
        let decision = decide(&verdict, &CurrentFields::default(), &policy());
        assert_eq!(decision.category, FieldStatus::Apply);
        assert_eq!(decision.urgency, FieldStatus::Apply);
        assert_eq!(decision.priority, Some("P3")); // high urgency, default medium impact
        assert!(!decision.needs_review());
    }

    #[test]
    fn what_an_agent_set_is_kept_whatever_the_confidence() {
        let verdict = classify(&history(), &[1.0, 0.0], 3);
        let current = CurrentFields {
            category: Some("hardware".into()),
            urgency: Some("critical".into()),
            impact: Some("high".into()),
            priority: None,
        };
        let decision = decide(&verdict, &current, &policy());
        assert_eq!(decision.category, FieldStatus::Kept);
        assert_eq!(decision.urgency, FieldStatus::Kept);
        assert_eq!(decision.priority, Some("P1"));
    }

    #[test]
    fn below_threshold_or_without_history_a_person_decides() {
        let verdict = classify(&history(), &[0.2, 0.98], 4);
        let decision = decide(&verdict, &CurrentFields::default(), &policy());
        assert_eq!(decision.category, FieldStatus::NeedsReview);
        assert!(decision.needs_review());

        let empty = classify(&VectorIndex::new(2), &[1.0, 0.0], 5);
        let decision = decide(&empty, &CurrentFields::default(), &policy());
        assert_eq!(decision.urgency, FieldStatus::NeedsReview);
        assert_eq!(decision.priority, None);
    }
}
