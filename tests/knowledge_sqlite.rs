//! Knowledge on SQLite with the real model: what end users may see before filing (planted
//! internal text must never reach them), what they said of it, possible duplicates in the
//! stream, and draft articles free of planted personal data.

mod common;

use std::path::Path;

use ticketlens::config::PipelineConfig;
use ticketlens::domain::SuggestionKind;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::{NewArticle, Store};

const INTERNAL_TITLE: &str = "Restart the SkyGate VPN concentrator (INTERNAL-RUNBOOK-7731)";
const INTERNAL_BODY: &str = "Log in to vpn-core-01 as admin with the break-glass password.";
/// A resolved ticket with the very words a person will ask: the closest match of all.
const TICKET_SUBJECT: &str = "SkyGate VPN disconnects every few minutes at home";
const TICKET_BODY: &str = "Confidential: Jordan's laptop asset CVL-TICKET-SECRET-4410.";

/// Two reports of the same Outlook crash, in other words.
const OUTLOOK: [&str; 2] = [
    "Outlook crashes when I open the shared calendar",
    "Outlook keeps crashing whenever I open the shared calendar",
];

async fn store_and_pipeline(dir: &Path) -> (Store, Pipeline) {
    let url = format!("sqlite://{}", dir.join("k.db").display());
    let text = format!("name = \"k\"\n[store]\nurl = \"{url}\"\n");
    let config = PipelineConfig::parse(&text, Path::new("k.toml")).unwrap();
    let store = Store::open(&url).await.unwrap();
    let article = |title: &str, body: &str, visibility: &str| NewArticle {
        id: None,
        title: title.into(),
        body: body.into(),
        category: Some("network".into()),
        visibility: visibility.into(),
    };
    for a in [
        article(INTERNAL_TITLE, INTERNAL_BODY, "internal"),
        article(
            "VPN keeps disconnecting at home",
            "Update the SkyGate client to 5.3 and switch the Wi-Fi band to 5 GHz.",
            "public",
        ),
        article(
            "Printer shows offline",
            "Turn it off and on again, then check the paper tray.",
            "public",
        ),
    ] {
        store.insert_article(&a).await.unwrap();
    }
    let mut ticket = common::resolved_ticket(TICKET_SUBJECT.into(), "network", "high");
    ticket.body = Some(TICKET_BODY.into());
    store.insert_ticket(&ticket).await.unwrap();
    let pipeline = Pipeline::with_parts(config, store.clone(), common::real_embedder())
        .await
        .unwrap();
    (store, pipeline)
}

#[tokio::test]
async fn before_filing_shows_public_articles_only_and_counts_what_helped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = store_and_pipeline(dir.path()).await;

    // Asked with the internal runbook's and the resolved ticket's own words.
    for question in [TICKET_SUBJECT, INTERNAL_TITLE, INTERNAL_BODY, TICKET_BODY] {
        let answer = pipeline.before_filing(question).await.unwrap();
        let shown = serde_json::to_string(&answer).unwrap();
        for secret in [
            "INTERNAL-RUNBOOK",
            "break-glass",
            "CVL-TICKET-SECRET",
            "Jordan",
        ] {
            assert!(
                !shown.contains(secret),
                "{secret} shown for {question:?}: {shown}"
            );
        }
        assert!(answer.articles.iter().all(|a| a.id != 1), "{shown}");
    }
    let answer = pipeline
        .before_filing("my vpn keeps dropping when I work from home")
        .await
        .unwrap();
    assert_eq!(answer.articles[0].title, "VPN keeps disconnecting at home");

    // An agent asking the same sees the runbook and the resolved ticket.
    let agent = pipeline.assess(TICKET_SUBJECT).await.unwrap();
    assert!(agent.suggestions.articles.iter().any(|a| a.id == 1));
    assert!(!agent.suggestions.tickets.is_empty());

    // An edited article is found by its new words once the articles are reloaded.
    sqlx::query("UPDATE articles SET title = 'Wi-Fi drops in meeting rooms' WHERE id = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let mut pipeline = pipeline;
    pipeline.reload_articles().await.unwrap();
    let again = pipeline
        .before_filing("wifi keeps dropping in the meeting room")
        .await
        .unwrap();
    assert_eq!(again.articles[0].title, "Wi-Fi drops in meeting rooms");

    assert!(pipeline.feedback(&answer.answer, true).await.unwrap());
    let d = store.deflection().await.unwrap();
    assert_eq!((d.asked, d.rated, d.helped), (6, 1, 1), "{d:?}");
    // Only the token the answer came with reaches it: never a sequential id, nor a made-up token.
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM public_answers")
        .fetch_one(store.pool())
        .await
        .unwrap();
    for forged in [id.to_string(), "1".into(), "0".repeat(32)] {
        assert!(
            !pipeline.feedback(&forged, false).await.unwrap(),
            "{forged}"
        );
    }
    let d = store.deflection().await.unwrap();
    assert_eq!((d.rated, d.helped), (1, 1), "{d:?}");
    // Nothing to search is refused, not recorded as a question.
    for empty in ["", "   ", "<p> </p>"] {
        assert!(
            matches!(
                pipeline.before_filing(empty).await,
                Err(ticketlens::pipeline::PipelineError::Unusable(_))
            ),
            "{empty:?}"
        );
    }
    assert_eq!(store.deflection().await.unwrap().asked, 6);
}

