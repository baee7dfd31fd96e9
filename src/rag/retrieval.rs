//! Retrieval: question → embedding → nearest chunks of one tenant's store,
//! within one principal's scope.
//!
//! The tenant's catalog and vector index are loaded when the retriever opens;
//! chunk text is decrypted only for the documents a search returns, and kept
//! in a small cache. Access control happens inside the search: the scope's
//! label test (and the quarantine) becomes a per-document bit that usearch's
//! filtered search consults for every candidate, so a chunk outside the scope
//! is never a candidate, never decrypted, never ranked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::auth::Scope;
use crate::index::{tenant_index, Embedder, VectorIndex};
use crate::store::{Catalog, Document, DocumentContent, KnowledgeStore};

use super::{RagError, SourceRef};

/// Scopes admitting at most this many chunks are searched exactly (measured
/// in `benches/`: exact ranking costs ~0.4 µs a chunk, the filtered graph
/// search 0.5 to 3 ms on 10,000 chunks as the filter narrows).
const EXACT_SEARCH_MAX_CHUNKS: usize = 4096;

/// The searchable knowledge of one tenant: catalog, index and embedder.
pub struct Retriever {
    embedder: Arc<Embedder>,
    store: Arc<dyn KnowledgeStore>,
    catalog: Catalog,
    index: VectorIndex,
    /// `(first chunk key, position in catalog.documents)`, sorted by key.
    key_ranges: Vec<(u64, usize)>,
    /// Per document (catalog position): inside the scope and not quarantined.
    visible: Vec<bool>,
    scope: Scope,
    exact_search_max_chunks: usize,
    contents: Mutex<HashMap<String, Arc<DocumentContent>>>,
}

impl Retriever {
    /// Opens all of `tenant` (the operator's view: every label).
    pub fn open(
        store: Arc<dyn KnowledgeStore>,
        tenant: &str,
        embedder: Arc<Embedder>,
    ) -> Result<Self, RagError> {
        Self::open_scoped(store, &Scope::whole_tenant(tenant), embedder)
    }

