//! The pipeline end to end (read from the store, embed, triage, suggest, write back) against
//! the encoder alone, on the same tickets: the share of the encoder's throughput a team gets
//! while tickets stream in.
//!
//! `cargo bench --bench pipeline` uses the demo's incoming tickets. `TICKETLENS_BENCH_INPUT`
//! names another file of tickets in the format of `../shared/data` (for example the 2,000-text
//! corpus `benches/side_by_side.py corpus` writes) and `TICKETLENS_BENCH_PRECISION=int8`
//! picks the encoder's precision. Each round, a fresh temporary SQLite store gets the demo's
//! history and articles, which a pipeline learns from before the timing starts; the timed
//! tickets then arrive as new incidents, right after a run of the encoder alone. Every round
//! meets the same store: in one store kept from round to round, each round's tickets stayed
//! open, and the next round's scans of the open tickets grew with them. There are 3 rounds
//! (`TICKETLENS_BENCH_ROUNDS` sets how many: a noisy host needs more), all on one model
//! thread, and the median of the ratios is reported, with the share of the pipeline's time
//! the model spent in forward passes and the CPU per ticket of each thread while the pipeline
//! drains (the model's against the rest: on a machine whose cores the model fills, the rest is
//! what the pipeline loses; the tickets' arrival, one insert each, is not counted).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ticketlens::config::PipelineConfig;
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl;
use ticketlens::model::throughput::{self, median};
use ticketlens::model::{self, Compute, Embedder, Precision};
use ticketlens::pipeline::{self, Pipeline};
use ticketlens::store::{NewArticle, NewTicket, Store};
use ticketlens::systems::SystemConfig;
use ticketlens::text::TicketText;

/// Rounds of (encoder alone, pipeline) where `TICKETLENS_BENCH_ROUNDS` does not say.
const ROUNDS: usize = 3;

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
    let rounds: usize = std::env::var("TICKETLENS_BENCH_ROUNDS")
        .map(|r| {
            r.parse()
                .expect("TICKETLENS_BENCH_ROUNDS is a whole number")
        })
        .unwrap_or(ROUNDS)
        .max(1);
    let tickets: Vec<TicketText> = jsonl::read(&input).expect("the input tickets");
    let compute = Compute::new(precision);
    let config = bench_config(precision);

    // The encoder alone, as `ticketlens bench embed` measures it, and the pipeline take turns
    // (alone, pipeline, alone, …): this machine's speed drifts over minutes, and figures taken
    // one block after the other measured the drift as much as the pipeline.
    let texts: Vec<String> = tickets.iter().filter_map(TicketText::prepared).collect();
    let encoder = model::load(&config.model.manifest, compute).expect("the model loads");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let model = runtime.block_on(Model::start(&config));
    let (mut alone, mut through) = (Vec::new(), Vec::new());
    let (mut cpu, mut busy) = (ThreadCpu::default(), Vec::new());
    for _ in 0..rounds {
        let mut pipeline = runtime.block_on(Bench::start(config.clone(), &model));
        let run = throughput::measure(&encoder, compute, &texts, 32, 1).expect("embedding");
        alone.push(run.runs[0]);
        runtime.block_on(pipeline.arrive(&tickets));
        let (before, forward_before) = (ThreadCpu::now(), model.forward_seconds());
        let seconds = runtime.block_on(pipeline.drain(tickets.len()));
        cpu.add_since(&before);
        through.push(seconds);
        busy.push((model.forward_seconds() - forward_before) / seconds);
    }
    let ratios: Vec<f64> = alone.iter().zip(&through).map(|(a, p)| a / p).collect();
    println!(
        "{} tickets from {}, {precision} ({} kernels), {rounds} rounds of encoder alone then pipeline\n  \
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
    println!(
        "  the model was in forward passes for {:.1}% of the pipeline's time (median)",
        100.0 * median(&busy)
    );
    if let Some(report) = cpu.report(rounds * tickets.len()) {
        println!("  CPU per ticket through the pipeline, by thread: {report}");
    }
}

