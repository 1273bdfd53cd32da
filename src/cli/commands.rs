//! The commands with more to do than print: the pipeline, the server, the encoder benchmark
//! and a problem manager's decisions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tokio::sync::watch;

use ticketlens::config::PipelineConfig;
use ticketlens::model;
use ticketlens::pipeline::Pipeline;
use ticketlens::store::Announcement;

use super::print;
use crate::ProblemsCommand;

pub async fn run(path: &Path, once: bool, dry_run: bool, json: bool) -> Result<()> {
    let config = PipelineConfig::load(path)?;
    let name = config.name.clone();
    let mut pipeline = Pipeline::open(config)
        .await
        .with_context(|| format!("cannot start pipeline {name}"))?;
    if dry_run {
        pipeline.start_dry_run()?;
    }
    let report = if once {
        let report = pipeline.drain(|_| {}).await?;
        pipeline.detect_problems().await?;
        pipeline.draft_articles().await?;
        report
    } else {
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(async move {
            stop_requested().await;
            eprintln!("Stopping after the batch in flight…");
            let _ = stop.send(true);
        });
        pipeline.run(shutdown).await?
    };
    let plan = pipeline.dry_run_plan();
    if json {
        let mut value = serde_json::to_value(report)?;
        if dry_run {
            value["would_write"] = serde_json::json!(plan);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        if dry_run {
            println!("Dry run: nothing was written to the ticket system. It would write:");
            for line in plan {
                println!("  {line}");
            }
        }
        println!(
            "{name}: {} changed tickets read, {} triaged ({} skipped), {} suggestions.",
            report.read, report.triaged, report.skipped, report.suggestions
        );
        let fields = &report.fields;
        for (field, tally) in [("category", &fields.category), ("urgency", &fields.urgency)] {
            println!("  {field:<9}{}", print::field_tally(tally));
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (how service managers stop a process).
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn serve(path: &Path, listen: Option<String>) -> Result<()> {
    let config = PipelineConfig::load(path)?;
    let serve = config.serve.clone();
    let address = listen.unwrap_or_else(|| serve.listen.clone());
    let token = std::env::var("TICKETLENS_AGENT_TOKEN")
        .ok()
        .or_else(|| serve.agent_token.clone());
    let name = config.name.clone();
    let pipeline = Pipeline::open(config)
        .await
        .with_context(|| format!("cannot start pipeline {name}"))?;
    let state = ticketlens::serve::AppState::new(pipeline, &serve, token.as_deref());
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        eprintln!("Listening beyond this machine: put a TLS-terminating proxy in front.");
    }
    if !state.agent_token_set() {
        eprintln!("No agent token (TICKETLENS_AGENT_TOKEN): the agent endpoints and pages refuse every call.");
    }
    println!("ticketlens serving {name} on http://{local}/ (Ctrl-C to stop)");
    let shutdown = async {
        stop_requested().await;
        eprintln!("Stopping…");
    };
    ticketlens::serve::serve(listener, state, serve, shutdown).await?;
    Ok(())
}

/// What `bench embed` was asked to measure.
pub struct BenchEmbed {
    pub input: Option<PathBuf>,
    pub batch: usize,
    pub manifest: PathBuf,
    pub json: bool,
}

pub fn bench_embed(args: BenchEmbed, compute: model::Compute) -> Result<()> {
    let BenchEmbed {
        input,
        batch,
        manifest,
        json,
    } = args;
    let files = match input {
        Some(file) => vec![file],
        None => vec![
            PathBuf::from("fixtures/demo/history.jsonl"),
            PathBuf::from("fixtures/demo/incoming.jsonl"),
        ],
    };
    let mut texts = Vec::new();
    for file in &files {
        let tickets = ticketlens::jsonl::read::<ticketlens::text::TicketText>(file)?;
        texts.extend(tickets.iter().filter_map(|t| t.prepared()));
    }
    anyhow::ensure!(!texts.is_empty(), "no usable ticket text in {files:?}");
    let encoder = model::load(&manifest, compute)?;
    eprintln!(
        "Embedding {} texts ({}, {} kernels): a warm-up, then 3 timed runs…",
        texts.len(),
        compute.precision,
        compute.isa.name()
    );
    let t = model::throughput::measure(&encoder, compute, &texts, batch, 3)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&t)?);
    } else {
        let runs: Vec<String> = t.runs.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "{} texts, {} tokens ({:.1} per text), batches of {}, {} ({} kernels): {:.1} texts/s, \
             {:.0} tokens/s; padding {:.1}% extra; runs {} s",
            t.texts,
            t.tokens,
            t.tokens as f64 / t.texts as f64,
            t.batch,
            t.precision,
            t.kernels,
            t.texts_per_s,
            t.tokens_per_s,
            100.0 * t.padding_overhead,
            runs.join(", ")
        );
    }
    Ok(())
}

