//! Writing one ticket's results inside a batch's transaction.

use crate::domain::{FieldStatus, SuggestionRecord, TriageOutcome};
use crate::store::{BatchWriter, StoreError, TicketField, TriageRecord};
use crate::systems::{FieldResult, TicketOutcome};
use crate::triage::{Decision, Prediction, Verdict};

/// Everything decided about one ticket.
pub(super) struct Triaged<'a> {
    pub ticket_id: i64,
    pub version: &'a str,
    /// What was done to the text on its way to the model.
    pub notes: &'a [&'static str],
    pub verdict: &'a Verdict,
    pub decision: Decision,
    pub suggestions: &'a [SuggestionRecord],
    /// The known problem the incident joins: (id, similarity to its centre, growing fast).
    pub problem: Option<(i64, f32, bool)>,
}

/// Fills the ticket's empty fields as decided, records the triage row and the suggestions.
/// Returns the row (its outcome says whether the ticket needs a person's review).
pub(super) async fn write(
    writer: &mut BatchWriter<'_>,
    t: Triaged<'_>,
) -> Result<TriageRecord, StoreError> {
    let verdict = t.verdict;
    let mut statuses = [t.decision.category, t.decision.urgency];
    let fills = [
        (TicketField::Category, &verdict.category),
        (TicketField::Urgency, &verdict.urgency),
    ];
    for (status, (field, prediction)) in statuses.iter_mut().zip(fills) {
        if *status == FieldStatus::Apply {
            let label = &prediction.as_ref().expect("applied means predicted").label;
            // A person may have set it since we read it: then theirs stands.
            if !writer.fill_if_empty(t.ticket_id, field, label).await? {
                *status = FieldStatus::Kept;
            }
        }
    }
    // The priority follows from the urgency we applied or found; if a person set the urgency
    // between our read and our write, theirs stands and so does the priority they get from it.
    let urgency_lost = t.decision.urgency == FieldStatus::Apply && statuses[1] == FieldStatus::Kept;
    if let Some(priority) = t.decision.priority.as_ref().filter(|_| !urgency_lost) {
        writer
            .fill_if_empty(t.ticket_id, TicketField::Priority, priority)
            .await?;
    }
    // In shadow mode a confident field is still a person's to decide.
    let needs_review = statuses.iter().any(|s| s.needs_a_person());
    let record = TriageRecord {
        ticket_id: t.ticket_id,
        model_version: t.version.to_owned(),
        outcome: if needs_review {
            TriageOutcome::NeedsReview
        } else {
            TriageOutcome::Applied
        },
        reason: (!t.notes.is_empty()).then(|| t.notes.join("; ")),
        category: verdict.category.as_ref().map(|p| p.label.clone()),
        category_confidence: verdict.category.as_ref().map(|p| p.confidence),
        category_status: statuses[0],
        urgency: verdict.urgency.as_ref().map(|p| p.label.clone()),
        urgency_confidence: verdict.urgency.as_ref().map(|p| p.confidence),
        urgency_status: statuses[1],
        priority: t.decision.priority.clone(),
        // The nearest past tickets, and for each field the label, its threshold and the
        // terms that weighed most: why this was decided, for the person who reviews it.
        evidence: serde_json::to_value(verdict).expect("evidence serialises"),
        problem_id: t.problem.map(|(id, _, _)| id),
        major_incident: t.problem.is_some_and(|(_, _, major)| major),
    };
    if let Some((id, similarity, _)) = t.problem {
        writer.join_problem(id, t.ticket_id, similarity).await?;
    }
    writer.record_triage(&record);
    writer.record_suggestions(t.ticket_id, t.version, t.suggestions);
    Ok(record)
}

/// Records why a ticket could not be triaged; nothing of the ticket is changed.
pub(super) async fn write_skipped(
    writer: &mut BatchWriter<'_>,
    ticket_id: i64,
    version: &str,
    why: &(dyn std::fmt::Display + Sync),
) -> Result<TriageRecord, StoreError> {
    let record = TriageRecord {
        ticket_id,
        model_version: version.to_owned(),
        outcome: TriageOutcome::Skipped,
        reason: Some(why.to_string()),
        category: None,
        category_confidence: None,
        category_status: FieldStatus::NeedsReview,
        urgency: None,
        urgency_confidence: None,
        urgency_status: FieldStatus::NeedsReview,
        priority: None,
        evidence: serde_json::json!([]),
        problem_id: None,
        major_incident: false,
    };
    writer.record_triage(&record);
    Ok(record)
}

/// What the ticket system gets for one ticket: the row as written, with the verdict's labels,
/// reasons and words (none for a skipped ticket).
pub(super) fn outcome(
    record: &TriageRecord,
    verdict: Option<&Verdict>,
    text_hash: String,
    suggestions: Vec<SuggestionRecord>,
) -> TicketOutcome {
    let predictions = [
        verdict.and_then(|v| v.category.as_ref()),
        verdict.and_then(|v| v.urgency.as_ref()),
    ];
    let field = |prediction: Option<&Prediction>, status: FieldStatus| {
        prediction.map(|p| FieldResult {
            label: p.label.clone(),
            confidence: p.confidence,
            status,
            why: p.reason.clone(),
        })
    };
    let mut terms: Vec<String> = Vec::new();
    for term in predictions.iter().flatten().flat_map(|p| &p.terms) {
        if !terms.contains(&term.term) {
            terms.push(term.term.clone());
        }
    }
    terms.truncate(8);
    TicketOutcome {
        ticket_id: record.ticket_id,
        model_version: record.model_version.clone(),
        text_hash,
        outcome: record.outcome,
        reason: record.reason.clone(),
        category: field(predictions[0], record.category_status),
        urgency: field(predictions[1], record.urgency_status),
        terms,
        suggestions,
    }
}
