//! GLPI 11 on MariaDB, on a database built from GLPI 11's installer DDL
//! (tests/data/glpi11_schema.sql): an upgraded database holding text in all three forms
//! (raw from 11, `&#60;` from 10, `&lt;` from 9.5) read as GLPI 11 shows it, raw HTML written
//! back, the raw ids in the history, entity visibility of knowledge-base items, the version
//! check, and GLPI 11's webhooks.

use axum::http::{HeaderMap, HeaderValue};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sqlx::MySqlPool;
use ticketlens::config::PipelineConfig;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::Store;
use ticketlens::systems::hook::{Delivery, HookError, Receipt};
use ticketlens::systems::TicketSystem;

use crate::common::GlpiDb;
use crate::fixture::*;

/// (search option, old value, new value, old id, new id) of a history row.
type LogWithIds = (i64, String, String, Option<i64>, Option<i64>);

/// GLPI 11 upgraded from 10: its history is GLPI 10's (encoded), old rows are decoded on read.
async fn upgraded() -> (GlpiDb, MySqlPool) {
    let (db, pool) = seeded(GlpiDb::eleven().await, Stored::Encoded).await;
    exec(
        &pool,
        "UPDATE glpi_configs SET value = '1' WHERE name = 'must_unsanitize_db_data'",
    )
    .await;
    // An administrator made the VPN FAQ visible from the root entity down.
    exec(
        &pool,
        &format!("UPDATE glpi_knowbaseitems SET is_recursive = 1 WHERE id = {VPN_FAQ}"),
    )
    .await;
    (db, pool)
}

async fn connected(glpi: &GlpiDb, dir: &std::path::Path, extra: &str) -> (TicketSystem, Store) {
    let config = PipelineConfig::load(&pipeline_file(dir, glpi, extra)).unwrap();
    let store = Store::open(&config.store.url).await.unwrap();
    let system = TicketSystem::connect(&config.system).await.unwrap();
    (system, store)
}

