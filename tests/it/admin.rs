//! Keys, tenants, erasure and integrity through the `warden` binary.

use std::path::Path;

use serde_json::Value;

use crate::common::{init_home, small_knowledge, stderr, stdout, warden, warden_with_env};

fn json(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_str(stdout(output).trim()).expect("one JSON value")
}

#[test]
fn unlockers_can_be_added_changed_and_removed_but_never_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = dir.path().join("admin.key");
    let key_arg = key.to_str().unwrap();
    let no_passphrase = [("WARDEN_PASSPHRASE", "")];

    let init = warden_with_env(
        &home,
        &[
            "--key-file",
            key_arg,
            "init",
            "--kdf-memory-mib",
            "8",
            "--kdf-iterations",
            "1",
        ],
        &no_passphrase,
    );
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(key.exists(), "init creates the key file");
    let key_text = std::fs::read_to_string(&key).unwrap();
    assert!(!stdout(&init).contains(key_text.trim()) && !stderr(&init).contains(key_text.trim()));

    // Locked without a key: a clear message, not a prompt (no terminal here).
    let locked = warden_with_env(&home, &["keys", "list"], &no_passphrase);
    assert_eq!(locked.status.code(), Some(1));
    assert!(stderr(&locked).contains("is locked"), "{}", stderr(&locked));

    let add = warden_with_env(
        &home,
        &[
            "--key-file",
            key_arg,
            "keys",
            "add",
            "--label",
            "ops",
            "--kdf-memory-mib",
            "8",
            "--kdf-iterations",
            "1",
        ],
        &[
            ("WARDEN_PASSPHRASE", ""),
            ("WARDEN_NEW_PASSPHRASE", "first passphrase!"),
        ],
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let list = json(&warden_with_env(
        &home,
        &["keys", "list", "--json"],
        &[("WARDEN_PASSPHRASE", "first passphrase!")],
    ));
    let unlockers = list.as_array().unwrap();
    assert_eq!(unlockers.len(), 2);
    let file_id = unlockers.iter().find(|u| u["kind"] == "key-file").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !list.to_string().contains("wrapped"),
        "key material listed: {list}"
    );

    let passwd = warden_with_env(
        &home,
        &[
            "keys",
            "passwd",
            "--kdf-memory-mib",
            "8",
            "--kdf-iterations",
            "1",
        ],
        &[
            ("WARDEN_PASSPHRASE", "first passphrase!"),
            ("WARDEN_NEW_PASSPHRASE", "second passphrase!"),
        ],
    );
    assert!(passwd.status.success(), "{}", stderr(&passwd));
    let old = warden_with_env(
        &home,
        &["keys", "list"],
        &[("WARDEN_PASSPHRASE", "first passphrase!")],
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(
        stderr(&old).contains("the passphrase does not unlock this keyring"),
        "{}",
        stderr(&old)
    );

    let new = [("WARDEN_PASSPHRASE", "second passphrase!")];
    let remove = warden_with_env(&home, &["keys", "remove", &file_id], &new);
    assert!(remove.status.success(), "{}", stderr(&remove));
    let wrong_file = warden_with_env(
        &home,
        &["--key-file", key_arg, "keys", "list"],
        &no_passphrase,
    );
    assert_eq!(wrong_file.status.code(), Some(1));
    assert!(
        stderr(&wrong_file).contains("no key-file unlocker"),
        "{}",
        stderr(&wrong_file)
    );

    let last = json(&warden_with_env(&home, &["keys", "list", "--json"], &new));
    let last_id = last[0]["id"].as_str().unwrap();
    let refused = warden_with_env(&home, &["keys", "remove", last_id], &new);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("last unlocker"),
        "{}",
        stderr(&refused)
    );

    // A second init never overwrites the keyring.
    let again = warden_with_env(&home, &["init"], &new);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

/// The store file of the document whose source is `source`.
fn document_file(home: &Path, documents: &Value, source: &str) -> std::path::PathBuf {
    let id = documents
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == source)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    walkdir::WalkDir::new(home.join("store"))
        .into_iter()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains(&id))
        .unwrap()
        .path()
        .to_path_buf()
}

