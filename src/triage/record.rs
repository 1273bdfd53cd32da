//! How a class fared on tickets whose labels are known, and whether that is surely below a
//! target precision: the test both the live guard and the forward check of thresholds use.

use serde::Serialize;

/// A record is surely below a target when one this bad or worse would come less often than
/// this if the class were as precise as the target (a one-sided binomial test): at 95% a single
/// mistake holds nothing back, nor do 2 in 10, while 3 in 10 do; a class a little below the
/// target is held back only once many tickets show it.
const CHANCE: f64 = 0.05;

/// How a class's confident predictions fared on tickets whose labels are known (live: those
/// since resolved, applied or held back; in training: the history's latest tickets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Confident predictions counted (the name is the one `report --json` has always had).
    pub applied: usize,
    /// Of those, right: the ticket's label is the predicted one.
    pub right: usize,
}

impl Record {
    pub fn precision(&self) -> f64 {
        self.right as f64 / self.applied.max(1) as f64
    }

    /// How often a class exactly `target` precise would do this badly or worse on as many
    /// tickets: P(X <= right) for X ~ Binomial(applied, target).
    pub fn chance_at(&self, target: f64) -> f64 {
        let n = self.applied;
        if n == 0 || target <= 0.0 {
            return 1.0;
        }
        if target >= 1.0 {
            return if self.right == n { 1.0 } else { 0.0 };
        }
        // Each term in logarithms: C(n, k) overflows long before a window does.
        let (ln_p, ln_q) = (target.ln(), (1.0 - target).ln());
        let mut ln_choose = 0.0; // ln C(n, 0)
        let mut total = 0.0;
        for k in 0..=self.right.min(n) {
            if k > 0 {
                ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
            }
            total += (ln_choose + k as f64 * ln_p + (n - k) as f64 * ln_q).exp();
        }
        total.min(1.0)
    }

    /// Whether the record is surely below `target` (see [`CHANCE`]).
    pub fn below(&self, target: f64) -> bool {
        self.chance_at(target) < CHANCE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(right: usize, applied: usize) -> Record {
        Record { applied, right }
    }

    #[test]
    fn the_chance_is_the_binomial_tail() {
        assert_eq!(record(0, 0).chance_at(0.95), 1.0);
        // 3 of 4 at 95%: 1 - 0.95^4.
        assert!((record(3, 4).chance_at(0.95) - (1.0 - 0.95f64.powi(4))).abs() < 1e-12);
        assert!((record(4, 4).chance_at(0.95) - 1.0).abs() < 1e-12);
        // The same share on more tickets is surer.
        assert!(record(8, 10).chance_at(0.95) > record(80, 100).chance_at(0.95));
        assert!(record(0, 500).chance_at(0.95) < 1e-300);
        // What the README says it holds back at 95%.
        assert!(!record(0, 1).below(0.95) && !record(8, 10).below(0.95));
        assert!(record(7, 10).below(0.95) && record(0, 2).below(0.95));
    }
}
