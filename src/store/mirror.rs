//! Tickets and articles of an outside ticket system (GLPI), kept in ticketlens' own tables
//! under the system's ids, so that the pipeline works on them as on native ones. A ticket is
//! queued again only when what a person wrote changed (subject, body, kind, status); its
//! fields are brought up to date without queueing it, so that what an agent set is known.

use chrono::{DateTime, Utc};

use super::backend::parse_stamp;
use super::{bind_ticket, insert_ticket_sql, stamp, NewArticle, NewTicket, Store, StoreError};

impl Store {
    /// Inserts or updates a ticket read from the outside system; `ticket.id` is required.
    pub async fn mirror_ticket(&self, ticket: &NewTicket) -> Result<(), StoreError> {
        let id = ticket.id.expect("a mirrored ticket keeps its id");
        let mut tx = self.pool().begin().await?;
        let updated_at = stamp(ticket.resolved_at.unwrap_or(ticket.created_at));
        let insert = insert_ticket_sql("ON CONFLICT (id) DO NOTHING");
        let insert = self.sql(&insert);
        bind_ticket(sqlx::query(&insert), ticket)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&self.sql(
            "UPDATE tickets SET requester = ?, category = ?, urgency = ?, impact = ?, \
             priority = ?, resolution = ?, updated_at = ?, resolved_at = ? WHERE id = ?",
        ))
        .bind(&ticket.requester)
        .bind(&ticket.category)
        .bind(&ticket.urgency)
        .bind(&ticket.impact)
        .bind(&ticket.priority)
        .bind(&ticket.resolution)
        .bind(&updated_at)
        .bind(ticket.resolved_at.map(stamp))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // The queueing triggers fire on any update of these columns: update them only when
        // they differ.
        sqlx::query(&self.sql(
            "UPDATE tickets SET subject = ?1, body = ?2, kind = ?3, status = ?4 WHERE id = ?5 \
             AND (COALESCE(subject, '') <> COALESCE(?1, '') OR COALESCE(body, '') <> \
             COALESCE(?2, '') OR kind <> ?3 OR status <> ?4)",
        ))
        .bind(&ticket.subject)
        .bind(&ticket.body)
        .bind(&ticket.kind)
        .bind(&ticket.status)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts or updates an article read from the outside system; `article.id` is required.
    pub async fn mirror_article(&self, article: &NewArticle) -> Result<(), StoreError> {
        let now = stamp(Utc::now());
        sqlx::query(&self.sql(
            "INSERT INTO articles (id, title, body, category, visibility, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
             body = excluded.body, category = excluded.category, \
             visibility = excluded.visibility, updated_at = excluded.updated_at",
        ))
        .bind(article.id.expect("a mirrored article keeps its id"))
        .bind(&article.title)
        .bind(&article.body)
        .bind(&article.category)
        .bind(&article.visibility)
        .bind(&now)
        .bind(&now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Retires the published articles whose ids are not in `ids` (gone from the outside
    /// system): they are suggested no more.
    pub async fn retire_articles_except(&self, ids: &[i64]) -> Result<(), StoreError> {
        let keep: Vec<String> = ids.iter().map(i64::to_string).collect();
        let keep = if keep.is_empty() {
            "-1".to_owned()
        } else {
            keep.join(", ")
        };
        // Integers only: the list is safe to write into the statement.
        let sql = format!(
            "UPDATE articles SET status = 'retired', updated_at = ? \
             WHERE status = 'published' AND id NOT IN ({keep})"
        );
        sqlx::query(&self.sql(&sql))
            .bind(stamp(Utc::now()))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The latest change time read from `source`, if it was ever read.
    pub async fn source_position(&self, source: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let position: Option<String> =
            sqlx::query_scalar(&self.sql("SELECT position FROM source_cursors WHERE source = ?"))
                .bind(source)
                .fetch_optional(self.pool())
                .await?;
        position.as_deref().map(parse_stamp).transpose()
    }

    /// Where the next read of `source` starts: `overlap` before the latest change read (a
    /// change stamped earlier may commit later), or the beginning on the first read.
    pub async fn source_read_from(
        &self,
        source: &str,
        overlap: std::time::Duration,
    ) -> Result<DateTime<Utc>, StoreError> {
        let overlap = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::zero());
        Ok(self
            .source_position(source)
            .await?
            .map_or(DateTime::UNIX_EPOCH, |p| p - overlap))
    }

    pub async fn set_source_position(
        &self,
        source: &str,
        position: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(&self.sql(
            "INSERT INTO source_cursors (source, position, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (source) DO UPDATE SET position = excluded.position, \
             updated_at = excluded.updated_at",
        ))
        .bind(source)
        .bind(stamp(position))
        .bind(stamp(Utc::now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// One write ticketlens made to an outside ticket system, recorded so that it is not made
/// again (see migration `system_writes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemWrite {
    /// The system (`zammad:HOST`).
    pub source: String,
    /// What the write was for, in the system's own words (`note:TICKET:HASH`).
    pub item: String,
    /// The id the system gave what was written.
    pub external_id: String,
}

impl Store {
    /// The id recorded for `item` of `source`, if ticketlens wrote it.
    pub async fn system_write(
        &self,
        source: &str,
        item: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            &self.sql("SELECT external_id FROM system_writes WHERE source = ? AND item = ?"),
        )
        .bind(source)
        .bind(item)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The ids the system gave what ticketlens wrote to `source` under items starting with
    /// `prefix` (`problem:`: the candidate problems' tickets, not incidents to triage).
    pub async fn system_ids(
        &self,
        source: &str,
        prefix: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            &self.sql("SELECT external_id FROM system_writes WHERE source = ? AND item LIKE ?"),
        )
        .bind(source)
        .bind(format!("{prefix}%"))
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().collect())
    }

    /// Records writes outside a batch (a clustering pass's); a write recorded already stays
    /// as first recorded.
    pub async fn record_system_writes(&self, writes: &[SystemWrite]) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        record_writes(self.backend(), &mut conn, writes).await
    }
}

/// Writes recorded per statement, within the bind limit.
const WRITES_PER_STATEMENT: usize = super::MAX_BINDS / 4;

/// Records `writes` on `conn` (a batch's transaction, or a connection of the pool), a
/// statement per [`WRITES_PER_STATEMENT`]; one recorded already stays as first recorded.
pub(super) async fn record_writes(
    backend: super::Backend,
    conn: &mut sqlx::AnyConnection,
    writes: &[SystemWrite],
) -> Result<(), StoreError> {
    let now = stamp(Utc::now());
    for chunk in writes.chunks(WRITES_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO system_writes (source, item, external_id, written_at) VALUES {} \
             ON CONFLICT (source, item) DO NOTHING",
            super::value_rows(4, chunk.len())
        );
        let sql = backend.sql(&sql);
        let mut query = sqlx::query(&sql);
        for w in chunk {
            query = query
                .bind(w.source.as_str())
                .bind(w.item.as_str())
                .bind(w.external_id.as_str())
                .bind(now.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
