//! Several `ticketlens run` processes on one PostgreSQL store share the incoming tickets: each
//! ticket is triaged exactly once, also when a worker is killed in the middle of a batch.
//! The processes are the real binary with the real model, against the local server.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::TestDb;
use ticketlens::config::PipelineConfig;
use ticketlens::domain::{FieldStatus, TriageOutcome};
use ticketlens::pipeline::Pipeline;
use ticketlens::store::{NewTicket, Store, StoreError, Taken, TriageRecord, Worker};

const SUBJECTS: [&str; 6] = [
    "VPN disconnects every few minutes",
    "Printer on the 3rd floor shows offline",
    "Cannot log in to the payroll portal",
    "Outlook keeps asking for my password",
    "Laptop fan is very loud and it is hot",
    "Need access to the finance share",
];

fn open_ticket(n: usize) -> NewTicket {
    NewTicket {
        subject: Some(format!("{} (#{n})", SUBJECTS[n % SUBJECTS.len()])),
        body: Some(format!("Reported by user {n}; started this morning.")),
        requester: Some(format!("user{n}@example.org")),
        kind: "incident".into(),
        status: "new".into(),
        created_at: Utc::now(),
        ..Default::default()
    }
}

/// A worker process, killed if the test ends without stopping it.
struct Process(Child);

