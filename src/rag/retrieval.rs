//! Retrieval: question → embedding → nearest chunks of one tenant's store.
//!
//! The tenant's catalog and vector index are loaded when the retriever opens;
//! chunk text is decrypted only for the documents a search returns, and kept
//! in a small cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::index::{tenant_index, Embedder, VectorIndex};
use crate::store::{Catalog, Document, DocumentContent, KnowledgeStore};

use super::{RagError, SourceRef};

/// The searchable knowledge of one tenant: catalog, index and embedder.
pub struct Retriever {
    embedder: Arc<Embedder>,
    store: Arc<dyn KnowledgeStore>,
    catalog: Catalog,
    index: VectorIndex,
    /// `(first chunk key, position in catalog.documents)`, sorted by key.
    key_ranges: Vec<(u64, usize)>,
    contents: Mutex<HashMap<String, Arc<DocumentContent>>>,
}

impl Retriever {
    /// Opens `tenant` of `store`: its catalog and its vector index (rebuilt
    /// from the stored vectors when missing or stale).
    pub fn open(
        store: Arc<dyn KnowledgeStore>,
        tenant: &str,
        embedder: Arc<Embedder>,
    ) -> Result<Self, RagError> {
        let catalog = store.catalog(tenant)?;
        if !catalog.embedding_model.is_empty()
            && catalog.embedding_model != crate::index::embed::EMBEDDING_WEIGHTS
        {
            return Err(RagError::EmbeddingMismatch {
                found: catalog.embedding_model.clone(),
                expected: crate::index::embed::EMBEDDING_WEIGHTS.to_string(),
            });
        }
        let (index, _) = tenant_index(store.as_ref(), &catalog, embedder.dimensions)?;
        let mut key_ranges: Vec<(u64, usize)> = catalog
            .documents
            .iter()
            .enumerate()
            .map(|(position, document)| (document.first_key, position))
            .collect();
        key_ranges.sort_unstable();
        Ok(Self {
            embedder,
            store,
            catalog,
            index,
            key_ranges,
            contents: Mutex::new(HashMap::new()),
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    pub fn shared_embedder(&self) -> Arc<Embedder> {
        self.embedder.clone()
    }

    /// A document's decrypted chunks (cached).
    pub fn content(&self, document: &Document) -> Result<Arc<DocumentContent>, RagError> {
        let mut cache = self
            .contents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(content) = cache.get(&document.id) {
            return Ok(content.clone());
        }
        let content = Arc::new(self.store.content(&self.catalog.tenant, document)?);
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(document.id.clone(), content.clone());
        Ok(content)
    }

    /// Forgets decrypted documents (benchmarks measure decryption with it).
    pub fn clear_cache(&self) {
        self.contents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    fn document_for_key(&self, key: u64) -> Option<&Document> {
        let slot = self.key_ranges.partition_point(|(first, _)| *first <= key);
        let (_, position) = self.key_ranges.get(slot.checked_sub(1)?)?;
        let document = &self.catalog.documents[*position];
        document.keys().contains(&key).then_some(document)
    }

    /// The `k` most similar passages, numbered from 1, best first.
    pub fn retrieve(&self, question: &str, k: usize) -> Result<Vec<SourceRef>, RagError> {
        if self.catalog.total_chunks() == 0 {
            return Err(RagError::EmptyKnowledgeBase);
        }
        let query = self.embedder.embed(question)?;
        // Quarantined documents are never retrieved: search deeper so that
        // `k` passages remain after they are skipped.
        let quarantined = self
            .catalog
            .documents
            .iter()
            .filter(|document| document.guard == "quarantine")
            .map(|document| document.chunks)
            .sum::<usize>();
        let neighbours = self.index.search(&query, k + quarantined.min(4 * k))?;
        let mut sources = Vec::with_capacity(k);
        for neighbour in neighbours {
            if sources.len() == k {
                break;
            }
            let Some(document) = self
                .document_for_key(neighbour.key)
                .filter(|document| document.guard != "quarantine")
            else {
                continue;
            };
            let content = self.content(document)?;
            let ordinal = (neighbour.key - document.first_key) as usize;
            let Some(chunk) = content.chunks.get(ordinal) else {
                continue;
            };
            sources.push(SourceRef {
                number: sources.len() + 1,
                document_id: document.id.clone(),
                source: document.source.clone(),
                title: document.title.clone(),
                chunk_key: chunk.key,
                start: chunk.start,
                end: chunk.end,
                location: chunk.location.clone(),
                score: neighbour.similarity,
                text: chunk.text.clone(),
                untrusted: document.guard == "fence",
                labels: document.labels.clone(),
            });
        }
        Ok(sources)
    }
}
