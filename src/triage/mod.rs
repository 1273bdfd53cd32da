//! Triage: category and urgency for a ticket, and the decision of what to apply. The linear
//! classifiers ([`Classifier`]) decide once the history has enough labels; before that, label
//! descriptions ([`ZeroShot`]) or the nearest tickets' vote give a suggestion that is never
//! applied. The nearest past tickets are always the evidence shown with a decision.

mod calibrate;
mod classifier;
mod features;
pub mod guard;
mod linear;
mod priority;
mod record;
mod zero_shot;

use std::sync::Arc;

use serde::Serialize;

pub use calibrate::{class_thresholds, Outcome};
pub use classifier::{
    Classifier, Compared, Example, FeatureSet, FieldModel, HeldOut, TrainSettings,
};
pub use features::Term;
pub use guard::{ClassRecord, Guard, Hold, Resolved, Window};
pub use linear::LinearSettings;
pub use priority::{Impact, PriorityMatrix};
pub use record::Record;
pub use zero_shot::ZeroShot;

use crate::domain::CurrentFields;
pub use crate::domain::FieldStatus;
use crate::vectors::{Hit, Scan, VectorIndex};

/// A ticket in an index: resolved (history, evidence) or open (possible duplicates).
#[derive(Debug, Clone)]
pub struct PastTicket {
    pub id: i64,
    pub subject: String,
    pub category: Option<String>,
    pub urgency: Option<String>,
    /// How it was solved, where the agent wrote it down.
    pub resolution: Option<String>,
}

/// A predicted label and how sure triage is of it (0–1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub label: String,
    pub confidence: f32,
    /// The confidence this label needs before it is applied, from held-out history;
    /// `None`: it is never applied automatically (rare class, cold start, no model).
    pub threshold: Option<f32>,
    /// What the threshold (or its absence) rests on.
    pub basis: Basis,
    /// Why the label is or is not applied, in words a person can act on.
    pub reason: String,
    /// The words and cues that weighed most for this label.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<Term>,
}

/// What the team's history says of a predicted class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// The class's held-out predictions at or above its threshold: `right` of `of`.
    Threshold { right: usize, of: usize },
    /// The class never reached the target precision: all its held-out predictions.
    NotReliable { right: usize, of: usize },
    /// No model for the field yet: the nearest past tickets voted, or the label descriptions
    /// were matched (a cold start).
    NoModel,
    /// The class met its threshold, but of its confident predictions on tickets resolved
    /// lately only `right` of `of` were right, surely below the target (see [`guard`]); it is
    /// applied only `from` a higher confidence now, or (`None`) not at all.
    HeldBack {
        right: usize,
        of: usize,
        from: Option<f32>,
    },
}

impl Prediction {
    pub fn new(
        label: String,
        confidence: f32,
        threshold: Option<f32>,
        basis: Basis,
        terms: Vec<Term>,
    ) -> Self {
        let reason = reason(&label, confidence, threshold, basis);
        Self {
            label,
            confidence,
            threshold,
            basis,
            reason,
            terms,
        }
    }

    /// Whether the history says this prediction may be applied without a person.
    pub fn confident(&self) -> bool {
        self.threshold.is_some_and(|t| self.confidence >= t)
    }
}

