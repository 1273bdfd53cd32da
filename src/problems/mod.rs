//! Problem detection: the incidents of a recent window are clustered with DBSCAN over their
//! unit embeddings, and each dense group becomes a candidate problem with a title, keywords and
//! its members. DBSCAN suits the job: the number of problems is unknown, most incidents belong
//! to none (noise), and a recurring incident is a dense run of near-identical reports.

mod activity;
mod graph;
mod join;
mod keywords;
mod overlap;

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use activity::{describe_trend, Activity};
pub use graph::Neighbours;
pub use join::{join, KnownProblem};
pub use keywords::{distinctive_terms, terms};
pub use overlap::{overlaps, OpenProblem};

use crate::kernels::normalise;
use crate::vectors::{dot, unit_mean};

/// One incident of the window.
#[derive(Debug, Clone)]
pub struct WindowIncident {
    pub ticket_id: i64,
    pub subject: String,
    /// The text that was embedded.
    pub text: String,
    pub requester: Option<String>,
    pub created_at: DateTime<Utc>,
    pub vector: Vec<f32>,
}

/// Clustering settings.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSettings {
    /// Smallest cluster that becomes a candidate.
    pub min_size: usize,
    /// Largest cosine distance between neighbouring members.
    pub max_distance: f32,
    /// Clusters less coherent than this (mean similarity to their centre) are split.
    pub min_cohesion: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub ticket_id: i64,
    /// Cosine similarity to the cluster's centre.
    pub similarity: f32,
}

/// A group of incidents that look like one underlying problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub title: String,
    pub keywords: Vec<String>,
    /// Most central first.
    pub members: Vec<Member>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Distinct people who reported it.
    pub requesters: usize,
    /// Incidents per day over the clustering window.
    pub activity: Activity,
    /// Unit-length mean of the members' embeddings: where new incidents join.
    #[serde(skip)]
    pub centre: Vec<f32>,
}

