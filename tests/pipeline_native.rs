//! The whole pipeline on the native schema with the real model, each test once on SQLite and
//! once on a fresh PostgreSQL database: tickets that would break a naive pipeline, replays
//! after a crash, stopping cleanly, and problems that keep their identity. (The demo end to
//! end runs through the binary in tests/cli.rs; several workers on PostgreSQL in
//! tests/workers_postgres.rs.)

#[macro_use]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::TestDb;
use sqlx::Row;
use ticketlens::config::PipelineConfig;
use ticketlens::domain::{FieldStatus, SuggestionKind, SuggestionRecord, TriageOutcome};
use ticketlens::pipeline::Pipeline;
use ticketlens::store::{Backend, NewArticle, NewTicket, Store, TriageRecord};

on_both_databases!(
    bad_tickets_are_triaged_or_marked_and_never_stop_the_stream,
    a_replayed_stream_neither_duplicates_nor_changes_results,
    run_stops_cleanly_when_asked_and_has_written_what_it_read,
    candidate_problems_keep_their_id_and_review_across_runs,
    rejections_and_merges_outlive_the_next_clustering_run,
    a_new_incident_joins_its_problem_as_it_is_triaged,
    what_agents_and_monitoring_read_answers_on_every_database,
    a_ticket_edited_after_its_text_went_to_the_model_is_triaged_on_its_new_text,
    a_batch_keeps_each_tickets_last_results_and_replaces_earlier_ones,
    the_embedding_cache_keeps_each_owners_last_vector_for_its_text,
    an_announced_problem_is_a_known_issue_before_filing_until_withdrawn,
);

/// A store with a little labelled history and a few articles, and a pipeline over it.
async fn small_pipeline(db: &TestDb, batch_size: usize) -> (Store, Pipeline) {
    let url = db.url();
    let text = format!(
        "name = \"test\"\n[store]\nurl = \"{url}\"\n[source]\nbatch_size = {batch_size}\npoll_interval_secs = 1\n"
    );
    let config = PipelineConfig::parse(&text, Path::new("test.toml")).unwrap();
    let store = Store::open(&url).await.unwrap();
    for (subject, category, urgency) in common::SMALL_HISTORY {
        let ticket = common::resolved_ticket(subject.into(), category, urgency);
        store.insert_ticket(&ticket).await.unwrap();
    }
    let article = NewArticle {
        id: None,
        title: "Fixing VPN disconnects".into(),
        body: "Reinstall the VPN client and reboot.".into(),
        category: Some("network".into()),
        visibility: "public".into(),
    };
    store.insert_article(&article).await.unwrap();
    let pipeline = Pipeline::with_parts(config, store.clone(), common::real_embedder())
        .await
        .unwrap();
    (store, pipeline)
}

fn open_ticket(subject: &str, body: &str) -> NewTicket {
    NewTicket {
        body: Some(body.into()),
        ..common::open_incident(subject)
    }
}

/// Two reports of one VPN problem: with the VPN history, a candidate problem.
const VPN_REPORTS: [&str; 2] = [
    "VPN disconnects every few minutes",
    "VPN keeps dropping at home",
];

/// Open tickets with these subjects (and no body).
async fn insert_open(store: &Store, subjects: &[&str]) {
    for subject in subjects {
        store
            .insert_ticket(&open_ticket(subject, ""))
            .await
            .unwrap();
    }
}

