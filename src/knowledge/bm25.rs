//! Okapi BM25 over article titles and bodies: the lexical half of article retrieval. It finds
//! what the embedding blurs — product names, error codes, a word the model never saw.

use std::collections::HashMap;

use crate::problems::terms;

/// Term-frequency saturation.
const K1: f32 = 1.2;
/// Length normalisation.
const B: f32 = 0.75;

/// An inverted index over a fixed set of documents, numbered in the order they were given.
#[derive(Debug, Clone, Default)]
pub struct Bm25 {
    /// term → (document, term frequency) for every document holding it.
    postings: HashMap<String, Vec<(u32, u32)>>,
    lengths: Vec<u32>,
    average_length: f32,
}

impl Bm25 {
    pub fn new<'a>(documents: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = Bm25::default();
        for (doc, text) in documents.into_iter().enumerate() {
            let words = terms(text);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for word in &words {
                *counts.entry(word.clone()).or_default() += 1;
            }
            for (word, tf) in counts {
                index
                    .postings
                    .entry(word)
                    .or_default()
                    .push((doc as u32, tf));
            }
            index.lengths.push(words.len() as u32);
        }
        let total: u64 = index.lengths.iter().map(|&l| u64::from(l)).sum();
        index.average_length = total as f32 / index.lengths.len().max(1) as f32;
        index
    }

    /// The BM25 score of every document for `query` (0 where no query term occurs).
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let mut scores = vec![0f32; self.lengths.len()];
        let mut seen = Vec::new();
        let n = self.lengths.len() as f32;
        for word in terms(query) {
            // A word repeated in the query counts once: queries are short, and repeating a
            // word is not asking for it twice as much.
            if seen.contains(&word) {
                continue;
            }
            let Some(postings) = self.postings.get(&word) else {
                continue;
            };
            let df = postings.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in postings {
                let tf = tf as f32;
                let length = self.lengths[doc as usize] as f32 / self.average_length.max(1.0);
                scores[doc as usize] += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length));
            }
            seen.push(word);
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_shared_words_score_and_absent_words_do_not() {
        let index = Bm25::new([
            "Reset your password in the self-service portal",
            "Printer OSPREY shows offline: clear the paper jam",
            "Connect to the VPN from home with SkyGate",
            "Password rules and password expiry",
        ]);
        let scores = index.scores("skygate vpn disconnects");
        assert!(scores[2] > 0.0);
        assert_eq!(scores[0], 0.0);
        assert_eq!(scores[1], 0.0);
        let scores = index.scores("password");
        assert!(scores[3] > scores[0], "more occurrences, higher score");
        assert!(index
            .scores("nothing matches here")
            .iter()
            .all(|&s| s == 0.0));
        assert_eq!(index.lengths.len(), 4);
    }
}
