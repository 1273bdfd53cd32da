//! The pipeline: source → embed → triage and suggest → write-back, and the periodic
//! clustering pass. A batch is taken from the store's change stream after the persisted cursor,
//! and its results and the new cursor are written in one transaction: a crash replays the
//! batch (results are keyed by ticket and model version, so a replay overwrites), it never
//! loses or duplicates one.

mod cache;
mod gaps;
mod judge;
mod known_issues;
mod public;
mod similar;
mod writeback;

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::watch;

pub use cache::{embed_cached, text_hash};
use cache::{Ahead, Speculation};
use judge::Judgement;
pub use known_issues::KnownIssue;
pub use public::{PublicAnswer, PublicArticle};
use similar::TicketWords;

use crate::config::{ConfigError, ModelConfig, PipelineConfig};
use crate::domain::{PredictedField, TriageOutcome};
use crate::knowledge::{
    self, ArticleIndex, ArticleRef, Audience, IndexedArticle, Query, Suggestions, TfIdf,
};
use crate::model::{self, BatchLimits, EmbedError, Embedder, ModelError};
use crate::problems::{self, ClusterSettings, KnownProblem, ProblemError, WindowIncident};
use crate::store::{
    Backend, BatchWriter, Claim, ClassifierRecord, FieldTallies, OwnerKind, Store, StoreError,
    Taken, TicketRow, Worker,
};
use crate::systems::{Plan, ProblemOutcome, SystemError, TicketSystem};
use crate::text::{self, Prepared};
use crate::triage::{
    self, ClassRecord, Classifier, Example, Guard, Impact, PastTicket, Policy, Resolved,
    TrainSettings, Triage, Verdict, ZeroShot,
};
use crate::vectors::{Rows, VectorIndex};

/// Each field's classes that are applied, and the confidence each is applied from.
pub type AppliedFrom = Vec<(PredictedField, Vec<(String, f32)>)>;

/// The live record of each class `version` applies (see [`crate::triage::guard`]): its
/// confident predictions (at or above `applied_from`) on tickets since resolved. Also what
/// `report` shows, for the latest version.
pub async fn guard_of(
    store: &Store,
    version: &str,
    applied_from: &AppliedFrom,
    settings: &crate::config::TriageConfig,
) -> Result<Guard, StoreError> {
    let window = settings.guard_window;
    let mut fields = Vec::new();
    for (field, classes) in applied_from {
        let mut resolved = Vec::new();
        for (label, from) in classes {
            let outcomes = store
                .confident_outcomes(version, *field, label, *from, window)
                .await?;
            resolved.extend(outcomes.into_iter().map(|o| Resolved {
                label: label.clone(),
                confidence: o.confidence,
                right: o.right,
            }));
        }
        fields.push((*field, resolved));
    }
    Ok(Guard::from_latest(
        fields,
        window,
        settings.target_precision,
    ))
}

/// The thresholds `classifier` applies its classes from.
fn applied_from(classifier: Option<&Classifier>) -> AppliedFrom {
    let Some(c) = classifier else {
        return Vec::new();
    };
    [
        (PredictedField::Category, c.category.as_ref()),
        (PredictedField::Urgency, c.urgency.as_ref()),
    ]
    .into_iter()
    .filter_map(|(field, model)| Some((field, model?)))
    .map(|(field, model)| {
        let classes = model
            .thresholds()
            .filter_map(|(class, t)| Some((class.to_owned(), t?)))
            .collect();
        (field, classes)
    })
    .collect()
}

/// The thresholds recorded with the classifier of `model_version` (a triage row's version:
/// the classifier's, then the encoder's, after a `/`), for `report`, which loads no model.
pub async fn recorded_applied_from(
    store: &Store,
    model_version: &str,
) -> Result<AppliedFrom, StoreError> {
    let classifier = model_version
        .split_once('/')
        .map_or(model_version, |(c, _)| c);
    let Some(figures) = store.classifier_figures(classifier).await? else {
        return Ok(Vec::new());
    };
    let thresholds = |field: PredictedField| -> Vec<(String, f32)> {
        figures[field.as_str()]["thresholds"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(class, t)| Some((class.clone(), t.as_f64()? as f32)))
            .collect()
    };
    Ok(PredictedField::ALL
        .into_iter()
        .map(|field| (field, thresholds(field)))
        .collect())
}

