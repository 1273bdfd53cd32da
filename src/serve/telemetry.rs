//! `GET /metrics`: Prometheus figures. Ticket and problem counts are read from the store at
//! scrape time, so they are true for every process working on it (`run` triages, `serve`
//! answers); embedding batch sizes and latency are this process's own forward passes.

use std::sync::{Arc, Mutex};

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::model::Embedder;
use crate::store::ServiceCounts;
use crate::triage::ClassRecord;

/// `field` and `class` of a per-class figure.
type ClassLabels = Vec<(&'static str, String)>;

pub struct Telemetry {
    registry: Mutex<Registry>,
    /// 1 while the store answers this process, 0 while it does not.
    store_up: Gauge,
    /// The store's counts, each with what it reads from [`ServiceCounts`].
    counts: Vec<(Gauge, Read)>,
    /// Per class, its live record under the model version answering.
    class_resolved: Family<ClassLabels, Gauge>,
    class_precision: Family<ClassLabels, Gauge<f64, AtomicU64>>,
    class_held_back: Family<ClassLabels, Gauge>,
    class_applied_from: Family<ClassLabels, Gauge<f64, AtomicU64>>,
}

/// How a figure is read from the store's counts.
type Read = fn(&ServiceCounts) -> i64;

/// (name, help, field) of each figure read from the store.
const COUNTS: [(&str, &str, Read); 8] = [
    ("tickets_triaged", "Tickets with a triage result", |c| {
        c.triaged
    }),
    (
        "tickets_applied",
        "Tickets whose latest triage filled or kept every field",
        |c| c.applied,
    ),
    (
        "tickets_needs_review",
        "Tickets whose latest triage left a field for a person",
        |c| c.needs_review,
    ),
    (
        "tickets_skipped",
        "Tickets that could not be triaged (empty, or unreadable)",
        |c| c.skipped,
    ),
    (
        "tickets_unreadable",
        "Tickets quarantined because a column holds what it cannot (see their skip reason)",
        |c| c.unreadable,
    ),
    (
        "review_queue",
        "Open tickets still waiting for a person to set a field triage left",
        |c| c.review_queue,
    ),
    (
        "queue_depth",
        "Changed tickets the pipeline has not taken yet",
        |c| c.queue_depth,
    ),
    ("problems_open", "Candidate and accepted problems", |c| {
        c.problems_open
    }),
];

impl Telemetry {
    /// Registers the figures and starts observing `embedder`'s forward passes.
    pub fn new(embedder: &Embedder) -> Self {
        let mut registry = Registry::with_prefix("ticketlens");
        let store_up = Gauge::default();
        registry.register(
            "store_up",
            "Whether the store answered this process's last read (1) or not (0)",
            store_up.clone(),
        );
        let counts = COUNTS
            .iter()
            .map(|&(name, help, read)| {
                let gauge = Gauge::default();
                registry.register(name, help, gauge.clone());
                (gauge, read)
            })
            .collect();
        let class_resolved = Family::<ClassLabels, Gauge>::default();
        registry.register(
            "class_applied_resolved",
            "Confident predictions of the class (applied or held back) on tickets since resolved, of its latest window",
            class_resolved.clone(),
        );
        let class_precision = Family::<ClassLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "class_realized_precision",
            "Share of those resolved with the label triage predicted",
            class_precision.clone(),
        );
        let class_held_back = Family::<ClassLabels, Gauge>::default();
        registry.register(
            "class_held_back",
            "1 while any of the class is held back (surely below the target precision): suggested, not applied",
            class_held_back.clone(),
        );
        let class_applied_from = Family::<ClassLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "class_applied_from",
            "While only the class's less confident predictions are held back: the confidence it is applied from",
            class_applied_from.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 9));
        registry.register(
            "embedding_batch_size",
            "Texts per forward pass of the embedding model in this process",
            batch_size.clone(),
        );
        let latency = Histogram::new(exponential_buckets(0.002, 2.0, 14));
        registry.register(
            "embedding_batch_seconds",
            "Seconds per forward pass of the embedding model in this process",
            latency.clone(),
        );
        embedder.observe(Arc::new(move |texts, took| {
            batch_size.observe(texts as f64);
            latency.observe(took.as_secs_f64());
        }));
        Self {
            registry: Mutex::new(registry),
            store_up,
            counts,
            class_resolved,
            class_precision,
            class_held_back,
            class_applied_from,
        }
    }

    /// The OpenMetrics text for `counts` (`None`: the store did not answer), the
    /// classes' live records and the histograms so far.
    pub fn render(&self, counts: Option<&ServiceCounts>, classes: &[ClassRecord]) -> String {
        self.store_up.set(i64::from(counts.is_some()));
        if let Some(counts) = counts {
            for (gauge, read) in &self.counts {
                gauge.set(read(counts));
            }
        }
        // A class the answering version no longer applies drops out.
        self.class_resolved.clear();
        self.class_precision.clear();
        self.class_held_back.clear();
        self.class_applied_from.clear();
        for c in classes {
            let labels = vec![
                ("field", c.field.as_str().to_owned()),
                ("class", c.label.clone()),
            ];
            self.class_resolved
                .get_or_create(&labels)
                .set(c.record.applied as i64);
            self.class_precision.get_or_create(&labels).set(c.precision);
            self.class_held_back
                .get_or_create(&labels)
                .set(i64::from(c.held_back));
            if let Some(from) = c.applied_from {
                self.class_applied_from
                    .get_or_create(&labels)
                    .set(f64::from(from));
            }
        }
        let mut text = String::new();
        let registry = self.registry.lock().expect("no panic while encoding");
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}