/// Which of two problems that look alike to merge into which: the smaller into the larger
/// (on a tie the later into the earlier), so the merged problem keeps the better-known id.
fn merge_order(problems: &[ticketlens::store::ProblemRow], a: i64, b: i64) -> (i64, i64) {
    let size = |id| problems.iter().find(|p| p.id == id).map_or(0, |p| p.size);
    if (size(a), -a) < (size(b), -b) {
        (a, b)
    } else {
        (b, a)
    }
}

/// `problems`: list, show, or record a problem manager's decision and show the result.
pub async fn problems(
    store: &ticketlens::store::Store,
    action: ProblemsCommand,
    join_similarity: f32,
    json: bool,
) -> Result<()> {
    let (id, verb) = match action {
        ProblemsCommand::List { all } => {
            let problems = store
                .listed_problems_with_overlaps(all, join_similarity)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&problems)?);
            } else if problems.is_empty() {
                println!("No candidate problems yet (run the pipeline first).");
            }
            for p in problems.iter().filter(|_| !json) {
                println!(
                    "#{:<4} {:>3} incidents, {:>3} people  {}  [{}]  {}",
                    p.id, p.size, p.requesters, p.trend_words, p.status, p.title
                );
                println!("       keywords: {}", p.keywords.join(", "));
                if let Some(&like) = p.similar_to.first() {
                    let (from, into) = merge_order(&problems, p.id, like);
                    println!(
                        "       looks like #{like}: `ticketlens problems merge {from} {into}`"
                    );
                }
            }
            return Ok(());
        }
        ProblemsCommand::Show { id } => (id, None),
        ProblemsCommand::Accept { id } => {
            store.accept_problem(id).await?;
            (id, Some("accepted"))
        }
        ProblemsCommand::Reject { id } => {
            store.reject_problem(id).await?;
            (id, Some("rejected"))
        }
        ProblemsCommand::Merge { id, into } => {
            store.merge_problems(id, into).await?;
            println!("Problem {id} merged into {into}.");
            (into, None)
        }
        ProblemsCommand::Announce {
            id,
            title,
            workaround,
        } => {
            let announcement = Announcement::new(&title, workaround.as_deref())?;
            store.announce_problem(id, &announcement).await?;
            (id, Some("announced"))
        }
        ProblemsCommand::Withdraw { id } => {
            store.withdraw_problem(id).await?;
            (id, Some("withdrawn"))
        }
    };
    let detail = store.problem(id).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&detail)?);
        return Ok(());
    }
    if let Some(verb) = verb {
        println!("Problem {id} {verb}.");
    }
    let p = &detail.problem;
    println!("#{} [{}] {}", p.id, p.status, p.title);
    println!(
        "  {} incidents from {} people, {} to {}",
        p.size, p.requesters, p.first_seen, p.last_seen
    );
    println!("  keywords: {}", p.keywords.join(", "));
    if let Some(a) = &p.announcement {
        let workaround = a.announcement.workaround.as_deref().unwrap_or("none");
        println!(
            "  announced {}: \"{}\" (workaround: {workaround})",
            a.announced_at, a.announcement.title
        );
    }
    if let Some(a) = &p.activity {
        println!(
            "  per day since {}: {}  {}",
            a.start,
            print::sparkline(&a.per_day),
            p.trend_words
        );
    }
    for m in &detail.members {
        println!(
            "  #{:<6} {:.2}  {}  {}",
            m.ticket_id, m.similarity, m.created_at, m.subject
        );
    }
    Ok(())
}
