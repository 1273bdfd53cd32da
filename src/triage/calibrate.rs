//! From raw classifier scores to confidences a team can act on. Scores become probabilities by
//! a softmax whose temperature is fitted on held-out predictions (Guo et al. 2017); the top
//! probability is then mapped to how often held-out predictions with that probability were
//! right (isotonic regression), so "0.9" means right nine times in ten. Both maps are monotone:
//! they change what a confidence says, never the order. Each class then gets the lowest
//! confidence at which its held-out predictions met the target precision, asked more strictly
//! where that was not met on the history's latest tickets by models that never saw them.

use super::record::Record;

/// `softmax(scores / temperature)`.
pub fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The temperature that minimises the negative log-likelihood of the true classes.
pub fn fit_temperature(scores: &[Vec<f32>], truth: &[usize]) -> f32 {
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        scores
            .iter()
            .zip(truth)
            .map(|(s, &y)| -f64::from(softmax(s, t)[y].max(1e-12)).ln())
            .sum()
    };
    // Golden-section search on ln T over [e^-5, e^3]; the NLL is unimodal in T.
    let (mut lo, mut hi) = (-5.0f64, 3.0f64);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let a = hi - ratio * (hi - lo);
        let b = lo + ratio * (hi - lo);
        if nll(a) < nll(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    ((lo + hi) / 2.0).exp() as f32
}

/// A monotone map from a raw top probability to observed accuracy, fitted by pool-adjacent-
/// violators and read by linear interpolation between the pooled blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Isotonic {
    /// Block centres (mean raw confidence), ascending, and the accuracy of each block.
    points: Vec<(f32, f32)>,
}

impl Isotonic {
    pub fn fit(outcomes: &[Outcome]) -> Self {
        let mut sorted: Vec<(f32, f32)> = outcomes
            .iter()
            .map(|o| (o.confidence, f32::from(u8::from(o.correct))))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Each block: (sum of x, sum of y, count); merge while a block is not above the last.
        let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
        for (x, y) in sorted {
            blocks.push((f64::from(x), f64::from(y), 1.0));
            while blocks.len() > 1 {
                let (x2, y2, n2) = blocks[blocks.len() - 1];
                let (x1, y1, n1) = blocks[blocks.len() - 2];
                if y1 / n1 < y2 / n2 {
                    break;
                }
                blocks.pop();
                *blocks.last_mut().expect("two blocks") = (x1 + x2, y1 + y2, n1 + n2);
            }
        }
        // A block's accuracy is read with one imagined right and one wrong answer, so that ten
        // right answers say 0.92, not a certainty; a running maximum keeps the map monotone.
        let mut floor = 0.0f32;
        Self {
            points: blocks
                .iter()
                .map(|&(x, y, n)| {
                    floor = floor.max(((y + 1.0) / (n + 2.0)) as f32);
                    ((x / n) as f32, floor)
                })
                .collect(),
        }
    }

    pub fn apply(&self, raw: f32) -> f32 {
        let p = &self.points;
        let Some(first) = p.first() else {
            return raw;
        };
        let upper = p.partition_point(|&(x, _)| x < raw);
        if upper == 0 {
            return first.1;
        }
        if upper == p.len() {
            return p[p.len() - 1].1;
        }
        let ((x0, y0), (x1, y1)) = (p[upper - 1], p[upper]);
        y0 + (y1 - y0) * (raw - x0) / (x1 - x0).max(f32::EPSILON)
    }
}

/// One held-out decision: the predicted class, its confidence, whether it was right.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub class: usize,
    pub confidence: f32,
    pub correct: bool,
}

/// Per class, the lowest confidence at which its held-out predictions at or above it were at
/// least `target` precise, counting one imagined mistake: a class needs about
/// `target / (1 - target)` right predictions in a row (19 at 95%) before it is trusted, so a
/// rare class abstains instead of guessing. `None`: the class is never applied.
pub fn class_thresholds(outcomes: &[Outcome], classes: usize, target: f64) -> Vec<Option<f32>> {
    (0..classes)
        .map(|class| {
            let mut mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.class == class).collect();
            mine.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
            let (mut right, mut best) = (0usize, None);
            let mut i = 0;
            while i < mine.len() {
                let confidence = mine[i].confidence;
                // Ties share a threshold: take them together.
                while i < mine.len() && mine[i].confidence == confidence {
                    right += usize::from(mine[i].correct);
                    i += 1;
                }
                if right as f64 / (i + 1) as f64 >= target {
                    best = Some(confidence);
                }
            }
            best
        })
        .collect()
}

