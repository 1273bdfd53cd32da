//! The passage of an article that answers a question, shown under the article's title before
//! filing so that a person sees why it was offered without opening it.
//!
//! The pick is lexical: the question's words, each weighted by how rare it is among the
//! article's own passages (a word in every step says nothing about which step). Embedding every
//! passage per request would cost the model's time on two cores for each keystroke pause, and
//! caching passage embeddings would mean a second index to keep in step with the articles; the
//! article itself was already chosen by meaning, so words are enough to find the place in it.

use std::collections::HashSet;

use crate::problems::terms;

/// Longest passage shown, in characters: a few lines under a title.
pub const MAX_PASSAGE_CHARS: usize = 300;

/// A passage shorter than this is a heading or a list number: the next one is added to it.
const MIN_PASSAGE_CHARS: usize = 80;

/// The passage of `body` that best matches `question`, at most [`MAX_PASSAGE_CHARS`] long, cut
/// at a word. Where no word is shared, the article's opening (what the article is about, which
/// the embedding matched as a whole); `None` for an empty body.
pub fn best_passage(body: &str, question: &str) -> Option<String> {
    let passages = split(body);
    let words: Vec<HashSet<String>> = passages
        .iter()
        .map(|p| terms(p).into_iter().collect())
        .collect();
    let asked: HashSet<String> = terms(question).into_iter().collect();
    let n = passages.len() as f32;
    let weight = |term: &String| {
        let df = words.iter().filter(|w| w.contains(term)).count() as f32;
        (1.0 + n / df).ln()
    };
    let scores: Vec<f32> = words
        .iter()
        .map(|w| asked.iter().filter(|t| w.contains(*t)).map(weight).sum())
        .collect();
    // The first of the best: an article's earlier steps come first for a reason.
    let best = scores
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f32)>, (i, &s)| match best {
            Some((_, top)) if top >= s => best,
            _ => Some((i, s)),
        })?
        .0;
    let mut text = passages[best].clone();
    for next in &passages[best + 1..] {
        if text.chars().count() >= MIN_PASSAGE_CHARS {
            break;
        }
        text.push(' ');
        text.push_str(next);
    }
    Some(cut(&text, MAX_PASSAGE_CHARS))
}

/// Lines, then sentences within them, with their whitespace collapsed.
fn split(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in body.lines() {
        let mut sentence = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            sentence.push(c);
            let ends =
                matches!(c, '.' | '!' | '?') && chars.peek().is_some_and(|n| n.is_whitespace());
            // "1." opens a numbered step; it does not end a sentence.
            let number = sentence
                .trim()
                .trim_end_matches('.')
                .chars()
                .all(|c| c.is_ascii_digit());
            if ends && !number {
                push_passage(&mut out, &sentence);
                sentence.clear();
            }
        }
        push_passage(&mut out, &sentence);
    }
    out
}

fn push_passage(out: &mut Vec<String>, text: &str) {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        out.push(text);
    }
}

/// `text` cut to at most `max` characters at a word, with an ellipsis where it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max - 1).collect();
    let end = head.rfind(char::is_whitespace).unwrap_or(head.len());
    let kept = head[..end].trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "If you have forgotten your password, reset it yourself.\n\n\
        1. Open the password portal.\n\
        2. Choose how to verify yourself: a code to your mobile, or an approval in the \
        Authenticator app. If the approval never arrives, check that notifications are on.\n\
        3. Choose a new password.";

    #[test]
    fn picks_the_passage_sharing_the_rarest_words() {
        let p = best_passage(BODY, "the authenticator approval never arrives").unwrap();
        assert!(p.starts_with("If the approval never arrives"), "{p}");
        // A list number is not a passage of its own.
        let p = best_passage(BODY, "where is the portal").unwrap();
        assert!(p.starts_with("1. Open the password portal."), "{p}");
    }

    #[test]
    fn no_shared_word_gives_the_opening_and_nothing_gives_none() {
        let p = best_passage(BODY, "zebra").unwrap();
        assert!(p.starts_with("If you have forgotten"), "{p}");
        assert_eq!(best_passage(" \n ", "password"), None);
    }

    #[test]
    fn long_passages_are_cut_at_a_word() {
        let long = "word ".repeat(200);
        let p = best_passage(&long, "word").unwrap();
        assert!(
            p.chars().count() <= MAX_PASSAGE_CHARS,
            "{}",
            p.chars().count()
        );
        assert!(p.ends_with("word…"), "{p}");
        let short = best_passage("Short. Answer here.", "answer").unwrap();
        assert_eq!(short, "Answer here.");
    }
}