/// CPU seconds per thread name (Linux: /proc/self/task), summed over the pipeline's runs: what
/// the encoder's threads spent against the rest of the pipeline (the async runtime, the
/// store's driver), which on a machine whose cores the encoder fills is what it loses.
/// Keyed by (name, thread id); a thread that ends within a run is not counted.
#[derive(Default)]
struct ThreadCpu(std::collections::BTreeMap<(String, String), f64>);

impl ThreadCpu {
    /// Every live thread's CPU time so far (empty where /proc is not there).
    fn now() -> Self {
        // SAFETY: sysconf only reads a constant of the system.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let mut threads = std::collections::BTreeMap::new();
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // "tid (comm) state …": utime and stime are the 12th and 13th fields after comm.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            let time = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            if let (Some(user), Some(system)) = (time(11), time(12)) {
                let key = (
                    stat[open + 1..close].to_owned(),
                    stat[..open].trim().to_owned(),
                );
                threads.insert(key, (user + system) / ticks);
            }
        }
        Self(threads)
    }

    fn add_since(&mut self, before: &Self) {
        for (key, seconds) in Self::now().0 {
            let spent = seconds - before.0.get(&key).copied().unwrap_or(0.0);
            *self.0.entry(key).or_default() += spent;
        }
    }

    /// "name 1.23 ms, …" per ticket, the busiest first.
    fn report(&self, tickets: usize) -> Option<String> {
        let mut by_name = std::collections::BTreeMap::<&str, f64>::new();
        for ((name, _), seconds) in &self.0 {
            *by_name.entry(name).or_default() += seconds;
        }
        let mut threads: Vec<(&str, f64)> = by_name.into_iter().filter(|&(_, s)| s > 0.0).collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        let parts: Vec<String> = threads
            .iter()
            .map(|(name, s)| format!("{name} {:.2} ms", 1000.0 * s / tickets as f64))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn format_runs(seconds: &[f64]) -> String {
    let runs: Vec<String> = seconds.iter().map(|s| format!("{s:.2} s")).collect();
    runs.join(", ")
}

fn bench_config(precision: Precision) -> PipelineConfig {
    let mut config = PipelineConfig::load(Path::new("pipelines/demo.toml")).expect("demo.toml");
    config.system = SystemConfig::default();
    config.model.precision = precision;
    config
}

/// The pipeline's model thread, shared by the rounds' pipelines.
struct Model {
    embedder: Embedder,
    /// Nanoseconds the model has spent in forward passes.
    busy: Arc<AtomicU64>,
}

impl Model {
    async fn start(config: &PipelineConfig) -> Self {
        let embedder = pipeline::start_model(&config.model).await.unwrap();
        let busy = Arc::new(AtomicU64::new(0));
        let counter = busy.clone();
        embedder.observe(Arc::new(move |_, took| {
            counter.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        }));
        Self { embedder, busy }
    }

    /// Seconds the model has spent in forward passes so far.
    fn forward_seconds(&self) -> f64 {
        self.busy.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// A pipeline that has learned the demo's history, in a temporary store.
struct Bench {
    pipeline: Pipeline,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start(mut config: PipelineConfig, model: &Model) -> Self {
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
        let embedder = model.embedder.clone();
        let mut pipeline = Pipeline::with_parts(config, store, embedder).await.unwrap();
        pipeline.drain(|_| {}).await.unwrap(); // learns the history: not timed
        Self {
            pipeline,
            _dir: dir,
        }
    }

    /// Files `tickets` as new incidents.
    async fn arrive(&mut self, tickets: &[TicketText]) {
        for t in tickets {
            let store = self.pipeline.store();
            store.insert_ticket(&incident(t)).await.unwrap();
        }
    }

    /// Seconds the pipeline took to drain the `count` tickets that arrived.
    async fn drain(&mut self, count: usize) -> f64 {
        let started = Instant::now();
        let report = self.pipeline.drain(|_| {}).await.unwrap();
        assert_eq!(report.read, count, "every ticket went through");
        started.elapsed().as_secs_f64()
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