/// Tickets read from the store at a time while the knowledge is rebuilt: a page's rows and
/// texts are a few megabytes, whatever the history's size.
const READ_PAGE: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Problems(#[from] ProblemError),
    #[error(transparent)]
    System(#[from] SystemError),
    /// A question or ticket text with nothing left to read once prepared.
    #[error("the text is empty once markup and whitespace are removed")]
    Unusable(#[from] text::Unusable),
}

impl PipelineError {
    /// Whether the same batch may succeed if tried again later.
    pub fn is_retriable(&self) -> bool {
        match self {
            PipelineError::Store(e) => e.is_retriable(),
            PipelineError::System(e) => e.is_retriable(),
            PipelineError::Embed(e) => matches!(e, EmbedError::Overloaded),
            _ => false,
        }
    }
}

/// What one or more batches did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    /// Changed tickets read from the store.
    pub read: usize,
    /// Open tickets that got a triage row (skipped ones included).
    pub triaged: usize,
    /// Of those, tickets whose every field is set (by us or by a person).
    pub applied: usize,
    /// Tickets with at least one field left for a person to decide.
    pub needs_review: usize,
    /// Tickets that could not be triaged (e.g. empty), each with its reason.
    pub skipped: usize,
    /// Suggestion rows written.
    pub suggestions: usize,
    /// Changes written to the ticket system (GLPI); with a dry run, that would have been.
    pub written_back: usize,
    /// Per field, over the tickets triaged (not skipped): applied, kept, left for review.
    pub fields: FieldTallies,
}

impl BatchReport {
    fn add(&mut self, other: BatchReport) {
        self.read += other.read;
        self.written_back += other.written_back;
        self.triaged += other.triaged;
        self.applied += other.applied;
        self.needs_review += other.needs_review;
        self.skipped += other.skipped;
        self.suggestions += other.suggestions;
        self.fields.add(&other.fields);
    }
}

/// The result of triage for a text that is not (yet) a ticket: `classify` and `suggest`.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    pub suggestions: Suggestions,
}

pub struct Pipeline {
    config: PipelineConfig,
    store: Store,
    embedder: Embedder,
    policy: Policy,
    triage: Triage,
    /// Shared with the drafting pass, which runs off the async threads.
    articles: Arc<ArticleIndex>,
    /// Open tickets, for possible duplicates; grows as the stream brings new ones.
    open: VectorIndex<PastTicket>,
    /// The words of the history and the open tickets, for similar-ticket search.
    words: TicketWords,
    /// Ids in `open` and in the triage history, kept beside them so that a batch need not
    /// walk whole indexes to ask what they hold.
    open_ids: HashSet<i64>,
    history_ids: HashSet<i64>,
    /// The candidate and accepted problems of the last clustering pass, for new incidents to
    /// join at once.
    known_problems: Vec<KnownProblem>,
    /// (count, highest id) of the resolved tickets the last drafting pass looked at.
    last_drafted: Option<(usize, i64)>,
    /// Labelled tickets the history had when training was last tried.
    last_training: Option<usize>,
    /// Recorded on every triage and suggestion row; a new version writes new rows.
    version: String,
    /// Who holds this process's leases on a shared (PostgreSQL) store.
    worker: Worker,
    /// Where the tickets come from and the results go (the store itself, or GLPI); shared
    /// with the pipelines [`Pipeline::refreshed`] builds.
    system: Arc<TicketSystem>,
    /// Set for a dry run: nothing is written to the ticket system or acknowledged.
    dry_run: Option<DryRun>,
    /// The next batch's first texts, sent to the model as the last batch ended.
    speculation: Option<Speculation>,
    /// A batch brought new history but the reload after it failed (the store went away):
    /// the next step reloads first.
    knowledge_stale: bool,
}

/// A dry run's progress: the batches are never acknowledged, so it keeps its own place.
#[derive(Debug, Default)]
struct DryRun {
    position: i64,
    plan: Vec<String>,
}

impl Pipeline {
    /// Opens the store and the model (fetching it on first use) and loads what triage needs.
    pub async fn open(config: PipelineConfig) -> Result<Self, PipelineError> {
        let store = Store::open(&config.store.url).await?;
        let system = TicketSystem::connect(&config.system).await?;
        // History and articles come from the ticket system before triage learns from them.
        system.pull(&store).await?;
        let embedder = start_model(&config.model).await?;
        let mut pipeline = Self::with_parts(config, store, embedder).await?;
        pipeline.system = Arc::new(system);
        Ok(pipeline)
    }

    /// From now on, write nothing to the ticket system and acknowledge no batch: each batch
    /// is read, triaged and rolled back, and [`Pipeline::dry_run_plan`] says what would have
    /// been written. Only for a store read by cursor (SQLite): leases would hold the tickets.
    pub fn start_dry_run(&mut self) -> Result<(), PipelineError> {
        let refuse = |message: &str| {
            Err(PipelineError::Config(ConfigError::Invalid {
                path: "store".into(),
                message: message.into(),
            }))
        };
        if !self.system.writes_back() {
            return refuse(
                "a dry run shows what would be written to the ticket system (GLPI, Zammad); \
                 this pipeline's store is ticketlens' own schema, where triage writes directly",
            );
        }
        if self.store.backend() != Backend::Sqlite {
            return refuse("a dry run needs ticketlens' own tables on SQLite (store.url)");
        }
        self.dry_run = Some(DryRun::default());
        Ok(())
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run.is_some()
    }

    /// What a dry run would have written, one line per change.
    pub fn dry_run_plan(&self) -> &[String] {
        self.dry_run.as_ref().map_or(&[], |d| &d.plan)
    }

