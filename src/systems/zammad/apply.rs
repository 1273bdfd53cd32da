//! Writing a [`Plan`] through Zammad's API. Each change looks at the ticket first, so that
//! what an agent did since the plan stands; each note and problem ticket is recorded (the
//! records go into ticketlens' store with the batch's acknowledgement), and where the record
//! is missing Zammad was asked before writing (see [`super::plan`]).

use serde_json::json;

use super::plan::{note_item, problem_tag, Plan, ProblemTarget, Step, TicketPlan};
use super::{id_of, text_of, Zammad, ZammadError};
use crate::store::SystemWrite;
use crate::systems::Applied;

impl Zammad {
    /// Writes `plan`; one line per change written, and the writes to record.
    pub async fn apply(&self, plan: &Plan) -> Result<Applied, ZammadError> {
        let mut applied = Applied {
            lines: Vec::new(),
            records: plan.found.clone(),
        };
        for t in &plan.tickets {
            self.apply_ticket(t, &mut applied).await?;
        }
        for p in &plan.problems {
            let (id, number) = match &p.target {
                ProblemTarget::Existing(id, number) => (*id, number.clone()),
                ProblemTarget::New { title, note } => {
                    let made = self
                        .client
                        .post(
                            "/tickets",
                            json!({
                                "title": title,
                                "group": self.config.problem_group,
                                "customer_id": format!("guess:{}", self.config.problem_customer),
                                // Made with the ticket, in one call: how a replay finds this
                                // ticket if the record of it is lost.
                                "tags": problem_tag(p.problem),
                                "article": {
                                    "subject": title,
                                    "body": note,
                                    "content_type": "text/html",
                                    "type": "note",
                                    "internal": true,
                                },
                            }),
                        )
                        .await?;
                    let id = id_of(&made, "id").ok_or_else(|| ZammadError::Shape {
                        path: "/tickets".into(),
                        message: "the new ticket has no id".into(),
                    })?;
                    applied
                        .records
                        .push(self.record(format!("problem:{}", p.problem), id));
                    applied
                        .lines
                        .push(format!("problem ticket {id}: new, {title:?}"));
                    let number = text_of(&made, "number").unwrap_or_default().to_owned();
                    (id, number)
                }
            };
            // A ticket made a moment ago has none.
            let children = match &p.target {
                ProblemTarget::Existing(..) => self.children(id).await?,
                ProblemTarget::New { .. } => Vec::new(),
            };
            for ticket in &p.link {
                if !children.contains(ticket) {
                    // "number is the parent of ticket": Zammad's link reads source-is-target's.
                    self.client
                        .post(
                            "/links/add",
                            json!({
                                "link_type": "parent",
                                "link_object_source": "Ticket",
                                "link_object_source_number": number,
                                "link_object_target": "Ticket",
                                "link_object_target_value": ticket,
                            }),
                        )
                        .await?;
                    applied
                        .lines
                        .push(format!("problem ticket {id}: link ticket {ticket}"));
                }
                applied
                    .records
                    .push(self.record(format!("link:{}:{ticket}", p.problem), id));
            }
        }
        Ok(applied)
    }

    async fn apply_ticket(&self, t: &TicketPlan, applied: &mut Applied) -> Result<(), ZammadError> {
        let ticket = t.ticket;
        let mut say = |what: String| applied.lines.push(format!("ticket {ticket}: {what}"));
        let writes = t.steps.iter().any(|s| !matches!(s, Step::Say(_)));
        if !writes {
            for step in &t.steps {
                say(step.describe());
            }
            return Ok(());
        }
        // Looked at again just before writing: an agent's change since the plan stands.
        let Some(now) = self.ticket(ticket).await? else {
            say("no longer in Zammad; nothing".into());
            return Ok(());
        };
        let unchanged = text_of(&now, "updated_at") == t.updated_at.as_deref();
        let mut note = None;
        for step in &t.steps {
            match step {
                Step::Say(_) => {}
                Step::SetCategory(label) => {
                    if self.category(&now, ticket).await?.is_some() {
                        say("category set meanwhile; kept".into());
                        continue;
                    }
                    let field = self.config.category_field.clone();
                    self.client
                        .put(&format!("/tickets/{ticket}"), json!({ field: label }))
                        .await?;
                }
                Step::TagCategory(tag) => {
                    if self.category(&now, ticket).await?.is_some() {
                        say("category set meanwhile; kept".into());
                        continue;
                    }
                    self.add_tag(ticket, tag).await?;
                }
                Step::SetPriority { from, to } => {
                    let current = text_of(&now, "priority").unwrap_or_default();
                    if !unchanged || current != from {
                        say("changed meanwhile; priority kept".into());
                        continue;
                    }
                    self.client
                        .put(&format!("/tickets/{ticket}"), json!({ "priority": to }))
                        .await?;
                }
                Step::Note(html) => {
                    note = Some(html);
                    continue;
                }
            }
            say(step.describe());
        }
        // The note last: once it is in Zammad, a replay of this batch finds it.
        if let Some(html) = note {
            let article = self
                .client
                .post(
                    "/ticket_articles",
                    json!({
                        "ticket_id": ticket,
                        "body": html,
                        "content_type": "text/html",
                        "type": "note",
                        "internal": true,
                    }),
                )
                .await?;
            let id = id_of(&article, "id").unwrap_or_default();
            say(format!("internal note {id}"));
            let record: SystemWrite = self.record(note_item(ticket, &t.text_hash), id);
            applied.records.push(record);
        }
        Ok(())
    }

    async fn add_tag(&self, ticket: i64, tag: &str) -> Result<(), ZammadError> {
        self.client
            .post(
                "/tags/add",
                json!({ "item": tag, "object": "Ticket", "o_id": ticket }),
            )
            .await?;
        Ok(())
    }
}
