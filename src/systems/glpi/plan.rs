//! What GLPI would get for a batch's results, read from GLPI's current state and written
//! nowhere: the category where the ticket has none, the urgency (with GLPI's priority) where
//! allowed and no agent touched the ticket, links to the suggested knowledge-base items, a
//! private follow-up for the agents; for a clustering pass, new problems and their links.
//! [`super::apply`] writes a plan.

use std::fmt;

use super::matrix::{priority_matrix, Levels};
use super::pull::TOUCHED;
use super::values::{self, Level};
use super::{Glpi, GlpiError};
use crate::domain::{SuggestionKind, TriageOutcome};
use crate::systems::note::{self, Names};
use crate::systems::{ProblemOutcome, TicketOutcome};

/// What would be written to GLPI.
#[derive(Debug, Default)]
pub struct Plan {
    pub(super) tickets: Vec<TicketPlan>,
    pub(super) problems: Vec<ProblemPlan>,
}

/// One ticket's changes.
#[derive(Debug)]
pub(super) struct TicketPlan {
    pub ticket: i64,
    /// With the ticket, what ticketlens records as written (see `ticketlens_written`).
    pub text_hash: String,
    /// `false`: this text's results are already in GLPI (a replayed batch), or the ticket is
    /// gone; the steps only say so.
    pub write: bool,
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub(super) enum Step {
    /// Nothing to write, and why.
    Note(String),
    SetCategory {
        id: i64,
        /// GLPI's stored full name, for the history row.
        stored: String,
        label: String,
    },
    SetUrgency {
        from: Levels,
        urgency: Level,
        priority: Level,
    },
    LinkArticle(i64),
    /// The agents' note, as GLPI stores rich text.
    Followup(String),
}

/// One candidate problem's changes.
#[derive(Debug)]
pub(super) struct ProblemPlan {
    /// ticketlens' id.
    pub problem: i64,
    pub target: ProblemTarget,
    /// Tickets ticketlens has not linked to it yet.
    pub link: Vec<i64>,
}

#[derive(Debug)]
pub(super) enum ProblemTarget {
    /// A GLPI problem to create (status new), its name and description as GLPI stores them.
    New {
        title: String,
        name: String,
        content: String,
    },
    /// The GLPI problem made for it earlier, still open.
    Existing(i64),
}

impl Plan {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.tickets {
            for step in &t.steps {
                lines.push(format!("ticket {}: {step}", t.ticket));
            }
        }
        for p in &self.problems {
            let name = match &p.target {
                // GLPI gives its id when the problem is written: until then, ticketlens' own.
                ProblemTarget::New { title, .. } => {
                    let name = format!("problem for candidate {}", p.problem);
                    lines.push(format!("{name}: new, {title:?}"));
                    name
                }
                ProblemTarget::Existing(id) => format!("problem {id}"),
            };
            for ticket in &p.link {
                lines.push(format!("{name}: link ticket {ticket}"));
            }
        }
        lines
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Note(text) => f.write_str(text),
            Step::SetCategory { label, .. } => write!(f, "category = {label}"),
            Step::SetUrgency {
                urgency, priority, ..
            } => write!(
                f,
                "urgency = {}, priority = {}",
                urgency.label(),
                priority.label()
            ),
            Step::LinkArticle(id) => write!(f, "link knowledge-base item {id}"),
            // Its id is GLPI's, known once written.
            Step::Followup(_) => f.write_str("private follow-up"),
        }
    }
}

/// One of GLPI's categories.
#[derive(Debug)]
struct Category {
    id: i64,
    stored: String,
    name: String,
}

