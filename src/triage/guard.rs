//! The precision promise kept live: a class triage applies is checked against what the
//! tickets were resolved with. Every prediction at or above its class's threshold counts,
//! applied or held back, so what the guard does never changes what it sees. A class whose
//! recent record is below the target, beyond what chance explains, is applied only from the
//! confidence at which that same record met the target (as thresholds are chosen on the
//! history), or not at all where no confidence did, until its record recovers or retraining
//! makes a new model version, whose record starts afresh.
//!
//! The history's thresholds promise a precision on tickets like the history's; when the
//! tickets drift (on itsm47k's later tickets, classes thresholded at 95% were 90.5% right),
//! only the tickets themselves can say so, and mostly of a class's less confident part.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::calibrate::{class_thresholds, Outcome};
use super::record::Record;
use super::{Basis, Prediction, Verdict};
use crate::domain::PredictedField;

/// What the guard does with a class's confident predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hold {
    /// Applied from the class's threshold, as trained.
    Nothing,
    /// Applied only from this confidence: below it the class's recent record fell short.
    Below(f32),
    /// Not applied: at no confidence did its recent record meet the target.
    All,
}

impl Hold {
    /// Whether a confident prediction at `confidence` is held back.
    pub fn holds(self, confidence: f32) -> bool {
        match self {
            Hold::Nothing => false,
            Hold::Below(from) => confidence < from,
            Hold::All => true,
        }
    }

    /// The confidence the class is still applied from, where only its less sure part is held.
    pub fn applied_from(self) -> Option<f32> {
        match self {
            Hold::Below(from) => Some(from),
            Hold::Nothing | Hold::All => None,
        }
    }
}

/// A class's latest known confident predictions (confidence, and whether right), the oldest
/// dropped once `size` are known.
#[derive(Debug, Clone, Default)]
pub struct Window {
    outcomes: VecDeque<(f32, bool)>,
    size: usize,
    right: usize,
}

impl Window {
    pub fn new(size: usize) -> Self {
        Self {
            outcomes: VecDeque::with_capacity(size),
            size,
            right: 0,
        }
    }

    /// A newly known outcome.
    pub fn push(&mut self, confidence: f32, right: bool) {
        self.outcomes.push_back((confidence, right));
        self.right += usize::from(right);
        if self.outcomes.len() > self.size {
            let (_, dropped) = self.outcomes.pop_front().expect("over size, so not empty");
            self.right -= usize::from(dropped);
        }
    }

    pub fn record(&self) -> Record {
        Record {
            applied: self.outcomes.len(),
            right: self.right,
        }
    }

    /// Nothing while the record is not surely below `target`; else the lowest confidence at
    /// which the window's predictions at or above it met `target`, by the rule the history's
    /// thresholds were chosen with ([`class_thresholds`]).
    pub fn hold(&self, target: f64) -> Hold {
        if !self.record().below(target) {
            return Hold::Nothing;
        }
        let outcomes: Vec<Outcome> = self
            .outcomes
            .iter()
            .map(|&(confidence, correct)| Outcome {
                class: 0,
                confidence,
                correct,
            })
            .collect();
        match class_thresholds(&outcomes, 1, target)[0] {
            Some(from) => Hold::Below(from),
            None => Hold::All,
        }
    }
}

/// A confident prediction on a ticket since resolved: its label, confidence and whether the
/// ticket was resolved with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub label: String,
    pub confidence: f32,
    pub right: bool,
}

/// Each class's live record under the current model version, and what is held back of it
/// (decided once, when the records are read).
#[derive(Debug, Clone, Default)]
pub struct Guard {
    classes: HashMap<PredictedField, HashMap<String, (Record, Hold)>>,
}

/// One class's line in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassRecord {
    pub field: PredictedField,
    pub label: String,
    #[serde(flatten)]
    pub record: Record,
    pub precision: f64,
    /// Whether any of its confident predictions are held back.
    pub held_back: bool,
    /// Where only the less confident are: the confidence it is applied from now.
    pub applied_from: Option<f32>,
}

impl Guard {
    /// From each field's confident predictions on resolved tickets, the latest resolved
    /// first: each class's record on its latest `window`.
    pub fn from_latest(
        fields: impl IntoIterator<Item = (PredictedField, Vec<Resolved>)>,
        window: usize,
        target: f64,
    ) -> Self {
        let mut windows: HashMap<(PredictedField, String), Window> = HashMap::new();
        for (field, outcomes) in fields {
            // Oldest first into each window: the latest `window` stay.
            for r in outcomes.into_iter().rev() {
                windows
                    .entry((field, r.label))
                    .or_insert_with(|| Window::new(window))
                    .push(r.confidence, r.right);
            }
        }
        let mut classes: HashMap<PredictedField, HashMap<String, (Record, Hold)>> = HashMap::new();
        for ((field, label), w) in windows {
            let held = (w.record(), w.hold(target));
            classes.entry(field).or_default().insert(label, held);
        }
        Self { classes }
    }

    /// The class's record, if a confident prediction of it at `confidence` is held back.
    pub fn held_back(
        &self,
        field: PredictedField,
        label: &str,
        confidence: f32,
    ) -> Option<(Record, Hold)> {
        let &(record, hold) = self.classes.get(&field)?.get(label)?;
        hold.holds(confidence).then_some((record, hold))
    }

    /// Every class with a record, held back or not, field and label in order.
    pub fn classes(&self) -> Vec<ClassRecord> {
        let mut out: Vec<ClassRecord> = self
            .classes
            .iter()
            .flat_map(|(field, labels)| {
                labels.iter().map(|(label, (record, hold))| ClassRecord {
                    field: *field,
                    label: label.clone(),
                    record: *record,
                    precision: record.precision(),
                    held_back: *hold != Hold::Nothing,
                    applied_from: hold.applied_from(),
                })
            })
            .collect();
        out.sort_by(|a, b| (a.field, &a.label).cmp(&(b.field, &b.label)));
        out
    }

