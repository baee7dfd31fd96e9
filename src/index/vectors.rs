//! The approximate nearest-neighbour index over chunk embeddings (usearch HNSW,
//! cosine, f32 stored explicitly: usearch's default would silently store BF16).
//!
//! The index is derived data: it is rebuilt from the stored vectors whenever the
//! store is opened, so a missing index can never lose knowledge.

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::IndexError;

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

    /// Builds an index from `(key, vector)` pairs.
    pub fn build<'a>(
        dimensions: usize,
        entries: impl ExactSizeIterator<Item = (u64, &'a [f32])>,
    ) -> Result<Self, IndexError> {
        let index = Self::new(dimensions, entries.len())?;
        for (key, vector) in entries {
            index.add(key, vector)?;
        }
        Ok(index)
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
