//! GLPI 10 on MariaDB/MySQL as the ticket store: its tickets, categories, solutions and
//! knowledge base are read into ticketlens' own tables ([`pull`]), and each batch's results
//! are written back into GLPI's own tables, as GLPI itself would record them ([`push`]).
//!
//! GLPI's tables are never altered. In GLPI's database ticketlens adds rows (follow-ups,
//! problems and their links, knowledge-base links, history) and keeps two tables of its own
//! that make a replayed batch write nothing twice: a batch is written to GLPI in one
//! transaction that also records what it wrote, before ticketlens acknowledges the batch in
//! its own store. A crash between the two replays the batch, and the replay finds it written.

mod config;
mod pull;
mod push;
mod values;

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::MySqlPool;

pub use config::GlpiConfig;
pub use push::{Outcome, ProblemOutcome};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GlpiError {
    #[error("cannot connect to GLPI's database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("{0} has no GLPI 10 tables (glpi_tickets is missing); check store.url")]
    NotGlpi(String),
    #[error("GLPI query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GlpiError {
    /// A lost connection or a lock timeout passes; a missing table does not.
    pub fn is_retriable(&self) -> bool {
        match self {
            GlpiError::Connect { .. } => true,
            GlpiError::Query(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
                ) || e
                    .as_database_error()
                    .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
                    // Lock wait timeout, deadlock, server gone away, connection lost.
                    .is_some_and(|d| matches!(d.number(), 1205 | 1213 | 2006 | 2013))
            }
            GlpiError::Store(e) => e.is_retriable(),
            GlpiError::NotGlpi(_) => false,
        }
    }
}

/// Tables of ticketlens' own in GLPI's database (created if missing).
const OWN_TABLES: &str = "
CREATE TABLE IF NOT EXISTS ticketlens_written (
    tickets_id   INT UNSIGNED NOT NULL,
    text_sha256  CHAR(64) NOT NULL,
    followups_id INT UNSIGNED NULL,
    written_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (tickets_id, text_sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS ticketlens_problems (
    problem_id  BIGINT NOT NULL PRIMARY KEY,
    problems_id INT UNSIGNED NOT NULL,
    UNIQUE KEY problems_id (problems_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
";

/// A connection to one GLPI database.
pub struct Glpi {
    pool: MySqlPool,
    config: GlpiConfig,
    /// Names this GLPI in ticketlens' own tables (its read position).
    source: String,
}

impl Glpi {
    pub async fn connect(url: &str, config: GlpiConfig) -> Result<Self, GlpiError> {
        let connect_error = |source| GlpiError::Connect {
            url: redact(url),
            source,
        };
        let options: MySqlConnectOptions = url.parse().map_err(connect_error)?;
        // GLPI 10 keeps times as TIMESTAMPs: read and written in UTC whatever the server's zone.
        let options = options.timezone(Some("+00:00".into()));
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'glpi_tickets'",
        )
        .fetch_one(&pool)
        .await?;
        if tables == 0 {
            return Err(GlpiError::NotGlpi(redact(url)));
        }
        sqlx::raw_sql(OWN_TABLES).execute(&pool).await?;
        let database: String = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            pool,
            config,
            source: format!("glpi:{database}"),
        })
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    pub fn writes_problems(&self) -> bool {
        self.config.problems
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            super::redact("mysql://glpi:s3cret@db/glpi"),
            "mysql://glpi@db/glpi"
        );
        assert_eq!(
            super::redact("mysql://root@db/glpi"),
            "mysql://root@db/glpi"
        );
    }
}
