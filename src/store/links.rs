//! Duplicate links: a ticket a person said reports the same thing as another (usually an
//! original one). What similar-ticket search learns its mix of words and embeddings from.

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};

impl Store {
    /// Records that `ticket` duplicates `original`; recording it again changes nothing, and a
    /// link to a ticket the store does not have is not kept. Whether the store has both.
    pub async fn link_duplicate(&self, ticket: i64, original: i64) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        self.link_duplicate_on(&mut conn, ticket, original).await
    }

    /// As [`Store::link_duplicate`], on a connection (a transaction's).
    pub(crate) async fn link_duplicate_on(
        &self,
        conn: &mut AnyConnection,
        ticket: i64,
        original: i64,
    ) -> Result<bool, StoreError> {
        if ticket == original {
            return Ok(false);
        }
        let known: i64 =
            sqlx::query_scalar(&self.sql("SELECT COUNT(*) FROM tickets WHERE id IN (?, ?)"))
                .bind(ticket)
                .bind(original)
                .fetch_one(&mut *conn)
                .await?;
        if known < 2 {
            return Ok(false);
        }
        sqlx::query(&self.sql(
            "INSERT INTO duplicate_links (ticket_id, duplicate_of) VALUES (?, ?) \
             ON CONFLICT (ticket_id, duplicate_of) DO NOTHING",
        ))
        .bind(ticket)
        .bind(original)
        .execute(conn)
        .await?;
        Ok(true)
    }

    /// Every duplicate link, as (ticket, the original ticket it duplicates).
    pub async fn duplicate_links(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query("SELECT ticket_id, duplicate_of FROM duplicate_links")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("ticket_id")?, r.try_get("duplicate_of")?)))
            .collect()
    }
}
