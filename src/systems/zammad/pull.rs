//! Reading Zammad into ticketlens' own tables: tickets changed since the last pass (a
//! condition search on `updated_at`, which works with or without Elasticsearch), each with
//! its articles (the first is what the customer wrote, the last public reply of an agent on a
//! closed ticket its resolution) and its category.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{id_of, text_of, Zammad, ZammadError};
use crate::domain::{TicketKind, TicketStatus};
use crate::store::{NewTicket, Store};

impl Zammad {
    /// Reads what changed in Zammad since the last pass into `store`; returns how many
    /// tickets were read (a ticket whose text did not change is read but not queued).
    pub async fn pull(&self, store: &Store) -> Result<usize, ZammadError> {
        let overlap = std::time::Duration::from_secs(self.config.overlap_secs);
        let since = store.source_read_from(&self.source, overlap).await?;
        let problems = self.problem_tickets(store).await?;
        let mut latest = None;
        let mut read = 0;
        for page in 1.. {
            let query = json!({
                "condition": {
                    "ticket.updated_at": {
                        "operator": "after (absolute)",
                        "value": since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    }
                },
                "sort_by": "updated_at",
                "order_by": "asc",
                "expand": true,
                "page": page,
                "per_page": self.config.page_size,
            });
            let found = self.client.post("/tickets/search", query).await?;
            let tickets = found.as_array().ok_or_else(|| ZammadError::Shape {
                path: "/tickets/search".into(),
                message: "not a list of tickets".into(),
            })?;
            for ticket in tickets {
                if let Some(changed) = time_of(ticket, "updated_at") {
                    latest = latest.max(Some(changed));
                }
                read += usize::from(self.read_ticket(store, ticket, &problems).await?.is_some());
            }
            if tickets.len() < self.config.page_size as usize {
                break;
            }
        }
        if let Some(latest) = latest {
            store.set_source_position(&self.source, latest).await?;
        }
        Ok(read)
    }

    /// Reads one ticket now (a webhook named it); whether it exists in Zammad.
    pub async fn pull_ticket(&self, store: &Store, id: i64) -> Result<bool, ZammadError> {
        let problems = self.problem_tickets(store).await?;
        match self.ticket(id).await? {
            Some(ticket) => Ok(self.read_ticket(store, &ticket, &problems).await?.is_some()),
            None => Ok(false),
        }
    }

    /// The tickets ticketlens made for candidate problems: not incidents to triage.
    async fn problem_tickets(&self, store: &Store) -> Result<HashSet<String>, ZammadError> {
        Ok(store.system_ids(&self.source, "problem:").await?)
    }

