//! What the linear classifiers see of a ticket: TF-IDF of its words (1–2-grams) and of the
//! character 2–5-grams inside its words, a handful of urgency cues a help desk knows, and the
//! sentence embedding. Each block is L2-normalised on its own so that no signal drowns the
//! others; n-grams are hashed into a fixed space, so a word never seen in training costs
//! nothing and the model's size does not grow with the vocabulary.

use std::sync::{Arc, LazyLock};

use aho_corasick::AhoCorasick;

/// Hashed n-gram buckets (2^18): few enough collisions for a help desk's vocabulary. A model
/// holds weights only for the buckets its training texts used (about two thirds of them for
/// 20,000 tickets), and only the non-zero ones of each class (`linear::ClassWeights`): a
/// 74-class model of 20,000 tickets takes 24 MB.
pub const BUCKETS: u32 = 1 << 18;
/// Characters n-grams are taken inside words padded with one space on each side, as
/// scikit-learn's `char_wb` analyser does.
const CHAR_NGRAMS: std::ops::RangeInclusive<usize> = 2..=5;

/// Urgency cues: a cue fires when any of its phrases occurs, as whole words, in the
/// lower-cased text. They are features, not rules: the history decides how much each one
/// weighs, and for which class. Single words as well as phrases, because many desks' exports
/// strip stop words ("cannot work" may arrive as "cannot work" or as "unable work").
const CUES: &[(&str, &[&str])] = &[
    (
        "cue:outage",
        &[
            "down",
            "outage",
            "not working",
            "unavailable",
            "offline",
            "crash",
            "crashed",
            "crashes",
            "no access",
            "stopped",
            "ausfall",
            "funktioniert nicht",
            "not responding",
            "unreachable",
            "failed",
            "failing",
            "error",
        ],
    ),
    (
        "cue:everyone",
        &[
            "everyone",
            "everybody",
            "all users",
            "whole team",
            "entire",
            "nobody",
            "no one",
            "multiple users",
            "all staff",
            "several users",
            "whole office",
            "users",
            "alle",
        ],
    ),
    (
        "cue:cannot-work",
        &[
            "cannot",
            "can't",
            "cant",
            "unable",
            "blocked",
            "blocking",
            "locked out",
            "stuck",
            "kann nicht",
            "impossible",
        ],
    ),
    (
        "cue:deadline",
        &[
            "asap",
            "urgent",
            "urgently",
            "immediately",
            "deadline",
            "today",
            "end of day",
            "eod",
            "tomorrow",
            "right away",
            "critical",
            "dringend",
            "sofort",
            "emergency",
        ],
    ),
    (
        "cue:business",
        &[
            "production",
            "customer",
            "customers",
            "payroll",
            "payment",
            "invoice",
            "invoices",
            "server",
            "website",
            "client",
            "clients",
            "sales",
            "order",
            "orders",
        ],
    ),
];

/// A feature vector: sparse n-grams (by slot, see [`Featurizer`]), cues and bias, then the sentence embedding as a dense
/// block. The embedding is borrowed, not copied: it is most of a ticket's features, and the
/// history it comes from is the largest thing training holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features<'a> {
    /// Sparse entries (a bucket may repeat only if hashed twice to it, which
    /// [`Featurizer::features`] merges).
    /// Shared, so that the same ticket's features with and without the embedding
    /// ([`Features::without_embedding`]) hold one copy of them.
    pub indices: Arc<[u32]>,
    pub values: Arc<[f32]>,
    /// How many of the first sparse entries are the word n-grams' (the terms a person can
    /// read; the character n-grams and cues follow them).
    words: usize,
    /// The embedding, whose weights start at index `embedding_base`.
    embedding: &'a [f32],
    embedding_base: usize,
}

impl<'a> Features<'a> {
    /// Sparse features alone.
    #[cfg(test)]
    pub fn sparse(indices: Vec<u32>, values: Vec<f32>) -> Self {
        Self {
            indices: indices.into(),
            values: values.into(),
            ..Self::default()
        }
    }