#[tokio::test]
async fn a_later_report_of_the_same_thing_is_flagged_as_a_possible_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut pipeline) = store_and_pipeline(dir.path()).await;
    let first = report(&store, OUTLOOK[0]).await;
    pipeline.drain(|_| {}).await.unwrap();
    let second = report(&store, OUTLOOK[1]).await;
    let unrelated = report(&store, "Request: a second monitor for my desk").await;
    pipeline.drain(|_| {}).await.unwrap();
    let pairs = duplicate_pairs(&store, &pipeline).await;
    assert!(pairs.contains(&(second, first)), "{pairs:?}");
    assert!(pairs.iter().all(|&(t, _)| t != unrelated), "{pairs:?}");
}

#[tokio::test]
async fn within_one_batch_a_report_duplicates_the_one_filed_before_it_not_the_one_after() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut pipeline) = store_and_pipeline(dir.path()).await;
    // Both arrive in one batch, so they are triaged in one group, scanned together.
    let first = report(&store, OUTLOOK[0]).await;
    let second = report(&store, OUTLOOK[1]).await;
    let drained = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(drained.triaged, 2, "{drained:?}");
    let pairs = duplicate_pairs(&store, &pipeline).await;
    assert!(pairs.contains(&(second, first)), "{pairs:?}");
    assert!(
        pairs.iter().all(|&(t, _)| t != first),
        "the earlier report duplicates nothing filed after it: {pairs:?}"
    );
}

/// Files a new incident reported as `subject`; its id.
async fn report(store: &Store, subject: &str) -> i64 {
    store
        .insert_ticket(&common::open_incident(subject))
        .await
        .unwrap()
}

/// (ticket, possible duplicate) for every duplicate the pipeline suggested.
async fn duplicate_pairs(store: &Store, pipeline: &Pipeline) -> Vec<(i64, i64)> {
    let found = store
        .suggested(pipeline.version(), SuggestionKind::Duplicate)
        .await
        .unwrap();
    found.into_iter().map(|(t, d, _)| (t, d)).collect()
}

#[tokio::test]
async fn recurring_fixes_without_an_article_become_drafts_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = store_and_pipeline(dir.path()).await;
    let planted = [
        ("Teams shows a white screen", "nadia.kowalski@corvane.example", "Nadia: cleared the Teams cache (%appdata%/Microsoft/Teams) and signed in again; call me on 07700 900123"),
        ("Teams is blank after the update", "tomasz.wren@corvane.example", "Cleared the Teams cache (%appdata%/Microsoft/Teams) and signed Tomasz in again from 10.40.2.17"),
        ("Teams stuck on loading", "ines.duarte@corvane.example", "Cleared the Teams cache (%appdata%/Microsoft/Teams), signed in again; mailed ines.duarte@corvane.example"),
    ];
    let mut ids = Vec::new();
    for (subject, requester, resolution) in planted {
        let mut t = common::resolved_ticket(subject.into(), "software", "medium");
        t.requester = Some(requester.into());
        t.resolution = Some(resolution.into());
        ids.push(store.insert_ticket(&t).await.unwrap());
    }
    let mut pipeline = pipeline;
    pipeline.reload_knowledge().await.unwrap();
    assert_eq!(pipeline.draft_articles().await.unwrap(), 1);
    // Another resolved ticket makes the next pass cluster again: the same gap is not drafted
    // twice.
    let other = common::resolved_ticket("Monitor flickers".into(), "hardware", "low");
    store.insert_ticket(&other).await.unwrap();
    assert_eq!(pipeline.draft_articles().await.unwrap(), 0, "drafted once");

    let drafts = store.drafts().await.unwrap();
    assert_eq!(drafts.len(), 1);
    let d = &drafts[0];
    assert_eq!(d.sources, ids);
    assert!(d.body.contains("Teams cache"), "{}", d.body);
    let text = format!("{} {}", d.title, d.body);
    for pii in [
        "Nadia",
        "Kowalski",
        "Tomasz",
        "Wren",
        "Ines",
        "Duarte",
        "07700",
        "900123",
        "10.40.2.17",
        "@corvane.example",
    ] {
        assert!(
            !text.to_lowercase().contains(&pii.to_lowercase()),
            "{pii} in {text}"
        );
    }
    // A draft is never suggested to anyone.
    let answer = pipeline
        .before_filing("Teams shows a white screen")
        .await
        .unwrap();
    assert!(answer.articles.iter().all(|a| a.id != d.id));
}
