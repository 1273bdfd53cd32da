//! `ticketlens demo`: a fresh SQLite store built from `fixtures/demo`, its history loaded, and
//! the incoming tickets streamed through the same pipeline code `run` uses, in waves as a help
//! desk would receive them.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::PipelineConfig;
use crate::jsonl::{self, JsonlError};
use crate::pipeline::{self, Pipeline, PipelineError};
use crate::store::{FieldTallies, NewArticle, NewTicket, Store, StoreError};

/// Where the demo reads and writes.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder of the demo database (`ticketlens-demo.db`).
    pub data_dir: PathBuf,
    /// Folder with `history.jsonl`, `incoming.jsonl` and `articles.jsonl`.
    pub fixtures: PathBuf,
    /// Pipeline file whose settings the demo uses (its store URL is replaced).
    pub pipeline: PathBuf,
    /// Replace an existing demo database.
    pub force: bool,
    /// Incoming tickets that arrive together before the pipeline drains the store.
    pub wave: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error(transparent)]
    Fixture(#[from] JsonlError),
    #[error("cannot create {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl From<StoreError> for DemoError {
    fn from(e: StoreError) -> Self {
        DemoError::Pipeline(e.into())
    }
}

/// A fixture ticket: a ticket plus the planted pattern it belongs to, if any.
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureTicket {
    #[serde(flatten)]
    pub ticket: NewTicket,
    /// Id of the recurring incident pattern (the data sets' `group`).
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemSummary {
    pub id: i64,
    pub title: String,
    pub size: usize,
    pub requesters: usize,
    pub keywords: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Recent daily rate over the earlier one (above 1: rising).
    pub trend: f32,
}

/// What the demo did; counts are over the incoming tickets.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub database: PathBuf,
    pub history: usize,
    pub articles: usize,
    pub incoming: usize,
    pub triaged: usize,
    pub applied: usize,
    pub needs_review: usize,
    pub skipped: usize,
    /// Per field, over the triaged (not skipped) incoming tickets: applied, kept, to review.
    pub fields: FieldTallies,
    /// The precision a class must have shown on held-out history before it is applied.
    pub target_precision: f64,
    pub suggestions: usize,
    pub problems: Vec<ProblemSummary>,
    /// Draft articles written for recurring fixes no article covers.
    pub drafts: Vec<DraftSummary>,
    pub model_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DraftSummary {
    pub id: i64,
    pub title: String,
    pub sources: usize,
}

/// Moves every timestamp by the same amount so that the last incoming ticket arrives now:
/// the clustering window is relative to the present.
fn shift_to_now(history: &mut [FixtureTicket], incoming: &mut [FixtureTicket]) {
    let Some(latest) = incoming
        .iter()
        .chain(history.iter())
        .map(|t| t.ticket.created_at)
        .max()
    else {
        return;
    };
    let offset = Utc::now() - latest;
    for t in history.iter_mut().chain(incoming.iter_mut()) {
        t.ticket.created_at += offset;
        t.ticket.resolved_at = t.ticket.resolved_at.map(|r| r + offset);
    }
}

pub async fn run(options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    let database = options.data_dir.join("ticketlens-demo.db");
    if database.exists() {
        if !options.force {
            return Err(DemoError::Exists(database));
        }
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", database.display()));
            let _ = std::fs::remove_file(path);
        }
    }
    let fixture = |name: &str| options.fixtures.join(name);
    let mut history: Vec<FixtureTicket> = jsonl::read(&fixture("history.jsonl"))?;
    let mut incoming: Vec<FixtureTicket> = jsonl::read(&fixture("incoming.jsonl"))?;
    let articles: Vec<NewArticle> = jsonl::read(&fixture("articles.jsonl"))?;
    shift_to_now(&mut history, &mut incoming);

    std::fs::create_dir_all(&options.data_dir).map_err(|source| DemoError::DataDir {
        path: options.data_dir.clone(),
        source,
    })?;
    let mut config = PipelineConfig::load(&options.pipeline).map_err(PipelineError::from)?;
    config.store.url = format!("sqlite://{}", database.display());
    config.system = crate::systems::SystemConfig::default();
    let store = Store::open(&config.store.url).await?;
    for article in &articles {
        store.insert_article(article).await?;
    }
    for t in &history {
        store.insert_ticket(&t.ticket).await?;
    }

    let target_precision = config.triage.target_precision;
    let embedder = pipeline::start_model(&config.model)
        .await
        .map_err(PipelineError::from)?;
    let mut pipeline = Pipeline::with_parts(config, store.clone(), embedder).await?;
    // Open tickets of the history are the backlog a first run finds.
    pipeline.drain(|_| {}).await?;

    let bar = crate::progress::bar(incoming.len() as u64, "streaming incoming");
    let mut incoming_ids = Vec::with_capacity(incoming.len());
    for wave in incoming.chunks(options.wave.max(1)) {
        for t in wave {
            incoming_ids.push(store.insert_ticket(&t.ticket).await?);
        }
        pipeline.drain(|_| {}).await?;
        bar.inc(wave.len() as u64);
    }
    bar.finish_and_clear();

    let problems = pipeline
        .detect_problems()
        .await?
        .into_iter()
        .map(|(id, c)| ProblemSummary {
            id,
            title: c.title,
            size: c.members.len(),
            requesters: c.requesters,
            trend: c.activity.trend(),
            keywords: c.keywords,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
        })
        .collect();
    pipeline.draft_articles().await?;
    let drafts = store
        .drafts()
        .await?
        .into_iter()
        .map(|d| DraftSummary {
            id: d.id,
            title: d.title,
            sources: d.sources.len(),
        })
        .collect();
    let counts = store
        .triage_counts(&incoming_ids, pipeline.version())
        .await?;
    Ok(DemoSummary {
        database,
        history: history.len(),
        articles: articles.len(),
        incoming: incoming.len(),
        triaged: counts.triaged,
        applied: counts.applied,
        needs_review: counts.needs_review,
        skipped: counts.skipped,
        fields: counts.fields,
        target_precision,
        suggestions: counts.suggestions,
        problems,
        drafts,
        model_version: pipeline.version().to_owned(),
    })
}
