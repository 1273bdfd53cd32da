//! Latency of one before-filing query against 10,000 published articles, as an end user
//! waits for it: embed the question on the model thread, search the article index (dense
//! similarity over title and body plus BM25), and record what was shown in the store.
//!
//! Article texts are 10,000 ticket texts of `../shared/data/itsm47k` (real vocabulary for
//! BM25); their vectors are random unit vectors, since the search does the same work whatever
//! the values and embedding 20,000 texts would make the bench take many minutes. Questions are
//! the subjects of the demo's incoming tickets. Prints median, p90 and p99 over 500 queries
//! after a warm-up. Run with `cargo bench --bench before_filing`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use support::unit_vector;
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl::read as read_jsonl;
use ticketlens::knowledge::{
    self, ArticleIndex, ArticleRef, Audience, IndexedArticle, Limits, Query, Sources, Words,
};
use ticketlens::model::{self, BatchLimits};
use ticketlens::store::Store;
use ticketlens::vectors::Scan;

const ARTICLES: usize = 10_000;
const QUERIES: usize = 500;
const DIMENSION: usize = 384;

#[derive(Deserialize)]
struct Line {
    body: Option<String>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let source = Path::new("../shared/data/itsm47k/tickets.jsonl");
    let lines: Vec<Line> = read_jsonl(source).expect("../shared/data/itsm47k beside the repo");
    let texts: Vec<String> = lines
        .into_iter()
        .filter_map(|l| l.body)
        .take(ARTICLES)
        .collect();
    let vectors: Vec<(Vec<f32>, Vec<f32>)> = (0..texts.len() as u64)
        .map(|i| {
            (
                unit_vector(2 * i, DIMENSION),
                unit_vector(2 * i + 1, DIMENSION),
            )
        })
        .collect();
    let articles = ArticleIndex::new(
        DIMENSION,
        texts
            .iter()
            .zip(&vectors)
            .enumerate()
            .map(|(i, (text, (v, t)))| IndexedArticle {
                article: ArticleRef {
                    id: i as i64 + 1,
                    title: text.chars().take(60).collect(),
                    public: i % 4 != 0,
                },
                vector: v,
                title_vector: t,
                text,
            }),
    );
    let empty = Scan::empty(); // end users are shown no tickets
    let sources = Sources {
        articles: &articles,
        resolved: &empty,
        open: &empty,
        words: Words::default(),
    };
    let limits = Limits {
        articles: 3,
        tickets: 0,
        min_similarity: 0.0,
        duplicate_similarity: 1.0,
    };
    let questions: Vec<String> =
        read_jsonl::<FixtureTicket>(Path::new("fixtures/demo/incoming.jsonl"))
            .expect("demo fixtures")
            .into_iter()
            .filter_map(|t| t.ticket.subject)
            .collect();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = runtime.block_on(Store::open(&url)).unwrap();
    let embedder = model::start(
        Path::new("models/all-minilm-l6-v2.toml"),
        BatchLimits::default(),
        model::Compute::default(),
    )
    .expect("the model loads");
    let ask = |question: &str| {
        runtime.block_on(async {
            let vector = embedder
                .embed(vec![question.to_owned()])
                .await
                .unwrap()
                .remove(0);
            let query = Query {
                text: question,
                vector: &vector,
            };
            let shown = knowledge::suggest(sources, query, limits, Audience::Public, None);
            let ids: Vec<i64> = shown.articles.iter().map(|a| a.id).collect();
            store
                .record_public_answer(question.len(), &ids, &[], None)
                .await
                .unwrap();
        })
    };
    for q in questions.iter().take(20) {
        ask(q); // warm-up: caches, allocator, model thread
    }
    let mut times: Vec<Duration> = (0..QUERIES)
        .map(|i| {
            let started = Instant::now();
            ask(&questions[i % questions.len()]);
            started.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "before filing, {} articles, {QUERIES} queries: median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        articles.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}
