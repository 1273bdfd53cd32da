//! The native ticket store, on SQLite (the embedded default) or PostgreSQL: numbered
//! migrations applied at start-up, one shared pool, and the reads and writes the pipeline
//! needs. Write-back goes through a [`BatchWriter`]: one transaction for a batch's results and
//! its acknowledgement, so a crash replays a batch, never loses or duplicates one.
//!
//! One process takes changes on SQLite, following a cursor. On PostgreSQL several processes
//! may share a pipeline: they lease tickets from a work queue that a trigger fills
//! (`FOR UPDATE SKIP LOCKED`; a lease a dead worker held expires), see [`work`].

mod announcements;
mod backend;
mod batch;
mod classifiers;
mod drafts;
mod embeddings;
mod external;
mod links;
mod mirror;
mod problems;
mod public;
mod queue;
mod records;
mod reports;
mod review;
mod work;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};

pub use announcements::{
    AnnouncedProblem, Announcement, AnnouncementView, NotAnAnnouncement, MAX_PUBLIC_TITLE_CHARS,
    MAX_WORKAROUND_CHARS,
};
pub use backend::{redact, Backend};
pub(crate) use backend::{stamp, RowExt};
pub use batch::{BatchWriter, TicketField};
pub use classifiers::ClassifierRecord;
pub use drafts::DraftRow;
pub(crate) use embeddings::{decode_vector, encode_vector};
pub use external::{
    ExternalTicket, ExternalTicketInput, InvalidTicket, Upserted, MAX_LABEL_CHARS, MAX_TEXT_CHARS,
};
pub use mirror::SystemWrite;
pub use problems::{ProblemRow, SavedProblem};
pub use public::Deflection;
pub use queue::{FieldPrediction, ServiceCounts, SuggestionView, TriageView};
use records::RowError;
pub use records::*;
pub use reports::{ConfidentOutcome, FieldOutcome, FieldTallies, FieldTally, TriageCounts};
pub use review::{ProblemDetail, ProblemMember};
pub use work::{ChangeListener, Claim, Taken, Worker};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot open the store {url}: no answer within {secs} s")]
    OpenTimedOut { url: String, secs: u64 },
    #[error(
        "the store URL {0} names no database ticketlens can keep its tables in \
         (use sqlite://FILE or postgres://HOST/DATABASE)"
    )]
    Unsupported(String),
    #[error("cannot bring the store's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the store holds a timestamp that is not one: {0:?}")]
    BadTimestamp(String),
    #[error("{0}")]
    Unreadable(Unreadable),
    #[error("ticket {0} does not exist")]
    NoSuchTicket(i64),
    #[error("there is no problem {0}")]
    NoSuchProblem(i64),
    #[error("ticket {0} has not been triaged (or does not exist)")]
    NotTriaged(i64),
    #[error("{0}")]
    Review(String),
    #[error("the lease on ticket {0} ran out before its batch was written; another worker has it")]
    LeaseLost(i64),
}

impl StoreError {
    /// Whether trying the same work again later may succeed (a locked or unreachable database,
    /// a lease another worker took over), as opposed to a fault that repeats (a constraint, a
    /// schema mismatch).
    pub fn is_retriable(&self) -> bool {
        match self {
            StoreError::LeaseLost(_) | StoreError::OpenTimedOut { .. } => true,
            StoreError::Open { source, .. } | StoreError::Query(source) => {
                matches!(
                    source,
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
                ) || source
                    .as_database_error()
                    .and_then(|e| e.code())
                    .is_some_and(|code| RETRIABLE_CODES.contains(&code.as_ref()))
            }
            _ => false,
        }
    }
}

/// SQLITE_BUSY, SQLITE_LOCKED and SQLITE_BUSY_SNAPSHOT (a transaction that read before
/// another connection's commit cannot then write: a batch's first write comes when it is
/// acknowledged, after its reads); PostgreSQL's serialization failure, deadlock, and the
/// connection and shutdown classes (08xxx, 57P0x).
const RETRIABLE_CODES: &[&str] = &[
    "5", "6", "517", "40001", "40P01", "08000", "08003", "08006", "57P01", "57P02", "57P03",
];

