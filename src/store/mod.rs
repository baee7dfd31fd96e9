//! Durable storage of the knowledge base, per tenant: the catalog (documents
//! and their provenance, labels and hashes), each document's chunks with byte
//! spans and embedding vectors, and the serialised vector index.
//!
//! `KnowledgeStore` is the one storage interface. `EncryptedStore` is the real
//! backend (everything on disk encrypted, commits crash-safe, erasure by
//! destroying keys); `MemoryStore` is its in-memory twin for tests.

pub mod encrypted;
pub mod memory;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use encrypted::{EncryptedStore, IntegrityReport};
pub use memory::MemoryStore;

/// The tenant used when none is named.
pub const DEFAULT_TENANT: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{what} is damaged or was tampered with ({message})")]
    Damaged { what: String, message: String },
    #[error("cannot create a store in {path}: it is not empty (a store of another keyring, or a plaintext store of an earlier Warden); move it away or delete it, then ingest again")]
    NotEmpty { path: PathBuf },
    #[error("no store in {path}; create one with `warden init`")]
    Missing { path: PathBuf },
    #[error(
        "the store in {path} belongs to another keyring ({found}); this keyring is {expected}"
    )]
    WrongKeyring {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{path} was written by a different Warden store format ({found}; this build reads {supported}); re-ingest into a new home")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("unknown tenant `{name}` (see `warden tenants list`; add it with `warden tenants add {name}`)")]
    UnknownTenant { name: String },
    #[error("tenant `{name}` already exists")]
    TenantExists { name: String },
    #[error("`{name}` is not a valid tenant name: use 1 to 63 lowercase letters, digits, `-` or `_`, starting with a letter or digit")]
    BadTenantName { name: String },
    #[error("unknown document `{id}` in tenant `{tenant}`")]
    UnknownDocument { tenant: String, id: String },
    #[error("another writer changed tenant `{tenant}` meanwhile; nothing was written, run the command again")]
    Conflict { tenant: String },
    #[error("refusing to commit: {message}; the store was left as it was")]
    InvalidChange { message: String },
    #[error(transparent)]
    Keyring(#[from] crate::crypto::KeyringError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

/// A source document as the catalog knows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Document {
    /// Random id, stable across re-ingests of the same file.
    pub id: String,
    /// Path relative to the folder it was ingested from (shown in citations).
    pub source: String,
    /// Absolute path of the file: its identity for re-ingest and `--prune`.
    pub path: String,
    pub title: String,
    /// `markdown`, `text`, `html`, `pdf`, `docx` or `csv`.
    pub format: String,
    /// Access labels (`--labels hr,finance`), for access control.
    pub labels: Vec<String>,
    /// sha256 of the extracted text, to skip unchanged files on re-ingest.
    pub sha256: String,
    pub bytes: usize,
    pub ingested_at: u64,
    /// Bumped on every replacement; bound into the content's encryption.
    pub version: u64,
    /// Chunk keys are `first_key .. first_key + chunks`.
    pub first_key: u64,
    pub chunks: usize,
    /// Pieces of hidden content found in the source (kept for the guards).
    pub hidden: usize,
    /// The retrieval guard's verdict at ingest: `allow`, `fence` (retrieved,
    /// marked untrusted in the prompt) or `quarantine` (never retrieved).
    #[serde(default = "allow")]
    pub guard: String,
    /// Why, when not `allow`.
    #[serde(default)]
    pub guard_reasons: Vec<String>,
}

fn allow() -> String {
    "allow".to_string()
}

impl Document {
    pub fn keys(&self) -> std::ops::Range<u64> {
        self.first_key..self.first_key + self.chunks as u64
    }
}

/// A passage of a document, with where it sits and its embedding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chunk {
    /// Key in the tenant's vector index; never reused within a tenant.
    pub key: u64,
    pub ordinal: usize,
    /// Byte offsets of `text` in the document's extracted text.
    pub start: usize,
    pub end: usize,
    /// Page, paragraph or row, where the format has one ("page 3").
    pub location: Option<String>,
    pub text: String,
    #[serde(skip)]
    pub vector: Vec<f32>,
}

/// Content the source hides from readers (HTML comments, hidden elements):
/// kept out of the chunks, kept here so the guards can see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HiddenText {
    pub reason: String,
    pub text: String,
}

/// Everything stored for one document besides its catalog entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DocumentContent {
    pub chunks: Vec<Chunk>,
    pub hidden: Vec<HiddenText>,
}

/// One tenant's catalog: its documents and the state of its index.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Catalog {
    pub tenant: String,
    pub embedding_model: String,
    pub dimensions: usize,
    /// Bumped by every commit; the saved vector index carries it.
    pub generation: u64,
    pub next_key: u64,
    pub documents: Vec<Document>,
}

impl Catalog {
    pub fn document(&self, id: &str) -> Option<&Document> {
        self.documents.iter().find(|document| document.id == id)
    }

    pub fn by_path(&self, path: &str) -> Option<&Document> {
        self.documents.iter().find(|document| document.path == path)
    }

    /// The document given by id, absolute path or source path.
    pub fn find(&self, wanted: &str) -> Option<&Document> {
        self.document(wanted)
            .or_else(|| self.by_path(wanted))
            .or_else(|| self.documents.iter().find(|doc| doc.source == wanted))
    }

