//! Reading GLPI into ticketlens' own tables: tickets changed since the last pass (with their
//! category's full name and their latest solution) and knowledge-base items.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::values::{self, Level, Version};
use super::{Glpi, GlpiError};
use crate::domain::TicketKind;
use crate::store::{NewArticle, NewTicket, Store};

/// Tickets read per query: a first pass over a large GLPI goes in pages.
const PAGE: i64 = 500;
/// `glpi_tickets_tickets.link` of a "duplicates" link (GLPI's `DUPLICATE_WITH`).
const DUPLICATE_WITH: i64 = 2;

/// When a ticket last changed: its modification date, else its date, else its creation. A
/// zero date ('0000-00-00 00:00:00', which older GLPIs and imports leave) sorts before 1970
/// and counts as none; a ticket with no date at all is read once, on the first pass.
const CHANGED: &str = "COALESCE(IF(t.date_mod > '1970-01-01', t.date_mod, NULL), \
     IF(t.date > '1970-01-01', t.date, NULL), IF(t.date_creation > '1970-01-01', \
     t.date_creation, NULL), TIMESTAMP('1970-01-01 00:00:01'))";

impl Glpi {
    /// Reads what changed in GLPI since the last pass into `store`; returns how many tickets
    /// and articles were read (a ticket whose text did not change is read but not queued).
    pub async fn pull(&self, store: &Store) -> Result<usize, GlpiError> {
        let overlap = std::time::Duration::from_secs(self.config.overlap_secs);
        let since = store.source_read_from(&self.source, overlap).await?;
        let mut read = self.pull_articles(store, since).await?;
        let ids: Vec<i64> = sqlx::query_scalar("SELECT CAST(id AS SIGNED) FROM glpi_knowbaseitems")
            .fetch_all(&self.pool)
            .await?;
        store.retire_articles_except(&ids).await?;
        let mut latest = None;
        let mut after = (since, 0i64);
        loop {
            let sql = tickets_sql(&format!(
                "WHERE t.is_deleted = 0 AND ({CHANGED} > ? OR ({CHANGED} = ? AND t.id > ?)) \
                 ORDER BY {CHANGED}, t.id LIMIT ?"
            ));
            let rows = sqlx::query(&sql)
                .bind(values::HISTORY_CREATE_ITEM)
                .bind(&self.config.user_name)
                .bind(after.0)
                .bind(after.0)
                .bind(after.1)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let changed: DateTime<Utc> = row.try_get("changed")?;
                after = (changed, id);
                latest = Some(changed);
                // One ticket GLPI holds oddly must not stop the others: it is left out, said
                // so in the log, and read again when it is next changed.
                match self.ticket(row) {
                    Ok(ticket) => store.mirror_ticket(&ticket).await?,
                    Err(e) if e.is_retriable() => return Err(e),
                    Err(e) => tracing::warn!(ticket = id, error = %e,
                        "left a GLPI ticket that cannot be read out"),
                }
            }
            read += rows.len();
            let ids: Vec<i64> = rows.iter().filter_map(|r| r.try_get("id").ok()).collect();
            self.pull_duplicates(store, &ids).await?;
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        if let Some(latest) = latest {
            store.set_source_position(&self.source, latest).await?;
        }
        Ok(read)
    }

    /// The "duplicates" links (GLPI's `DUPLICATE_WITH`: `tickets_id_1` duplicates
    /// `tickets_id_2`) of the tickets `ids`: what similar-ticket search learns from. Read with
    /// the tickets, so a link an agent adds is read when one of its tickets next changes (as
    /// closing the duplicate does).
    async fn pull_duplicates(&self, store: &Store, ids: &[i64]) -> Result<(), GlpiError> {
        if ids.is_empty() {
            return Ok(());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT CAST(tickets_id_1 AS SIGNED) AS one, CAST(tickets_id_2 AS SIGNED) AS two \
             FROM glpi_tickets_tickets WHERE link = {DUPLICATE_WITH} \
             AND (tickets_id_1 IN ({list}) OR tickets_id_2 IN ({list}))"
        );
        for row in sqlx::query(&sql).fetch_all(&self.pool).await? {
            store
                .link_duplicate(row.try_get("one")?, row.try_get("two")?)
                .await?;
        }
        Ok(())
    }

    /// Reads one ticket now (a webhook named it); whether GLPI has it.
    pub async fn pull_ticket(&self, store: &Store, id: i64) -> Result<bool, GlpiError> {
        let row = sqlx::query(&tickets_sql("WHERE t.is_deleted = 0 AND t.id = ?"))
            .bind(values::HISTORY_CREATE_ITEM)
            .bind(&self.config.user_name)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        store.mirror_ticket(&self.ticket(&row)?).await?;
        self.pull_duplicates(store, &[id]).await?;
        Ok(true)
    }

