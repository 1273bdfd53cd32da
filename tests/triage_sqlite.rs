//! Learned triage in the pipeline, on SQLite with the real model: what is applied and what is
//! never overwritten, retraining as labels arrive, and the cold start from label descriptions.

mod common;

use std::path::Path;

use chrono::Utc;
use sqlx::Row;
use ticketlens::config::PipelineConfig;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::{NewTicket, Store};

const CATEGORIES: [(&str, &str, [&str; 6]); 3] = [
    (
        "network",
        "high",
        [
            "VPN keeps disconnecting",
            "Cannot connect to the VPN from home",
            "Wi-Fi drops in meeting room",
            "Network drive not reachable",
            "Internet very slow on floor 3",
            "VPN client says authentication timeout",
        ],
    ),
    (
        "printing",
        "low",
        [
            "Printer on floor 2 is jammed",
            "Printer shows offline",
            "Toner empty on the big printer",
            "Scanner does not send to e-mail",
            "Print queue stuck with old jobs",
            "Printing is very slow",
        ],
    ),
    (
        "access",
        "medium",
        [
            "Password expired, cannot log in",
            "Account locked after too many attempts",
            "Need access to the finance shared folder",
            "MFA prompt never arrives on my phone",
            "Please reset my password",
            "No permission to open the HR site",
        ],
    ),
];
const CONTEXT: [&str; 5] = [
    "since this morning",
    "again today",
    "for the whole week",
    "after the update",
    "please help",
];

/// `per_class` labelled, resolved tickets per category, each text distinct.
fn history(per_class: usize, offset: usize) -> Vec<NewTicket> {
    let mut tickets = Vec::new();
    for (category, urgency, subjects) in CATEGORIES {
        for i in offset..offset + per_class {
            let subject = subjects[i % subjects.len()];
            let context = CONTEXT[(i / 6) % CONTEXT.len()];
            tickets.push(common::resolved_ticket(
                format!("{subject} {context}"),
                category,
                urgency,
            ));
        }
    }
    tickets
}

async fn pipeline(dir: &Path, triage: &str, history: &[NewTicket]) -> (Store, Pipeline) {
    let url = format!("sqlite://{}", dir.join("t.db").display());
    let text = format!("name = \"test\"\n[store]\nurl = \"{url}\"\n[triage]\n{triage}\n");
    let config = PipelineConfig::parse(&text, Path::new("test.toml")).unwrap();
    let store = Store::open(&url).await.unwrap();
    for ticket in history {
        store.insert_ticket(ticket).await.unwrap();
    }
    let pipeline = Pipeline::with_parts(config, store.clone(), common::real_embedder())
        .await
        .unwrap();
    (store, pipeline)
}

fn open_ticket(subject: &str, category: Option<&str>) -> NewTicket {
    NewTicket {
        subject: Some(subject.into()),
        kind: "incident".into(),
        status: "new".into(),
        category: category.map(Into::into),
        created_at: Utc::now(),
        ..Default::default()
    }
}

