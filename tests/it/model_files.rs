//! Model files are loaded only when the manifest pins them, and bad files give
//! clear errors instead of panics.

use std::path::Path;

use warden::model::manifest::sha256_file;
use warden::model::{LanguageModel, Manifest, ModelError, WeightFormat};

use crate::common::{manifest, models_dir, SMOLLM2};

/// A models folder holding `manifest_text` and nothing else.
fn models_folder(dir: &Path, manifest_text: &str) -> Manifest {
    std::fs::write(dir.join("manifest.toml"), manifest_text).unwrap();
    Manifest::load(dir).unwrap()
}

fn entry_toml(name: &str, file: &str, sha256: &str, size: u64) -> String {
    format!(
        "[[model]]\nname = \"{name}\"\nkind = \"generation\"\nfile = \"{file}\"\narchitecture = \"llama\"\n\
         sha256 = \"{sha256}\"\nsize = {size}\nlicence = \"test\"\nsource = \"test\"\n"
    )
}

fn smollm_bytes() -> Vec<u8> {
    let entry = manifest().entry(SMOLLM2).unwrap().clone();
    std::fs::read(models_dir().join(entry.file)).unwrap()
}

#[test]
fn the_real_manifest_pins_every_fetched_file() {
    let manifest = manifest();
    assert!(manifest.entries.len() >= 5);
    for entry in &manifest.entries {
        let path = manifest.models_dir.join(&entry.file);
        if entry.optional && !path.is_file() {
            continue;
        }
        let verified = manifest.verify_entry(entry).unwrap();
        assert_eq!(std::fs::metadata(&verified.path).unwrap().len(), entry.size);
    }
    assert_eq!(
        manifest.entry("qwen2.5-coder-0.5b").unwrap().sha256,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    );
}

#[test]
fn a_missing_model_names_the_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = models_folder(
        dir.path(),
        &entry_toml("tiny", "tiny.gguf", &"0".repeat(64), 1),
    );
    let err = LanguageModel::load(&manifest, "tiny", WeightFormat::Quantized)
        .err()
        .unwrap();
    assert!(matches!(err, ModelError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("scripts/fetch-models"), "{err}");
}

#[test]
fn a_file_whose_hash_differs_from_the_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = manifest().entry(SMOLLM2).unwrap().clone();
    let manifest = models_folder(
        dir.path(),
        &entry_toml(SMOLLM2, &real.file, &real.sha256, real.size),
    );
    let mut bytes = smollm_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(dir.path().join(&real.file), &bytes).unwrap();
    let err = LanguageModel::load(&manifest, SMOLLM2, WeightFormat::Quantized)
        .err()
        .unwrap();
    assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&real.sha256), "{err}");
    // The same file given by path is refused the same way.
    let by_path = dir.path().join(&real.file);
    let err = LanguageModel::load(
        &manifest,
        by_path.to_str().unwrap(),
        WeightFormat::Quantized,
    )
    .err()
    .unwrap();
    assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
}

#[test]
fn an_unpinned_file_is_refused_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = models_folder(
        dir.path(),
        &entry_toml("other", "other.gguf", &"0".repeat(64), 1),
    );
    let path = dir.path().join("stranger.gguf");
    std::fs::write(&path, b"GGUF not really").unwrap();
    let err = LanguageModel::load(&manifest, path.to_str().unwrap(), WeightFormat::Quantized)
        .err()
        .unwrap();
    let hash = sha256_file(&path).unwrap();
    assert!(matches!(err, ModelError::NotPinned { .. }), "{err}");
    assert!(err.to_string().contains(&hash), "{err}");
}

/// Pins a damaged file in a test manifest so the loader itself must reject it.
fn load_pinned_bytes(bytes: &[u8]) -> ModelError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.gguf");
    std::fs::write(&path, bytes).unwrap();
    let hash = sha256_file(&path).unwrap();
    let manifest = models_folder(
        dir.path(),
        &entry_toml("damaged", "damaged.gguf", &hash, bytes.len() as u64),
    );
    LanguageModel::load(&manifest, "damaged", WeightFormat::Quantized)
        .err()
        .expect("a damaged model must not load")
}

