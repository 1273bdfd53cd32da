//! Zammad as the ticket system, against a stand-in server (`stand_in.rs`: the REST endpoints
//! as Zammad's API documentation describes them, not a running Zammad), with the real model:
//! reading, triage, writing back once, what agents set kept, a dry run's plan, a write whose
//! answer was lost, retries, and the webhook.

#[path = "../common/mod.rs"]
mod common;
mod stand_in;

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::json;
use stand_in::{Desk, Fault, Seed, Shared};
use ticketlens::config::PipelineConfig;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::Store;
use tower::ServiceExt;

const HISTORY: [(&str, &str, [&str; 4]); 3] = [
    (
        "Network",
        "3 high",
        [
            "VPN keeps disconnecting",
            "Cannot connect to the VPN from home",
            "VPN drops every few minutes",
            "VPN client says authentication timeout",
        ],
    ),
    (
        "Printing",
        "1 low",
        [
            "Printer on floor 2 is jammed",
            "Printer shows offline",
            "Toner empty on the big printer",
            "Print queue stuck with old jobs",
        ],
    ),
    (
        "Accounts",
        "2 normal",
        [
            "Password expired, cannot log in",
            "Account locked after too many attempts",
            "MFA prompt never arrives on my phone",
            "Please reset my password",
        ],
    ),
];
const CONTEXT: [&str; 6] = [
    "since this morning",
    "again today",
    "for the whole week",
    "after the update",
    "on my laptop",
    "since Monday",
];

/// A Zammad with 72 closed tickets, each with its category attribute, priority and answer.
fn seeded() -> Shared {
    // Old enough to be history only, not incidents of the problem window.
    let mut desk = Desk::default();
    desk.days_ago = 40;
    let mut n = 0;
    for (category, priority, subjects) in HISTORY {
        for i in 0..24 {
            n += 1;
            let title = format!("{} {}", subjects[i % 4], CONTEXT[i / 4]);
            desk.add(&Seed {
                title: &title,
                body: "<p>Reported through the portal.</p>",
                state: "closed",
                priority,
                category: Some(category),
                customer: 100 + n,
                resolution: Some("<p>Fixed it with the user &amp; closed.</p>"),
            });
        }
    }
    desk.days_ago = 0;
    Arc::new(Mutex::new(desk))
}

fn open(desk: &Shared, title: &str, body: &str, customer: i64) -> i64 {
    desk.lock().unwrap().add(&Seed {
        title,
        body,
        state: "new",
        priority: "2 normal",
        category: None,
        customer,
        resolution: None,
    })
}

fn pipeline_file(dir: &Path, url: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("zammad.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"zammad\"\n[store]\nurl = \"sqlite://{}\"\n\
             [system]\nkind = \"zammad\"\nurl = \"{url}\"\ntoken = \"{}\"\n\
             write_priority = true\nproblem_customer = \"ops@example.com\"\n\
             webhook_secret = \"hook-secret\"\n{extra}",
            dir.join("state.db").display(),
            stand_in::TOKEN,
        ),
    )
    .unwrap();
    path
}

async fn store_of(dir: &Path) -> Store {
    Store::open(&format!("sqlite://{}", dir.join("state.db").display()))
        .await
        .unwrap()
}

