//! Writing a [`Plan`] into GLPI's tables in one transaction, as GLPI records changes: the
//! field, then a history row for it; a follow-up, then its two history rows. Every change is
//! guarded in its statement, so that what an agent did between the plan and its writing
//! stands, and a ticket's results are recorded in `ticketlens_written` with them, so that a
//! replayed batch writes nothing twice.

use sqlx::{MySql, Transaction};

use super::plan::{problem_is_open, Plan, ProblemTarget, Step, TicketPlan};
use super::values::{self, Version};
use super::{Glpi, GlpiError};

impl Glpi {
    /// Writes `plan`, all of it or nothing; returns one line per change written.
    pub async fn apply(&self, plan: &Plan) -> Result<Vec<String>, GlpiError> {
        let mut tx = self.begin().await?;
        let mut lines = Vec::new();
        for t in &plan.tickets {
            self.apply_ticket(&mut tx, t, &mut lines).await?;
        }
        for p in &plan.problems {
            let id = match &p.target {
                ProblemTarget::Existing(id) => {
                    // In the write's transaction: a problem closed since the plan gets
                    // no new links.
                    if !problem_is_open(&mut *tx, *id).await? {
                        continue;
                    }
                    *id
                }
                ProblemTarget::New {
                    title,
                    name,
                    content,
                } => {
                    let id = self
                        .create_problem(&mut tx, p.problem, name, content)
                        .await?;
                    lines.push(format!("problem {id}: new, {title:?}"));
                    id
                }
            };
            for &ticket in &p.link {
                if self.link_problem(&mut tx, id, ticket).await? {
                    lines.push(format!("problem {id}: link ticket {ticket}"));
                }
            }
        }
        tx.commit().await?;
        Ok(lines)
    }

    async fn apply_ticket(
        &self,
        tx: &mut Transaction<'_, MySql>,
        t: &TicketPlan,
        lines: &mut Vec<String>,
    ) -> Result<(), GlpiError> {
        let ticket = t.ticket;
        let say = |lines: &mut Vec<String>, what: &dyn std::fmt::Display| {
            lines.push(format!("ticket {ticket}: {what}"));
        };
        if !t.write {
            for step in &t.steps {
                say(lines, step);
            }
            return Ok(());
        }
        let first = sqlx::query(
            "INSERT IGNORE INTO ticketlens_written (tickets_id, text_sha256) VALUES (?, ?)",
        )
        .bind(ticket)
        .bind(&t.text_hash)
        .execute(&mut **tx)
        .await?;
        if first.rows_affected() == 0 {
            say(lines, &"already written for this text; nothing");
            return Ok(());
        }
        for step in &t.steps {
            match step {
                // Said as planned: nothing to write.
                Step::Note(_) => {}
                Step::SetCategory { id, stored, .. } => {
                    // An agent who set one since the plan keeps it.
                    let set = sqlx::query(
                        "UPDATE glpi_tickets SET itilcategories_id = ?, date_mod = NOW() \
                         WHERE id = ? AND itilcategories_id = 0",
                    )
                    .bind(id)
                    .bind(ticket)
                    .execute(&mut **tx)
                    .await?;
                    if set.rows_affected() == 0 {
                        say(lines, &"category set meanwhile; kept");
                        continue;
                    }
                    // As GLPI logs a dropdown: its full name and id (on 11 the ids beside).
                    let new = self.version.category_log(Some(stored), *id);
                    let old = self.version.category_log(None, 0);
                    let row = LogRow {
                        ids: Some((0, *id)),
                        ..LogRow::field(ticket, values::OPTION_CATEGORY, old, new)
                    };
                    self.log(tx, row).await?;
                }
                Step::SetUrgency {
                    from,
                    urgency,
                    priority,
                } => {
                    // Guarded by the values the plan read: changed since, an agent's stand.
                    let set = sqlx::query(
                        "UPDATE glpi_tickets SET urgency = ?, priority = ?, date_mod = NOW() \
                         WHERE id = ? AND urgency = ? AND priority = ?",
                    )
                    .bind(urgency.number())
                    .bind(priority.number())
                    .bind(ticket)
                    .bind(from.urgency)
                    .bind(from.priority)
                    .execute(&mut **tx)
                    .await?;
                    if set.rows_affected() == 0 {
                        say(lines, &"urgency changed meanwhile; kept");
                        continue;
                    }
                    let (old, new) = (from.urgency.to_string(), urgency.number().to_string());
                    let row = LogRow::field(ticket, values::OPTION_URGENCY, old, new);
                    self.log(tx, row).await?;
                    if from.priority != priority.number() {
                        let (old, new) = (from.priority.to_string(), priority.number().to_string());
                        let row = LogRow::field(ticket, values::OPTION_PRIORITY, old, new);
                        self.log(tx, row).await?;
                    }
                }
                Step::LinkArticle(article) => {
                    let linked = sqlx::query(
                        "INSERT INTO glpi_knowbaseitems_items \
                         (knowbaseitems_id, itemtype, items_id, date_creation, date_mod) \
                         SELECT ?, 'Ticket', ?, NOW(), NOW() FROM DUAL WHERE NOT EXISTS \
                         (SELECT 1 FROM glpi_knowbaseitems_items WHERE knowbaseitems_id = ? \
                         AND itemtype = 'Ticket' AND items_id = ?)",
                    )
                    .bind(article)
                    .bind(ticket)
                    .bind(article)
                    .bind(ticket)
                    .execute(&mut **tx)
                    .await?;
                    if linked.rows_affected() == 0 {
                        continue;
                    }
                    self.log_relation(tx, ("KnowbaseItem", *article), ("Ticket", ticket))
                        .await?;
                }
                Step::Followup(content) => {
                    let id = self.add_followup(tx, t, content).await?;
                    say(lines, &format!("private follow-up {id}"));
                    continue;
                }
            }
            say(lines, step);
        }
        Ok(())
    }

