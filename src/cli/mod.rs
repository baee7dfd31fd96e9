//! Command-line interface: argument parsing, rendering of answer events to a
//! terminal or JSON, and exit codes. No business logic lives here. Commands
//! that manage keys, tenants and the store are in `admin`; users, audit,
//! review and retention in `people`; who runs a command in `identity`.

mod admin;
mod identity;
mod people;
mod tools;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{resolve_home, Config, RawConfig};
use crate::eval;
use crate::guard::grounding::UNVERIFIED_MARK;
use crate::guard::scan::{Scanners, Stage};
use crate::guard::{CitationPolicy, CitationVerifier, Outcome, SourceText, Verdict};
use crate::index::Embedder;
use crate::ingest::{ingest_path, IngestOptions, IngestProgress};
use crate::model::{LanguageModel, Manifest};
use crate::rag::{Answer, AnswerEvent, Pipeline, Retriever};
use crate::session::Session;

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
    /// Where generation runs: cpu (default), cuda:N, metal (GPU builds only).
    #[arg(long, global = true, value_name = "DEVICE")]
    device: Option<String>,
    /// Key file that unlocks the keyring (else WARDEN_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Tenant to work in (default: `default`, or `tenant` in warden.toml / WARDEN_TENANT).
    #[arg(long, global = true, value_name = "NAME")]
    tenant: Option<String>,
    /// File holding the API token of the user running this command (else
    /// WARDEN_TOKEN; without either, a mapped OS user or the keyring's operator).
    #[arg(long, global = true, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the keyring (master key, first unlocker) and the encrypted store.
    Init(admin::InitArgs),
    /// Add or update documents (.md .txt .html .pdf .docx .csv) from a file or folder.
    Ingest(IngestArgs),
    /// List the documents of a tenant (with the guard's verdict on each).
    Docs {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<admin::DocsAction>,
    },
    /// Erase a document (`--doc`) or a whole tenant (`--tenant` alone) beyond recovery.
    Forget(admin::ForgetArgs),
    /// Manage the keyring's unlockers (passphrases and key files).
    Keys {
        #[command(subcommand)]
        action: admin::KeysAction,
    },
    /// Manage tenants: each has its own keys and its own index.
    Tenants {
        #[command(subcommand)]
        action: admin::TenantsAction,
    },
    /// Check the encrypted store.
    Store {
        #[command(subcommand)]
        action: admin::StoreAction,
    },
    /// Answer a question from the ingested documents, with citations.
    Ask(AskArgs),
    /// Show the passages the principal may see for a question (no model).
    Search(SearchArgs),
    /// Serve the OpenAI-compatible HTTP API (and admin endpoints) on loopback.
    Serve(ServeArgs),
    /// The chat terminal UI.
    Chat(ChatArgs),
    /// Manage users and their API tokens.
    Users {
        #[command(subcommand)]
        action: people::UsersAction,
    },
    /// Verify or export the tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        action: people::AuditAction,
    },
    /// Work the human review queue: flagged answers and tool calls waiting
    /// for approval.
    Review {
        #[command(subcommand)]
        action: people::ReviewAction,
    },
    /// The agent tools declared in `<home>/tools.toml`: list, dry-run, call.
    Tools {
        #[command(subcommand)]
        action: tools::ToolsAction,
    },
    /// Apply retention now (it also runs once a day when people ask).
    Gc {
        #[arg(long)]
        json: bool,
    },
    /// Everything Warden keeps about a person, as JSON (GDPR access).
    Export {
        #[arg(long, value_name = "NAME|ID")]
        user: String,
    },
    /// Run the labelled question set through the whole pipeline and score it.
    Eval(EvalArgs),
    /// Check answers from any model against their sources: reads JSON lines
    /// `{"answer": "...", "sources": [{"id": "...", "text": "..."}]}` on stdin and
    /// writes one JSON line of per-sentence verdicts per input line.
    Verify,
    /// Run the guard scanners on JSON lines `{"text": "..."}` from stdin; one
    /// line out per line in: `blocked`, `flags` (scanner, span, reason), `text`
    /// (after redaction).
    Scan {
        #[arg(long, value_enum)]
        stage: Stage,
    },
    /// Run the built-in attack suite through the whole pipeline with the real
    /// model, guards on and off; print a scorecard by OWASP LLM Top 10 (2025)
    /// category; exit 1 when the success rate with guards exceeds the limit.
    Redteam(RedteamArgs),
    /// Train the guard's learned input stage on the `train` split of a
    /// labelled question set, report it on the `test` split, write the weights.
    GuardTrain(GuardTrainArgs),
    /// Inspect and verify the pinned models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Print the effective configuration.
    Config,
}

#[derive(Args)]
struct IngestArgs {
    path: PathBuf,
    /// Access labels for these documents, comma-separated (e.g. hr,finance).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Remove documents under PATH whose files are gone.
    #[arg(long)]
    prune: bool,
    /// Documents per commit.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Print a JSON report instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RedteamArgs {
    /// JSON-lines attack suite.
    #[arg(long, default_value = "knowledge/eval/redteam.jsonl")]
    set: PathBuf,
    /// Tool declarations offered to the tool-misuse attacks (built-in
    /// targets only, so nothing outside runs).
    #[arg(long, default_value = "knowledge/eval/redteam-tools.toml")]
    tools: PathBuf,
    /// Generation model: a manifest name or a path to a pinned .gguf.
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Only the first N attacks.
    #[arg(long)]
    limit: Option<usize>,
    /// Highest attack success rate with guards on before the exit code is 1.
    #[arg(long, default_value_t = 0.05)]
    max_success_rate: f64,
    /// Skip the run with guards off.
    #[arg(long)]
    no_baseline: bool,
    /// Print one JSON line per attack and the scorecard.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct GuardTrainArgs {
    /// JSON lines with `text`, `label` (attack | benign) and `split` (train |
    /// test); repeat for more files (the `train` rows of all are learned from).
    #[arg(
        long,
        num_args = 1..,
        default_values = ["tests/fixtures/guard/input.jsonl", "tests/fixtures/guard/input-train-extra.jsonl"]
    )]
    set: Vec<PathBuf>,
    /// Where to write the classifier (default: <models_dir>/guard-classifier.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Highest share of the training benign questions the classifier may block.
    #[arg(long, default_value_t = 0.01)]
    max_false_positives: f32,
}

