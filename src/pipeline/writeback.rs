//! Writing one ticket's results inside a batch's transaction.

use crate::store::{BatchWriter, StoreError, SuggestionRecord, TicketField, TriageRecord};
use crate::triage::{Decision, FieldStatus, Verdict};

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
    let needs_review = statuses
        .iter()
        .any(|s| matches!(s, FieldStatus::NeedsReview | FieldStatus::Shadow));
    let record = TriageRecord {
        ticket_id: t.ticket_id,
        model_version: t.version.to_owned(),
        outcome: if needs_review {
            "needs_review"
        } else {
            "applied"
        }
        .into(),
        reason: (!t.notes.is_empty()).then(|| t.notes.join("; ")),
        category: verdict.category.as_ref().map(|p| p.label.clone()),
        category_confidence: verdict.category.as_ref().map(|p| p.confidence),
        category_status: statuses[0].as_str().into(),
        urgency: verdict.urgency.as_ref().map(|p| p.label.clone()),
        urgency_confidence: verdict.urgency.as_ref().map(|p| p.confidence),
        urgency_status: statuses[1].as_str().into(),
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
    let review = FieldStatus::NeedsReview.as_str().to_owned();
    let record = TriageRecord {
        ticket_id,
        model_version: version.to_owned(),
        outcome: "skipped".into(),
        reason: Some(why.to_string()),
        category: None,
        category_confidence: None,
        category_status: review.clone(),
        urgency: None,
        urgency_confidence: None,
        urgency_status: review,
        priority: None,
        evidence: serde_json::json!([]),
        problem_id: None,
        major_incident: false,
    };
    writer.record_triage(&record);
    Ok(record)
}