impl Candidate {
    /// How candidates are ranked for a problem manager: size, weighted by how fast it is
    /// growing now.
    pub fn rank(&self) -> f32 {
        self.members.len() as f32 * self.activity.trend()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProblemError {
    #[error("clustering failed: {0}")]
    Cluster(String),
}

/// Clusters `incidents` into candidates, ranked by size × trend.
pub fn detect(
    incidents: &[WindowIncident],
    settings: ClusterSettings,
) -> Result<Vec<Candidate>, ProblemError> {
    if incidents.len() < settings.min_size {
        return Ok(Vec::new());
    }
    let vectors: Vec<&[f32]> = incidents.iter().map(|i| i.vector.as_slice()).collect();
    let all: Vec<usize> = (0..incidents.len()).collect();
    // Every tighter re-clustering uses a subset of the widest neighbourhoods.
    let graph = Neighbours::build(&vectors, 1.0 - settings.max_distance)?;
    let groups = cluster(
        &vectors,
        &graph,
        &all,
        settings.max_distance,
        settings,
        REFINE_DEPTH,
    );
    let clustered: HashSet<usize> = groups.iter().flatten().copied().collect();
    let noise: Vec<usize> = all.into_iter().filter(|i| !clustered.contains(i)).collect();

    // Keywords are judged against every other cluster and the unclustered incidents.
    let mut classes: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.iter().map(|&i| incidents[i].text.as_str()).collect())
        .collect();
    classes.push(noise.iter().map(|&i| incidents[i].text.as_str()).collect());
    let keywords = distinctive_terms(&classes, 5);

    let days = window_days(incidents);
    let mut candidates: Vec<Candidate> = groups
        .iter()
        .zip(keywords)
        .map(|(group, keywords)| candidate(incidents, group, keywords, days))
        .collect();
    candidates.sort_by(|a, b| {
        b.rank()
            .total_cmp(&a.rank())
            .then(a.first_seen.cmp(&b.first_seen))
    });
    Ok(candidates)
}

/// How many times an incoherent cluster may be re-clustered tighter.
const REFINE_DEPTH: usize = 3;
/// How much tighter (in cosine distance) each re-clustering is.
const REFINE_STEP: f32 = 0.05;

/// DBSCAN over `members` (indices into `vectors`). A cluster whose members sit, on average,
/// less close to its centre than `min_cohesion` is usually two topics chained together
/// (MFA prompts and Outlook sign-ins, say); it is clustered again with a tighter radius and
/// split if that finds two or more parts (one tighter part alone is the same topic shedding
/// its looser reports: kept whole). A poor man's hierarchy, in the spirit of HDBSCAN.
fn cluster(
    vectors: &[&[f32]],
    graph: &Neighbours,
    members: &[usize],
    max_distance: f32,
    settings: ClusterSettings,
    depth: usize,
) -> Vec<Vec<usize>> {
    if members.len() < settings.min_size || max_distance <= 0.0 {
        return Vec::new();
    }
    let groups = graph.dbscan(members, 1.0 - max_distance, settings.min_size);
    let mut out = Vec::new();
    for group in groups.into_iter().filter(|g| g.len() >= settings.min_size) {
        let coherent = cohesion(vectors, &group) >= settings.min_cohesion;
        if coherent || depth == 0 {
            out.push(group);
            continue;
        }
        let parts = cluster(
            vectors,
            graph,
            &group,
            max_distance - REFINE_STEP,
            settings,
            depth - 1,
        );
        if parts.len() < 2 {
            out.push(group);
        } else {
            out.extend(reattach(vectors, &group, parts, 1.0 - max_distance));
        }
    }
    out
}

/// After a split, the members no part kept join the part whose centre is nearest, if within
/// `min_similarity` of it: a split separates topics, it should not shed their reports.
fn reattach(
    vectors: &[&[f32]],
    group: &[usize],
    mut parts: Vec<Vec<usize>>,
    min_similarity: f32,
) -> Vec<Vec<usize>> {
    let kept: HashSet<usize> = parts.iter().flatten().copied().collect();
    let centres: Vec<Vec<f32>> = parts.iter().map(|p| centre(vectors, p)).collect();
    for &i in group.iter().filter(|i| !kept.contains(i)) {
        let nearest = centres
            .iter()
            .map(|c| dot(vectors[i], c))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((p, similarity)) = nearest {
            if similarity >= min_similarity {
                parts[p].push(i);
            }
        }
    }
    parts
}

fn centre(vectors: &[&[f32]], group: &[usize]) -> Vec<f32> {
    unit_mean(group.iter().map(|&i| vectors[i]))
}

/// Mean cosine similarity of the members to their centre.
fn cohesion(vectors: &[&[f32]], group: &[usize]) -> f32 {
    let centre = centre(vectors, group);
    group.iter().map(|&i| dot(vectors[i], &centre)).sum::<f32>() / group.len() as f32
}

/// The first and last day of the window's incidents.
fn window_days(incidents: &[WindowIncident]) -> (NaiveDate, NaiveDate) {
    let days = incidents.iter().map(|i| i.created_at.date_naive());
    let first = days.clone().min().unwrap_or_default();
    (first, days.max().unwrap_or(first))
}

fn candidate(
    incidents: &[WindowIncident],
    group: &[usize],
    keywords: Vec<String>,
    (first_day, last_day): (NaiveDate, NaiveDate),
) -> Candidate {
    let vectors: Vec<&[f32]> = incidents.iter().map(|i| i.vector.as_slice()).collect();
    let centre = centre(&vectors, group);

    let mut members: Vec<Member> = group
        .iter()
        .map(|&i| Member {
            ticket_id: incidents[i].ticket_id,
            similarity: dot(&incidents[i].vector, &centre),
        })
        .collect();
    members.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    let by_id = |id: i64| {
        incidents
            .iter()
            .find(|i| i.ticket_id == id)
            .expect("member of the window")
    };
    let central = by_id(members[0].ticket_id);
    let requesters: HashSet<&str> = group
        .iter()
        .filter_map(|&i| incidents[i].requester.as_deref())
        .collect();
    Candidate {
        title: title(central),
        keywords,
        first_seen: group
            .iter()
            .map(|&i| incidents[i].created_at)
            .min()
            .expect("non-empty"),
        last_seen: group
            .iter()
            .map(|&i| incidents[i].created_at)
            .max()
            .expect("non-empty"),
        requesters: requesters.len(),
        members,
        activity: Activity::of(
            &group
                .iter()
                .map(|&i| incidents[i].created_at)
                .collect::<Vec<_>>(),
            first_day,
            last_day,
        ),
        centre,
    }
}

/// The most central incident's subject, or the start of its text if it has none.
fn title(central: &WindowIncident) -> String {
    let source = if central.subject.trim().is_empty() {
        central.text.as_str()
    } else {
        central.subject.as_str()
    };
    const MAX: usize = 90;
    let words: Vec<&str> = source.split_whitespace().collect();
    let mut out = String::new();
    for word in words {
        if out.len() + word.len() + 1 > MAX {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Shared members over all members of the two sets (0 for two empty sets).
pub fn jaccard(a: &HashSet<i64>, b: &HashSet<i64>) -> f32 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f32 / union as f32
}

/// Pairs each new candidate with the stored problem whose members it overlaps most
/// (Jaccard ≥ `min_overlap`, each stored problem once), so that a problem keeps its id and
/// its reviewers' decision from one run to the next; a candidate left over that lies mostly
/// inside a stored problem is given that problem too (see [`fold_matched`]).
pub fn match_stored(
    candidates: &[Candidate],
    stored: &[(i64, HashSet<i64>)],
    min_overlap: f32,
) -> Vec<Option<i64>> {
    let member_ids: Vec<HashSet<i64>> = candidates
        .iter()
        .map(|c| c.members.iter().map(|m| m.ticket_id).collect())
        .collect();
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (c, ids) in member_ids.iter().enumerate() {
        for (s, (_, members)) in stored.iter().enumerate() {
            let overlap = jaccard(ids, members);
            if overlap > 0.0 && overlap >= min_overlap {
                pairs.push((overlap, c, s));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![None; candidates.len()];
    let mut used = HashSet::new();
    for (_, c, s) in pairs {
        if out[c].is_none() && used.insert(s) {
            out[c] = Some(stored[s].0);
        }
    }
    // A candidate left over that lies mostly inside a stored problem is part of it: what a
    // problem manager merged stays merged although the clustering finds two groups.
    for (c, ids) in member_ids.iter().enumerate() {
        if out[c].is_some() {
            continue;
        }
        out[c] = stored
            .iter()
            .map(|(id, members)| (ids.intersection(members).count(), *id))
            .filter(|&(shared, _)| 2 * shared >= ids.len() && shared > 0)
            .max()
            .map(|(_, id)| id);
    }
    out
}

/// Joins the candidates matched to the same stored problem into one (its members, their
/// span of time), so that each problem is written once; returns them with their matches.
pub fn fold_matched(
    candidates: Vec<Candidate>,
    matches: Vec<Option<i64>>,
) -> (Vec<Candidate>, Vec<Option<i64>>) {
    let mut out: Vec<(Candidate, Option<i64>)> = Vec::new();
    for (candidate, matched) in candidates.into_iter().zip(matches) {
        let same = out
            .iter_mut()
            .find(|(_, m)| matched.is_some() && *m == matched);
        match same {
            Some((kept, _)) => {
                kept.first_seen = kept.first_seen.min(candidate.first_seen);
                kept.last_seen = kept.last_seen.max(candidate.last_seen);
                kept.requesters += candidate.requesters;
                kept.activity.add(&candidate.activity);
                // The centre of both, each weighted by its size.
                let (a, b) = (kept.members.len() as f32, candidate.members.len() as f32);
                kept.centre = normalise(
                    kept.centre
                        .iter()
                        .zip(&candidate.centre)
                        .map(|(x, y)| a * x + b * y)
                        .collect(),
                );
                kept.members.extend(candidate.members);
                kept.members
                    .sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
            }
            None => out.push((candidate, matched)),
        }
    }
    out.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: i64, subject: &str, vector: [f32; 3], day: u32) -> WindowIncident {
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        WindowIncident {
            ticket_id: id,
            subject: subject.into(),
            text: subject.into(),
            requester: Some(format!("user{}@example.com", id % 3)),
            created_at: format!("2026-10-{day:02}T09:00:00Z").parse().unwrap(),
            vector: vector.iter().map(|x| x / norm).collect(),
        }
    }

    fn at(degrees: f32) -> [f32; 3] {
        let r = degrees.to_radians();
        [r.cos(), r.sin(), 0.0]
    }

    #[test]
    fn two_topics_chained_by_a_bridge_are_split() {
        // A at 0-9°, B at 97-106°, one report at 50° between them: hops of 41° and 47° chain
        // all of it at the default radius (53°), but it is far from coherent; at 45° the
        // bridge hangs on to A only.
        let mut incidents = Vec::new();
        for (i, degrees) in [0.0, 3.0, 6.0, 9.0, 50.0, 97.0, 100.0, 103.0, 106.0]
            .iter()
            .enumerate()
        {
            incidents.push(incident(i as i64, &format!("report {i}"), at(*degrees), 1));
        }
        let settings = ClusterSettings {
            min_size: 3,
            max_distance: 0.4,
            min_cohesion: 0.85,
        };
        let found = detect(&incidents, settings).unwrap();
        let mut groups: Vec<Vec<i64>> = found
            .iter()
            .map(|c| {
                let mut ids: Vec<i64> = c.members.iter().map(|m| m.ticket_id).collect();
                ids.sort();
                ids
            })
            .collect();
        groups.sort();
        assert_eq!(groups, vec![vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8]]);
    }

    #[test]
    fn reports_a_split_shed_join_the_nearest_part_if_close_enough() {
        let vectors: Vec<Vec<f32>> = [0.0, 2.0, 90.0, 92.0, 20.0, 60.0]
            .iter()
            .map(|&d| at(d).to_vec())
            .collect();
        let views: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let parts = reattach(
            &views,
            &[0, 1, 2, 3, 4, 5],
            vec![vec![0, 1], vec![2, 3]],
            0.9,
        );
        // 20° from A's centre joins A (cos 19° > 0.9); 60° is 31° from B: too far for both.
        assert_eq!(parts, vec![vec![0, 1, 4], vec![2, 3]]);
    }

    #[test]
    fn dense_groups_become_candidates_and_strays_stay_noise() {
        let incidents = vec![
            incident(1, "VPN drops after update", [1.0, 0.05, 0.0], 3),
            incident(2, "VPN disconnects after update", [1.0, 0.0, 0.05], 4),
            incident(3, "vpn keeps dropping", [1.0, 0.02, 0.02], 5),
            incident(4, "printer jam floor 3", [0.0, 1.0, 0.03], 4),
            incident(5, "printer floor 3 offline", [0.02, 1.0, 0.0], 6),
            incident(6, "floor 3 printer jams again", [0.0, 1.0, 0.01], 7),
            incident(7, "printer on floor 3 jammed", [0.01, 1.0, 0.02], 8),
            incident(8, "new monitor please", [0.0, 0.0, 1.0], 6),
        ];
        let settings = ClusterSettings {
            min_size: 3,
            max_distance: 0.05,
            min_cohesion: 0.75,
        };
        let candidates = detect(&incidents, settings).unwrap();
        assert_eq!(candidates.len(), 2);
        let printer = &candidates[0];
        assert_eq!(printer.members.len(), 4);
        assert!(printer.title.contains("printer"), "{}", printer.title);
        assert!(printer.keywords.contains(&"printer".to_owned()));
        assert_eq!(printer.first_seen.to_rfc3339(), "2026-10-04T09:00:00+00:00");
        assert_eq!(printer.requesters, 3);
        let vpn_ids: Vec<i64> = candidates[1].members.iter().map(|m| m.ticket_id).collect();
        assert_eq!(vpn_ids.len(), 3);
        assert!(!vpn_ids.contains(&8));
    }

    #[test]
    fn candidates_keep_the_id_of_the_problem_they_overlap() {
        let make = |ids: &[i64]| Candidate {
            title: String::new(),
            keywords: vec![],
            members: ids
                .iter()
                .map(|&ticket_id| Member {
                    ticket_id,
                    similarity: 1.0,
                })
                .collect(),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
            requesters: 1,
            activity: Activity::of(&[], Utc::now().date_naive(), Utc::now().date_naive()),
            centre: vec![1.0, 0.0],
        };
        let stored = vec![
            (10, HashSet::from([1, 2, 3])),
            (11, HashSet::from([7, 8, 9])),
        ];
        let new = [
            make(&[7, 8, 9, 12]),
            make(&[1, 2, 3, 4]),
            make(&[20, 21, 22]),
        ];
        assert_eq!(match_stored(&new, &stored, 0.3), [Some(11), Some(10), None]);
    }

    #[test]
    fn what_was_merged_stays_together() {
        let make = |ids: &[i64]| Candidate {
            title: format!("{ids:?}"),
            keywords: vec![],
            members: ids
                .iter()
                .map(|&ticket_id| Member {
                    ticket_id,
                    similarity: 1.0 / ticket_id as f32,
                })
                .collect(),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
            requesters: ids.len(),
            activity: Activity::of(&[], Utc::now().date_naive(), Utc::now().date_naive()),
            centre: vec![1.0, 0.0],
        };
        // Problem 10 holds two groups a problem manager merged; clustering finds them apart.
        let stored = vec![(10, HashSet::from([1, 2, 3, 7, 8, 9]))];
        let new = vec![make(&[1, 2, 3, 4]), make(&[7, 8, 9]), make(&[20, 21, 22])];
        let matches = match_stored(&new, &stored, 0.3);
        assert_eq!(matches, [Some(10), Some(10), None]);
        let (folded, matches) = fold_matched(new, matches);
        assert_eq!(matches, [Some(10), None]);
        let ids: HashSet<i64> = folded[0].members.iter().map(|m| m.ticket_id).collect();
        assert_eq!(ids, HashSet::from([1, 2, 3, 4, 7, 8, 9]));
        assert_eq!(folded[0].members[0].ticket_id, 1, "most central first");
    }
}
