//! The write path: chunk spans, re-ingest, ignore files and all-or-nothing commits.

use warden::ingest::{chunk, ingest_path, ChunkSettings, IngestError};
use warden::store::{FileStore, KnowledgeStore, MemoryStore};

use crate::common::{demo_retriever, embedder, knowledge_dir, small_knowledge};

/// Ingests `folder` into `store` with the default chunking and no progress output.
fn ingest_into(
    folder: &std::path::Path,
    store: &dyn KnowledgeStore,
) -> Result<warden::ingest::IngestReport, IngestError> {
    ingest_path(
        folder,
        store,
        &embedder(),
        &ChunkSettings::default(),
        &mut (),
    )
}

#[test]
fn every_chunk_span_points_at_its_text_in_the_document() {
    let snapshot = demo_retriever().snapshot();
    assert!(snapshot.documents.len() >= 20);
    for chunk in &snapshot.chunks {
        let document = snapshot.document(&chunk.document_id).unwrap();
        let text = std::fs::read_to_string(knowledge_dir().join(&document.source)).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        assert_eq!(
            &text[chunk.start..chunk.end],
            chunk.text,
            "{}",
            document.source
        );
        assert!(chunk.text.chars().count() <= ChunkSettings::default().max_chars);
    }
}

#[test]
fn chunk_split_covers_long_text_without_overflowing() {
    let paragraph = "Sentence number one is here. Another sentence follows it. ".repeat(40);
    let text = format!("# Title\n\n{paragraph}\n\n## Part two\n\n{paragraph}");
    let settings = ChunkSettings {
        min_chars: 100,
        max_chars: 300,
    };
    let spans = chunk::split(&text, &settings);
    assert!(spans.len() > 5);
    let mut previous_end = 0;
    for span in &spans {
        assert_eq!(&text[span.start..span.end], span.text);
        assert!(span.text.len() <= 300);
        assert!(span.start >= previous_end, "chunks overlap or go backwards");
        previous_end = span.end;
    }
}

#[test]
fn wardenignore_keeps_readme_and_eval_set_out_of_the_demo_knowledge() {
    let snapshot = demo_retriever().snapshot();
    assert!(snapshot.documents.iter().all(|d| d.source != "README.md"));
    assert!(snapshot
        .documents
        .iter()
        .all(|d| !d.source.starts_with("eval/")));
}

#[test]
fn reingesting_unchanged_files_changes_nothing_and_edits_replace_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let store = MemoryStore::new();
    let first = ingest_into(&folder, &store).unwrap();
    assert_eq!(first.added.len(), 3);
    let before = store.load().unwrap();

    let second = ingest_into(&folder, &store).unwrap();
    assert_eq!(second.unchanged.len(), 3);
    assert_eq!(second.chunks_embedded, 0);
    assert_eq!(store.load().unwrap(), before);

    std::fs::write(
        folder.join("it-security/vpn-setup.md"),
        "# VPN\n\nUse the new client.\n",
    )
    .unwrap();
    let third = ingest_into(&folder, &store).unwrap();
    assert_eq!(third.updated, vec!["it-security/vpn-setup.md".to_string()]);
    let after = store.load().unwrap();
    let vpn = after
        .documents
        .iter()
        .find(|d| d.source == "it-security/vpn-setup.md")
        .unwrap();
    let vpn_chunks: Vec<_> = after
        .chunks
        .iter()
        .filter(|c| c.document_id == vpn.id)
        .collect();
    assert_eq!(vpn_chunks.len(), 1);
    assert!(
        vpn_chunks[0].key >= before.next_key,
        "replaced chunks get fresh keys"
    );
}

#[test]
fn an_unreadable_file_fails_the_run_and_leaves_the_store_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let store = FileStore::new(dir.path().join("home/store/default.wks"));
    ingest_into(&folder, &store).unwrap();
    let bytes_before = std::fs::read(store.path()).unwrap();

    std::fs::write(folder.join("new-policy.md"), "# New\n\nA fresh document.\n").unwrap();
    std::fs::write(folder.join("broken.txt"), [0x66, 0x6f, 0xff, 0xfe, 0x00]).unwrap();
    let err = ingest_into(&folder, &store).unwrap_err();
    assert!(
        matches!(err, IngestError::Unreadable { count: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("broken.txt"), "{err}");
    assert_eq!(
        std::fs::read(store.path()).unwrap(),
        bytes_before,
        "store changed"
    );
}

#[test]
fn an_empty_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("image.png"), [0u8; 4]).unwrap();
    let store = MemoryStore::new();
    let err = ingest_into(dir.path(), &store).unwrap_err();
    assert!(matches!(err, IngestError::NothingToIngest { .. }), "{err}");
}

#[test]
fn a_huge_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let huge = std::fs::File::create(dir.path().join("dump.txt")).unwrap();
    huge.set_len(warden::ingest::extract::MAX_DOCUMENT_BYTES + 1)
        .unwrap();
    let store = MemoryStore::new();
    let err = ingest_into(dir.path(), &store).unwrap_err();
    assert!(err.to_string().contains("dump.txt"), "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
    assert!(store.load().unwrap().documents.is_empty());
}
