//! The real model against vectors computed by Python sentence-transformers
//! (tests/data/make_reference_embeddings.py), and batching that does not change results.

mod common;

use common::{cosine, real_embedder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let text = std::fs::read_to_string("tests/data/reference_embeddings.json").unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn vectors_match_sentence_transformers() {
    let reference = reference();
    assert_eq!(reference.max_seq_length, 256);
    let embedder = real_embedder();
    let mut lowest = f32::MAX;
    for sentence in &reference.sentences {
        let ours = embedder
            .embed(vec![sentence.text.clone()])
            .await
            .unwrap()
            .remove(0);
        assert_eq!(ours.len(), 384);
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
        let similarity = cosine(&ours, &sentence.embedding);
        lowest = lowest.min(similarity);
        assert!(
            similarity >= 0.9999,
            "cosine {similarity} for a {}-token text: {:.60}",
            sentence.tokens,
            sentence.text
        );
    }
    eprintln!("lowest cosine to sentence-transformers: {lowest:.7}");
    // The set covers texts past the tokenizer file's 128 and past the model's 256 tokens.
    assert!(reference
        .sentences
        .iter()
        .any(|s| s.tokens > 128 && s.tokens < 256));
    assert!(reference.sentences.iter().any(|s| s.tokens == 256));
}

#[tokio::test]
async fn a_batch_gives_the_same_vectors_as_one_by_one() {
    let texts: Vec<String> = reference().sentences.into_iter().map(|s| s.text).collect();
    let embedder = real_embedder();
    let together = embedder.embed(texts.clone()).await.unwrap();
    for (text, batched) in texts.iter().zip(&together) {
        let alone = embedder.embed(vec![text.clone()]).await.unwrap().remove(0);
        let similarity = cosine(&alone, batched);
        assert!(similarity > 0.9999, "cosine {similarity} for {text:.60}");
    }
}

#[tokio::test]
async fn related_tickets_are_closer_than_unrelated_ones() {
    let embedder = real_embedder();
    let v = embedder
        .embed(vec![
            "VPN disconnects every few minutes".into(),
            "My VPN connection keeps dropping".into(),
            "Please order a new ergonomic chair".into(),
        ])
        .await
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}
