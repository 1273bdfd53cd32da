//! GLPI 10 on MariaDB as the ticket store, for real: a database with GLPI's own tables
//! (tests/data/glpi10_schema.sql), tickets, categories, solutions and knowledge-base items as
//! GLPI stores them, the pipeline with the real model, and every row it writes checked.

use std::collections::BTreeMap;

use sqlx::MySqlPool;
use ticketlens::config::PipelineConfig;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::Store;

use crate::common::{self, GlpiDb};
use crate::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glpi_tickets_are_triaged_into_glpis_own_tables_and_agents_keep_what_they_set() {
    let (glpi, pool) = seeded_glpi().await;
    let vpn = add_ticket(
        &pool,
        &GlpiTicket::new_incident(
            "The VPN keeps disconnecting every few minutes",
            "Since this morning the VPN drops <b>every</b> few minutes & I lose my work.",
            1,
        ),
    )
    .await;
    let mut more_vpn = Vec::new();
    for (i, name) in MORE_VPN.iter().enumerate() {
        let id = add_ticket(
            &pool,
            &GlpiTicket::new_incident(name, "Please help.", 2 + i as i64),
        )
        .await;
        more_vpn.push(id);
    }
    // An agent put this one in a category (the wrong one, even): it stays.
    let agent_category = add_ticket(
        &pool,
        &GlpiTicket {
            category: ACCOUNTS,
            ..GlpiTicket::new_incident("Printer on floor 2 is jammed again", "Paper stuck.", 9)
        },
    )
    .await;
    agent_changed(
        &pool,
        agent_category,
        7,
        "&nbsp; (0)",
        "Accounts &#38; Access (4)",
    )
    .await;
    // An agent raised this one's urgency: triage may not lower it.
    let agent_urgency = add_ticket(
        &pool,
        &GlpiTicket {
            urgency: 5,
            ..GlpiTicket::new_incident(
                "Please reset my password, my account is locked",
                "I cannot log in.",
                10,
            )
        },
    )
    .await;
    agent_changed(&pool, agent_urgency, 10, "3", "5").await;
    let empty = add_ticket(&pool, &GlpiTicket::new_incident("", "", 11)).await;
    let late = add_ticket(
        &pool,
        &GlpiTicket::new_incident(
            "Cannot connect to the VPN from home",
            "Since the update.",
            12,
        ),
    )
    .await;
    let open = [
        vec![vpn],
        more_vpn.clone(),
        vec![agent_category, agent_urgency, empty, late],
    ]
    .concat();

    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
    let mut pipeline = Pipeline::open(config).await.unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();

    // An agent works on this one after ticketlens read it and before it writes: the guards
    // at write time keep the agent's category and urgency.
    exec(
        &pool,
        &format!(
            "UPDATE glpi_tickets SET itilcategories_id = 3, urgency = 2, priority = 2, \
             date_mod = NOW() WHERE id = {late}"
        ),
    )
    .await;
    agent_changed(&pool, late, 7, "&nbsp; (0)", "Printing (3)").await;
    agent_changed(&pool, late, 10, "3", "2").await;

    // Read: history with its labels and solutions, the knowledge base with the FAQ public.
    let tickets = store.tickets().await.unwrap();
    let history: Vec<_> = tickets.iter().filter(|t| !t.is_open()).collect();
    assert_eq!(history.len(), 72);
    assert!(history
        .iter()
        .all(|t| t.category.is_some() && t.urgency.is_some()));
    assert_eq!(
        history[0].resolution.as_deref(),
        Some("Fixed it with the user & closed.")
    );
    assert!(history
        .iter()
        .any(|t| t.category.as_deref() == Some("Network > VPN")
            && t.urgency.as_deref() == Some("high")));
    let articles = store.articles().await.unwrap();
    assert_eq!(articles.len(), 2);
    assert!(articles.iter().any(|a| a.id == VPN_FAQ && a.public));
    assert!(articles.iter().any(|a| a.id == 2 && !a.public));
    let body = tickets
        .iter()
        .find(|t| t.id == vpn)
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("<b>every</b> few minutes & I lose"));

    let report = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(report.triaged, open.len());
    assert!(report.written_back > 0);

    // The clear VPN ticket: category set, and the urgency with GLPI's priority from it.
    let (category, category_status, urgency, urgency_status) = recorded(&store, vpn).await;
    assert_eq!(
        (category.as_deref(), category_status.as_str()),
        (Some("Network > VPN"), "applied")
    );
    let (glpi_category, glpi_urgency, glpi_priority) = fields(&pool, vpn).await;
    assert_eq!(glpi_category, NETWORK_VPN);
    // 24 closed VPN tickets, all of urgency 4 (high): triage is sure enough to set it.
    assert_eq!(
        (urgency.as_deref(), urgency_status.as_str()),
        (Some("high"), "applied")
    );
    assert_eq!(
        (glpi_urgency, glpi_priority),
        (4, 4),
        "GLPI's matrix gives priority 4 for urgency 4 and impact 3"
    );
    let expected_logs = vec![
        (
            7,
            "&nbsp; (0)".to_owned(),
            "Network &#62; VPN (2)".to_owned(),
        ),
        (10, "3".to_owned(), "4".to_owned()),
        (3, "3".to_owned(), "4".to_owned()),
    ];
    assert_eq!(field_logs(&pool, vpn).await, expected_logs);

    // What agents set stands, and nothing is logged in ticketlens' name for it.
    assert_eq!(fields(&pool, agent_category).await.0, ACCOUNTS);
    assert_eq!(recorded(&store, agent_category).await.1, "kept");
    assert!(field_logs(&pool, agent_category)
        .await
        .iter()
        .all(|(o, _, _)| *o != 7));
    let (category_now, urgency_now, priority_now) = fields(&pool, agent_urgency).await;
    assert_eq!((urgency_now, priority_now), (5, 5));
    // Its category was empty: set, by a name with an ampersand, logged as GLPI encodes it.
    assert_eq!(category_now, ACCOUNTS);
    assert_eq!(
        field_logs(&pool, agent_urgency).await,
        [(
            7,
            "&nbsp; (0)".to_owned(),
            "Accounts &#38; Access (4)".to_owned()
        )]
    );
    let recorded_late = recorded(&store, late).await;
    assert_eq!(
        (recorded_late.1.as_str(), recorded_late.3.as_str()),
        ("applied", "applied"),
        "read before the agent's change, triage meant to set both"
    );
    assert_eq!(
        fields(&pool, late).await,
        (3, 2, 2),
        "the agent's values stand"
    );
    assert!(field_logs(&pool, late).await.is_empty());
    assert!(field_logs(&pool, agent_urgency)
        .await
        .iter()
        .all(|(o, _, _)| *o != 10 && *o != 3));

    // Every open ticket has one private follow-up by ticketlens, logged as GLPI logs one.
    let followups: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT CAST(items_id AS SIGNED), CAST(is_private AS SIGNED), content \
         FROM glpi_itilfollowups WHERE itemtype = 'Ticket' ORDER BY items_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let by_ticket: BTreeMap<i64, (i64, String)> = followups
        .iter()
        .map(|(t, p, c)| (*t, (*p, c.clone())))
        .collect();
    assert_eq!(followups.len(), open.len(), "one each");
    assert_eq!(by_ticket.keys().copied().collect::<Vec<_>>(), {
        let mut o = open.clone();
        o.sort();
        o
    });
    assert!(followups.iter().all(|(_, private, _)| *private == 1));
    let note = &by_ticket[&vpn].1;
    assert!(
        !note.contains('<'),
        "stored as GLPI stores rich text: {note}"
    );
    let note = html_escape::decode_html_entities(note).into_owned();
    assert!(note.contains("Category: Network &gt; VPN"), "{note}");
    assert!(note.contains("set by ticketlens"), "{note}");
    // With the reason against the class's threshold and its record on past tickets.
    assert!(note.contains("is applied from"), "{note}");
    assert!(note.contains("#1 Connect to the VPN from home"), "{note}");
    let skipped = html_escape::decode_html_entities(&by_ticket[&empty].1).into_owned();
    assert!(
        skipped.contains("Not triaged: subject and body are empty"),
        "{skipped}"
    );
    for &ticket in &open {
        let logged: Vec<(i64, String)> = sqlx::query_as(
            "SELECT CAST(linked_action AS SIGNED), new_value FROM glpi_logs \
             WHERE itemtype = 'Ticket' AND items_id = ? AND itemtype_link = 'ITILFollowup' \
             AND user_name = 'ticketlens' ORDER BY linked_action",
        )
        .bind(ticket)
        .fetch_all(&pool)
        .await
        .unwrap();
        let id: i64 = sqlx::query_scalar(
            "SELECT CAST(id AS SIGNED) FROM glpi_itilfollowups WHERE items_id = ?",
        )
        .bind(ticket)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            logged,
            [(12, format!("Followup ({id})")), (17, id.to_string())]
        );
    }

    // The VPN FAQ is linked to the VPN ticket, with the link in both items' history.
    let linked = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM glpi_knowbaseitems_items WHERE knowbaseitems_id = {VPN_FAQ} \
             AND itemtype = 'Ticket' AND items_id = {vpn}"
        ),
    )
    .await;
    assert_eq!(linked, 1);
    let relation_logs = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM glpi_logs WHERE linked_action = 15 AND user_name = 'ticketlens' \
             AND ((itemtype = 'Ticket' AND items_id = {vpn} AND itemtype_link = 'KnowbaseItem' \
             AND new_value = 'Connect to the VPN from home ({VPN_FAQ})') \
             OR (itemtype = 'KnowbaseItem' AND items_id = {VPN_FAQ} AND itemtype_link = 'Ticket' \
             AND new_value = 'The VPN keeps disconnecting every few minutes ({vpn})'))"
        ),
    )
    .await;
    assert_eq!(relation_logs, 2);

    // Candidate problems become GLPI problems (status new) with their tickets linked.
    pipeline.detect_problems().await.unwrap();
    let problems: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "SELECT CAST(id AS SIGNED), name, CAST(status AS SIGNED), content FROM glpi_problems",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let (problem, title, status, content) = problems
        .iter()
        .find(|(_, t, _, _)| t.to_lowercase().contains("vpn"))
        .unwrap_or_else(|| panic!("a VPN problem in {problems:?}"));
    assert_eq!(*status, 1);
    let content = html_escape::decode_html_entities(content).into_owned();
    assert!(content.contains("incidents from"), "{content}");
    let members: Vec<i64> = sqlx::query_scalar(
        "SELECT CAST(tickets_id AS SIGNED) FROM glpi_problems_tickets WHERE problems_id = ? \
         ORDER BY tickets_id",
    )
    .bind(problem)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(members.len() >= 3 && members.contains(&vpn), "{members:?}");
    let problem_logs = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM glpi_logs WHERE user_name = 'ticketlens' AND linked_action = 15 \
             AND ((itemtype = 'Problem' AND items_id = {problem} AND itemtype_link = 'Ticket') \
             OR (itemtype = 'Ticket' AND itemtype_link = 'Problem' AND new_value = '{} ({problem})'))",
            title.replace('\'', "''")
        ),
    )
    .await;
    assert_eq!(problem_logs, 2 * members.len() as i64);
    let snapshot = glpi_counts(&pool).await;

    // Again, as after a crash between GLPI's commit and ticketlens' own: nothing twice.
    sqlx::query("UPDATE pipeline_cursors SET position = 0")
        .execute(store.pool())
        .await
        .unwrap();
    let replay = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(replay.triaged, open.len());
    pipeline.detect_problems().await.unwrap();
    assert_eq!(
        glpi_counts(&pool).await,
        snapshot,
        "a replay writes nothing twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_halfway_leaves_glpi_as_it_was_and_is_redone_once() {
    let (glpi, pool) = seeded_glpi().await;
    let mut open = Vec::new();
    for (i, name) in [
        "The VPN keeps disconnecting every few minutes",
        "Printer shows offline again",
        "Please reset my password",
    ]
    .iter()
    .enumerate()
    {
        open.push(
            add_ticket(
                &pool,
                &GlpiTicket::new_incident(name, "Help.", 20 + i as i64),
            )
            .await,
        );
    }
    // The second follow-up of the batch fails, as a full disk or a killed server would.
    exec(
        &pool,
        "CREATE TRIGGER fail_second_followup BEFORE INSERT ON glpi_itilfollowups FOR EACH ROW \
         BEGIN IF (SELECT COUNT(*) FROM glpi_itilfollowups) >= 1 THEN \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk full'; END IF; END",
    )
    .await;
    let before = glpi_counts(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let path = pipeline_file(dir.path(), &glpi, "[problems]\ninterval_secs = 3600\n");
    let mut pipeline = Pipeline::open(PipelineConfig::load(&path).unwrap())
        .await
        .unwrap();
    let failed = pipeline.drain(|_| {}).await;
    assert!(failed.is_err());
    assert_eq!(
        glpi_counts(&pool).await,
        before,
        "nothing of the batch is in GLPI"
    );
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM triage_results")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        recorded, 0,
        "nor in ticketlens' own tables: the batch is not acknowledged"
    );

    exec(&pool, "DROP TRIGGER fail_second_followup").await;
    let report = pipeline.drain(|_| {}).await.unwrap();
    assert_eq!(report.triaged, open.len());
    let written = count(&pool, "SELECT COUNT(*) FROM glpi_itilfollowups").await;
    assert_eq!(written, open.len() as i64, "redone, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_what_it_would_write_and_writes_nothing() {
    let (glpi, pool) = seeded_glpi().await;
    add_ticket(
        &pool,
        &GlpiTicket::new_incident("The VPN keeps disconnecting every few minutes", "Help.", 1),
    )
    .await;
    drop(common::real_embedder());
    let before = glpi_counts(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let path = pipeline_file(dir.path(), &glpi, "");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(["run", "--once", "--dry-run", "--json", "--pipeline"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let plan: Vec<&str> = report["would_write"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("category = Network > VPN")),
        "{plan:?}"
    );
    assert!(
        plan.iter().any(|l| l.contains("private follow-up")),
        "{plan:?}"
    );
    assert_eq!(glpi_counts(&pool).await, before, "nothing written to GLPI");
    let own_tables = count(
        &pool,
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name LIKE 'ticketlens%'",
    )
    .await;
    assert_eq!(own_tables, 0, "not even ticketlens' own tables");

    // The real run afterwards writes all of it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(["run", "--once", "--pipeline"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM glpi_itilfollowups").await,
        1
    );
    assert_eq!(
        fields(
            &pool,
            count(&pool, "SELECT CAST(MAX(id) AS SIGNED) FROM glpi_tickets").await
        )
        .await
        .0,
        NETWORK_VPN
    );
}

#[tokio::test]
async fn a_database_without_glpi_is_refused_with_a_clear_message() {
    let glpi = GlpiDb::new().await;
    let pool = MySqlPool::connect(&glpi.url()).await.unwrap();
    exec(&pool, "DROP TABLE glpi_tickets").await;
    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
    let err = match Pipeline::open(config).await {
        Ok(_) => panic!("opened a database without GLPI's tables"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no GLPI tables"), "{err}");
    assert!(!err.contains("root:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glpi_rows_held_oddly_never_stop_the_other_tickets() {
    let (glpi, pool) = seeded_glpi().await;
    let incident = |name| GlpiTicket::new_incident(name, "Since this morning.", 7);
    // A zero date, as older GLPIs and imports leave them (allowed outside strict mode).
    let zero_date = add_ticket(&pool, &incident("VPN drops at home")).await;
    exec(
        &pool,
        &format!(
            "SET SESSION sql_mode = ''; UPDATE glpi_tickets SET date = '0000-00-00 00:00:00', \
             date_mod = '0000-00-00 00:00:00', solvedate = '0000-00-00 00:00:00' \
             WHERE id = {zero_date}"
        ),
    )
    .await;
    // A category and an entity that do not exist (deleted behind GLPI's back).
    let no_category = add_ticket(
        &pool,
        &GlpiTicket {
            category: 999,
            ..incident("Printer offline on floor 2")
        },
    )
    .await;
    let no_entity = add_ticket(&pool, &incident("Password expired again")).await;
    exec(
        &pool,
        &format!("UPDATE glpi_tickets SET entities_id = 999 WHERE id = {no_entity}"),
    )
    .await;
    let fine = add_ticket(&pool, &incident("VPN keeps disconnecting")).await;

    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
    let state = Store::open(&config.store.url).await.unwrap();
    let mut pipeline = Pipeline::open(config).await.expect("GLPI opens");
    pipeline.drain(|_| {}).await.expect("the stream goes on");
    for id in [zero_date, no_category, no_entity, fine] {
        let (category, _, _, _) = recorded(&state, id).await;
        assert!(category.is_some(), "ticket {id} was triaged");
    }
}

#[tokio::test]
async fn duplicate_links_agents_made_in_glpi_are_read_for_similar_ticket_search() {
    let (glpi, pool) = seeded_glpi().await;
    let incident = |name| GlpiTicket::new_incident(name, "Since this morning.", 7);
    let original = add_ticket(&pool, &incident("Outlook shows error 0x800ccc0e")).await;
    let duplicate = add_ticket(&pool, &incident("0x800ccc0e again in Outlook")).await;
    let related = add_ticket(&pool, &incident("Outlook is slow")).await;
    let gone = add_ticket(&pool, &incident("Outlook error, same as before")).await;
    exec(
        &pool,
        &format!("UPDATE glpi_tickets SET is_deleted = 1 WHERE id = {gone}"),
    )
    .await;
    // GLPI's link kinds: 1 "linked to", 2 "duplicates" (`tickets_id_1` duplicates `_2`).
    exec(
        &pool,
        &format!(
            "INSERT INTO glpi_tickets_tickets (tickets_id_1, tickets_id_2, link) VALUES \
             ({duplicate}, {original}, 2), ({related}, {original}, 1), ({gone}, {original}, 2)"
        ),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let config = PipelineConfig::load(&pipeline_file(dir.path(), &glpi, "")).unwrap();
    let store = Store::open(&config.store.url).await.unwrap();
    let system = ticketlens::systems::TicketSystem::connect(&config.system)
        .await
        .unwrap();
    system.pull(&store).await.unwrap();
    // Only "duplicates", and only between tickets GLPI still has.
    assert_eq!(
        store.duplicate_links().await.unwrap(),
        [(duplicate, original)]
    );
    system.pull(&store).await.unwrap();
    assert_eq!(store.duplicate_links().await.unwrap().len(), 1, "kept once");
}