/// Thresholds for `target` that held on later tickets, not only on the history around them.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    /// Per class, as [`class_thresholds`] chose them at `history_target`.
    pub thresholds: Vec<Option<f32>>,
    /// The precision asked of the held-out history: `target` or stricter.
    pub history_target: f64,
    /// The later predictions those thresholds applied, and how many were right.
    pub later: Record,
}

/// Per class thresholds for `target` that also held forward in time. Cross-validated outcomes
/// judge each ticket by a model that saw the tickets after it; new tickets have no such
/// neighbours, and a store's tickets drift. `later` are predictions for the history's latest
/// tickets by models trained only on the tickets before them, as production predicts. The
/// thresholds are chosen on `outcomes` at `target`, and, while they would have applied the
/// later predictions surely less than `target` precisely (the guard's test: a short history's
/// few later tickets tighten nothing by chance), at a stricter precision: the error allowed
/// shrinks by tenths, down to a tenth. What a store's drift costs is read from its own
/// history, not set here.
pub fn carried_thresholds(
    outcomes: &[Outcome],
    later: &[Outcome],
    classes: usize,
    target: f64,
) -> Carried {
    let at = |tenths: u8| {
        let history_target = 1.0 - (1.0 - target) * f64::from(10 - tenths) / 10.0;
        let thresholds = class_thresholds(outcomes, classes, history_target);
        Carried {
            later: applied(later, &thresholds),
            thresholds,
            history_target,
        }
    };
    let mut carried = at(0);
    for tenths in 1..10 {
        if !carried.later.below(target) {
            break;
        }
        carried = at(tenths);
    }
    carried
}

/// The outcomes `thresholds` apply (a class's at or above its threshold), and the right ones.
pub fn applied(outcomes: &[Outcome], thresholds: &[Option<f32>]) -> Record {
    let mut record = Record::default();
    for o in outcomes {
        if thresholds[o.class].is_some_and(|t| o.confidence >= t) {
            record.applied += 1;
            record.right += usize::from(o.correct);
        }
    }
    record
}

