//! Classification figures: accuracy, macro-F1, and the confidence threshold that keeps the
//! auto-applied decisions at a target precision.

use std::collections::{BTreeMap, BTreeSet};

/// Share of `truth` predicted exactly; a missing prediction is wrong.
pub fn accuracy(truth: &[&str], predicted: &[Option<&str>]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let right = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| p.is_some_and(|p| p == **t))
        .count();
    right as f64 / truth.len() as f64
}

/// Unweighted mean of per-class F1 over the classes that occur in `truth` or `predicted`
/// (as scikit-learn's `f1_score(average="macro")`). A missing prediction is a miss for the
/// true class and no class's false positive.
pub fn macro_f1(truth: &[&str], predicted: &[Option<&str>]) -> f64 {
    let classes: BTreeSet<&str> = truth
        .iter()
        .copied()
        .chain(predicted.iter().flatten().copied())
        .collect();
    let index: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut counts = Counts::new(classes.len());
    for (t, p) in truth.iter().zip(predicted) {
        counts.add(index[t], p.map(|p| index[p]));
    }
    counts.macro_f1()
}

/// Per-class counts of decisions over classes numbered from 0: what accuracy and macro-F1 are
/// computed from, without comparing names (training scores thousands of candidate decisions).
#[derive(Debug, Clone)]
pub struct Counts {
    right: Vec<u32>,
    wrongly_predicted: Vec<u32>,
    missed: Vec<u32>,
    total: usize,
}

impl Counts {
    pub fn new(classes: usize) -> Self {
        Self {
            right: vec![0; classes],
            wrongly_predicted: vec![0; classes],
            missed: vec![0; classes],
            total: 0,
        }
    }

    /// One decision; `None`: nothing was predicted (a miss for the true class only).
    pub fn add(&mut self, truth: usize, predicted: Option<usize>) {
        self.total += 1;
        match predicted {
            Some(p) if p == truth => self.right[truth] += 1,
            Some(p) => {
                self.wrongly_predicted[p] += 1;
                self.missed[truth] += 1;
            }
            None => self.missed[truth] += 1,
        }
    }

    /// Share of the decisions that were right (0 for none).
    pub fn accuracy(&self) -> f64 {
        let right: u32 = self.right.iter().sum();
        if self.total == 0 {
            0.0
        } else {
            f64::from(right) / self.total as f64
        }
    }

    /// As [`macro_f1`]: over the classes that occurred as truth or prediction (0 for none).
    pub fn macro_f1(&self) -> f64 {
        let f1: Vec<f64> = (0..self.right.len())
            .map(|c| {
                let tp = f64::from(self.right[c]);
                (
                    tp,
                    tp + f64::from(self.wrongly_predicted[c]) + f64::from(self.missed[c]),
                )
            })
            .filter(|&(_, seen)| seen > 0.0)
            .map(|(tp, seen)| 2.0 * tp / (tp + seen))
            .collect();
        if f1.is_empty() {
            0.0
        } else {
            f1.iter().sum::<f64>() / f1.len() as f64
        }
    }
}

/// The lowest confidence threshold at which the decisions at or above it are at least
/// `target` precise, among `(confidence, correct)` pairs: the one that applies the most while
/// staying precise. `None` when no threshold reaches the target.
pub fn threshold_for_precision(scored: &[(f32, bool)], target: f64) -> Option<f32> {
    let mut sorted: Vec<(f32, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut right = 0usize;
    let mut best = None;
    let mut i = 0;
    while i < sorted.len() {
        // Ties share a threshold: take them all at once.
        let confidence = sorted[i].0;
        while i < sorted.len() && sorted[i].0 == confidence {
            right += usize::from(sorted[i].1);
            i += 1;
        }
        if right as f64 / i as f64 >= target {
            best = Some(confidence);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_missing_predictions_as_wrong() {
        let truth = ["a", "b", "b", "c"];
        let predicted = [Some("a"), Some("b"), None, Some("b")];
        assert_eq!(accuracy(&truth, &predicted), 0.5);
    }

    #[test]
    fn macro_f1_matches_a_hand_computation() {
        // a: tp 1 fp 0 fn 0 → 1; b: tp 1 fp 1 fn 1 → 0.5; c: tp 0 → 0.
        let truth = ["a", "b", "b", "c"];
        let predicted = [Some("a"), Some("b"), None, Some("b")];
        assert!((macro_f1(&truth, &predicted) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn threshold_is_the_lowest_that_keeps_the_target_precision() {
        let scored = [
            (0.9, true),
            (0.8, true),
            (0.7, false),
            (0.6, true),
            (0.5, false),
        ];
        // ≥0.8: 2/2; ≥0.7: 2/3; ≥0.6: 3/4 = 0.75; ≥0.5: 3/5.
        assert_eq!(threshold_for_precision(&scored, 0.75), Some(0.6));
        assert_eq!(threshold_for_precision(&scored, 0.95), Some(0.8));
        assert_eq!(threshold_for_precision(&[(0.9, false)], 0.95), None);
    }

    #[test]
    fn tied_confidences_are_taken_together() {
        let scored = [(0.9, true), (0.9, false), (0.8, true)];
        assert_eq!(threshold_for_precision(&scored, 0.9), None);
        assert_eq!(threshold_for_precision(&scored, 0.6), Some(0.8));
    }
}
