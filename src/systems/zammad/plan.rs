//! What Zammad would get for a batch's results, read from Zammad's current tickets and
//! written nowhere: the category where the ticket has none, the priority where allowed and no
//! agent changed the ticket, one internal note; for a clustering pass, a parent ticket per
//! new candidate problem and links to its incidents. [`super::apply`] writes a plan.

use serde_json::{json, Value};

use super::pull::{status, untouched};
use super::{id_of, text_of, Zammad, ZammadError};
use crate::domain::TriageOutcome;
use crate::store::{Store, SystemWrite};
use crate::systems::note;
use crate::systems::{ProblemOutcome, TicketOutcome};

/// What would be written to Zammad.
#[derive(Debug, Default)]
pub struct Plan {
    pub(super) tickets: Vec<TicketPlan>,
    pub(super) problems: Vec<ProblemPlan>,
    /// Writes found in Zammad that ticketlens' store has no record of (a crash came between
    /// the write and the record): recorded when the plan is applied.
    pub(super) found: Vec<SystemWrite>,
}

#[derive(Debug)]
pub(super) struct TicketPlan {
    pub ticket: i64,
    pub text_hash: String,
    /// When Zammad last changed the ticket, as the plan read it: a write finds it unchanged
    /// or leaves it alone.
    pub updated_at: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub(super) enum Step {
    /// Nothing to write, and why.
    Say(String),
    SetCategory(String),
    TagCategory(String),
    SetPriority {
        from: String,
        to: String,
    },
    /// The agents' note (HTML), ending with its reference.
    Note(String),
}

#[derive(Debug)]
pub(super) struct ProblemPlan {
    /// ticketlens' id.
    pub problem: i64,
    pub target: ProblemTarget,
    /// Incidents to link to it (still in Zammad: a link to a removed ticket is refused).
    pub link: Vec<i64>,
}

#[derive(Debug)]
pub(super) enum ProblemTarget {
    New {
        title: String,
        note: String,
    },
    /// The parent ticket made for it earlier: (id, number).
    Existing(i64, String),
}

impl Plan {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.tickets {
            for step in &t.steps {
                lines.push(format!("ticket {}: {}", t.ticket, step.describe()));
            }
        }
        for p in &self.problems {
            let name = match &p.target {
                ProblemTarget::New { title, .. } => {
                    let name = format!("problem for candidate {}", p.problem);
                    lines.push(format!("{name}: new ticket, {title:?}"));
                    name
                }
                ProblemTarget::Existing(id, _) => format!("problem ticket {id}"),
            };
            for ticket in &p.link {
                lines.push(format!("{name}: link ticket {ticket} as its child"));
            }
        }
        lines
    }
}

impl Step {
    pub(super) fn describe(&self) -> String {
        match self {
            Step::Say(text) => text.clone(),
            Step::SetCategory(label) => format!("category = {label}"),
            Step::TagCategory(tag) => format!("tag {tag}"),
            Step::SetPriority { to, .. } => format!("priority = {to}"),
            Step::Note(_) => "internal note".into(),
        }
    }
}

/// The item a ticket's note is recorded under.
pub(super) fn note_item(ticket: i64, text_hash: &str) -> String {
    format!("note:{ticket}:{text_hash}")
}

/// The words that mark a note as the one for this text: looked for before writing.
pub(super) fn note_reference(text_hash: &str) -> String {
    format!("ticketlens ref {}", &text_hash[..text_hash.len().min(16)])
}

/// The tag that marks a candidate problem's ticket.
pub(super) fn problem_tag(problem: i64) -> String {
    format!("ticketlens-problem-{problem}")
}

impl Zammad {
    /// What Zammad would get for `batch`; nothing is written.
    pub async fn plan(&self, store: &Store, batch: &[TicketOutcome]) -> Result<Plan, ZammadError> {
        let mut plan = Plan::default();
        let mut priorities: Option<Vec<String>> = None;
        for outcome in batch {
            let id = outcome.ticket_id;
            let item = note_item(id, &outcome.text_hash);
            let mut t = TicketPlan {
                ticket: id,
                text_hash: outcome.text_hash.clone(),
                updated_at: None,
                steps: Vec::new(),
            };
            if store.system_write(&self.source, &item).await?.is_some() {
                t.steps
                    .push(Step::Say("already written for this text; nothing".into()));
                plan.tickets.push(t);
                continue;
            }
            let Some(ticket) = self.ticket(id).await? else {
                t.steps
                    .push(Step::Say("no longer in Zammad; nothing".into()));
                plan.tickets.push(t);
                continue;
            };
            t.updated_at = text_of(&ticket, "updated_at").map(str::to_owned);
            if outcome.outcome == TriageOutcome::Skipped {
                let why = note::reason(outcome);
                t.steps.push(Step::Say(format!("not triaged ({why})")));
            }
            if let Some(label) = TicketOutcome::applied(&outcome.category) {
                t.steps.push(match self.category(&ticket, id).await? {
                    Some(_) => Step::Say("category already set; kept".into()),
                    None if self.config.category_field.is_empty() => {
                        Step::TagCategory(format!("{}{label}", self.config.category_tag))
                    }
                    None => Step::SetCategory(label.to_owned()),
                });
            }
            if let Some(label) =
                TicketOutcome::applied(&outcome.urgency).filter(|_| self.config.write_priority)
            {
                if priorities.is_none() {
                    priorities = Some(self.priorities().await?);
                }
                let known = priorities.as_deref().expect("read above");
                let from = text_of(&ticket, "priority").unwrap_or_default().to_owned();
                t.steps.extend(if !untouched(&ticket) {
                    Some(Step::Say("an agent has worked on it; priority kept".into()))
                } else if from == label {
                    None
                } else if !known.iter().any(|p| p == label) {
                    Some(Step::Say(format!(
                        "priority {label:?} is not in Zammad; kept"
                    )))
                } else {
                    Some(Step::SetPriority {
                        from,
                        to: label.to_owned(),
                    })
                });
            }
            if self.config.notes {
                let reference = note_reference(&outcome.text_hash);
                match self.find_note(id, &reference).await? {
                    Some(article) => {
                        t.steps.push(Step::Say(format!(
                            "note already in Zammad (article {article}); recorded"
                        )));
                        plan.found.push(self.record(item, article));
                    }
                    None => {
                        // Named as the store holds them (read from Zammad): no call per name.
                        let names = store.suggestion_titles(&outcome.suggestions).await?;
                        let html = note::ticket(outcome, &names);
                        let html = format!("{html}<p><small>{reference}</small></p>");
                        t.steps.push(Step::Note(html));
                    }
                }
            }
            plan.tickets.push(t);
        }
        Ok(plan)
    }