/// "network 99.2%: network is applied from 99.6%, where it was 95% right on 412 past tickets".
fn reason(label: &str, confidence: f32, threshold: Option<f32>, basis: Basis) -> String {
    let percent = |x: f64| format!("{:.1}%", x * 100.0);
    let share = |right: usize, of: usize| percent(right as f64 / of.max(1) as f64);
    let head = format!("{label} {}", percent(f64::from(confidence)));
    match (threshold, basis) {
        (Some(t), Basis::Threshold { right, of }) => {
            let verb = if confidence >= t {
                "applied"
            } else {
                "not applied"
            };
            format!(
                "{head}: {verb}; {label} is applied from {}, where it was {} right on {of} past \
                 tickets",
                percent(f64::from(t)),
                share(right, of)
            )
        }
        (_, Basis::HeldBack { right, of, from }) => format!(
            "{head}: held back; confident lately, {label} was right on {right} of {of} resolved \
             tickets ({}), below the target: {} until its record or retraining lifts it",
            share(right, of),
            match from {
                Some(from) => format!("applied only from {}", percent(f64::from(from))),
                None => "suggested, not applied,".to_owned(),
            }
        ),
        (_, Basis::NotReliable { right, of }) => format!(
            "{head}: not applied automatically; on past tickets {label} was right {right} of \
             {of} times ({}), too few to trust",
            share(right, of)
        ),
        _ => format!(
            "{head}: a suggestion only; no model for this field yet (too few labelled tickets)"
        ),
    }
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

/// Everything triage judges with, rebuilt when the history changes.
pub struct Triage {
    /// The resolved history (labelled or not): the nearest tickets are the evidence.
    pub history: VectorIndex<PastTicket>,
    /// The trained classifiers, once the history has enough labels.
    pub classifier: Option<Arc<Classifier>>,
    /// Label descriptions for a cold start.
    pub zero_shot: ZeroShot,
    /// Nearest past tickets shown as evidence (and voting, without a classifier).
    pub neighbours: usize,
    /// Classes held back by their live record (see [`guard`]).
    pub guard: Guard,
}

impl Triage {
    /// The verdict on a ticket's prepared text and embedding; `history` is the history
    /// scanned for that embedding (`self.history`'s [`VectorIndex::scan`], or a batch's row).
    pub fn verdict(&self, text: &str, vector: &[f32], history: &Scan<'_, PastTicket>) -> Verdict {
        let mut verdict = classify(history, self.neighbours, None);
        let (category, urgency) = self
            .classifier
            .as_ref()
            .map(|c| c.classify(text, vector))
            .unwrap_or_default();
        let (zero_category, zero_urgency) = self.zero_shot.classify(vector);
        verdict.category = category.or(zero_category).or(verdict.category);
        verdict.urgency = urgency.or(zero_urgency).or(verdict.urgency);
        self.guard.apply(&mut verdict);
        verdict
    }
}

/// Classifies by the `k` nearest past tickets of a scan of the history, leaving the past
/// ticket `exclude` out (how a history ticket would have been judged by the rest of the
/// history: leave-one-out).
pub fn classify(history: &Scan<'_, PastTicket>, k: usize, exclude: Option<i64>) -> Verdict {
    let hits = history.nearest(k, |t| Some(t.id) != exclude);
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
    (total > 0.0).then(|| {
        Prediction::new(
            label.to_owned(),
            weight / total,
            None,
            Basis::NoModel,
            Vec::new(),
        )
    })
}

/// The team's settings that turn a verdict into actions.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Predictions are recorded but nothing is applied.
    pub shadow: bool,
    pub default_impact: Impact,
    pub priority: PriorityMatrix,
}

/// The decision for one ticket, given its fields as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub category: FieldStatus,
    pub urgency: FieldStatus,
    /// The priority to fill in, when the ticket has none and its urgency is known.
    pub priority: Option<String>,
}

impl Decision {
    pub fn needs_review(&self) -> bool {
        let open = |s: FieldStatus| matches!(s, FieldStatus::NeedsReview | FieldStatus::Shadow);
        open(self.category) || open(self.urgency)
    }
}

