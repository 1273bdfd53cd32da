//! Similar tickets ranked by their embeddings and their words together. Which of the two finds
//! more depends on the store: on SeaMonkey's bug reports an earlier duplicate is among the
//! three nearest by embedding more often than by shared words, on another project's reports it
//! is the reverse (`../shared/data/README.md`). So the mix is learned from the store's own
//! duplicate links: each linked ticket of the history is searched for among the tickets
//! before it, and the weight that most often shows one of its earlier duplicates is kept.
//!
//! A ticket's score is `(1 − w) · cosine + w · tfidf`: the embeddings' cosine and the TF-IDF
//! vectors' (see [`super::tfidf`]), both from 0 to 1.

use serde::Serialize;

use super::tfidf::TfIdf;
use crate::vectors::{Rows, VectorIndex};

/// The weight of the words when the store has too few duplicate links to learn from: the
/// plain mean of the two, which found the most earlier duplicates on held-back bug reports
/// (the figures in `../shared/data/README.md`; not chosen on any set reported here).
pub const DEFAULT_WEIGHT: f32 = 0.5;
/// Fewer linked tickets than this, and one more or less would move the weight: the default
/// is kept.
pub const MIN_LINKED: usize = 10;
/// The most recent linked tickets learned from: enough to tell the weights apart, and a
/// bounded cost however many links the store has.
const MAX_LINKED: usize = 300;
/// The weights tried: 0, 0.1, …, 1.
const STEPS: usize = 10;

/// How similar tickets are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fusion {
    /// The share of the words in a ticket's score (0: the embedding alone).
    pub weight: f32,
    pub basis: Basis,
}

/// Where the weight comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Too few linked tickets to learn from: [`DEFAULT_WEIGHT`].
    Default,
    /// Learned from this many linked history tickets.
    Learned { linked: usize },
    /// Set in the pipeline file (`knowledge.similar_words_weight`).
    Fixed,
}

impl Default for Fusion {
    fn default() -> Self {
        Self {
            weight: DEFAULT_WEIGHT,
            basis: Basis::Default,
        }
    }
}

impl Fusion {
    /// A ticket's score from the cosine similarity of the embeddings and of the words.
    pub fn score(&self, similarity: f32, lexical: f32) -> f32 {
        (1.0 - self.weight) * similarity + self.weight * lexical
    }
}

/// A ticket of the history that a person linked to earlier ones reporting the same thing.
#[derive(Debug, Clone)]
pub struct Linked {
    /// Its position in the history (which is in time order).
    pub position: usize,
    /// Its text, as searched.
    pub text: String,
    /// The positions of the earlier tickets it duplicates.
    pub earlier: Vec<usize>,
}

