//! Training time of the triage classifiers on 30,000 labelled tickets: the real texts and
//! categories of `../shared/data/itsm47k` (28,700 tickets, topped up to 30,000 by repeating the
//! first ones), everything `Classifier::train` does (features, the regularisation grid with
//! 5-fold cross-validation, calibration, thresholds, the final model). Embeddings are random
//! unit vectors: training time depends on their size, not their values, and embedding 30k
//! texts is the embedding bench's business. Run with `cargo bench --bench training`.
//!
//! Beside it, the time to classify one ticket (features, scores of every class, calibration
//! and the terms that explain the label), as the pipeline does for each incoming ticket: a
//! classifier trained on the first 5,000 tickets classifies the next 1,000.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use serde::Deserialize;
use ticketlens::jsonl::read as read_jsonl;
use ticketlens::triage::{Classifier, Example, TrainSettings};

const DATA: &str = "../shared/data/itsm47k/tickets.jsonl";
const TICKETS: usize = 30_000;
const DIMENSION: usize = 384;

#[derive(Deserialize)]
struct Line {
    body: Option<String>,
    category: Option<String>,
}

fn examples() -> Vec<Example> {
    let lines: Vec<Line> =
        read_jsonl(Path::new(DATA)).unwrap_or_else(|e| panic!("this bench reads {DATA}: {e}"));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    lines
        .iter()
        .cycle()
        .take(TICKETS)
        .enumerate()
        .map(|(i, line)| {
            let mut embedding: Vec<f32> = (0..DIMENSION).map(|_| random()).collect();
            let norm = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
            embedding.iter_mut().for_each(|v| *v /= norm);
            Example {
                ticket_id: i as i64,
                text: line.body.clone().unwrap_or_default(),
                embedding,
                category: line.category.clone(),
                urgency: None,
            }
        })
        .collect()
}

fn training_time(c: &mut Criterion) {
    let examples = examples();
    let settings = TrainSettings::default();
    let mut group = c.benchmark_group("triage");
    group.sample_size(10);
    group.bench_function("train 30k tickets", |b| {
        b.iter(|| Classifier::train(&examples, &settings))
    });
    group.finish();
}

fn classify_time(c: &mut Criterion) {
    let examples = examples();
    let (seen, unseen) = examples.split_at(5_000);
    let unseen = &unseen[..1_000];
    let classifier = Classifier::train(seen, &TrainSettings::default());
    let mut group = c.benchmark_group("triage");
    group.bench_function("classify 1,000 tickets", |b| {
        b.iter(|| {
            for e in unseen {
                std::hint::black_box(classifier.classify(&e.text, &e.embedding));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, training_time, classify_time);
criterion_main!(benches);