/// Expected calibration error over `bins` equal-width confidence bins: how far, on average,
/// stated confidence is from observed accuracy.
pub fn expected_calibration_error(outcomes: &[Outcome], bins: usize) -> f64 {
    let mut sums = vec![(0usize, 0f64, 0f64); bins];
    for o in outcomes {
        let bin = ((o.confidence * bins as f32) as usize).min(bins - 1);
        sums[bin].0 += 1;
        sums[bin].1 += f64::from(o.confidence);
        sums[bin].2 += f64::from(u8::from(o.correct));
    }
    let n = outcomes.len().max(1) as f64;
    sums.iter()
        .filter(|(count, ..)| *count > 0)
        .map(|&(_, conf, right)| (conf - right).abs() / n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_recovers_the_scale_of_the_scores() {
        // Labels drawn so that P(class 0) = softmax(s / 2) exactly, in expectation: scores
        // (2, 0) → p0 = 1/(1+e^-1) ≈ 0.731; 731 of 1000 are class 0.
        let scores = vec![vec![2.0, 0.0]; 1000];
        let truth: Vec<usize> = (0..1000).map(|i| usize::from(i >= 731)).collect();
        let t = fit_temperature(&scores, &truth);
        assert!((t - 2.0).abs() < 0.05, "{t}");
    }

    #[test]
    fn isotonic_maps_confidence_to_observed_accuracy() {
        // Raw 0.6 is right 90% of the time, raw 0.9 only 50%: not monotone, so pooled.
        let mut outcomes = Vec::new();
        for i in 0..100 {
            outcomes.push(Outcome {
                class: 0,
                confidence: 0.3,
                correct: i < 20,
            });
            outcomes.push(Outcome {
                class: 0,
                confidence: 0.6,
                correct: i < 90,
            });
            outcomes.push(Outcome {
                class: 0,
                confidence: 0.9,
                correct: i < 50,
            });
        }
        let map = Isotonic::fit(&outcomes);
        // 21/102 and 141/202 with one imagined right and one wrong answer.
        assert!((map.apply(0.3) - 21.0 / 102.0).abs() < 1e-6);
        // 0.6 and 0.9 pool into one block centred at 0.75, right 70% of the time.
        assert!(
            (map.apply(0.75) - 141.0 / 202.0).abs() < 1e-6,
            "{}",
            map.apply(0.75)
        );
        assert!((map.apply(0.9) - 141.0 / 202.0).abs() < 1e-6);
        assert!(map.apply(0.45) > 0.2 && map.apply(0.45) < map.apply(0.6));

        let always_right: Vec<Outcome> = (0..10)
            .map(|_| Outcome {
                class: 0,
                confidence: 0.9,
                correct: true,
            })
            .collect();
        let map = Isotonic::fit(&always_right);
        assert!(
            (map.apply(0.9) - 11.0 / 12.0).abs() < 1e-6,
            "ten right answers are not certainty"
        );
    }

    #[test]
    fn a_class_needs_a_run_of_right_answers_before_it_is_trusted() {
        let run = |n: usize, class| {
            (0..n).map(move |i| Outcome {
                class,
                confidence: 0.99 - i as f32 * 0.001,
                correct: true,
            })
        };
        let outcomes: Vec<Outcome> = run(30, 0).chain(run(5, 1)).collect();
        let t = class_thresholds(&outcomes, 3, 0.95);
        assert_eq!(t[0], Some(0.99 - 29.0 * 0.001));
        assert_eq!(t[1], None, "five right answers are not enough at 95%");
        assert_eq!(t[2], None, "never predicted");
    }

    #[test]
    fn thresholds_stop_above_the_mistakes() {
        let mut outcomes: Vec<Outcome> = (0..40)
            .map(|i| Outcome {
                class: 0,
                confidence: 0.9 - i as f32 * 0.01,
                correct: true,
            })
            .collect();
        // Below 0.5 everything is wrong.
        outcomes.extend((0..20).map(|i| Outcome {
            class: 0,
            confidence: 0.49 - i as f32 * 0.01,
            correct: false,
        }));
        let t = class_thresholds(&outcomes, 1, 0.95)[0].unwrap();
        assert!((0.45..=0.52).contains(&t), "{t}");
    }

    #[test]
    fn thresholds_are_asked_more_of_the_history_when_later_tickets_fell_short() {
        let confidence = |i: usize| 1.0 - i as f32 * 0.004;
        // Held-out history: the 100 most confident all right, below them one in ten wrong.
        let history: Vec<Outcome> = (0..200)
            .map(|i| Outcome {
                class: 0,
                confidence: confidence(i),
                correct: i < 100 || i % 10 != 9,
            })
            .collect();
        let plain = class_thresholds(&history, 1, 0.95)[0].unwrap();
        // Later tickets: as sure, but below the top hundred three in ten wrong (drift).
        let later: Vec<Outcome> = (0..200)
            .map(|i| Outcome {
                class: 0,
                confidence: confidence(i),
                correct: i < 100 || i % 10 >= 3,
            })
            .collect();
        let carried = carried_thresholds(&history, &later, 1, 0.95);
        assert!(carried.history_target > 0.95, "{carried:?}");
        assert!(carried.thresholds[0].unwrap() > plain, "{carried:?}");
        assert!(!carried.later.below(0.95), "{carried:?}");
        assert!(
            carried.later.applied >= 100,
            "the sure ones still applied: {carried:?}"
        );

        // Later tickets that were as right as the history ask nothing more of it, and neither
        // does a history too short to have later tickets.
        for later in [history.clone(), Vec::new()] {
            let carried = carried_thresholds(&history, &later, 1, 0.95);
            assert_eq!(carried.history_target, 0.95);
            assert_eq!(carried.thresholds[0], Some(plain));
        }
    }
}
