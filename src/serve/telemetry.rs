//! `GET /metrics`: Prometheus figures. Ticket and problem counts are read from the store at
//! scrape time, so they are true for every process working on it (`run` triages, `serve`
//! answers); embedding batch sizes and latency are this process's own forward passes.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::model::Embedder;
use crate::store::ServiceCounts;

pub struct Telemetry {
    registry: Mutex<Registry>,
    triaged: Gauge,
    applied: Gauge,
    needs_review: Gauge,
    review_queue: Gauge,
    queue_depth: Gauge,
    problems_open: Gauge,
}

impl Telemetry {
    /// Registers the figures and starts observing `embedder`'s forward passes.
    pub fn new(embedder: &Embedder) -> Self {
        let mut registry = Registry::with_prefix("ticketlens");
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let triaged = gauge(
            &mut registry,
            "tickets_triaged",
            "Tickets with a triage result",
        );
        let applied = gauge(
            &mut registry,
            "tickets_applied",
            "Tickets whose latest triage filled or kept every field",
        );
        let needs_review = gauge(
            &mut registry,
            "tickets_needs_review",
            "Tickets whose latest triage left a field for a person",
        );
        let review_queue = gauge(
            &mut registry,
            "review_queue",
            "Open tickets still waiting for a person to set a field triage left",
        );
        let queue_depth = gauge(
            &mut registry,
            "queue_depth",
            "Changed tickets the pipeline has not taken yet",
        );
        let problems_open = gauge(
            &mut registry,
            "problems_open",
            "Candidate and accepted problems",
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
            triaged,
            applied,
            needs_review,
            review_queue,
            queue_depth,
            problems_open,
        }
    }

    /// The OpenMetrics text for `counts` and the histograms so far.
    pub fn render(&self, counts: &ServiceCounts) -> String {
        self.triaged.set(counts.triaged);
        self.applied.set(counts.applied);
        self.needs_review.set(counts.needs_review);
        self.review_queue.set(counts.review_queue);
        self.queue_depth.set(counts.queue_depth);
        self.problems_open.set(counts.problems_open);
        let mut text = String::new();
        let registry = self.registry.lock().expect("no panic while encoding");
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}
