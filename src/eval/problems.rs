//! The `problems` part of the evaluation: do the candidate problems recover the recurring
//! groups of the incoming tickets, and are they pure?

use std::collections::HashMap;

use serde::Serialize;

/// A group counts when at least this many incoming tickets belong to it.
const MIN_GROUP: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub struct ProblemReport {
    /// Ground-truth groups with at least 3 incoming tickets.
    pub groups: usize,
    /// Share of those for which one candidate holds at least half of the group's incoming
    /// tickets, with at least half of its members from the group.
    pub groups_recovered: Option<f64>,
    /// Member-weighted share of each candidate's majority group.
    pub candidate_purity: Option<f64>,
    /// Candidates whose majority has no group, or whose purity is below 0.5.
    pub false_candidates: usize,
    pub candidates: usize,
}

/// `candidates`: the member ticket ids of each candidate; `groups`: the group of every ticket
/// that has one; `incoming`: the ids of the incoming tickets.
pub(super) fn score(
    candidates: &[Vec<i64>],
    groups: &HashMap<i64, &str>,
    incoming: &[i64],
) -> ProblemReport {
    let incoming: std::collections::HashSet<i64> = incoming.iter().copied().collect();
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for id in &incoming {
        if let Some(g) = groups.get(id) {
            *sizes.entry(g).or_default() += 1;
        }
    }
    let counted: Vec<(&str, usize)> = sizes.into_iter().filter(|&(_, n)| n >= MIN_GROUP).collect();
    let majority = |members: &[i64]| -> (Option<&str>, usize) {
        let mut counts: HashMap<Option<&str>, usize> = HashMap::new();
        for id in members {
            *counts.entry(groups.get(id).copied()).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|&(g, n)| (n, g.is_some()))
            .unwrap_or((None, 0))
    };
    let recovered = counted
        .iter()
        .filter(|&&(group, size)| {
            candidates.iter().any(|members| {
                let incoming_in = members
                    .iter()
                    .filter(|id| groups.get(id) == Some(&group) && incoming.contains(id))
                    .count();
                let in_group = members
                    .iter()
                    .filter(|id| groups.get(id) == Some(&group))
                    .count();
                2 * incoming_in >= size && 2 * in_group >= members.len()
            })
        })
        .count();
    let total: usize = candidates.iter().map(Vec::len).sum();
    let pure: usize = candidates.iter().map(|m| majority(m).1).sum();
    let false_candidates = candidates
        .iter()
        .filter(|m| {
            let (group, n) = majority(m);
            group.is_none() || 2 * n < m.len()
        })
        .count();
    ProblemReport {
        groups: counted.len(),
        groups_recovered: (!counted.is_empty()).then(|| recovered as f64 / counted.len() as f64),
        candidate_purity: (total > 0).then(|| pure as f64 / total as f64),
        false_candidates,
        candidates: candidates.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovered_groups_purity_and_false_candidates() {
        let groups: HashMap<i64, &str> = [
            (1, "a"),
            (2, "a"),
            (3, "a"),
            (4, "a"),
            (5, "b"),
            (6, "b"),
            (7, "b"),
            (8, "c"),
            (9, "c"),
            (10, "c"),
        ]
        .into_iter()
        .collect();
        let incoming: Vec<i64> = (1..=12).collect();
        let candidates = vec![
            vec![1, 2, 3, 5],   // recovers a: 3 of its 4, and 3 of 4 members are a
            vec![5, 6, 11, 12], // recovers b: 2 of its 3, and half its members are b
            vec![11, 12, 8],    // c has 1 of 3 here; mostly ungrouped: a false candidate
        ];
        let r = score(&candidates, &groups, &incoming);
        assert_eq!(r.groups, 3);
        assert!(
            (r.groups_recovered.unwrap() - 2.0 / 3.0).abs() < 1e-9,
            "{r:?}"
        );
        assert!(
            (r.candidate_purity.unwrap() - (3.0 + 2.0 + 2.0) / 11.0).abs() < 1e-9,
            "{r:?}"
        );
        assert_eq!(r.false_candidates, 1);
    }
}
