//! Classification figures: accuracy, macro-F1, and the confidence threshold that keeps the
//! auto-applied decisions at a target precision.

use std::collections::BTreeSet;

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
    if classes.is_empty() {
        return 0.0;
    }
    let total: f64 = classes
        .iter()
        .map(|&class| {
            let mut tp = 0.0;
            let mut fp = 0.0;
            let mut fneg = 0.0;
            for (t, p) in truth.iter().zip(predicted) {
                match (*t == class, *p == Some(class)) {
                    (true, true) => tp += 1.0,
                    (false, true) => fp += 1.0,
                    (true, false) => fneg += 1.0,
                    (false, false) => {}
                }
            }
            if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fneg)
            }
        })
        .sum();
    total / classes.len() as f64
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