/// (category, category status, urgency status, model version) as triage recorded them.
async fn triage_row(store: &Store, id: i64) -> (Option<String>, String, String, String) {
    let row = sqlx::query(
        "SELECT category, category_status, urgency_status, model_version FROM triage_results \
         WHERE ticket_id = ?",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

/// An agent resolves ticket `id` with `category`.
async fn resolve(store: &Store, id: i64, category: &str) {
    sqlx::query(
        "UPDATE tickets SET category = ?, status = 'resolved', resolved_at = ? WHERE id = ?",
    )
    .bind(category)
    .bind(Utc::now().to_rfc3339())
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn learned_triage_applies_what_it_is_sure_of_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut pipeline) = pipeline(dir.path(), "", &history(24, 0)).await;
    let classifier = pipeline
        .classifier()
        .expect("72 labelled tickets are enough");
    assert!(pipeline.version().starts_with(&classifier.version));

    let clear = store
        .insert_ticket(&open_ticket(
            "The VPN keeps disconnecting every few minutes",
            None,
        ))
        .await
        .unwrap();
    let agent_set = store
        .insert_ticket(&open_ticket(
            "Printer on floor 2 is jammed again",
            Some("facilities"),
        ))
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();

    let (category, status, _, version) = triage_row(&store, clear).await;
    assert_eq!(category.as_deref(), Some("network"));
    assert_eq!(status, "applied");
    assert_eq!(version, pipeline.version());
    assert_eq!(
        store.ticket(clear).await.unwrap().category.as_deref(),
        Some("network")
    );

    let (predicted, status, ..) = triage_row(&store, agent_set).await;
    assert_eq!(
        predicted.as_deref(),
        Some("printing"),
        "predicted, and shown"
    );
    assert_eq!(status, "kept");
    assert_eq!(
        store.ticket(agent_set).await.unwrap().category.as_deref(),
        Some("facilities"),
        "what an agent set is never overwritten"
    );

    let evidence: String =
        sqlx::query_scalar("SELECT evidence FROM triage_results WHERE ticket_id = ?")
            .bind(clear)
            .fetch_one(store.pool())
            .await
            .unwrap();
    let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
    assert!(evidence["category"]["threshold"].is_number(), "{evidence}");
    assert!(!evidence["evidence"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn shadow_mode_records_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut pipeline) = pipeline(dir.path(), "shadow = true", &history(24, 0)).await;
    let id = store
        .insert_ticket(&open_ticket(
            "The VPN keeps disconnecting every few minutes",
            None,
        ))
        .await
        .unwrap();
    let report = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!((report.applied, report.needs_review), (0, 1), "{report:?}");
    let (category, status, ..) = triage_row(&store, id).await;
    assert_eq!(category.as_deref(), Some("network"));
    assert_eq!(status, "shadow");
    let ticket = store.ticket(id).await.unwrap();
    assert_eq!(
        (ticket.category, ticket.urgency, ticket.priority),
        (None, None, None)
    );
}

#[tokio::test]
async fn retrains_when_enough_new_labels_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut pipeline) = pipeline(dir.path(), "retrain_after = 15", &history(12, 0)).await;
    let first = pipeline.version().to_owned();

    // Five new labels: not enough yet.
    for ticket in history(12, 12).iter().take(5) {
        store.insert_ticket(ticket).await.unwrap();
    }
    pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(pipeline.version(), first);

    for ticket in history(12, 12).iter().skip(5) {
        store.insert_ticket(ticket).await.unwrap();
    }
    pipeline.drain(|_| {}).await.unwrap();
    assert_ne!(pipeline.version(), first, "36 labels → 72: a new version");
    let versions = store.classifier_versions().await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions.iter().filter(|(_, in_use)| *in_use).count(), 1);
    let compared: String =
        sqlx::query_scalar("SELECT compared FROM classifier_versions WHERE compared IS NOT NULL")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let compared: serde_json::Value = serde_json::from_str(&compared).unwrap();
    assert!(compared["tickets"].as_u64().unwrap() > 0, "{compared}");

    let id = store
        .insert_ticket(&open_ticket("Toner empty on the big printer", None))
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(triage_row(&store, id).await.3, pipeline.version());
}

#[tokio::test]
async fn a_cold_start_suggests_from_label_descriptions_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let labels = "[triage.labels.category]\n\
        network = \"VPN, Wi-Fi, internet and network drives\"\n\
        printing = \"Printers, toner, paper jams and scanners\"\n";
    let (store, mut pipeline) = pipeline(dir.path(), labels, &history(2, 0)).await;
    assert!(
        pipeline.classifier().is_none(),
        "6 labelled tickets are too few"
    );
    let id = store
        .insert_ticket(&open_ticket(
            "My laptop's Wi-Fi cannot find any network",
            None,
        ))
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    let (category, status, urgency_status, version) = triage_row(&store, id).await;
    assert_eq!(category.as_deref(), Some("network"));
    assert_eq!(
        (status.as_str(), urgency_status.as_str()),
        ("needs_review", "needs_review")
    );
    assert!(version.starts_with("cold/"), "{version}");
    assert_eq!(store.ticket(id).await.unwrap().category, None);
}

