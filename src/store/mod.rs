//! The native ticket store on SQLite: numbered migrations applied at start-up, one shared pool,
//! and the reads and writes the pipeline needs. Write-back goes through a [`BatchWriter`]: one
//! transaction for a batch's results and the cursor, so a crash replays a batch, never loses or
//! duplicates one.

mod batch;
mod classifiers;
mod drafts;
mod problems;
mod public;
mod queue;
mod records;
mod reports;
mod review;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

pub use batch::{BatchWriter, TicketField};
pub use classifiers::ClassifierRecord;
pub use drafts::DraftRow;
pub use problems::{ProblemRow, SavedProblem};
pub use public::Deflection;
pub use queue::{FieldPrediction, ServiceCounts, SuggestionView, TriageView};
pub use records::*;
pub use reports::{FieldOutcome, TriageCounts, TriageRow};
pub use review::{ProblemDetail, ProblemMember};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot bring the store's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("ticket {0} does not exist")]
    NoSuchTicket(i64),
    #[error("there is no answer {0} to give feedback on")]
    NoSuchAnswer(i64),
    #[error("there is no problem {0}")]
    NoSuchProblem(i64),
    #[error("ticket {0} has not been triaged (or does not exist)")]
    NotTriaged(i64),
    #[error("{0}")]
    Review(String),
}

impl StoreError {
    /// Whether trying the same work again later may succeed (a locked or unreachable database),
    /// as opposed to a fault that repeats (a constraint, a schema mismatch).
    pub fn is_retriable(&self) -> bool {
        match self {
            StoreError::Open { source, .. } | StoreError::Query(source) => {
                matches!(
                    source,
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
                ) || source
                    .as_database_error()
                    .and_then(|e| e.code())
                    .is_some_and(|code| code == "5" || code == "6")
            } // SQLITE_BUSY, SQLITE_LOCKED
            _ => false,
        }
    }
}

/// A ticket store. Clones share one pool.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

impl Store {
    /// Opens (creating it if needed) the SQLite database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Starts the transaction that writes one batch of results.
    pub async fn begin_batch(&self) -> Result<BatchWriter<'static>, StoreError> {
        Ok(BatchWriter::new(self.pool.begin().await?))
    }

    pub async fn cursor(&self, pipeline: &str) -> Result<i64, StoreError> {
        let position =
            sqlx::query_scalar("SELECT position FROM pipeline_cursors WHERE pipeline = ?")
                .bind(pipeline)
                .fetch_optional(&self.pool)
                .await?;
        Ok(position.unwrap_or(0))
    }

    /// Up to `limit` tickets changed after `position`, in change order.
    pub async fn changes_after(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<Vec<TicketRow>, StoreError> {
        let sql = format!("{TICKET_COLUMNS} WHERE change_seq > ? ORDER BY change_seq LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(position)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(TicketRow::from_row).collect()
    }

    /// Every ticket, by id: resolved and closed ones are what triage learns from and what
    /// similar-ticket suggestions are drawn from, open ones where possible duplicates are.
    pub async fn tickets(&self) -> Result<Vec<TicketRow>, StoreError> {
        let sql = format!("{TICKET_COLUMNS} ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(TicketRow::from_row).collect()
    }

    /// Resolved and closed tickets created at or after `since`, by id.
    pub async fn resolved_since(&self, since: DateTime<Utc>) -> Result<Vec<TicketRow>, StoreError> {
        let sql = format!(
            "{TICKET_COLUMNS} WHERE status IN ('resolved', 'closed') AND created_at >= ? ORDER BY id"
        );
        let rows = sqlx::query(&sql).bind(since).fetch_all(&self.pool).await?;
        rows.iter().map(TicketRow::from_row).collect()
    }

    /// Incidents created at or after `since`: the window problem detection clusters.
    pub async fn incidents_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<TicketRow>, StoreError> {
        let sql = format!(
            "{TICKET_COLUMNS} WHERE kind = 'incident' AND created_at >= ? ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).bind(since).fetch_all(&self.pool).await?;
        rows.iter().map(TicketRow::from_row).collect()
    }

    pub async fn ticket(&self, id: i64) -> Result<TicketRow, StoreError> {
        let sql = format!("{TICKET_COLUMNS} WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NoSuchTicket(id))?;
        TicketRow::from_row(&row)
    }

    /// Adds a ticket as a help desk would; returns its id.
    pub async fn insert_ticket(&self, ticket: &NewTicket) -> Result<i64, StoreError> {
        let updated_at = ticket.resolved_at.unwrap_or(ticket.created_at);
        let result = sqlx::query(
            "INSERT INTO tickets (id, subject, body, requester, kind, status, category, urgency, \
             impact, priority, resolution, created_at, updated_at, resolved_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ticket.id)
        .bind(&ticket.subject)
        .bind(&ticket.body)
        .bind(&ticket.requester)
        .bind(&ticket.kind)
        .bind(&ticket.status)
        .bind(&ticket.category)
        .bind(&ticket.urgency)
        .bind(&ticket.impact)
        .bind(&ticket.priority)
        .bind(&ticket.resolution)
        .bind(ticket.created_at)
        .bind(updated_at)
        .bind(ticket.resolved_at)
        .execute(&self.pool)
        .await?;
        Ok(result.last_insert_rowid())
    }

    pub async fn insert_article(&self, article: &NewArticle) -> Result<i64, StoreError> {
        let now = Utc::now();
        let result = sqlx::query(
            "INSERT INTO articles (id, title, body, category, visibility, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(article.id)
        .bind(&article.title)
        .bind(&article.body)
        .bind(&article.category)
        .bind(&article.visibility)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(result.last_insert_rowid())
    }

    /// Published articles: what suggestions are drawn from (drafts never are).
    pub async fn articles(&self) -> Result<Vec<ArticleRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, title, body, visibility FROM articles WHERE status = 'published' ORDER BY id",
        )
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ArticleRow::from_row).collect()
    }

    /// Cached vectors for `owners` under `model_version`, where the text hash still matches.
    pub async fn cached_embeddings(
        &self,
        kind: OwnerKind,
        model_version: &str,
        wanted: &[(i64, String)],
    ) -> Result<Vec<Option<Vec<f32>>>, StoreError> {
        let mut out = Vec::with_capacity(wanted.len());
        let mut conn = self.pool.acquire().await?;
        for (owner_id, text_hash) in wanted {
            let blob: Option<Vec<u8>> = sqlx::query_scalar(
                "SELECT vector FROM embeddings WHERE owner_kind = ? AND owner_id = ? \
                 AND model_version = ? AND text_hash = ?",
            )
            .bind(kind.as_str())
            .bind(owner_id)
            .bind(model_version)
            .bind(text_hash)
            .fetch_optional(&mut *conn)
            .await?;
            out.push(blob.map(|b| decode_vector(&b)));
        }
        Ok(out)
    }

    pub async fn cache_embeddings(
        &self,
        kind: OwnerKind,
        model_version: &str,
        entries: &[(i64, String, &[f32])],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (owner_id, text_hash, vector) in entries {
            sqlx::query(
                "INSERT INTO embeddings (owner_kind, owner_id, model_version, text_hash, vector) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner_kind, owner_id, model_version) \
                 DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector",
            )
            .bind(kind.as_str())
            .bind(owner_id)
            .bind(model_version)
            .bind(text_hash)
            .bind(encode_vector(vector))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

pub(crate) fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn decode_vector(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
