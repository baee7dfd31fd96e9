//! The `warden` binary end to end: exit codes, messages, and JSON answers.

use serde_json::Value;

use std::path::{Path, PathBuf};

use crate::common::{init_home, small_knowledge, stderr, stdout, warden, warden_with_env};

/// A home under `dir` with the small demo knowledge ingested.
fn home_with_small_knowledge(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    init_home(&home);
    let folder = small_knowledge(dir);
    let output = warden(&home, &["ingest", folder.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    home
}

#[test]
fn ingest_then_ask_json_returns_a_cited_answer_with_sources_and_model_hash() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    init_home(&home);
    let folder = small_knowledge(dir.path());
    let ingest = warden(&home, &["ingest", folder.to_str().unwrap()]);
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    assert!(stdout(&ingest).contains("3 new"), "{}", stdout(&ingest));

    let ask = warden(
        &home,
        &[
            "ask",
            "How many days of paid annual leave does a full-time employee get per year?",
            "--json",
            "--model",
            "smollm2-135m",
            "--max-tokens",
            "64",
        ],
    );
    assert!(ask.status.success(), "{}", stderr(&ask));
    let answer: Value = serde_json::from_str(stdout(&ask).trim()).expect("one JSON object");
    assert!(
        answer["answer"].as_str().unwrap().contains("28"),
        "{answer}"
    );
    assert!(
        !answer["citations"].as_array().unwrap().is_empty(),
        "{answer}"
    );
    let sources = answer["sources"].as_array().unwrap();
    assert!(sources.iter().any(|s| s["source"] == "hr/leave-policy.md"));
    for source in sources {
        assert!(source["end"].as_u64() > source["start"].as_u64());
        assert!(source["score"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        answer["model"]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    let generation = &answer["timings"]["generation"];
    assert!(generation["prompt_tokens"].as_u64().unwrap() > 50);
    assert!(generation["generation_tokens_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_home_without_a_keyring_says_to_run_init() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(dir.path(), &["ask", "anything?"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("warden init"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn asking_an_empty_knowledge_base_says_to_ingest_first() {
    let dir = tempfile::tempdir().unwrap();
    init_home(dir.path());
    let output = warden(dir.path(), &["ask", "anything?"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("warden ingest"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ingesting_an_empty_folder_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let home = dir.path().join("home");
    init_home(&home);
    let before = std::fs::read(home.join("store/MANIFEST")).unwrap();
    let output = warden(&home, &["ingest", empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no supported documents"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read(home.join("store/MANIFEST")).unwrap(),
        before,
        "the store changed for nothing"
    );
}

#[test]
fn ingesting_a_missing_path_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(dir.path(), &["ingest", "/no/such/folder"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("/no/such/folder does not exist"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_model_names_the_fetch_command_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_small_knowledge(dir.path());
    // A models folder where the embedding model is present but the GGUF is not.
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let real = crate::common::models_dir();
    std::fs::copy(real.join("manifest.toml"), models.join("manifest.toml")).unwrap();
    for file in [
        "all-MiniLM-L6-v2.safetensors",
        "all-MiniLM-L6-v2.tokenizer.json",
        "all-MiniLM-L6-v2.config.json",
    ] {
        std::os::unix::fs::symlink(real.join(file), models.join(file)).unwrap();
    }
    let output = warden_with_env(
        &home,
        &["ask", "How much leave?", "--model", "smollm2-135m"],
        &[("WARDEN_MODELS_DIR", models.to_str().unwrap())],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("scripts/fetch-models"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn a_question_longer_than_the_limit_or_the_context_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_small_knowledge(dir.path());

    let huge = "Why? ".repeat(2000);
    let output = warden(&home, &["ask", &huge, "--model", "smollm2-135m"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("the limit is 4000"),
        "{}",
        stderr(&output)
    );

    let long = "Please explain the annual leave rules in detail. ".repeat(60);
    let output = warden_with_env(
        &home,
        &["ask", &long, "--model", "smollm2-135m"],
        &[("WARDEN_CONTEXT_TOKENS", "512")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("context window allows 512"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_configuration_is_reported_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden_with_env(dir.path(), &["config"], &[("WARDEN_MAX_TOKENS", "lots")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("WARDEN_MAX_TOKENS"),
        "{}",
        stderr(&output)
    );
    std::fs::write(dir.path().join("warden.toml"), "temperature = 9.0\n").unwrap();
    let output = warden(dir.path(), &["config"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("temperature"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn models_verify_checks_every_pinned_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden(dir.path(), &["models", "verify"]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Every entry verified, or (optional ones only) not installed.
    let text = stdout(&output);
    let verified = text.matches("ok (sha256 verified)").count();
    let optional = text.matches("not installed (optional").count();
    assert_eq!(verified + optional, 7, "{text}");
    assert!(verified >= 6, "{text}");
}

#[test]
fn sources_that_do_not_fit_the_context_are_dropped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_small_knowledge(dir.path());
    let output = warden_with_env(
        &home,
        &[
            "ask",
            "How many days of paid annual leave does a full-time employee get?",
            "--model",
            "smollm2-135m",
            "--max-tokens",
            "32",
            "--sources",
            "3",
            "--json",
        ],
        &[("WARDEN_CONTEXT_TOKENS", "420")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let answer: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let notices = answer["notices"].as_array().unwrap();
    assert!(
        notices.iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("did not fit the context window")),
        "{answer}"
    );
    let sources = answer["sources"].as_array().unwrap().len();
    assert!((1..3).contains(&sources), "{sources} sources kept");
    let generation = &answer["timings"]["generation"];
    let used = generation["prompt_tokens"].as_u64().unwrap()
        + generation["generated_tokens"].as_u64().unwrap();
    assert!(used <= 420, "{used} tokens used in a 420-token window");
}

#[test]
fn a_question_nothing_in_the_documents_matches_is_answered_without_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_small_knowledge(dir.path());
    let output = warden(
        &home,
        &[
            "ask",
            "zebra quartz saxophone nebula",
            "--json",
            "--model",
            "smollm2-135m",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let answer: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(answer["answered_by_model"], false, "{answer}");
    assert_eq!(
        answer["answer"],
        "I could not find this in the knowledge base."
    );
    assert!(answer["sources"].as_array().unwrap().is_empty());
    assert!(answer["timings"]["generation"].is_null());
}

/// A GPU asked of a CPU-only build is a clear error, before anything loads;
/// an unknown device is a configuration error.
#[test]
fn a_gpu_device_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = home_with_small_knowledge(dir.path());
    let output = warden(
        &home,
        &["--device", "cuda:0", "ask", "How many leave days?"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("rebuild with `cargo build --release --features cuda`"),
        "{}",
        stderr(&output)
    );
    let output = warden(&home, &["--device", "tpu", "ask", "How many leave days?"]);
    assert!(
        stderr(&output).contains("`tpu` is not a device"),
        "{}",
        stderr(&output)
    );
}
