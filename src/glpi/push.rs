//! Writing a batch's results into GLPI's tables, in one transaction, as GLPI records them: the
//! category where the ticket has none, the urgency (with GLPI's priority) where allowed and no
//! agent touched the ticket, a private follow-up for the agents, links to the suggested
//! knowledge-base items, and a history row for every field changed. Candidate problems become
//! GLPI problems (status new) with their tickets linked.

use std::collections::HashMap;
use std::fmt::Write as _;

use sqlx::{MySql, Row, Transaction};

use super::values::{self, Level};
use super::{Glpi, GlpiError};
use crate::store::{SuggestionRecord, TriageRecord};

/// One triaged ticket's results, as the pipeline wrote them to its own tables.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub record: TriageRecord,
    /// sha256 of the text triaged: the key that makes a replay write nothing twice.
    pub text_hash: String,
    pub suggestions: Vec<SuggestionRecord>,
}

/// A candidate problem of a clustering pass.
#[derive(Debug, Clone)]
pub struct ProblemOutcome {
    /// ticketlens' id.
    pub id: i64,
    pub title: String,
    pub keywords: Vec<String>,
    pub tickets: Vec<i64>,
    pub requesters: usize,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub last_seen: chrono::DateTime<chrono::Utc>,
}

impl Glpi {
    /// Writes `outcomes` to GLPI in one transaction and returns what was written, one line
    /// per change. With `dry_run` the same statements run and are rolled back: the lines say
    /// what would be written, and nothing is.
    pub async fn push(
        &self,
        outcomes: &[Outcome],
        dry_run: bool,
    ) -> Result<Vec<String>, GlpiError> {
        let mut tx = self.begin(dry_run).await?;
        let matrix = priority_matrix(&mut tx).await?;
        let mut plan = Vec::new();
        for outcome in outcomes {
            self.push_one(&mut tx, outcome, &matrix, &mut plan, dry_run)
                .await?;
        }
        Glpi::finish(tx, dry_run).await?;
        Ok(plan)
    }

    async fn push_one(
        &self,
        tx: &mut Transaction<'_, MySql>,
        outcome: &Outcome,
        matrix: &PriorityMatrix,
        plan: &mut Vec<String>,
        dry_run: bool,
    ) -> Result<(), GlpiError> {
        let record = &outcome.record;
        let ticket = record.ticket_id;
        let first = sqlx::query(
            "INSERT IGNORE INTO ticketlens_written (tickets_id, text_sha256) VALUES (?, ?)",
        )
        .bind(ticket)
        .bind(&outcome.text_hash)
        .execute(&mut **tx)
        .await?;
        if first.rows_affected() == 0 {
            plan.push(format!(
                "ticket {ticket}: already written for this text; nothing"
            ));
            return Ok(());
        }
        let Some(current) = sqlx::query(
            "SELECT CAST(itilcategories_id AS SIGNED) AS category, \
             CAST(urgency AS SIGNED) AS urgency, CAST(impact AS SIGNED) AS impact, \
             CAST(priority AS SIGNED) AS priority FROM glpi_tickets WHERE id = ? FOR UPDATE",
        )
        .bind(ticket)
        .fetch_optional(&mut **tx)
        .await?
        else {
            plan.push(format!("ticket {ticket}: no longer in GLPI; nothing"));
            return Ok(());
        };
        if record.outcome == "skipped" {
            plan.push(format!("ticket {ticket}: not triaged ({})", reason(record)));
        }
        if record.category_status == "applied" {
            if let Some(label) = &record.category {
                self.set_category(tx, ticket, current.try_get("category")?, label, plan)
                    .await?;
            }
        }
        if self.config.write_urgency && record.urgency_status == "applied" {
            let levels = Levels {
                urgency: current.try_get("urgency")?,
                impact: current.try_get("impact")?,
                priority: current.try_get("priority")?,
            };
            if let Some(level) = record.urgency.as_deref().and_then(Level::from_label) {
                self.set_urgency(tx, ticket, levels, level, matrix, plan)
                    .await?;
            }
        }
        let articles: Vec<i64> = outcome
            .suggestions
            .iter()
            .filter(|s| s.kind == "article")
            .map(|s| s.target_id)
            .collect();
        if self.config.link_articles {
            for &article in &articles {
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
                if linked.rows_affected() == 1 {
                    self.log_relation(tx, ("KnowbaseItem", article), ("Ticket", ticket))
                        .await?;
                    plan.push(format!(
                        "ticket {ticket}: link knowledge-base item {article}"
                    ));
                }
            }
        }
        if self.config.followups {
            let content = self.followup(tx, outcome).await?;
            let followup = sqlx::query(
                "INSERT INTO glpi_itilfollowups (itemtype, items_id, date, users_id, content, \
                 is_private, requesttypes_id, date_mod, date_creation, timeline_position) \
                 VALUES ('Ticket', ?, NOW(), 0, ?, 1, 0, NOW(), NOW(), 1)",
            )
            .bind(ticket)
            .bind(values::to_glpi_html(&content))
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
            .bind(&outcome.text_hash)
            .execute(&mut **tx)
            .await?;
            // A dry run's ids are never used (its rows are rolled back).
            if dry_run {
                plan.push(format!("ticket {ticket}: private follow-up"));
            } else {
                plan.push(format!("ticket {ticket}: private follow-up {followup}"));
            }
        }
        Ok(())
    }

