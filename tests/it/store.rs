//! Both store backends keep snapshots whole; the file backend detects damage.

use warden::store::{
    Chunk, Document, FileStore, KnowledgeStore, MemoryStore, Snapshot, StoreError,
};

fn sample() -> Snapshot {
    Snapshot {
        embedding_model: "all-minilm-l6-v2".into(),
        dimensions: 3,
        documents: vec![Document {
            id: "doc-1".into(),
            source: "hr/leave.md".into(),
            title: "Leave".into(),
            sha256: "ab".repeat(32),
            bytes: 11,
            ingested_at: 1,
        }],
        chunks: vec![Chunk {
            key: 0,
            document_id: "doc-1".into(),
            ordinal: 0,
            start: 0,
            end: 11,
            text: "Leave: 28 d".into(),
            vector: vec![0.5, -0.25, 0.125],
        }],
        next_key: 1,
    }
}

fn round_trips(store: &dyn KnowledgeStore) {
    assert_eq!(store.load().unwrap(), Snapshot::default());
    store.commit(&sample()).unwrap();
    assert_eq!(store.load().unwrap(), sample());
}

#[test]
fn memory_and_file_stores_round_trip_snapshots() {
    round_trips(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    round_trips(&FileStore::new(dir.path().join("nested/store.wks")));
}

#[test]
fn file_store_detects_a_flipped_byte_and_a_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wks");
    let store = FileStore::new(&path);
    store.commit(&sample()).unwrap();
    let good = std::fs::read(&path).unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    std::fs::write(&path, &flipped).unwrap();
    assert!(matches!(store.load(), Err(StoreError::Corrupt { .. })));

    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    let err = store.load().unwrap_err();
    assert!(err.to_string().contains("damaged or truncated"), "{err}");
}

#[test]
fn a_leftover_temporary_file_from_a_crash_does_not_affect_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wks");
    let store = FileStore::new(&path);
    store.commit(&sample()).unwrap();
    std::fs::write(dir.path().join(".store.wks.999.tmp"), b"half written").unwrap();
    assert_eq!(store.load().unwrap(), sample());
    let mut next = sample();
    next.next_key = 2;
    store.commit(&next).unwrap();
    assert_eq!(store.load().unwrap(), next);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .contains(&std::process::id().to_string())
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "commit left its temporary file behind"
    );
}
