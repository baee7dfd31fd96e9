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
        Ok(neighbours(&matches))
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
        Ok(neighbours(&matches))
    }
}

impl VectorIndex {
    /// Exact nearest neighbours among `keys` (brute force over their stored
    /// vectors): the fallback when a narrow filter starves the graph search.
    pub fn search_exact(
        &self,
        query: &[f32],
        k: usize,
        keys: impl Iterator<Item = u64>,
    ) -> Result<Vec<Neighbour>, IndexError> {
        let dimensions = self.index.dimensions();
        let query_norm = query
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::EPSILON);
        let mut vector = vec![0f32; dimensions];
        let mut scored = Vec::new();
        for key in keys {
            let found = self
                .index
                .get(key, &mut vector)
                .map_err(|err| IndexError::Vector {
                    message: err.to_string(),
                })?;
            if found == 0 {
                continue;
            }
            let dot: f32 = vector.iter().zip(query).map(|(a, b)| a * b).sum();
            let norm = vector
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(f32::EPSILON);
            scored.push(Neighbour {
                key,
                similarity: dot / (norm * query_norm),
            });
        }
        scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        scored.truncate(k);
        Ok(scored)
    }
}

/// usearch's matches as neighbours (cosine distance → similarity).
fn neighbours(matches: &usearch::ffi::Matches) -> Vec<Neighbour> {
    matches
        .keys
        .iter()
        .zip(matches.distances.iter())
        .map(|(&key, &distance)| Neighbour {
            key,
            similarity: 1.0 - distance,
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: u64, dimensions: usize) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..dimensions)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / u32::MAX as f32) - 0.25
            })
            .collect()
    }

    #[test]
    fn filtered_search_returns_only_admitted_keys_and_exact_search_ranks_them() {
        let index = VectorIndex::new(16, 2000).unwrap();
        for key in 0..2000 {
            index.add(key, &vector(key, 16)).unwrap();
        }
        let admitted = [17u64, 940, 1999];
        let query = vector(5, 16);
        let filtered = index
            .search_filtered(&query, 5, |key| admitted.contains(&key))
            .unwrap();
        assert!(filtered.iter().all(|n| admitted.contains(&n.key)));
        let exact = index
            .search_exact(&query, 5, admitted.iter().copied())
            .unwrap();
        let mut keys: Vec<u64> = exact.iter().map(|n| n.key).collect();
        keys.sort_unstable();
        assert_eq!(keys, admitted);
        assert!(exact.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        // The exact similarity agrees with the graph's for a key both return.
        let unfiltered = index.search(&query, 1).unwrap()[0];
        let again = index
            .search_exact(&query, 1, std::iter::once(unfiltered.key))
            .unwrap()[0];
        assert!((again.similarity - unfiltered.similarity).abs() < 1e-4);
    }
}
