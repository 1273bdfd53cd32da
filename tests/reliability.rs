//! Reliability: what no ticket and no outage may do to the stream. Rows a store holds that
//! cannot be read are quarantined (on SQLite and PostgreSQL); a store that goes away behind a
//! TCP proxy, across a batch and across the periodic pass, is waited out and the backlog
//! drained exactly once; `run` killed with SIGKILL again and again while tickets arrive loses
//! and duplicates nothing. Real model, real databases, the real binary where a process dies.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestDb;
use sqlx::Row;
use ticketlens::config::PipelineConfig;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::{Backend, NewTicket, Store};
use tokio::net::{TcpListener, TcpStream};

on_both_databases!(unreadable_tickets_are_quarantined_and_the_stream_goes_on);

use common::SMALL_HISTORY as HISTORY;

async fn with_history(store: &Store) {
    for (subject, category, urgency) in HISTORY {
        let ticket = common::resolved_ticket(subject.into(), category, urgency);
        store.insert_ticket(&ticket).await.unwrap();
    }
}

fn config(url: &str, extra: &str) -> PipelineConfig {
    let text = format!(
        "name = \"reliable\"\n[store]\nurl = \"{url}\"\n\
         [source]\nbatch_size = 5\npoll_interval_secs = 1\n{extra}"
    );
    PipelineConfig::parse(&text, Path::new("reliable.toml")).unwrap()
}

/// Adds `ticket`, then sets its `column` to the SQL expression `value` behind the store's
/// back, as another tool writing into the table might; returns its id.
async fn with_column(store: &Store, ticket: NewTicket, column: &str, value: &str) -> i64 {
    let id = store.insert_ticket(&ticket).await.unwrap();
    let sql = format!("UPDATE tickets SET {column} = {value} WHERE id = ?");
    sqlx::query(&store.backend().sql(&sql))
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
    id
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Each write of a triage result, counted by the database: an upsert that replaced an
/// earlier result would hide a second triage from `triage_results` itself.
async fn count_triage_writes(store: &Store) {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "CREATE TABLE triage_writes (ticket_id INTEGER NOT NULL); \
             CREATE TRIGGER triage_inserted AFTER INSERT ON triage_results \
             BEGIN INSERT INTO triage_writes VALUES (NEW.ticket_id); END; \
             CREATE TRIGGER triage_updated AFTER UPDATE OF triaged_at ON triage_results \
             BEGIN INSERT INTO triage_writes VALUES (NEW.ticket_id); END;"
        }
        Backend::Postgres => {
            "CREATE TABLE triage_writes (ticket_id BIGINT NOT NULL); \
             CREATE FUNCTION count_triage_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO triage_writes VALUES (NEW.ticket_id); RETURN NULL; END; $$; \
             CREATE TRIGGER triage_written AFTER INSERT OR UPDATE OF triaged_at \
             ON triage_results FOR EACH ROW EXECUTE FUNCTION count_triage_write();"
        }
    };
    sqlx::raw_sql(sql).execute(store.pool()).await.unwrap();
}