/// How long a connection may take to open. At start-up an unreachable store is reported after
/// this; a running worker's queries fail after it and are retried (see `Pipeline::run`).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A ticket store. Clones share one pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Kept for the LISTEN connection, which is not one of the pool's.
    url: Arc<str>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Opens the store at `url` (`sqlite://FILE`, created if missing, or
    /// `postgres://HOST/DATABASE`) and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let backend = Backend::of(url).ok_or_else(|| StoreError::Unsupported(redact(url)))?;
        let open_error = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        sqlx::any::install_default_drivers();
        let connect_url = match backend {
            Backend::Sqlite => sqlite_url(url),
            Backend::Postgres => url.to_owned(),
        };
        // One connection first, on its own: a pool retries a refused connection until its
        // acquire timeout and then says only "pool timed out". At start-up the real cause
        // (refused, unknown database, bad password) is what a person needs, at once.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&connect_url))
            .await
            .map_err(|_| StoreError::OpenTimedOut {
                url: redact(url),
                secs: CONNECT_TIMEOUT.as_secs(),
            })?
            .map_err(open_error)?;
        probe.close().await.map_err(open_error)?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets `serve` read while `run` writes; the busy timeout waits out
                        // the other process's write instead of failing at once.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(open_error)?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            url: url.into(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `sql` in this store's placeholder syntax.
    pub(crate) fn sql<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        self.backend.sql(sql)
    }

    /// Starts the transaction that writes one batch of results.
    pub async fn begin_batch(&self) -> Result<BatchWriter<'static>, StoreError> {
        Ok(BatchWriter::new(self.pool.begin().await?, self.backend))
    }

    pub async fn cursor(&self, pipeline: &str) -> Result<i64, StoreError> {
        let position = sqlx::query_scalar(
            &self.sql("SELECT position FROM pipeline_cursors WHERE pipeline = ?"),
        )
        .bind(pipeline)
        .fetch_optional(&self.pool)
        .await?;
        Ok(position.unwrap_or(0))
    }

    fn ticket_select(&self) -> String {
        // Every text column as bytes: see `TicketRow::from_row`.
        let columns: Vec<String> = TEXT_COLUMNS
            .iter()
            .map(|c| format!("{} AS {c}", self.backend.text_as_bytes(c)))
            .collect();
        format!("SELECT id, {}, change_seq FROM tickets", columns.join(", "))
    }

    /// Tickets matching `rest` (a `WHERE … ORDER BY …` tail with `?` placeholders), bound to
    /// `binds` in order, with the rows that could not be read set apart.
    async fn tickets_where(
        &self,
        rest: &str,
        binds: &[Bind<'_>],
    ) -> Result<TicketRead, StoreError> {
        let sql = format!("{} {rest}", self.ticket_select());
        let sql = self.sql(&sql);
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(*v),
            };
        }
        let mut read = TicketRead::default();
        for row in query.fetch_all(&self.pool).await? {
            match TicketRow::from_row(&row) {
                Ok(ticket) => read.rows.push(ticket),
                Err(RowError::Unreadable(bad)) => read.unreadable.push(bad),
                Err(RowError::Store(e)) => return Err(e.into()),
            }
        }
        Ok(read)
    }

    /// History read for learning and clustering: an unreadable ticket is left out (the stream
    /// quarantines it with its reason, once), and said so in the log.
    async fn readable_tickets_where(
        &self,
        rest: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<TicketRow>, StoreError> {
        Ok(self.tickets_where(rest, binds).await?.into_readable())
    }

    /// Up to `limit` tickets changed after `position`, in change order; the unreadable ones
    /// apart, for the stream to quarantine.
    pub async fn changes_after(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<TicketRead, StoreError> {
        self.tickets_where(
            "WHERE change_seq > ? ORDER BY change_seq LIMIT ?",
            &[Bind::Int(position), Bind::Int(limit as i64)],
        )
        .await
    }

    /// Every readable ticket, by id: resolved and closed ones are what triage learns from and
    /// what similar-ticket suggestions are drawn from, open ones where possible duplicates are.
    pub async fn tickets(&self) -> Result<Vec<TicketRow>, StoreError> {
        self.readable_tickets_where("ORDER BY id", &[]).await
    }

    /// Up to `limit` tickets of id above `after`, by id: the store read a page at a time, so
    /// that a history of any size is never all in memory as rows. The page's unreadable
    /// tickets are apart (the next page starts after the highest id of both).
    pub async fn tickets_after(&self, after: i64, limit: usize) -> Result<TicketRead, StoreError> {
        self.tickets_where(
            "WHERE id > ? ORDER BY id LIMIT ?",
            &[Bind::Int(after), Bind::Int(limit as i64)],
        )
        .await
    }

    /// Resolved and closed tickets created at or after `since`, by id.
    pub async fn resolved_since(&self, since: DateTime<Utc>) -> Result<Vec<TicketRow>, StoreError> {
        let since = stamp(since);
        self.readable_tickets_where(
            "WHERE status IN ('resolved', 'closed') AND created_at >= ? ORDER BY id",
            &[Bind::Text(&since)],
        )
        .await
    }

    /// Incidents created at or after `since`: the window problem detection clusters.
    pub async fn incidents_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<TicketRow>, StoreError> {
        let since = stamp(since);
        self.readable_tickets_where(
            "WHERE kind = 'incident' AND created_at >= ? ORDER BY created_at, id",
            &[Bind::Text(&since)],
        )
        .await
    }

    pub async fn ticket(&self, id: i64) -> Result<TicketRow, StoreError> {
        let mut read = self.tickets_where("WHERE id = ?", &[Bind::Int(id)]).await?;
        if let Some(bad) = read.unreadable.pop() {
            return Err(StoreError::Unreadable(bad));
        }
        read.rows.pop().ok_or(StoreError::NoSuchTicket(id))
    }

    /// Adds a ticket as a help desk would; returns its id.
    pub async fn insert_ticket(&self, ticket: &NewTicket) -> Result<i64, StoreError> {
        let sql = insert_ticket_sql("RETURNING id");
        let sql = self.sql(&sql);
        Ok(bind_ticket(sqlx::query(&sql), ticket)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Sets a ticket's category and/or urgency as an agent does (from the review page): the
    /// value stands like any agent's edit, so triage keeps it and learns from it once the
    /// ticket is resolved.
    pub async fn set_fields(
        &self,
        id: i64,
        category: Option<&str>,
        urgency: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(&self.sql(
            "UPDATE tickets SET category = COALESCE(?, category), \
             urgency = COALESCE(?, urgency), updated_at = ? WHERE id = ?",
        ))
        .bind(category)
        .bind(urgency)
        .bind(stamp(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchTicket(id));
        }
        Ok(())
    }

    pub async fn insert_article(&self, article: &NewArticle) -> Result<i64, StoreError> {
        let now = stamp(Utc::now());
        Ok(sqlx::query_scalar(&self.sql(
            "INSERT INTO articles (id, title, body, category, visibility, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        ))
        .bind(article.id)
        .bind(&article.title)
        .bind(&article.body)
        .bind(&article.category)
        .bind(&article.visibility)
        .bind(&now)
        .bind(&now)
        .fetch_one(&self.pool)
        .await?)
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

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The insert of a whole ticket, ending in `tail` (`RETURNING …`, `ON CONFLICT …`); its
/// values are bound by [`bind_ticket`].
fn insert_ticket_sql(tail: &str) -> String {
    format!(
        "INSERT INTO tickets (id, subject, body, requester, kind, status, category, urgency, \
         impact, priority, resolution, created_at, updated_at, resolved_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {tail}"
    )
}

fn bind_ticket<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ticket: &'q NewTicket,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let updated_at = ticket.resolved_at.unwrap_or(ticket.created_at);
    query
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
        .bind(stamp(ticket.created_at))
        .bind(stamp(updated_at))
        .bind(ticket.resolved_at.map(stamp))
}

/// The tickets' text columns, read as bytes.
const TEXT_COLUMNS: [&str; 11] = [
    "subject",
    "body",
    "requester",
    "kind",
    "status",
    "category",
    "urgency",
    "impact",
    "priority",
    "resolution",
    "created_at",
];

/// Tickets read, and those that could not be.
#[derive(Debug, Default)]
pub struct TicketRead {
    pub rows: Vec<TicketRow>,
    pub unreadable: Vec<Unreadable>,
}

impl TicketRead {
    /// The highest id read, readable or not (where the next page starts).
    pub fn last_id(&self) -> Option<i64> {
        let rows = self.rows.iter().map(|r| r.id);
        rows.chain(self.unreadable.iter().map(|u| u.ticket_id))
            .max()
    }

    /// The readable tickets, for history: the unreadable ones are left out (the stream
    /// quarantines each with its reason, once), and said so in the log.
    pub fn into_readable(self) -> Vec<TicketRow> {
        if let Some(first) = self.unreadable.first() {
            tracing::warn!(count = self.unreadable.len(), first = %first,
                "left unreadable tickets out of the history");
        }
        self.rows
    }

    /// The furthest change read, readable or not (where the cursor goes).
    pub fn last_change(&self) -> Option<i64> {
        let rows = self.rows.iter().map(|r| r.change_seq);
        rows.chain(self.unreadable.iter().map(|u| u.change_seq))
            .max()
    }
}

/// A value bound to a placeholder of a query assembled at run time.
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

/// Values bound in one statement at most: well under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_BINDS: usize = 10_000;

/// `ids` as the list of an SQL `IN (…)`: integers only, so written into the statement rather
/// than bound one placeholder each.
fn id_list(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    ids.join(", ")
}

/// The rows of a multi-row `VALUES`: `rows` groups of `columns` placeholders.
fn value_rows(columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// `items` without those an item after them shares a key with, in order.
fn last_of_each<T, K: Eq + std::hash::Hash>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<T> = items
        .into_iter()
        .rev()
        .filter(|t| seen.insert(key(t)))
        .collect();
    kept.reverse();
    kept
}

/// SQLite's URL with the file created when missing (as the embedded default should be).
fn sqlite_url(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}
