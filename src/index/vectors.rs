//! The approximate nearest-neighbour index over chunk embeddings (usearch HNSW,
//! cosine, f32 stored explicitly: usearch's default would silently store BF16).
//!
//! The index is derived data: the store keeps it encrypted beside the catalog
//! generation it was built for, and [`tenant_index`] rebuilds it from the stored
//! vectors whenever it is missing, stale or damaged, so it can never lose knowledge.

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::IndexError;
use crate::store::{Catalog, KnowledgeStore};

/// One nearest neighbour: the chunk key and its cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub key: u64,
    pub similarity: f32,
}

pub struct VectorIndex {
    index: Index,
}

impl VectorIndex {
    pub fn new(dimensions: usize, capacity: usize) -> Result<Self, IndexError> {
        let options = IndexOptions {
            dimensions,
            metric: MetricKind::Cos,
            quantization: ScalarKind::F32,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
            multi: false,
        };
        let index = Index::new(&options).map_err(|err| IndexError::Vector {
            message: err.to_string(),
        })?;
        index
            .reserve(capacity.max(16))
            .map_err(|err| IndexError::Vector {
                message: err.to_string(),
            })?;
        Ok(Self { index })
    }

    pub fn add(&self, key: u64, vector: &[f32]) -> Result<(), IndexError> {
        if vector.len() != self.index.dimensions() {
            return Err(IndexError::Vector {
                message: format!(
                    "vector for key {key} has {} dimensions, index has {}",
                    vector.len(),
                    self.index.dimensions()
                ),
            });
        }
        if self.index.size() >= self.index.capacity() {
            self.index
                .reserve((self.index.capacity() * 2).max(16))
                .map_err(|err| IndexError::Vector {
                    message: err.to_string(),
                })?;
        }
        self.index
            .add(key, vector)
            .map_err(|err| IndexError::Vector {
                message: err.to_string(),
            })
    }

    /// Removes a chunk's vector (absent keys are ignored).
    pub fn remove(&self, key: u64) -> Result<(), IndexError> {
        self.index
            .remove(key)
            .map(|_| ())
            .map_err(|err| IndexError::Vector {
                message: err.to_string(),
            })
    }

    pub fn contains(&self, key: u64) -> bool {
        self.index.contains(key)
    }

    /// The index serialised, for the store to encrypt.
    pub fn to_bytes(&self) -> Result<Vec<u8>, IndexError> {
        let mut bytes = vec![0u8; self.index.serialized_length()];
        self.index
            .save_to_buffer(&mut bytes)
            .map_err(|err| IndexError::Vector {
                message: err.to_string(),
            })?;
        Ok(bytes)
    }

    /// An index read back from [`to_bytes`](Self::to_bytes); `None` if the bytes
    /// do not hold an index of `dimensions`.
    pub fn from_bytes(dimensions: usize, bytes: &[u8]) -> Option<Self> {
        let index = Self::new(dimensions, 16).ok()?;
        index.index.load_from_buffer(bytes).ok()?;
        (index.index.dimensions() == dimensions).then_some(index)
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k` nearest chunks, most similar first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Neighbour>, IndexError> {
        if self.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let matches = self
            .index
            .search(query, k)
            .map_err(|err| IndexError::Vector {
                message: err.to_string(),
            })?;
        Ok(matches
            .keys
            .iter()
            .zip(matches.distances.iter())
            .map(|(&key, &distance)| Neighbour {
                key,
                similarity: 1.0 - distance,
            })
            .collect())
    }
}

impl VectorIndex {
    /// The `k` nearest chunks for which `admit(key)` holds, most similar
    /// first. The predicate runs inside the graph search (usearch's filtered
    /// search), so a chunk it refuses is never a candidate.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        admit: impl Fn(u64) -> bool,
    ) -> Result<Vec<Neighbour>, IndexError> {
        if self.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let matches =
            self.index
                .filtered_search(query, k, admit)
                .map_err(|err| IndexError::Vector {
                    message: err.to_string(),
                })?;
        Ok(matches
            .keys
            .iter()
            .zip(matches.distances.iter())
            .map(|(&key, &distance)| Neighbour {
                key,
                similarity: 1.0 - distance,
            })
            .collect())
    }
}

/// The vector index of a tenant's catalog: the saved one when it is intact and
/// covers exactly the catalog's chunks, else rebuilt from the stored vectors
/// (and saved again). The flag says whether it was rebuilt.
pub fn tenant_index(
    store: &dyn KnowledgeStore,
    catalog: &Catalog,
    dimensions: usize,
) -> Result<(VectorIndex, bool), IndexError> {
    let saved = store
        .load_index(&catalog.tenant, catalog.generation)?
        .and_then(|bytes| VectorIndex::from_bytes(dimensions, &bytes))
        .filter(|index| {
            index.len() == catalog.total_chunks()
                && catalog
                    .documents
                    .iter()
                    .all(|document| document.keys().all(|key| index.contains(key)))
        });
    if let Some(index) = saved {
        return Ok((index, false));
    }
    let index = VectorIndex::new(dimensions, catalog.total_chunks())?;
    for document in &catalog.documents {
        for chunk in store.content(&catalog.tenant, document)?.chunks {
            index.add(chunk.key, &chunk.vector)?;
        }
    }
    if !catalog.documents.is_empty() {
        if let Err(err) = store.save_index(&catalog.tenant, catalog.generation, &index.to_bytes()?)
        {
            tracing::warn!("could not save the rebuilt index: {err}");
        }
    }
    Ok((index, true))
}
