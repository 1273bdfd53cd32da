//! Embedding throughput of the real model on the demo tickets, through the model thread as
//! the pipeline uses it (tokenize, length-sorted batches under the token budget, pool).
//! Run with `cargo bench --bench embedding`; criterion reports texts/s as "elem/s".

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl::read as read_jsonl;
use ticketlens::model::{self, BatchLimits};
use ticketlens::text;

fn demo_texts() -> Vec<String> {
    [
        "fixtures/demo/history.jsonl",
        "fixtures/demo/incoming.jsonl",
    ]
    .iter()
    .flat_map(|path| read_jsonl::<FixtureTicket>(Path::new(path)).expect("demo fixtures"))
    .filter_map(|t| {
        let subject = t.ticket.subject.as_deref().map(str::as_bytes);
        let body = t.ticket.body.as_deref().map(str::as_bytes);
        text::prepare(subject, body).ok().map(|p| p.text)
    })
    .collect()
}

fn embedding_throughput(c: &mut Criterion) {
    let texts = demo_texts();
    let embedder = model::start(
        Path::new("models/all-minilm-l6-v2.toml"),
        BatchLimits::default(),
        model::Compute::default(),
    )
    .expect("the model loads");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("embedding");
    group.sample_size(10);
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("demo tickets, one request", |b| {
        b.iter(|| runtime.block_on(embedder.embed(texts.clone())).unwrap())
    });
    group.finish();
}

criterion_group!(benches, embedding_throughput);
criterion_main!(benches);
