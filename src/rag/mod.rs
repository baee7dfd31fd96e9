//! The read path. `pipeline` is the only place that chains retrieval, prompt
//! building and generation; everything it decides is emitted as `AnswerEvent`s
//! that the CLI (and later the TUI and HTTP server) render. Nothing here
//! renders anything.

pub mod events;
pub mod pipeline;
pub mod prompt;
pub mod retrieval;

pub use events::{Answer, AnswerEvent, GuardFlag, SourceRef, Timings};
pub use pipeline::{AskSettings, Pipeline};
pub use retrieval::Retriever;

#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the store was built with embedding model `{found}`, this build uses `{expected}`; re-ingest into a new home")]
    EmbeddingMismatch { found: String, expected: String },
    #[error("the knowledge base is empty; run `warden ingest <folder>` first")]
    EmptyKnowledgeBase,
    #[error("the question is empty")]
    EmptyQuestion,
    #[error("the question is {chars} characters long; the limit is {limit}")]
    QuestionTooLong { chars: usize, limit: usize },
}
