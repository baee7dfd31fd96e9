//! Embeddings and vector search: how a question finds the passages that may
//! answer it. Never crosses a tenant boundary: each index covers one tenant.

pub mod bert;
pub mod embed;
pub mod vectors;
pub mod words;

pub use embed::Embedder;
pub use vectors::{tenant_index, Neighbour, VectorIndex};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("embedding model: {message}")]
    Embedder { message: String },
    #[error("vector index: {message}")]
    Vector { message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("embedding computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}