    /// The follow-up, its history rows, and its id recorded with what was written.
    async fn add_followup(
        &self,
        tx: &mut Transaction<'_, MySql>,
        t: &TicketPlan,
        content: &str,
    ) -> Result<u64, GlpiError> {
        let ticket = t.ticket;
        let followup = sqlx::query(
            "INSERT INTO glpi_itilfollowups (itemtype, items_id, date, users_id, content, \
             is_private, requesttypes_id, date_mod, date_creation, timeline_position) \
             VALUES ('Ticket', ?, NOW(), 0, ?, 1, 0, NOW(), NOW(), 1)",
        )
        .bind(ticket)
        .bind(content)
        .execute(&mut **tx)
        .await?
        .last_insert_id();
        // GLPI records a follow-up twice on its ticket: the sub-item, and a message.
        for (action, new) in [
            (values::HISTORY_ADD_SUBITEM, followup.to_string()),
            (
                values::HISTORY_LOG_SIMPLE_MESSAGE,
                format!("Followup ({followup})"),
            ),
        ] {
            let row = LogRow {
                link: "ITILFollowup",
                action,
                new,
                ..LogRow::field(ticket, 0, String::new(), String::new())
            };
            self.log(tx, row).await?;
        }
        sqlx::query("UPDATE glpi_tickets SET date_mod = NOW() WHERE id = ?")
            .bind(ticket)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE ticketlens_written SET followups_id = ? \
             WHERE tickets_id = ? AND text_sha256 = ?",
        )
        .bind(followup)
        .bind(ticket)
        .bind(&t.text_hash)
        .execute(&mut **tx)
        .await?;
        Ok(followup)
    }

    /// The GLPI problem of a candidate, unless one was made for it since the plan.
    async fn create_problem(
        &self,
        tx: &mut Transaction<'_, MySql>,
        problem: i64,
        name: &str,
        content: &str,
    ) -> Result<i64, GlpiError> {
        let made: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(problems_id AS SIGNED) FROM ticketlens_problems WHERE problem_id = ? \
             FOR UPDATE",
        )
        .bind(problem)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = made {
            return Ok(id);
        }
        let id = sqlx::query(
            "INSERT INTO glpi_problems (name, entities_id, is_recursive, status, content, date, \
             date_mod, date_creation, urgency, impact, priority) \
             VALUES (?, 0, 0, ?, ?, NOW(), NOW(), NOW(), 3, 3, 3)",
        )
        .bind(name)
        .bind(values::PROBLEM_NEW)
        .bind(content)
        .execute(&mut **tx)
        .await?
        .last_insert_id() as i64;
        sqlx::query("INSERT INTO ticketlens_problems (problem_id, problems_id) VALUES (?, ?)")
            .bind(problem)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let created = LogRow {
            itemtype: "Problem",
            link: "0",
            action: values::HISTORY_CREATE_ITEM,
            ..LogRow::field(id, 0, String::new(), String::new())
        };
        self.log(tx, created).await?;
        Ok(id)
    }

    /// Links a ticket to a problem, once: a link ticketlens made and an agent removed stays
    /// removed. Whether a link was added.
    async fn link_problem(
        &self,
        tx: &mut Transaction<'_, MySql>,
        problem: i64,
        ticket: i64,
    ) -> Result<bool, GlpiError> {
        let first = sqlx::query(
            "INSERT IGNORE INTO ticketlens_problem_tickets (problems_id, tickets_id) \
             VALUES (?, ?)",
        )
        .bind(problem)
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
        if first.rows_affected() == 0 {
            return Ok(false);
        }
        let linked = sqlx::query(
            "INSERT IGNORE INTO glpi_problems_tickets (problems_id, tickets_id) VALUES (?, ?)",
        )
        .bind(problem)
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
        if linked.rows_affected() == 0 {
            return Ok(false);
        }
        self.log_relation(tx, ("Problem", problem), ("Ticket", ticket))
            .await?;
        Ok(true)
    }

    /// A row of an item's history in GLPI, under ticketlens' name; on GLPI 11 with the raw
    /// ids of a changed dropdown beside its names (NULL for other fields).
    async fn log(&self, tx: &mut Transaction<'_, MySql>, row: LogRow) -> Result<(), GlpiError> {
        let sql = match self.version {
            Version::Ten => {
                "INSERT INTO glpi_logs (itemtype, items_id, itemtype_link, linked_action, \
                 user_name, date_mod, id_search_option, old_value, new_value) \
                 VALUES (?, ?, ?, ?, ?, NOW(), ?, ?, ?)"
            }
            Version::Eleven { .. } => {
                "INSERT INTO glpi_logs (itemtype, items_id, itemtype_link, linked_action, \
                 user_name, date_mod, id_search_option, old_value, new_value, old_id, new_id) \
                 VALUES (?, ?, ?, ?, ?, NOW(), ?, ?, ?, ?, ?)"
            }
        };
        let mut query = sqlx::query(sql)
            .bind(row.itemtype)
            .bind(row.items_id)
            .bind(row.link)
            .bind(row.action)
            .bind(&self.config.user_name)
            .bind(row.option)
            .bind(truncate(&row.old))
            .bind(truncate(&row.new));
        if matches!(self.version, Version::Eleven { .. }) {
            query = query
                .bind(row.ids.map(|(old, _)| old))
                .bind(row.ids.map(|(_, new)| new));
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    /// A link between two items, in both items' history, each naming the other as
    /// "name (id)" as GLPI does.
    async fn log_relation(
        &self,
        tx: &mut Transaction<'_, MySql>,
        a: (&'static str, i64),
        b: (&'static str, i64),
    ) -> Result<(), GlpiError> {
        for (this, other) in [(a, b), (b, a)] {
            let table = match other.0 {
                "Ticket" => "glpi_tickets",
                "Problem" => "glpi_problems",
                _ => "glpi_knowbaseitems",
            };
            let name: Option<Option<String>> =
                sqlx::query_scalar(&format!("SELECT name FROM {table} WHERE id = ?"))
                    .bind(other.1)
                    .fetch_optional(&mut **tx)
                    .await?;
            let row = LogRow {
                itemtype: this.0,
                items_id: this.1,
                link: other.0,
                action: values::HISTORY_ADD_RELATION,
                option: 0,
                old: String::new(),
                new: format!(
                    "{} ({})",
                    self.version
                        .history_name(&name.flatten().unwrap_or_default()),
                    other.1
                ),
                ids: None,
            };
            self.log(tx, row).await?;
        }
        Ok(())
    }
}

/// One row of `glpi_logs`.
struct LogRow {
    itemtype: &'static str,
    items_id: i64,
    link: &'static str,
    action: i64,
    /// The search option of a changed field (0 for links and sub-items).
    option: i64,
    old: String,
    new: String,
    /// A dropdown's (old, new) ids, which GLPI 11 keeps beside the names.
    ids: Option<(i64, i64)>,
}

impl LogRow {
    /// A ticket field changed from `old` to `new`.
    fn field(ticket: i64, option: i64, old: String, new: String) -> Self {
        Self {
            itemtype: "Ticket",
            items_id: ticket,
            link: "",
            action: values::HISTORY_FIELD,
            option,
            old,
            new,
            ids: None,
        }
    }
}

/// GLPI cuts history values to 180 characters.
fn truncate(value: &str) -> String {
    value.chars().take(180).collect()
}
