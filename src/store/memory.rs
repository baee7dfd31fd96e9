//! The in-memory twin of the encrypted store, for tests and throw-away
//! sessions: the same semantics (tenants, generations, conflicts), no disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{
    apply_to_catalog, assign_versions, remove_document, validate_change, validate_tenant_name,
    Catalog, Change, Document, DocumentContent, KnowledgeStore, StoreError, DEFAULT_TENANT,
};

#[derive(Default)]
struct Tenant {
    catalog: Catalog,
    contents: HashMap<String, DocumentContent>,
    index: Option<(u64, Vec<u8>)>,
}

pub struct MemoryStore {
    tenants: Mutex<BTreeMap<String, Tenant>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with the default tenant.
    pub fn new() -> Self {
        let store = Self {
            tenants: Mutex::new(BTreeMap::new()),
        };
        let _ = store.add_tenant(DEFAULT_TENANT);
        store
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Tenant>> {
        self.tenants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unknown(tenant: &str) -> StoreError {
    StoreError::UnknownTenant {
        name: tenant.to_string(),
    }
}

impl KnowledgeStore for MemoryStore {
    fn tenants(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().keys().cloned().collect())
    }

    fn add_tenant(&self, name: &str) -> Result<(), StoreError> {
        validate_tenant_name(name)?;
        let mut tenants = self.lock();
        if tenants.contains_key(name) {
            return Err(StoreError::TenantExists {
                name: name.to_string(),
            });
        }
        let tenant = Tenant {
            catalog: Catalog {
                tenant: name.to_string(),
                ..Catalog::default()
            },
            ..Tenant::default()
        };
        tenants.insert(name.to_string(), tenant);
        Ok(())
    }

    fn catalog(&self, tenant: &str) -> Result<Catalog, StoreError> {
        self.lock()
            .get(tenant)
            .map(|t| t.catalog.clone())
            .ok_or_else(|| unknown(tenant))
    }

    fn content(&self, tenant: &str, document: &Document) -> Result<DocumentContent, StoreError> {
        let tenants = self.lock();
        let state = tenants.get(tenant).ok_or_else(|| unknown(tenant))?;
        state
            .contents
            .get(&document.id)
            .filter(|_| state.catalog.document(&document.id) == Some(document))
            .cloned()
            .ok_or_else(|| StoreError::UnknownDocument {
                tenant: tenant.to_string(),
                id: document.id.clone(),
            })
    }

    fn commit(&self, tenant: &str, mut change: Change) -> Result<Catalog, StoreError> {
        let mut tenants = self.lock();
        let state = tenants.get_mut(tenant).ok_or_else(|| unknown(tenant))?;
        validate_change(&state.catalog, &change)?;
        assign_versions(&state.catalog, &mut change);
        apply_to_catalog(&mut state.catalog, &change);
        for id in &change.remove {
            state.contents.remove(id);
        }
        for (document, content) in change.put {
            state.contents.insert(document.id, content);
        }
        state.index = change.index.map(|bytes| (state.catalog.generation, bytes));
        Ok(state.catalog.clone())
    }

    fn forget_document(
        &self,
        tenant: &str,
        id: &str,
        index: Option<Vec<u8>>,
    ) -> Result<Catalog, StoreError> {
        let mut tenants = self.lock();
        let state = tenants.get_mut(tenant).ok_or_else(|| unknown(tenant))?;
        remove_document(&mut state.catalog, id)?;
        state.contents.remove(id);
        state.index = index.map(|bytes| (state.catalog.generation, bytes));
        Ok(state.catalog.clone())
    }

    fn forget_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        self.lock()
            .remove(tenant)
            .map(|_| ())
            .ok_or_else(|| unknown(tenant))
    }

    fn load_index(&self, tenant: &str, generation: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let tenants = self.lock();
        let state = tenants.get(tenant).ok_or_else(|| unknown(tenant))?;
        Ok(state
            .index
            .as_ref()
            .filter(|(saved, _)| *saved == generation)
            .map(|(_, bytes)| bytes.clone()))
    }

    fn save_index(&self, tenant: &str, generation: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let mut tenants = self.lock();
        let state = tenants.get_mut(tenant).ok_or_else(|| unknown(tenant))?;
        if state.catalog.generation == generation {
            state.index = Some((generation, bytes.to_vec()));
        }
        Ok(())
    }
}
