//! The notes ticketlens leaves for agents in a ticket system, as HTML: on a triaged ticket
//! (what was decided, how sure, why, what to read) and on a candidate problem. One renderer
//! for every system, so that agents read the same note whatever desk they work in; a system
//! only stores it its own way.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{ProblemOutcome, TicketOutcome};
use crate::domain::{FieldStatus, SuggestionKind, TriageOutcome};

/// The names of what suggestions point at, by kind and id, as the system names them.
pub type Names = HashMap<(SuggestionKind, i64), String>;

/// The note on a triaged ticket.
pub fn ticket(outcome: &TicketOutcome, names: &Names) -> String {
    let mut html = format!(
        "<p><strong>ticketlens</strong> triage ({})</p>",
        escape(&outcome.model_version)
    );
    if outcome.outcome == TriageOutcome::Skipped {
        let _ = write!(html, "<p>Not triaged: {}</p>", escape(&reason(outcome)));
        return html;
    }
    html.push_str("<ul>");
    for (field, result) in [
        ("Category", &outcome.category),
        ("Urgency", &outcome.urgency),
    ] {
        let Some(result) = result else { continue };
        let _ = write!(
            html,
            "<li>{field}: {} ({:.0}% confident) — {}",
            escape(&result.label),
            result.confidence * 100.0,
            status_words(result.status),
        );
        if !result.why.is_empty() {
            let _ = write!(html, "<br><small>{}</small>", escape(&result.why));
        }
        html.push_str("</li>");
    }
    html.push_str("</ul>");
    for (kind, heading) in [
        (SuggestionKind::Article, "Suggested articles"),
        (SuggestionKind::Ticket, "Similar solved tickets"),
        (SuggestionKind::Duplicate, "Possible duplicates"),
    ] {
        let items: Vec<String> = outcome
            .suggestions
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| {
                let name = names.get(&(kind, s.target_id)).map_or("", String::as_str);
                format!(
                    "<li>#{} {} ({:.2})</li>",
                    s.target_id,
                    escape(name),
                    s.score
                )
            })
            .collect();
        if !items.is_empty() {
            let _ = write!(html, "<p>{heading}:</p><ul>{}</ul>", items.concat());
        }
    }
    if !outcome.terms.is_empty() {
        let _ = write!(
            html,
            "<p>Words that weighed most: {}</p>",
            escape(&outcome.terms.join(", "))
        );
    }
    html
}

/// The description of a candidate problem.
pub fn problem(p: &ProblemOutcome) -> String {
    let tickets: Vec<String> = p.tickets.iter().map(|t| format!("#{t}")).collect();
    format!(
        "<p>Found by ticketlens: {} incidents from {} requesters between {} and {} look alike.</p>\
         <p>Keywords: {}</p><p>Tickets: {}</p>\
         <p>Review it in the help desk; ticketlens links new incidents of the same pattern as \
         they come.</p>",
        p.tickets.len(),
        p.requesters,
        p.first_seen.format("%Y-%m-%d %H:%M"),
        p.last_seen.format("%Y-%m-%d %H:%M"),
        escape(&p.keywords.join(", ")),
        tickets.join(", ")
    )
}

/// Why a ticket was not triaged.
pub fn reason(outcome: &TicketOutcome) -> String {
    outcome
        .reason
        .clone()
        .unwrap_or_else(|| "no reason given".into())
}

fn status_words(status: FieldStatus) -> &'static str {
    match status {
        FieldStatus::Apply => "set by ticketlens",
        FieldStatus::Kept => "an agent's value kept",
        FieldStatus::Shadow => "proposed (shadow mode)",
        FieldStatus::NeedsReview => "left for an agent to decide",
    }
}

/// Text to put inside HTML.
pub fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SuggestionRecord;
    use crate::systems::FieldResult;

    fn outcome() -> TicketOutcome {
        TicketOutcome {
            ticket_id: 7,
            model_version: "v1".into(),
            text_hash: "h".into(),
            outcome: TriageOutcome::NeedsReview,
            reason: None,
            category: Some(FieldResult {
                label: "Network > VPN".into(),
                confidence: 0.97,
                status: FieldStatus::Apply,
                why: "VPN is applied from 90%".into(),
            }),
            urgency: Some(FieldResult {
                label: "high".into(),
                confidence: 0.41,
                status: FieldStatus::NeedsReview,
                why: String::new(),
            }),
            terms: vec!["vpn".into(), "<tunnel>".into()],
            suggestions: vec![SuggestionRecord {
                kind: SuggestionKind::Article,
                target_id: 3,
                score: 0.8,
            }],
        }
    }

    #[test]
    fn the_note_says_what_was_decided_why_and_what_to_read_escaped() {
        let names = Names::from([((SuggestionKind::Article, 3), "Reset the <VPN>".into())]);
        let html = ticket(&outcome(), &names);
        assert!(html.contains("Category: Network &gt; VPN (97% confident) — set by ticketlens"));
        assert!(html.contains("<small>VPN is applied from 90%</small>"));
        assert!(html.contains("Urgency: high (41% confident) — left for an agent to decide"));
        assert!(html.contains("<p>Suggested articles:</p><ul><li>#3 Reset the &lt;VPN&gt; (0.80)"));
        assert!(html.contains("Words that weighed most: vpn, &lt;tunnel&gt;"));
        assert!(
            !html.contains("Similar solved tickets"),
            "no empty headings"
        );
    }

    #[test]
    fn a_skipped_ticket_gets_its_reason_only() {
        let skipped = TicketOutcome {
            outcome: TriageOutcome::Skipped,
            reason: Some("the text is empty".into()),
            ..outcome()
        };
        let html = ticket(&skipped, &Names::new());
        assert!(
            html.ends_with("<p>Not triaged: the text is empty</p>"),
            "{html}"
        );
        assert!(!html.contains("Category"));
    }
}
