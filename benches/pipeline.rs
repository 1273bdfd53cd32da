//! The pipeline end to end (read from the store, embed, triage, suggest, write back) against
//! the encoder alone, on the same tickets: the share of the encoder's throughput a team gets
//! while tickets stream in.
//!
//! `cargo bench --bench pipeline` uses the demo's incoming tickets. `TICKETLENS_BENCH_INPUT`
//! names another file of tickets in the format of `../shared/data` (for example the 2,000-text
//! corpus `benches/side_by_side.py corpus` writes) and `TICKETLENS_BENCH_PRECISION=int8`
//! picks the encoder's precision. The store is a temporary SQLite database holding the demo's
//! history and articles, which the pipeline learns from before the timing starts; the timed
//! tickets then arrive as new incidents, 3 times (new ids each time, so nothing is cached),
//! and the median run is reported.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ticketlens::config::{PipelineConfig, StoreKind};
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl;
use ticketlens::model::{self, throughput, Compute, Precision};
use ticketlens::pipeline::{self, Pipeline};
use ticketlens::store::{NewArticle, NewTicket, Store};
use ticketlens::text::TicketText;

const RUNS: usize = 3;

// As the ticketlens binary allocates (src/main.rs says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let input = std::env::var_os("TICKETLENS_BENCH_INPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("fixtures/demo/incoming.jsonl"));
    let precision: Precision = std::env::var("TICKETLENS_BENCH_PRECISION")
        .unwrap_or_else(|_| "fp32".into())
        .parse()
        .expect("TICKETLENS_BENCH_PRECISION is fp32 or int8");
    let tickets: Vec<TicketText> = jsonl::read(&input).expect("the input tickets");
    let compute = Compute::new(precision);
    let config = bench_config(precision);

    // The encoder alone, as `ticketlens bench embed` measures it.
    let texts: Vec<String> = tickets.iter().filter_map(TicketText::prepared).collect();
    let encoder = model::load(&config.model.manifest, compute).expect("the model loads");
    let alone = throughput::measure(&encoder, compute, &texts, 32, RUNS).expect("embedding");
    drop(encoder);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seconds = runtime.block_on(pipeline_runs(config, &tickets));
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let through = tickets.len() as f64 / sorted[RUNS / 2];
    println!(
        "{} tickets from {}, {precision} ({} kernels)\n  encoder alone: {:.1} texts/s (runs {})\n  \
         pipeline:      {:.1} tickets/s (runs {})\n  the pipeline keeps {:.1}% of the encoder's throughput",
        tickets.len(),
        input.display(),
        compute.isa.name(),
        alone.texts_per_s,
        format_runs(&alone.runs),
        through,
        format_runs(&seconds),
        100.0 * through / alone.texts_per_s
    );
}

fn format_runs(seconds: &[f64]) -> String {
    let runs: Vec<String> = seconds.iter().map(|s| format!("{s:.2} s")).collect();
    runs.join(", ")
}

fn bench_config(precision: Precision) -> PipelineConfig {
    let mut config = PipelineConfig::load(Path::new("pipelines/demo.toml")).expect("demo.toml");
    config.store.kind = Some(StoreKind::Native);
    config.model.precision = precision;
    config
}

/// Seconds each run took to drain the tickets through the pipeline.
async fn pipeline_runs(mut config: PipelineConfig, tickets: &[TicketText]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    config.store.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&config.store.url).await.unwrap();
    let fixtures = Path::new("fixtures/demo");
    let articles: Vec<NewArticle> = jsonl::read(&fixtures.join("articles.jsonl")).unwrap();
    for article in &articles {
        store.insert_article(article).await.unwrap();
    }
    let history: Vec<FixtureTicket> = jsonl::read(&fixtures.join("history.jsonl")).unwrap();
    for t in &history {
        store.insert_ticket(&t.ticket).await.unwrap();
    }
    let embedder = pipeline::start_model(&config.model).await.unwrap();
    let mut pipeline = Pipeline::with_parts(config, store.clone(), embedder)
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap(); // learns the history: not timed

    let mut seconds = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        for t in tickets {
            store.insert_ticket(&incident(t)).await.unwrap();
        }
        let started = Instant::now();
        let report = pipeline.drain(|_| {}).await.unwrap();
        seconds.push(started.elapsed().as_secs_f64());
        assert_eq!(report.read, tickets.len(), "every ticket went through");
    }
    seconds
}

fn incident(t: &TicketText) -> NewTicket {
    NewTicket {
        id: None,
        subject: t.subject.clone(),
        body: t.body.clone(),
        requester: Some("bench@example.org".into()),
        kind: "incident".into(),
        status: "new".into(),
        category: None,
        urgency: None,
        impact: None,
        priority: None,
        resolution: None,
        created_at: chrono::Utc::now(),
        resolved_at: None,
    }
}