impl Process {
    fn start(pipeline: &std::path::Path) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
            .args(["run", "--pipeline"])
            .arg(pipeline)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ticketlens starts");
        Process(child)
    }

    fn lease_prefix(&self) -> String {
        format!("pid{}-%", self.0.id())
    }

    /// SIGTERM, as a service manager stops it; returns what it printed.
    fn stop(mut self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let child = std::mem::replace(&mut self.0, Command::new("true").spawn().unwrap());
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_stream_and_a_killed_workers_batch_is_done_once_by_another() {
    // Installed before two processes would both fetch it.
    drop(common::real_embedder());
    let db = TestDb::postgres().await;
    let store = Store::open(&db.url()).await.unwrap();
    for (i, (category, urgency)) in [("network", "high"), ("printing", "low")]
        .iter()
        .cycle()
        .take(8)
        .enumerate()
    {
        let subject = format!("{} (old #{i})", SUBJECTS[i % 2]);
        let ticket = common::resolved_ticket(subject, category, urgency);
        store.insert_ticket(&ticket).await.unwrap();
    }
    // Every write of a triage result, counted by the database itself: an upsert that
    // replaced an earlier result would hide a second triage from the table.
    sqlx::raw_sql(
        "CREATE TABLE triage_writes (ticket_id BIGINT NOT NULL); \
         CREATE FUNCTION count_triage_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN INSERT INTO triage_writes VALUES (NEW.ticket_id); RETURN NULL; END; $$; \
         CREATE TRIGGER triage_written AFTER INSERT OR UPDATE OF triaged_at ON triage_results \
         FOR EACH ROW EXECUTE FUNCTION count_triage_write();",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let pipeline = db.dir().join("workers.toml");
    std::fs::write(
        &pipeline,
        format!(
            "name = \"workers\"\n[store]\nurl = \"{}\"\n\
             [source]\nbatch_size = 10\npoll_interval_secs = 30\nlease_secs = 3\n\
             [problems]\ninterval_secs = 3600\n",
            db.url()
        ),
    )
    .unwrap();

    let doomed = Process::start(&pipeline);
    let survivor = Process::start(&pipeline);
    // Both up and listening before the tickets come, so that both take a share.
    wait_until(
        "both workers listen",
        Duration::from_secs(180),
        async || {
            scalar(
                &store,
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND query LIKE 'LISTEN%'",
            )
            .await
                == 2
        },
    )
    .await;
    let mut expected = BTreeSet::new();
    for n in 0..60 {
        expected.insert(store.insert_ticket(&open_ticket(n)).await.unwrap());
    }
    let doomed_leases = format!(
        "SELECT COUNT(*) FROM ticket_work WHERE lease_owner LIKE '{}' AND lease_until > now()",
        doomed.lease_prefix()
    );
    wait_until(
        "the first worker holds a batch",
        Duration::from_secs(180),
        async || scalar(&store, &doomed_leases).await > 0,
    )
    .await;
    let held: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT ticket_id FROM ticket_work WHERE lease_owner LIKE '{}'",
        doomed.lease_prefix()
    ))
    .fetch_all(store.pool())
    .await
    .unwrap();
    drop(doomed); // SIGKILL, mid-batch: nothing of the batch is committed.
    assert!(!held.is_empty());
    let still_held = scalar(
        &store,
        &format!(
            "SELECT COUNT(*) FROM ticket_work WHERE ticket_id IN ({})",
            held.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
    .await;
    assert!(
        still_held > 0,
        "the killed worker had committed its batch already; the kill tested nothing"
    );

    // New tickets while one worker is left (its poll is 30 s; a notification wakes it).
    for n in 60..70 {
        expected.insert(store.insert_ticket(&open_ticket(n)).await.unwrap());
    }
    wait_until(
        "every ticket is triaged",
        Duration::from_secs(240),
        async || {
            scalar(&store, "SELECT COUNT(*) FROM ticket_work").await == 0
                && scalar(
                    &store,
                    "SELECT COUNT(DISTINCT ticket_id) FROM triage_results",
                )
                .await
                    == expected.len() as i64
        },
    )
    .await;
    let (stopped, output) = survivor.stop();
    assert!(
        stopped,
        "the surviving worker stops cleanly on SIGTERM: {output}"
    );

    let writes: Vec<(i64, i64)> =
        sqlx::query_as("SELECT ticket_id, COUNT(*) FROM triage_writes GROUP BY ticket_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let writes: BTreeMap<i64, i64> = writes.into_iter().collect();
    assert_eq!(
        writes.keys().copied().collect::<BTreeSet<_>>(),
        expected,
        "every open ticket triaged, and nothing else"
    );
    let twice: Vec<_> = writes.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "triaged more than once: {twice:?}");
    // Its batch was taken over: every leased ticket acknowledged (the queue is empty), and
    // the open ones among them triaged (resolved history is learnt from, not triaged).
    let held_open: Vec<_> = held.iter().filter(|id| expected.contains(id)).collect();
    assert!(!held_open.is_empty(), "{held:?}");
    assert!(held_open.iter().all(|id| writes.contains_key(id)));
}

fn ids(taken: &Taken) -> Vec<i64> {
    taken.rows.iter().map(|r| r.id).collect()
}

fn record(ticket_id: i64, version: &str) -> TriageRecord {
    TriageRecord {
        ticket_id,
        model_version: version.into(),
        outcome: TriageOutcome::NeedsReview,
        reason: None,
        category: None,
        category_confidence: None,
        category_status: FieldStatus::NeedsReview,
        urgency: None,
        urgency_confidence: None,
        urgency_status: FieldStatus::NeedsReview,
        priority: None,
        evidence: serde_json::json!([]),
        problem_id: None,
        major_incident: false,
    }
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_writes_nothing_and_an_edit_during_a_lease_is_redone() {
    let db = TestDb::postgres().await;
    let store = Store::open(&db.url()).await.unwrap();
    let id = store.insert_ticket(&open_ticket(1)).await.unwrap();
    let slow = Worker {
        id: "slow".into(),
        lease: Duration::from_millis(300),
    };
    let quick = Worker {
        id: "quick".into(),
        lease: Duration::from_secs(60),
    };
    let late = store.take_changes("p", &slow, 10).await.unwrap();
    assert_eq!(ids(&late), [id]);
    let none = store.take_changes("p", &quick, 10).await.unwrap();
    assert!(none.is_empty(), "a leased ticket is nobody else's");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken = store.take_changes("p", &quick, 10).await.unwrap();
    assert_eq!(ids(&taken), [id], "an expired lease is taken over");

    let mut writer = store.begin_batch().await.unwrap();
    writer.record_triage(&record(id, "quick"));
    writer.acknowledge("p", &taken.claim).await.unwrap();
    writer.commit().await.unwrap();
    let mut writer = store.begin_batch().await.unwrap();
    writer.record_triage(&record(id, "slow"));
    let refused = writer.acknowledge("p", &late.claim).await.unwrap_err();
    drop(writer);
    assert!(
        matches!(refused, StoreError::LeaseLost(t) if t == id),
        "{refused}"
    );
    assert!(refused.is_retriable());
    let versions: Vec<String> =
        sqlx::query_scalar("SELECT model_version FROM triage_results WHERE ticket_id = $1")
            .bind(id)
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(versions, ["quick"], "the late batch wrote nothing");
    assert!(store
        .take_changes("p", &quick, 10)
        .await
        .unwrap()
        .is_empty());

    // A ticket edited while it is being triaged is triaged again, with its new text.
    let edited = store.insert_ticket(&open_ticket(2)).await.unwrap();
    let taken = store.take_changes("p", &quick, 10).await.unwrap();
    assert_eq!(ids(&taken), [edited]);
    sqlx::query("UPDATE tickets SET body = 'It is worse now' WHERE id = $1")
        .bind(edited)
        .execute(store.pool())
        .await
        .unwrap();
    let mut writer = store.begin_batch().await.unwrap();
    writer.acknowledge("p", &taken.claim).await.unwrap();
    writer.commit().await.unwrap();
    let again = store.take_changes("p", &quick, 10).await.unwrap();
    assert_eq!(ids(&again), [edited]);
    assert_eq!(
        again.rows[0].body.as_deref(),
        Some(b"It is worse now".as_slice())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_ticket_wakes_an_idle_worker_long_before_its_next_poll() {
    let db = TestDb::postgres().await;
    let store = Store::open(&db.url()).await.unwrap();
    let text = format!(
        "name = \"idle\"\n[store]\nurl = \"{}\"\n[source]\npoll_interval_secs = 600\n",
        db.url()
    );
    let config = PipelineConfig::parse(&text, std::path::Path::new("idle.toml")).unwrap();
    let mut pipeline = Pipeline::with_parts(config, store.clone(), common::real_embedder())
        .await
        .unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move { pipeline.run(shutdown).await });
    // Idle: registered, queue empty, waiting (for up to ten minutes) on its listener.
    wait_until("the worker is idle", Duration::from_secs(60), async || {
        scalar(&store, "SELECT COUNT(*) FROM pipeline_cursors").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let id = store.insert_ticket(&open_ticket(3)).await.unwrap();
    let triaged = format!("SELECT COUNT(*) FROM triage_results WHERE ticket_id = {id}");
    wait_until(
        "the notified worker triages it",
        Duration::from_secs(60),
        async || scalar(&store, &triaged).await == 1,
    )
    .await;
    stop.send(true).unwrap();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.triaged, 1);
}