#[test]
fn tenants_are_separate_and_forget_and_verify_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    init_home(&home);
    let folder = small_knowledge(dir.path());
    let folder_arg = folder.to_str().unwrap();

    let unknown = warden(&home, &["--tenant", "acme", "ingest", folder_arg]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("warden tenants add acme"),
        "{}",
        stderr(&unknown)
    );
    assert!(warden(&home, &["tenants", "add", "acme"]).status.success());
    let ingest = warden(
        &home,
        &[
            "--tenant",
            "acme",
            "ingest",
            folder_arg,
            "--labels",
            "hr,finance",
        ],
    );
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    assert!(
        stdout(&ingest).contains("tenant `acme`"),
        "{}",
        stdout(&ingest)
    );

    let acme = json(&warden(&home, &["--tenant", "acme", "docs", "--json"]));
    assert_eq!(acme.as_array().unwrap().len(), 3);
    assert!(acme
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["labels"] == serde_json::json!(["hr", "finance"])));
    let default = json(&warden(&home, &["docs", "--json"]));
    assert_eq!(
        default.as_array().unwrap().len(),
        0,
        "the default tenant sees nothing of acme"
    );
    let tenants = json(&warden(&home, &["tenants", "list", "--json"]));
    assert_eq!(tenants.as_array().unwrap().len(), 2);

    // Forget asks for confirmation; with --yes the document is gone.
    let unconfirmed = warden(
        &home,
        &["--tenant", "acme", "forget", "--doc", "hr/leave-policy.md"],
    );
    assert_eq!(unconfirmed.status.code(), Some(1));
    assert!(
        stderr(&unconfirmed).contains("--yes"),
        "{}",
        stderr(&unconfirmed)
    );
    let forget = warden(
        &home,
        &[
            "--tenant",
            "acme",
            "forget",
            "--doc",
            "hr/leave-policy.md",
            "--yes",
        ],
    );
    assert!(forget.status.success(), "{}", stderr(&forget));
    let acme = json(&warden(&home, &["--tenant", "acme", "docs", "--json"]));
    assert_eq!(acme.as_array().unwrap().len(), 2);
    let nothing = warden(&home, &["forget", "--yes"]);
    assert!(
        stderr(&nothing).contains("say what to forget"),
        "{}",
        stderr(&nothing)
    );

    // An administrator quarantines a document by hand.
    let quarantine = warden(
        &home,
        &[
            "--tenant",
            "acme",
            "docs",
            "guard",
            "finance/expenses-policy.md",
            "quarantine",
        ],
    );
    assert!(quarantine.status.success(), "{}", stderr(&quarantine));
    let acme = json(&warden(&home, &["--tenant", "acme", "docs", "--json"]));
    let expenses = acme
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "finance/expenses-policy.md")
        .unwrap();
    assert_eq!(expenses["guard"], "quarantine");

    let verify = warden(&home, &["store", "verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(stdout(&verify).contains("every record authenticated"));

    // A flipped byte is named by document.
    let file = document_file(&home, &acme, "it-security/vpn-setup.md");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let damaged = warden(&home, &["store", "verify"]);
    assert_eq!(damaged.status.code(), Some(1));
    assert!(
        stdout(&damaged).contains("DAMAGED it-security/vpn-setup.md"),
        "{}",
        stdout(&damaged)
    );
    assert!(!stderr(&damaged).contains("panicked"));
    bytes[middle] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();

    let remove = warden(&home, &["tenants", "remove", "acme", "--yes"]);
    assert!(remove.status.success(), "{}", stderr(&remove));
    let tenants = json(&warden(&home, &["tenants", "list", "--json"]));
    assert_eq!(tenants.as_array().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_dir(home.join("keyring/tenants"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn ingest_reports_failed_files_exits_2_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    init_home(&home);
    let fixtures = crate::common::repo().join("tests/fixtures/formats");
    let output = warden(&home, &["ingest", fixtures.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("4 new"), "{text}");
    assert!(text.contains("failed: truncated.pdf"), "{text}");
    assert!(
        text.contains("skipped: photo.png: unsupported file type"),
        "{text}"
    );
    assert!(
        text.contains("onboarding.html has hidden content"),
        "{text}"
    );
    let docs = json(&warden(&home, &["docs", "--json"]));
    assert_eq!(docs.as_array().unwrap().len(), 4);
}
