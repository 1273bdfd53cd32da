//! Pipeline files: `pipelines/*.toml`. Every section has defaults except the store URL, and
//! unknown keys are rejected so that a typo never silently falls back to a default.

mod serve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use serve::{AddressRange, ForwardedHeader, NotARange, ServeConfig};

use crate::model::Precision;
use crate::systems::SystemConfig;
use crate::triage::PriorityMatrix;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pipeline file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One pipeline: which store to read and write, which model, and the team's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Name of the pipeline; its cursor in the store is kept under this name.
    pub name: String,
    /// ticketlens' own store.
    pub store: StoreConfig,
    /// The help desk the tickets live in (default: the store itself, `kind = "native"`).
    #[serde(default)]
    pub system: SystemConfig,
    /// The embedding model.
    #[serde(default)]
    pub model: ModelConfig,
    /// How tickets are taken from the store.
    #[serde(default)]
    pub source: SourceConfig,
    /// Category and urgency classification.
    #[serde(default)]
    pub triage: TriageConfig,
    /// Article and similar-ticket suggestions.
    #[serde(default)]
    pub knowledge: KnowledgeConfig,
    /// Clustering of recent incidents into candidate problems.
    #[serde(default)]
    pub problems: ProblemsConfig,
    /// The HTTP API and pages (`ticketlens serve`).
    #[serde(default)]
    pub serve: ServeConfig,
    /// How `ticketlens import` reads a help desk's export (format, column mapping).
    #[serde(default)]
    pub import: crate::import::ImportConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// ticketlens' own tables: `sqlite://FILE` (created if missing) or
    /// `postgres://USER@HOST/DATABASE` (several `ticketlens run` processes may share it). With
    /// the native system they hold the tickets themselves; with another system, what
    /// ticketlens read from it, the triage audit, the embedding cache, candidate problems and
    /// their review.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Path of the model manifest (TOML).
    pub manifest: PathBuf,
    /// Upper bound on padded tokens in one forward pass.
    pub batch_tokens: usize,
    /// Numbers the encoder computes with: "fp32" (the model's own vectors) or "int8" (about
    /// twice as fast on CPUs with AVX-512 VNNI or AMX, 1.5× with AVX2 alone; vectors within a
    /// cosine of 0.99 of fp32's).
    /// Changing it changes the model version, so stored vectors are recomputed.
    pub precision: Precision,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            manifest: PathBuf::from("models/all-minilm-l6-v2.toml"),
            batch_tokens: 8192,
            precision: Precision::Fp32,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// Changed tickets taken per batch; each batch is written in one transaction.
    pub batch_size: usize,
    /// Seconds between polls when nothing changed (on PostgreSQL a notification wakes a
    /// worker at once; the poll is the fallback).
    pub poll_interval_secs: u64,
    /// PostgreSQL: seconds a worker holds the tickets of a batch. If it dies, another worker
    /// takes them after this long; it must comfortably exceed the time one batch takes.
    pub lease_secs: u64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            poll_interval_secs: 5,
            lease_secs: 120,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// Nearest resolved tickets shown as evidence with every decision.
    pub neighbours: usize,
    /// Precision a class must have reached on held-out history before its predictions are
    /// applied; each class gets its own confidence threshold from it.
    pub target_precision: f64,
    /// Retrain the classifiers once this many new labelled tickets have arrived.
    pub retrain_after: usize,
    /// Each applied class is judged live on its latest this many resolved tickets (was the
    /// ticket resolved with the label triage applied?); a class surely below
    /// `target_precision` there is held back, suggested but not applied, until retraining.
    pub guard_window: usize,
    /// A field is learned only from at least this many labelled tickets; below that, triage
    /// suggests from `labels` descriptions (or the nearest tickets) and applies nothing.
    pub min_history: usize,
    /// The classifiers learn from at most this many labelled tickets, the most recent: a
    /// desk's categories drift, and training time and memory stay bounded however large the
    /// history grows (all of it is still searched for evidence and similar tickets).
    pub training_window: usize,
    /// Write predictions but apply nothing: for a team that wants to watch first
    /// (`ticketlens report` compares them with what agents set).
    pub shadow: bool,
    /// Impact assumed for the priority when a ticket has none (`high`, `medium`, `low`).
    pub default_impact: String,
    /// Priority by urgency, at high, medium and low impact (default: the ITIL matrix).
    pub priority_matrix: PriorityMatrix,
    /// Descriptions of the labels, used for a cold start.
    pub labels: LabelDescriptions,
}

impl Default for TriageConfig {
    fn default() -> Self {
        Self {
            neighbours: 10,
            target_precision: 0.95,
            retrain_after: 100,
            guard_window: 100,
            min_history: 30,
            training_window: 20_000,
            shadow: false,
            default_impact: "medium".into(),
            priority_matrix: PriorityMatrix::default(),
            labels: LabelDescriptions::default(),
        }
    }
}