fn body_of(store_tickets: &[ticketlens::store::TicketRow], id: i64) -> String {
    let row = store_tickets.iter().find(|t| t.id == id).unwrap();
    String::from_utf8(row.body.clone().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_glpi_11_is_read_as_it_shows_and_gets_raw_html_and_ids_in_its_history() {
    let (glpi, pool) = upgraded().await;
    // A ticket from GLPI 9.5 days, and one filed on 11.
    let legacy = add_ticket(
        &pool,
        &GlpiTicket {
            status: 6,
            category: ACCOUNTS,
            age_days: 400,
            solution: Some("Unlocked it in AD."),
            stored: Stored::Legacy,
            ..GlpiTicket::new_incident("Account locked again", "It says <i>locked</i>.", 3)
        },
    )
    .await;
    let vpn = add_ticket(
        &pool,
        &GlpiTicket {
            stored: Stored::Raw,
            ..GlpiTicket::new_incident(
                "The VPN keeps disconnecting every few minutes",
                "Since this morning the VPN drops <b>every</b> few minutes & I lose my work.",
                1,
            )
        },
    )
    .await;
    // More of the same, so that they make a candidate problem.
    for (i, name) in MORE_VPN.iter().enumerate() {
        let raw = GlpiTicket {
            stored: Stored::Raw,
            ..GlpiTicket::new_incident(name, "Please help.", 20 + i as i64)
        };
        add_ticket(&pool, &raw).await;
    }
    // An agent put this one in a category (the wrong one, even): it stays.
    let agent_set = add_ticket(
        &pool,
        &GlpiTicket {
            category: ACCOUNTS,
            stored: Stored::Raw,
            ..GlpiTicket::new_incident("Printer on floor 2 is jammed again", "Paper stuck.", 9)
        },
    )
    .await;
    agent_changed(&pool, agent_set, 7, " (0)", "Accounts & Access (4)").await;
    let dir = tempfile::tempdir().unwrap();
    let (system, store) = connected(&glpi, dir.path(), "").await;
    system.pull(&store).await.unwrap();
    let tickets = store.tickets().await.unwrap();
    assert!(body_of(&tickets, vpn).contains(
        "<p>Since this morning the VPN drops <b>every</b> few minutes & I lose my work.</p>"
    ));
    assert_eq!(body_of(&tickets, legacy), "<p>It says <i>locked</i>.</p>");
    let legacy_row = tickets.iter().find(|t| t.id == legacy).unwrap();
    assert_eq!(legacy_row.resolution.as_deref(), Some("Unlocked it in AD."));
    assert_eq!(legacy_row.category.as_deref(), Some("Accounts & Access"));
    let articles = store.articles().await.unwrap();
    assert!(articles.iter().any(|a| a.id == VPN_FAQ && a.public));
    assert!(
        articles.iter().any(|a| a.id == 2 && !a.public),
        "not a FAQ item"
    );

    // Triage writes as GLPI 11 does.
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
    let mut pipeline = Pipeline::open(config).await.unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(fields(&pool, vpn).await.0, NETWORK_VPN);
    assert_eq!(
        fields(&pool, agent_set).await.0,
        ACCOUNTS,
        "what the agent set stands"
    );
    assert_eq!(recorded(&store, agent_set).await.1, "kept");
    let note: String =
        sqlx::query_scalar("SELECT content FROM glpi_itilfollowups WHERE items_id = ?")
            .bind(vpn)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        note.starts_with("<p><strong>ticketlens</strong>"),
        "raw HTML: {note}"
    );
    assert!(note.contains("Category: Network &gt; VPN"), "{note}");
    let logs: Vec<LogWithIds> = sqlx::query_as(
        "SELECT CAST(id_search_option AS SIGNED), old_value, new_value, \
         CAST(old_id AS SIGNED), CAST(new_id AS SIGNED) FROM glpi_logs \
         WHERE itemtype = 'Ticket' AND items_id = ? AND user_name = 'ticketlens' \
         AND linked_action = 0 ORDER BY id",
    )
    .bind(vpn)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        logs,
        [
            (
                7,
                " (0)".into(),
                "Network > VPN (2)".into(),
                Some(0),
                Some(NETWORK_VPN)
            ),
            (10, "3".into(), "4".into(), None, None),
            (3, "3".into(), "4".into(), None, None),
        ]
    );

    // Problems are linked with GLPI 11's link type (its default); a replay writes nothing.
    pipeline.detect_problems().await.unwrap();
    let links: Vec<i64> =
        sqlx::query_scalar("SELECT CAST(link AS SIGNED) FROM glpi_problems_tickets")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        !links.is_empty() && links.iter().all(|&l| l == 1),
        "{links:?}"
    );
    let snapshot = glpi_counts(&pool).await;
    sqlx::query("UPDATE pipeline_cursors SET position = 0")
        .execute(store.pool())
        .await
        .unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    pipeline.detect_problems().await.unwrap();
    assert_eq!(
        glpi_counts(&pool).await,
        snapshot,
        "a replay writes nothing twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_on_glpi_11_plans_and_writes_nothing() {
    let (glpi, pool) = upgraded().await;
    let vpn = add_ticket(
        &pool,
        &GlpiTicket {
            stored: Stored::Raw,
            ..GlpiTicket::new_incident("The VPN keeps disconnecting every few minutes", "Help.", 1)
        },
    )
    .await;
    let before = glpi_counts(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
    let mut pipeline = Pipeline::open(config).await.unwrap();
    pipeline.start_dry_run().unwrap();
    pipeline.drain(|_| {}).await.unwrap();
    let plan = pipeline.dry_run_plan();
    assert!(
        plan.contains(&format!("ticket {vpn}: category = Network > VPN")),
        "{plan:?}"
    );
    assert!(
        plan.contains(&format!("ticket {vpn}: private follow-up")),
        "{plan:?}"
    );
    assert_eq!(glpi_counts(&pool).await, before);
}

#[tokio::test]
async fn a_fresh_glpi_11_reads_text_as_stored() {
    // 11.0.5 and later install with decoding off: nothing there was ever encoded, and text
    // that looks encoded is what a person typed.
    let glpi = GlpiDb::eleven().await;
    let pool = MySqlPool::connect(&glpi.url()).await.unwrap();
    let typed = add_ticket(
        &pool,
        &GlpiTicket {
            stored: Stored::Raw,
            ..GlpiTicket::new_incident("Use &#60;br&#62; in the template", "It breaks.", 1)
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (system, store) = connected(&glpi, dir.path(), "").await;
    system.pull(&store).await.unwrap();
    let row = store
        .tickets()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == typed)
        .unwrap();
    assert_eq!(
        row.subject.as_deref(),
        Some("Use &#60;br&#62; in the template".as_bytes())
    );
}

#[tokio::test]
async fn a_glpi_of_another_version_is_refused_with_a_clear_message() {
    for (version, shown) in [
        ("12.0.0", "12.0.0"),
        ("9.5.13", "9.5.13"),
        ("", "no version"),
    ] {
        let glpi = GlpiDb::eleven().await;
        let pool = MySqlPool::connect(&glpi.url()).await.unwrap();
        let sql = if version.is_empty() {
            "DELETE FROM glpi_configs WHERE name = 'version'".to_owned()
        } else {
            format!("UPDATE glpi_configs SET value = '{version}' WHERE name = 'version'")
        };
        exec(&pool, &sql).await;
        let dir = tempfile::tempdir().unwrap();
        let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
        let err = match TicketSystem::connect(&config.system).await {
            Ok(_) => panic!("connected to GLPI {version:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(shown) && err.contains("GLPI 10 and 11"),
            "{err}"
        );
    }
}

fn glpi_call(secret: &str, body: &str, timestamp: i64) -> HeaderMap {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    let mut headers = HeaderMap::new();
    let signature = hex::encode(mac.finalize().into_bytes());
    headers.insert(
        "x-glpi-signature",
        HeaderValue::from_str(&signature).unwrap(),
    );
    headers.insert("x-glpi-timestamp", HeaderValue::from(timestamp));
    headers
}

#[tokio::test]
async fn glpi_11s_webhook_reads_the_ticket_at_once_and_refuses_forged_calls() {
    let (glpi, pool) = upgraded().await;
    let dir = tempfile::tempdir().unwrap();
    let (system, store) = connected(&glpi, dir.path(), "webhook_secret = \"s3cret\"\n").await;
    system.pull(&store).await.unwrap();
    let ticket = add_ticket(
        &pool,
        &GlpiTicket {
            stored: Stored::Raw,
            ..GlpiTicket::new_incident("Outlook crashes on start", "Since the update.", 4)
        },
    )
    .await;
    let known = |tickets: Vec<ticketlens::store::TicketRow>| tickets.iter().any(|t| t.id == ticket);
    let body =
        format!("{{\"event\": \"new\", \"item\": {{\"id\": {ticket}, \"name\": \"forged\"}}}}");
    let now = Utc::now().timestamp();
    let receive = |headers: HeaderMap, body: String| {
        let system = &system;
        let store = &store;
        async move {
            let delivery = Delivery {
                headers: &headers,
                body: body.as_bytes(),
            };
            system.receive("glpi", store, delivery).await
        }
    };
    for (headers, why) in [
        (glpi_call("wrong", &body, now), "another secret"),
        (glpi_call("s3cret", "{}", now), "another body"),
        (
            glpi_call("s3cret", &body, now - 2 * 24 * 3600),
            "two days old",
        ),
        (HeaderMap::new(), "unsigned"),
    ] {
        let refused = receive(headers, body.clone()).await;
        assert!(
            matches!(refused, Err(HookError::Signature)),
            "{why}: {refused:?}"
        );
    }
    assert!(!known(store.tickets().await.unwrap()));
    let signed = glpi_call("s3cret", &body, now);
    let read = receive(signed.clone(), body.clone()).await.unwrap();
    assert_eq!(
        read,
        Receipt::Read {
            ticket,
            found: true
        }
    );
    let row = store
        .tickets()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == ticket)
        .unwrap();
    assert_eq!(
        row.subject.as_deref(),
        Some("Outlook crashes on start".as_bytes())
    );
    assert_eq!(
        receive(signed, body.clone()).await.unwrap(),
        Receipt::Replayed
    );
    // Another system's route, on a GLPI pipeline.
    let other = Delivery {
        headers: &HeaderMap::new(),
        body: b"{}",
    };
    assert!(matches!(
        system.receive("zammad", &store, other).await,
        Err(HookError::Off(_))
    ));
}