pub fn decide(verdict: &Verdict, current: &CurrentFields, policy: &Policy) -> Decision {
    let field =
        |current: &Option<String>, predicted: &Option<Prediction>| match (current, predicted) {
            (Some(_), _) => FieldStatus::Kept,
            (None, Some(p)) if p.confident() && policy.shadow => FieldStatus::Shadow,
            (None, Some(p)) if p.confident() => FieldStatus::Apply,
            (None, _) => FieldStatus::NeedsReview,
        };
    let category = field(&current.category, &verdict.category);
    let urgency = field(&current.urgency, &verdict.urgency);
    let final_urgency = match urgency {
        FieldStatus::Kept => current.urgency.as_deref(),
        FieldStatus::Apply => verdict.urgency.as_ref().map(|p| p.label.as_str()),
        FieldStatus::NeedsReview | FieldStatus::Shadow => None,
    };
    let impact = current
        .impact
        .as_deref()
        .and_then(Impact::parse)
        .unwrap_or(policy.default_impact);
    // Shadow mode applies nothing, the derived priority included.
    let priority = match (&current.priority, final_urgency) {
        (None, Some(u)) if !policy.shadow => policy.priority.of(impact, u),
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
            resolution: None,
        };
        index.push(&[1.0, 0.0], past(1, "network", Some("high")));
        index.push(&[0.99, 0.141], past(2, "network", Some("high")));
        index.push(&[0.98, 0.199], past(3, "network", None));
        index.push(&[0.0, 1.0], past(4, "printing", Some("low")));
        index
    }

    fn policy() -> Policy {
        Policy {
            shadow: false,
            default_impact: Impact::Medium,
            priority: PriorityMatrix::default(),
        }
    }

    fn predicted(label: &str, confidence: f32, threshold: Option<f32>) -> Option<Prediction> {
        let basis = Basis::Threshold { right: 19, of: 20 };
        Some(Prediction::new(
            label.into(),
            confidence,
            threshold,
            basis,
            Vec::new(),
        ))
    }

    #[test]
    fn reasons_say_the_threshold_and_the_record_behind_it() {
        let below = Prediction::new(
            "network".into(),
            0.992,
            Some(0.996),
            Basis::Threshold {
                right: 392,
                of: 412,
            },
            Vec::new(),
        );
        assert_eq!(
            below.reason,
            "network 99.2%: not applied; network is applied from 99.6%, where it was 95.1% \
             right on 412 past tickets"
        );
        let never = Prediction::new(
            "high".into(),
            0.6,
            None,
            Basis::NotReliable { right: 33, of: 54 },
            Vec::new(),
        );
        assert!(
            never.reason.contains("right 33 of 54 times"),
            "{}",
            never.reason
        );
        let cold = Prediction::new("low".into(), 0.4, None, Basis::NoModel, Vec::new());
        assert!(cold.reason.contains("no model"), "{}", cold.reason);
    }

    fn confident() -> Verdict {
        Verdict {
            category: predicted("network", 0.97, Some(0.9)),
            urgency: predicted("high", 0.95, Some(0.8)),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn the_nearest_tickets_vote_weighted_by_similarity() {
        let verdict = classify(&history().scan(&[1.0, 0.0]), 4, None);
        let category = verdict.category.unwrap();
        assert_eq!(category.label, "network");
        // Three network tickets at ~0.98–1.0 against one printing ticket at 0.
        assert!(category.confidence > 0.99, "{category:?}");
        assert_eq!(verdict.urgency.unwrap().label, "high");
        assert_eq!(verdict.evidence[0].ticket_id, 1);
        assert_eq!(verdict.evidence.len(), 4);
    }

    #[test]
    fn a_vote_is_a_suggestion_never_applied() {
        // Closest to the one printing ticket, but three network tickets are not far.
        let verdict = classify(&history().scan(&[0.2, 0.98]), 4, None);
        let category = verdict.category.clone().unwrap();
        assert_eq!(category.label, "printing");
        assert!(category.confidence < 0.6, "{category:?}");
        let unanimous = classify(&history().scan(&[1.0, 0.0]), 3, None);
        let decision = decide(&unanimous, &CurrentFields::default(), &policy());
        assert_eq!(decision.category, FieldStatus::NeedsReview);
    }

    #[test]
    fn confident_predictions_fill_empty_fields_and_derive_priority() {
        let decision = decide(&confident(), &CurrentFields::default(), &policy());
        assert_eq!(decision.category, FieldStatus::Apply);
        assert_eq!(decision.urgency, FieldStatus::Apply);
        assert_eq!(decision.priority.as_deref(), Some("P3")); // high urgency, medium impact
        assert!(!decision.needs_review());
    }

    #[test]
    fn what_an_agent_set_is_kept_whatever_the_confidence() {
        let current = CurrentFields {
            category: Some("hardware".into()),
            urgency: Some("critical".into()),
            impact: Some("high".into()),
            priority: None,
        };
        let decision = decide(&confident(), &current, &policy());
        assert_eq!(decision.category, FieldStatus::Kept);
        assert_eq!(decision.urgency, FieldStatus::Kept);
        assert_eq!(decision.priority.as_deref(), Some("P1"));
    }

    #[test]
    fn below_its_threshold_or_without_one_a_person_decides() {
        let verdict = Verdict {
            category: predicted("network", 0.89, Some(0.9)),
            urgency: predicted("high", 0.99, None),
            evidence: Vec::new(),
        };
        let decision = decide(&verdict, &CurrentFields::default(), &policy());
        assert_eq!(decision.category, FieldStatus::NeedsReview);
        assert_eq!(decision.urgency, FieldStatus::NeedsReview);
        assert_eq!(decision.priority, None);
        assert!(decision.needs_review());
    }

    #[test]
    fn in_shadow_mode_nothing_is_applied() {
        let shadow = Policy {
            shadow: true,
            ..policy()
        };
        let decision = decide(&confident(), &CurrentFields::default(), &shadow);
        assert_eq!(decision.category, FieldStatus::Shadow);
        assert_eq!(decision.urgency, FieldStatus::Shadow);
        assert_eq!(decision.priority, None);
        assert!(decision.needs_review());
        // Not even the priority that an agent's urgency would give.
        let current = CurrentFields {
            urgency: Some("critical".into()),
            ..CurrentFields::default()
        };
        assert_eq!(decide(&confident(), &current, &shadow).priority, None);
    }
}
