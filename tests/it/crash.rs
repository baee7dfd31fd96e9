//! Crash safety: `warden ingest` killed with SIGKILL at random moments never
//! leaves a store that fails to open or verify, and every document it reported
//! committed is there, decryptable and in the index.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use warden::crypto::{Keyring, Unlock};
use warden::index::tenant_index;
use warden::store::{EncryptedStore, KnowledgeStore, DEFAULT_TENANT};
use zeroize::Zeroizing;

use crate::common::{init_home, models_dir, stderr, stdout, warden, PASSPHRASE};

const FILES: usize = 24;

/// Rewrites every file of the folder with this round's revision.
fn write_revision(folder: &Path, round: usize) {
    std::fs::create_dir_all(folder).unwrap();
    for n in 0..FILES {
        std::fs::write(
            folder.join(format!("policy-{n:02}.md")),
            format!(
                "# Policy {n}\n\nRevision {round}: section {n} of the handbook says that item {n} costs {} euros and must be approved by team {}.\n",
                round * 100 + n,
                n % 5
            ),
        )
        .unwrap();
    }
}

fn spawn_ingest(home: &Path, folder: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--home", home.to_str().unwrap(), "--threads", "1", "ingest"])
        .arg(folder)
        .args(["--batch", "2"])
        .env("WARDEN_MODELS_DIR", models_dir())
        .env("WARDEN_PASSPHRASE", PASSPHRASE)
        .env_remove("WARDEN_HOME")
        .env_remove("WARDEN_KEY_FILE")
        .env_remove("WARDEN_TENANT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_during_ingest_never_corrupts_the_store_and_keeps_reported_commits() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let folder = dir.path().join("kb");
    init_home(&home);

    // One undisturbed run to learn how long a run takes.
    write_revision(&folder, 0);
    let started = Instant::now();
    let full = spawn_ingest(&home, &folder).wait_with_output().unwrap();
    assert!(full.status.success(), "{}", stderr(&full));
    let duration = started.elapsed();

    let keyring = Arc::new(
        Keyring::unlock(
            &home.join("keyring"),
            &Unlock::Passphrase(Zeroizing::new(PASSPHRASE.into())),
        )
        .unwrap(),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    let mut round = 0;
    // Rounds killed between two commits: some documents new, others old.
    let mut between_commits = 0;
    while kills < 20 {
        round += 1;
        assert!(round <= 60, "only {kills} kills landed in {round} rounds");
        write_revision(&folder, round);
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Anywhere from start-up (unlocking, loading the embedder) to the last commit.
        let fraction = 0.05 + (state % 1000) as f64 / 1000.0 * 0.9;
        let mut child = spawn_ingest(&home, &folder);
        std::thread::sleep(duration.mul_f64(fraction));
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        let committed: Vec<String> = stdout(&output)
            .lines()
            .filter_map(|line| line.strip_prefix("committed "))
            .map(str::to_string)
            .collect();
        if output.status.signal() == Some(9) {
            kills += 1;
            if !committed.is_empty() && committed.len() < FILES {
                between_commits += 1;
            }
        }

        let verify = warden(&home, &["store", "verify"]);
        assert!(
            verify.status.success(),
            "round {round}: {}{}",
            stdout(&verify),
            stderr(&verify)
        );

        let store = EncryptedStore::open(&home.join("store"), keyring.clone()).unwrap();
        let catalog = store.catalog(DEFAULT_TENANT).unwrap();
        assert_eq!(catalog.documents.len(), FILES, "round {round}");
        let (index, _) = tenant_index(&store, &catalog, catalog.dimensions).unwrap();
        assert_eq!(index.len(), catalog.total_chunks());
        for source in &committed {
            let document = catalog.find(source).unwrap();
            let content = store.content(DEFAULT_TENANT, document).unwrap();
            let chunk = &content.chunks[0];
            assert!(
                chunk.text.contains(&format!("Revision {round}:")),
                "round {round}: {source} was reported committed but holds {:?}",
                chunk.text
            );
            let found = index.search(&chunk.vector, 1).unwrap();
            assert_eq!(
                found[0].key, chunk.key,
                "round {round}: {source} not retrievable"
            );
        }
    }
    assert!(
        between_commits >= 5,
        "only {between_commits} of {kills} kills landed between commits (a run takes {duration:?})"
    );
    // The debris of killed runs is cleaned by the next write.
    write_revision(&folder, 0);
    let last = spawn_ingest(&home, &folder).wait_with_output().unwrap();
    assert!(last.status.success(), "{}", stderr(&last));
    let verify = warden(&home, &["store", "verify", "--json"]);
    let report: serde_json::Value = serde_json::from_str(stdout(&verify).trim()).unwrap();
    assert_eq!(
        report["unreferenced_files"].as_array().unwrap().len(),
        0,
        "{report}"
    );
}
