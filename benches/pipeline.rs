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
//! each run right after a run of the encoder alone, and the median of the 3 ratios is
//! reported.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ticketlens::config::{PipelineConfig, StoreKind};
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl;
use ticketlens::model::throughput::{self, median};
use ticketlens::model::{self, Compute, Precision};
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

    // The encoder alone, as `ticketlens bench embed` measures it, and the pipeline take turns
    // (alone, pipeline, alone, …): this machine's speed drifts over minutes, and figures taken
    // one block after the other measured the drift as much as the pipeline.
    let texts: Vec<String> = tickets.iter().filter_map(TicketText::prepared).collect();
    let encoder = model::load(&config.model.manifest, compute).expect("the model loads");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut pipeline = runtime.block_on(Bench::start(config));
    let (mut alone, mut through) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let run = throughput::measure(&encoder, compute, &texts, 32, 1).expect("embedding");
        alone.push(run.runs[0]);
        through.push(runtime.block_on(pipeline.run(&tickets)));
    }
    let ratios: Vec<f64> = alone.iter().zip(&through).map(|(a, p)| a / p).collect();
    println!(
        "{} tickets from {}, {precision} ({} kernels), {RUNS} rounds of encoder alone then pipeline\n  \
         encoder alone: {:.1} texts/s (runs {})\n  \
         pipeline:      {:.1} tickets/s (runs {})\n  \
         the pipeline keeps {:.1}% of the encoder's throughput (median of the rounds; rounds {})",
        tickets.len(),
        input.display(),
        compute.isa.name(),
        texts.len() as f64 / median(&alone),
        format_runs(&alone),
        tickets.len() as f64 / median(&through),
        format_runs(&through),
        100.0 * median(&ratios),
        ratios
            .iter()
            .map(|r| format!("{:.1}%", 100.0 * r))
            .collect::<Vec<_>>()
            .join(", "),
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

/// A pipeline that has learned the demo's history, in a temporary store.
struct Bench {
    pipeline: Pipeline,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start(mut config: PipelineConfig) -> Self {
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
        let mut pipeline = Pipeline::with_parts(config, store, embedder).await.unwrap();
        pipeline.drain(|_| {}).await.unwrap(); // learns the history: not timed
        Self {
            pipeline,
            _dir: dir,
        }
    }

    /// Seconds the pipeline took to drain `tickets`, arriving as new incidents (new ids each
    /// run, so nothing is cached).
    async fn run(&mut self, tickets: &[TicketText]) -> f64 {
        for t in tickets {
            let store = self.pipeline.store();
            store.insert_ticket(&incident(t)).await.unwrap();
        }
        let started = Instant::now();
        let report = self.pipeline.drain(|_| {}).await.unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(report.read, tickets.len(), "every ticket went through");
        seconds
    }
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
