//! The write path: the only code that adds knowledge.
//!
//! Files are discovered, read into text (`extract`, `formats`), split into
//! passages (`chunk`), embedded, and committed to the tenant's store in
//! batches. Each commit is atomic, so an interrupted run keeps every batch it
//! reported committed and nothing half-written. A file that cannot be read is
//! reported and skipped; the rest goes on. Re-ingest is incremental: unchanged
//! files are skipped, changed ones replaced, and `prune` removes documents
//! whose files are gone.

pub mod chunk;
pub mod extract;
pub mod formats;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::crypto::random_id;
use crate::guard::scan::{GuardPolicy, Scanners, Stage};
use crate::index::{embed, tenant_index, Embedder, IndexError, VectorIndex};
use crate::store::{
    Catalog, Change, Chunk, Document, DocumentContent, KnowledgeStore, StoreError, DEFAULT_TENANT,
};

pub use chunk::ChunkSettings;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("no supported documents (.md .txt .html .pdf .docx .csv) found in {path}")]
    NothingToIngest { path: PathBuf },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("the store was built with embedding model `{found}`, this build uses `{expected}`; re-ingest into a new home")]
    EmbeddingMismatch { found: String, expected: String },
    #[error("`{label}` is not a valid label: use letters, digits, `-`, `_` or `.`")]
    BadLabel { label: String },
    #[error("`{verdict}` is not a guard verdict: use allow, fence or quarantine")]
    BadVerdict { verdict: String },
}

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub tenant: String,
    /// Access labels stored with every document of this run.
    pub labels: Vec<String>,
    /// Remove documents under the ingested folder whose files are gone.
    pub prune: bool,
    pub chunking: ChunkSettings,
    /// Documents per commit: smaller commits lose less to a crash.
    pub batch_documents: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            tenant: DEFAULT_TENANT.to_string(),
            labels: Vec::new(),
            prune: false,
            chunking: ChunkSettings::default(),
            batch_documents: 32,
        }
    }
}

/// A file that was not ingested, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileIssue {
    pub source: String,
    pub reason: String,
}

/// What one ingest run did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub tenant: String,
    pub ingested: Vec<String>,
    pub replaced: Vec<String>,
    pub unchanged: Vec<String>,
    pub skipped: Vec<FileIssue>,
    pub failed: Vec<FileIssue>,
    pub pruned: Vec<String>,
    /// Documents with hidden content (comments, hidden elements) set aside.
    pub hidden_content: Vec<String>,
    /// Documents the retrieval guard fenced or quarantined, with the reason.
    pub guarded: Vec<FileIssue>,
    pub chunks_embedded: usize,
    /// Bytes of text extracted from new and changed documents.
    pub text_bytes: usize,
    pub total_documents: usize,
    pub total_chunks: usize,
    pub seconds: f64,
}

/// Progress callbacks, so the CLI can draw a bar and tests can stay silent.
pub trait IngestProgress {
    fn files_found(&mut self, _files: usize) {}
    fn file_read(&mut self, _source: &str) {}
    fn embedded(&mut self, _chunks: usize) {}
    /// These documents are now durably in the store.
    fn committed(&mut self, _sources: &[String]) {}
}

impl IngestProgress for () {}

/// A document read and split, waiting for embedding and commit.
struct Prepared {
    document: Document,
    spans: Vec<(chunk::TextSpan, Option<String>)>,
    hidden: Vec<crate::store::HiddenText>,
    replaces: Option<Document>,
}

struct Run<'a> {
    store: &'a dyn KnowledgeStore,
    guard: Scanners,
    embedder: &'a Embedder,
    options: &'a IngestOptions,
    catalog: Catalog,
    index: VectorIndex,
    report: IngestReport,
}