    pub fn total_chunks(&self) -> usize {
        self.documents.iter().map(|document| document.chunks).sum()
    }
}

/// One atomic change to a tenant: documents put (added or replaced, matched by
/// id) and documents removed, with the index that results, if known.
#[derive(Debug, Default)]
pub struct Change {
    /// The catalog generation the change was computed from; a commit on top of
    /// any other generation is refused as a conflict.
    pub base_generation: u64,
    pub embedding_model: String,
    pub dimensions: usize,
    pub next_key: u64,
    pub put: Vec<(Document, DocumentContent)>,
    pub remove: Vec<String>,
    /// The serialised vector index after the change (saved with it).
    pub index: Option<Vec<u8>>,
}

/// Where knowledge lives. Every write is all-or-nothing.
pub trait KnowledgeStore: Send + Sync {
    /// Tenant names, sorted.
    fn tenants(&self) -> Result<Vec<String>, StoreError>;
    fn add_tenant(&self, name: &str) -> Result<(), StoreError>;
    fn catalog(&self, tenant: &str) -> Result<Catalog, StoreError>;
    fn content(&self, tenant: &str, document: &Document) -> Result<DocumentContent, StoreError>;
    /// Applies `change` atomically and returns the new catalog.
    fn commit(&self, tenant: &str, change: Change) -> Result<Catalog, StoreError>;
    /// Removes a document so that no copy of the store can be decrypted for it
    /// any more; `index` is the tenant's index without its vectors.
    fn forget_document(
        &self,
        tenant: &str,
        id: &str,
        index: Option<Vec<u8>>,
    ) -> Result<Catalog, StoreError>;
    /// Removes a tenant and destroys its keys.
    fn forget_tenant(&self, tenant: &str) -> Result<(), StoreError>;
    /// The saved index of `generation`, if there is an intact one.
    fn load_index(&self, tenant: &str, generation: u64) -> Result<Option<Vec<u8>>, StoreError>;
    fn save_index(&self, tenant: &str, generation: u64, bytes: &[u8]) -> Result<(), StoreError>;
}

/// Tenant names: short, lowercase, safe in messages and configuration.
pub fn validate_tenant_name(name: &str) -> Result<(), StoreError> {
    let valid = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(StoreError::BadTenantName {
            name: name.to_string(),
        })
    }
}

/// Checks a change before anything is written.
pub(crate) fn validate_change(catalog: &Catalog, change: &Change) -> Result<(), StoreError> {
    let invalid = |message: String| Err(StoreError::InvalidChange { message });
    if change.base_generation != catalog.generation {
        return Err(StoreError::Conflict {
            tenant: catalog.tenant.clone(),
        });
    }
    if !catalog.embedding_model.is_empty() && catalog.embedding_model != change.embedding_model {
        return invalid(format!(
            "the tenant was built with embedding model `{}`, the change uses `{}`",
            catalog.embedding_model, change.embedding_model
        ));
    }
    if change.next_key < catalog.next_key {
        return invalid("chunk keys would be reused".into());
    }
    for (document, content) in &change.put {
        if content.chunks.len() != document.chunks {
            return invalid(format!("{}: chunk count disagrees", document.source));
        }
        for (offset, chunk) in content.chunks.iter().enumerate() {
            if chunk.key != document.first_key + offset as u64 || chunk.ordinal != offset {
                return invalid(format!("{}: chunk keys out of order", document.source));
            }
            if chunk.vector.len() != change.dimensions {
                return invalid(format!(
                    "{}: a vector has {} dimensions, expected {}",
                    document.source,
                    chunk.vector.len(),
                    change.dimensions
                ));
            }
            if chunk.vector.iter().any(|x| !x.is_finite()) {
                return invalid(format!(
                    "{}: a chunk vector holds NaN or infinite values",
                    document.source
                ));
            }
        }
    }
    Ok(())
}

/// Takes a document out of a catalog for `forget_document` (both backends).
pub(crate) fn remove_document(catalog: &mut Catalog, id: &str) -> Result<(), StoreError> {
    if catalog.document(id).is_none() {
        return Err(StoreError::UnknownDocument {
            tenant: catalog.tenant.clone(),
            id: id.to_string(),
        });
    }
    catalog.documents.retain(|document| document.id != id);
    catalog.generation += 1;
    Ok(())
}

/// Gives every document put by `change` its next version number.
pub(crate) fn assign_versions(catalog: &Catalog, change: &mut Change) {
    for (document, _) in &mut change.put {
        document.version = catalog
            .document(&document.id)
            .map_or(1, |old| old.version + 1);
    }
}

/// Applies a validated change to a catalog (both backends share this).
pub(crate) fn apply_to_catalog(catalog: &mut Catalog, change: &Change) {
    catalog.embedding_model = change.embedding_model.clone();
    catalog.dimensions = change.dimensions;
    catalog.next_key = change.next_key;
    catalog.generation += 1;
    catalog
        .documents
        .retain(|document| !change.remove.contains(&document.id));
    for (document, _) in &change.put {
        catalog
            .documents
            .retain(|existing| existing.id != document.id);
        catalog.documents.push(document.clone());
    }
    catalog.documents.sort_by(|a, b| a.source.cmp(&b.source));
}
