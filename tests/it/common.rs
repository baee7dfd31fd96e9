//! Shared fixtures: the repository's models, loaded once per test binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use warden::index::Embedder;
use warden::ingest::{ingest_path, ChunkSettings};
use warden::model::{LanguageModel, Manifest, WeightFormat};
use warden::rag::{AskSettings, Pipeline, Retriever};
use warden::store::MemoryStore;

pub const SMOLLM2: &str = "smollm2-135m";
pub const QWEN2: &str = "qwen2.5-coder-0.5b";

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
    let store = MemoryStore::new();
    ingest_path(
        folder,
        &store,
        &embedder(),
        &ChunkSettings::default(),
        &mut (),
    )
    .expect("knowledge ingests");
    Retriever::open(&store, embedder()).expect("retriever opens")
}

/// Runs the `warden` binary with the repository's models and a given home.
pub fn warden(home: &Path, args: &[&str]) -> Output {
    warden_with_env(home, args, &[])
}

pub fn warden_with_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .arg("--home")
        .arg(home)
        .arg("--threads")
        .arg("1")
        .args(args)
        .env("WARDEN_MODELS_DIR", models_dir())
        .env_remove("WARDEN_HOME")
        .env_remove("WARDEN_MODEL");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("warden binary runs")
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