#[tokio::test]
async fn a_class_agents_keep_correcting_is_held_back_until_retraining() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut pipeline) = pipeline(dir.path(), "retrain_after = 20", &history(24, 0)).await;
    let first = pipeline.version().to_owned();
    let mut vpn = Vec::new();
    for context in CONTEXT
        .iter()
        .chain(&["on my laptop", "at home", "in the office"])
    {
        let subject = format!("The VPN keeps disconnecting every few minutes {context}");
        vpn.push(
            store
                .insert_ticket(&open_ticket(&subject, None))
                .await
                .unwrap(),
        );
    }
    pipeline.drain(|_| {}).await.unwrap();
    for &id in &vpn {
        let (category, status, ..) = triage_row(&store, id).await;
        assert_eq!(
            (category.as_deref(), status.as_str()),
            (Some("network"), "applied")
        );
    }
    assert!(pipeline.class_records().is_empty(), "nothing resolved yet");

    // Agents resolve every one of them as something else: network was wrong each time.
    for &id in &vpn {
        resolve(&store, id, "access").await;
    }
    pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(pipeline.version(), first, "8 new labels: no retraining yet");
    let network = pipeline
        .class_records()
        .into_iter()
        .find(|c| c.label == "network")
        .expect("network was applied");
    assert_eq!(
        (network.record.applied, network.record.right),
        (vpn.len(), 0)
    );
    assert!(network.held_back);

    // The next VPN ticket: still predicted, no longer applied, and the note says why.
    let next = store
        .insert_ticket(&open_ticket("VPN drops again when I work from home", None))
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    let (category, status, ..) = triage_row(&store, next).await;
    assert_eq!(
        (category.as_deref(), status.as_str()),
        (Some("network"), "needs_review")
    );
    let evidence: String =
        sqlx::query_scalar("SELECT evidence FROM triage_results WHERE ticket_id = ?")
            .bind(next)
            .fetch_one(store.pool())
            .await
            .unwrap();
    let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
    let reason = evidence["category"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("held back") && reason.contains("0 of 8"),
        "{reason}"
    );

    // A held-back prediction still counts once its ticket is resolved: what the guard holds
    // does not change what it sees.
    resolve(&store, next, "network").await;
    pipeline.drain(|_| {}).await.unwrap();
    let network = pipeline
        .class_records()
        .into_iter()
        .find(|c| c.label == "network")
        .expect("network is still recorded");
    assert_eq!((network.record.applied, network.record.right), (9, 1));
    assert!(network.held_back);
    // `report`, which loads no model, reads the same from the thresholds recorded with the
    // version.
    use ticketlens::pipeline::{guard_of, recorded_applied_from};
    let from = recorded_applied_from(&store, pipeline.version())
        .await
        .unwrap();
    let settings = ticketlens::config::TriageConfig::default();
    let reported = guard_of(&store, pipeline.version(), &from, &settings)
        .await
        .unwrap();
    assert_eq!(reported.classes(), pipeline.class_records());

    // /metrics shows it, per field and class (here from `serve`'s refreshed pipeline).
    let answering = pipeline.refreshed().await.unwrap();
    let config = ticketlens::serve::ServeConfig::default();
    let state = ticketlens::serve::AppState::new(answering, &config, None);
    let app = ticketlens::serve::router(state, &config);
    let request = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = tower::ServiceExt::oneshot(app, request).await.unwrap();
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for line in [
        "ticketlens_class_held_back{field=\"category\",class=\"network\"} 1",
        "ticketlens_class_applied_resolved{field=\"category\",class=\"network\"} 9",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from:\n{text}"
        );
    }

    // Enough new labels: a new version, whose record starts afresh.
    for ticket in history(4, 24) {
        store.insert_ticket(&ticket).await.unwrap();
    }
    pipeline.drain(|_| {}).await.unwrap();
    assert_ne!(pipeline.version(), first);
    assert!(
        pipeline.class_records().is_empty(),
        "the new version's record starts afresh"
    );
    let after = store
        .insert_ticket(&open_ticket(
            "The VPN keeps disconnecting again and again",
            None,
        ))
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    let (_, status, ..) = triage_row(&store, after).await;
    assert_ne!(status, "needs_review", "no longer held back");
}
