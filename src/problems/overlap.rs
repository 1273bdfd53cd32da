//! Open problems that look like one: two candidates the clustering kept apart (a split by
//! cohesion, two wordings of one fault) that a problem manager would merge.
//!
//! Two open problems overlap when their centres are at least `join_similarity` alike and they
//! share a keyword. The threshold is the one at which a new incident joins a known problem at
//! once: a centre that close to another would have joined it as an incident, so the two are
//! one pattern by the pipeline's own measure, and no second figure needs tuning. The shared
//! keyword keeps apart problems that only sit in the same region of the embedding (two
//! different printers' faults) — what they say must overlap too.

use std::collections::HashSet;

use crate::vectors::dot;

/// An open problem as the overlap rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenProblem<'a> {
    pub id: i64,
    /// Unit-length mean of its incidents' embeddings.
    pub centre: &'a [f32],
    pub keywords: &'a [String],
}

/// For each problem of `open` (in order), the ids of the others it overlaps, most similar first.
pub fn overlaps(open: &[OpenProblem<'_>], join_similarity: f32) -> Vec<Vec<i64>> {
    open.iter()
        .map(|p| {
            let words: HashSet<&str> = p.keywords.iter().map(String::as_str).collect();
            let mut alike: Vec<(f32, i64)> = open
                .iter()
                .filter(|o| o.id != p.id && o.centre.len() == p.centre.len())
                .filter(|o| o.keywords.iter().any(|k| words.contains(k.as_str())))
                .map(|o| (dot(p.centre, o.centre), o.id))
                .filter(|&(s, _)| s >= join_similarity)
                .collect();
            alike.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            alike.into_iter().map(|(_, id)| id).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn close_centres_with_a_shared_keyword_overlap_both_ways() {
        let (mfa, push, vpn, printer) = (
            words(&["authenticator", "approve", "app"]),
            words(&["mfa", "push", "app"]),
            words(&["vpn", "drops"]),
            words(&["printer", "offline", "app"]),
        );
        let open = [
            OpenProblem {
                id: 2,
                centre: &[1.0, 0.0],
                keywords: &mfa,
            },
            OpenProblem {
                id: 4,
                centre: &[0.8, 0.6],
                keywords: &push,
            },
            // Close to 2 but shares no keyword with it.
            OpenProblem {
                id: 6,
                centre: &[0.8, 0.6],
                keywords: &vpn,
            },
            // Shares "app" but is far.
            OpenProblem {
                id: 1,
                centre: &[0.0, 1.0],
                keywords: &printer,
            },
        ];
        let found = overlaps(&open, 0.7);
        assert_eq!(found, [vec![4], vec![2], vec![], vec![]]);
        // Below the joining threshold nothing overlaps.
        assert!(overlaps(&open, 0.9).iter().all(Vec::is_empty));
    }
}
