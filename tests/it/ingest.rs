//! The write path: chunk spans, formats, re-ingest, pruning, ignore files, and
//! files that fail without stopping the rest.

use std::path::Path;
use std::sync::Arc;

use warden::ingest::{chunk, ingest_path, ChunkSettings, IngestError, IngestOptions, IngestReport};
use warden::rag::Retriever;
use warden::store::{Document, KnowledgeStore, MemoryStore, DEFAULT_TENANT};

use crate::common::{demo_retriever, embedder, knowledge_dir, repo, small_knowledge};

fn ingest_into(folder: &Path, store: &dyn KnowledgeStore) -> Result<IngestReport, IngestError> {
    ingest_path(
        folder,
        store,
        &embedder(),
        &IngestOptions::default(),
        &mut (),
    )
}

fn formats_dir() -> std::path::PathBuf {
    repo().join("tests/fixtures/formats")
}

#[test]
fn every_chunk_span_points_at_its_text_in_the_document() {
    let retriever = demo_retriever();
    let catalog = retriever.catalog();
    assert!(catalog.documents.len() >= 20);
    for document in &catalog.documents {
        let text = std::fs::read_to_string(knowledge_dir().join(&document.source)).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for chunk in &retriever.content(document).unwrap().chunks {
            assert_eq!(
                &text[chunk.start..chunk.end],
                chunk.text,
                "{}",
                document.source
            );
            assert!(chunk.text.chars().count() <= ChunkSettings::default().max_chars);
        }
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
    let catalog = demo_retriever().catalog();
    assert!(catalog.documents.iter().all(|d| d.source != "README.md"));
    assert!(catalog
        .documents
        .iter()
        .all(|d| !d.source.starts_with("eval/")));
}

#[test]
fn reingest_skips_unchanged_files_replaces_edited_ones_and_prunes_deleted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let store = MemoryStore::new();
    let first = ingest_into(&folder, &store).unwrap();
    assert_eq!(first.ingested.len(), 3);
    let before = store.catalog(DEFAULT_TENANT).unwrap();

    let second = ingest_into(&folder, &store).unwrap();
    assert_eq!(second.unchanged.len(), 3);
    assert_eq!(second.chunks_embedded, 0);
    assert_eq!(store.catalog(DEFAULT_TENANT).unwrap(), before);

    std::fs::write(
        folder.join("it-security/vpn-setup.md"),
        "# VPN\n\nUse the new client.\n",
    )
    .unwrap();
    let third = ingest_into(&folder, &store).unwrap();
    assert_eq!(third.replaced, vec!["it-security/vpn-setup.md".to_string()]);
    let after = store.catalog(DEFAULT_TENANT).unwrap();
    let find = |catalog: &warden::store::Catalog| -> Document {
        catalog
            .documents
            .iter()
            .find(|d| d.source == "it-security/vpn-setup.md")
            .unwrap()
            .clone()
    };
    let (old, new) = (find(&before), find(&after));
    assert_eq!(new.id, old.id, "a replaced document keeps its id");
    assert_eq!(new.version, old.version + 1);
    assert_eq!(new.chunks, 1);
    assert!(
        new.first_key >= before.next_key,
        "replaced chunks get fresh keys"
    );

    std::fs::remove_file(folder.join("hr/leave-policy.md")).unwrap();
    let kept = ingest_into(&folder, &store).unwrap();
    assert!(kept.pruned.is_empty());
    assert_eq!(store.catalog(DEFAULT_TENANT).unwrap().documents.len(), 3);
    let options = IngestOptions {
        prune: true,
        ..IngestOptions::default()
    };
    let pruned = ingest_path(&folder, &store, &embedder(), &options, &mut ()).unwrap();
    assert_eq!(pruned.pruned, vec!["hr/leave-policy.md".to_string()]);
    let catalog = store.catalog(DEFAULT_TENANT).unwrap();
    assert_eq!(catalog.documents.len(), 2);

    // The index follows: nothing retrieved from the pruned or replaced text.
    let retriever = Retriever::open(Arc::new(store), DEFAULT_TENANT, embedder()).unwrap();
    let found = retriever
        .retrieve("How many days of annual leave?", 5)
        .unwrap();
    assert!(found.iter().all(|s| s.source != "hr/leave-policy.md"));
    assert!(found
        .iter()
        .all(|s| catalog.document(&s.document_id).is_some()));
}