#[derive(Args)]
struct ChatArgs {
    /// Chat as this user (needs the user's token: WARDEN_TOKEN, --token-file or a prompt).
    #[arg(long, value_name = "NAME|ID")]
    user: Option<String>,
    /// Generation model: a manifest name or a path to a pinned .gguf.
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    max_tokens: Option<usize>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8088")]
    bind: std::net::SocketAddr,
    /// Allow plaintext HTTP on a non-loopback address (only behind a TLS proxy).
    #[arg(long)]
    insecure_no_tls: bool,
    /// TLS certificate (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Answers queued or running at most; more get 429 with Retry-After.
    #[arg(long, default_value_t = 8)]
    queue: usize,
    /// Largest request body, in KiB.
    #[arg(long, default_value_t = 1024)]
    max_body_kib: usize,
    /// Longest time a request may take, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Origin allowed to call the API from a browser (repeatable; none by default).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Generation model: a manifest name or a path to a pinned .gguf.
    #[arg(long)]
    model: Option<String>,
    /// Weights in memory: quantized, f16 or f32.
    #[arg(long)]
    weights: Option<String>,
    #[arg(long)]
    max_tokens: Option<usize>,
}

#[derive(Args)]
struct SearchArgs {
    /// The question, or `-` to read one question per line from stdin.
    question: String,
    /// Run as this user (needs the user's token).
    #[arg(long, value_name = "NAME|ID")]
    user: Option<String>,
    /// Passages to return.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// One JSON line per question.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AskArgs {
    /// The question, or `-` to read one question per line from stdin (JSON lines out).
    question: String,
    /// Run as this user (needs the user's token: WARDEN_TOKEN, --token-file or a prompt).
    #[arg(long, value_name = "NAME|ID")]
    user: Option<String>,
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
    /// JSON-lines question set [default: knowledge/eval/qa.jsonl, or
    /// knowledge/eval/fairness.jsonl with --fairness].
    #[arg(long)]
    set: Option<PathBuf>,
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
    /// Measure the citation verifier on the labelled pairs instead (no language model).
    #[arg(long, conflicts_with = "fairness")]
    verifier: bool,
    /// Counterfactual fairness: fill each template with every variant of a
    /// protected attribute, compare what the answers state; exit 1 when an
    /// attribute's disparity score exceeds the threshold.
    #[arg(long)]
    fairness: bool,
    /// With --fairness: the largest disparity score accepted [default: the
    /// `fairness_threshold` setting, 0.10].
    #[arg(long, requires = "fairness")]
    threshold: Option<f64>,
    /// With --verifier: grid-search the verifier's thresholds on the first set.
    #[arg(long, requires = "verifier")]
    calibrate: bool,
    /// With --verifier: list every pair the verifier gets wrong, with its reasons.
    #[arg(long, requires = "verifier")]
    errors: bool,
    /// Labelled pair sets for --verifier; the first is the calibration part.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "knowledge/eval/verification-a.jsonl,knowledge/eval/verification-b.jsonl"
    )]
    pairs: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum ModelsAction {
    /// List the models pinned in the manifest and whether each is present.
    List,
    /// Hash every present model file against the manifest.
    Verify,
    /// Copy a GGUF into the models folder and pin it (sha256, size,
    /// provenance) in the manifest: how a model reaches an air-gapped machine.
    Import {
        file: PathBuf,
        /// Manifest name [default: the file's stem, lower-cased].
        #[arg(long)]
        name: Option<String>,
        /// Its licence, as the importer states it.
        #[arg(long, default_value = "unknown (not stated at import)")]
        licence: String,
    },
    /// Download a model file through hf-hub (HF_ENDPOINT for a mirror,
    /// HF_HOME for the cache, HF_TOKEN, HF_HUB_OFFLINE=1 for the cache only),
    /// resuming an interrupted download, and pin it.
    Pull {
        /// Repository on the hub, `owner/name`.
        repo: String,
        /// File in the repository.
        file: String,
        #[arg(long, default_value = "main")]
        revision: String,
        /// Manifest name [default: the file's stem, lower-cased].
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "unknown (not stated at pull)")]
        licence: String,
        /// The sha256 the file must have (refused otherwise).
        #[arg(long)]
        sha256: Option<String>,
    },
    /// Unpin a model and delete its file.
    Remove {
        name: String,
        #[arg(long)]
        yes: bool,
    },
}