    /// The same features with the embedding's block left empty: a machine trained on these
    /// learns no weight for the embedding, so it scores a ticket by its words alone. Cheap:
    /// the sparse entries are shared, not copied.
    pub fn without_embedding(&self) -> Self {
        Self {
            embedding: &[],
            ..self.clone()
        }
    }

    /// Where the embedding's weights start, and the embedding.
    pub fn embedding(&self) -> (usize, &'a [f32]) {
        (self.embedding_base, self.embedding)
    }

    fn dense_weights<'w>(&self, weights: &'w [f32]) -> &'w [f32] {
        &weights[self.embedding_base..self.embedding_base + self.embedding.len()]
    }

    pub fn dot(&self, weights: &[f32]) -> f32 {
        self.dot_with(|i| weights[i as usize], self.dense_weights(weights))
    }

    /// The dot product with weights that are not one slice: `weight(i)` for the sparse
    /// entries, `embedding_weights` for the embedding's block.
    pub fn dot_with(&self, weight: impl Fn(u32) -> f32, embedding_weights: &[f32]) -> f32 {
        let sparse: f32 = self
            .indices
            .iter()
            .zip(self.values.iter())
            .map(|(&i, &v)| weight(i) * v)
            .sum();
        sparse + crate::vectors::dot(self.embedding, embedding_weights)
    }

    pub fn squared_norm(&self) -> f32 {
        let dense: f32 = self.embedding.iter().map(|v| v * v).sum();
        self.values.iter().map(|v| v * v).sum::<f32>() + dense
    }

    /// `weights += scale · self`.
    pub fn add_to(&self, weights: &mut [f32], scale: f32) {
        for (&i, &v) in self.indices.iter().zip(self.values.iter()) {
            weights[i as usize] += scale * v;
        }
        let (base, n) = (self.embedding_base, self.embedding.len());
        for (w, &v) in weights[base..base + n].iter_mut().zip(self.embedding) {
            *w += scale * v;
        }
    }
}

/// A word n-gram or cue that pushed a decision, for the evidence shown to agents.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Term {
    pub term: String,
    pub weight: f32,
}

/// Turns texts into [`Features`]; fitted once on the training texts (document frequencies).
/// Features are numbered by slot: the buckets the training texts used, in bucket order, then
/// the cues, the embedding and the bias. A bucket no training text used could only ever have
/// a zero weight, so it gets no slot: the same model in a third less memory.
#[derive(Debug, Clone)]
pub struct Featurizer {
    /// Each bucket's slot, or [`UNSEEN`].
    slots: Vec<u32>,
    /// Inverse document frequency per slot (1 + ln((1+n)/(1+df)), as scikit-learn's smooth idf).
    idf: Vec<f32>,
    /// The idf of a bucket no training text used: it has no weight but counts in its block's
    /// norm, as it did before buckets had slots.
    unseen_idf: f32,
    dimension_of_embedding: usize,
}

const UNSEEN: u32 = u32::MAX;

/// The n-grams of one text, before weighting: (bucket, count) in bucket order, split by kind.
struct Grams {
    words: Vec<(u32, f32)>,
    chars: Vec<(u32, f32)>,
}