    /// Holds back the verdict's confident predictions the guard holds: no threshold, and the
    /// record as the reason.
    pub fn apply(&self, verdict: &mut Verdict) {
        for (field, prediction) in [
            (PredictedField::Category, &mut verdict.category),
            (PredictedField::Urgency, &mut verdict.urgency),
        ] {
            let Some(p) = prediction.as_mut().filter(|p| p.confident()) else {
                continue;
            };
            if let Some((record, hold)) = self.held_back(field, &p.label, p.confidence) {
                let basis = Basis::HeldBack {
                    right: record.right,
                    of: record.applied,
                    from: hold.applied_from(),
                };
                *p = Prediction::new(
                    std::mem::take(&mut p.label),
                    p.confidence,
                    None,
                    basis,
                    std::mem::take(&mut p.terms),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(label: &str, confidence: f32, right: bool) -> Resolved {
        Resolved {
            label: label.into(),
            confidence,
            right,
        }
    }

    /// `right` of `of` predictions of `label` at `confidence`, latest first.
    fn many(label: &str, confidence: f32, right: usize, of: usize) -> Vec<Resolved> {
        (0..of)
            .map(|i| resolved(label, confidence, i < right))
            .collect()
    }

    fn record(right: usize, applied: usize) -> Record {
        Record { applied, right }
    }

    #[test]
    fn a_class_is_held_back_only_when_its_record_is_surely_below_the_target() {
        let category = [
            many("network", 0.9, 31, 40),
            many("printing", 0.9, 3, 4),
            many("access", 0.9, 97, 100),
        ]
        .concat();
        let guard = Guard::from_latest(
            [
                (PredictedField::Category, category),
                (PredictedField::Urgency, many("high", 0.9, 180, 200)),
            ],
            1000,
            0.95,
        );
        let held = |field, label| guard.held_back(field, label, 0.99);
        assert_eq!(
            held(PredictedField::Category, "network"),
            Some((record(31, 40), Hold::All)),
            "all at one confidence: no confidence separates the right ones"
        );
        assert_eq!(held(PredictedField::Category, "printing"), None, "too few");
        assert_eq!(held(PredictedField::Category, "access"), None);
        assert!(
            held(PredictedField::Urgency, "high").is_some(),
            "90% of 200"
        );
        assert_eq!(held(PredictedField::Urgency, "network"), None);
        let held: Vec<_> = guard
            .classes()
            .into_iter()
            .filter(|c| c.held_back)
            .collect();
        assert_eq!(held.len(), 2);
    }

    #[test]
    fn a_class_wrong_only_when_less_sure_is_applied_from_where_it_was_right() {
        // Lately right on all 60 predictions at 0.98, and 25 of 40 at 0.91: surely below 95%
        // as a whole, right where it was surest.
        let outcomes = [many("network", 0.98, 60, 60), many("network", 0.91, 25, 40)].concat();
        let guard = Guard::from_latest([(PredictedField::Category, outcomes)], 1000, 0.95);
        assert_eq!(
            guard.held_back(PredictedField::Category, "network", 0.98),
            None,
            "the sure part is still applied"
        );
        assert_eq!(
            guard.held_back(PredictedField::Category, "network", 0.95),
            Some((record(85, 100), Hold::Below(0.98)))
        );
        let line = &guard.classes()[0];
        assert!(line.held_back);
        assert_eq!(line.applied_from, Some(0.98));
    }

    #[test]
    fn only_the_latest_window_of_a_class_counts() {
        // Wrong lately, right long ago: the window sees the recent mistakes.
        let outcomes = [many("network", 0.9, 0, 30), many("network", 0.9, 200, 200)].concat();
        let guard = Guard::from_latest([(PredictedField::Category, outcomes.clone())], 50, 0.95);
        assert_eq!(
            guard.held_back(PredictedField::Category, "network", 0.9),
            Some((record(20, 50), Hold::All))
        );
        let all = Guard::from_latest([(PredictedField::Category, outcomes)], 1000, 0.95);
        assert_eq!(
            all.held_back(PredictedField::Category, "network", 0.9),
            Some((record(200, 230), Hold::All))
        );
    }

    #[test]
    fn a_held_back_prediction_is_not_applied_and_says_why() {
        let outcomes = [many("network", 0.98, 60, 60), many("network", 0.91, 25, 40)].concat();
        let guard = Guard::from_latest([(PredictedField::Category, outcomes)], 1000, 0.95);
        let prediction = |confidence| {
            Prediction::new(
                "network".into(),
                confidence,
                Some(0.9),
                Basis::Threshold { right: 95, of: 100 },
                Vec::new(),
            )
        };
        let mut verdict = Verdict {
            category: Some(prediction(0.95)),
            urgency: None,
            evidence: Vec::new(),
        };
        assert!(verdict.category.as_ref().unwrap().confident());
        guard.apply(&mut verdict);
        let held = verdict.category.unwrap();
        assert!(!held.confident());
        assert!(held.reason.contains("held back"), "{}", held.reason);
        assert!(held.reason.contains("85 of 100"), "{}", held.reason);
        assert!(
            held.reason.contains("applied only from 98.0%"),
            "{}",
            held.reason
        );

        // Surer than where the record fell short, or not confident at all: left as it was.
        for p in [prediction(0.99), prediction(0.5)] {
            let mut verdict = Verdict {
                category: Some(p.clone()),
                urgency: None,
                evidence: Vec::new(),
            };
            guard.apply(&mut verdict);
            assert_eq!(verdict.category, Some(p));
        }
    }
}
