//! Known issues before filing: the announced problems an end user's question is about, told
//! in the words the problem manager wrote for end users and nothing else of the problem.

use serde::Serialize;

use super::{Pipeline, PipelineError};
use crate::store::AnnouncedProblem;
use crate::vectors::dot;

/// An announced problem as end users see it: only what was written for them, how often it was
/// reported and since when. Never its id, its tickets, their words or who reported them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnownIssue {
    pub title: String,
    pub workaround: Option<String>,
    /// Incidents reported so far.
    pub reported: i64,
    /// When the first was reported (RFC 3339).
    pub since: String,
}

impl KnownIssue {
    fn of(problem: AnnouncedProblem) -> Self {
        Self {
            title: problem.announcement.title,
            workaround: problem.announcement.workaround,
            reported: problem.reported,
            since: problem.since,
        }
    }
}

/// Known issues for one question, with the problems they are (for the deflection figures).
pub(super) struct Matched {
    pub problem_ids: Vec<i64>,
    pub issues: Vec<KnownIssue>,
}

impl Pipeline {
    /// The announced problems a question with the embedding `vector` is about, most similar
    /// first. Read from the store on every question rather than kept with the snapshot, so
    /// that an announcement and its withdrawal count at once in `serve` too.
    pub(super) async fn known_issues(&self, vector: &[f32]) -> Result<Matched, PipelineError> {
        let announced = self.store.announced_problems().await?;
        let matched = matching(announced, vector, self.config.problems.join_similarity);
        Ok(Matched {
            problem_ids: matched.iter().map(|p| p.problem_id).collect(),
            issues: matched.into_iter().map(KnownIssue::of).collect(),
        })
    }
}

/// The announced problems whose centre is at least `min_similarity` from `vector`, most
/// similar first.
///
/// The threshold is `problems.join_similarity`: a question on the before-filing page is an
/// incident not yet filed, so it is about a problem exactly when, filed, it would join that
/// problem. One setting keeps the page and the stream in agreement, and a team that tunes how
/// readily incidents join a problem tunes this with it.
fn matching(
    announced: Vec<AnnouncedProblem>,
    vector: &[f32],
    min_similarity: f32,
) -> Vec<AnnouncedProblem> {
    let mut scored: Vec<(AnnouncedProblem, f32)> = announced
        .into_iter()
        // A centre of another length is another model's: it waits for the next pass.
        .filter(|p| p.centre.len() == vector.len())
        .map(|p| {
            let similarity = dot(&p.centre, vector);
            (p, similarity)
        })
        .filter(|&(_, s)| s >= min_similarity)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Announcement;

    fn announced(id: i64, centre: Vec<f32>) -> AnnouncedProblem {
        AnnouncedProblem {
            problem_id: id,
            announcement: Announcement::new("VPN drops", None).unwrap(),
            reported: 3,
            since: "2026-03-01T09:12:00+00:00".into(),
            centre,
        }
    }

    #[test]
    fn only_problems_close_enough_match_most_similar_first() {
        let problems = vec![
            announced(1, vec![1.0, 0.0]),
            announced(2, vec![0.6, 0.8]),
            announced(3, vec![0.0, 1.0]),
            announced(4, vec![1.0, 0.0, 0.0]),
        ];
        let ids: Vec<i64> = matching(problems, &[0.8, 0.6], 0.75)
            .iter()
            .map(|p| p.problem_id)
            .collect();
        assert_eq!(ids, [2, 1]);
    }

    #[test]
    fn announcements_are_trimmed_and_bounded() {
        use crate::store::NotAnAnnouncement;
        let a = Announcement::new("  VPN drops ", Some("  ")).unwrap();
        assert_eq!((a.title.as_str(), a.workaround), ("VPN drops", None));
        assert_eq!(
            Announcement::new(" ", None),
            Err(NotAnAnnouncement::EmptyTitle)
        );
        let long = "x".repeat(crate::store::MAX_PUBLIC_TITLE_CHARS + 1);
        assert_eq!(
            Announcement::new(&long, None),
            Err(NotAnAnnouncement::LongTitle)
        );
    }
}