    /// A GLPI ticket as ticketlens' tables hold it. An open ticket whose urgency triage may
    /// set (allowed, and no agent touched the ticket) is read without urgency and priority,
    /// so that triage proposes them; otherwise GLPI's values are the ones that stand.
    fn ticket(&self, row: &sqlx::mysql::MySqlRow) -> Result<NewTicket, GlpiError> {
        let status = values::status(row.try_get("status")?);
        let open = !status.is_done();
        let touched: i64 = row.try_get("touched")?;
        let urgency_free = open && self.config.write_urgency && touched == 0;
        let level = |column: &str| -> Result<Option<String>, GlpiError> {
            let value: Option<i64> = row.try_get(column)?;
            Ok(value
                .and_then(Level::from_number)
                .map(|l| l.label().to_owned()))
        };
        let recipient: Option<i64> = row.try_get("recipient")?;
        Ok(NewTicket {
            id: Some(row.try_get("id")?),
            subject: self.decoded(row, "name")?,
            body: self.decoded(row, "content")?,
            requester: recipient
                .filter(|&u| u > 0)
                .map(|u| format!("glpi-user-{u}")),
            kind: if row.try_get::<i64, _>("type")? == 2 {
                TicketKind::Request
            } else {
                TicketKind::Incident
            }
            .as_str()
            .into(),
            status: status.as_str().into(),
            category: row
                .try_get::<Option<String>, _>("category")?
                .map(|c| self.version.read_completename(&c)),
            urgency: if urgency_free {
                None
            } else {
                level("urgency")?
            },
            impact: level("impact")?,
            priority: if urgency_free {
                None
            } else {
                level("priority")?
            },
            resolution: row.try_get::<Option<String>, _>("solution")?.map(|s| {
                crate::text::strip_html(&self.version.read(&s))
                    .trim()
                    .to_owned()
            }),
            // Zero dates ('0000-00-00 00:00:00', which older GLPIs and imports leave) are
            // no dates: the creation then counts from the last change.
            created_at: glpi_time(row, "date")?.unwrap_or(row.try_get("changed")?),
            resolved_at: glpi_time(row, "solvedate")?,
        })
    }

    /// Knowledge-base items changed since `since`; FAQ items are the public ones.
    async fn pull_articles(&self, store: &Store, since: DateTime<Utc>) -> Result<usize, GlpiError> {
        // GLPI 11 gives an item an entity: public only from the root entity, to all below.
        let entity = match self.version {
            Version::Ten => "",
            Version::Eleven { .. } => "AND entities_id = 0 AND is_recursive = 1",
        };
        let rows = sqlx::query(&format!(
            "SELECT CAST(id AS SIGNED) AS id, name, answer, CAST(is_faq = 1 \
             AND (begin_date IS NULL OR begin_date <= NOW()) \
             AND (end_date IS NULL OR end_date > NOW()) {entity} AS SIGNED) AS public \
             FROM glpi_knowbaseitems \
             WHERE COALESCE(date_mod, date_creation, '1970-01-01 00:00:01') >= ? ORDER BY id",
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let answer: Option<String> = row.try_get("answer")?;
            let article = NewArticle {
                id: Some(row.try_get("id")?),
                title: self.decoded(row, "name")?.unwrap_or_default(),
                body: crate::text::strip_html(
                    &self.version.read(answer.as_deref().unwrap_or_default()),
                ),
                category: None,
                // What GLPI shows anonymous and self-service users: FAQ items in their
                // publication window (on 11, of the root entity and recursive). Entity and
                // profile targets (glpi_entities_knowbaseitems and the like) are not read.
                visibility: if row.try_get::<i64, _>("public")? == 1 {
                    "public"
                } else {
                    "internal"
                }
                .into(),
            };
            store.mirror_article(&article).await?;
        }
        Ok(rows.len())
    }
}

impl Glpi {
    /// A text column as GLPI shows it.
    fn decoded(
        &self,
        row: &sqlx::mysql::MySqlRow,
        column: &str,
    ) -> Result<Option<String>, GlpiError> {
        Ok(row
            .try_get::<Option<String>, _>(column)?
            .map(|v| self.version.read(&v)))
    }
}

/// Whether anyone but ticketlens changed ticket `t` after its creation (GLPI logs every change);
/// binds the creation action and ticketlens' user name.
pub(super) const TOUCHED: &str = "EXISTS (SELECT 1 FROM glpi_logs l WHERE l.itemtype = 'Ticket' \
     AND l.items_id = t.id AND l.linked_action <> ? AND l.user_name <> ?)";

/// A ticket's columns, with its category's full name, its latest solution and whether anyone
/// but ticketlens changed it after its creation, for the tickets `filter` (a `WHERE` and what
/// follows) picks; binds the creation action and ticketlens' user name, then `filter`'s.
fn tickets_sql(filter: &str) -> String {
    format!(
        "SELECT CAST(t.id AS SIGNED) AS id, t.name, t.content, \
                 CAST(t.type AS SIGNED) AS type, CAST(t.status AS SIGNED) AS status, \
                 CAST(t.urgency AS SIGNED) AS urgency, CAST(t.impact AS SIGNED) AS impact, \
                 CAST(t.priority AS SIGNED) AS priority, c.completename AS category, \
                 CAST(t.users_id_recipient AS SIGNED) AS recipient, \
                 CAST(t.date AS CHAR) AS date, CAST(t.solvedate AS CHAR) AS solvedate, \
                 {CHANGED} AS changed, \
                 (SELECT s.content FROM glpi_itilsolutions s WHERE s.itemtype = 'Ticket' \
                     AND s.items_id = t.id ORDER BY s.id DESC LIMIT 1) AS solution, \
                 {TOUCHED} AS touched \
                 FROM glpi_tickets t \
                 LEFT JOIN glpi_itilcategories c ON c.id = t.itilcategories_id {filter}"
    )
}

/// A DATETIME or TIMESTAMP column read as text (see the query): `None` for NULL and for a
/// zero or otherwise impossible date, which sqlx cannot decode as a time.
fn glpi_time(
    row: &sqlx::mysql::MySqlRow,
    column: &str,
) -> Result<Option<DateTime<Utc>>, GlpiError> {
    let text: Option<String> = row.try_get(column)?;
    Ok(text.and_then(|t| {
        chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc())
    }))
}