    async fn set_category(
        &self,
        tx: &mut Transaction<'_, MySql>,
        ticket: i64,
        current: i64,
        label: &str,
        plan: &mut Vec<String>,
    ) -> Result<(), GlpiError> {
        if current != 0 {
            plan.push(format!("ticket {ticket}: category already set; kept"));
            return Ok(());
        }
        // Names are stored HTML-encoded (the " > " separator is not): compare them decoded.
        let categories: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT CAST(id AS SIGNED), completename FROM glpi_itilcategories ORDER BY id",
        )
        .fetch_all(&mut **tx)
        .await?;
        let category = categories.into_iter().find_map(|(id, stored)| {
            let stored = stored?;
            (values::from_glpi_html(&stored) == label).then_some((id, stored))
        });
        let Some((id, stored)) = category else {
            plan.push(format!(
                "ticket {ticket}: category {label:?} is not in GLPI; not set"
            ));
            return Ok(());
        };
        // The guard is in the statement: an agent who set one meanwhile keeps it.
        let set = sqlx::query(
            "UPDATE glpi_tickets SET itilcategories_id = ?, date_mod = NOW() \
             WHERE id = ? AND itilcategories_id = 0",
        )
        .bind(id)
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
        if set.rows_affected() == 1 {
            // As GLPI logs a dropdown: its full name (separator encoded) and id; none is
            // "&nbsp; (0)".
            let new = format!("{} ({id})", stored.replace(" > ", " &#62; "));
            let old = "&nbsp; (0)".to_owned();
            self.log(tx, LogRow::field(ticket, values::OPTION_CATEGORY, old, new))
                .await?;
            plan.push(format!("ticket {ticket}: category = {label}"));
        }
        Ok(())
    }

    async fn set_urgency(
        &self,
        tx: &mut Transaction<'_, MySql>,
        ticket: i64,
        levels: Levels,
        urgency: Level,
        matrix: &PriorityMatrix,
        plan: &mut Vec<String>,
    ) -> Result<(), GlpiError> {
        let touched: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM glpi_logs WHERE itemtype = 'Ticket' AND items_id = ? \
             AND linked_action <> ? AND user_name <> ?",
        )
        .bind(ticket)
        .bind(values::HISTORY_CREATE_ITEM)
        .bind(&self.config.user_name)
        .fetch_one(&mut **tx)
        .await?;
        if touched > 0 {
            plan.push(format!(
                "ticket {ticket}: an agent has worked on it; urgency kept"
            ));
            return Ok(());
        }
        if levels.urgency == urgency.number() {
            return Ok(());
        }
        if !matrix.urgency_enabled(urgency) {
            plan.push(format!(
                "ticket {ticket}: urgency {} is not enabled in GLPI; kept",
                urgency.label()
            ));
            return Ok(());
        }
        let impact = Level::from_number(levels.impact).unwrap_or(Level::from_number(3).unwrap());
        let priority = matrix.priority(urgency, impact);
        sqlx::query(
            "UPDATE glpi_tickets SET urgency = ?, priority = ?, date_mod = NOW() WHERE id = ?",
        )
        .bind(urgency.number())
        .bind(priority.number())
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
        let (old, new) = (levels.urgency.to_string(), urgency.number().to_string());
        self.log(tx, LogRow::field(ticket, values::OPTION_URGENCY, old, new))
            .await?;
        if levels.priority != priority.number() {
            let (old, new) = (levels.priority.to_string(), priority.number().to_string());
            self.log(tx, LogRow::field(ticket, values::OPTION_PRIORITY, old, new))
                .await?;
        }
        plan.push(format!(
            "ticket {ticket}: urgency = {}, priority = {}",
            urgency.label(),
            priority.label()
        ));
        Ok(())
    }

    /// The agents' note: what was decided, how sure, why, and what to read.
    async fn followup(
        &self,
        tx: &mut Transaction<'_, MySql>,
        outcome: &Outcome,
    ) -> Result<String, GlpiError> {
        let r = &outcome.record;
        let mut html = format!(
            "<p><strong>ticketlens</strong> triage ({})</p>",
            values::escape(&r.model_version)
        );
        if r.outcome == "skipped" {
            let _ = write!(html, "<p>Not triaged: {}</p>", values::escape(&reason(r)));
            return Ok(html);
        }
        html.push_str("<ul>");
        for (field, label, confidence, status) in [
            (
                "Category",
                &r.category,
                r.category_confidence,
                &r.category_status,
            ),
            (
                "Urgency",
                &r.urgency,
                r.urgency_confidence,
                &r.urgency_status,
            ),
        ] {
            let Some(label) = label else { continue };
            let _ = write!(
                html,
                "<li>{field}: {} ({:.0}% confident) — {}",
                values::escape(label),
                confidence.unwrap_or(0.0) * 100.0,
                status_words(status),
            );
            // Why, against the class's threshold and its record on past tickets.
            let why = r.evidence[field.to_lowercase()]["reason"].as_str();
            if let Some(why) = why {
                let _ = write!(html, "<br><small>{}</small>", values::escape(why));
            }
            html.push_str("</li>");
        }
        html.push_str("</ul>");
        let names = self.names(tx, &outcome.suggestions).await?;
        for (kind, heading) in [
            ("article", "Suggested articles"),
            ("ticket", "Similar solved tickets"),
            ("duplicate", "Possible duplicates"),
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
                        values::escape(name),
                        s.score
                    )
                })
                .collect();
            if !items.is_empty() {
                let _ = write!(html, "<p>{heading}:</p><ul>{}</ul>", items.concat());
            }
        }
        let terms = evidence_terms(&r.evidence);
        if !terms.is_empty() {
            let _ = write!(
                html,
                "<p>Words that weighed most: {}</p>",
                values::escape(&terms.join(", "))
            );
        }
        Ok(html)
    }

    /// Names of the suggested articles and tickets.
    async fn names(
        &self,
        tx: &mut Transaction<'_, MySql>,
        suggestions: &[SuggestionRecord],
    ) -> Result<HashMap<(&'static str, i64), String>, GlpiError> {
        let mut out = HashMap::new();
        for s in suggestions {
            let sql = if s.kind == "article" {
                "SELECT name FROM glpi_knowbaseitems WHERE id = ?"
            } else {
                "SELECT name FROM glpi_tickets WHERE id = ?"
            };
            let name: Option<Option<String>> = sqlx::query_scalar(sql)
                .bind(s.target_id)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(Some(name)) = name {
                out.insert((s.kind, s.target_id), values::from_glpi_html(&name));
            }
        }
        Ok(out)
    }

    /// A row of an item's history in GLPI, under ticketlens' name.
    async fn log(&self, tx: &mut Transaction<'_, MySql>, row: LogRow) -> Result<(), GlpiError> {
        sqlx::query(
            "INSERT INTO glpi_logs (itemtype, items_id, itemtype_link, linked_action, \
             user_name, date_mod, id_search_option, old_value, new_value) \
             VALUES (?, ?, ?, ?, ?, NOW(), ?, ?, ?)",
        )
        .bind(row.itemtype)
        .bind(row.items_id)
        .bind(row.link)
        .bind(row.action)
        .bind(&self.config.user_name)
        .bind(row.option)
        .bind(truncate(&row.old))
        .bind(truncate(&row.new))
        .execute(&mut **tx)
        .await?;
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
                new: format!("{} ({})", name.flatten().unwrap_or_default(), other.1),
            };
            self.log(tx, row).await?;
        }
        Ok(())
    }

    /// Creates the GLPI problem of each new candidate and links its tickets; a candidate
    /// already in GLPI gets its new tickets linked. Returns one line per change.
    pub async fn push_problems(
        &self,
        problems: &[ProblemOutcome],
        dry_run: bool,
    ) -> Result<Vec<String>, GlpiError> {
        let mut tx = self.begin(dry_run).await?;
        let mut plan = Vec::new();
        for p in problems {
            let known: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(problems_id AS SIGNED) FROM ticketlens_problems WHERE problem_id = ?",
            )
            .bind(p.id)
            .fetch_optional(&mut *tx)
            .await?;
            let id = match known {
                Some(id) => {
                    // A problem that was deleted, solved or closed in GLPI is the problem
                    // manager's: nothing more is linked to it.
                    let open: Option<i64> = sqlx::query_scalar(
                        "SELECT CAST(id AS SIGNED) FROM glpi_problems WHERE id = ? \
                         AND is_deleted = 0 AND status NOT IN (5, 6)",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match open {
                        Some(id) => id,
                        None => continue,
                    }
                }
                None => {
                    let id = sqlx::query(
                        "INSERT INTO glpi_problems (name, entities_id, is_recursive, status, \
                         content, date, date_mod, date_creation, urgency, impact, priority) \
                         VALUES (?, 0, 0, ?, ?, NOW(), NOW(), NOW(), 3, 3, 3)",
                    )
                    .bind(values::to_glpi_html(&p.title))
                    .bind(values::PROBLEM_NEW)
                    .bind(values::to_glpi_html(&problem_content(p)))
                    .execute(&mut *tx)
                    .await?
                    .last_insert_id() as i64;
                    sqlx::query(
                        "INSERT INTO ticketlens_problems (problem_id, problems_id) VALUES (?, ?)",
                    )
                    .bind(p.id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    let created = LogRow {
                        itemtype: "Problem",
                        link: "0",
                        action: values::HISTORY_CREATE_ITEM,
                        ..LogRow::field(id, 0, String::new(), String::new())
                    };
                    self.log(&mut tx, created).await?;
                    plan.push(format!("problem {id}: new, {:?}", p.title));
                    id
                }
            };
            for &ticket in &p.tickets {
                let first = sqlx::query(
                    "INSERT IGNORE INTO ticketlens_problem_tickets (problems_id, tickets_id) \
                     VALUES (?, ?)",
                )
                .bind(id)
                .bind(ticket)
                .execute(&mut *tx)
                .await?;
                if first.rows_affected() == 0 {
                    continue;
                }
                let linked = sqlx::query(
                    "INSERT IGNORE INTO glpi_problems_tickets (problems_id, tickets_id) \
                     VALUES (?, ?)",
                )
                .bind(id)
                .bind(ticket)
                .execute(&mut *tx)
                .await?;
                if linked.rows_affected() == 1 {
                    self.log_relation(&mut tx, ("Problem", id), ("Ticket", ticket))
                        .await?;
                    plan.push(format!("problem {id}: link ticket {ticket}"));
                }
            }
        }
        Glpi::finish(tx, dry_run).await?;
        Ok(plan)
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
        }
    }
}