/// Ingests a file or a folder (recursively) into a tenant of `store`.
pub fn ingest_path(
    root: &Path,
    store: &dyn KnowledgeStore,
    embedder: &Embedder,
    options: &IngestOptions,
    progress: &mut dyn IngestProgress,
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    if !root.exists() {
        return Err(IngestError::NotFound {
            path: root.to_path_buf(),
        });
    }
    for label in &options.labels {
        validate_label(label)?;
    }
    let catalog = store.catalog(&options.tenant)?;
    if !catalog.embedding_model.is_empty() && catalog.embedding_model != embed::EMBEDDING_WEIGHTS {
        return Err(IngestError::EmbeddingMismatch {
            found: catalog.embedding_model.clone(),
            expected: embed::EMBEDDING_WEIGHTS.to_string(),
        });
    }
    let mut skipped = Vec::new();
    let files = extract::discover(root, &mut skipped);
    if files.is_empty() {
        return Err(IngestError::NothingToIngest {
            path: root.to_path_buf(),
        });
    }
    progress.files_found(files.len());
    let (index, _) = tenant_index(store, &catalog, embedder.dimensions)?;
    let mut run = Run {
        store,
        guard: Scanners::new(GuardPolicy::default()),
        embedder,
        options,
        catalog,
        index,
        report: IngestReport {
            tenant: options.tenant.clone(),
            skipped: skipped
                .into_iter()
                .map(|source| FileIssue {
                    source,
                    reason: "unsupported file type".into(),
                })
                .collect(),
            ..IngestReport::default()
        },
    };

    let mut seen = HashSet::new();
    let mut batch = Vec::new();
    for file in &files {
        progress.file_read(&file.relative);
        let path = absolute(&file.path);
        seen.insert(path.clone());
        match extract::extract(&file.path) {
            Err(err @ extract::ExtractError::Empty) => run.report.skipped.push(FileIssue {
                source: file.relative.clone(),
                reason: err.to_string(),
            }),
            Err(err) => run.report.failed.push(FileIssue {
                source: file.relative.clone(),
                reason: err.to_string(),
            }),
            Ok(extracted) => {
                if let Some(prepared) = run.prepare(&file.relative, path, extracted)? {
                    batch.push(prepared);
                }
            }
        }
        if batch.len() >= options.batch_documents.max(1) {
            run.commit(std::mem::take(&mut batch), false, progress)?;
        }
    }
    run.commit(batch, true, progress)?;
    if options.prune {
        run.prune(root, &seen)?;
    }
    let mut report = run.report;
    report.total_documents = run.catalog.documents.len();
    report.total_chunks = run.catalog.total_chunks();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

impl Run<'_> {
    /// Reads one extracted file against the catalog: `None` when unchanged.
    fn prepare(
        &mut self,
        source: &str,
        path: String,
        extracted: extract::Extracted,
    ) -> Result<Option<Prepared>, IngestError> {
        let sha256 = hex::encode(Sha256::digest(extracted.text.as_bytes()));
        let existing = self.catalog.by_path(&path).cloned();
        if let Some(old) = &existing {
            if old.sha256 == sha256
                && old.labels == self.options.labels
                && old.title == extracted.title
                && old.source == source
            {
                self.report.unchanged.push(source.to_string());
                return Ok(None);
            }
        }
        let spans: Vec<_> = chunk::split(&extracted.text, &self.options.chunking)
            .into_iter()
            .map(|span| {
                let location = extracted.location_of(span.start, span.end);
                (span, location)
            })
            .collect();
        if !extracted.hidden.is_empty() {
            self.report.hidden_content.push(source.to_string());
        }
        let id = match &existing {
            Some(old) => old.id.clone(),
            None => random_id("d")?[..17].to_string(),
        };
        let (verdict, reasons) = self.screen(&spans, &extracted.hidden);
        self.report.text_bytes += extracted.text.len();
        if verdict != "allow" {
            self.report.guarded.push(FileIssue {
                source: source.to_string(),
                reason: format!("{verdict}: {}", reasons.join("; ")),
            });
        }
        Ok(Some(Prepared {
            document: Document {
                id,
                source: source.to_string(),
                path,
                title: extracted.title,
                format: extracted.format.to_string(),
                labels: self.options.labels.clone(),
                sha256,
                bytes: extracted.text.len(),
                ingested_at: now_unix(),
                version: 0,
                first_key: 0,
                chunks: spans.len(),
                hidden: extracted.hidden.len(),
                guard: verdict.to_string(),
                guard_reasons: reasons,
            },
            spans,
            hidden: extracted.hidden,
            replaces: existing,
        }))
    }

    /// The retrieval guard's verdict on a document at ingest: instructions
    /// hidden from readers (comments, hidden elements) quarantine it; passages
    /// that address the assistant or other findings fence it.
    fn screen(
        &self,
        spans: &[(chunk::TextSpan, Option<String>)],
        hidden: &[crate::store::HiddenText],
    ) -> (&'static str, Vec<String>) {
        let mut reasons = Vec::new();
        let mut verdict = "allow";
        for piece in hidden {
            let outcome = self.guard.scan(Stage::Retrieval, &piece.text, None);
            if outcome.blocked {
                verdict = "quarantine";
                reasons.push(format!(
                    "{} hides instructions: {}",
                    piece.reason,
                    first_reason(&outcome.flags)
                ));
            }
        }
        let mut flagged = 0;
        let mut blocked = 0;
        let mut example = None;
        for (span, _) in spans {
            let outcome = self.guard.scan(Stage::Retrieval, &span.text, None);
            if outcome.blocked {
                blocked += 1;
                example.get_or_insert_with(|| first_reason(&outcome.flags));
            } else if !outcome.flags.is_empty() {
                flagged += 1;
                example.get_or_insert_with(|| first_reason(&outcome.flags));
            }
        }
        if blocked + flagged > 0 {
            if verdict == "allow" {
                verdict = "fence";
            }
            reasons.push(format!(
                "{blocked} passage(s) address the assistant and {flagged} more were flagged ({})",
                example.unwrap_or_default()
            ));
        }
        (verdict, reasons)
    }

    /// Embeds a batch and commits it in one atomic change. The final commit
    /// also saves the vector index (a crash before it only costs a rebuild).
    fn commit(
        &mut self,
        batch: Vec<Prepared>,
        last: bool,
        progress: &mut dyn IngestProgress,
    ) -> Result<(), IngestError> {
        if batch.is_empty() {
            if last && (!self.report.ingested.is_empty() || !self.report.replaced.is_empty()) {
                self.save_index();
            }
            return Ok(());
        }
        let texts: Vec<String> = batch
            .iter()
            .flat_map(|prepared| {
                prepared
                    .spans
                    .iter()
                    .map(|(span, _)| embedding_text(&prepared.document.title, &span.text))
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut vectors = self
            .embedder
            .embed_all(&texts, |done| progress.embedded(done))?
            .into_iter();

        let mut change = Change {
            base_generation: self.catalog.generation,
            embedding_model: embed::EMBEDDING_WEIGHTS.to_string(),
            dimensions: self.embedder.dimensions,
            next_key: self.catalog.next_key,
            ..Change::default()
        };
        let mut sources = Vec::new();
        let mut added = Vec::new();
        for prepared in batch {
            let mut document = prepared.document;
            document.first_key = change.next_key;
            change.next_key += prepared.spans.len() as u64;
            let chunks: Vec<Chunk> = prepared
                .spans
                .into_iter()
                .enumerate()
                .map(|(ordinal, (span, location))| Chunk {
                    key: document.first_key + ordinal as u64,
                    ordinal,
                    start: span.start,
                    end: span.end,
                    location,
                    text: span.text,
                    vector: vectors.next().unwrap_or_default(),
                })
                .collect();
            added.extend(chunks.iter().map(|chunk| (chunk.key, chunk.vector.clone())));
            match &prepared.replaces {
                Some(old) => {
                    for key in old.keys() {
                        self.index.remove(key)?;
                    }
                    self.report.replaced.push(document.source.clone());
                }
                None => self.report.ingested.push(document.source.clone()),
            }
            self.report.chunks_embedded += chunks.len();
            sources.push(document.source.clone());
            change.put.push((
                document,
                DocumentContent {
                    chunks,
                    hidden: prepared.hidden,
                },
            ));
        }
        for (key, vector) in &added {
            self.index.add(*key, vector)?;
        }
        if last {
            change.index = Some(self.index.to_bytes()?);
        }
        self.catalog = self.store.commit(&self.options.tenant, change)?;
        progress.committed(&sources);
        Ok(())
    }

    fn save_index(&self) {
        let saved = self
            .index
            .to_bytes()
            .map_err(|err| err.to_string())
            .and_then(|bytes| {
                self.store
                    .save_index(&self.options.tenant, self.catalog.generation, &bytes)
                    .map_err(|err| err.to_string())
            });
        if let Err(err) = saved {
            tracing::warn!("could not save the vector index: {err}");
        }
    }

    /// Removes documents that came from under `root` and whose files are gone.
    fn prune(&mut self, root: &Path, seen: &HashSet<String>) -> Result<(), IngestError> {
        let root = absolute(root);
        let under_root = |path: &str| {
            path == root
                || path
                    .strip_prefix(root.as_str())
                    .is_some_and(|rest| rest.starts_with(std::path::MAIN_SEPARATOR))
        };
        let gone: Vec<Document> = self
            .catalog
            .documents
            .iter()
            .filter(|document| under_root(&document.path) && !seen.contains(&document.path))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        for document in &gone {
            for key in document.keys() {
                self.index.remove(key)?;
            }
        }
        let change = Change {
            base_generation: self.catalog.generation,
            embedding_model: self.catalog.embedding_model.clone(),
            dimensions: self.catalog.dimensions,
            next_key: self.catalog.next_key,
            remove: gone.iter().map(|document| document.id.clone()).collect(),
            index: Some(self.index.to_bytes()?),
            ..Change::default()
        };
        self.catalog = self.store.commit(&self.options.tenant, change)?;
        self.report
            .pruned
            .extend(gone.into_iter().map(|document| document.source));
        Ok(())
    }
}

/// Sets a document's guard verdict by hand (`allow`, `fence` or `quarantine`):
/// the administrator's override of what the scanners decided at ingest.
pub fn set_document_guard(
    store: &dyn KnowledgeStore,
    tenant: &str,
    wanted: &str,
    verdict: &str,
) -> Result<Document, IngestError> {
    if !matches!(verdict, "allow" | "fence" | "quarantine") {
        return Err(IngestError::BadVerdict {
            verdict: verdict.to_string(),
        });
    }
    let catalog = store.catalog(tenant)?;
    let mut document = catalog
        .find(wanted)
        .or_else(|| catalog.by_path(&absolute(Path::new(wanted))))
        .cloned()
        .ok_or_else(|| StoreError::UnknownDocument {
            tenant: tenant.to_string(),
            id: wanted.to_string(),
        })?;
    let content = store.content(tenant, &document)?;
    let (index, _) = tenant_index(store, &catalog, catalog.dimensions)?;
    document.guard = verdict.to_string();
    document.guard_reasons = vec![format!("set to {verdict} by an administrator")];
    let change = Change {
        base_generation: catalog.generation,
        embedding_model: catalog.embedding_model.clone(),
        dimensions: catalog.dimensions,
        next_key: catalog.next_key,
        put: vec![(document.clone(), content)],
        index: Some(index.to_bytes()?),
        ..Change::default()
    };
    let catalog = store.commit(tenant, change)?;
    Ok(catalog.document(&document.id).cloned().unwrap_or(document))
}

/// Removes a document and its vectors from a tenant so that no copy of the
/// store can decrypt it any more (see `KnowledgeStore::forget_document`).
pub fn forget_document(
    store: &dyn KnowledgeStore,
    tenant: &str,
    wanted: &str,
) -> Result<Document, IngestError> {
    let catalog = store.catalog(tenant)?;
    let wanted_path = absolute(Path::new(wanted));
    let document = catalog
        .find(wanted)
        .or_else(|| catalog.by_path(&wanted_path))
        .cloned()
        .ok_or_else(|| StoreError::UnknownDocument {
            tenant: tenant.to_string(),
            id: wanted.to_string(),
        })?;
    let (index, _) = tenant_index(store, &catalog, catalog.dimensions)?;
    for key in document.keys() {
        index.remove(key)?;
    }
    store.forget_document(tenant, &document.id, Some(index.to_bytes()?))?;
    Ok(document)
}

fn first_reason(flags: &[crate::guard::scan::Flag]) -> String {
    flags
        .first()
        .map(|flag| format!("{}: {}", flag.scanner, flag.reason))
        .unwrap_or_default()
}

/// The text that is embedded for a chunk: the document title gives context that
/// a passage alone often lacks.
pub fn embedding_text(title: &str, chunk: &str) -> String {
    format!("{title}\n{chunk}")
}

fn validate_label(label: &str) -> Result<(), IngestError> {
    let valid = !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(IngestError::BadLabel {
            label: label.to_string(),
        })
    }
}

/// An absolute, normalised path string (the file need not exist).
fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
