//! The encrypted store: nothing readable on disk, tampering and moved
//! ciphertext detected and named, wrong keys refused, erasure that survives
//! backups; and the in-memory twin behaving the same.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use warden::crypto::{KdfParams, Keyring, KeyringError, Unlock};
use warden::index::{tenant_index, VectorIndex};
use warden::ingest::{forget_document, ingest_path, IngestOptions};
use warden::store::{
    Catalog, Change, Chunk, Document, DocumentContent, EncryptedStore, KnowledgeStore, MemoryStore,
    StoreError, DEFAULT_TENANT,
};
use zeroize::Zeroizing;

use crate::common::{embedder, small_knowledge};

fn cheap() -> KdfParams {
    KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    }
}

fn keyring(dir: &Path) -> Arc<Keyring> {
    let unlock = Unlock::Passphrase(Zeroizing::new("a long test passphrase".into()));
    Arc::new(Keyring::create(&dir.join("keyring"), &unlock, cheap(), "test").unwrap())
}

fn encrypted_store(dir: &Path) -> EncryptedStore {
    EncryptedStore::create(&dir.join("store"), keyring(dir)).unwrap()
}

/// A change adding `names` as one-chunk documents with 4-dimensional vectors.
fn add_documents(catalog: &Catalog, names: &[&str]) -> Change {
    let mut change = Change {
        base_generation: catalog.generation,
        embedding_model: "test-model".into(),
        dimensions: 4,
        next_key: catalog.next_key,
        ..Change::default()
    };
    for (n, name) in names.iter().enumerate() {
        let key = change.next_key;
        change.next_key += 1;
        let text = format!("The secret passage of {name} says the code is {n}{n}{n}.");
        let document = Document {
            id: format!(
                "d{:016x}",
                name.bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64)
                        .wrapping_mul(0x100_0000_01b3))
            ),
            source: format!("{name}.md"),
            path: format!("/kb/{name}.md"),
            title: name.to_string(),
            format: "markdown".into(),
            labels: vec!["hr".into()],
            sha256: "00".repeat(32),
            bytes: text.len(),
            ingested_at: 1,
            version: 0,
            first_key: key,
            chunks: 1,
            hidden: 0,
            guard: "allow".into(),
            guard_reasons: Vec::new(),
        };
        let content = DocumentContent {
            chunks: vec![Chunk {
                key,
                ordinal: 0,
                start: 0,
                end: text.len(),
                location: None,
                text,
                vector: vec![0.5, -0.25, 0.125 * (n as f32 + 1.0), 1.0],
            }],
            hidden: Vec::new(),
        };
        change.put.push((document, content));
    }
    change
}

fn same_semantics(store: &dyn KnowledgeStore) {
    assert_eq!(store.tenants().unwrap(), [DEFAULT_TENANT]);
    let empty = store.catalog(DEFAULT_TENANT).unwrap();
    assert!(empty.documents.is_empty());

    let catalog = store
        .commit(DEFAULT_TENANT, add_documents(&empty, &["leave", "vpn"]))
        .unwrap();
    assert_eq!(catalog.generation, empty.generation + 1);
    assert_eq!(catalog.documents.len(), 2);
    assert_eq!(store.catalog(DEFAULT_TENANT).unwrap(), catalog);
    let leave = catalog.documents[0].clone();
    assert_eq!(leave.version, 1);
    let content = store.content(DEFAULT_TENANT, &leave).unwrap();
    assert!(content.chunks[0].text.contains("secret passage of leave"));
    assert_eq!(content.chunks[0].vector, [0.5, -0.25, 0.125, 1.0]);

    // A change computed from an old generation is refused.
    let stale = add_documents(&empty, &["other"]);
    assert!(matches!(
        store.commit(DEFAULT_TENANT, stale),
        Err(StoreError::Conflict { .. })
    ));
    // NaN vectors are refused and leave the store as it was.
    let mut bad = add_documents(&catalog, &["nan"]);
    bad.put[0].1.chunks[0].vector[0] = f32::NAN;
    assert!(matches!(
        store.commit(DEFAULT_TENANT, bad),
        Err(StoreError::InvalidChange { .. })
    ));
    assert_eq!(store.catalog(DEFAULT_TENANT).unwrap(), catalog);

    // Tenants are separate.
    store.add_tenant("acme").unwrap();
    assert!(matches!(
        store.add_tenant("acme"),
        Err(StoreError::TenantExists { .. })
    ));
    assert!(matches!(
        store.add_tenant("Bad Name"),
        Err(StoreError::BadTenantName { .. })
    ));
    assert!(store.catalog("acme").unwrap().documents.is_empty());
    assert!(matches!(
        store.catalog("nobody"),
        Err(StoreError::UnknownTenant { .. })
    ));

    // Forgetting removes the document and its index entry.
    let index = VectorIndex::new(4, 4).unwrap();
    index
        .add(catalog.documents[1].first_key, &[0.5, -0.25, 0.25, 1.0])
        .unwrap();
    let after = store
        .forget_document(DEFAULT_TENANT, &leave.id, Some(index.to_bytes().unwrap()))
        .unwrap();
    assert_eq!(after.documents.len(), 1);
    assert!(store.content(DEFAULT_TENANT, &leave).is_err());
    assert!(store
        .load_index(DEFAULT_TENANT, after.generation)
        .unwrap()
        .is_some());
    store.forget_tenant("acme").unwrap();
    assert_eq!(store.tenants().unwrap(), [DEFAULT_TENANT]);
}