    /// Builds a pipeline over an open store and a running model.
    pub async fn with_parts(
        config: PipelineConfig,
        store: Store,
        embedder: Embedder,
    ) -> Result<Self, PipelineError> {
        let policy = Policy {
            shadow: config.triage.shadow,
            default_impact: Impact::parse(&config.triage.default_impact).unwrap_or(Impact::Medium),
            priority: config.triage.priority_matrix.clone(),
        };
        let zero_shot = ZeroShot {
            category: embed_labels(&embedder, &config.triage.labels.category).await?,
            urgency: embed_labels(&embedder, &config.triage.labels.urgency).await?,
        };
        let mut pipeline = Self::blank(config, store, embedder, policy, zero_shot);
        pipeline.reload_knowledge().await?;
        pipeline.reload_articles().await?;
        Ok(pipeline)
    }

    /// A pipeline that knows nothing yet: empty indexes, no classifier, the native system.
    fn blank(
        config: PipelineConfig,
        store: Store,
        embedder: Embedder,
        policy: Policy,
        zero_shot: ZeroShot,
    ) -> Self {
        let dimension = embedder.dimension();
        let worker = Worker::for_this_process(Duration::from_secs(config.source.lease_secs));
        Self {
            version: format!("cold/{}", embedder.version()),
            triage: Triage {
                history: VectorIndex::new(dimension),
                classifier: None,
                zero_shot,
                neighbours: config.triage.neighbours,
                guard: Guard::default(),
            },
            config,
            store,
            embedder,
            policy,
            articles: Arc::new(ArticleIndex::new(dimension, [])),
            open: VectorIndex::new(dimension),
            words: TicketWords::default(),
            open_ids: HashSet::new(),
            history_ids: HashSet::new(),
            known_problems: Vec::new(),
            last_drafted: None,
            last_training: None,
            worker,
            system: Arc::new(TicketSystem::Native),
            dry_run: None,
            speculation: None,
            knowledge_stale: false,
        }
    }

    /// A new pipeline over the same store, model and ticket system, with articles, history
    /// and (when due) the classifier reloaded from the store: built while this one goes on
    /// answering, so that `serve` swaps it in when it is ready and no request waits on a
    /// reload. The classifier in use and when it was trained carry over, so a refresh
    /// retrains only when enough new labels arrived.
    pub async fn refreshed(&self) -> Result<Self, PipelineError> {
        let mut next = Self::blank(
            self.config.clone(),
            self.store.clone(),
            self.embedder.clone(),
            self.policy.clone(),
            self.triage.zero_shot.clone(),
        );
        next.system = self.system.clone();
        next.triage.classifier = self.triage.classifier.clone();
        next.last_training = self.last_training;
        next.version = self.version.clone();
        next.known_problems = self.known_problems.clone();
        next.words.fusion = self.words.fusion;
        next.words.learned_on = self.words.learned_on;
        next.reload_articles().await?;
        next.reload_knowledge().await?;
        Ok(next)
    }

    /// Whether the tickets live in ticketlens' own store (so agents may edit them there), not
    /// in a ticket system it writes back to.
    pub fn tickets_are_here(&self) -> bool {
        !self.system.writes_back()
    }

