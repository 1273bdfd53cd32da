//! Joining a new incident to a known problem as it arrives: the nearest problem centre, if it
//! is close enough. A scan of a few dozen centres: microseconds, no clustering pass needed.

use crate::vectors::dot;

/// A candidate or accepted problem as the stream sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownProblem {
    pub id: i64,
    /// Unit-length mean of its incidents' embeddings.
    pub centre: Vec<f32>,
    /// Recent daily rate over the earlier one.
    pub trend: f32,
}

/// The problem an incident belongs to: the most similar centre at or above `min_similarity`,
/// with that similarity.
pub fn join<'a>(
    known: &'a [KnownProblem],
    vector: &[f32],
    min_similarity: f32,
) -> Option<(&'a KnownProblem, f32)> {
    known
        .iter()
        .map(|p| (p, dot(&p.centre, vector)))
        .filter(|&(_, s)| s >= min_similarity)
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_the_nearest_close_enough_problem() {
        let known = [
            KnownProblem {
                id: 1,
                centre: vec![1.0, 0.0],
                trend: 1.0,
            },
            KnownProblem {
                id: 2,
                centre: vec![0.6, 0.8],
                trend: 3.0,
            },
        ];
        let (p, s) = join(&known, &[0.8, 0.6], 0.7).unwrap();
        assert_eq!(p.id, 2);
        assert!((s - 0.96).abs() < 1e-6);
        assert!(join(&known, &[0.0, -1.0], 0.7).is_none());
    }
}