#[test]
fn every_supported_format_is_read_with_locations_and_broken_files_are_reported() {
    let store = MemoryStore::new();
    let report = ingest_into(&formats_dir(), &store).unwrap();
    let mut ingested = report.ingested.clone();
    ingested.sort();
    assert_eq!(
        ingested,
        [
            "expenses.docx",
            "offices.csv",
            "onboarding.html",
            "travel-policy.pdf"
        ]
    );
    let failed: Vec<&str> = report.failed.iter().map(|f| f.source.as_str()).collect();
    assert_eq!(
        failed,
        [
            "binary.txt",
            "latin1.txt",
            "not-a-zip.docx",
            "truncated.pdf"
        ],
        "{:?}",
        report.failed
    );
    for issue in &report.failed {
        assert!(!issue.reason.is_empty());
    }
    let reason = |source: &str| {
        report
            .failed
            .iter()
            .find(|f| f.source == source)
            .unwrap()
            .reason
            .clone()
    };
    assert!(
        reason("binary.txt").contains("binary"),
        "{}",
        reason("binary.txt")
    );
    assert!(reason("latin1.txt").contains("UTF-8"));
    assert!(reason("not-a-zip.docx").contains("DOCX"));
    assert!(reason("truncated.pdf").contains("PDF"));
    let skipped: Vec<&str> = report.skipped.iter().map(|f| f.source.as_str()).collect();
    assert!(
        skipped.contains(&"photo.png") && skipped.contains(&"empty.md"),
        "{skipped:?}"
    );
    assert!(!skipped.contains(&"README.md"), "markdown is supported");

    let retriever = Retriever::open(Arc::new(store), DEFAULT_TENANT, embedder()).unwrap();
    let catalog = retriever.catalog().clone();
    let text_of = |source: &str| -> (Document, Vec<(String, Option<String>)>) {
        let document = catalog
            .documents
            .iter()
            .find(|d| d.source == source)
            .unwrap();
        let content = retriever.content(document).unwrap();
        (
            document.clone(),
            content
                .chunks
                .iter()
                .map(|c| (c.text.clone(), c.location.clone()))
                .collect(),
        )
    };
    let located = |chunks: &[(String, Option<String>)], sentence: &str| -> Option<String> {
        chunks
            .iter()
            .find(|(text, _)| text.contains(sentence))
            .unwrap_or_else(|| panic!("{sentence:?} not found in {chunks:?}"))
            .1
            .clone()
    };

    let (pdf, chunks) = text_of("travel-policy.pdf");
    assert_eq!(pdf.format, "pdf");
    let hotel = located(
        &chunks,
        "Hotel costs are reimbursed up to 180 euros per night.",
    );
    assert!(
        hotel.as_deref().is_some_and(|l| l.contains('2')),
        "{hotel:?}"
    );
    let receipts = located(
        &chunks,
        "Receipts must be submitted within 30 days of travel.",
    );
    assert!(
        receipts.as_deref().is_some_and(|l| l.contains('3')),
        "{receipts:?}"
    );

    let (docx, chunks) = text_of("expenses.docx");
    assert_eq!(docx.title, "Expense Claims");
    let claims = located(
        &chunks,
        "Claims above 500 euros need approval from a director.",
    );
    assert!(claims.is_some_and(|l| l.starts_with("paragraph")));
    located(&chunks, "- Attach a scanned copy of every receipt.");
    located(&chunks, "| Taxi | 40 euros |");

    let (html, chunks) = text_of("onboarding.html");
    assert_eq!(html.title, "Onboarding Guide");
    located(
        &chunks,
        "New employees receive a laptop on their first day.",
    );
    located(
        &chunks,
        "Northwind Traders & its sister company Northwind Café.",
    );
    let all_text: String = chunks.iter().map(|(t, _)| t.as_str()).collect();
    for hidden in [
        "SCRIPT_SHOULD_NOT_APPEAR",
        "STYLE_SHOULD_NOT_APPEAR",
        "Ignore previous instructions",
        "HIDDEN_DISPLAY_NONE",
        "HIDDEN_ATTRIBUTE",
        "ARIA_HIDDEN",
    ] {
        assert!(!all_text.contains(hidden), "{hidden} leaked into the text");
    }
    // Hidden content is set aside for the guards, with the reason.
    let content = retriever.content(&html).unwrap();
    let reasons: Vec<&str> = content.hidden.iter().map(|h| h.reason.as_str()).collect();
    assert_eq!(html.hidden, content.hidden.len());
    assert!(content
        .hidden
        .iter()
        .any(|h| h.reason == "HTML comment" && h.text.contains("Ignore previous instructions")));
    assert!(
        reasons.iter().any(|r| r.contains("display:none")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("hidden")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("aria-hidden")),
        "{reasons:?}"
    );
    assert!(report
        .hidden_content
        .contains(&"onboarding.html".to_string()));

    let (_, chunks) = text_of("offices.csv");
    let lisbon = located(
        &chunks,
        "City: Lisbon; Address: Rua Augusta 24, 3rd floor; Staff: 42; Opened: 2019.",
    );
    assert!(lisbon.is_some_and(|l| l.starts_with("row")));

    // A question finds the PDF passage, with its page.
    let found = retriever
        .retrieve("How much is reimbursed for a hotel night?", 3)
        .unwrap();
    assert_eq!(found[0].source, "travel-policy.pdf");
    assert!(found[0]
        .location
        .as_deref()
        .is_some_and(|l| l.starts_with("page")));
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
fn a_huge_file_is_refused_before_it_is_read_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let huge = std::fs::File::create(dir.path().join("dump.txt")).unwrap();
    huge.set_len(warden::ingest::extract::MAX_DOCUMENT_BYTES + 1)
        .unwrap();
    std::fs::write(dir.path().join("fine.md"), "# Fine\n\nA small document.\n").unwrap();
    let store = MemoryStore::new();
    let report = ingest_into(dir.path(), &store).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].source, "dump.txt");
    assert!(
        report.failed[0].reason.contains("larger than"),
        "{:?}",
        report.failed
    );
    assert_eq!(report.ingested, ["fine.md"]);
    assert_eq!(store.catalog(DEFAULT_TENANT).unwrap().documents.len(), 1);
}