    /// The pipeline's name (its cursor in the store).
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Where the tickets come from and the results go.
    pub fn system(&self) -> &TicketSystem {
        &self.system
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// How alike an incident and a problem's centre must be for it to join the problem; also
    /// what makes two open problems look like one.
    pub fn join_similarity(&self) -> f32 {
        self.config.problems.join_similarity
    }

    /// How similar tickets are ranked: the weight of shared words beside the embedding.
    pub fn similar_fusion(&self) -> knowledge::Fusion {
        self.words.fusion
    }

    /// The classifier version in use, if the history was enough to train one.
    pub fn classifier(&self) -> Option<&Classifier> {
        self.triage.classifier.as_deref()
    }

    /// Rebuilds the history and open-ticket indexes from the store (embedding only what is
    /// new) and retrains if due. Articles are reloaded on their own ([`Pipeline::reload_articles`]).
    /// The store is read a page at a time: what stays is the indexes and the training window.
    pub async fn reload_knowledge(&mut self) -> Result<(), PipelineError> {
        let dimension = self.embedder.dimension();
        let (mut history, mut open) = (VectorIndex::new(dimension), VectorIndex::new(dimension));
        // The classifiers learn from the most recent labelled tickets (the store is read in
        // id order): a desk's categories drift, and training time and memory stay bounded
        // however old the store.
        let window = self.config.triage.training_window;
        let mut examples: VecDeque<Example> = VecDeque::new();
        let mut labelled = 0;
        let (mut history_words, mut open_words) = (TfIdf::default(), TfIdf::default());
        let links = self.store.duplicate_links().await?;
        let mut links = self
            .words
            .to_learn(links, &self.config.knowledge, dimension);
        let bar = crate::progress::bar(0, "embedding history");
        let mut after = i64::MIN;
        loop {
            let read = self.store.tickets_after(after, READ_PAGE).await?;
            let Some(last) = read.last_id() else { break };
            after = last;
            let page = read.into_readable();
            // The resolved tickets are the history, the others are open.
            let (open_rows, resolved): (Vec<TicketRow>, Vec<TicketRow>) =
                page.into_iter().partition(TicketRow::is_open);

            let (usable, texts) = prepared_texts(&resolved);
            bar.inc_length(texts.len() as u64);
            let vectors = embed_cached(
                &self.store,
                &self.embedder,
                OwnerKind::Ticket,
                &texts,
                |n| bar.inc(n),
            )
            .await?;
            for (i, row) in usable.iter().enumerate() {
                if row.category.is_none() && row.urgency.is_none() {
                    continue;
                }
                labelled += 1;
                examples.push_back(Example {
                    ticket_id: row.id,
                    text: texts[i].1.clone(),
                    embedding: vectors.row(i).to_vec(),
                    category: row.category.clone(),
                    urgency: row.urgency.clone(),
                });
                if examples.len() > window {
                    examples.pop_front();
                }
            }
            for (i, (id, text)) in texts.iter().enumerate() {
                if let Some(links) = &mut links {
                    links.see(history.len() + i, *id, text, vectors.row(i));
                }
                history_words.push(text);
            }
            history.extend(&vectors, usable.into_iter().map(past_ticket));

            let (usable, texts) = prepared_texts(&open_rows);
            let vectors = self.vectors(OwnerKind::Ticket, &texts).await?;
            texts.iter().for_each(|(_, text)| open_words.push(text));
            open.extend(&vectors, usable.into_iter().map(past_ticket));
        }
        bar.finish_and_clear();
        let history = self
            .words
            .reload(
                history,
                (history_words, open_words),
                links,
                &self.config.knowledge,
            )
            .await;
        self.history_ids = history.items().map(|p| p.id).collect();
        self.open_ids = open.items().map(|p| p.id).collect();
        (self.triage.history, self.open) = (history, open);
        self.retrain_if_due(examples.into(), labelled).await?;
        self.reload_guard().await
    }

    /// Each applied class's live record under the current version, on its latest
    /// `triage.guard_window` confident predictions since resolved: what of a class surely
    /// below the target is held back (see [`crate::triage::guard`]).
    async fn reload_guard(&mut self) -> Result<(), PipelineError> {
        let from = applied_from(self.triage.classifier.as_deref());
        self.triage.guard =
            guard_of(&self.store, &self.version, &from, &self.config.triage).await?;
        Ok(())
    }

    /// Each applied class's live record, and whether it is held back.
    pub fn class_records(&self) -> Vec<ClassRecord> {
        self.triage.guard.classes()
    }

    /// Rebuilds the article index from the store's published articles; an edited article is
    /// embedded again (its text hash changed), the others come from the cache.
    pub async fn reload_articles(&mut self) -> Result<(), PipelineError> {
        let articles = self.store.articles().await?;
        let texts: Vec<(i64, String)> = articles
            .iter()
            .map(|a| (a.id, knowledge::article_text(&a.title, &a.body)))
            .collect();
        let vectors = self.vectors(OwnerKind::Article, &texts).await?;
        let titles: Vec<(i64, String)> = articles.iter().map(|a| (a.id, a.title.clone())).collect();
        let title_vectors = self.vectors(OwnerKind::ArticleTitle, &titles).await?;
        let indexed = articles
            .iter()
            .zip(vectors.iter().zip(title_vectors.iter()))
            .zip(&texts)
            .map(
                |((article, (vector, title_vector)), (_, text))| IndexedArticle {
                    article: ArticleRef {
                        id: article.id,
                        title: article.title.clone(),
                        public: article.public,
                    },
                    vector,
                    title_vector,
                    text,
                },
            );
        self.articles = Arc::new(ArticleIndex::new(self.embedder.dimension(), indexed));
        Ok(())
    }

    /// Embeddings of (owner id, text) pairs, from the store's cache where it has them.
    async fn vectors(
        &self,
        kind: OwnerKind,
        texts: &[(i64, String)],
    ) -> Result<Rows, PipelineError> {
        embed_cached(&self.store, &self.embedder, kind, texts, |_| {}).await
    }

    /// Trains a candidate classifier when enough new labels arrived since the last try, and
    /// puts it in use unless it is surely worse than the current one on the labels that one
    /// never saw ([`triage::Compared`]).
    /// `labelled`: how many labelled tickets the history holds (`examples` are the most
    /// recent of them).
    async fn retrain_if_due(
        &mut self,
        examples: Vec<Example>,
        labelled: usize,
    ) -> Result<(), PipelineError> {
        if self
            .last_training
            .is_some_and(|last| labelled < last + self.config.triage.retrain_after)
        {
            return Ok(());
        }
        self.last_training = Some(labelled);
        let settings = TrainSettings {
            target_precision: self.config.triage.target_precision,
            min_examples: self.config.triage.min_history,
            ..TrainSettings::default()
        };

        let current = self.triage.classifier.clone();
        // Training and the comparison are seconds of CPU: off the async threads.
        let (candidate, compared) = tokio::task::spawn_blocking(move || {
            let candidate = Classifier::train(&examples, &settings);
            let compared = current.map(|c| candidate.compare(&c, &examples));
            (candidate, compared)
        })
        .await
        .expect("training does not panic");
        if candidate.category.is_none() && candidate.urgency.is_none() {
            return Ok(()); // too little history: stay cold
        }
        let in_use = compared.is_none_or(|c| !c.candidate_surely_worse());
        let figures = serde_json::json!({
            "category": candidate.category.as_ref().map(field_figures),
            "urgency": candidate.urgency.as_ref().map(field_figures),
        });
        let compared = compared.map(|c| serde_json::json!(c));
        self.store
            .record_classifier(&ClassifierRecord {
                version: candidate.version.clone(),
                trained_on: candidate.trained_on,
                in_use,
                figures,
                compared: compared.clone(),
            })
            .await?;
        if in_use {
            tracing::info!(version = %candidate.version, labelled, "classifier in use");
            self.version = format!("{}/{}", candidate.version, self.embedder.version());
            self.triage.classifier = Some(Arc::new(candidate));
        } else {
            tracing::warn!(version = %candidate.version, ?compared,
                "new classifier is surely worse on the labels the current one never saw; keeping the current one");
        }
        Ok(())
    }

    /// Triage and suggestions for a free text, for an agent (it holds other people's
    /// tickets as evidence: end users get [`Pipeline::before_filing`]); written nowhere.
    /// The text is prepared as a ticket's would be in the stream (HTML removed, cut to size)
    /// and refused where the stream would skip it.
    pub async fn assess(&self, text: &str) -> Result<Assessment, PipelineError> {
        let prepared = prepare_query(text)?;
        let text = prepared.text.as_str();
        let vector = self.embed_query(text).await?;
        let scans = self.scans(text, &vector);
        Ok(Assessment {
            verdict: self.triage.verdict(text, &vector, &scans.history),
            suggestions: self.suggest(
                Query {
                    text,
                    vector: &vector,
                },
                Audience::Agent,
                None,
                &scans,
            ),
        })
    }

    /// The embedding of one interactive request's text: answered "overloaded" rather than
    /// queued behind a backlog.
    async fn embed_query(&self, text: &str) -> Result<Vec<f32>, PipelineError> {
        Ok(self
            .embedder
            .try_embed(vec![text.to_owned()])
            .await?
            .pop()
            .expect("one vector per text"))
    }

    /// Processes the next batch of changed tickets; `None` when there is nothing new.
    pub async fn step(&mut self) -> Result<Option<BatchReport>, PipelineError> {
        if self.knowledge_stale {
            self.reload_knowledge().await?;
            self.knowledge_stale = false;
        }
        let mut taken = self.take().await?;
        // The store's queue is empty: read what changed in the ticket system, if anything.
        if taken.is_empty() && self.system.pull(&self.store).await? > 0 {
            taken = self.take().await?;
        }
        if taken.is_empty() {
            return Ok(None);
        }
        let Taken {
            rows,
            unreadable,
            claim,
        } = taken;
        let mut outcomes = Vec::new();
        let open: Vec<&TicketRow> = rows.iter().filter(|r| r.is_open()).collect();
        let prepared: Vec<Result<Prepared, text::Unusable>> = open
            .iter()
            .map(|r| text::prepare(r.subject.as_deref(), r.body.as_deref()))
            .collect();
        let texts: Vec<(i64, String)> = open
            .iter()
            .zip(&prepared)
            .filter_map(|(row, p)| p.as_ref().ok().map(|p| (row.id, p.text.clone())))
            .collect();
        let usable: Vec<i64> = texts.iter().map(|&(id, _)| id).collect();
        let guessed = self.speculation.take();
        let mut vectors = Ahead::start(
            &self.store,
            &self.embedder,
            OwnerKind::Ticket,
            texts,
            guessed,
        )
        .await?;
        vectors.then(self.upcoming(&claim).await?);

        let mut report = BatchReport {
            read: rows.len() + unreadable.len(),
            ..Default::default()
        };
        let mut writer = self.store.begin_batch().await?;
        let mut current_fields = writer.current_fields(&usable).await?;
        for bad in &unreadable {
            // Quarantined: recorded with its reason and acknowledged with the batch, so the
            // stream moves on and a person can see what to fix.
            tracing::warn!(ticket = bad.ticket_id, column = bad.column, "{bad}");
            report.triaged += 1;
            report.skipped += 1;
            writeback::write_skipped(&mut writer, bad.ticket_id, &self.version, bad).await?;
        }
        let mut to_judge = Vec::new();
        for (row, prepared) in open.iter().zip(&prepared) {
            report.triaged += 1;
            match prepared {
                Ok(prepared) => to_judge.push((*row, prepared)),
                Err(why) => {
                    report.skipped += 1;
                    let record =
                        writeback::write_skipped(&mut writer, row.id, &self.version, why).await?;
                    if self.system.writes_back() {
                        let hash = cache::text_hash(&row.subject_text());
                        outcomes.push(writeback::outcome(&record, None, hash, Vec::new()));
                    }
                }
            }
        }
        // A request's worth at a time, as the vectors arrive: the indexes are scanned once
        // for the group rather than once per ticket.
        for group in to_judge.chunks(cache::AHEAD) {
            let mut vectors_of_group = Rows::zeros(group.len(), self.embedder.dimension());
            for i in 0..group.len() {
                vectors_of_group
                    .row_mut(i)
                    .copy_from_slice(vectors.next().await?);
            }
            // Later tickets of this stream may duplicate these. They go in before the scans,
            // which leave out any ticket filed after the one they are for.
            let mut added = false;
            for ((row, prepared), vector) in group.iter().zip(vectors_of_group.iter()) {
                if self.open_ids.insert(row.id) {
                    self.open.push(vector, past_ticket(row));
                    self.words.open.push(&prepared.text);
                    added = true;
                }
            }
            if added {
                self.words.open.settle();
            }
            for (&(row, prepared), judgement) in
                group.iter().zip(self.judge(group, &vectors_of_group))
            {
                let current = current_fields
                    .remove(&row.id)
                    .ok_or(StoreError::NoSuchTicket(row.id))?;
                let Judgement {
                    verdict,
                    suggestions,
                    problem,
                } = judgement;
                let triaged = writeback::Triaged {
                    ticket_id: row.id,
                    version: &self.version,
                    notes: &prepared.notes,
                    verdict: &verdict,
                    decision: triage::decide(&verdict, &current, &self.policy),
                    suggestions: &suggestions,
                    problem,
                };
                let record = writeback::write(&mut writer, triaged).await?;
                report.fields.category.add(record.category_status, 1);
                report.fields.urgency.add(record.urgency_status, 1);
                if record.outcome == TriageOutcome::NeedsReview {
                    report.needs_review += 1;
                } else {
                    report.applied += 1;
                }
                report.suggestions += suggestions.len();
                if self.system.writes_back() {
                    let hash = cache::text_hash(&prepared.text);
                    let outcome = writeback::outcome(&record, Some(&verdict), hash, suggestions);
                    outcomes.push(outcome);
                }
            }
        }
        // The acknowledgement first, inside our own transaction: it holds the batch's leases
        // (a worker whose lease went elsewhere stops here, before writing anywhere). Then the
        // ticket system, then our commit: if that fails, the replay finds the batch written
        // in the ticket system and writes nothing twice.
        if self.dry_run.is_none() {
            writer.acknowledge(&self.config.name, &claim).await?;
        }
        let plan = self.system.plan(&self.store, &outcomes).await?;
        report.written_back = self.write_back(plan, Some(&mut writer)).await?;
        match &mut self.dry_run {
            Some(dry) => {
                if let Claim::Cursor(position) = claim {
                    dry.position = position;
                }
                drop(writer);
            }
            None => writer.commit().await?,
        }
        self.speculation = vectors.finish(&self.store).await?;

        // Tickets resolved in this batch are new history for the next ones. A replay of
        // history the index already holds (a first run over an old store) is not.
        if rows
            .iter()
            .any(|r| !r.is_open() && !self.history_ids.contains(&r.id))
        {
            self.knowledge_stale = true;
            self.reload_knowledge().await?;
            self.knowledge_stale = false;
        }
        Ok(Some(report))
    }

    /// The first texts without a cached vector of the batch that follows `claim`'s, read and
    /// not taken, for the model to start on while this batch is written. Only a cursor says
    /// what comes next (a lease's next batch is whatever the other workers leave).
    async fn upcoming(&self, claim: &Claim) -> Result<Vec<(i64, String)>, PipelineError> {
        let Claim::Cursor(position) = claim else {
            return Ok(Vec::new());
        };
        let batch = self.config.source.batch_size;
        let mut rows = self.store.changes_after(*position, batch).await?.rows;
        rows.retain(TicketRow::is_open);
        let (_, texts) = prepared_texts(&rows);
        cache::first_misses(&self.store, &self.embedder, OwnerKind::Ticket, texts).await
    }

    /// The next batch: the store's, or in a dry run the one after the last batch looked at.
    async fn take(&self) -> Result<Taken, PipelineError> {
        let batch = self.config.source.batch_size;
        let Some(dry) = &self.dry_run else {
            return Ok(self
                .store
                .take_changes(&self.config.name, &self.worker, batch)
                .await?);
        };
        let position = self
            .store
            .cursor(&self.config.name)
            .await?
            .max(dry.position);
        Ok(self.store.take_after(position, batch).await?)
    }

    /// Writes a plan to the ticket system, or in a dry run adds it to what the run would
    /// have written; the number of lines either way. What the system asks to record goes in
    /// with the batch (`writer`), or at once outside one.
    async fn write_back(
        &mut self,
        plan: Plan,
        writer: Option<&mut BatchWriter<'_>>,
    ) -> Result<usize, PipelineError> {
        let Some(dry) = &mut self.dry_run else {
            let applied = self.system.apply(&plan).await?;
            match writer {
                Some(writer) => writer.record_system_writes(&applied.records).await?,
                None => self.store.record_system_writes(&applied.records).await?,
            }
            return Ok(applied.lines.len());
        };
        let lines = plan.lines();
        let n = lines.len();
        dry.plan.extend(lines);
        Ok(n)
    }

    /// Processes batches until the store has nothing new; `on_batch` sees each report.
    pub async fn drain(
        &mut self,
        mut on_batch: impl FnMut(&BatchReport),
    ) -> Result<BatchReport, PipelineError> {
        let mut total = BatchReport::default();
        while let Some(report) = self.step().await? {
            on_batch(&report);
            total.add(report);
        }
        Ok(total)
    }

    /// Clusters the incidents of the window and stores the candidate problems; returns their
    /// ids with the candidates, largest first.
    pub async fn detect_problems(
        &mut self,
    ) -> Result<Vec<(i64, problems::Candidate)>, PipelineError> {
        self.detect_problems_at(Utc::now()).await
    }

    /// As [`Pipeline::detect_problems`], with the window ending at `now` (a replay's clock).
    pub async fn detect_problems_at(
        &mut self,
        now: chrono::DateTime<Utc>,
    ) -> Result<Vec<(i64, problems::Candidate)>, PipelineError> {
        let window = chrono::Duration::days(i64::from(self.config.problems.window_days));
        let rows = self.store.incidents_since(now - window).await?;
        let (usable, texts) = prepared_texts(&rows);
        let vectors = self.vectors(OwnerKind::Ticket, &texts).await?.to_vecs();
        let incidents: Vec<WindowIncident> = usable
            .into_iter()
            .zip(texts)
            .zip(vectors)
            .map(|((row, (_, text)), vector)| WindowIncident {
                ticket_id: row.id,
                subject: row.subject_text(),
                text,
                requester: row.requester.clone(),
                created_at: row.created_at,
                vector,
            })
            .collect();
        let settings = ClusterSettings {
            min_size: self.config.problems.min_size,
            max_distance: self.config.problems.max_distance,
            min_cohesion: self.config.problems.min_cohesion,
        };
        // DBSCAN is quadratic in the window: keep it off the async threads.
        let candidates =
            tokio::task::spawn_blocking(move || problems::detect(&incidents, settings))
                .await
                .expect("clustering does not panic")?;
        let stored = self.store.problem_members().await?;
        let matches = problems::match_stored(&candidates, &stored, 0.3);
        let (candidates, matches) = problems::fold_matched(candidates, matches);
        let saved = self.store.save_problems(&candidates, &matches).await?;
        let to_system: Vec<ProblemOutcome> = saved
            .iter()
            .zip(&candidates)
            .filter(|(p, _)| !p.rejected)
            .map(|(p, c)| ProblemOutcome {
                id: p.id,
                title: c.title.clone(),
                keywords: c.keywords.clone(),
                tickets: c.members.iter().map(|m| m.ticket_id).collect(),
                requesters: c.requesters,
                first_seen: c.first_seen,
                last_seen: c.last_seen,
            })
            .collect();
        let plan = self.system.plan_problems(&self.store, &to_system).await?;
        self.write_back(plan, None).await?;
        // Rejected candidates attract no new incidents.
        self.known_problems = saved
            .iter()
            .zip(&candidates)
            .filter(|(p, _)| !p.rejected)
            .map(|(p, c)| KnownProblem {
                id: p.id,
                centre: c.centre.clone(),
                trend: c.activity.trend(),
            })
            .collect();
        Ok(saved.into_iter().map(|p| p.id).zip(candidates).collect())
    }

    /// Runs until `shutdown` turns true: polls for changes, and clusters every
    /// `problems.interval_secs`. The batch in flight is always finished and committed first.
    /// A store or ticket system that stops answering is waited out, however long: every
    /// retriable failure is retried with backoff (see [`Outage`]); only faults that would
    /// repeat end the run.
    pub async fn run(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<BatchReport, PipelineError> {
        let poll = Duration::from_secs(self.config.source.poll_interval_secs);
        let cluster_every = Duration::from_secs(self.config.problems.interval_secs);
        let mut next_cluster = tokio::time::Instant::now();
        let mut total = BatchReport::default();
        let mut outage = Outage::default();
        let mut listener = match self.store.listen().await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; polling instead");
                None
            }
        };
        while !*shutdown.borrow() {
            let mut wait = None;
            if tokio::time::Instant::now() >= next_cluster {
                match self.periodic_pass(cluster_every).await {
                    Ok(()) => {
                        outage.ended();
                        next_cluster = tokio::time::Instant::now() + cluster_every;
                    }
                    Err(e) if e.is_retriable() => {
                        let delay = outage.failed("the periodic pass", &e);
                        next_cluster = tokio::time::Instant::now() + delay;
                        wait = Some(delay);
                    }
                    Err(e) => return Err(e),
                }
            }
            if wait.is_none() {
                wait = match self.step().await {
                    Ok(Some(report)) => {
                        tracing::info!(?report, "batch written");
                        outage.ended();
                        total.add(report);
                        continue;
                    }
                    Ok(None) => {
                        outage.ended();
                        None
                    }
                    Err(e) if e.is_retriable() => Some(outage.failed("a batch", &e)),
                    Err(e) => return Err(e),
                };
            }
            let idle = async {
                match (listener.as_mut(), wait) {
                    (Some(l), None) => {
                        if let Err(e) = l.wait(poll).await {
                            tracing::warn!(error = %e, "change notifications failed; polling");
                            tokio::time::sleep(poll).await;
                        }
                    }
                    (_, wait) => tokio::time::sleep(wait.unwrap_or(poll)).await,
                }
            };
            tokio::select! {
                _ = idle => {}
                _ = shutdown.changed() => {}
            }
        }
        Ok(total)
    }