impl Featurizer {
    /// Learns the document frequencies of `texts`.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>, embedding_dimension: usize) -> Self {
        let mut df = vec![0u32; BUCKETS as usize];
        let mut n = 0u32;
        for text in texts {
            n += 1;
            let grams = grams(text);
            for &(bucket, _) in grams.words.iter().chain(&grams.chars) {
                df[bucket as usize] += 1;
            }
        }
        let idf_of = |d: u32| 1.0 + ((1.0 + n as f32) / (1.0 + d as f32)).ln();
        let (mut slots, mut idf) = (vec![UNSEEN; df.len()], Vec::new());
        for (bucket, &d) in df.iter().enumerate() {
            if d > 0 {
                slots[bucket] = idf.len() as u32;
                idf.push(idf_of(d));
            }
        }
        Self {
            slots,
            idf,
            unseen_idf: idf_of(0),
            dimension_of_embedding: embedding_dimension,
        }
    }

    /// Total number of features, bias included.
    pub fn dimension(&self) -> usize {
        self.idf.len() + CUES.len() + self.dimension_of_embedding + 1
    }

    /// A bucket's slot, if a training text used it.
    fn slot(&self, bucket: u32) -> Option<u32> {
        Some(self.slots[bucket as usize]).filter(|&s| s != UNSEEN)
    }

    /// Index of the first cue feature.
    fn cue_base(&self) -> u32 {
        self.idf.len() as u32
    }

    fn embedding_base(&self) -> u32 {
        self.cue_base() + CUES.len() as u32
    }

    fn bias_index(&self) -> u32 {
        self.embedding_base() + self.dimension_of_embedding as u32
    }

    /// The features of one text and its sentence embedding (already L2-normalised).
    pub fn features<'a>(&self, text: &str, embedding: &'a [f32]) -> Features<'a> {
        let grams = grams(text);
        // Sized once, so that building them never regrows; what they end in holds exactly
        // the entries (the history's features are the largest thing training holds).
        let capacity = grams.words.len() + grams.chars.len() + CUES.len() + 1;
        let mut indices = Vec::with_capacity(capacity);
        let mut values = Vec::with_capacity(capacity);
        let mut words = 0;
        for (block, is_words) in [(grams.words, true), (grams.chars, false)] {
            // Sublinear tf × idf, normalised per block. Slots follow buckets, so each block's
            // slots ascend: the same order in every process (a hash map's random order changed
            // how the scores' sums rounded from one run to the next), and each class's weights
            // are read in address order.
            let weighted: Vec<(Option<u32>, f32)> = block
                .into_iter()
                .map(|(b, count)| {
                    let slot = self.slot(b);
                    let idf = slot.map_or(self.unseen_idf, |s| self.idf[s as usize]);
                    (slot, (1.0 + count.ln()) * idf)
                })
                .collect();
            let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                for (slot, w) in weighted.into_iter().filter_map(|(s, w)| Some((s?, w))) {
                    indices.push(slot);
                    values.push(w / norm);
                }
            }
            if is_words {
                words = indices.len();
            }
        }
        for (i, fired) in cues_of(text).into_iter().enumerate() {
            if fired {
                indices.push(self.cue_base() + i as u32);
                values.push(0.5);
            }
        }
        indices.push(self.bias_index());
        values.push(1.0);
        Features {
            indices: indices.into(),
            values: values.into(),
            words,
            embedding,
            embedding_base: self.embedding_base() as usize,
        }
    }

    /// The word n-grams and cues of `text` that weigh most for a class whose weights are
    /// `weights`, strongest first.
    #[cfg(test)]
    pub fn top_terms(&self, text: &str, weights: &[f32], limit: usize) -> Vec<Term> {
        let names = self.term_names(text);
        let weight = |i: u32| weights[i as usize];
        self.top_terms_of(&self.features(text, &[]), &names, weight, limit)
    }

    /// As [`Featurizer::top_terms`], from the text's features and names computed once for
    /// all the classes asked about.
    pub fn top_terms_of(
        &self,
        x: &Features,
        names: &TermNames,
        weight: impl Fn(u32) -> f32,
        limit: usize,
    ) -> Vec<Term> {
        let cues = self.cue_base()..self.embedding_base();
        let entries = x.indices.iter().zip(x.values.iter());
        let cue_entries = entries
            .clone()
            .skip(x.words)
            .filter(|(i, _)| cues.contains(i));
        let mut terms: Vec<(u32, f32)> = entries
            .take(x.words)
            .chain(cue_entries)
            .map(|(&i, &v)| (i, weight(i) * v))
            .filter(|&(_, weight)| weight > 0.0)
            .collect();
        terms.sort_by(|a, b| b.1.total_cmp(&a.1));
        terms.truncate(limit);
        // Named only now: a text has hundreds of terms, of which a few are shown. Each word
        // slot appears once among the features, so no two of these share a name.
        terms
            .into_iter()
            .filter_map(|(i, weight)| {
                let term = if cues.contains(&i) {
                    CUES[(i - cues.start) as usize].0.to_owned()
                } else {
                    names.spell(i)?
                };
                Some(Term { term, weight })
            })
            .collect()
    }

    /// The word n-grams of `text` with their slots, from which [`Featurizer::top_terms_of`]
    /// spells the few it shows.
    pub fn term_names(&self, text: &str) -> TermNames {
        let grams = word_grams(text);
        let slots = grams
            .buckets
            .iter()
            .map(|&b| self.slots[b as usize])
            .collect();
        TermNames { grams, slots }
    }
}