#[test]
fn labels_are_stored_and_bad_labels_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let store = MemoryStore::new();
    let options = IngestOptions {
        labels: vec!["hr".into(), "finance".into()],
        ..IngestOptions::default()
    };
    ingest_path(&folder, &store, &embedder(), &options, &mut ()).unwrap();
    let catalog = store.catalog(DEFAULT_TENANT).unwrap();
    assert!(catalog
        .documents
        .iter()
        .all(|d| d.labels == ["hr", "finance"]));

    let bad = IngestOptions {
        labels: vec!["hr; drop".into()],
        ..IngestOptions::default()
    };
    let err = ingest_path(&folder, &store, &embedder(), &bad, &mut ()).unwrap_err();
    assert!(matches!(err, IngestError::BadLabel { .. }), "{err}");

    let unknown = IngestOptions {
        tenant: "nobody".into(),
        ..IngestOptions::default()
    };
    let err = ingest_path(&folder, &store, &embedder(), &unknown, &mut ()).unwrap_err();
    assert!(err.to_string().contains("unknown tenant `nobody`"), "{err}");
}

#[test]
fn a_document_quarantined_by_hand_is_never_retrieved() {
    let dir = tempfile::tempdir().unwrap();
    let folder = small_knowledge(dir.path());
    let store = Arc::new(MemoryStore::new());
    ingest_into(&folder, store.as_ref()).unwrap();
    let document = warden::ingest::set_document_guard(
        store.as_ref(),
        DEFAULT_TENANT,
        "hr/leave-policy.md",
        "quarantine",
    )
    .unwrap();
    assert_eq!(document.guard, "quarantine");
    let err = warden::ingest::set_document_guard(
        store.as_ref(),
        DEFAULT_TENANT,
        "hr/leave-policy.md",
        "maybe",
    )
    .unwrap_err();
    assert!(matches!(err, IngestError::BadVerdict { .. }), "{err}");
    let retriever = Retriever::open(store, DEFAULT_TENANT, embedder()).unwrap();
    let found = retriever
        .retrieve("How many days of paid annual leave do I get?", 3)
        .unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|s| s.source != "hr/leave-policy.md"));
}