/// GLPI cuts history values to 180 characters.
fn truncate(value: &str) -> String {
    value.chars().take(180).collect()
}

#[derive(Debug, Clone, Copy)]
struct Levels {
    urgency: i64,
    impact: i64,
    priority: i64,
}

/// GLPI's priority by urgency and impact, from its configuration (`priority_matrix`, JSON
/// keyed by urgency then impact; GLPI's form saves the values as strings), or its default;
/// and the urgencies the administrator enabled (`urgency_mask`, bit `1 << level`).
struct PriorityMatrix {
    levels: HashMap<(i64, i64), i64>,
    urgency_mask: i64,
}

impl PriorityMatrix {
    fn priority(&self, urgency: Level, impact: Level) -> Level {
        self.levels
            .get(&(urgency.number(), impact.number()))
            .and_then(|&p| Level::from_number(p))
            .unwrap_or_else(|| values::default_priority(urgency, impact))
    }

    fn urgency_enabled(&self, urgency: Level) -> bool {
        self.urgency_mask & (1 << urgency.number()) != 0
    }

    /// From the stored JSON; `None` if it is not a matrix.
    fn parse(json: &str) -> Option<HashMap<(i64, i64), i64>> {
        let number = |v: &serde_json::Value| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        };
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let mut levels = HashMap::new();
        for (urgency, row) in value.as_object()? {
            for (impact, priority) in row.as_object()? {
                let key = (urgency.parse().ok()?, impact.parse().ok()?);
                levels.insert(key, number(priority)?);
            }
        }
        Some(levels)
    }
}