    /// Articles reloaded, then (one worker at a time) clustering and drafting.
    async fn periodic_pass(&mut self, period: Duration) -> Result<(), PipelineError> {
        // Articles change without the ticket stream knowing: refresh them as often.
        self.reload_articles().await?;
        // Workers sharing a store take turns: two passes at once would each add the same new
        // candidates.
        let task = format!("{}/cluster", self.config.name);
        if self.store.claim_task(&task, &self.worker, period).await? {
            let found = self.detect_problems().await?;
            let drafts = self.draft_articles().await?;
            tracing::info!(
                candidates = found.len(),
                drafts,
                "clustered recent incidents and resolutions"
            );
        }
        Ok(())
    }
}

/// A run of retriable failures: how long to wait before the next try (doubling up to a
/// minute, never giving up), and one line in the log when it starts and when it ends.
#[derive(Debug)]
struct Outage {
    delay: Duration,
    since: Option<std::time::Instant>,
    tries: u32,
}

impl Default for Outage {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(1),
            since: None,
            tries: 0,
        }
    }
}

impl Outage {
    /// Longest wait between tries: an outage's end is noticed within this.
    const MAX_DELAY: Duration = Duration::from_secs(30);

    /// Records a failure of `what`; returns how long to wait before trying again.
    fn failed(&mut self, what: &str, error: &PipelineError) -> Duration {
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        self.tries += 1;
        let delay = self.delay;
        tracing::warn!(error = %error, tries = self.tries,
            down_secs = since.elapsed().as_secs(), retry_in_secs = delay.as_secs(),
            "{what} failed; the store or ticket system is unavailable, retrying");
        self.delay = (self.delay * 2).min(Self::MAX_DELAY);
        delay
    }