    /// One ticket as Zammad gives it (`expand=true`: names beside ids); `None` when gone.
    pub(super) async fn ticket(&self, id: i64) -> Result<Option<Value>, ZammadError> {
        match self.client.get(&format!("/tickets/{id}?expand=true")).await {
            Ok(ticket) => Ok(Some(ticket)),
            Err(ZammadError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A ticket's articles, oldest first.
    pub(super) async fn articles(&self, id: i64) -> Result<Vec<Value>, ZammadError> {
        let path = format!("/ticket_articles/by_ticket/{id}");
        match self.client.get(&path).await? {
            Value::Array(articles) => Ok(articles),
            _ => Err(ZammadError::Shape {
                path,
                message: "not a list of articles".into(),
            }),
        }
    }

    /// A ticket's tags.
    pub(super) async fn tags(&self, id: i64) -> Result<Vec<String>, ZammadError> {
        let path = format!("/tags?object=Ticket&o_id={id}");
        let answer = self.client.get(&path).await?;
        Ok(answer
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The ticket's category as Zammad holds it: the attribute, or the tag.
    pub(super) async fn category(
        &self,
        ticket: &Value,
        id: i64,
    ) -> Result<Option<String>, ZammadError> {
        let field = &self.config.category_field;
        if !field.is_empty() {
            let value = ticket.get(field.as_str());
            // A multi-select holds a list: its first value is the category.
            let value = value
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .or(value);
            return Ok(value
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned));
        }
        let prefix = &self.config.category_tag;
        Ok(self
            .tags(id)
            .await?
            .into_iter()
            .find_map(|t| t.strip_prefix(prefix.as_str()).map(str::to_owned))
            .filter(|c| !c.is_empty()))
    }

    /// Writes one ticket into the store; `None` when it was left out (removed in Zammad, or
    /// not shaped as a ticket: said in the log, read again when next changed).
    async fn read_ticket(
        &self,
        store: &Store,
        ticket: &Value,
        problems: &HashSet<String>,
    ) -> Result<Option<i64>, ZammadError> {
        let Some(id) = id_of(ticket, "id") else {
            tracing::warn!("left a Zammad ticket without an id");
            return Ok(None);
        };
        let Some(status) = status(text_of(ticket, "state").unwrap_or("open")) else {
            return Ok(None);
        };
        if problems.contains(&id.to_string()) {
            return Ok(None);
        }
        let articles = self.articles(id).await?;
        let urgency_free = !status.is_done() && self.config.write_priority && untouched(ticket);
        let new = NewTicket {
            id: Some(id),
            subject: text_of(ticket, "title").map(str::to_owned),
            body: articles
                .iter()
                .find(|a| text_of(a, "sender") == Some("Customer"))
                .or(articles.first())
                .and_then(|a| text_of(a, "body"))
                .map(str::to_owned),
            requester: id_of(ticket, "customer_id").map(|u| format!("zammad-user-{u}")),
            kind: TicketKind::Incident.as_str().into(),
            status: status.as_str().into(),
            category: self.category(ticket, id).await?,
            urgency: if urgency_free {
                None
            } else {
                text_of(ticket, "priority").map(str::to_owned)
            },
            impact: None,
            priority: None,
            resolution: status
                .is_done()
                .then(|| {
                    articles.iter().rev().find(|a| {
                        text_of(a, "sender") == Some("Agent")
                            && a.get("internal").and_then(Value::as_bool) == Some(false)
                    })
                })
                .flatten()
                .and_then(|a| text_of(a, "body"))
                .map(|b| crate::text::strip_html(b).trim().to_owned()),
            created_at: time_of(ticket, "created_at").unwrap_or_else(Utc::now),
            resolved_at: status
                .is_done()
                .then(|| time_of(ticket, "close_at").or(time_of(ticket, "updated_at")))
                .flatten(),
        };
        store.mirror_ticket(&new).await?;
        Ok(Some(id))
    }
}

/// Zammad's state as ticketlens names it; `None` for a removed ticket. A state of a team's
/// own reads as open.
pub(super) fn status(state: &str) -> Option<TicketStatus> {
    Some(match state {
        "new" => TicketStatus::New,
        "closed" | "merged" => TicketStatus::Closed,
        "removed" => return None,
        s if s.starts_with("pending") => TicketStatus::Pending,
        _ => TicketStatus::Open,
    })
}

/// No agent has changed the ticket: nobody but its creator updated it, and nobody owns it
/// (Zammad's user 1 is "nobody").
pub(super) fn untouched(ticket: &Value) -> bool {
    let owner = id_of(ticket, "owner_id");
    id_of(ticket, "updated_by_id") == id_of(ticket, "created_by_id")
        && matches!(owner, None | Some(1))
}

pub(super) fn time_of(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    text_of(value, key)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zammads_states_read_as_ticketlens_statuses() {
        assert_eq!(status("new"), Some(TicketStatus::New));
        assert_eq!(status("pending reminder"), Some(TicketStatus::Pending));
        assert_eq!(status("pending close"), Some(TicketStatus::Pending));
        assert_eq!(status("merged"), Some(TicketStatus::Closed));
        assert_eq!(status("waiting for parts"), Some(TicketStatus::Open));
        assert_eq!(status("removed"), None);
    }

    #[test]
    fn a_ticket_an_agent_took_or_edited_is_touched() {
        let t = |owner: i64, by: i64| json!({"owner_id": owner, "created_by_id": 7, "updated_by_id": by});
        assert!(untouched(&t(1, 7)));
        assert!(!untouched(&t(3, 7)));
        assert!(!untouched(&t(1, 3)));
    }
}