    /// Opens the scope's tenant of `store`: its catalog and its vector index
    /// (rebuilt from the stored vectors when missing or stale). Searches see
    /// only documents whose labels the scope admits.
    pub fn open_scoped(
        store: Arc<dyn KnowledgeStore>,
        scope: &Scope,
        embedder: Arc<Embedder>,
    ) -> Result<Self, RagError> {
        let catalog = store.catalog(&scope.tenant)?;
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
        let visible = catalog
            .documents
            .iter()
            .map(|document| document.guard != "quarantine" && scope.labels.admits(&document.labels))
            .collect();
        Ok(Self {
            embedder,
            store,
            catalog,
            index,
            key_ranges,
            visible,
            scope: scope.clone(),
            exact_search_max_chunks: EXACT_SEARCH_MAX_CHUNKS,
            contents: Mutex::new(HashMap::new()),
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Scopes admitting at most `chunks` chunks are ranked exactly; larger
    /// ones by the filtered graph search (tests use 0 to force the graph).
    pub fn set_exact_search_limit(&mut self, chunks: usize) {
        self.exact_search_max_chunks = chunks;
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The documents this retriever's scope may see (quarantined ones included).
    pub fn visible_documents(&self) -> impl Iterator<Item = &Document> {
        self.catalog
            .documents
            .iter()
            .filter(|document| self.scope.labels.admits(&document.labels))
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

    fn position_for_key(&self, key: u64) -> Option<usize> {
        let slot = self.key_ranges.partition_point(|(first, _)| *first <= key);
        let (_, position) = self.key_ranges.get(slot.checked_sub(1)?)?;
        self.catalog.documents[*position]
            .keys()
            .contains(&key)
            .then_some(*position)
    }

    /// Whether the chunk `key` is inside the scope (the search filter).
    fn admits(&self, key: u64) -> bool {
        self.position_for_key(key)
            .is_some_and(|position| self.visible[position])
    }

    /// The `k` most similar passages in scope, numbered from 1, best first.
    pub fn retrieve(&self, question: &str, k: usize) -> Result<Vec<SourceRef>, RagError> {
        if self.catalog.total_chunks() == 0 {
            return Err(RagError::EmptyKnowledgeBase);
        }
        if !self.visible.iter().any(|visible| *visible) {
            return Ok(Vec::new());
        }
        let query = self.embedder.embed(question)?;
        // Chunks the scope admits. A narrow scope is ranked exactly over its
        // own chunks (cheaper than a graph walk that skips most nodes, and
        // never starved); a wide one by the graph search with the filter.
        let admitted: usize = self
            .catalog
            .documents
            .iter()
            .zip(&self.visible)
            .filter(|(_, visible)| **visible)
            .map(|(document, _)| document.chunks)
            .sum();
        let admitted_keys = || {
            self.catalog
                .documents
                .iter()
                .zip(&self.visible)
                .filter(|(_, visible)| **visible)
                .flat_map(|(document, _)| document.keys())
        };
        let neighbours = if admitted <= self.exact_search_max_chunks {
            self.index.search_exact(&query, k, admitted_keys())?
        } else {
            let found = self
                .index
                .search_filtered(&query, k, |key| self.admits(key))?;
            if found.len() < k.min(admitted) {
                self.index.search_exact(&query, k, admitted_keys())?
            } else {
                found
            }
        };
        let mut sources = Vec::with_capacity(k);
        for neighbour in neighbours {
            // The filter already refused everything out of scope; checked
            // again here so that no future change to the index can leak.
            let Some(position) = self
                .position_for_key(neighbour.key)
                .filter(|position| self.visible[*position])
            else {
                continue;
            };
            let document = &self.catalog.documents[position];
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
                section: headings_above(&content.chunks, ordinal),
                untrusted: document.guard == "fence",
                labels: document.labels.clone(),
            });
        }
        Ok(sources)
    }
}

/// The markdown headings above chunk `ordinal` of a document, outermost
/// first: each heading line of the chunks before it (chunks may overlap, so
/// a line is taken once, by its offset in the document), kept while no
/// heading of the same or a higher level follows.
fn headings_above(chunks: &[crate::store::Chunk], ordinal: usize) -> Vec<String> {
    let Some(target) = chunks.get(ordinal) else {
        return Vec::new();
    };
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut seen_until = 0usize;
    for chunk in &chunks[..=ordinal] {
        let mut offset = chunk.start;
        for line in chunk.text.split_inclusive('\n') {
            let at = offset;
            offset += line.len();
            if at < seen_until || at >= target.start {
                continue;
            }
            let trimmed = line.trim();
            let level = trimmed.chars().take_while(|&c| c == '#').count();
            if level > 0 && trimmed[level..].starts_with(' ') {
                stack.retain(|(outer, _)| *outer < level);
                stack.push((level, trimmed.to_string()));
            }
        }
        seen_until = seen_until.max(offset);
    }
    stack.into_iter().map(|(_, heading)| heading).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Chunk;

    fn chunk(ordinal: usize, start: usize, text: &str) -> Chunk {
        Chunk {
            key: ordinal as u64,
            ordinal,
            start,
            end: start + text.len(),
            location: None,
            text: text.to_string(),
            vector: Vec::new(),
        }
    }

    #[test]
    fn headings_above_a_chunk_come_from_the_chunks_before_it() {
        let first = "# Policy\n\n## 1. Leave\n\nText.\n\n## 2. Parents\n\n";
        let second = "## 2. Parents\n\n### Enhancement\n\nMore text.\n";
        // The second chunk overlaps the first by its opening heading.
        let overlap = first.len() - "## 2. Parents\n\n".len();
        let third = "Eligible employees receive 16 weeks.\n";
        let third_start = overlap + second.len();
        let chunks = [
            chunk(0, 0, first),
            chunk(1, overlap, second),
            chunk(2, third_start, third),
        ];
        assert_eq!(headings_above(&chunks, 0), Vec::<String>::new());
        // Above the second chunk's start; its own "## 2. Parents" replaces
        // "## 1. Leave" when the verifier reads the chunk.
        assert_eq!(headings_above(&chunks, 1), ["# Policy", "## 1. Leave"]);
        assert_eq!(
            headings_above(&chunks, 2),
            ["# Policy", "## 2. Parents", "### Enhancement"]
        );
        assert!(headings_above(&chunks, 9).is_empty());
    }
}
