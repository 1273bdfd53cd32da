//! Words that set one cluster apart from the rest of the window (class-based TF-IDF): frequent
//! in the cluster, rare elsewhere.

use std::collections::{HashMap, HashSet};

const STOP_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "are",
    "but",
    "not",
    "you",
    "all",
    "any",
    "can",
    "had",
    "her",
    "was",
    "one",
    "our",
    "out",
    "has",
    "have",
    "him",
    "his",
    "how",
    "its",
    "may",
    "now",
    "see",
    "who",
    "did",
    "get",
    "got",
    "let",
    "she",
    "too",
    "use",
    "this",
    "that",
    "with",
    "from",
    "they",
    "will",
    "would",
    "there",
    "their",
    "what",
    "when",
    "where",
    "which",
    "while",
    "been",
    "were",
    "into",
    "than",
    "then",
    "them",
    "these",
    "those",
    "some",
    "such",
    "only",
    "also",
    "just",
    "again",
    "about",
    "after",
    "before",
    "since",
    "could",
    "should",
    "does",
    "doing",
    "very",
    "please",
    "thanks",
    "thank",
    "regards",
    "hello",
    "dear",
    "team",
    "help",
    "need",
    "still",
    "today",
    "morning",
    "yesterday",
    "know",
    "like",
    "it's",
    "i'm",
    "can't",
    "don't",
    "doesn't",
    "isn't",
    "won't",
    "there's",
    "hi",
    "cheers",
    "best",
    "kind",
    "issue",
    "problem",
    "working",
    "work",
    "my",
    "me",
    "is",
    "it",
    "in",
    "on",
    "of",
    "to",
    "a",
    "an",
    "be",
    "or",
    "at",
    "we",
    "die",
    "der",
    "das",
    "und",
    "ist",
    "nicht",
    "ich",
    "mit",
    "bitte",
    "danke",
    "mein",
    "meine",
];

/// Lower-case word tokens worth keeping as keywords.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '.' || c == '-'))
        .map(|w| {
            w.trim_matches(|c: char| c == '.' || c == '\'' || c == '-')
                .to_lowercase()
        })
        .filter(|w| w.chars().count() >= 3 && w.chars().any(char::is_alphabetic))
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// For each class (a list of documents), its `top` distinguishing terms. A term must occur in
/// at least two documents of the class, so one long ticket cannot name a cluster.
pub fn distinctive_terms(classes: &[Vec<&str>], top: usize) -> Vec<Vec<String>> {
    let docs: Vec<Vec<Vec<String>>> = classes
        .iter()
        .map(|class| class.iter().map(|d| terms(d)).collect())
        .collect();
    let mut overall: HashMap<&str, f64> = HashMap::new();
    let mut words_per_class = Vec::new();
    for class in &docs {
        let mut words = 0usize;
        for term in class.iter().flatten() {
            *overall.entry(term).or_default() += 1.0;
            words += 1;
        }
        words_per_class.push(words);
    }
    let average = words_per_class.iter().sum::<usize>() as f64 / classes.len().max(1) as f64;

    docs.iter()
        .zip(&words_per_class)
        .map(|(class, &words)| {
            let mut tf: HashMap<&str, f64> = HashMap::new();
            let mut doc_freq: HashMap<&str, usize> = HashMap::new();
            for doc in class {
                let unique: HashSet<&str> = doc.iter().map(String::as_str).collect();
                for term in unique {
                    *doc_freq.entry(term).or_default() += 1;
                }
                for term in doc {
                    *tf.entry(term).or_default() += 1.0;
                }
            }
            let mut scored: Vec<(&str, f64)> = tf
                .into_iter()
                .filter(|(term, _)| doc_freq[term] >= 2.min(class.len()))
                .map(|(term, count)| {
                    let idf = (1.0 + average / overall[term]).ln();
                    (term, count / words.max(1) as f64 * idf)
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            scored
                .into_iter()
                .take(top)
                .map(|(t, _)| t.to_owned())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_stop_words_short_words_and_numbers() {
        assert_eq!(
            terms("The VPN client 5.2 keeps dropping, it's the update!"),
            ["vpn", "client", "keeps", "dropping", "update"]
        );
    }

    #[test]
    fn distinctive_terms_prefer_what_only_this_cluster_says() {
        let vpn = vec![
            "VPN disconnects after update",
            "vpn drops every minute since the update",
            "my VPN disconnects constantly",
        ];
        let printer = vec![
            "printer offline on floor 3",
            "floor 3 printer jams",
            "printer shows offline after update",
        ];
        let top = distinctive_terms(&[vpn, printer], 2);
        assert_eq!(top[0][0], "vpn");
        assert!(top[0].contains(&"disconnects".to_owned()), "{top:?}");
        assert_eq!(top[1][0], "printer");
        assert!(!top[1].contains(&"update".to_owned()));
    }
}