async fn triage_rows(store: &Store) -> Vec<(i64, String, Option<String>)> {
    sqlx::query("SELECT ticket_id, outcome, reason FROM triage_results ORDER BY ticket_id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn bad_tickets_are_triaged_or_marked_and_never_stop_the_stream(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 2).await;
    let empty = store.insert_ticket(&open_ticket("", "  ")).await.unwrap();
    let huge = "VPN drops. ".repeat(100_000); // ~1 MB
    let huge = store
        .insert_ticket(&open_ticket("VPN", &huge))
        .await
        .unwrap();
    let html = "<html><body><p>The printer&nbsp;is <b>offline</b></p></body></html>";
    let html = store
        .insert_ticket(&open_ticket("Printer", html))
        .await
        .unwrap();
    let broken = store.insert_ticket(&open_ticket("VPN", "x")).await.unwrap();
    // Only SQLite can hold text that is not UTF-8; PostgreSQL refuses it on the way in.
    let sqlite = store.backend() == Backend::Sqlite;
    if sqlite {
        sqlx::query(
            "UPDATE tickets SET body = CAST(X'56504E2064726F707320FFFE' AS TEXT) WHERE id = ?",
        )
        .bind(broken)
        .execute(store.pool())
        .await
        .unwrap();
    }
    let fine = store
        .insert_ticket(&open_ticket("VPN disconnects", "since this morning"))
        .await
        .unwrap();

    pipeline.drain(|_| {}).await.unwrap();
    let rows: HashMap<i64, (String, Option<String>)> = triage_rows(&store)
        .await
        .into_iter()
        .map(|(id, outcome, reason)| (id, (outcome, reason)))
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[&empty].0, "skipped");
    assert_eq!(
        rows[&empty].1.as_deref(),
        Some("subject and body are empty")
    );
    assert!(rows[&huge].1.as_deref().unwrap().contains("16 KiB"));
    assert!(rows[&html].1.as_deref().unwrap().contains("HTML"));
    if sqlite {
        assert!(rows[&broken].1.as_deref().unwrap().contains("UTF-8"));
    }
    assert_ne!(rows[&fine].0, "skipped");
    // Six labelled tickets are too few to apply anything, but not to suggest.
    let predicted: Option<String> = sqlx::query_scalar(
        &store
            .backend()
            .sql("SELECT category FROM triage_results WHERE ticket_id = ?"),
    )
    .bind(fine)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(predicted.as_deref(), Some("network"));
}

async fn a_replayed_stream_neither_duplicates_nor_changes_results(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 2).await;
    insert_open(
        &store,
        &[
            "VPN disconnects hourly",
            "Printer jammed again",
            "VPN login fails",
        ],
    )
    .await;
    let agent_set = store
        .insert_ticket(&open_ticket("VPN is down", ""))
        .await
        .unwrap();
    sqlx::query(
        &store
            .backend()
            .sql("UPDATE tickets SET category = 'security' WHERE id = ?"),
    )
    .bind(agent_set)
    .execute(store.pool())
    .await
    .unwrap();

    let first = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(first.triaged, 4);
    let rows = triage_rows(&store).await;
    let count = |table: &'static str| {
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(store.pool())
                .await
                .unwrap()
        }
    };
    let suggestions = count("suggestions").await;

    // As after a crash between write and acknowledgement: the stream is read again.
    let replay = match store.backend() {
        Backend::Sqlite => "UPDATE pipeline_cursors SET position = 0",
        Backend::Postgres => {
            "INSERT INTO ticket_work (pipeline, ticket_id, change_seq) \
             SELECT 'test', id, change_seq FROM tickets"
        }
    };
    sqlx::query(replay).execute(store.pool()).await.unwrap();
    let second = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(second.triaged, 4);
    assert_eq!(triage_rows(&store).await, rows);
    assert_eq!(count("suggestions").await, suggestions);
    assert_eq!(
        store.ticket(agent_set).await.unwrap().category.as_deref(),
        Some("security"),
        "an agent's category is never overwritten"
    );
    // Nothing new: nothing read.
    assert!(pipeline.step().await.unwrap().is_none());
}

async fn run_stops_cleanly_when_asked_and_has_written_what_it_read(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 1).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move { pipeline.run(shutdown).await });
    let id = store
        .insert_ticket(&open_ticket("VPN drops", ""))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while triage_rows(&store).await.iter().all(|(t, _, _)| *t != id) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ticket was never triaged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("run stops promptly")
        .unwrap()
        .unwrap();
    assert_eq!(report.triaged, 1);
    assert_eq!(
        store.cursor("test").await.unwrap(),
        store.ticket(id).await.unwrap().change_seq
    );
}

