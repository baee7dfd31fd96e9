//! Durable storage of the knowledge base: documents, their chunks with byte
//! spans, and the chunks' embedding vectors.
//!
//! The store hands out and accepts whole snapshots; a commit either replaces the
//! previous snapshot completely or leaves it untouched. `KnowledgeStore` has an
//! in-memory twin (`MemoryStore`) for tests and a file backend (`FileStore`).
//! Encryption at rest arrives with the encrypted store (issue 3); until then the
//! file backend is plaintext and says so in `docs/architecture.md`.

pub mod file;
pub mod memory;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use file::FileStore;
pub use memory::MemoryStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a Warden knowledge store ({message}); restore it from backup or delete it and ingest again")]
    Corrupt { path: PathBuf, message: String },
    #[error("refusing to commit: {message}; the store was left as it was")]
    InvalidSnapshot { message: String },
    #[error("{path} was written by a newer Warden (format {found}, this build reads {supported})")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

/// A source document as the catalog knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Document {
    /// Stable id: derived from the source path within the ingested folder.
    pub id: String,
    /// Path relative to the folder it was ingested from.
    pub source: String,
    pub title: String,
    /// sha256 of the extracted text, to skip unchanged files on re-ingest.
    pub sha256: String,
    pub bytes: usize,
    pub ingested_at: u64,
}

/// A passage of a document, with where it sits and its embedding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chunk {
    /// Key in the vector index; unique within a store, never reused.
    pub key: u64,
    pub document_id: String,
    pub ordinal: usize,
    /// Byte offsets of `text` in the document's extracted text.
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub vector: Vec<f32>,
}

/// Everything a store holds, as one consistent value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub embedding_model: String,
    pub dimensions: usize,
    pub documents: Vec<Document>,
    pub chunks: Vec<Chunk>,
    pub next_key: u64,
}

impl Snapshot {
    pub fn document(&self, id: &str) -> Option<&Document> {
        self.documents.iter().find(|document| document.id == id)
    }

    pub fn chunk(&self, key: u64) -> Option<&Chunk> {
        self.chunks.iter().find(|chunk| chunk.key == key)
    }
}

/// Where knowledge lives. Implementations must make `commit` all-or-nothing.
pub trait KnowledgeStore: Send + Sync {
    /// The current snapshot (empty when nothing was ever committed).
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Atomically replaces the stored snapshot.
    fn commit(&self, snapshot: &Snapshot) -> Result<(), StoreError>;
}
