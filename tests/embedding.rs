//! The real model against vectors computed by Python sentence-transformers
//! (tests/data/make_reference_embeddings.py), and batching that does not change results.

mod common;

use common::{cosine, real_embedder, real_embedder_computing};
use serde::Deserialize;
use ticketlens::kernels::Isa;
use ticketlens::model::{Compute, Embedder, Precision};

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

/// Embeds every reference sentence alone and returns the lowest cosine to the reference,
/// failing on the first below `least`.
async fn lowest_cosine_to_reference(embedder: &Embedder, least: f32) -> f32 {
    let reference = reference();
    assert_eq!(reference.max_seq_length, 256);
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
            similarity >= least,
            "cosine {similarity} for a {}-token text: {:.60}",
            sentence.tokens,
            sentence.text
        );
    }
    lowest
}

#[tokio::test]
async fn vectors_match_sentence_transformers() {
    let lowest = lowest_cosine_to_reference(&real_embedder(), 0.9999).await;
    eprintln!("lowest cosine to sentence-transformers: {lowest:.7}");
    // The set covers texts past the tokenizer file's 128 and past the model's 256 tokens.
    let reference = reference();
    assert!(reference
        .sentences
        .iter()
        .any(|s| s.tokens > 128 && s.tokens < 256));
    assert!(reference.sentences.iter().any(|s| s.tokens == 256));
}

/// What a CPU without AVX2 or AVX-512 (or an aarch64) runs.
#[tokio::test]
async fn the_portable_kernels_give_the_same_vectors() {
    let portable = Compute {
        precision: Precision::Fp32,
        isa: Isa::portable(),
    };
    let lowest = lowest_cosine_to_reference(&real_embedder_computing(portable), 0.9999).await;
    eprintln!("portable kernels, lowest cosine to sentence-transformers: {lowest:.7}");
}

/// Where the CPU has AMX, fp32's products run on its tiles as three bf16 products each: the
/// vectors must be the plain fp32 products' to far within the reference's tolerance.
#[tokio::test]
async fn fp32_vectors_are_the_same_with_the_detected_kernels_as_with_the_portable_ones() {
    let texts: Vec<String> = reference().sentences.into_iter().map(|s| s.text).collect();
    let mut vectors = Vec::new();
    for isa in [Isa::detect(), Isa::portable()] {
        let fp32 = real_embedder_computing(Compute {
            precision: Precision::Fp32,
            isa,
        });
        vectors.push(fp32.embed(texts.clone()).await.unwrap());
    }
    let lowest = vectors[0]
        .iter()
        .zip(&vectors[1])
        .map(|(a, b)| cosine(a, b))
        .fold(f32::MAX, f32::min);
    eprintln!(
        "fp32 on {} against portable: lowest cosine {lowest:.7}",
        Isa::detect().name()
    );
    assert!(lowest > 0.99999, "{lowest}");
}

#[tokio::test]
async fn int8_vectors_stay_close_to_the_reference_on_every_kernel() {
    let texts: Vec<String> = reference().sentences.into_iter().map(|s| s.text).collect();
    let mut vectors = Vec::new();
    for isa in [Isa::detect(), Isa::portable()] {
        let int8 = real_embedder_computing(Compute {
            precision: Precision::Int8,
            isa,
        });
        assert!(int8.version().ends_with("+int8"), "{}", int8.version());
        let lowest = lowest_cosine_to_reference(&int8, 0.99).await;
        eprintln!(
            "int8 on {}: lowest cosine to sentence-transformers {lowest:.5}",
            isa.name()
        );
        vectors.push(int8.embed(texts.clone()).await.unwrap());
    }
    // Integer sums are exact on every kernel; only the float steps may round differently.
    for (a, b) in vectors[0].iter().zip(&vectors[1]) {
        assert!(cosine(a, b) > 0.9999, "{}", cosine(a, b));
    }
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

#[test]
fn an_empty_sequence_in_a_batch_gets_a_vector_and_spoils_nothing() {
    use ticketlens::model::Encoder;
    let encoder =
        ticketlens::model::load(std::path::Path::new(common::MANIFEST), Compute::default())
            .unwrap();
    let ids = encoder.tokenize("VPN drops every hour").unwrap();
    let vectors = encoder.encode(&[&ids, &[]]).unwrap();
    let alone = encoder.encode(&[&ids]).unwrap();
    assert_eq!(vectors.len(), 2);
    assert!(
        vectors[1].iter().all(|x| *x == 0.0),
        "nothing to average: zeros"
    );
    assert!(cosine(&vectors[0], &alone[0]) > 0.9999);
}