async fn candidate_problems_keep_their_id_and_review_across_runs(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 8).await;
    insert_open(&store, &VPN_REPORTS).await;
    let first = pipeline.detect_problems().await.unwrap();
    assert!(!first.is_empty(), "the VPN incidents form a candidate");
    let (id, vpn) = &first[0];
    assert!(vpn.title.to_lowercase().contains("vpn"), "{}", vpn.title);
    sqlx::query(
        &store
            .backend()
            .sql("UPDATE problems SET status = 'accepted' WHERE id = ?"),
    )
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();

    store
        .insert_ticket(&open_ticket("VPN drops again", "every ten minutes"))
        .await
        .unwrap();
    let second = pipeline.detect_problems().await.unwrap();
    assert_eq!(second[0].0, *id, "the grown cluster is the same problem");
    assert!(second[0].1.members.len() > vpn.members.len());
    let stored = store.problems().await.unwrap();
    let again = stored.iter().find(|p| p.id == *id).unwrap();
    assert_eq!(again.status, "accepted", "a reviewer's decision sticks");
    assert_eq!(stored.len(), second.len(), "no duplicate problems");
}

/// A small pipeline whose open tickets make two candidate problems; with their ids.
async fn vpn_and_printer_problems(db: &TestDb) -> (Store, Pipeline, i64, i64) {
    let (store, mut pipeline) = small_pipeline(db, 8).await;
    insert_open(
        &store,
        &[
            "VPN disconnects every few minutes",
            "VPN keeps dropping at home",
            "Printer on floor 2 jammed again",
            "Floor 2 printer offline",
        ],
    )
    .await;
    let first = pipeline.detect_problems().await.unwrap();
    let id_of = |word: &str| {
        first
            .iter()
            .find(|(_, c)| c.title.to_lowercase().contains(word))
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("a {word} candidate in {first:?}"))
    };
    let (vpn, printer) = (id_of("vpn"), id_of("printer"));
    (store, pipeline, vpn, printer)
}

async fn rejections_and_merges_outlive_the_next_clustering_run(db: TestDb) {
    let (store, mut pipeline, vpn, printer) = vpn_and_printer_problems(&db).await;

    store.reject_problem(printer).await.unwrap();
    pipeline.detect_problems().await.unwrap();
    let status = |id: i64| {
        let store = store.clone();
        async move { store.problem(id).await.unwrap().problem.status }
    };
    assert_eq!(status(printer).await, "rejected", "not proposed again");

    store.accept_problem(printer).await.unwrap();
    store.merge_problems(vpn, printer).await.unwrap();
    assert!(
        store.merge_problems(vpn, printer).await.is_err(),
        "merged once"
    );
    let again = pipeline.detect_problems().await.unwrap();
    assert_eq!(status(vpn).await, "merged");
    assert_eq!(status(printer).await, "accepted");
    let merged = store.problem(printer).await.unwrap();
    let subjects: Vec<String> = merged
        .members
        .iter()
        .map(|m| m.subject.to_lowercase())
        .collect();
    assert!(subjects.iter().any(|s| s.contains("vpn")), "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.contains("printer")),
        "{subjects:?}"
    );
    assert!(
        again.iter().all(|(id, _)| *id != vpn),
        "the VPN incidents stay in the problem they were merged into: {again:?}"
    );
    let listed = store.problems().await.unwrap();
    assert!(listed.iter().all(|p| p.id != vpn));
}

async fn a_new_incident_joins_its_problem_as_it_is_triaged(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 8).await;
    insert_open(&store, &VPN_REPORTS).await;
    pipeline.drain(|_| {}).await.unwrap();
    let found = pipeline.detect_problems().await.unwrap();
    let (vpn, candidate) = &found[0];
    assert!(candidate.title.to_lowercase().contains("vpn"));
    let size = store.problem(*vpn).await.unwrap().members.len();
    let linked: Vec<Option<i64>> = sqlx::query_scalar(&store.backend().sql(
        "SELECT r.problem_id FROM triage_results r JOIN problem_members m \
         ON m.ticket_id = r.ticket_id WHERE m.problem_id = ?",
    ))
    .bind(vpn)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(linked.len(), 2, "the two open incidents were triaged");
    assert!(
        linked.iter().all(|p| *p == Some(*vpn)),
        "the pass links them"
    );

    let joining = store
        .insert_ticket(&open_ticket(
            "The VPN dropped again",
            "every ten minutes from home",
        ))
        .await
        .unwrap();
    let unrelated = store
        .insert_ticket(&open_ticket("Need a new keyboard", "the space bar sticks"))
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    let problem_of = |id: i64| {
        let store = store.clone();
        async move {
            sqlx::query_scalar::<_, Option<i64>>(
                &store
                    .backend()
                    .sql("SELECT problem_id FROM triage_results WHERE ticket_id = ?"),
            )
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap()
        }
    };
    assert_eq!(
        problem_of(joining).await,
        Some(*vpn),
        "joined without a clustering pass"
    );
    assert_eq!(problem_of(unrelated).await, None);
    let members = store.problem(*vpn).await.unwrap().members;
    assert_eq!(members.len(), size + 1);
    assert!(members.iter().any(|m| m.ticket_id == joining));
}

