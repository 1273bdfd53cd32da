//! Any help desk's way in: `POST /v1/tickets` creates or updates a ticket by its external id
//! and a running pipeline triages it (again only when what a person wrote changed); `import`
//! (the real binary) backfills an export, CSV or JSON lines, idempotently, refusing bad rows
//! with their line numbers. On SQLite and PostgreSQL, with the real model.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use common::TestDb;
use ticketlens::config::PipelineConfig;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::Store;

on_both_databases!(
    a_posted_ticket_is_upserted_by_its_external_id_and_triaged_by_a_running_pipeline,
    an_import_twice_changes_nothing_and_bad_rows_are_refused_with_their_line,
    imported_duplicate_links_teach_similar_ticket_search_its_mix,
);

const TOKEN: &str = "agent-token-for-tests";
const PIPELINE: &str = "desk";

fn config(url: &str) -> PipelineConfig {
    let text = format!(
        "name = \"{PIPELINE}\"\n[store]\nurl = \"{url}\"\n[source]\npoll_interval_secs = 1\n"
    );
    PipelineConfig::parse(&text, Path::new("desk.toml")).unwrap()
}

async fn with_history(store: &Store) {
    for (subject, category, urgency) in [
        ("VPN keeps disconnecting", "network", "high"),
        ("Cannot connect to VPN from home", "network", "high"),
        ("Printer on floor 2 is jammed", "printing", "low"),
        ("Printer shows offline", "printing", "low"),
    ] {
        let ticket = common::resolved_ticket(subject.into(), category, urgency);
        store.insert_ticket(&ticket).await.unwrap();
    }
}