async fn priority_matrix(tx: &mut Transaction<'_, MySql>) -> Result<PriorityMatrix, GlpiError> {
    let config: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, value FROM glpi_configs WHERE context = 'core' \
         AND name IN ('priority_matrix', 'urgency_mask')",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut matrix = PriorityMatrix {
        levels: HashMap::new(),
        // GLPI's default: urgencies 1 to 5 enabled.
        urgency_mask: 62,
    };
    for (name, value) in config {
        let value = value.unwrap_or_default();
        match name.as_deref() {
            Some("priority_matrix") => match PriorityMatrix::parse(&value) {
                Some(levels) => matrix.levels = levels,
                None => tracing::warn!(
                    "GLPI's priority_matrix is not a matrix; using GLPI's default one"
                ),
            },
            Some("urgency_mask") => {
                if let Ok(mask) = value.trim().parse() {
                    matrix.urgency_mask = mask;
                }
            }
            _ => {}
        }
    }
    Ok(matrix)
}

fn reason(record: &TriageRecord) -> String {
    record
        .reason
        .clone()
        .unwrap_or_else(|| "no reason given".into())
}

fn status_words(status: &str) -> &'static str {
    match status {
        "applied" => "set by ticketlens",
        "kept" => "an agent's value kept",
        "shadow" => "proposed (shadow mode)",
        "needs_review" => "left for an agent to decide",
        _ => "not predicted",
    }
}