/// The word n-grams of a text and the slot of each ([`Featurizer::term_names`]); a gram is
/// spelled only when it is shown.
pub struct TermNames {
    grams: WordGrams,
    /// Gram `k`'s slot, or [`UNSEEN`].
    slots: Vec<u32>,
}

impl TermNames {
    /// The first of the text's word n-grams in `slot`.
    fn spell(&self, slot: u32) -> Option<String> {
        let k = self.slots.iter().position(|&s| s == slot)?;
        Some(self.grams.spell(k))
    }
}

/// Which cues fire in `text`: whether any of a cue's phrases occurs in the text's cue words
/// ([`cue_words`]), as whole words. One pass of an Aho-Corasick automaton over all the
/// phrases (each padded with a space on both sides, as the words are joined), where a search
/// per phrase read the text 68 times.
fn cues_of(text: &str) -> [bool; CUES.len()] {
    static PHRASES: LazyLock<(AhoCorasick, Vec<usize>)> = LazyLock::new(|| {
        let (patterns, cues): (Vec<String>, Vec<usize>) = CUES
            .iter()
            .enumerate()
            .flat_map(|(cue, (_, phrases))| phrases.iter().map(move |p| (format!(" {p} "), cue)))
            .unzip();
        let automaton = AhoCorasick::new(patterns).expect("the cue phrases build an automaton");
        (automaton, cues)
    });
    let (automaton, cue_of_pattern) = &*PHRASES;
    // Words joined by single spaces and padded, so " cannot " matches whole words only.
    let lower = format!(" {} ", cue_words(text).join(" "));
    let mut fired = [false; CUES.len()];
    // Overlapping: neighbouring phrases share the space between them.
    for found in automaton.find_overlapping_iter(&lower) {
        fired[cue_of_pattern[found.pattern().as_usize()]] = true;
    }
    fired
}

/// Lower-cased words as cues see them: apostrophes kept ("can't"), everything else splits.
fn cue_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Lower-cased words of two or more letters or digits (scikit-learn's default token pattern).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(1).is_some())
        .map(str::to_lowercase)
        .collect()
}

/// The word n-grams of a text, in order: its words, then each pair of neighbours.
struct WordGrams {
    words: Vec<String>,
    /// Each gram's bucket.
    buckets: Vec<u32>,
}

fn word_grams(text: &str) -> WordGrams {
    let words = words(text);
    let pairs = words.windows(2).map(|pair| pair_bucket(&pair[0], &pair[1]));
    let buckets = words.iter().map(|w| word_bucket(w)).chain(pairs).collect();
    WordGrams { words, buckets }
}

impl WordGrams {
    /// Gram `k`: a word, or past the words, the pair that starts at word `k - words`.
    fn spell(&self, k: usize) -> String {
        match self.words.get(k) {
            Some(word) => word.clone(),
            None => {
                let first = k - self.words.len();
                format!("{} {}", self.words[first], self.words[first + 1])
            }
        }
    }
}

fn grams(text: &str) -> Grams {
    let word_buckets = word_grams(text).buckets;
    let mut chars = Vec::new();
    let (mut padded, mut starts) = (String::new(), Vec::new());
    for word in text.split_whitespace() {
        padded.clear();
        padded.push(' ');
        padded.push_str(&word.to_lowercase());
        padded.push(' ');
        starts.clear();
        starts.extend(padded.char_indices().map(|(at, _)| at));
        starts.push(padded.len());
        let bytes = padded.as_bytes();
        let count = starts.len() - 1;
        // The grams that start at a character, each hashed from the one a character shorter:
        // FNV reads a string front to back, so the 5-gram's hash continues the 4-gram's.
        for first in 0..count {
            let mut h = Fnv::new(b'c');
            h.eat(&bytes[starts[first]..starts[first + 1]]);
            for last in first + 1..count.min(first + *CHAR_NGRAMS.end()) {
                h.eat(&bytes[starts[last]..starts[last + 1]]);
                if last - first + 1 >= *CHAR_NGRAMS.start() {
                    chars.push(h.bucket());
                }
            }
        }
    }
    Grams {
        words: counted(word_buckets),
        chars: counted(chars),
    }
}