    /// A try succeeded: the outage, if there was one, is over.
    fn ended(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                tries = self.tries,
                down_secs = since.elapsed().as_secs(),
                "the store answers again; carrying on"
            );
        }
        *self = Self::default();
    }
}

/// A free text (`classify`, `suggest`, the API) prepared exactly as a ticket's body is in the
/// stream, with the same refusals: one preparation for every way in.
pub fn prepare_query(text: &str) -> Result<Prepared, PipelineError> {
    Ok(text::prepare(None, Some(text.as_bytes()))?)
}

/// The tickets whose text is usable, with (id, prepared text) for each.
fn prepared_texts(rows: &[TicketRow]) -> (Vec<&TicketRow>, Vec<(i64, String)>) {
    rows.iter()
        .filter_map(|row| {
            text::prepare(row.subject.as_deref(), row.body.as_deref())
                .ok()
                .map(|p| (row, (row.id, p.text)))
        })
        .unzip()
}

fn past_ticket(row: &TicketRow) -> PastTicket {
    PastTicket {
        id: row.id,
        subject: row.subject_text(),
        category: row.category.clone(),
        urgency: row.urgency.clone(),
        resolution: row.resolution.clone(),
    }
}

/// Held-out figures and per-class thresholds of one field, as recorded with the version.
fn field_figures(model: &triage::FieldModel) -> serde_json::Value {
    let thresholds: serde_json::Map<String, serde_json::Value> = model
        .thresholds()
        .map(|(class, t)| (class.to_owned(), serde_json::json!(t)))
        .collect();
    serde_json::json!({ "held_out": model.held_out(), "thresholds": thresholds })
}

/// Embeds label descriptions for the cold start.
async fn embed_labels(
    embedder: &Embedder,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<(String, Vec<f32>)>, PipelineError> {
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    let texts = labels.iter().map(|(l, d)| format!("{l}: {d}")).collect();
    let vectors = embedder.embed(texts).await?;
    Ok(labels.keys().cloned().zip(vectors).collect())
}

/// Loads the model of a pipeline (fetching it on first use) off the async threads.
pub async fn start_model(config: &ModelConfig) -> Result<Embedder, ModelError> {
    let manifest = config.manifest.clone();
    let limits = BatchLimits {
        max_batch_tokens: config.batch_tokens,
        ..Default::default()
    };
    let compute = model::Compute::new(config.precision);
    tokio::task::spawn_blocking(move || model::start(&manifest, limits, compute))
        .await
        .expect("model loading does not panic")
}

/// Loads a pipeline file and opens its pipeline.
pub async fn open_file(path: &Path) -> Result<Pipeline, PipelineError> {
    let config = PipelineConfig::load(path)?;
    Pipeline::open(config).await
}