/// A sentence or two per label, in the words requesters use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelDescriptions {
    /// Category name → description.
    pub category: BTreeMap<String, String>,
    /// Urgency name → description.
    pub urgency: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeConfig {
    /// Articles suggested per ticket.
    pub articles: usize,
    /// Similar resolved tickets suggested per ticket.
    pub similar_tickets: usize,
    /// Lowest cosine similarity (0–1) at which an article or a ticket is suggested at all:
    /// below it, nothing is better than something unrelated.
    pub min_similarity: f32,
    /// Lowest cosine similarity at which an open ticket is flagged as a possible duplicate.
    pub duplicate_similarity: f32,
    /// The weight (0–1) of shared words (TF-IDF) beside the embedding when ranking similar and
    /// possibly duplicate tickets, fixed; unset (the default), it is learned from the store's
    /// duplicate links, or 0.5 while there are too few. 0 ranks by the embedding alone.
    pub similar_words_weight: Option<f32>,
    /// Resolved tickets with similar resolutions needed before a draft article is written.
    pub draft_min_tickets: usize,
    /// Largest cosine distance between neighbouring resolutions of one draft's sources.
    pub draft_max_distance: f32,
    /// An article at least this similar to such a group answers it: no draft is written.
    pub draft_covered_similarity: f32,
    /// Drafts are written from the tickets resolved within this many days (clustering is
    /// quadratic in their number; old fixes are either documented or obsolete).
    pub draft_window_days: u32,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            articles: 3,
            similar_tickets: 3,
            min_similarity: 0.25,
            duplicate_similarity: 0.6,
            similar_words_weight: None,
            draft_min_tickets: 3,
            draft_max_distance: 0.3,
            draft_covered_similarity: 0.5,
            draft_window_days: 90,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProblemsConfig {
    /// Incidents created within this many days are clustered.
    pub window_days: u32,
    /// Smallest cluster that becomes a candidate problem.
    pub min_size: usize,
    /// Largest cosine distance between neighbouring incidents of one cluster.
    pub max_distance: f32,
    /// A cluster whose incidents are on average less similar than this to its centre is
    /// re-clustered more tightly (it is usually two topics chained together); it is split if
    /// that finds two or more parts, and the incidents no part kept join the nearest part.
    pub min_cohesion: f32,
    /// Seconds between clustering passes while `run` runs.
    pub interval_secs: u64,
    /// A new incident at least this similar to a known problem's centre joins it at once.
    pub join_similarity: f32,
    /// An incident joining a problem whose trend (recent rate over its earlier rate) is at
    /// least this is flagged as possibly part of a major incident.
    pub major_incident_trend: f32,
}

impl Default for ProblemsConfig {
    fn default() -> Self {
        Self {
            window_days: 14,
            min_size: 3,
            max_distance: 0.4,
            min_cohesion: 0.85,
            interval_secs: 300,
            join_similarity: 0.7,
            major_incident_trend: 2.0,
        }
    }
}

impl PipelineConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses pipeline TOML; `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        if let Some(message) = old_layout(text) {
            return Err(invalid(message));
        }
        let config: Self = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    /// Every number within the range where it means something: a setting out of range is
    /// named with its range rather than taken silently.
    fn validate(&self) -> Result<(), String> {
        let (t, k, p, s) = (&self.triage, &self.knowledge, &self.problems, &self.source);
        let similarity = 0.0..=1.0;
        let distance = 0.0..=2.0;
        let checks: [(&str, bool, &str); 26] = [
            (
                "model.batch_tokens",
                (256..=1 << 20).contains(&self.model.batch_tokens),
                "between 256 (one whole ticket) and 1048576",
            ),
            (
                "source.batch_size",
                (1..=10_000).contains(&s.batch_size),
                "between 1 and 10000",
            ),
            (
                "source.poll_interval_secs",
                s.poll_interval_secs >= 1,
                "at least 1",
            ),
            ("source.lease_secs", s.lease_secs >= 1, "at least 1"),
            (
                "triage.target_precision",
                (0.5..=1.0).contains(&t.target_precision),
                "between 0.5 and 1",
            ),
            ("triage.guard_window", t.guard_window >= 1, "at least 1"),
            (
                "triage.neighbours",
                (1..=100).contains(&t.neighbours),
                "between 1 and 100",
            ),
            ("triage.retrain_after", t.retrain_after >= 1, "at least 1"),
            ("triage.min_history", t.min_history >= 2, "at least 2"),
            (
                "triage.training_window",
                t.training_window >= 1,
                "at least 1",
            ),
            ("knowledge.articles", k.articles <= 50, "at most 50"),
            (
                "knowledge.similar_tickets",
                k.similar_tickets <= 50,
                "at most 50",
            ),
            (
                "knowledge.min_similarity",
                similarity.contains(&k.min_similarity),
                "a cosine similarity between 0 and 1",
            ),
            (
                "knowledge.duplicate_similarity",
                similarity.contains(&k.duplicate_similarity),
                "a cosine similarity between 0 and 1",
            ),
            (
                "knowledge.similar_words_weight",
                k.similar_words_weight
                    .is_none_or(|w| (0.0..=1.0).contains(&w)),
                "a weight between 0 and 1",
            ),
            (
                "knowledge.draft_min_tickets",
                k.draft_min_tickets >= 2,
                "at least 2",
            ),
            (
                "knowledge.draft_max_distance",
                distance.contains(&k.draft_max_distance),
                "a cosine distance between 0 and 2",
            ),
            (
                "knowledge.draft_covered_similarity",
                similarity.contains(&k.draft_covered_similarity),
                "a cosine similarity between 0 and 1",
            ),
            (
                "knowledge.draft_window_days",
                k.draft_window_days >= 1,
                "at least 1",
            ),
            ("problems.window_days", p.window_days >= 1, "at least 1"),
            ("problems.min_size", p.min_size >= 2, "at least 2"),
            (
                "problems.max_distance",
                distance.contains(&p.max_distance),
                "a cosine distance between 0 and 2",
            ),
            (
                "problems.min_cohesion",
                similarity.contains(&p.min_cohesion),
                "a cosine similarity between 0 and 1",
            ),
            ("problems.interval_secs", p.interval_secs >= 1, "at least 1"),
            (
                "problems.join_similarity",
                similarity.contains(&p.join_similarity),
                "a cosine similarity between 0 and 1",
            ),
            (
                "problems.major_incident_trend",
                p.major_incident_trend > 0.0,
                "above 0",
            ),
        ];
        in_range(&checks)?;
        self.serve.validate()?;
        if crate::triage::Impact::parse(&t.default_impact).is_none() {
            return Err(format!(
                "triage.default_impact must be high, medium or low, not {:?}",
                t.default_impact
            ));
        }
        self.system.validate()
    }
}

/// The first setting out of its range, as `key must be range`: `checks` holds (key, whether
/// it is in range, the range in words).
pub(crate) fn in_range(checks: &[(&str, bool, &str)]) -> Result<(), String> {
    match checks.iter().find(|(_, ok, _)| !ok) {
        Some((key, _, range)) => Err(format!("{key} must be {range}")),
        None => Ok(()),
    }
}

/// What a pipeline file written before `[system]` existed must change, if it is one: GLPI
/// was `[store] kind`/`url`/`state` and a `[glpi]` section.
fn old_layout(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let store = table.get("store").and_then(|s| s.as_table());
    let glpi_url = store
        .and_then(|s| s.get("url"))
        .and_then(|u| u.as_str())
        .filter(|u| u.starts_with("mysql:") || u.starts_with("mariadb:"));
    let old = table.contains_key("glpi")
        || store.is_some_and(|s| s.contains_key("kind") || s.contains_key("state"))
        || glpi_url.is_some();
    old.then(|| {
        "this file has the layout of before [system]: GLPI's database is now \
         `[system] kind = \"glpi\"` with `url = \"mysql://…\"` and the keys of the old [glpi] \
         section; `[store] url` is ticketlens' own tables (what store.state was, e.g. \
         \"sqlite://ticketlens-glpi.db\"); store.kind and store.state are gone. See \
         pipelines/glpi.toml"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_pipeline_parses() {
        let config = PipelineConfig::load(Path::new("pipelines/demo.toml")).unwrap();
        assert_eq!(config.name, "demo");
        assert_eq!(config.problems.window_days, 14);
    }

    #[test]
    fn the_glpi_pipeline_parses_and_keeps_its_own_tables_apart() {
        let config = PipelineConfig::load(Path::new("pipelines/glpi.toml")).unwrap();
        let SystemConfig::Glpi(glpi) = &config.system else {
            panic!("not GLPI: {:?}", config.system);
        };
        assert!(glpi.url.starts_with("mysql://"));
        assert!(!glpi.write_urgency);
        assert_eq!(config.store.url, "sqlite://ticketlens-glpi.db");
        let demo = PipelineConfig::load(Path::new("pipelines/demo.toml")).unwrap();
        assert!(demo.system.is_native());
    }

    #[test]
    fn the_zammad_pipeline_parses_with_safe_defaults() {
        let config = PipelineConfig::load(Path::new("pipelines/zammad.toml")).unwrap();
        let SystemConfig::Zammad(zammad) = &config.system else {
            panic!("not Zammad: {:?}", config.system);
        };
        assert!(zammad.url.starts_with("https://"));
        assert!(!zammad.write_priority);
        assert_eq!(zammad.category_field, "category");
        assert!(
            zammad.webhook_secret.is_empty(),
            "the hook is off until a secret is set"
        );
    }

    #[test]
    fn each_system_takes_its_own_keys_only() {
        let base = "name = \"x\"\n[store]\nurl = \"sqlite::memory:\"\n[system]\n";
        let parse = |extra: &str| PipelineConfig::parse(&format!("{base}{extra}"), Path::new("p"));
        assert!(parse("kind = \"native\"\n").unwrap().system.is_native());
        let err = parse("kind = \"native\"\nwrite_urgency = true\n").unwrap_err();
        assert!(err.to_string().contains("write_urgency"), "{err}");
        let err =
            parse("kind = \"glpi\"\nurl = \"mysql://g/glpi\"\nfollowup = true\n").unwrap_err();
        assert!(err.to_string().contains("followup"), "{err}");
        let err = parse("kind = \"glpi\"\n").unwrap_err();
        assert!(err.to_string().contains("system.url"), "{err}");
        let zammad = "kind = \"zammad\"\nurl = \"https://z.example\"\nproblems = false\n";
        assert!(parse(zammad).is_ok());
        let err = parse(&format!("{zammad}write_urgency = true\n")).unwrap_err();
        assert!(err.to_string().contains("write_urgency"), "{err}");
        let err = parse("kind = \"zammad\"\nurl = \"z.example\"\n").unwrap_err();
        assert!(err.to_string().contains("system.url"), "{err}");
        let err = parse("kind = \"zammad\"\nurl = \"https://z.example\"\n").unwrap_err();
        assert!(err.to_string().contains("problem_customer"), "{err}");
        let err = parse("kind = \"zendesk\"\n").unwrap_err();
        assert!(err.to_string().contains("zendesk"), "{err}");
    }

    #[test]
    fn a_file_of_the_old_layout_is_told_what_to_change() {
        for old in [
            "name = \"g\"\n[store]\nkind = \"glpi\"\nurl = \"mysql://g/glpi\"\n",
            "name = \"g\"\n[store]\nurl = \"mariadb://g/glpi\"\n",
            "name = \"g\"\n[store]\nurl = \"sqlite://a.db\"\nstate = \"sqlite://b.db\"\n",
            "name = \"g\"\n[store]\nurl = \"sqlite://a.db\"\n[glpi]\nfollowups = false\n",
        ] {
            let err = PipelineConfig::parse(old, Path::new("old.toml")).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("[system] kind = \"glpi\"") && message.contains("old.toml"),
                "{message}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let text = "name = \"x\"\n[store]\nurl = \"sqlite::memory:\"\n[triage]\nthreshhold = 0.9\n";
        let err = PipelineConfig::parse(text, Path::new("p.toml")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("threshhold"), "{message}");
        assert!(message.contains("p.toml"), "{message}");
    }

    #[test]
    fn the_encoder_precision_is_fp32_unless_the_file_says_int8() {
        let base = "name = \"x\"\n[store]\nurl = \"sqlite::memory:\"\n";
        let parse = |extra: &str| PipelineConfig::parse(&format!("{base}{extra}"), Path::new("p"));
        assert_eq!(parse("").unwrap().model.precision, Precision::Fp32);
        let int8 = parse("[model]\nprecision = \"int8\"\n").unwrap();
        assert_eq!(int8.model.precision, Precision::Int8);
        let err = parse("[model]\nprecision = \"fp16\"\n").unwrap_err();
        assert!(err.to_string().contains("fp16"), "{err}");
    }

    #[test]
    fn precision_targets_outside_half_to_one_are_rejected() {
        let text =
            "name = \"x\"\n[store]\nurl = \"sqlite::memory:\"\n[triage]\ntarget_precision = 1.5\n";
        let err = PipelineConfig::parse(text, Path::new("p.toml")).unwrap_err();
        assert!(err.to_string().contains("target_precision"));
    }

    #[test]
    fn settings_out_of_their_range_are_named_with_the_range() {
        let base = "name = \"x\"\n[store]\nurl = \"sqlite::memory:\"\n";
        let parse = |extra: &str| PipelineConfig::parse(&format!("{base}{extra}"), Path::new("p"));
        for (extra, key) in [
            (
                "[knowledge]\nmin_similarity = 5.0\n",
                "knowledge.min_similarity",
            ),
            ("[model]\nbatch_tokens = 0\n", "model.batch_tokens"),
            (
                "[source]\npoll_interval_secs = 0\n",
                "source.poll_interval_secs",
            ),
            (
                "[problems]\njoin_similarity = -0.5\n",
                "problems.join_similarity",
            ),
        ] {
            let err = parse(extra).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains("must be"),
                "{extra}: {err}"
            );
        }
        assert!(parse("[knowledge]\nmin_similarity = 0.4\n").is_ok());
    }
}