/// How often each ticket's triage was written.
async fn triage_writes(store: &Store) -> BTreeMap<i64, i64> {
    let rows = sqlx::query(
        "SELECT ticket_id, CAST(COUNT(*) AS BIGINT) FROM triage_writes GROUP BY ticket_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Asserts that exactly `expected` were triaged, each once.
async fn assert_exactly_once(store: &Store, expected: &BTreeSet<i64>) {
    let writes = triage_writes(store).await;
    let triaged: BTreeSet<i64> = writes.keys().copied().collect();
    let lost: Vec<_> = expected.difference(&triaged).collect();
    assert!(lost.is_empty(), "never triaged: {lost:?}");
    let twice: Vec<_> = writes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "triaged more than once: {twice:?}");
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn unreadable_tickets_are_quarantined_and_the_stream_goes_on(db: TestDb) {
    let store = Store::open(&db.url()).await.unwrap();
    with_history(&store).await;
    let new = |subject: &str| common::open_incident(subject);
    let before = store.insert_ticket(&new("VPN down again")).await.unwrap();
    let no_time = with_column(&store, new("Printer offline"), "created_at", "'yesterday'").await;
    let a_date = with_column(&store, new("VPN slow"), "created_at", "'2026-12-06'").await;
    // Only SQLite holds bytes that are not UTF-8, or a BLOB, in a text column.
    let mut odd_bytes = Vec::new();
    if store.backend() == Backend::Sqlite {
        let not_utf8 = "CAST(X'6D61FF72' AS TEXT)";
        let requester = with_column(&store, new("Printer jammed"), "requester", not_utf8).await;
        let subject = with_column(&store, new("VPN"), "subject", not_utf8).await;
        let resolved = common::resolved_ticket("VPN fixed".into(), "network", "high");
        with_column(&store, resolved, "resolution", "X'00FF10'").await;
        odd_bytes.extend([requester, subject]);
    }
    let after = store.insert_ticket(&new("VPN drops hourly")).await.unwrap();

    // Opening reads the whole history (as `serve` and `classify` do): the bad rows are in it.
    let config = config(&db.url(), "");
    let mut pipeline = Pipeline::with_parts(config.clone(), store.clone(), common::real_embedder())
        .await
        .expect("a store with unreadable rows opens");
    pipeline.drain(|_| {}).await.expect("the stream goes on");

    let rows: BTreeMap<i64, (String, Option<String>)> =
        sqlx::query("SELECT ticket_id, outcome, reason FROM triage_results")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
    let (outcome, reason) = &rows[&no_time];
    assert_eq!(outcome, "skipped");
    let reason = reason.as_deref().unwrap();
    assert!(
        reason.contains(&format!("ticket {no_time}"))
            && reason.contains("created_at")
            && reason.contains("yesterday"),
        "{reason}"
    );
    for id in [before, a_date, after].iter().chain(&odd_bytes) {
        assert_ne!(rows[id].0, "skipped", "ticket {id}: {:?}", rows[id]);
    }
    assert_eq!(store.queue_depth("reliable").await.unwrap(), 0);
    // Counted for monitoring (`ticketlens_tickets_unreadable` on /metrics).
    let counts = store.service_counts("reliable").await.unwrap();
    assert_eq!((counts.skipped, counts.unreadable), (1, 1));
    // What agents read of them: the review queue and each ticket's triage.
    store
        .review_queue(100)
        .await
        .expect("the review queue reads");
    for id in &odd_bytes {
        store
            .ticket_triage(*id)
            .await
            .expect("a ticket's triage reads");
    }
    // A restart (and so `serve` and `classify`) reads the same store again.
    let pipeline = Pipeline::with_parts(config, store.clone(), common::real_embedder())
        .await
        .expect("a restart over unreadable rows");
    let assessment = pipeline.assess("the VPN dropped again").await.unwrap();
    assert!(assessment.verdict.category.is_some());
    assert!(
        pipeline.assess("<p> </p>").await.is_err(),
        "a text with nothing in it is refused as the stream skips it"
    );
}

/// A TCP proxy to the PostgreSQL server that the test can take down (every connection cut,
/// new ones refused) and bring back on the same port.
struct Proxy {
    port: u16,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: Mutex<Option<tokio::task::JoinHandle<()>>>,
    target: String,
}

impl Proxy {
    async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Self {
            port: listener.local_addr().unwrap().port(),
            links: Arc::default(),
            accept: Mutex::new(None),
            target: target.into(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (links, target) = (self.links.clone(), self.target.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links.lock().unwrap().push(link.abort_handle());
            }
        });
        *self.accept.lock().unwrap() = Some(accept);
    }

    /// The server is gone: open connections break, new ones are refused.
    fn cut(&self) {
        if let Some(accept) = self.accept.lock().unwrap().take() {
            accept.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

/// The outage's length: 40 s by default (past the 10 s connection timeout, across several
/// periodic passes and backoffs); `TICKETLENS_TEST_OUTAGE_SECS` for a longer one by hand.
fn outage() -> Duration {
    let secs = std::env::var("TICKETLENS_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    Duration::from_secs(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_worker_rides_out_a_store_outage_and_drains_once() {
    // What the worker says during the outage, with TICKETLENS_LOG=info and --nocapture.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TICKETLENS_LOG"))
        .with_test_writer()
        .try_init();
    let db = TestDb::postgres().await;
    let direct = Store::open(&db.url()).await.unwrap();
    with_history(&direct).await;
    count_triage_writes(&direct).await;
    let server = common::postgres_server();
    let host = server
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(&host).await;
    let through = db
        .url()
        .replace(&host, &format!("127.0.0.1:{}", proxy.port));
    // The periodic pass every 2 s, so that the outage overlaps it as well as batches.
    let config = config(&through, "[problems]\ninterval_secs = 2\n");
    let store = Store::open(&through).await.unwrap();
    let mut pipeline = Pipeline::with_parts(config, store, common::real_embedder())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(async move { pipeline.run(stopped).await });

    let mut expected = BTreeSet::new();
    let mut add = async |round: usize| {
        for i in 0..10 {
            expected.insert(file(&direct, round, i).await);
        }
    };
    add(0).await;
    let triaged = "SELECT COUNT(DISTINCT ticket_id) FROM triage_writes";
    wait_until(
        "the first tickets are triaged",
        Duration::from_secs(120),
        async || scalar(&direct, triaged).await >= 3,
    )
    .await;
    // Cut while the worker is in the middle of the stream, and keep filing while it is down.
    proxy.cut();
    let cut_at = Instant::now();
    add(1).await;
    tokio::time::sleep(outage().saturating_sub(cut_at.elapsed())).await;
    assert!(
        !worker.is_finished(),
        "the worker ended during the outage: {:?}",
        worker.await
    );
    proxy.restore().await;
    let count = expected.len() as i64;
    wait_until(
        "the backlog is drained",
        Duration::from_secs(180),
        async || {
            scalar(&direct, triaged).await == count
                && scalar(&direct, "SELECT COUNT(*) FROM ticket_work").await == 0
        },
    )
    .await;
    stop.send(true).unwrap();
    let report = worker.await.unwrap().expect("the worker stops cleanly");
    assert!(report.triaged > 0);
    assert_exactly_once(&direct, &expected).await;
}

/// How many times a kill test kills: `default` in CI, `TICKETLENS_TEST_KILLS` by hand.
fn kills(default: usize) -> usize {
    std::env::var("TICKETLENS_TEST_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A store with history whose triage writes are counted, and a pipeline file for `run` over
/// it (small batches, so that a kill finds work in flight; leases short, so that a killed
/// worker's batch is soon another's).
async fn killable(db: TestDb) -> (TestDb, Store, std::path::PathBuf) {
    let store = Store::open(&db.url()).await.unwrap();
    with_history(&store).await;
    count_triage_writes(&store).await;
    let pipeline = db.dir().join("reliable.toml");
    std::fs::write(
        &pipeline,
        format!(
            "name = \"reliable\"\n[store]\nurl = \"{}\"\n\
             [source]\nbatch_size = 4\npoll_interval_secs = 1\nlease_secs = 3\n\
             [problems]\ninterval_secs = 3600\n",
            db.url()
        ),
    )
    .unwrap();
    (db, store, pipeline)
}

/// Workers waiting on PostgreSQL's change notifications.
const LISTENING: &str = "SELECT COUNT(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND query LIKE 'LISTEN%'";

/// Files the `i`th ticket of a kill round; returns its id.
async fn file(store: &Store, round: usize, i: usize) -> i64 {
    let subject = format!("{} (round {round}, {i})", HISTORY[i % HISTORY.len()].0);
    store
        .insert_ticket(&common::open_incident(&subject))
        .await
        .unwrap()
}

/// `ticketlens run` as a service manager starts it; killed with SIGKILL when dropped.
struct Run(Child);

impl Run {
    fn start(pipeline: &Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
            .args(["run", "--pipeline"])
            .arg(pipeline)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ticketlens starts");
        Run(child)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_killed_again_and_again_while_tickets_arrive_triages_each_once() {
    let (_db, store, pipeline) = killable(TestDb::sqlite().await).await;
    let mut expected = BTreeSet::new();
    let triaged = "SELECT COUNT(DISTINCT ticket_id) FROM triage_writes";
    let mut killed_with_work_left = 0;
    for round in 0..kills(4) {
        let done = scalar(&store, triaged).await;
        let run = Run::start(&pipeline);
        for i in 0..40 {
            expected.insert(file(&store, round, i).await);
        }
        // Killed once it has written a batch of this round, most often with more to come.
        let start = Instant::now();
        while scalar(&store, triaged).await <= done {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no batch written"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(run);
        let left = expected.len() as i64 - scalar(&store, triaged).await;
        eprintln!(
            "kill {round}: {left} of {} tickets not yet triaged",
            expected.len()
        );
        killed_with_work_left += usize::from(left > 0);
    }
    assert!(
        killed_with_work_left > 0,
        "every kill came after the worker had caught up: the kills tested nothing"
    );
    let finish = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(["run", "--once", "--pipeline"])
        .arg(&pipeline)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&finish.stderr);
    assert!(
        finish.status.success(),
        "run --once after the kills: {stderr}"
    );
    assert_exactly_once(&store, &expected).await;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn an_unreachable_store_at_start_up_is_reported_with_its_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let server = common::postgres_server();
    let base = server.rsplit_once('/').unwrap().0;
    for (url, cause) in [
        (
            format!("postgres://postgres@127.0.0.1:{port}/test"),
            "Connection refused",
        ),
        (
            format!("{base}/ticketlens_no_such_database"),
            "does not exist",
        ),
        (
            format!("mysql://root@127.0.0.1:{port}/glpi"),
            "Connection refused",
        ),
    ] {
        let glpi = url.starts_with("mysql");
        let dir = tempfile::tempdir().unwrap();
        let pipeline = dir.path().join("p.toml");
        let store = if glpi {
            format!(
                "url = \"sqlite://{}\"\n[system]\nkind = \"glpi\"\nurl = \"{url}\"",
                dir.path().join("s.db").display()
            )
        } else {
            format!("url = \"{url}\"")
        };
        std::fs::write(&pipeline, format!("name = \"p\"\n[store]\n{store}\n")).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
            .args(["classify", "VPN drops", "--pipeline"])
            .arg(&pipeline)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{url}: {stderr}");
        assert!(stderr.contains(cause), "{url}: {stderr}");
        assert!(!stderr.contains("pool timed out"), "{url}: {stderr}");
        let address = url.split('@').nth(1).unwrap().split('/').next().unwrap();
        assert!(
            stderr.contains(address),
            "{url} names where it looked: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_workers_one_killed_again_and_again_triage_each_ticket_once() {
    let (_db, store, pipeline) = killable(TestDb::postgres().await).await;
    let _survivor = Run::start(&pipeline);
    let mut expected = BTreeSet::new();
    let mut kills_mid_batch = 0;
    for round in 0..kills(3) {
        let doomed = Run::start(&pipeline);
        let leases = format!(
            "SELECT COUNT(*) FROM ticket_work WHERE lease_owner LIKE 'pid{}-%'",
            doomed.0.id()
        );
        // Once both listen, a burst: each worker is woken and leases batches of it, and the
        // doomed one is killed as soon as it holds one, in the middle of that batch.
        wait_until(
            "both workers listen",
            Duration::from_secs(120),
            async || scalar(&store, LISTENING).await == 2,
        )
        .await;
        for i in 0..24 {
            expected.insert(file(&store, round, i).await);
        }
        let start = Instant::now();
        while scalar(&store, &leases).await == 0 && start.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        kills_mid_batch += usize::from(scalar(&store, &leases).await > 0);
        drop(doomed);
    }
    eprintln!(
        "{kills_mid_batch} kills while the worker held a batch; {} tickets",
        expected.len()
    );
    assert!(
        kills_mid_batch > 0,
        "no kill came while the worker held a batch"
    );
    let count = expected.len() as i64;
    wait_until(
        "the survivor drains the rest",
        Duration::from_secs(180),
        async || {
            scalar(
                &store,
                "SELECT COUNT(DISTINCT ticket_id) FROM triage_writes",
            )
            .await
                == count
                && scalar(&store, "SELECT COUNT(*) FROM ticket_work").await == 0
        },
    )
    .await;
    assert_exactly_once(&store, &expected).await;
}
