//! The write path: the only code that adds knowledge.
//!
//! Files are read and chunked first; only when every file was read does the
//! pipeline embed the new chunks and commit one new snapshot, so a bad file or
//! an interrupted run leaves the store exactly as it was.

pub mod chunk;
pub mod extract;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::index::{embed, Embedder, IndexError};
use crate::store::{Chunk, Document, KnowledgeStore, StoreError};

pub use chunk::ChunkSettings;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("no supported documents (.md, .txt) found in {path}")]
    NothingToIngest { path: PathBuf },
    #[error("could not read {count} file(s), nothing was ingested:\n{details}")]
    Unreadable { count: usize, details: String },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store was built with embedding model `{found}`, this build uses `{expected}`; re-ingest into a new home")]
    EmbeddingMismatch { found: String, expected: String },
}

/// What one ingest run did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub skipped_unsupported: Vec<String>,
    pub chunks_embedded: usize,
    pub total_documents: usize,
    pub total_chunks: usize,
}

/// Progress callbacks, so the CLI can draw a bar and tests can stay silent.
pub trait IngestProgress {
    fn embedding_started(&mut self, _chunks: usize) {}
    fn embedded(&mut self, _chunks: usize) {}
}

impl IngestProgress for () {}

/// A document read from disk and split, before embedding.
struct PreparedDocument {
    document: Document,
    chunks: Vec<chunk::TextSpan>,
    status: Status,
}

#[derive(PartialEq)]
enum Status {
    Added,
    Updated,
    Unchanged,
}

/// Ingests a file or a folder (recursively) into `store`.
pub fn ingest_path(
    root: &Path,
    store: &dyn KnowledgeStore,
    embedder: &Embedder,
    settings: &ChunkSettings,
    progress: &mut dyn IngestProgress,
) -> Result<IngestReport, IngestError> {
    if !root.exists() {
        return Err(IngestError::NotFound {
            path: root.to_path_buf(),
        });
    }
    let mut snapshot = store.load()?;
    if snapshot.embedding_model.is_empty() {
        snapshot.embedding_model = embed::EMBEDDING_WEIGHTS.to_string();
        snapshot.dimensions = embedder.dimensions;
    } else if snapshot.embedding_model != embed::EMBEDDING_WEIGHTS {
        return Err(IngestError::EmbeddingMismatch {
            found: snapshot.embedding_model.clone(),
            expected: embed::EMBEDDING_WEIGHTS.to_string(),
        });
    }

    let mut report = IngestReport::default();
    let files = extract::discover(root, &mut report.skipped_unsupported);
    if files.is_empty() {
        return Err(IngestError::NothingToIngest {
            path: root.to_path_buf(),
        });
    }

    let mut prepared = Vec::new();
    let mut failures = Vec::new();
    for file in &files {
        match extract::extract(&file.path) {
            Ok(extracted) => {
                let sha256 = hex::encode(Sha256::digest(extracted.text.as_bytes()));
                let id = document_id(&file.relative);
                let status = match snapshot.document(&id) {
                    None => Status::Added,
                    Some(existing) if existing.sha256 == sha256 => Status::Unchanged,
                    Some(_) => Status::Updated,
                };
                let chunks = if status == Status::Unchanged {
                    Vec::new()
                } else {
                    chunk::split(&extracted.text, settings)
                };
                prepared.push(PreparedDocument {
                    document: Document {
                        id,
                        source: file.relative.clone(),
                        title: extracted.title,
                        sha256,
                        bytes: extracted.text.len(),
                        ingested_at: now_unix(),
                    },
                    chunks,
                    status,
                });
            }
            Err(err) => failures.push(format!("  {}: {err}", file.path.display())),
        }
    }
    if !failures.is_empty() {
        return Err(IngestError::Unreadable {
            count: failures.len(),
            details: failures.join("\n"),
        });
    }

    let to_embed: Vec<String> = prepared
        .iter()
        .flat_map(|doc| {
            doc.chunks
                .iter()
                .map(move |span| embedding_text(&doc.document.title, &span.text))
        })
        .collect();
    progress.embedding_started(to_embed.len());
    let texts: Vec<&str> = to_embed.iter().map(String::as_str).collect();
    let mut vectors = embedder
        .embed_all(&texts, |done| progress.embedded(done))?
        .into_iter();

    for doc in prepared {
        let source = doc.document.source.clone();
        match doc.status {
            Status::Unchanged => {
                report.unchanged.push(source);
                continue;
            }
            Status::Added => report.added.push(source),
            Status::Updated => report.updated.push(source),
        }
        snapshot
            .chunks
            .retain(|chunk| chunk.document_id != doc.document.id);
        snapshot
            .documents
            .retain(|existing| existing.id != doc.document.id);
        for (ordinal, span) in doc.chunks.into_iter().enumerate() {
            let key = snapshot.next_key;
            snapshot.next_key += 1;
            snapshot.chunks.push(Chunk {
                key,
                document_id: doc.document.id.clone(),
                ordinal,
                start: span.start,
                end: span.end,
                text: span.text,
                vector: vectors.next().unwrap_or_default(),
            });
            report.chunks_embedded += 1;
        }
        snapshot.documents.push(doc.document);
    }
    snapshot.documents.sort_by(|a, b| a.source.cmp(&b.source));
    report.total_documents = snapshot.documents.len();
    report.total_chunks = snapshot.chunks.len();
    if !report.added.is_empty() || !report.updated.is_empty() {
        store.commit(&snapshot)?;
    }
    Ok(report)
}

/// The text that is embedded for a chunk: the document title gives context that
/// a passage alone often lacks.
pub fn embedding_text(title: &str, chunk: &str) -> String {
    format!("{title}\n{chunk}")
}

fn document_id(relative: &str) -> String {
    let digest = Sha256::digest(relative.as_bytes());
    format!("doc-{}", &hex::encode(digest)[..16])
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