/// Parses arguments and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let home = resolve_home(cli.home.clone())?;
    let mut flags = RawConfig {
        models_dir: cli.models_dir.clone(),
        threads: cli.threads,
        device: cli.device.clone(),
        key_file: cli.key_file.clone(),
        tenant: cli.tenant.clone(),
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
    if let Command::Chat(args) = &cli.command {
        flags = flags.overlay(RawConfig {
            model: args.model.clone(),
            max_tokens: args.max_tokens,
            ..RawConfig::default()
        });
    }
    if let Command::Serve(args) = &cli.command {
        flags = flags.overlay(RawConfig {
            model: args.model.clone(),
            weights: args.weights.clone(),
            max_tokens: args.max_tokens,
            ..RawConfig::default()
        });
    }
    if let Command::Redteam(args) = &cli.command {
        flags = flags.overlay(RawConfig {
            model: args.model.clone(),
            max_tokens: args.max_tokens,
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
    let tenant_named =
        cli.tenant.is_some() || std::env::var("WARDEN_TENANT").is_ok_and(|value| !value.is_empty());
    let mut identity = identity::Identity {
        token_file: cli.token_file.clone(),
        user: None,
    };
    let context =
        |identity: &identity::Identity| identity::Context::open(&config, identity, tenant_named);
    match cli.command {
        Command::Init(args) => admin::init(&config, &args),
        Command::Ingest(args) => {
            // A wrong path is reported before the passphrase is asked for.
            if !args.path.exists() {
                return Err(crate::ingest::IngestError::NotFound { path: args.path }.into());
            }
            ingest(&context(&identity)?, &args)
        }
        Command::Docs { json, action } => {
            let context = context(&identity)?;
            match action {
                Some(action) => admin::docs_action(&context, action),
                None => admin::docs(&context, json),
            }
        }
        Command::Forget(args) => admin::forget(&context(&identity)?, &args, cli.tenant.is_some()),
        Command::Keys { action } => admin::keys(&context(&identity)?, action),
        Command::Tenants { action } => admin::tenants(&context(&identity)?, action),
        Command::Store { action } => admin::store(&context(&identity)?, action),
        Command::Ask(args) => {
            identity.user = args.user.clone();
            ask(&context(&identity)?, &args.question, args.json)
        }
        Command::Search(args) => {
            identity.user = args.user.clone();
            search(&context(&identity)?, &args)
        }
        Command::Serve(args) => serve(&context(&identity)?, &args),
        Command::Chat(args) => {
            identity.user = args.user.clone();
            chat(&context(&identity)?)
        }
        Command::Users { action } => people::users(&context(&identity)?, action),
        Command::Audit { action } => people::audit(&context(&identity)?, action, tenant_named),
        Command::Review { action } => people::review(&context(&identity)?, action),
        Command::Tools { action } => tools::tools(&context(&identity)?, action),
        Command::Gc { json } => people::gc(&context(&identity)?, json),
        Command::Export { user } => people::export_user(&context(&identity)?, &user),
        Command::Eval(args) if args.verifier => evaluate_verifier(&config, &args),
        Command::Eval(args) if args.fairness => evaluate_fairness(&context(&identity)?, &args),
        Command::Eval(args) => evaluate(&context(&identity)?, &args),
        Command::Verify => verify_stdin(&config),
        Command::Scan { stage } => scan_stdin(&config, stage),
        Command::GuardTrain(args) => guard_train(&config, &args),
        Command::Redteam(args) => redteam(&context(&identity)?, &args),
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

/// A bar over files on a terminal; plain `committed` lines otherwise, so a
/// script (or a test) knows what is durably stored even if the run dies.
struct IngestBar {
    bar: ProgressBar,
    chunks: usize,
    log_commits: bool,
}

impl IngestProgress for IngestBar {
    fn files_found(&mut self, files: usize) {
        self.bar.set_length(files as u64);
    }

    fn file_read(&mut self, source: &str) {
        self.bar.inc(1);
        self.bar.set_message(source.to_string());
    }

    fn embedded(&mut self, chunks: usize) {
        self.chunks += chunks;
        self.bar
            .set_prefix(format!("{} chunks embedded", self.chunks));
    }

    fn committed(&mut self, sources: &[String]) {
        if self.log_commits {
            let mut out = std::io::stdout().lock();
            for source in sources {
                let _ = writeln!(out, "committed {source}");
            }
            let _ = out.flush();
        }
    }
}

fn ingest(context: &identity::Context, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let config = &context.config;
    context.require(crate::auth::Action::Ingest)?;
    if let Err(err) = context.principal.require_labels(&args.labels) {
        context.record(
            "ingest",
            "denied",
            serde_json::json!({ "reason": err.to_string() }),
        )?;
        return Err(err.into());
    }
    let store = context.store()?;
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Embedder::load(&manifest)?;
    let options = IngestOptions {
        tenant: config.tenant.clone(),
        labels: args.labels.clone(),
        prune: args.prune,
        chunking: config.chunking.clone(),
        batch_documents: args.batch.max(1),
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {prefix}  eta {eta}  {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = IngestBar {
        bar,
        chunks: 0,
        log_commits: !args.json && !std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let report = ingest_path(&args.path, &store, &embedder, &options, &mut progress);
    progress.bar.finish_and_clear();
    let report = report?;
    context.record(
        "ingest",
        if report.failed.is_empty() {
            "done"
        } else {
            "partial"
        },
        serde_json::json!({
            "new": report.ingested.len(),
            "replaced": report.replaced.len(),
            "unchanged": report.unchanged.len(),
            "failed": report.failed.len(),
            "pruned": report.pruned.len(),
            "labels": args.labels,
            "chunks": report.chunks_embedded,
        }),
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "ingested {} into tenant `{}` in {:.1} s: {} new, {} replaced, {} unchanged, {} skipped, {} failed{}; {} chunks embedded",
            args.path.display(),
            report.tenant,
            report.seconds,
            report.ingested.len(),
            report.replaced.len(),
            report.unchanged.len(),
            report.skipped.len(),
            report.failed.len(),
            if args.prune { format!(", {} pruned", report.pruned.len()) } else { String::new() },
            report.chunks_embedded
        );
        for issue in &report.failed {
            println!("  failed: {}: {}", issue.source, issue.reason);
        }
        for issue in &report.skipped {
            println!("  skipped: {}: {}", issue.source, issue.reason);
        }
        for issue in &report.guarded {
            println!("  guard: {}: {}", issue.source, issue.reason);
        }
        for source in &report.hidden_content {
            println!("  note: {source} has hidden content (comments or hidden elements), kept out of the answers");
        }
        println!(
            "knowledge base `{}`: {} documents, {} chunks, encrypted in {}",
            report.tenant,
            report.total_documents,
            report.total_chunks,
            config.store_dir().display()
        );
    }
    // Some files failed: the rest is committed, but scripts should notice.
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// The principal's view of the knowledge base: store, embedder and a
/// retriever scoped to the principal's tenant and labels.
fn open_retriever(context: &identity::Context) -> anyhow::Result<Retriever> {
    let config = &context.config;
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Embedder::load(&manifest)?;
    let store = std::sync::Arc::new(context.store()?);
    Ok(Retriever::open_scoped(
        store,
        &context.principal.scope(),
        std::sync::Arc::new(embedder),
    )?)
}

/// Loads the principal's retriever and the configured model into a pipeline.
fn open_pipeline(context: &identity::Context) -> anyhow::Result<Pipeline> {
    let config = &context.config;
    let manifest = Manifest::load(&config.models_dir)?;
    let retriever = open_retriever(context)?;
    if retriever.catalog().total_chunks() == 0 {
        anyhow::bail!(
            "the knowledge base of tenant `{}` in {} is empty; run `warden ingest <folder>` first",
            config.tenant,
            config.home.display()
        );
    }
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "verifying and loading {} ({:?} weights)",
        config.model, config.weights
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let model = LanguageModel::load_on(&manifest, &config.model, config.weights, config.device)
        .with_context(|| format!("loading model `{}`", config.model));
    spinner.finish_and_clear();
    let model = model?;
    let guard = std::sync::Arc::new(guard_scanners(config, Some(retriever.shared_embedder()))?);
    Ok(Pipeline::new(retriever, model, config.ask.clone())?.with_guard(guard))
}

fn evaluate(context: &identity::Context, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    context.require_operator("eval")?;
    let config = &context.config;
    let set = args
        .set
        .clone()
        .unwrap_or_else(|| PathBuf::from("knowledge/eval/qa.jsonl"));
    let mut questions = eval::load_questions(&set)?;
    questions.truncate(args.limit.unwrap_or(usize::MAX));
    let mut pipeline = open_pipeline(context)?;
    let mut outcomes = Vec::new();
    for question in &questions {
        let outcome = eval::evaluate(&mut pipeline, question)?;
        if args.json {
            println!("{}", serde_json::to_string(&outcome)?);
        } else {
            println!(
                "{} {:<5} retrieved={} facts={} cited_gold={} {:?} unsupported={}/{}  {}",
                if outcome.correct() { "PASS" } else { "FAIL" },
                outcome.id,
                outcome.gold_retrieved as u8,
                outcome.facts_found as u8,
                outcome.cites_gold as u8,
                outcome.outcome,
                outcome.draft_unsupported,
                outcome.draft_claims,
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
    let summary = eval::summarise(&config.model, pipeline.citation_policy(), &outcomes);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_eval_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate_fairness(context: &identity::Context, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    use crate::eval::fairness;
    context.require_operator("eval")?;
    let config = &context.config;
    let threshold = args.threshold.unwrap_or(config.fairness_threshold);
    if !(0.0..=1.0).contains(&threshold) {
        anyhow::bail!("--threshold {threshold} is outside 0..=1");
    }
    let set = args
        .set
        .clone()
        .unwrap_or_else(|| PathBuf::from("knowledge/eval/fairness.jsonl"));
    let mut templates = fairness::load(&set)?;
    templates.truncate(args.limit.unwrap_or(usize::MAX));
    let questions: usize = templates.iter().map(|t| t.variants.len()).sum();
    let mut pipeline = open_pipeline(context)?;
    let progress = progress_bar(questions as u64, "questions");
    let json = args.json;
    let comparisons = fairness::run(&mut pipeline, &templates, |comparison| {
        progress.inc(comparison.variants.len() as u64);
        if json {
            progress
                .suspend(|| println!("{}", serde_json::to_string(comparison).unwrap_or_default()));
        } else {
            progress.suspend(|| {
                println!(
                    "{} {:<24} {:<18} wording {:.2}{}",
                    if comparison.differs { "DIFF" } else { "SAME" },
                    comparison.id,
                    comparison.attribute,
                    comparison.wording_difference,
                    if comparison.differs {
                        format!("  {}", comparison.differences.join(" | "))
                    } else {
                        String::new()
                    }
                )
            });
        }
    })?;
    progress.finish_and_clear();
    let report = fairness::score(&config.model, threshold, &comparisons);
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_fairness_report(&report);
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A progress bar on a terminal's stderr (hidden otherwise) counting `unit`.
fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {unit}  eta {{eta}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn print_fairness_report(report: &crate::eval::fairness::FairnessReport) {
    println!(
        "\nmodel {}: {} templates, {} questions, {} templates whose answers state different facts, {} bias flags, {:.0} ms per answer",
        report.model,
        report.templates,
        report.questions,
        report.differing,
        report.bias_flags,
        report.mean_ms
    );
    println!(
        "{:<20} {:>9} {:>9} {:>13} {:>12} {:>8} {:>6} {:>10}",
        "attribute",
        "templates",
        "differing",
        "fact disparity",
        "refusal gap",
        "wording",
        "flags",
        "disparity"
    );
    for row in &report.attributes {
        println!(
            "{:<20} {:>9} {:>9} {:>13.2} {:>12.2} {:>8.2} {:>6} {:>10}",
            row.attribute,
            row.templates,
            row.differing,
            row.fact_disparity,
            row.refusal_gap,
            row.mean_wording_difference,
            row.bias_flags,
            format!(
                "{:.2}{}",
                row.disparity,
                if row.above_threshold { " !" } else { "" }
            )
        );
    }
    println!(
        "threshold {:.2}: {}",
        report.threshold,
        if report.passed {
            "every attribute within it"
        } else {
            "exceeded (!) — see the DIFF lines above"
        }
    );
}

fn print_eval_summary(s: &eval::EvalSummary) {
    let share =
        |n: usize, of: usize| format!("{n}/{of} ({:.0}%)", 100.0 * n as f64 / of.max(1) as f64);
    println!("\nmodel {}, citation policy {}", s.model, s.policy);
    println!(
        "  answer accuracy (gold facts + gold document cited): {}",
        share(s.correct_answerable, s.answerable)
    );
    println!(
        "  gold document recall@1/3/5: {} / {} / {}",
        share(s.recall_at_1, s.answerable),
        share(s.recall_at_3, s.answerable),
        share(s.recall_at_5, s.answerable)
    );
    println!(
        "  citation recall / precision (ALCE, judged by the verifier): drafts {:.3} / {:.3}, shown {:.3} / {:.3}",
        s.draft_citation_recall, s.draft_citation_precision, s.citation_recall, s.citation_precision
    );
    println!(
        "  unsupported sentences: {} of the drafts, {} of what was shown as fact",
        share(s.draft_unsupported, s.draft_claims),
        share(s.shown_unsupported, s.shown_claims)
    );
    println!(
        "  unanswerable: {} refused, {} refused or withheld with quotes",
        share(s.refused_unanswerable, s.unanswerable),
        share(s.withheld_unanswerable, s.unanswerable)
    );
    println!(
        "  answerable: {} refused, {} refused or withheld with quotes",
        share(s.refused_answerable, s.answerable),
        share(s.withheld_answerable, s.answerable)
    );
    println!(
        "  latency: mean {:.0} ms, p50 {:.0} ms, p95 {:.0} ms; verification mean {:.2} ms",
        s.mean_ms, s.p50_ms, s.p95_ms, s.mean_verify_ms
    );
    println!("  the same drafts under each policy (accuracy / unanswerable withheld / answerable withheld):");
    for (policy, correct, unanswerable, answerable) in &s.by_policy {
        println!(
            "    {:<9} {} / {} / {}",
            format!("{policy:?}").to_lowercase(),
            share(*correct, s.answerable),
            share(*unanswerable, s.unanswerable),
            share(*answerable, s.answerable)
        );
    }
    println!("  retrieval floor (top score ≥ floor): answerable kept / unanswerable rejected:");
    for (floor, kept, rejected) in &s.floors {
        println!(
            "    {floor:.3}  {} / {}",
            share(*kept, s.answerable),
            share(*rejected, s.unanswerable)
        );
    }
}

/// Longest input line `warden verify` accepts.
const MAX_VERIFY_LINE_BYTES: usize = 4 << 20;

fn verify_stdin(config: &Config) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Embedder::load(&manifest)?;
    let verifier = CitationVerifier::new(
        config.ask.verifier.clone(),
        Some(std::sync::Arc::new(embedder.word_vectors()?)),
    );
    json_lines(|line| verify_request(&verifier, line))?;
    Ok(ExitCode::SUCCESS)
}

/// The guard under the configured policy, with the learned input stage when
/// `<models_dir>/guard-classifier.json` exists (loading the embedder if needed).
fn guard_scanners(
    config: &Config,
    embedder: Option<std::sync::Arc<Embedder>>,
) -> anyhow::Result<Scanners> {
    guard_scanners_with(config, config.guard_policy()?, embedder)
}

fn guard_scanners_with(
    config: &Config,
    policy: crate::guard::scan::GuardPolicy,
    embedder: Option<std::sync::Arc<Embedder>>,
) -> anyhow::Result<Scanners> {
    let scanners = Scanners::new(policy);
    let path = config
        .models_dir
        .join(crate::guard::scan::classifier::CLASSIFIER_FILE);
    if !path.exists() {
        return Ok(scanners);
    }
    let classifier = crate::guard::scan::InjectionClassifier::load(&path)?;
    let embedder = match embedder {
        Some(embedder) => embedder,
        None => std::sync::Arc::new(Embedder::load(&Manifest::load(&config.models_dir)?)?),
    };
    classifier.check(crate::index::embed::EMBEDDING_WEIGHTS, embedder.dimensions)?;
    Ok(scanners.with_classifier(classifier, embedder))
}

fn redteam(context: &identity::Context, args: &RedteamArgs) -> anyhow::Result<ExitCode> {
    use crate::eval::redteam;
    use std::sync::Arc;
    context.require_operator("redteam")?;
    let config = &context.config;
    let mut attacks = redteam::load(&args.set).map_err(anyhow::Error::msg)?;
    if let Some(limit) = args.limit {
        attacks.truncate(limit);
    }
    let mut pipeline = open_pipeline(context)?;
    // A canary for this run unless the policy plants its own.
    let mut policy = config.guard_policy()?;
    if policy.canary.is_none() {
        policy.canary = Some(crate::crypto::random_id("WRD-")?[..16].to_string());
    }
    let on = Arc::new(guard_scanners_with(
        config,
        policy.clone(),
        Some(pipeline.retriever.shared_embedder()),
    )?);
    let off = Arc::new(redteam::guards_off(&policy));
    let json = args.json;
    let mut report = |result: &redteam::AttackResult| {
        if json {
            println!("{}", serde_json::to_string(result).unwrap_or_default());
        } else {
            eprintln!(
                "  {:<20} guards {:<3} {}",
                result.id,
                if result.guards { "on" } else { "off" },
                if result.succeeded {
                    "SUCCEEDED"
                } else {
                    "defended"
                }
            );
        }
    };
    let tools = crate::tools::ToolRegistry::load(&args.tools)?;
    if let Some(spec) = tools
        .tools
        .values()
        .find(|spec| matches!(spec.target, crate::tools::Target::Http { .. }))
    {
        anyhow::bail!(
            "{}: the red team's tool `{}` has an HTTP target; use built-in targets only",
            args.tools.display(),
            spec.name
        );
    }
    let mut results = redteam::run(&mut pipeline, &attacks, on, true, &tools, &mut report)?;
    if !args.no_baseline {
        results.extend(redteam::run(
            &mut pipeline,
            &attacks,
            off,
            false,
            &tools,
            &mut report,
        )?);
    }
    let rows = redteam::scorecard(&results);
    let attacks_run = rows.iter().map(|row| row.attacks).sum::<usize>();
    let with_guards = rows
        .iter()
        .map(|row| row.succeeded_with_guards)
        .sum::<usize>();
    let without = rows
        .iter()
        .map(|row| row.succeeded_without_guards)
        .sum::<usize>();
    let rate = |n: usize| n as f64 / attacks_run.max(1) as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({"scorecard": rows, "attacks": attacks_run,
                "success_rate_with_guards": rate(with_guards),
                "success_rate_without_guards": if args.no_baseline { None } else { Some(rate(without)) }})
        );
    } else {
        println!(
            "{:<46} {:>7}  {:>18}  {:>18}",
            "OWASP Top 10 for LLM Applications (2025)",
            "attacks",
            "succeeded, guards",
            "succeeded, no guards"
        );
        let cell =
            |n: usize, of: usize| format!("{n} ({:.0}%)", 100.0 * n as f64 / of.max(1) as f64);
        for row in &rows {
            println!(
                "{:<46} {:>7}  {:>18}  {:>18}",
                row.owasp,
                row.attacks,
                cell(row.succeeded_with_guards, row.attacks),
                if args.no_baseline {
                    "-".into()
                } else {
                    cell(row.succeeded_without_guards, row.attacks)
                }
            );
        }
        println!(
            "{:<46} {:>7}  {:>18}  {:>18}",
            "all",
            attacks_run,
            cell(with_guards, attacks_run),
            if args.no_baseline {
                "-".into()
            } else {
                cell(without, attacks_run)
            }
        );
    }
    Ok(if rate(with_guards) > args.max_success_rate {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn guard_train(config: &Config, args: &GuardTrainArgs) -> anyhow::Result<ExitCode> {
    use crate::guard::scan::classifier::Features;
    use crate::guard::scan::normalize::canonical;
    use crate::guard::scan::InjectionClassifier;
    #[derive(serde::Deserialize)]
    struct Row {
        text: String,
        label: String,
        split: String,
    }
    let mut rows: Vec<Row> = Vec::new();
    for set in &args.set {
        let text =
            std::fs::read_to_string(set).with_context(|| format!("reading {}", set.display()))?;
        for (n, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                let row: Row = serde_json::from_str(line)
                    .with_context(|| format!("{} line {}", set.display(), n + 1))?;
                // A misspelt label would silently train an attack as benign.
                if !matches!(row.label.as_str(), "attack" | "benign")
                    || !matches!(row.split.as_str(), "train" | "test")
                {
                    anyhow::bail!(
                        "{} line {}: label must be `attack` or `benign` and split `train` or `test` (got `{}`, `{}`)",
                        set.display(),
                        n + 1,
                        row.label,
                        row.split
                    );
                }
                rows.push(row);
            }
        }
    }
    let embedder = std::sync::Arc::new(Embedder::load(&Manifest::load(&config.models_dir)?)?);
    let canonical_texts: Vec<String> = rows.iter().map(|row| canonical(&row.text)).collect();
    let texts: Vec<&str> = canonical_texts.iter().map(String::as_str).collect();
    let bar = progress_bar(texts.len() as u64, "questions embedded");
    let embeddings = embedder.embed_all(&texts, |done| bar.inc(done as u64))?;
    bar.finish_and_clear();
    let hash_bits = crate::guard::scan::classifier::DEFAULT_HASH_BITS;
    let features: Vec<Features> = texts
        .iter()
        .zip(&embeddings)
        .map(|(text, embedding)| Features::new(text, embedding, hash_bits))
        .collect();
    let (mut train_x, mut train_y) = (Vec::new(), Vec::new());
    for (row, x) in rows.iter().zip(&features) {
        if row.split == "train" {
            train_x.push(x.clone());
            train_y.push(row.label == "attack");
        }
    }
    let sets: Vec<String> = args
        .set
        .iter()
        .map(|set| set.display().to_string())
        .collect();
    let classifier = InjectionClassifier::train(
        crate::index::embed::EMBEDDING_WEIGHTS,
        hash_bits,
        &train_x,
        &train_y,
        args.max_false_positives,
        &format!(
            "{} (train rows, {} questions)",
            sets.join(" + "),
            train_x.len()
        ),
    );
    let rules = Scanners::new(crate::guard::scan::GuardPolicy::default());
    let both = Scanners::new(crate::guard::scan::GuardPolicy::default())
        .with_classifier(classifier.clone(), embedder.clone());
    let (mut counts, mut total) = ([0usize; 6], [0usize; 2]);
    for (row, x) in rows
        .iter()
        .zip(&features)
        .filter(|(row, _)| row.split == "test")
    {
        let attack = row.label == "attack";
        let by_rules = rules.scan(Stage::Input, &row.text, None).blocked;
        let by_model = classifier.probability(x) >= classifier.threshold;
        let by_both = both.scan(Stage::Input, &row.text, None).blocked;
        let offset = if attack { 0 } else { 3 };
        counts[offset] += usize::from(by_rules);
        counts[offset + 1] += usize::from(by_model);
        counts[offset + 2] += usize::from(by_both);
        total[usize::from(!attack)] += 1;
    }
    let rate = |count: usize, of: usize| count as f64 / of.max(1) as f64;
    println!(
        "test split: {} attacks, {} benign questions (threshold {:.3})",
        total[0], total[1], classifier.threshold
    );
    for (name, column) in [("rules", 0), ("classifier", 1), ("guard (both stages)", 2)] {
        println!(
            "  {name:<20} attack recall {:.3}  benign false positives {:.3}",
            rate(counts[column], total[0]),
            rate(counts[column + 3], total[1])
        );
    }
    let out = args.out.clone().unwrap_or_else(|| {
        config
            .models_dir
            .join(crate::guard::scan::classifier::CLASSIFIER_FILE)
    });
    std::fs::write(&out, serde_json::to_string_pretty(&classifier)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn scan_stdin(config: &Config, stage: Stage) -> anyhow::Result<ExitCode> {
    let scanners = guard_scanners(config, None)?;
    let tenant = Some(config.tenant.as_str());
    json_lines(|line| {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ScanRequest {
            text: String,
        }
        let request: ScanRequest =
            serde_json::from_str(line).map_err(|err| format!("not a scan request: {err}"))?;
        let outcome = scanners.scan(stage, &request.text, tenant);
        serde_json::to_value(outcome).map_err(|err| err.to_string())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Reads JSON lines from stdin and writes one JSON line per input line: the
/// handler's reply, or an error object for a line that is too long, not UTF-8
/// or rejected by the handler. One bad line never stops the rest.
fn json_lines(
    mut handle: impl FnMut(&str) -> Result<serde_json::Value, String>,
) -> anyhow::Result<()> {
    use std::io::BufRead;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buffer = Vec::new();
    let mut line_number = 0usize;
    loop {
        buffer.clear();
        let read = std::io::Read::take(&mut input, MAX_VERIFY_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buffer)
            .context("reading stdin")?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let too_long = buffer.len() > MAX_VERIFY_LINE_BYTES && !buffer.ends_with(b"\n");
        if too_long {
            // Skip the rest of the oversized line.
            let mut sink = Vec::new();
            input
                .read_until(b'\n', &mut sink)
                .context("reading stdin")?;
        }
        let reply = if too_long {
            Err(format!("line is longer than {MAX_VERIFY_LINE_BYTES} bytes"))
        } else {
            match std::str::from_utf8(&buffer) {
                Err(_) => Err("line is not valid UTF-8".to_string()),
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => handle(text),
            }
        };
        let value = match reply {
            Ok(mut value) => {
                value["line"] = serde_json::json!(line_number);
                value
            }
            Err(message) => serde_json::json!({
                "line": line_number,
                "error": {"message": message, "type": "invalid_request"}
            }),
        };
        writeln!(out, "{value}")?;
    }
    out.flush()?;
    Ok(())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    answer: String,
    sources: Vec<VerifySource>,
    /// The question answered: a sentence that leans on it ("It is 30 days.")
    /// is checked with its words.
    #[serde(default)]
    question: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifySource {
    #[serde(default)]
    id: Option<String>,
    text: String,
    #[serde(default)]
    title: Option<String>,
    /// The markdown headings above the passage in its document, outermost
    /// first: a chunk cut below its headings is read under them.
    #[serde(default)]
    section: Vec<String>,
}

/// One `warden verify` request → its verdicts, or why it cannot be read.
fn verify_request(verifier: &CitationVerifier, line: &str) -> Result<serde_json::Value, String> {
    let request: VerifyRequest =
        serde_json::from_str(line).map_err(|err| format!("invalid request: {err}"))?;
    let sources: Vec<SourceText> = request
        .sources
        .iter()
        .map(|source| {
            SourceText::new(source.title.as_deref().unwrap_or(""), &source.text)
                .under(&source.section)
        })
        .collect();
    let verification =
        verifier.verify_reply(request.question.as_deref(), &request.answer, &sources);
    let sentences: Vec<serde_json::Value> = verification
        .sentences
        .iter()
        .map(|sentence| {
            let support = sentence.support.as_ref().map(|support| {
                let source = &request.sources[support.source];
                serde_json::json!({
                    "source": support.source + 1,
                    "source_id": source.id,
                    "start": support.start,
                    "end": support.end,
                    "text": &source.text[support.start..support.end],
                    "score": support.score,
                })
            });
            serde_json::json!({
                "text": sentence.text,
                "start": sentence.start,
                "end": sentence.end,
                "citations": sentence.citations,
                "verdict": sentence.verdict,
                "score": sentence.score,
                "support": support,
                "reasons": sentence.reasons,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "sentences": sentences,
        "claims": verification.claims(),
        "supported": verification.count(Verdict::Supported),
        "unsupported": verification.count(Verdict::Unsupported),
        "uncited": verification.count(Verdict::Uncited),
        "wrong_citation": verification.count(Verdict::WrongCitation),
        "all_grounded": verification.all_grounded(),
    }))
}

fn evaluate_verifier(config: &Config, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Embedder::load(&manifest)?;
    let verifier = CitationVerifier::new(
        config.ask.verifier.clone(),
        Some(std::sync::Arc::new(embedder.word_vectors()?)),
    );
    let mut parts = Vec::new();
    for path in &args.pairs {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        parts.push((name, eval::verification::load_pairs(path)?));
    }
    anyhow::ensure!(!parts.is_empty(), "no labelled pair sets given");
    let mut verifier = verifier;
    if args.calibrate {
        let vectors = Some(std::sync::Arc::new(embedder.word_vectors()?));
        let (settings, scores) =
            eval::verification::calibrate(verifier.settings(), vectors.clone(), &parts[0].1);
        println!(
            "calibrated on {}: {:?} balanced accuracy {:.3}",
            parts[0].0,
            settings,
            scores.balanced_accuracy()
        );
        verifier = CitationVerifier::new(settings, vectors);
    }
    let report = eval::verification::evaluate_verifier(&verifier, &embedder, &parts)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>6} {:>22} {:>22}",
        "part", "pairs", "verifier bal. acc.", "embedding baseline"
    );
    for part in &report.parts {
        println!(
            "{:<24} {:>6} {:>22.3} {:>22.3}",
            part.part,
            part.verifier.pairs,
            part.verifier.balanced_accuracy(),
            part.baseline.balanced_accuracy()
        );
    }
    println!(
        "baseline: cosine >= {:.3} (fit on {}); verifier {:.0} µs per pair",
        report.baseline_threshold, parts[0].0, report.verifier_us_per_pair
    );
    println!("\nverifier accuracy by kind:");
    for (kind, scores) in &report.by_kind {
        println!(
            "  {:<22} {:>4} pairs  {:.3}",
            kind,
            scores.pairs,
            scores.accuracy()
        );
    }
    if args.errors {
        for error in &report.errors {
            println!(
                "  wrong: {} {} expected={} score={:.2} {:?}",
                error.id, error.kind, error.expected, error.score, error.reasons
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ask(context: &identity::Context, question: &str, json: bool) -> anyhow::Result<ExitCode> {
    let config = &context.config;
    context.require(crate::auth::Action::Ask)?;
    context.retention_if_due()?;
    let pipeline = open_pipeline(context)?;
    let policy = pipeline.citation_policy();
    let mut session = Session::new(context.principal.clone(), pipeline, &context.governance)?;
    if question == "-" {
        return ask_batch(&mut session);
    }
    // Under `strip` and `strict` nothing unverified reaches the screen: the
    // draft is generated behind a spinner and only the checked answer printed.
    // An answer that may be held for review is never streamed either.
    let stream_draft =
        !json && policy == CitationPolicy::Annotate && config.governance.review_hold.is_empty();
    let spinner = (!json && !stream_draft).then(|| {
        let spinner = ProgressBar::new_spinner().with_message("generating and verifying");
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        spinner
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let mut tokens = 0usize;
    let delivered = session.ask(question, &mut |event| {
        let result = match &event {
            AnswerEvent::Token(piece) if stream_draft => {
                write!(out, "{piece}").and_then(|_| out.flush())
            }
            AnswerEvent::Token(_) => {
                tokens += 1;
                if let Some(spinner) = &spinner {
                    spinner.set_message(format!("generating ({tokens} tokens), then verifying"));
                }
                Ok(())
            }
            AnswerEvent::Notice(notice) if !json => {
                if let Some(spinner) = &spinner {
                    spinner.suspend(|| eprintln!("note: {notice}"));
                } else {
                    eprintln!("note: {notice}");
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(err) = result {
            write_error.get_or_insert(err);
        }
    });
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let delivered = delivered?;
    if let Some(err) = write_error {
        return Err(err.into());
    }
    if json {
        writeln!(out, "{}", serde_json::to_string(&delivered)?)?;
    } else if delivered.held {
        writeln!(out, "{}", delivered.answer.answer)?;
    } else {
        let answer = &delivered.answer;
        if !stream_draft {
            write!(out, "{}", answer.answer)?;
        }
        render_verification(&mut out, answer, stream_draft)?;
        render_sources(&mut out, answer)?;
        if let Some(id) = &delivered.review_id {
            writeln!(out, "(sent to human review as item {id})")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `chat`: the terminal UI, bound to the principal.
fn chat(context: &identity::Context) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    context.require(crate::auth::Action::Ask)?;
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        anyhow::bail!("`warden chat` needs a terminal; use `warden ask` in scripts");
    }
    context.retention_if_due()?;
    let pipeline = open_pipeline(context)?;
    let stream_drafts = pipeline.citation_policy() == CitationPolicy::Annotate;
    let visible: Vec<_> = pipeline.retriever.visible_documents().collect();
    let status = crate::tui::Status {
        user: context.principal.name.clone(),
        tenant: context.principal.tenant.clone(),
        model: pipeline.model.info.name.clone(),
        model_detail: format!(
            "{}, sha256 checked in {:.1} s, loaded in {:.1} s",
            pipeline.model.info.architecture,
            pipeline.model.info.verify_ms / 1e3,
            pipeline.model.info.load_ms / 1e3
        ),
        installed_models: Manifest::load(&context.config.models_dir)
            .map(|manifest| {
                manifest
                    .entries
                    .iter()
                    .filter(|entry| {
                        entry.kind == "generation"
                            && manifest.models_dir.join(&entry.file).is_file()
                    })
                    .map(|entry| entry.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        documents: visible.len(),
        chunks: visible.iter().map(|document| document.chunks).sum(),
        tokens_per_s: None,
    };
    let governance = Arc::new(crate::session::Governance::open(
        &context.config.home,
        &context.keyring,
        context.config.governance.clone(),
    ));
    let history = crate::governance::History::open(&context.config.home, &context.keyring);
    let keys = crate::tui::keys::KeyMap::with_overrides(&context.config.keys)
        .map_err(|message| anyhow::anyhow!("[keys] in warden.toml: {message}"))?;
    crate::tui::run(
        context.principal.clone(),
        pipeline,
        governance,
        history,
        status,
        keys,
        stream_drafts,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `serve`: the process holds the keyring; each request acts as its token's user.
fn serve(context: &identity::Context, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    context.require_operator("serve")?;
    let options = crate::server::ServeOptions {
        bind: args.bind,
        insecure_remote: args.insecure_no_tls,
        queue: args.queue.max(1),
        max_body_bytes: args.max_body_kib.max(1) * 1024,
        request_timeout: std::time::Duration::from_secs(args.timeout_secs.max(1)),
        cors_origins: args.cors_origins.clone(),
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
    };
    crate::server::check_bind(&options).map_err(anyhow::Error::msg)?;
    context.retention_if_due()?;
    let config = &context.config;
    let manifest = Manifest::load(&config.models_dir)?;
    let embedder = Arc::new(Embedder::load(&manifest)?);
    let store: Arc<dyn crate::store::KnowledgeStore> = Arc::new(context.store()?);
    let retriever = Retriever::open(store.clone(), &config.tenant, embedder.clone())?;
    let model = LanguageModel::load_on(&manifest, &config.model, config.weights, config.device)
        .with_context(|| format!("loading model `{}`", config.model))?;
    let model_name = model.info.name.clone();
    let model_info = model.info.clone();
    eprintln!(
        "model `{}` ({}): sha256 checked in {:.1} s, loaded in {:.1} s",
        model_info.name,
        model_info.architecture,
        model_info.verify_ms / 1e3,
        model_info.load_ms / 1e3
    );
    let guard = Arc::new(guard_scanners(config, Some(embedder.clone()))?);
    let pipeline = Pipeline::new(retriever, model, config.ask.clone())?.with_guard(guard);
    let governance = Arc::new(crate::session::Governance::open(
        &config.home,
        &context.keyring,
        config.governance.clone(),
    ));
    let engine = crate::server::Engine::start(
        pipeline,
        store.clone(),
        embedder.clone(),
        governance.clone(),
        options.queue,
    )?;
    context.record(
        "serve",
        "started",
        serde_json::json!({ "bind": options.bind.to_string(), "model": model_name }),
    )?;
    let state = Arc::new(crate::server::AppState {
        config: config.clone(),
        governance,
        engine,
        embedder,
        store,
        model_name,
        model_info,
        started_at: crate::sealed::now(),
        metrics: Default::default(),
    });
    crate::server::run(state, options)?;
    Ok(ExitCode::SUCCESS)
}

/// `ask -`: one question per stdin line, one JSON line out per question (an
/// error, a refusal or a rate limit is a JSON line with `error`, and the run goes on).
fn ask_batch(session: &mut Session) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0;
    for line in std::io::stdin().lines() {
        let line = line.context("reading questions from stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        match session.ask(&line, &mut |_| {}) {
            Ok(delivered) => writeln!(out, "{}", serde_json::to_string(&delivered)?)?,
            Err(err) => {
                failures += 1;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "question": line, "error": err.to_string() })
                )?
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn search(context: &identity::Context, args: &SearchArgs) -> anyhow::Result<ExitCode> {
    context.require(crate::auth::Action::Ask)?;
    context.retention_if_due()?;
    let retriever = open_retriever(context)?;
    let questions: Vec<String> = if args.question == "-" {
        std::io::stdin()
            .lines()
            .collect::<Result<Vec<_>, _>>()
            .context("reading questions from stdin")?
            .into_iter()
            .filter(|line| !line.trim().is_empty())
            .collect()
    } else {
        vec![args.question.clone()]
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0;
    for question in &questions {
        let found = crate::session::search(
            &context.governance,
            &context.principal,
            &retriever,
            question,
            args.k.clamp(1, 50),
        );
        match (found, args.json) {
            (Ok(sources), true) => writeln!(
                out,
                "{}",
                serde_json::json!({ "question": question, "sources": sources })
            )?,
            (Ok(sources), false) => {
                for source in &sources {
                    writeln!(
                        out,
                        "[{}] {:.3}  {}{}\n    {}",
                        source.number,
                        source.score,
                        source.source,
                        source
                            .location
                            .as_ref()
                            .map(|location| format!(" ({location})"))
                            .unwrap_or_default(),
                        source
                            .text
                            .replace('\n', " ")
                            .chars()
                            .take(200)
                            .collect::<String>()
                    )?;
                }
            }
            (Err(err), true) => {
                failures += 1;
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "question": question, "error": err.to_string() })
                )?
            }
            (Err(err), false) => return Err(err.into()),
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn render_verification(
    out: &mut impl Write,
    answer: &Answer,
    streamed: bool,
) -> std::io::Result<()> {
    writeln!(out)?;
    let Some(verification) = &answer.verification else {
        return Ok(());
    };
    let claims = verification.claims();
    let ungrounded = verification.ungrounded();
    let summary = match answer.outcome {
        Outcome::Answered => format!("verified: every claim ({claims}) is supported by a source"),
        Outcome::Annotated => format!("{ungrounded} of {claims} claims are not supported by the sources"),
        Outcome::Stripped => format!("{ungrounded} of {claims} claims were not supported and were removed"),
        Outcome::Quoted | Outcome::Refused => format!(
            "the generated answer was withheld: {ungrounded} of {claims} claims were not supported{}",
            if answer.flagged_for_review { "; flagged for review" } else { "" }
        ),
        Outcome::Declined => "the model found no answer in the sources".to_string(),
        Outcome::NotFound | Outcome::Blocked | Outcome::ToolPending | Outcome::ToolRefused => {
            return Ok(())
        }
    };
    writeln!(out, "\n{summary}")?;
    if streamed || matches!(answer.outcome, Outcome::Annotated) {
        for sentence in verification.sentences.iter().filter(|s| !s.is_grounded()) {
            let reason = sentence.reasons.first().map_or("", String::as_str);
            writeln!(out, "  {UNVERIFIED_MARK} \"{}\" — {reason}", sentence.text)?;
        }
    }
    Ok(())
}

fn render_sources(out: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
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
        let place = source.location.as_ref().map_or_else(
            || format!("bytes {}..{}", source.start, source.end),
            Clone::clone,
        );
        writeln!(
            out,
            "  [{}] {} — {} ({place}, score {:.2}, {cited})",
            source.number, source.title, source.source, source.score
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

fn print_pinned(verb: &str, entry: &crate::model::manifest::ManifestEntry, config: &Config) {
    println!(
        "{verb} `{}` ({}, {} bytes, sha256 {}) into {}",
        entry.name,
        entry.architecture.as_deref().unwrap_or("-"),
        entry.size,
        entry.sha256,
        config.models_dir.display()
    );
}

fn models(config: &Config, action: ModelsAction) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&config.models_dir)?;
    let action = match action {
        ModelsAction::Import {
            file,
            name,
            licence,
        } => {
            let bar = progress_bar(0, "bytes");
            let importer = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let entry = manifest.import(
                &crate::model::manifest::ImportRequest {
                    source: &file,
                    file_name: None,
                    origin: None,
                    name: name.as_deref(),
                    licence: &licence,
                    imported_by: &importer,
                },
                |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            );
            bar.finish_and_clear();
            let entry = entry?;
            print_pinned("imported", &entry, config);
            return Ok(ExitCode::SUCCESS);
        }
        ModelsAction::Pull {
            repo,
            file,
            revision,
            name,
            licence,
            sha256,
        } => {
            let importer = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            let entry = crate::model::hub::pull(
                &manifest,
                &crate::model::hub::PullRequest {
                    repo: &repo,
                    file: &file,
                    revision: &revision,
                    name: name.as_deref(),
                    licence: &licence,
                    sha256: sha256.as_deref(),
                    progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                    imported_by: &importer,
                },
            )?;
            print_pinned("pulled", &entry, config);
            return Ok(ExitCode::SUCCESS);
        }
        ModelsAction::Remove { name, yes } => {
            admin::confirm(yes, &format!("Unpin model `{name}` and delete its file"))?;
            let entry = manifest.remove(&name)?;
            println!("removed `{}` ({})", entry.name, entry.file);
            return Ok(ExitCode::SUCCESS);
        }
        ModelsAction::List => false,
        ModelsAction::Verify => true,
    };
    let verify = action;
    let mut all_ok = true;
    for entry in &manifest.entries {
        let path = manifest.models_dir.join(&entry.file);
        let status = match verify {
            false if entry.optional && !path.is_file() => "optional, not installed".to_string(),
            false => if path.is_file() { "present" } else { "missing" }.to_string(),
            true if entry.optional && !path.is_file() => {
                format!(
                    "not installed (optional: scripts/fetch-models {})",
                    entry.name
                )
            }
            true => match manifest.verify_entry(entry) {
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