fn field(desk: &Shared, ticket: i64, key: &str) -> serde_json::Value {
    desk.lock().unwrap().tickets[&ticket][key].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zammad_tickets_are_triaged_written_back_once_and_agents_keep_what_they_set() {
    let desk = seeded();
    let vpn = open(
        &desk,
        "The VPN keeps disconnecting every few minutes",
        "<p>Since this morning the VPN drops <b>every</b> few minutes.</p>",
        1,
    );
    let more_vpn: Vec<i64> = [
        "VPN disconnects again and again",
        "VPN keeps dropping when I work from home",
        "My VPN connection drops every ten minutes",
    ]
    .iter()
    .enumerate()
    .map(|(i, title)| open(&desk, title, "<p>Please help.</p>", 2 + i as i64))
    .collect();
    // An agent put this one in a category (the wrong one, even), and took it: it stays.
    let agent_set = open(
        &desk,
        "Printer on floor 2 is jammed again",
        "<p>Paper stuck.</p>",
        9,
    );
    desk.lock()
        .unwrap()
        .agent_sets(agent_set, "category", json!("Accounts"));
    desk.lock()
        .unwrap()
        .agent_sets(agent_set, "owner_id", json!(5));
    let url = stand_in::serve(desk.clone()).await;
    // The network and Zammad stumble: reads are retried.
    desk.lock().unwrap().faults.extend([
        Fault {
            method: Method::POST,
            path: "/api/v1/tickets/search",
            status: 429,
            after_write: false,
        },
        Fault {
            method: Method::GET,
            path: "/api/v1/ticket_articles/by_ticket/",
            status: 503,
            after_write: false,
        },
    ]);

    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &url, "")).unwrap();
    let mut pipeline = Pipeline::open(config).await.unwrap();
    let store = store_of(dir.path()).await;

    // Read: history with its categories, priorities as urgency, answers as resolutions.
    let tickets = store.tickets().await.unwrap();
    let history: Vec<_> = tickets.iter().filter(|t| !t.is_open()).collect();
    assert_eq!(history.len(), 72);
    assert!(history.iter().any(
        |t| t.category.as_deref() == Some("Network") && t.urgency.as_deref() == Some("3 high")
    ));
    assert_eq!(
        history[0].resolution.as_deref(),
        Some("Fixed it with the user & closed.")
    );
    assert!(
        desk.lock().unwrap().faults.is_empty(),
        "both faults were met and retried"
    );

    // The first note's answer is lost after Zammad stored it: the batch fails and is
    // replayed, and the replay finds the note instead of writing a second.
    desk.lock().unwrap().faults.push(Fault {
        method: Method::POST,
        path: "/api/v1/ticket_articles",
        status: 502,
        after_write: true,
    });
    let failed = pipeline.drain(|_| {}).await;
    assert!(failed.is_err(), "the lost answer fails the batch");
    let report = pipeline.drain(|_| {}).await.unwrap();
    assert!(report.written_back > 0);

    let open_tickets = [vec![vpn, agent_set], more_vpn.clone()].concat();
    for &t in &open_tickets {
        let d = desk.lock().unwrap();
        let notes = d.notes(t);
        assert_eq!(notes.len(), 1, "ticket {t}: one note, whatever happened");
        assert!(notes[0]["body"]
            .as_str()
            .unwrap()
            .contains("ticketlens ref "));
    }
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM system_writes WHERE item LIKE 'note:%'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        recorded as usize,
        open_tickets.len(),
        "every note recorded, the found one too"
    );

    // The clear VPN ticket: category set, priority from the history's (all "3 high").
    assert_eq!(field(&desk, vpn, "category"), json!("Network"));
    assert_eq!(field(&desk, vpn, "priority"), json!("3 high"));
    // What the agent set stands.
    assert_eq!(field(&desk, agent_set, "category"), json!("Accounts"));
    assert_eq!(field(&desk, agent_set, "priority"), json!("2 normal"));

    // Once: another pass over the same tickets writes nothing.
    let writes = desk.lock().unwrap().writes().len();
    let mut again =
        Pipeline::open(PipelineConfig::load(&pipeline_file(dir.path(), &url, "")).unwrap())
            .await
            .unwrap();
    again.drain(|_| {}).await.unwrap();
    assert_eq!(desk.lock().unwrap().writes().len(), writes);

    // An agent changes the category after ticketlens wrote it: the next pass keeps it.
    desk.lock()
        .unwrap()
        .agent_sets(vpn, "category", json!("Printing"));
    again.drain(|_| {}).await.unwrap();
    assert_eq!(field(&desk, vpn, "category"), json!("Printing"));

    // Candidate problems: the four VPN incidents under one parent ticket, made once.
    let problems = again.detect_problems().await.unwrap();
    assert!(!problems.is_empty());
    let parents: Vec<i64> = {
        let d = desk.lock().unwrap();
        d.tags
            .iter()
            .filter(|(_, tags)| tags.iter().any(|t| t.starts_with("ticketlens-problem-")))
            .map(|(id, _)| *id)
            .collect()
    };
    assert_eq!(parents.len(), 1);
    let children: Vec<i64> = desk
        .lock()
        .unwrap()
        .links
        .iter()
        .filter(|(p, _)| *p == parents[0])
        .map(|(_, c)| *c)
        .collect();
    assert!(
        more_vpn.iter().all(|t| children.contains(t)),
        "{children:?}"
    );
    let writes = desk.lock().unwrap().writes().len();
    again.detect_problems().await.unwrap();
    assert_eq!(
        desk.lock().unwrap().writes().len(),
        writes,
        "a second pass makes nothing twice"
    );

    // Its records lost, as after a crash before the store committed them: Zammad is asked
    // (the tag, the links) and nothing is made again.
    sqlx::query("DELETE FROM system_writes WHERE item NOT LIKE 'note:%'")
        .execute(store.pool())
        .await
        .unwrap();
    again.detect_problems().await.unwrap();
    assert_eq!(desk.lock().unwrap().writes().len(), writes);
    let problem_records: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM system_writes WHERE item LIKE 'problem:%'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(problem_records, 1, "what was found is recorded");

    // The next read meets the problem's ticket (links recorded beside it): not an incident.
    again.drain(|_| {}).await.unwrap();
    let mirrored = store.tickets().await.unwrap();
    assert!(
        mirrored.iter().all(|t| t.id != parents[0]),
        "the problem ticket was read as a ticket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_what_it_would_write_to_zammad_and_writes_nothing() {
    let desk = seeded();
    let vpn = open(
        &desk,
        "The VPN keeps disconnecting",
        "<p>Every few minutes.</p>",
        1,
    );
    let url = stand_in::serve(desk.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &url, "")).unwrap();
    let mut pipeline = Pipeline::open(config).await.unwrap();
    pipeline.start_dry_run().unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    let plan = pipeline.dry_run_plan().to_vec();
    assert!(
        plan.contains(&format!("ticket {vpn}: category = Network")),
        "{plan:?}"
    );
    assert!(
        plan.contains(&format!("ticket {vpn}: internal note")),
        "{plan:?}"
    );
    assert!(
        desk.lock().unwrap().writes().is_empty(),
        "{:?}",
        desk.lock().unwrap().writes()
    );
    assert_eq!(field(&desk, vpn, "category"), json!(null));
}