#[test]
fn a_truncated_gguf_is_a_clear_error() {
    let bytes = smollm_bytes();
    let err = load_pinned_bytes(&bytes[..bytes.len() / 2]);
    assert!(matches!(err, ModelError::CorruptModel { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn garbage_and_a_cut_header_are_clear_errors() {
    let err = load_pinned_bytes(b"this is not a gguf file at all");
    assert!(matches!(err, ModelError::CorruptModel { .. }), "{err}");
    let bytes = smollm_bytes();
    let err = load_pinned_bytes(&bytes[..4096]);
    assert!(matches!(err, ModelError::CorruptModel { .. }), "{err}");
}

#[test]
fn an_unknown_model_name_lists_the_known_ones() {
    let err = LanguageModel::load(&manifest(), "gpt-17", WeightFormat::Quantized)
        .err()
        .unwrap();
    assert!(err.to_string().contains("smollm2-135m"), "{err}");
}

/// `models import` pins a file it copies in; `verify` catches a later
/// change; broken or truncated files and taken names are refused and leave
/// the models folder as it was; `remove` unpins and deletes.
#[test]
fn models_import_verify_and_remove() {
    use crate::common::{stderr, stdout, warden_with_env};
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("manifest.toml"), "# imported models only\n").unwrap();
    let home = dir.path().join("home");
    let run = |args: &[&str]| {
        warden_with_env(
            &home,
            args,
            &[("WARDEN_MODELS_DIR", models.to_str().unwrap())],
        )
    };
    let source = dir.path().join("Small-Model.Q4_1.gguf");
    std::fs::copy(
        crate::common::models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf"),
        &source,
    )
    .unwrap();

    let imported = run(&[
        "models",
        "import",
        source.to_str().unwrap(),
        "--licence",
        "Apache-2.0",
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stdout(&imported).contains("imported `small-model.q4_1`"),
        "{}",
        stdout(&imported)
    );
    let manifest = Manifest::load(&models).unwrap();
    let entry = manifest.entry("small-model.q4_1").unwrap();
    assert_eq!(entry.architecture.as_deref(), Some("llama"));
    assert_eq!(entry.licence, "Apache-2.0");
    assert!(entry.source.contains("imported from"));
    assert!(run(&["models", "verify"]).status.success());

    // Refused: the same name again, a truncated copy, not a GGUF at all.
    let again = run(&[
        "models",
        "import",
        source.to_str().unwrap(),
        "--name",
        "small-model.q4_1",
    ]);
    assert!(
        stderr(&again).contains("already pinned"),
        "{}",
        stderr(&again)
    );
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &std::fs::read(&source).unwrap()[..4000]).unwrap();
    assert!(
        stderr(&run(&["models", "import", cut.to_str().unwrap()])).contains("not a usable GGUF")
    );
    let garbage = dir.path().join("notes.gguf");
    std::fs::write(&garbage, "not a model").unwrap();
    assert!(!run(&["models", "import", garbage.to_str().unwrap()])
        .status
        .success());
    let files: Vec<_> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");

    // A byte changed after import: verify names it and exits 1.
    let pinned = models.join("Small-Model.Q4_1.gguf");
    let mut bytes = std::fs::read(&pinned).unwrap();
    bytes[5_000_000] ^= 0x55;
    std::fs::write(&pinned, bytes).unwrap();
    let verify = run(&["models", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(stdout(&verify).contains("FAILED"), "{}", stdout(&verify));

    let removed = run(&["models", "remove", "small-model.q4_1", "--yes"]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    assert!(!pinned.exists());
    assert!(Manifest::load(&models).unwrap().entries.is_empty());
}