async fn what_agents_and_monitoring_read_answers_on_every_database(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 8).await;
    insert_open(&store, &VPN_REPORTS).await;
    insert_open(&store, &["Printer on floor 2 jammed again"]).await;
    pipeline.drain(|_| {}).await.unwrap();
    pipeline.detect_problems().await.unwrap();

    let counts = store.service_counts("test").await.unwrap();
    assert_eq!(counts.triaged, 3);
    assert_eq!(counts.applied + counts.needs_review, 3);
    assert_eq!(counts.queue_depth, 0);
    assert!(counts.problems_open >= 1, "{counts:?}");
    let queue = store.review_queue(10).await.unwrap();
    assert_eq!(queue.len() as i64, counts.review_queue);
    assert!(
        !queue.is_empty(),
        "six labelled tickets are too few to apply anything"
    );
    let vpn = queue
        .iter()
        .find(|v| v.subject.contains("VPN"))
        .expect("a VPN ticket waits");
    let (view, suggestions) = store.ticket_triage(vpn.ticket_id).await.unwrap();
    assert_eq!(&view, vpn);
    assert_eq!(view.category.label.as_deref(), Some("network"));
    assert!(view
        .category
        .confidence
        .is_some_and(|c| c > 0.0 && c <= 1.0));
    assert!(
        suggestions
            .iter()
            .any(|s| s.kind == SuggestionKind::Article && s.title == "Fixing VPN disconnects"),
        "{suggestions:?}"
    );

    let ids: Vec<i64> = queue.iter().map(|v| v.ticket_id).collect();
    let tally = store
        .triage_counts(&ids, &view.model_version)
        .await
        .unwrap();
    assert_eq!(tally.triaged, ids.len());
    assert_eq!(
        store.triage_rows(&view.model_version).await.unwrap().len(),
        3
    );
    assert_eq!(store.field_outcomes().await.unwrap().len(), 6);

    let answer = store
        .record_public_answer(24, &[1], &[], None)
        .await
        .unwrap();
    let refined = store
        .record_public_answer(30, &[1], &[], Some(answer))
        .await
        .unwrap();
    assert_eq!(refined, answer, "a rewording replaces the unrated answer");
    store.record_feedback(answer, true).await.unwrap();
    let unanswered = store
        .record_public_answer(10, &[], &[], None)
        .await
        .unwrap();
    assert_ne!(unanswered, answer);
    let deflection = store.deflection().await.unwrap();
    assert_eq!(
        (
            deflection.asked,
            deflection.answered,
            deflection.rated,
            deflection.helped
        ),
        (2, 1, 1, 1)
    );
}