/// The terms that weighed most in the decisions, from the evidence ticketlens records.
fn evidence_terms(evidence: &serde_json::Value) -> Vec<String> {
    let mut terms = Vec::new();
    for field in ["category", "urgency"] {
        if let Some(list) = evidence[field]["terms"].as_array() {
            for term in list.iter().filter_map(|t| t.as_str().or(t[0].as_str())) {
                if !terms.iter().any(|t: &String| t == term) {
                    terms.push(term.to_owned());
                }
            }
        }
    }
    terms.truncate(8);
    terms
}

fn problem_content(p: &ProblemOutcome) -> String {
    let tickets: Vec<String> = p.tickets.iter().map(|t| format!("#{t}")).collect();
    format!(
        "<p>Found by ticketlens: {} incidents from {} requesters between {} and {} look alike.</p>\
         <p>Keywords: {}</p><p>Tickets: {}</p>\
         <p>Review it in GLPI; ticketlens links new incidents of the same pattern as they come.</p>",
        p.tickets.len(),
        p.requesters,
        p.first_seen.format("%Y-%m-%d %H:%M"),
        p.last_seen.format("%Y-%m-%d %H:%M"),
        values::escape(&p.keywords.join(", ")),
        tickets.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::PriorityMatrix;

    #[test]
    fn the_matrix_reads_as_glpi_saves_it_with_numbers_or_strings() {
        let numbers = PriorityMatrix::parse(r#"{"4":{"3":4,"5":5}}"#).unwrap();
        let strings = PriorityMatrix::parse(r#"{"4":{"3":"4","5":"5"}}"#).unwrap();
        assert_eq!(numbers, strings);
        assert_eq!(numbers[&(4, 3)], 4);
        assert!(PriorityMatrix::parse("[1, 2]").is_none());
        assert!(PriorityMatrix::parse(r#"{"4":{"3":"high"}}"#).is_none());
    }
}
