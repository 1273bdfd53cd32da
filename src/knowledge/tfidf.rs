//! TF-IDF cosine between tickets: the lexical half of similar-ticket search. Unlike BM25,
//! which scores a short query against documents, it compares two texts of any length on one
//! scale (0–1), as the embedding's cosine does, so the two can be mixed without rescaling.
//! Term weight `(1 + ln tf) · idf`, `idf = ln((1 + n) / (1 + df)) + 1`.

use std::collections::HashMap;

use crate::problems::terms;

/// An inverted index of documents numbered in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct TfIdf {
    /// term → its number.
    ids: HashMap<String, u32>,
    /// term number → (document, sublinear term frequency) for every document holding it.
    postings: Vec<Vec<(u32, f32)>>,
    /// Each document's terms with their sublinear frequencies, to weigh it again.
    documents: Vec<Vec<(u32, f32)>>,
    /// Each document's length under the weights of the last [`TfIdf::settle`] (0: not yet).
    norms: Vec<f32>,
}

impl TfIdf {
    /// Adds a document; it is scored once [`TfIdf::settle`] has weighed it.
    pub fn push(&mut self, text: &str) {
        let doc = self.documents.len() as u32;
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for word in terms(text) {
            let next = self.ids.len() as u32;
            let id = *self.ids.entry(word).or_insert(next);
            if id as usize == self.postings.len() {
                self.postings.push(Vec::new());
            }
            *counts.entry(id).or_default() += 1;
        }
        let mut terms: Vec<(u32, f32)> = counts
            .into_iter()
            .map(|(id, tf)| (id, 1.0 + (tf as f32).ln()))
            .collect();
        terms.sort_unstable_by_key(|&(id, _)| id);
        for &(id, tf) in &terms {
            self.postings[id as usize].push((doc, tf));
        }
        self.documents.push(terms);
        self.norms.push(0.0);
    }

    /// Weighs every document by the present document frequencies. Called after a run of
    /// [`TfIdf::push`]: the weights of all documents move a little with each one added, and
    /// one pass after many is cheaper than one per document.
    pub fn settle(&mut self) {
        let idf: Vec<f32> = (0..self.postings.len() as u32)
            .map(|id| self.idf(id))
            .collect();
        for (doc, terms) in self.documents.iter().enumerate() {
            let sum: f32 = terms
                .iter()
                .map(|&(id, tf)| (tf * idf[id as usize]).powi(2))
                .sum();
            self.norms[doc] = sum.sqrt();
        }
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    fn idf(&self, id: u32) -> f32 {
        let n = self.documents.len() as f32;
        let df = self.postings[id as usize].len() as f32;
        ((1.0 + n) / (1.0 + df)).ln() + 1.0
    }

    /// The cosine of `query`'s TF-IDF vector with every document's (0 where they share no
    /// term, or the document was not weighed yet).
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let mut scores = vec![0f32; self.documents.len()];
        let mut counts: HashMap<u32, u32> = HashMap::new();
        let mut unknown = 0usize;
        for word in terms(query) {
            match self.ids.get(&word) {
                Some(&id) => *counts.entry(id).or_default() += 1,
                None => unknown += 1,
            }
        }
        // A word no document has still lengthens the query, at the highest idf.
        let top_idf = ((1.0 + self.documents.len() as f32) / 1.0).ln() + 1.0;
        let mut query_norm = (unknown as f32) * top_idf.powi(2);
        for (&id, &tf) in &counts {
            let idf = self.idf(id);
            let weight = (1.0 + (tf as f32).ln()) * idf;
            query_norm += weight.powi(2);
            for &(doc, dtf) in &self.postings[id as usize] {
                scores[doc as usize] += weight * dtf * idf;
            }
        }
        let query_norm = query_norm.sqrt();
        for (score, &norm) in scores.iter_mut().zip(&self.norms) {
            *score = if norm > 0.0 && query_norm > 0.0 {
                *score / (norm * query_norm)
            } else {
                0.0
            };
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(texts: &[&str]) -> TfIdf {
        let mut index = TfIdf::default();
        texts.iter().for_each(|t| index.push(t));
        index.settle();
        index
    }

    #[test]
    fn the_same_text_scores_one_and_texts_sharing_nothing_zero() {
        let texts = [
            "Outlook crashes with error 0x800ccc0e",
            "printer on floor two is offline",
            "Outlook is slow today",
        ];
        let index = index(&texts);
        let same = index.scores(texts[0]);
        assert!((same[0] - 1.0).abs() < 1e-5, "{same:?}");
        assert_eq!(same[1], 0.0);
        assert!(same[2] > 0.0 && same[2] < same[0]);
        // A rarer shared word counts for more than a common one.
        let index = index_with_common_outlook();
        let scores = index.scores("outlook 0x800ccc0e");
        assert!(scores[0] > scores[1], "{scores:?}");
    }

    fn index_with_common_outlook() -> TfIdf {
        index(&[
            "outlook error 0x800ccc0e",
            "outlook error calendar",
            "outlook signature missing",
            "outlook rules lost",
        ])
    }

    #[test]
    fn a_document_is_scored_once_weighed_and_settling_again_reweighs_them_all() {
        let mut index = index(&["vpn drops every hour", "printer offline"]);
        index.push("vpn client will not install");
        assert_eq!(index.scores("vpn install")[2], 0.0, "not weighed yet");
        index.settle();
        let grown = index.scores("vpn install");
        let whole = self::index(&[
            "vpn drops every hour",
            "printer offline",
            "vpn client will not install",
        ])
        .scores("vpn install");
        assert_eq!(grown, whole);
        assert!(grown[2] > grown[0]);
    }
}
