//! Retrieval: question → embedding → nearest chunks of this store.

use std::collections::HashMap;
use std::sync::Arc;

use crate::index::{Embedder, VectorIndex};
use crate::store::{KnowledgeStore, Snapshot};

use super::{RagError, SourceRef};

/// The searchable knowledge of one store: snapshot, index and embedder.
pub struct Retriever {
    embedder: Arc<Embedder>,
    index: VectorIndex,
    snapshot: Snapshot,
    /// Chunk key → position in `snapshot.chunks`.
    positions: HashMap<u64, usize>,
}

impl Retriever {
    /// Loads the store and (re)builds its vector index from the stored vectors.
    pub fn open(store: &dyn KnowledgeStore, embedder: Arc<Embedder>) -> Result<Self, RagError> {
        let snapshot = store.load()?;
        let positions = snapshot
            .chunks
            .iter()
            .enumerate()
            .map(|(position, chunk)| (chunk.key, position))
            .collect();
        let index = VectorIndex::build(
            embedder.dimensions,
            snapshot
                .chunks
                .iter()
                .map(|chunk| (chunk.key, chunk.vector.as_slice())),
        )?;
        Ok(Self {
            embedder,
            index,
            snapshot,
            positions,
        })
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// The `k` most similar passages, numbered from 1, best first.
    pub fn retrieve(&self, question: &str, k: usize) -> Result<Vec<SourceRef>, RagError> {
        if self.snapshot.chunks.is_empty() {
            return Err(RagError::EmptyKnowledgeBase);
        }
        let query = self.embedder.embed(question)?;
        let neighbours = self.index.search(&query, k)?;
        Ok(neighbours
            .into_iter()
            .filter_map(|neighbour| {
                let chunk = &self.snapshot.chunks[*self.positions.get(&neighbour.key)?];
                let document = self.snapshot.document(&chunk.document_id)?;
                Some((neighbour, chunk, document))
            })
            .enumerate()
            .map(|(rank, (neighbour, chunk, document))| SourceRef {
                number: rank + 1,
                document_id: document.id.clone(),
                source: document.source.clone(),
                title: document.title.clone(),
                chunk_key: chunk.key,
                start: chunk.start,
                end: chunk.end,
                score: neighbour.similarity,
                text: chunk.text.clone(),
            })
            .collect())
    }
}
