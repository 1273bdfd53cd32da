//! Peak memory of `ticketlens run --once` on a store with a 100,000-ticket history: what the
//! machine of a team with a few years of tickets must hold.
//!
//! The history is made of the ticket texts, categories and resolutions of
//! `../shared/data/itsm47k` and `ata`, taken in turn until there are enough (default 100,000;
//! `TICKETLENS_BENCH_HISTORY=N` for another size), resolved over the last two years; 200 open
//! incidents from the demo wait to be triaged. Their vectors are cached in the store beforehand
//! as random unit vectors under the model's version: `run` then does all its work on the
//! history (indexes, training the classifiers, clustering, drafts) without spending the hour
//! that embedding 100,000 texts takes here; the memory is the same whatever the values. Prints
//! the peak resident set size of the `run` process (from the kernel's accounting of the
//! child) and its wall time. Run with `cargo bench --bench run_memory`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{Duration, Utc};
use serde::Deserialize;
use support::unit_vector;
use ticketlens::config::PipelineConfig;
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl;
use ticketlens::model::Manifest;
use ticketlens::pipeline::text_hash;
use ticketlens::store::{NewTicket, OwnerKind, Store};

/// Open incidents from the demo waiting to be triaged.
const OPEN: usize = 200;

#[derive(Deserialize)]
struct Labelled {
    subject: Option<String>,
    body: Option<String>,
    category: Option<String>,
    urgency: Option<String>,
    resolution: Option<String>,
}

fn main() {
    let size: usize = std::env::var("TICKETLENS_BENCH_HISTORY")
        .map(|v| v.parse().expect("TICKETLENS_BENCH_HISTORY is a number"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("history.db").display());
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(fill(&url, size));
    eprintln!(
        "store with {size} resolved and {OPEN} open tickets built in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let demo = std::fs::read_to_string("pipelines/demo.toml").unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    let demo_url = "sqlite://ticketlens-demo/ticketlens-demo.db";
    assert!(
        demo.contains(demo_url),
        "pipelines/demo.toml names its store"
    );
    std::fs::write(&pipeline, demo.replace(demo_url, &url)).unwrap();

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(["run", "--once", "--pipeline"])
        .arg(&pipeline)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ticketlens starts");
    let (status, peak_kib) = wait_with_peak(&mut child);
    assert!(status.success(), "ticketlens run failed: {status}");
    println!(
        "ticketlens run --once, {size}-ticket history, {OPEN} open tickets: peak RSS {:.0} MB, {:.1} s",
        peak_kib as f64 * 1024.0 / 1e6,
        started.elapsed().as_secs_f64()
    );
}

/// Waits for the child and returns its exit status with its peak resident set size in KiB.
fn wait_with_peak(child: &mut std::process::Child) -> (std::process::ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own unwaited child; both pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    (std::process::ExitStatus::from_raw(status), usage.ru_maxrss)
}

/// Builds the history and the open tickets.
async fn fill(url: &str, size: usize) {
    let store = Store::open(url).await.unwrap();
    // The version `run` will look vectors up under: the demo pipeline's model and precision.
    let model = PipelineConfig::load(Path::new("pipelines/demo.toml"))
        .unwrap()
        .model;
    let manifest = Manifest::load(&model.manifest).unwrap();
    let version = manifest.version_for(model.precision);
    let data = Path::new("../shared/data");
    let mut sets: Vec<Labelled> = jsonl::read(&data.join("itsm47k/tickets.jsonl")).unwrap();
    sets.extend(jsonl::read::<Labelled>(&data.join("ata/tickets.jsonl")).unwrap());
    let now = Utc::now();
    let dimension = manifest.dimension;
    let mut cached = Vec::new();
    for (i, t) in sets.iter().cycle().take(size).enumerate() {
        let created = now - Duration::minutes((size - i) as i64 * 2 * 365 * 24 * 60 / size as i64);
        let ticket = NewTicket {
            id: None,
            subject: t.subject.clone(),
            body: t.body.clone(),
            requester: Some(format!("user{}@example.org", i % 997)),
            kind: "incident".into(),
            status: "resolved".into(),
            category: t.category.clone(),
            urgency: t.urgency.clone(),
            impact: None,
            priority: None,
            resolution: Some(t.resolution.clone().unwrap_or_else(|| "Fixed.".into())),
            created_at: created,
            resolved_at: Some(created + Duration::hours(4)),
        };
        let id = store.insert_ticket(&ticket).await.unwrap();
        cached.push((id, ticket));
        if cached.len() == 1000 {
            cache_vectors(&store, &version, &cached, dimension).await;
            cached.clear();
        }
    }
    cache_vectors(&store, &version, &cached, dimension).await;
    let incoming: Vec<FixtureTicket> =
        jsonl::read(Path::new("fixtures/demo/incoming.jsonl")).unwrap();
    for t in incoming.iter().cycle().take(OPEN) {
        let mut ticket = t.ticket.clone();
        (ticket.status, ticket.created_at, ticket.resolved_at) = ("new".into(), now, None);
        ticket.id = None;
        store.insert_ticket(&ticket).await.unwrap();
    }
}

/// Caches a vector for each ticket's text and resolution, as the pipeline would have.
async fn cache_vectors(
    store: &Store,
    version: &str,
    tickets: &[(i64, NewTicket)],
    dimension: usize,
) {
    let mut texts = Vec::new();
    let mut resolutions = Vec::new();
    for (id, t) in tickets {
        let (s, b) = (t.subject.as_deref(), t.body.as_deref());
        if let Ok(p) = ticketlens::text::prepare(s.map(str::as_bytes), b.map(str::as_bytes)) {
            texts.push((*id, text_hash(&p.text), unit_vector(*id as u64, dimension)));
        }
        let resolution = t.resolution.as_deref().unwrap_or_default();
        resolutions.push((
            *id,
            text_hash(resolution),
            unit_vector(!(*id as u64), dimension),
        ));
    }
    for (kind, entries) in [
        (OwnerKind::Ticket, texts),
        (OwnerKind::Resolution, resolutions),
    ] {
        let refs: Vec<(i64, String, &[f32])> = entries
            .iter()
            .map(|(id, hash, v)| (*id, hash.clone(), v.as_slice()))
            .collect();
        store.cache_embeddings(kind, version, &refs).await.unwrap();
    }
}