/// The model starts on the next batch's first texts while a batch is written (SQLite): an
/// edit in between must not leave the ticket with the vector of its old text.
async fn a_ticket_edited_after_its_text_went_to_the_model_is_triaged_on_its_new_text(db: TestDb) {
    let (store, mut pipeline) = small_pipeline(&db, 2).await;
    insert_open(
        &store,
        &[
            "VPN disconnects hourly",
            "Printer jammed again",
            "Outlook will not open",
            "Wi-Fi drops in room 4",
        ],
    )
    .await;
    let edited = store.tickets().await.unwrap().last().unwrap().id - 1;
    // Up to the batch of the first two open tickets (the history's batches come first).
    let mut triaged = 0;
    while triaged < 2 {
        triaged += pipeline.step().await.unwrap().unwrap().triaged;
    }
    assert_eq!(triaged, 2);
    let new_subject = "Laptop battery swells and the case cracks";
    sqlx::query(
        &store
            .backend()
            .sql("UPDATE tickets SET subject = ? WHERE id = ?"),
    )
    .bind(new_subject)
    .bind(edited)
    .execute(store.pool())
    .await
    .unwrap();
    let rest = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(
        rest.triaged, 2,
        "the edit moved the ticket behind the other"
    );

    let embedder = pipeline.embedder();
    let expected = embedder
        .embed(vec![new_subject.to_owned()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let wanted = [(edited, ticketlens::pipeline::text_hash(new_subject))];
    let mut rows = ticketlens::vectors::Rows::zeros(1, embedder.dimension());
    let found = store
        .cached_embeddings(
            ticketlens::store::OwnerKind::Ticket,
            embedder.version(),
            &wanted,
            &mut rows,
        )
        .await
        .unwrap();
    assert_eq!(found, [true], "the new text was embedded and cached");
    let similarity = common::cosine(rows.row(0), &expected);
    assert!(
        similarity > 0.999,
        "cosine to the new text's vector: {similarity}"
    );
    let outcome = triage_rows(&store).await;
    assert_eq!(outcome.len(), 4);
}

/// The batch writer keeps a batch's rows until it commits, then writes them in a few
/// statements: a ticket recorded twice in one batch ends with its last record, and a later
/// batch replaces a ticket's suggestions, also with none.
async fn a_batch_keeps_each_tickets_last_results_and_replaces_earlier_ones(db: TestDb) {
    let store = Store::open(&db.url()).await.unwrap();
    let a = store
        .insert_ticket(&open_ticket("Printer jams", ""))
        .await
        .unwrap();
    let b = store
        .insert_ticket(&open_ticket("VPN drops", ""))
        .await
        .unwrap();
    let record = |ticket_id, outcome: TriageOutcome, category: &str| TriageRecord {
        ticket_id,
        model_version: "m1".into(),
        outcome,
        reason: None,
        category: Some(category.into()),
        category_confidence: Some(0.5),
        category_status: FieldStatus::NeedsReview,
        urgency: None,
        urgency_confidence: None,
        urgency_status: FieldStatus::NeedsReview,
        priority: None,
        evidence: serde_json::json!([]),
        problem_id: None,
        major_incident: false,
    };
    let article = |target_id, score| SuggestionRecord {
        kind: SuggestionKind::Article,
        target_id,
        score,
    };
    let mut writer = store.begin_batch().await.unwrap();
    writer.record_triage(&record(a, TriageOutcome::NeedsReview, "hardware"));
    writer.record_suggestions(a, "m1", &[article(1, 0.9), article(2, 0.8)]);
    writer.record_triage(&record(b, TriageOutcome::NeedsReview, "network"));
    writer.record_suggestions(b, "m1", &[article(3, 0.7)]);
    writer.record_triage(&record(a, TriageOutcome::Applied, "printing"));
    writer.record_suggestions(a, "m1", &[article(4, 0.6)]);
    writer.commit().await.unwrap();

    let rows: Vec<(i64, String, String)> =
        sqlx::query("SELECT ticket_id, outcome, category FROM triage_results ORDER BY ticket_id")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
    assert_eq!(
        rows,
        [
            (a, "applied".into(), "printing".into()),
            (b, "needs_review".into(), "network".into())
        ]
    );
    let suggestions = || async {
        sqlx::query("SELECT ticket_id, rank, target_id FROM suggestions ORDER BY ticket_id, rank")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1), r.get::<i64, _>(2)))
            .collect::<Vec<_>>()
    };
    assert_eq!(suggestions().await, [(a, 1, 4), (b, 1, 3)]);

    let mut writer = store.begin_batch().await.unwrap();
    writer.record_suggestions(a, "m1", &[article(5, 0.9), article(6, 0.8)]);
    writer.record_suggestions(b, "m1", &[]);
    writer.commit().await.unwrap();
    assert_eq!(suggestions().await, [(a, 1, 5), (a, 2, 6)]);
}

