//! GLPI 10 and 11 on MariaDB/MySQL: its tickets, categories, solutions and knowledge base are read
//! into ticketlens' own store ([`pull`]); each batch's results are planned against GLPI's
//! current state ([`plan`]) and written into GLPI's own tables as GLPI itself would record
//! them ([`apply`]).
//!
//! GLPI's tables are never altered. In GLPI's database ticketlens adds rows (follow-ups,
//! problems and their links, knowledge-base links, history) and keeps tables of its own that
//! make a replayed batch write nothing twice: a plan is written in one transaction that also
//! records what it wrote, before ticketlens acknowledges the batch in its own store. A crash
//! between the two replays the batch, and the replay finds it written.

mod apply;
mod config;
mod hook;
mod matrix;
mod plan;
mod pull;
mod values;

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions};
use sqlx::Connection;
use sqlx::{MySql, MySqlPool, Transaction};

pub use config::GlpiConfig;
pub use plan::Plan;
pub use values::Version;

use crate::store::{redact, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum GlpiError {
    #[error("cannot connect to GLPI's database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot connect to GLPI's database {url}: no answer within {secs} s")]
    ConnectTimedOut { url: String, secs: u64 },
    #[error("{0} has no GLPI tables (glpi_tickets is missing); check system.url")]
    NotGlpi(String),
    #[error(
        "GLPI {0} is not supported: ticketlens reads and writes GLPI 10 and 11 \
         (glpi_configs' version row says which)"
    )]
    Version(String),
    #[error("GLPI query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GlpiError {
    /// A lost connection or a lock timeout passes; a missing table does not.
    pub fn is_retriable(&self) -> bool {
        match self {
            GlpiError::Connect { .. } | GlpiError::ConnectTimedOut { .. } => true,
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
            GlpiError::NotGlpi(_) | GlpiError::Version(_) => false,
        }
    }
}

/// Which GLPI this is, from `glpi_configs`: the `version` row's major number, and on 11
/// whether old rows are decoded on read (`must_unsanitize_db_data`, missing = yes).
async fn version(pool: &MySqlPool) -> Result<Version, GlpiError> {
    let config = |name: &'static str| {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT value FROM glpi_configs WHERE context = 'core' AND name = ?",
        )
        .bind(name)
        .fetch_optional(pool)
    };
    let version = config("version").await?.flatten().unwrap_or_default();
    match version.split('.').next().map(str::trim) {
        Some("10") => Ok(Version::Ten),
        Some("11") => {
            let flag = config("must_unsanitize_db_data").await?.flatten();
            Ok(Version::Eleven {
                unsanitize: flag.is_none_or(|v| v.trim() != "0"),
            })
        }
        _ if version.is_empty() => Err(GlpiError::Version("(no version in glpi_configs)".into())),
        _ => Err(GlpiError::Version(version)),
    }
}

/// Tables of ticketlens' own in GLPI's database, created before the first write (a plan reads
/// them where they exist, and takes their absence for "nothing written yet").
const OWN_TABLES: [(&str, &str); 3] = [
    (
        "ticketlens_written",
        "CREATE TABLE IF NOT EXISTS ticketlens_written (
    tickets_id   INT UNSIGNED NOT NULL,
    text_sha256  CHAR(64) NOT NULL,
    followups_id INT UNSIGNED NULL,
    written_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (tickets_id, text_sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci",
    ),
    (
        "ticketlens_problems",
        "CREATE TABLE IF NOT EXISTS ticketlens_problems (
    problem_id  BIGINT NOT NULL PRIMARY KEY,
    problems_id INT UNSIGNED NOT NULL,
    UNIQUE KEY problems_id (problems_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci",
    ),
    (
        // The (problem, ticket) links ticketlens made: each is made once, so one an agent
        // removed stays removed.
        "ticketlens_problem_tickets",
        "CREATE TABLE IF NOT EXISTS ticketlens_problem_tickets (
    problems_id INT UNSIGNED NOT NULL,
    tickets_id  INT UNSIGNED NOT NULL,
    PRIMARY KEY (problems_id, tickets_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci",
    ),
];

/// How long a connection to GLPI's database may take to open (see the native store's).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one GLPI database.
pub struct Glpi {
    pool: MySqlPool,
    config: GlpiConfig,
    /// Names this GLPI in ticketlens' own tables (its read position).
    source: String,
    /// Set once ticketlens' own tables exist in GLPI's database.
    own_tables: tokio::sync::OnceCell<()>,
    /// 10 or 11: how text is stored and history written.
    version: Version,
    /// Webhook deliveries seen lately (see [`crate::systems::hook`]).
    deliveries: crate::systems::hook::Seen,
}

impl Glpi {
    pub async fn connect(config: &GlpiConfig) -> Result<Self, GlpiError> {
        let url = config.url.as_str();
        let connect_error = |source| GlpiError::Connect {
            url: redact(url),
            source,
        };
        let options: MySqlConnectOptions = url.parse().map_err(connect_error)?;
        // GLPI 10 keeps times as TIMESTAMPs: read and written in UTC whatever the server's zone.
        let options = options.timezone(Some("+00:00".into()));
        // As for the native store: one connection on its own first, so that a refused
        // connection, an unknown database or a bad password is reported at once as itself.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, MySqlConnection::connect_with(&options))
            .await
            .map_err(|_| GlpiError::ConnectTimedOut {
                url: redact(url),
                secs: CONNECT_TIMEOUT.as_secs(),
            })?
            .map_err(connect_error)?;
        probe.close().await.map_err(connect_error)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
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
        let database: String = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&pool)
            .await?;
        let version = version(&pool).await?;
        tracing::info!(?version, "connected to GLPI");
        Ok(Self {
            pool,
            config: config.clone(),
            source: format!("glpi:{database}"),
            own_tables: tokio::sync::OnceCell::new(),
            version,
            deliveries: Default::default(),
        })
    }

    /// Starts the transaction of a write, ticketlens' own tables created first if missing
    /// (DDL commits at once in MariaDB, so not inside it).
    async fn begin(&self) -> Result<Transaction<'static, MySql>, GlpiError> {
        self.own_tables
            .get_or_try_init(|| async {
                for (_, create) in OWN_TABLES {
                    sqlx::query(create).execute(&self.pool).await?;
                }
                Ok::<_, GlpiError>(())
            })
            .await?;
        Ok(self.pool.begin().await?)
    }

    /// Whether ticketlens' own tables are there yet: before the first write they are not,
    /// and a plan (a dry run's above all) creates nothing.
    async fn own_tables_exist(&self) -> Result<bool, GlpiError> {
        if self.own_tables.initialized() {
            return Ok(true);
        }
        let names: Vec<String> = OWN_TABLES.iter().map(|(n, _)| format!("'{n}'")).collect();
        let found: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name IN ({})",
            names.join(", ")
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok(found as usize == OWN_TABLES.len())
    }
}
