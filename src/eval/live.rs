//! The stream as production lives it (`eval --live`): agents resolve each incoming ticket
//! `label_delay` tickets after it arrived, with its true labels; the pipeline takes the
//! resolved tickets into its history, retrains every `triage.retrain_after` new labels (a new
//! version when the candidate is no worse) and its live guard judges every applied class on
//! its record, as `run` does. The figures are what was applied, under whichever version was in
//! use when the ticket came, against the truth.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{judged_of, precision, Field, Judged, LabelledTicket};
use crate::metrics;
use crate::store::TriageRecord;

/// One field's figures over the live stream.
#[derive(Debug, Clone, Serialize)]
pub struct LiveField {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub applied_share: f64,
    pub applied_precision: Option<f64>,
}

/// The live replay's figures.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    /// Tickets later an incoming ticket was resolved with its labels.
    pub label_delay: usize,
    /// New labels after which the pipeline retrains (`triage.retrain_after`).
    pub retrain_after: usize,
    /// Model versions that triaged incoming tickets.
    pub versions: usize,
    pub category: Option<LiveField>,
    pub urgency: Option<LiveField>,
}

/// The figures of the incoming tickets' triage rows (any version), in time order.
pub(super) fn report(
    rows: &[(&TriageRecord, &LabelledTicket)],
    label_delay: usize,
    retrain_after: usize,
) -> LiveReport {
    let versions: BTreeSet<&str> = rows.iter().map(|(r, _)| r.model_version.as_str()).collect();
    LiveReport {
        label_delay,
        retrain_after,
        versions: versions.len(),
        category: field(rows, Field::Category),
        urgency: field(rows, Field::Urgency),
    }
}

fn field(rows: &[(&TriageRecord, &LabelledTicket)], field: Field) -> Option<LiveField> {
    let judged = judged_of(rows, field);
    if judged.is_empty() {
        return None;
    }
    let truths: Vec<&str> = judged.iter().map(|j| j.truth).collect();
    let predicted: Vec<Option<&str>> = judged.iter().map(|j| j.predicted).collect();
    let applied: Vec<&Judged<'_>> = judged.iter().filter(|j| j.applied).collect();
    Some(LiveField {
        n: judged.len(),
        accuracy: metrics::accuracy(&truths, &predicted),
        macro_f1: metrics::macro_f1(&truths, &predicted),
        applied_share: applied.len() as f64 / judged.len() as f64,
        applied_precision: precision(&applied),
    })
}