/// The urgency step for a ticket whose levels are `from` and for which triage applied
/// `urgency`; `touched`: an agent changed the ticket since it was opened.
fn urgency_step(
    touched: bool,
    from: Levels,
    urgency: Level,
    matrix: &super::matrix::PriorityMatrix,
) -> Option<Step> {
    if touched {
        return Some(Step::Note("an agent has worked on it; urgency kept".into()));
    }
    if from.urgency == urgency.number() {
        return None;
    }
    if !matrix.urgency_enabled(urgency) {
        return Some(Step::Note(format!(
            "urgency {} is not enabled in GLPI; kept",
            urgency.label()
        )));
    }
    let impact = Level::from_number(from.impact).unwrap_or(Level::from_number(3).unwrap());
    Some(Step::SetUrgency {
        from,
        urgency,
        priority: matrix.priority(urgency, impact),
    })
}

/// The category step for a ticket whose category is `current` (0: none) and for which triage
/// applied `label`.
fn category_step(categories: &[Category], current: i64, label: &str) -> Step {
    if current != 0 {
        return Step::Note("category already set; kept".into());
    }
    match categories.iter().find(|c| c.name == label) {
        Some(c) => Step::SetCategory {
            id: c.id,
            stored: c.stored.clone(),
            label: label.to_owned(),
        },
        None => Step::Note(format!("category {label:?} is not in GLPI; not set")),
    }
}