fn signed(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zammads_webhook_reads_the_ticket_at_once_and_refuses_forged_calls() {
    let desk = seeded();
    let url = stand_in::serve(desk.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &url, "")).unwrap();
    let serve_config = config.serve.clone();
    let pipeline = Pipeline::open(config).await.unwrap();
    let store = store_of(dir.path()).await;
    let state = ticketlens::serve::AppState::new(pipeline, &serve_config, Some("agent"));
    let app = ticketlens::serve::router(state, &serve_config);

    // Filed after ticketlens' first read: only the call makes it known before the next poll.
    let ticket = open(
        &desk,
        "Outlook crashes on start",
        "<p>Since the update.</p>",
        7,
    );
    let known = |store: Store| async move {
        store
            .tickets()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == ticket)
    };
    assert!(!known(store.clone()).await);
    let body =
        json!({"ticket": {"id": ticket, "title": "forged title"}, "article": {}}).to_string();
    // One call through the router: (status, JSON answer).
    let send = |path: &'static str, signature: Option<String>, delivery: &str, body: &str| {
        let mut request = Request::post(path)
            .header("content-type", "application/json")
            .header("x-zammad-delivery", delivery);
        if let Some(s) = signature {
            request = request.header("x-hub-signature", s);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let app = app.clone();
        async move {
            let answer = app.oneshot(request).await.unwrap();
            let status = answer.status();
            let bytes = axum::body::to_bytes(answer.into_body(), 1 << 16)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    const HOOK: &str = "/v1/hooks/zammad";

    for (signature, why) in [
        (None, "unsigned"),
        (Some(signed("wrong-secret", &body)), "another secret"),
        (Some(signed("hook-secret", "{}")), "another body"),
    ] {
        let (status, _) = send(HOOK, signature, "d-0", &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
    }
    assert!(!known(store.clone()).await, "a refused call reads nothing");

    let good = || Some(signed("hook-secret", &body));
    let (status, answer) = send(HOOK, good(), "d-1", &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("read"))
    );
    let row = store
        .tickets()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == ticket)
        .expect("read at once");
    assert_eq!(
        row.subject.as_deref(),
        Some("Outlook crashes on start".as_bytes()),
        "read from the API, not the call"
    );

    // The same delivery again: answered, not acted on.
    let before = desk.lock().unwrap().requests.len();
    let (status, answer) = send(HOOK, good(), "d-1", &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("replayed"))
    );
    assert_eq!(
        desk.lock().unwrap().requests.len(),
        before,
        "Zammad not asked again"
    );

    // Signed, but naming no ticket; and a system this pipeline does not have.
    let (status, _) = send(HOOK, Some(signed("hook-secret", "{}")), "d-2", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send("/v1/hooks/glpi", good(), "d-3", &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
