//! Shared fixtures: the repository's models, loaded once per test binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use warden::index::Embedder;
use warden::ingest::{ingest_path, IngestOptions};
use warden::model::{LanguageModel, Manifest, WeightFormat};
use warden::rag::{AskSettings, Pipeline, Retriever};
use warden::store::{MemoryStore, DEFAULT_TENANT};

pub const SMOLLM2: &str = "smollm2-135m";
pub const QWEN2: &str = "qwen2.5-coder-0.5b";
pub const GEMMA3: &str = "gemma3-270m";
/// The passphrase of every test home (`init_home`).
pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn models_dir() -> PathBuf {
    repo().join("models")
}

pub fn knowledge_dir() -> PathBuf {
    repo().join("knowledge")
}

pub fn manifest() -> Manifest {
    Manifest::load(&models_dir()).expect("models/manifest.toml loads")
}

/// SmolLM2, loaded once and shared (tests take turns through the mutex).
pub fn smollm2() -> MutexGuard<'static, LanguageModel> {
    static MODEL: OnceLock<Mutex<LanguageModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Mutex::new(
                LanguageModel::load(&manifest(), SMOLLM2, WeightFormat::F16)
                    .expect("SmolLM2 loads"),
            )
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(Embedder::load(&manifest()).expect("embedder loads")))
        .clone()
}

/// The demo knowledge, ingested once into an in-memory store.
pub fn demo_retriever() -> &'static Retriever {
    static RETRIEVER: OnceLock<Retriever> = OnceLock::new();
    RETRIEVER.get_or_init(|| memory_retriever(&knowledge_dir()))
}

/// A retriever over `folder`, ingested into an in-memory store.
pub fn memory_retriever(folder: &Path) -> Retriever {
    let store = Arc::new(MemoryStore::new());
    ingest_path(
        folder,
        store.as_ref(),
        &embedder(),
        &IngestOptions::default(),
        &mut (),
    )
    .expect("knowledge ingests");
    Retriever::open(store, DEFAULT_TENANT, embedder()).expect("retriever opens")
}

/// Creates the keyring and encrypted store of a test home (cheap Argon2 cost).
pub fn init_home(home: &Path) {
    let output = warden(
        home,
        &["init", "--kdf-memory-mib", "8", "--kdf-iterations", "1"],
    );
    assert!(output.status.success(), "init: {}", stderr(&output));
}

/// Runs the `warden` binary with the repository's models, a given home and
/// the test passphrase.
pub fn warden(home: &Path, args: &[&str]) -> Output {
    warden_with_env(home, args, &[])
}

pub fn warden_with_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    warden_with_input(home, args, env, None)
}

/// Runs `warden` with `input` (if any) on its stdin.
pub fn warden_with_input(
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: Option<&str>,
) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .arg("--home")
        .arg(home)
        .arg("--threads")
        .arg("1")
        .args(args)
        .env("WARDEN_MODELS_DIR", models_dir())
        .env("WARDEN_PASSPHRASE", PASSPHRASE)
        .env_remove("WARDEN_KEY_FILE")
        .env_remove("WARDEN_TENANT")
        .env_remove("WARDEN_HOME")
        .env_remove("WARDEN_MODEL")
        .env_remove("WARDEN_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    let Some(input) = input else {
        return command.output().expect("warden binary runs");
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden binary runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("warden binary runs");
    writer
        .join()
        .expect("writer thread")
        .expect("stdin written");
    output
}

/// A test home in `dir` with the small demo knowledge ingested into `default`.
pub fn ingested_home(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    init_home(&home);
    let knowledge = small_knowledge(dir);
    let output = warden(&home, &["ingest", knowledge.to_str().unwrap()]);
    assert!(output.status.success(), "ingest: {}", stderr(&output));
    home
}

/// Adds a user with `roles` in `tenant` and returns its token.
pub fn add_user(home: &Path, tenant: &str, name: &str, roles: &str) -> String {
    let output = warden(
        home,
        &["--tenant", tenant, "users", "add", name, "--roles", roles],
    );
    assert!(output.status.success(), "users add: {}", stderr(&output));
    let token = stdout(&output).trim().to_string();
    assert!(token.starts_with("wdn_"), "{token}");
    token
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A small knowledge folder of three demo documents, copied into `dir`.
pub fn small_knowledge(dir: &Path) -> PathBuf {
    let folder = dir.join("kb");
    for relative in [
        "hr/leave-policy.md",
        "it-security/vpn-setup.md",
        "finance/expenses-policy.md",
    ] {
        let target = folder.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(knowledge_dir().join(relative), target).unwrap();
    }
    folder
}

/// A retriever over the small demo knowledge, ingested into memory.
pub fn small_knowledge_retriever(dir: &Path) -> Retriever {
    memory_retriever(&small_knowledge(dir))
}

/// A pipeline over the small demo knowledge with `model` (f16, default
/// settings, answers capped at 96 tokens).
pub fn small_pipeline(dir: &Path, model: &str) -> Pipeline {
    let model = LanguageModel::load(&manifest(), model, WeightFormat::F16).expect("model loads");
    let settings = AskSettings {
        max_tokens: 96,
        ..AskSettings::default()
    };
    Pipeline::new(small_knowledge_retriever(dir), model, settings).expect("pipeline opens")
}

/// One HTTP/1.1 request read off a loopback socket by a test's mock server:
/// the path, the headers (names lower-cased) and the body (by Content-Length).
pub struct MockRequest {
    pub path: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
}

pub fn read_mock_request(stream: &std::net::TcpStream) -> Option<MockRequest> {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut headers = std::collections::BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(MockRequest {
        path,
        headers,
        body,
    })
}