/// Each distinct bucket of `buckets` with how often it occurs, in bucket order.
fn counted(mut buckets: Vec<u32>) -> Vec<(u32, f32)> {
    buckets.sort_unstable();
    let mut counts: Vec<(u32, f32)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match counts.last_mut() {
            Some((last, count)) if *last == b => *count += 1.0,
            _ => counts.push((b, 1.0)),
        }
    }
    counts
}

fn word_bucket(gram: &str) -> u32 {
    hash(b'w', gram)
}

/// [`word_bucket`] of the two words joined by a space, without joining them.
fn pair_bucket(first: &str, second: &str) -> u32 {
    let mut h = Fnv::new(b'w');
    h.eat(first.as_bytes());
    h.eat(b" ");
    h.eat(second.as_bytes());
    h.bucket()
}

/// FNV-1a: stable across runs and platforms, unlike the standard library's hasher.
fn hash(kind: u8, gram: &str) -> u32 {
    let mut h = Fnv::new(kind);
    h.eat(gram.as_bytes());
    h.bucket()
}

struct Fnv(u64);

impl Fnv {
    fn new(kind: u8) -> Self {
        let mut h = Self(0xcbf2_9ce4_8422_2325);
        h.eat(&[kind]);
        h
    }

    fn eat(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn bucket(&self) -> u32 {
        (self.0 % u64::from(BUCKETS)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_are_counted_in_bucket_order_so_each_blocks_slots_ascend() {
        assert_eq!(
            counted(vec![5, 3, 5, 9, 3, 5]),
            [(3, 2.0), (5, 3.0), (9, 1.0)]
        );
        let text = "VPN drops every hour; the VPN client says the tunnel is down";
        let f = Featurizer::fit([text, "printer jams on tray 2"], 0);
        let x = f.features(text, &[]);
        // The sparse entries before the cues: the words' block, then the characters'.
        let sparse: Vec<u32> = x
            .indices
            .iter()
            .copied()
            .filter(|&i| i < f.cue_base())
            .collect();
        let falls = sparse.windows(2).filter(|w| w[1] <= w[0]).count();
        assert!(falls <= 1, "two ascending blocks: {sparse:?}");
        assert_eq!(
            x.indices,
            f.features(text, &[]).indices,
            "the same every time"
        );
    }

    #[test]
    fn blocks_are_normalised_and_the_bias_is_last() {
        let f = Featurizer::fit(["vpn drops every hour", "printer jam"], 2);
        let x = f.features("VPN drops every hour", &[0.6, 0.8]);
        assert_eq!(*x.indices.last().unwrap(), f.dimension() as u32 - 1);
        // words block + chars block + embedding block + bias: each of norm 1 (every n-gram of
        // a training text has a slot).
        assert!(
            (x.squared_norm() - 4.0).abs() < 1e-4,
            "{}",
            x.squared_norm()
        );
    }

    #[test]
    fn rare_words_weigh_more_than_common_ones() {
        let f = Featurizer::fit(["the vpn", "the printer", "the screen"], 0);
        let idf = |word| f.idf[f.slot(word_bucket(word)).unwrap() as usize];
        assert!(idf("vpn") > idf("the"));
    }

    #[test]
    fn cues_fire_on_help_desk_phrases() {
        let f = Featurizer::fit(["x"], 0);
        let x = f.features("Payroll server is down, everyone blocked", &[]);
        let cues: Vec<u32> = x
            .indices
            .iter()
            .copied()
            .filter(|&i| i >= f.cue_base() && i < f.embedding_base())
            .collect();
        assert_eq!(cues.len(), 4, "outage, everyone, cannot-work, production");
    }

    #[test]
    fn top_terms_name_the_words_that_pushed_the_class() {
        let f = Featurizer::fit(["vpn drops", "printer jam"], 0);
        let mut weights = vec![0.0; f.dimension()];
        let slot = |word| f.slot(word_bucket(word)).unwrap() as usize;
        weights[slot("vpn")] = 2.0;
        weights[slot("drops")] = -1.0;
        let terms = f.top_terms("VPN drops again", &weights, 3);
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].term, "vpn");
    }

    #[test]
    fn top_terms_name_word_pairs_and_cues_but_not_character_grams() {
        let f = Featurizer::fit(["vpn drops", "printer jam"], 0);
        let mut weights = vec![0.0; f.dimension()];
        let pair = f.slot(pair_bucket("vpn", "drops")).unwrap() as usize;
        weights[pair] = 3.0;
        let x = f.features("VPN drops, outage", &[]);
        let cue = (f.cue_base()..f.embedding_base())
            .find(|&i| x.indices.contains(&i))
            .expect("the outage cue fires");
        weights[cue as usize] = 1.0;
        // A slot only a character n-gram of the text uses: weighed, never shown.
        let chars_only = x.indices[x.words..]
            .iter()
            .find(|&&i| i < f.cue_base() && !x.indices[..x.words].contains(&i))
            .expect("the text has character n-grams");
        weights[*chars_only as usize] = 10.0;
        let terms = f.top_terms("VPN drops, outage", &weights, 5);
        let names: Vec<&str> = terms.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(names, ["vpn drops", "cue:outage"]);
    }

    /// The n-grams as they were first written, string by string: the features a stored
    /// model was trained on, which the faster [`grams`] and [`cues_of`] must reproduce.
    fn grams_string_by_string(text: &str) -> Grams {
        let words = words(text);
        let mut buckets: Vec<u32> = words.iter().map(|w| word_bucket(w)).collect();
        buckets.extend(
            words
                .windows(2)
                .map(|pair| word_bucket(&format!("{} {}", pair[0], pair[1]))),
        );
        let mut chars = Vec::new();
        for word in text.split_whitespace() {
            let padded: Vec<char> = std::iter::once(' ')
                .chain(word.to_lowercase().chars())
                .chain(std::iter::once(' '))
                .collect();
            for n in CHAR_NGRAMS {
                chars.extend(
                    padded
                        .windows(n)
                        .map(|window| hash(b'c', &window.iter().collect::<String>())),
                );
            }
        }
        Grams {
            words: counted(buckets),
            chars: counted(chars),
        }
    }

    fn cues_phrase_by_phrase(text: &str) -> Vec<bool> {
        let lower = format!(" {} ", cue_words(text).join(" "));
        CUES.iter()
            .map(|(_, phrases)| phrases.iter().any(|p| lower.contains(&format!(" {p} "))))
            .collect()
    }

    #[test]
    fn grams_and_cues_are_those_of_the_string_by_string_reference() {
        for text in [
            "VPN drops every hour; the VPN client says the tunnel is down",
            "Grüße aus München: der Drucker funktioniert nicht, DRINGEND!",
            "ΣΊΣΥΦΟΣ can't log in — locked out, whole team blocked asap",
            "a",
            "",
            "  x  y\tz\n déjà-vu 日本語のテキスト end of day; not responding, not working",
        ] {
            let (fast, reference) = (grams(text), grams_string_by_string(text));
            assert_eq!(fast.words, reference.words, "{text:?}");
            assert_eq!(fast.chars, reference.chars, "{text:?}");
            assert_eq!(
                cues_of(text).to_vec(),
                cues_phrase_by_phrase(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn only_the_buckets_of_training_texts_get_slots() {
        let f = Featurizer::fit(["vpn drops", "printer jam"], 2);
        let x = f.features("vpn drops on the new laptop", &[0.6, 0.8]);
        // Every sparse index is a slot or a cue or the bias: never a raw bucket.
        assert!(x.indices.iter().all(|&i| (i as usize) < f.dimension()));
        assert!(f.dimension() < 200, "{}", f.dimension());
        assert!(f.slot(word_bucket("laptop")).is_none());
        // "laptop" has no weight but still counts in the words block's norm.
        let seen = f.features("vpn drops", &[]);
        let words = |x: &Features| x.values[0];
        assert!(words(&x) < words(&seen));
    }
}