    /// The article id of the internal note carrying `reference`, if Zammad has one.
    pub(super) async fn find_note(
        &self,
        ticket: i64,
        reference: &str,
    ) -> Result<Option<i64>, ZammadError> {
        Ok(self.articles(ticket).await?.iter().find_map(|a| {
            let internal = a.get("internal").and_then(Value::as_bool) == Some(true);
            let body = text_of(a, "body").unwrap_or_default();
            (internal && body.contains(reference))
                .then(|| id_of(a, "id"))
                .flatten()
        }))
    }

    /// The names of Zammad's active priorities.
    async fn priorities(&self) -> Result<Vec<String>, ZammadError> {
        let answer = self.client.get("/ticket_priorities").await?;
        Ok(answer
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|p| p.get("active").and_then(Value::as_bool) != Some(false))
                    .filter_map(|p| text_of(p, "name").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The parent ticket of each new candidate, and the links of incidents not linked yet;
    /// nothing when `problems` is off. Nothing is written.
    pub async fn plan_problems(
        &self,
        store: &Store,
        problems: &[ProblemOutcome],
    ) -> Result<Plan, ZammadError> {
        let mut plan = Plan::default();
        if !self.config.problems {
            return Ok(plan);
        }
        for p in problems {
            let item = format!("problem:{}", p.id);
            let recorded = store.system_write(&self.source, &item).await?;
            let known = match recorded.and_then(|id| id.parse::<i64>().ok()) {
                Some(id) => Some(id),
                None => {
                    let found = self.find_problem(p.id).await?;
                    if let Some(id) = found {
                        plan.found.push(self.record(item, id));
                    }
                    found
                }
            };
            let target = match known {
                Some(id) => match self.ticket(id).await? {
                    // A problem ticket that was closed, merged or removed is the problem
                    // manager's: nothing more is linked to it.
                    Some(t) if is_open(&t) => ProblemTarget::Existing(
                        id,
                        text_of(&t, "number").unwrap_or_default().to_owned(),
                    ),
                    _ => continue,
                },
                None => ProblemTarget::New {
                    title: p.title.clone(),
                    note: note::problem(p),
                },
            };
            let children = match &target {
                ProblemTarget::Existing(id, _) => self.children(*id).await?,
                ProblemTarget::New { .. } => Vec::new(),
            };
            let mut link = Vec::new();
            for &ticket in &p.tickets {
                let item = format!("link:{}:{ticket}", p.id);
                if children.contains(&ticket)
                    || store.system_write(&self.source, &item).await?.is_some()
                {
                    continue;
                }
                if self.ticket(ticket).await?.is_some() {
                    link.push(ticket);
                }
            }
            if matches!(target, ProblemTarget::New { .. }) || !link.is_empty() {
                plan.problems.push(ProblemPlan {
                    problem: p.id,
                    target,
                    link,
                });
            }
        }
        Ok(plan)
    }

    /// The ticket tagged as this candidate's, if Zammad has one (made by a pass that crashed
    /// before recording it).
    async fn find_problem(&self, problem: i64) -> Result<Option<i64>, ZammadError> {
        let tag = problem_tag(problem);
        // A condition search, as `pull` reads: it works with or without Elasticsearch.
        let query = json!({
            "condition": { "ticket.tags": { "operator": "contains all", "value": tag } },
            "expand": true,
            "per_page": 5,
        });
        let found = self.client.post("/tickets/search", query).await?;
        for candidate in found.as_array().into_iter().flatten() {
            // Checked again: a search is only as exact as the desk's search backend.
            if let Some(id) = id_of(candidate, "id") {
                if self.tags(id).await?.contains(&tag) {
                    return Ok(Some(id));
                }
            }
        }
        Ok(None)
    }

    /// The tickets linked to `parent` as its children.
    pub(super) async fn children(&self, parent: i64) -> Result<Vec<i64>, ZammadError> {
        let path = format!("/links?link_object=Ticket&link_object_value={parent}");
        let answer = self.client.get(&path).await?;
        Ok(answer
            .get("links")
            .and_then(Value::as_array)
            .map(|links| {
                links
                    .iter()
                    .filter(|l| text_of(l, "link_type") == Some("child"))
                    .filter_map(|l| id_of(l, "link_object_value"))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Neither closed, merged nor removed.
fn is_open(ticket: &Value) -> bool {
    status(text_of(ticket, "state").unwrap_or("open")).is_some_and(|s| !s.is_done())
}