async fn post(router: &Router, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/tickets")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn change_seq(store: &Store, id: i64) -> i64 {
    sqlx::query_scalar(
        &store
            .backend()
            .sql("SELECT change_seq FROM tickets WHERE id = ?"),
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

/// When the ticket's triage was last written, once it has been.
async fn triaged_at(store: &Store, id: i64) -> Option<String> {
    sqlx::query_scalar(
        &store
            .backend()
            .sql("SELECT MAX(triaged_at) FROM triage_results WHERE ticket_id = ?"),
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

/// Waits for the running pipeline to write a triage of `id` other than `before`.
async fn triaged_again(store: &Store, id: i64, before: Option<&str>) -> String {
    let start = Instant::now();
    loop {
        let now = triaged_at(store, id).await;
        if let Some(at) = now.filter(|at| Some(at.as_str()) != before) {
            return at;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the running pipeline never triaged the posted ticket"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_posted_ticket_is_upserted_by_its_external_id_and_triaged_by_a_running_pipeline(
    db: TestDb,
) {
    let store = Store::open(&db.url()).await.unwrap();
    with_history(&store).await;
    let config = config(&db.url());
    let serving = Pipeline::with_parts(config.clone(), store.clone(), common::real_embedder())
        .await
        .unwrap();
    let serve_config = config.serve.clone();
    let state = ticketlens::serve::AppState::new(serving, &serve_config, Some(TOKEN));
    let router = ticketlens::serve::router(state, &serve_config);
    let mut running = Pipeline::with_parts(config, store.clone(), common::real_embedder())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(async move { running.run(stopped).await });

    let ticket = json!({
        "external_id": "INC-0042",
        "subject": "VPN drops every few minutes",
        "body": "Since this morning the VPN disconnects all the time.",
        "requester": "ana",
        "kind": "incident",
        "status": "new",
        "category": "network",
        "created_at": "2026-12-01T08:30:00Z",
    });
    let (status, created) = post(&router, ticket.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["external_id"], "INC-0042");
    assert_eq!(
        (&created["created"], &created["changed"]),
        (&json!(true), &json!(true))
    );
    let id = created["id"].as_i64().unwrap();
    let first = triaged_again(&store, id, None).await;

    // The same ticket again: nothing changes and nothing is queued.
    let seq = change_seq(&store, id).await;
    let (status, same) = post(&router, ticket.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        same,
        json!({"id": id, "external_id": "INC-0042", "created": false, "changed": false})
    );
    // A field the desk owns, but not what a person wrote: stored, not queued again.
    let (status, owned) = post(
        &router,
        json!({"external_id": "INC-0042", "requester": "ana.lima"}),
    )
    .await;
    assert_eq!((status, &owned["changed"]), (StatusCode::OK, &json!(true)));
    assert_eq!(change_seq(&store, id).await, seq, "not queued again");
    let stored = store.ticket(id).await.unwrap();
    assert_eq!(stored.requester.as_deref(), Some("ana.lima"));
    assert_eq!(
        stored.category.as_deref(),
        Some("network"),
        "an absent category leaves the stored one"
    );
    assert_eq!(stored.subject_text(), "VPN drops every few minutes");

    // A new body is triaged again.
    let (status, edited) = post(
        &router,
        json!({"external_id": "INC-0042", "body": "Now the VPN will not connect at all."}),
    )
    .await;
    assert_eq!((status, &edited["changed"]), (StatusCode::OK, &json!(true)));
    assert!(change_seq(&store, id).await > seq, "queued again");
    triaged_again(&store, id, Some(&first)).await;

    for (body, field) in [
        (json!({"subject": "no id"}), "external_id"),
        (
            json!({"external_id": " ", "subject": "blank id"}),
            "external_id",
        ),
        (json!({"external_id": "X", "kind": "problem"}), "kind"),
        (json!({"external_id": "X", "status": "done"}), "status"),
        (
            json!({"external_id": "X", "created_at": "yesterday"}),
            "created_at",
        ),
        (
            json!({"external_id": "X", "body": "x".repeat(10_001)}),
            "body",
        ),
        (json!({"external_id": "X", "priority": "P1"}), "priority"),
    ] {
        let (status, answer) = post(&router, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE external_id IS NOT NULL")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(count, 1, "nothing refused was written");

    // A second report of the same thing, linked by the desk: the link is kept; one naming a
    // ticket the store does not have says so.
    let (status, second) = post(
        &router,
        json!({"external_id": "INC-0043", "subject": "VPN drops again", "duplicate_of": "INC-0042"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert!(second.get("unknown_duplicate").is_none(), "{second}");
    let second = second["id"].as_i64().unwrap();
    assert_eq!(store.duplicate_links().await.unwrap(), [(second, id)]);
    let (status, unknown) = post(
        &router,
        json!({"external_id": "INC-0044", "subject": "Mail down", "duplicate_of": "INC-9"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{unknown}");
    assert_eq!(unknown["unknown_duplicate"], json!(true), "{unknown}");
    assert_eq!(store.duplicate_links().await.unwrap().len(), 1);

    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
}

/// Runs `ticketlens import` and returns its JSON report.
fn import(pipeline: &Path, data: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(["import", "--json", "--pipeline"])
        .arg(pipeline)
        .arg(data)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn counts(report: &Value) -> (i64, i64, i64, usize) {
    let n = |key: &str| report[key].as_i64().unwrap();
    let refused = report["refused"].as_array().unwrap().len();
    (n("imported"), n("updated"), n("unchanged"), refused)
}

async fn an_import_twice_changes_nothing_and_bad_rows_are_refused_with_their_line(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("desk.toml");
    std::fs::write(
        &pipeline,
        format!(
            "name = \"{PIPELINE}\"\n[store]\nurl = \"{}\"\n\
             [import.columns]\nexternal_id = \"Ticket ID\"\nsubject = \"Short description\"\n\
             body = \"Description\"\nkind = \"Type\"\nstatus = \"State\"\n\
             created_at = \"Opened\"\n",
            db.url()
        ),
    )
    .unwrap();
    let csv = dir.path().join("export.csv");
    std::fs::write(
        &csv,
        "Ticket ID,Short description,Description,Type,State,Opened,Assignee\n\
         SR-1,Printer jammed,\"Paper stuck,\nagain\",incident,closed,2026-11-02,bo\n\
         SR-2,New laptop,Please order one,request,new,2026-11-03T10:00:00Z,\n\
         SR-3,Broken,?,problem,new,2026-11-04,\n\
         SR-4,VPN slow,,Incident,Open,,\n",
    )
    .unwrap();

    let first = import(&pipeline, &csv);
    assert_eq!(counts(&first), (3, 0, 0, 1), "{first}");
    let refused = &first["refused"][0];
    assert_eq!(
        refused["line"], 5,
        "the quoted newline counts as a line: {first}"
    );
    assert!(refused["reason"].as_str().unwrap().contains("`kind`"));
    let again = import(&pipeline, &csv);
    assert_eq!(
        counts(&again),
        (0, 0, 3, 1),
        "a second import is a no-op: {again}"
    );

    let jsonl = dir.path().join("later.jsonl");
    std::fs::write(
        &jsonl,
        "{\"Ticket ID\": \"SR-2\", \"Description\": \"Please order two\"}\n\
         {\"Ticket ID\": 5, \"Short description\": \"Mail down\", \"Opened\": \"2026-11-05\"}\n\
         {\"Short description\": \"no id\"}\n",
    )
    .unwrap();
    let later = import(&pipeline, &jsonl);
    assert_eq!(counts(&later), (1, 1, 0, 1), "{later}");
    assert_eq!(later["refused"][0]["line"], 3);

    let store = Store::open(&db.url()).await.unwrap();
    let rows = sqlx::query(
        "SELECT external_id, kind, status, body, resolved_at FROM tickets ORDER BY external_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    use sqlx::Row;
    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, ["5", "SR-1", "SR-2", "SR-4"]);
    let sr1 = &rows[1];
    assert_eq!(sr1.get::<String, _>(2), "closed");
    assert_eq!(sr1.get::<String, _>(3), "Paper stuck,\nagain");
    assert!(
        sr1.get::<Option<String>, _>(4).is_some(),
        "arrived resolved"
    );
    assert_eq!(rows[2].get::<String, _>(1), "request");
    assert_eq!(rows[2].get::<String, _>(3), "Please order two");
    assert_eq!(rows[3].get::<String, _>(2), "open");
}

async fn imported_duplicate_links_teach_similar_ticket_search_its_mix(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("desk.toml");
    std::fs::write(
        &pipeline,
        format!("name = \"{PIPELINE}\"\n[store]\nurl = \"{}\"\n", db.url()),
    )
    .unwrap();
    let apps = [
        "mail", "calendar", "browser", "editor", "chat", "printer", "vpn", "wiki", "crm",
        "payroll", "backup", "phone",
    ];
    let mut lines = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let original = json!({"external_id": format!("B-{i}"), "status": "closed",
            "subject": format!("{app} crashes with error E{i}0{i}7 on start")});
        let duplicate = json!({"external_id": format!("D-{i}"), "status": "closed",
            "subject": format!("E{i}0{i}7 again: the {app} will not open"),
            "duplicate_of": format!("B-{i}")});
        lines.push(original.to_string());
        lines.push(duplicate.to_string());
    }
    lines.push(
        json!({"external_id": "D-x", "status": "closed", "subject": "Same as the other one",
            "duplicate_of": "B-404"})
        .to_string(),
    );
    let data = dir.path().join("bugs.jsonl");
    std::fs::write(&data, lines.join("\n")).unwrap();

    let report = import(&pipeline, &data);
    assert_eq!(counts(&report), (25, 0, 0, 0), "{report}");
    assert_eq!(report["unknown_duplicates"], json!([25]), "{report}");
    let again = import(&pipeline, &data);
    assert_eq!(counts(&again), (0, 0, 25, 0), "{again}");

    let store = Store::open(&db.url()).await.unwrap();
    let mut links: Vec<(String, String)> = sqlx::query_as(
        "SELECT later.external_id, earlier.external_id FROM duplicate_links l \
         JOIN tickets later ON later.id = l.ticket_id \
         JOIN tickets earlier ON earlier.id = l.duplicate_of",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    links.sort();
    let mut expected: Vec<(String, String)> = (0..apps.len())
        .map(|i| (format!("D-{i}"), format!("B-{i}")))
        .collect();
    expected.sort();
    assert_eq!(
        links, expected,
        "each duplicate linked to its earlier report, once"
    );
    let pipeline = Pipeline::with_parts(config(&db.url()), store.clone(), common::real_embedder())
        .await
        .unwrap();
    let fusion = pipeline.similar_fusion();
    assert_eq!(
        fusion.basis,
        ticketlens::knowledge::Basis::Learned { linked: apps.len() },
        "{fusion:?}"
    );
    assert!((0.0..=1.0).contains(&fusion.weight));
}
