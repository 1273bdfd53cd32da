//! ticketlens: local-model triage, problem detection and knowledge suggestions for IT help desks.
//!
//! The stages follow the shape in `DESIGN.md`: a [`store`] is read through a persisted cursor,
//! texts are embedded by the [`model`] thread, [`triage`] and [`knowledge`] decide per ticket,
//! and the [`pipeline`] writes a batch back in one transaction before it moves the cursor.
//! [`problems`] clusters the recent incidents into candidate problems, and [`serve`] puts all
//! of it behind an HTTP API and pages.

pub mod config;
pub mod demo;
pub mod domain;
pub mod eval;
pub mod import;
pub mod jsonl;
pub mod kernels;
pub mod knowledge;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod problems;
pub mod progress;
pub mod report;
pub mod serve;
pub mod store;
pub mod systems;
pub mod text;
pub mod triage;
pub mod vectors;