impl Glpi {
    /// What GLPI would get for `batch`; nothing is written.
    pub async fn plan(&self, batch: &[TicketOutcome]) -> Result<Plan, GlpiError> {
        let recorded = self.own_tables_exist().await?;
        // Read once per plan, and only when a ticket needs them.
        let mut matrix = None;
        let mut categories = None;
        let mut plan = Plan::default();
        for outcome in batch {
            let ticket = outcome.ticket_id;
            let mut t = TicketPlan {
                ticket,
                text_hash: outcome.text_hash.clone(),
                write: false,
                steps: Vec::new(),
            };
            let written = recorded
                && sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM ticketlens_written WHERE tickets_id = ? \
                     AND text_sha256 = ?",
                )
                .bind(ticket)
                .bind(&outcome.text_hash)
                .fetch_one(&self.pool)
                .await?
                    > 0;
            let current: Option<(i64, i64, i64, i64, i64)> = if written {
                None
            } else {
                sqlx::query_as(&format!(
                    "SELECT CAST(itilcategories_id AS SIGNED), CAST(urgency AS SIGNED), \
                     CAST(impact AS SIGNED), CAST(priority AS SIGNED), {TOUCHED} \
                     FROM glpi_tickets t WHERE id = ?"
                ))
                .bind(values::HISTORY_CREATE_ITEM)
                .bind(&self.config.user_name)
                .bind(ticket)
                .fetch_optional(&self.pool)
                .await?
            };
            let Some((category, urgency, impact, priority, touched)) = current else {
                t.steps.push(Step::Note(
                    if written {
                        "already written for this text; nothing"
                    } else {
                        "no longer in GLPI; nothing"
                    }
                    .into(),
                ));
                plan.tickets.push(t);
                continue;
            };
            t.write = true;
            if outcome.outcome == TriageOutcome::Skipped {
                let why = note::reason(outcome);
                t.steps.push(Step::Note(format!("not triaged ({why})")));
            }
            if let Some(label) = TicketOutcome::applied(&outcome.category) {
                if categories.is_none() {
                    categories = Some(self.categories().await?);
                }
                let known = categories.as_deref().expect("read above");
                t.steps.push(category_step(known, category, label));
            }
            let urgency_label = TicketOutcome::applied(&outcome.urgency);
            if let Some(level) = urgency_label
                .filter(|_| self.config.write_urgency)
                .and_then(Level::from_label)
            {
                let from = Levels {
                    urgency,
                    impact,
                    priority,
                };
                if matrix.is_none() {
                    matrix = Some(priority_matrix(&self.pool).await?);
                }
                let matrix = matrix.as_ref().expect("read above");
                t.steps
                    .extend(urgency_step(touched > 0, from, level, matrix));
            }
            if self.config.link_articles {
                for article in outcome.suggested(SuggestionKind::Article) {
                    let linked: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM glpi_knowbaseitems_items \
                         WHERE knowbaseitems_id = ? AND itemtype = 'Ticket' AND items_id = ?",
                    )
                    .bind(article)
                    .bind(ticket)
                    .fetch_one(&self.pool)
                    .await?;
                    if linked == 0 {
                        t.steps.push(Step::LinkArticle(article));
                    }
                }
            }
            if self.config.followups {
                let html = note::ticket(outcome, &self.names(outcome).await?);
                t.steps.push(Step::Followup(self.version.write(&html)));
            }
            plan.tickets.push(t);
        }
        Ok(plan)
    }

    /// GLPI's categories: id, full name as stored and as shown.
    async fn categories(&self) -> Result<Vec<Category>, GlpiError> {
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT CAST(id AS SIGNED), completename FROM glpi_itilcategories ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, stored)| {
                let stored = stored?;
                let name = self.version.read_completename(&stored);
                Some(Category { id, stored, name })
            })
            .collect())
    }

    /// GLPI's names of the suggested articles and tickets, for the note.
    async fn names(&self, outcome: &TicketOutcome) -> Result<Names, GlpiError> {
        let mut out = Names::new();
        for s in &outcome.suggestions {
            let sql = if s.kind == SuggestionKind::Article {
                "SELECT name FROM glpi_knowbaseitems WHERE id = ?"
            } else {
                "SELECT name FROM glpi_tickets WHERE id = ?"
            };
            let name: Option<Option<String>> = sqlx::query_scalar(sql)
                .bind(s.target_id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(Some(name)) = name {
                out.insert((s.kind, s.target_id), self.version.read(&name));
            }
        }
        Ok(out)
    }

    /// The GLPI problem of each new candidate, and the links of tickets not linked yet;
    /// nothing when `problems` is off. Nothing is written.
    pub async fn plan_problems(&self, problems: &[ProblemOutcome]) -> Result<Plan, GlpiError> {
        let mut plan = Plan::default();
        if !self.config.problems {
            return Ok(plan);
        }
        let recorded = self.own_tables_exist().await?;
        for p in problems {
            let known: Option<i64> = if recorded {
                sqlx::query_scalar(
                    "SELECT CAST(problems_id AS SIGNED) FROM ticketlens_problems \
                     WHERE problem_id = ?",
                )
                .bind(p.id)
                .fetch_optional(&self.pool)
                .await?
            } else {
                None
            };
            let target = match known {
                // A problem that was deleted, solved or closed in GLPI is the problem
                // manager's: nothing more is linked to it.
                Some(id) if !problem_is_open(&self.pool, id).await? => continue,
                Some(id) => ProblemTarget::Existing(id),
                None => ProblemTarget::New {
                    title: p.title.clone(),
                    name: self.version.write(&p.title),
                    content: self.version.write(&note::problem(p)),
                },
            };
            let mut link = Vec::new();
            for &ticket in &p.tickets {
                let done = match &target {
                    ProblemTarget::New { .. } => false,
                    ProblemTarget::Existing(id) => {
                        sqlx::query_scalar::<_, i64>(
                            "SELECT (SELECT COUNT(*) FROM ticketlens_problem_tickets \
                             WHERE problems_id = ? AND tickets_id = ?) + \
                             (SELECT COUNT(*) FROM glpi_problems_tickets \
                             WHERE problems_id = ? AND tickets_id = ?)",
                        )
                        .bind(id)
                        .bind(ticket)
                        .bind(id)
                        .bind(ticket)
                        .fetch_one(&self.pool)
                        .await?
                            > 0
                    }
                };
                if !done {
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
}

/// Whether GLPI problem `id` is neither deleted, solved nor closed, read through `db` (the
/// pool when planning; the write's transaction, row locked, when applying).
pub(super) async fn problem_is_open<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::MySql>,
    id: i64,
) -> Result<bool, GlpiError> {
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM glpi_problems WHERE id = ? AND is_deleted = 0 \
         AND status NOT IN (5, 6) FOR UPDATE",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    Ok(open > 0)
}
