//! The in-memory twin of the file store, for tests and throw-away sessions.

use std::sync::RwLock;

use super::{KnowledgeStore, Snapshot, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    snapshot: RwLock<Snapshot>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl KnowledgeStore for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(self
            .snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone())
    }

    fn commit(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        *self
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot.clone();
        Ok(())
    }
}