#[test]
fn memory_and_encrypted_stores_behave_the_same() {
    same_semantics(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    same_semantics(&encrypted_store(dir.path()));
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            (
                entry.path().to_path_buf(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn no_chunk_text_or_vector_bytes_are_readable_anywhere_in_the_home() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let home = dir.path().join("home");
    let store = Arc::new(encrypted_store(&home));
    let report = ingest_path(
        &folder,
        store.as_ref(),
        &embedder(),
        &IngestOptions::default(),
        &mut (),
    )
    .unwrap();
    assert_eq!(report.ingested.len(), 3);

    let mut windows = HashSet::new();
    for (_, bytes) in files_under(&home) {
        for window in bytes.windows(16) {
            windows.insert(window.to_vec());
        }
    }
    let catalog = store.catalog(DEFAULT_TENANT).unwrap();
    let mut checked = 0;
    for document in &catalog.documents {
        for window in document.title.as_bytes().windows(16) {
            assert!(
                !windows.contains(window),
                "title of {} on disk",
                document.source
            );
        }
        for chunk in store.content(DEFAULT_TENANT, document).unwrap().chunks {
            for window in chunk.text.as_bytes().windows(16) {
                assert!(
                    !windows.contains(window),
                    "plaintext {:?} found on disk",
                    String::from_utf8_lossy(window)
                );
                checked += 1;
            }
            let raw: Vec<u8> = chunk.vector.iter().flat_map(|x| x.to_le_bytes()).collect();
            for window in raw.chunks_exact(16) {
                assert!(!windows.contains(window), "raw vector bytes found on disk");
            }
        }
    }
    assert!(checked > 1000, "checked only {checked} windows");
    // The same text really is there to be found when it is not encrypted.
    let plain = std::fs::read(folder.join("hr/leave-policy.md")).unwrap();
    assert!(plain.windows(16).any(|w| !windows.contains(w)));
}

/// A store with two tenants and a few documents, and its saved indexes.
fn populated_store(dir: &Path) -> EncryptedStore {
    let store = encrypted_store(dir);
    store.add_tenant("acme").unwrap();
    for (tenant, names) in [
        (DEFAULT_TENANT, ["leave", "vpn"]),
        ("acme", ["pricing", "roadmap"]),
    ] {
        let catalog = store.catalog(tenant).unwrap();
        let mut change = add_documents(&catalog, &names);
        let index = VectorIndex::new(4, 4).unwrap();
        for (_, content) in &change.put {
            index
                .add(content.chunks[0].key, &content.chunks[0].vector)
                .unwrap();
        }
        change.index = Some(index.to_bytes().unwrap());
        store.commit(tenant, change).unwrap();
    }
    store
}

#[test]
fn a_flipped_byte_anywhere_is_detected_and_named_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated_store(dir.path());
    assert!(store.verify().is_intact(), "{:?}", store.verify());
    let store_dir = dir.path().join("store");
    let documents: Vec<(String, Document)> = [DEFAULT_TENANT, "acme"]
        .iter()
        .flat_map(|tenant| {
            store
                .catalog(tenant)
                .unwrap()
                .documents
                .into_iter()
                .map(|d| (tenant.to_string(), d))
        })
        .collect();
    let mut flips = 0;
    for (path, good) in files_under(&store_dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "LOCK" {
            continue;
        }
        let positions: Vec<usize> = (0..good.len()).step_by(7).chain([good.len() - 1]).collect();
        for position in positions {
            let mut bad = good.clone();
            bad[position] ^= 0x20;
            std::fs::write(&path, &bad).unwrap();
            let report = store.verify();
            assert!(
                !report.is_intact(),
                "flip at {position} of {name} went unnoticed"
            );
            if name == "MANIFEST" {
                assert!(report.manifest_error.is_some());
            } else if name.starts_with("catalog-") {
                assert!(report.tenants.iter().any(|t| t.catalog_error.is_some()));
            } else if name.starts_with("index-") {
                assert!(report
                    .tenants
                    .iter()
                    .any(|t| t.index.starts_with("damaged")));
            } else {
                let (_, document) = documents
                    .iter()
                    .find(|(_, d)| name.contains(&d.id))
                    .expect("a document file");
                let damaged: Vec<&str> = report
                    .tenants
                    .iter()
                    .flat_map(|t| t.damaged.iter().map(|d| d.source.as_str()))
                    .collect();
                assert_eq!(
                    damaged,
                    [document.source.as_str()],
                    "flip at {position} of {name}"
                );
            }
            flips += 1;
        }
        std::fs::write(&path, &good).unwrap();
    }
    assert!(flips > 300, "only {flips} flips");
    assert!(store.verify().is_intact());

    // Truncation is damage too, and reading a damaged document is an error, not a panic.
    let (tenant, leave) = &documents[0];
    let file = store_dir
        .join(store_dir_tenant(&store_dir, &leave.id))
        .join(format!("doc-{}-{}.wks", leave.id, leave.version));
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let err = store.content(tenant, leave).unwrap_err();
    assert!(err.to_string().contains(&leave.source), "{err}");
}

/// The tenant folder that holds document `id`.
fn store_dir_tenant(store_dir: &Path, id: &str) -> String {
    files_under(store_dir)
        .into_iter()
        .find(|(path, _)| path.to_string_lossy().contains(id))
        .map(|(path, _)| {
            path.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .unwrap()
}

#[test]
fn ciphertext_moved_between_documents_or_tenants_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated_store(dir.path());
    let store_dir = dir.path().join("store");
    let file_of = |document: &Document| {
        store_dir
            .join(store_dir_tenant(&store_dir, &document.id))
            .join(format!("doc-{}-{}.wks", document.id, document.version))
    };
    let ours = store.catalog(DEFAULT_TENANT).unwrap().documents;
    let theirs = store.catalog("acme").unwrap().documents;
    let (leave, vpn, pricing) = (&ours[0], &ours[1], &theirs[0]);

    // Another document's file under this document's name.
    let vpn_file = file_of(vpn);
    let vpn_good = std::fs::read(&vpn_file).unwrap();
    std::fs::copy(file_of(leave), &vpn_file).unwrap();
    let err = store.content(DEFAULT_TENANT, vpn).unwrap_err();
    assert!(err.to_string().contains("moved"), "{err}");

    // The same, with its header rewritten to claim to be this document: the
    // associated data no longer matches, so it does not authenticate.
    let leave_bytes = std::fs::read(file_of(leave)).unwrap();
    let forged = replace_all(&leave_bytes, leave.id.as_bytes(), vpn.id.as_bytes());
    std::fs::write(&vpn_file, forged).unwrap();
    let err = store.content(DEFAULT_TENANT, vpn).unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    std::fs::write(&vpn_file, &vpn_good).unwrap();

    // Another tenant's document, header rewritten to this tenant and document.
    let acme_dir = store_dir_tenant(&store_dir, &pricing.id);
    let default_dir = store_dir_tenant(&store_dir, &vpn.id);
    let pricing_bytes = std::fs::read(file_of(pricing)).unwrap();
    let forged = replace_all(
        &replace_all(&pricing_bytes, pricing.id.as_bytes(), vpn.id.as_bytes()),
        acme_dir.as_bytes(),
        default_dir.as_bytes(),
    );
    std::fs::write(&vpn_file, forged).unwrap();
    let err = store.content(DEFAULT_TENANT, vpn).unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    std::fs::write(&vpn_file, &vpn_good).unwrap();

    // A catalog moved between tenants.
    let catalog_file = |tenant_dir: &str| {
        files_under(&store_dir.join(tenant_dir))
            .into_iter()
            .find(|(p, _)| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("catalog-")
            })
            .unwrap()
    };
    let acme_catalog = catalog_file(&acme_dir);
    let default_catalog = catalog_file(&default_dir);
    std::fs::write(&default_catalog.0, &acme_catalog.1).unwrap();
    let report = store.verify();
    let default = report
        .tenants
        .iter()
        .find(|t| t.name == DEFAULT_TENANT)
        .unwrap();
    assert!(
        default
            .catalog_error
            .as_deref()
            .is_some_and(|e| e.contains("manifest expects")),
        "{report:?}"
    );
    std::fs::write(&default_catalog.0, &default_catalog.1).unwrap();
    assert!(store.verify().is_intact());
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = haystack.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn a_wrong_keyring_or_passphrase_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    populated_store(dir.path());
    let other = tempfile::tempdir().unwrap();
    let err = match EncryptedStore::open(&dir.path().join("store"), keyring(other.path())) {
        Err(err) => err,
        Ok(_) => panic!("opened with another keyring"),
    };
    assert!(matches!(err, StoreError::WrongKeyring { .. }), "{err}");
    assert!(err.to_string().contains("another keyring"), "{err}");

    let wrong = Unlock::Passphrase(Zeroizing::new("not the passphrase".into()));
    let err = Keyring::unlock(&dir.path().join("keyring"), &wrong).unwrap_err();
    assert!(matches!(err, KeyringError::WrongPassphrase), "{err}");
    assert_eq!(
        err.to_string(),
        "the passphrase does not unlock this keyring"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for (path, bytes) in files_under(from) {
        let target = to.join(path.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

#[test]
fn a_copy_taken_before_forget_cannot_decrypt_the_forgotten_document() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let home = dir.path().join("home");
    let keyring = keyring(&home);
    let store = EncryptedStore::create(&home.join("store"), keyring.clone()).unwrap();
    store.add_tenant("acme").unwrap();
    for tenant in [DEFAULT_TENANT, "acme"] {
        let options = IngestOptions {
            tenant: tenant.into(),
            ..IngestOptions::default()
        };
        ingest_path(&folder, &store, &embedder(), &options, &mut ()).unwrap();
    }
    let backup = dir.path().join("backup");
    copy_dir(&home.join("store"), &backup);
    let before = store.catalog(DEFAULT_TENANT).unwrap();
    let leave = before.find("hr/leave-policy.md").unwrap().clone();
    let vpn = before.find("it-security/vpn-setup.md").unwrap().clone();

    let forgotten = forget_document(&store, DEFAULT_TENANT, "hr/leave-policy.md").unwrap();
    assert_eq!(forgotten.id, leave.id);

    // The live store: gone from the catalog, the files and the index; the rest intact.
    let after = store.catalog(DEFAULT_TENANT).unwrap();
    assert!(after.document(&leave.id).is_none());
    assert!(store.content(DEFAULT_TENANT, &vpn).is_ok());
    assert!(!files_under(&home.join("store"))
        .iter()
        .any(|(p, _)| p.to_string_lossy().contains(&leave.id)));
    let (index, rebuilt) = tenant_index(&store, &after, after.dimensions).unwrap();
    assert!(!rebuilt, "forget saves the index without the document");
    assert!(leave.keys().all(|key| !index.contains(key)));
    assert!(vpn.keys().all(|key| index.contains(key)));
    assert!(store.verify().is_intact());

    // The copy, opened with the current keyring: its catalog was sealed under
    // a tenant key that no longer exists, so the forgotten data key is lost.
    assert!(files_under(&backup)
        .iter()
        .any(|(p, _)| p.to_string_lossy().contains(&leave.id)));
    let old = EncryptedStore::open(&backup, keyring.clone()).unwrap();
    let err = old.content(DEFAULT_TENANT, &leave).unwrap_err();
    assert!(err.to_string().contains("not in the keyring"), "{err}");
    assert!(old.catalog(DEFAULT_TENANT).is_err());
    // Other tenants are untouched by the re-key.
    assert!(old.catalog("acme").is_ok());

    // Forgetting a tenant: the copy cannot read it either.
    let acme = store.catalog("acme").unwrap();
    store.forget_tenant("acme").unwrap();
    assert_eq!(store.tenants().unwrap(), [DEFAULT_TENANT]);
    let old = EncryptedStore::open(&backup, keyring).unwrap();
    assert!(old.catalog("acme").is_err());
    assert!(old.content("acme", &acme.documents[0]).is_err());
}

#[test]
fn a_missing_or_damaged_index_is_rebuilt_from_the_stored_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated_store(dir.path());
    let store_dir = dir.path().join("store");
    let catalog = store.catalog(DEFAULT_TENANT).unwrap();
    let (_, rebuilt) = tenant_index(&store, &catalog, catalog.dimensions).unwrap();
    assert!(!rebuilt, "the saved index is used");
    let tenant_dir = store_dir.join(store_dir_tenant(&store_dir, &catalog.documents[0].id));
    let index_file = tenant_dir.join(format!("index-{}.wks", catalog.generation));

    let mut bytes = std::fs::read(&index_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    std::fs::write(&index_file, &bytes).unwrap();
    assert!(!store.verify().is_intact());
    let (index, rebuilt) = tenant_index(&store, &catalog, catalog.dimensions).unwrap();
    assert!(rebuilt);
    assert!(catalog
        .documents
        .iter()
        .all(|d| d.keys().all(|k| index.contains(k))));
    assert!(
        store.verify().is_intact(),
        "the rebuilt index is saved again"
    );

    std::fs::remove_file(&index_file).unwrap();
    assert!(
        tenant_index(&store, &catalog, catalog.dimensions)
            .unwrap()
            .1
    );
    assert!(
        !tenant_index(&store, &catalog, catalog.dimensions)
            .unwrap()
            .1
    );
}