/// The weight that most often puts one of a linked ticket's earlier duplicates among the
/// `shown` best of the tickets before it (what an agent sees), of 0, 0.1, …, 1; of equals,
/// the one that ranks them highest (mean reciprocal rank), then the one nearest the default.
/// `vectors` are the linked tickets' embeddings, in `linked`'s order.
pub fn learn<T>(
    history: &VectorIndex<T>,
    words: &TfIdf,
    linked: &[Linked],
    vectors: &Rows,
    shown: usize,
) -> Fusion {
    assert_eq!(linked.len(), vectors.len(), "one vector per linked ticket");
    let usable: Vec<usize> = (0..linked.len())
        .filter(|&i| {
            let l = &linked[i];
            l.position < history.len() && l.earlier.iter().any(|&e| e < l.position)
        })
        .collect();
    if usable.len() < MIN_LINKED {
        return Fusion::default();
    }
    let chosen = &usable[usable.len().saturating_sub(MAX_LINKED)..];
    let mut queries = Rows::zeros(0, vectors.row(0).len());
    for &i in chosen {
        queries.push(vectors.row(i));
    }
    let similarities = history.similarities_many(&queries);
    // Per weight: (found among the shown, sum of reciprocal ranks).
    let mut found = [(0usize, 0f64); STEPS + 1];
    for (q, &i) in chosen.iter().enumerate() {
        let l = &linked[i];
        let dense = &similarities.row(q)[..l.position];
        let lexical = words.scores(&l.text);
        let lexical = &lexical[..l.position];
        for (step, (hits, reciprocal)) in found.iter_mut().enumerate() {
            let fusion = Fusion {
                weight: step as f32 / STEPS as f32,
                basis: Basis::Default,
            };
            let score = |p: usize| fusion.score(dense[p], lexical[p]);
            let target = l
                .earlier
                .iter()
                .filter(|&&e| e < l.position)
                .map(|&e| score(e))
                .fold(f32::NEG_INFINITY, f32::max);
            let above = (0..l.position)
                .filter(|p| !l.earlier.contains(p) && score(*p) > target)
                .count();
            *hits += usize::from(above < shown);
            *reciprocal += 1.0 / (above + 1) as f64;
        }
    }
    let nearest_default = |step: usize| (step as f32 / STEPS as f32 - DEFAULT_WEIGHT).abs();
    let step = (0..=STEPS)
        .max_by(|&a, &b| {
            (found[a].0.cmp(&found[b].0))
                .then(found[a].1.total_cmp(&found[b].1))
                .then(nearest_default(b).total_cmp(&nearest_default(a)))
        })
        .expect("weights to try");
    Fusion {
        weight: step as f32 / STEPS as f32,
        basis: Basis::Learned {
            linked: chosen.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history of unit vectors in two dimensions (angle in degrees) with texts.
    fn history(tickets: &[(f32, &str)]) -> (VectorIndex<()>, TfIdf, Vec<Vec<f32>>) {
        let mut index = VectorIndex::new(2);
        let vectors: Vec<Vec<f32>> = tickets
            .iter()
            .map(|(angle, _)| vec![angle.to_radians().cos(), angle.to_radians().sin()])
            .collect();
        for v in &vectors {
            index.push(v, ());
        }
        let mut words = TfIdf::default();
        tickets.iter().for_each(|t| words.push(t.1));
        words.settle();
        (index, words, vectors)
    }

    /// `n` pairs, each a ticket and its later duplicate; `words_tell` says what the pair shares
    /// (the words, or the direction) and what misleads (the other).
    fn pairs(n: usize, words_tell: bool) -> (VectorIndex<()>, TfIdf, Vec<Linked>, Rows) {
        let mut tickets: Vec<(f32, String)> = Vec::new();
        for i in 0..n {
            let code = format!("errcode{i}");
            let angle = i as f32 * 7.0;
            if words_tell {
                // The duplicate shares a rare code, but its embedding points elsewhere, at a
                // ticket that shares nothing.
                tickets.push((angle, format!("{code} printer fails")));
                tickets.push((angle + 90.0, format!("decoy{i} network")));
                tickets.push((angle + 89.0, format!("{code} printer fails again")));
            } else {
                // The duplicate's embedding is its earlier report's, its words a decoy's.
                tickets.push((angle, format!("alpha{i} printer")));
                tickets.push((angle + 90.0, format!("{code} network")));
                tickets.push((angle + 0.5, format!("{code} network")));
            }
        }
        let texts: Vec<(f32, &str)> = tickets.iter().map(|(a, t)| (*a, t.as_str())).collect();
        let (index, words, vectors) = history(&texts);
        let linked: Vec<Linked> = (0..n)
            .map(|i| Linked {
                position: 3 * i + 2,
                text: tickets[3 * i + 2].1.clone(),
                earlier: vec![3 * i],
            })
            .collect();
        let mut rows = Rows::zeros(0, 2);
        for l in &linked {
            rows.push(&vectors[l.position]);
        }
        (index, words, linked, rows)
    }

    #[test]
    fn the_words_weigh_more_where_they_find_the_duplicates() {
        let (index, words, linked, rows) = pairs(12, true);
        let fusion = learn(&index, &words, &linked, &rows, 3);
        assert_eq!(fusion.basis, Basis::Learned { linked: 12 });
        assert!(fusion.weight > DEFAULT_WEIGHT, "{fusion:?}");
    }

    #[test]
    fn the_embedding_weighs_more_where_it_finds_the_duplicates() {
        let (index, words, linked, rows) = pairs(12, false);
        let fusion = learn(&index, &words, &linked, &rows, 3);
        assert_eq!(fusion.basis, Basis::Learned { linked: 12 });
        assert!(fusion.weight < DEFAULT_WEIGHT, "{fusion:?}");
    }

    #[test]
    fn too_few_links_keep_the_default() {
        let (index, words, linked, rows) = pairs(MIN_LINKED - 1, true);
        assert_eq!(learn(&index, &words, &linked, &rows, 3), Fusion::default());
    }

    #[test]
    fn the_score_mixes_the_two_halves_by_the_weight() {
        let fusion = Fusion {
            weight: 0.25,
            basis: Basis::Fixed,
        };
        assert_eq!(fusion.score(0.8, 0.4), 0.75 * 0.8 + 0.25 * 0.4);
    }
}
