//! Command-line interface: argument parsing, rendering of answer events to a
//! terminal or JSON, and exit codes. No business logic lives here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{resolve_home, Config, RawConfig};
use crate::eval;
use crate::index::Embedder;
use crate::ingest::{ingest_path, IngestProgress};
use crate::model::{LanguageModel, Manifest};
use crate::rag::{Answer, AnswerEvent, Pipeline, Retriever};
use crate::store::FileStore;

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Grounded answers from your company's documents, on your own machine"
)]
pub struct Cli {
    /// Folder for Warden's data and warden.toml (else WARDEN_HOME, else the platform data dir).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Folder holding manifest.toml and the model files.
    #[arg(long, global = true, value_name = "DIR")]
    models_dir: Option<PathBuf>,
    /// CPU threads for model and embeddings (default: the idle cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add or update documents (.md, .txt) from a file or folder.
    Ingest {
        path: PathBuf,
        /// Print a JSON report instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the ingested documents, with citations.
    Ask(AskArgs),
    /// Run the labelled question set through the whole pipeline and score it.
    Eval(EvalArgs),
    /// Inspect and verify the pinned models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Print the effective configuration.
    Config,
}

#[derive(Args)]
struct AskArgs {
    question: String,
    /// Print one JSON object (answer, citations, sources, timings, model).
    #[arg(long)]
    json: bool,
    /// Generation model: a manifest name or a path to a pinned .gguf.
    #[arg(long)]
    model: Option<String>,
    /// Weights in memory: quantized, f16 or f32.
    #[arg(long)]
    weights: Option<String>,
    #[arg(long)]
    max_tokens: Option<usize>,
    /// 0 means greedy.
    #[arg(long)]
    temperature: Option<f64>,
    #[arg(long)]
    top_k: Option<usize>,
    #[arg(long)]
    top_p: Option<f64>,
    #[arg(long)]
    repeat_penalty: Option<f32>,
    #[arg(long)]
    seed: Option<u64>,
    /// Number of passages to retrieve.
    #[arg(long)]
    sources: Option<usize>,
}

#[derive(Args)]
struct EvalArgs {
    /// JSON-lines question set.
    #[arg(long, default_value = "knowledge/eval/qa.jsonl")]
    set: PathBuf,
    /// Generation model: a manifest name or a path to a pinned .gguf.
    #[arg(long)]
    model: Option<String>,
    /// Weights in memory: quantized, f16 or f32.
    #[arg(long)]
    weights: Option<String>,
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Only the first N questions.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON line per question and a summary line.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ModelsAction {
    /// List the models pinned in the manifest and whether each is present.
    List,
    /// Hash every present model file against the manifest.
    Verify,
}

/// Parses arguments and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let home = resolve_home(cli.home.clone())?;
    let mut flags = RawConfig {
        models_dir: cli.models_dir.clone(),
        threads: cli.threads,
        ..RawConfig::default()
    };
    if let Command::Ask(args) = &cli.command {
        flags = flags.overlay(RawConfig {
            model: args.model.clone(),
            weights: args.weights.clone(),
            max_tokens: args.max_tokens,
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repeat_penalty: args.repeat_penalty,
            seed: args.seed,
            sources: args.sources,
            ..RawConfig::default()
        });
    }
    if let Command::Eval(args) = &cli.command {
        flags = flags.overlay(RawConfig {
            model: args.model.clone(),
            weights: args.weights.clone(),
            max_tokens: args.max_tokens,
            ..RawConfig::default()
        });
    }
    let config = Config::resolve(home, flags)?;
    set_threads(config.threads);
    match cli.command {
        Command::Ingest { path, json } => ingest(&config, &path, json),
        Command::Ask(args) => ask(&config, &args.question, args.json),
        Command::Eval(args) => evaluate(&config, &args),
        Command::Models { action } => models(&config, action),
        Command::Config => {
            println!("{}", serde_json::to_string_pretty(&config)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// candle and gemm size their thread pools from RAYON_NUM_THREADS on first use.
fn set_threads(threads: usize) {
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
}

struct BarProgress(Option<ProgressBar>);

impl IngestProgress for BarProgress {
    fn embedding_started(&mut self, chunks: usize) {
        if chunks == 0 {
            return;
        }
        let bar = ProgressBar::new(chunks as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "embedding {bar:40} {pos}/{len} chunks  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.0 = Some(bar);
    }

    fn embedded(&mut self, chunks: usize) {
        if let Some(bar) = &self.0 {
            bar.inc(chunks as u64);
        }
    }
}

fn ingest(config: &Config, path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Embedder::load(&manifest)?;
    let store = FileStore::new(config.store_path());
    let mut progress = BarProgress(None);
    let report = ingest_path(path, &store, &embedder, &config.chunking, &mut progress)?;
    if let Some(bar) = progress.0 {
        bar.finish_and_clear();
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "ingested {}: {} added, {} updated, {} unchanged; {} chunks embedded",
            path.display(),
            report.added.len(),
            report.updated.len(),
            report.unchanged.len(),
            report.chunks_embedded
        );
        if !report.skipped_unsupported.is_empty() {
            println!(
                "skipped {} file(s) in formats not supported yet: {}",
                report.skipped_unsupported.len(),
                report.skipped_unsupported.join(", ")
            );
        }
        println!(
            "knowledge base: {} documents, {} chunks in {}",
            report.total_documents,
            report.total_chunks,
            config.store_path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the store, the embedder and the configured model into a pipeline.
fn open_pipeline(config: &Config) -> anyhow::Result<Pipeline> {
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Embedder::load(&manifest)?;
    let store = FileStore::new(config.store_path());
    let retriever = Retriever::open(&store, std::sync::Arc::new(embedder))?;
    if retriever.snapshot().chunks.is_empty() {
        anyhow::bail!(
            "the knowledge base in {} is empty; run `warden ingest <folder>` first",
            config.home.display()
        );
    }
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "verifying and loading {} ({:?} weights)",
        config.model, config.weights
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let model = LanguageModel::load(&manifest, &config.model, config.weights)
        .with_context(|| format!("loading model `{}`", config.model));
    spinner.finish_and_clear();
    let model = model?;
    Ok(Pipeline::new(retriever, model, config.ask.clone()))
}

fn evaluate(config: &Config, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let mut questions = eval::load_questions(&args.set)?;
    questions.truncate(args.limit.unwrap_or(usize::MAX));
    let mut pipeline = open_pipeline(config)?;
    let mut outcomes = Vec::new();
    for question in &questions {
        let outcome = eval::evaluate(&mut pipeline, question)?;
        if args.json {
            println!("{}", serde_json::to_string(&outcome)?);
        } else {
            println!(
                "{} {:<5} retrieved={} facts={} cited_gold={} refused={}  {}",
                if outcome.correct() { "PASS" } else { "FAIL" },
                outcome.id,
                outcome.gold_retrieved as u8,
                outcome.facts_found as u8,
                outcome.cites_gold as u8,
                outcome.refused as u8,
                outcome
                    .answer
                    .replace('\n', " ")
                    .chars()
                    .take(100)
                    .collect::<String>()
            );
        }
        outcomes.push(outcome);
    }
    let summary = eval::summarise(&config.model, &outcomes);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "model {}: answerable {}/{} correct (facts + gold cited), facts {}, cited {}, gold retrieved {}, wrongly refused {}; unanswerable {}/{} declined; mean {:.0} ms",
            summary.model,
            summary.correct_answerable,
            summary.answerable,
            summary.facts_found,
            summary.cited,
            summary.gold_retrieved,
            summary.refused_answerable,
            summary.refused_unanswerable,
            summary.unanswerable,
            summary.mean_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn ask(config: &Config, question: &str, json: bool) -> anyhow::Result<ExitCode> {
    let mut pipeline = open_pipeline(config)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let answer = pipeline.ask(question, &mut |event| {
        if json {
            return;
        }
        let result = render_event(&mut out, &event);
        if let Err(err) = result {
            write_error.get_or_insert(err);
        }
    })?;
    if let Some(err) = write_error {
        return Err(err.into());
    }
    if json {
        writeln!(out, "{}", serde_json::to_string(&answer)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_event(out: &mut impl Write, event: &AnswerEvent) -> std::io::Result<()> {
    match event {
        AnswerEvent::Sources(_) => Ok(()),
        AnswerEvent::Notice(notice) => {
            eprintln!("note: {notice}");
            Ok(())
        }
        AnswerEvent::Token(piece) => {
            write!(out, "{piece}")?;
            out.flush()
        }
        AnswerEvent::Done(answer) => render_sources(out, answer),
    }
}

fn render_sources(out: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
    writeln!(out)?;
    if answer.sources.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nSources:")?;
    for source in &answer.sources {
        let cited = if answer.citations.contains(&source.number) {
            "cited"
        } else {
            "not cited"
        };
        writeln!(
            out,
            "  [{}] {} — {} (bytes {}..{}, score {:.2}, {cited})",
            source.number, source.title, source.source, source.start, source.end, source.score
        )?;
    }
    if !answer.invalid_citations.is_empty() {
        writeln!(
            out,
            "  warning: the answer cites sources that do not exist: {:?}",
            answer.invalid_citations
        )?;
    }
    Ok(())
}

fn models(config: &Config, action: ModelsAction) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&config.models_dir)?;
    let mut all_ok = true;
    for entry in &manifest.entries {
        let path = manifest.models_dir.join(&entry.file);
        let status = match action {
            ModelsAction::List => if path.is_file() { "present" } else { "missing" }.to_string(),
            ModelsAction::Verify => match manifest.verify_entry(entry) {
                Ok(_) => "ok (sha256 verified)".to_string(),
                Err(err) => {
                    all_ok = false;
                    format!("FAILED: {err}")
                }
            },
        };
        println!(
            "{:<28} {:<11} {:>11} bytes  {:<8} {}  [{}]",
            entry.name,
            entry.kind,
            entry.size,
            entry.architecture.as_deref().unwrap_or("-"),
            status,
            entry.licence
        );
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