/// The embedding cache, read and written a chunk of owners per statement: more owners than one
/// chunk holds, an owner written twice in one call (its last vector kept), a vector whose
/// text changed since (not found), and one of another length (not this model's: not found).
async fn the_embedding_cache_keeps_each_owners_last_vector_for_its_text(db: TestDb) {
    use ticketlens::store::OwnerKind;
    use ticketlens::vectors::Rows;

    let store = Store::open(&db.url()).await.unwrap();
    let (kind, version, dimension) = (OwnerKind::Ticket, "test-model", 3);
    let owners: Vec<i64> = (1..=1203).collect();
    let vector = |id: i64| vec![id as f32, 0.5, -(id as f32)];
    let mut vectors: Vec<(i64, String, Vec<f32>)> = owners
        .iter()
        .map(|&id| (id, format!("hash-{id}"), vector(id)))
        .collect();
    // Owner 7 again, with a new text and vector: the last one given stands.
    vectors.push((7, "hash-7-edited".into(), vec![70.0, 7.0, 0.7]));
    // Owner 9 with a vector of another length.
    vectors[8].2 = vec![1.0; 5];
    let entries: Vec<(i64, String, &[f32])> = vectors
        .iter()
        .map(|(id, hash, v)| (*id, hash.clone(), v.as_slice()))
        .collect();
    store
        .cache_embeddings(kind, version, &entries)
        .await
        .unwrap();
    // Written again unchanged: the conflict updates, nothing fails.
    store
        .cache_embeddings(kind, version, &entries)
        .await
        .unwrap();

    let mut wanted: Vec<(i64, String)> = owners
        .iter()
        .map(|&id| (id, format!("hash-{id}")))
        .collect();
    wanted[6].1 = "hash-7-edited".into();
    wanted.push((5, "hash-5-stale".into()));
    wanted.push((99_999, "hash-99999".into()));
    let mut rows = Rows::zeros(wanted.len(), dimension);
    let found = store
        .cached_embeddings(kind, version, &wanted, &mut rows)
        .await
        .unwrap();
    for (i, (id, _)) in wanted.iter().enumerate() {
        let expected = match (i, *id) {
            (_, 9) | (_, 99_999) => None,
            (1203, 5) => None, // the stale hash, after owner 5's own entry
            (_, 7) => Some(vec![70.0, 7.0, 0.7]),
            (_, id) => Some(vector(id)),
        };
        assert_eq!(found[i], expected.is_some(), "owner {id} at {i}");
        if let Some(expected) = expected {
            assert_eq!(rows.row(i), expected.as_slice(), "owner {id} at {i}");
        }
    }
    let other_version = store
        .cached_embeddings(
            kind,
            "other-model",
            &wanted[..3],
            &mut Rows::zeros(3, dimension),
        )
        .await
        .unwrap();
    assert_eq!(
        other_version, [false; 3],
        "another model's vectors are not these"
    );
}

async fn an_announced_problem_is_a_known_issue_before_filing_until_withdrawn(db: TestDb) {
    use ticketlens::store::Announcement;
    let (store, pipeline, vpn, printer) = vpn_and_printer_problems(&db).await;
    let vpn_question = "My VPN keeps disconnecting every few minutes";
    let known = |question: &'static str| {
        let pipeline = &pipeline;
        async move { pipeline.before_filing(question).await.unwrap().known_issues }
    };
    assert!(known(vpn_question).await.is_empty(), "not announced yet");

    let first = Announcement::new("VPN drops", None).unwrap();
    store.announce_problem(vpn, &first).await.unwrap();
    let reworded =
        Announcement::new(" VPN drops after the update ", Some("Use the portal")).unwrap();
    store.announce_problem(vpn, &reworded).await.unwrap();
    let announced = store.announced_problems().await.unwrap();
    assert_eq!(
        announced.len(),
        1,
        "announcing again replaces: {announced:?}"
    );
    assert_eq!(announced[0].centre.len(), pipeline.embedder().dimension());
    let issues = known(vpn_question).await;
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].title, "VPN drops after the update");
    assert_eq!(issues[0].workaround.as_deref(), Some("Use the portal"));
    let members = store.problem(vpn).await.unwrap().members;
    assert_eq!(issues[0].reported, members.len() as i64);
    let since = members.iter().map(|m| m.created_at.clone()).min().unwrap();
    assert_eq!(issues[0].since, since);
    assert!(known("The floor 2 printer is offline").await.is_empty());
    assert_eq!(store.deflection().await.unwrap().known_issue, 1);

    store.reject_problem(printer).await.unwrap();
    assert!(
        store.announce_problem(printer, &first).await.is_err(),
        "a rejected problem is not announced"
    );
    assert!(store.announce_problem(987_654, &first).await.is_err());

    store.withdraw_problem(vpn).await.unwrap();
    assert!(known(vpn_question).await.is_empty(), "withdrawn at once");
    store.withdraw_problem(vpn).await.unwrap();
    assert_eq!(store.problem(vpn).await.unwrap().problem.announcement, None);
}
