//! The encrypted store: every file under `<home>/store/` is authenticated
//! ciphertext behind a small plaintext header of format numbers and random ids.
//!
//! Layout (`t…` are random tenant ids, `d…` random document ids):
//! ```text
//! store/MANIFEST                     tenants: names, ids, catalog generation, key version
//!                                    (sealed with a key derived from the master key)
//! store/LOCK                         writers take it while they commit
//! store/t…/catalog-<gen>.wks         catalog + per-document data keys (tenant key)
//! store/t…/doc-d…-<version>.wks      chunks, spans, vectors, hidden text (document key)
//! store/t…/index-<gen>.wks           the usearch index (key derived from the tenant key)
//! ```
//! A commit writes new files under new names, then replaces `MANIFEST`
//! atomically (write, fsync, rename, fsync folder): that rename is the commit
//! point, so a crash leaves either the old state or the new one. Files no
//! longer referenced are deleted afterwards and at the next write.
//!
//! Associated data binds every ciphertext to its header (tenant, document,
//! version, generation): a file moved between tenants or documents, or edited
//! anywhere, fails to authenticate and is reported by name.
//!
//! Erasure destroys keys. Forgetting a document writes the catalog under a new
//! tenant key version and destroys the old version in the keyring; forgetting
//! a tenant destroys all its key versions. A copy of the store taken before
//! then holds the forgotten data keys only under keys that no longer exist.

use std::collections::HashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    apply_to_catalog, assign_versions, remove_document, validate_change, validate_tenant_name,
    Catalog, Change, Chunk, Document, DocumentContent, KnowledgeStore, StoreError, DEFAULT_TENANT,
};
use crate::crypto::{random_id, Keyring, SecretKey};
use crate::durable::{self, TEMP_SUFFIX};

const FORMAT: u32 = 1;
const MANIFEST_MAGIC: &[u8; 8] = b"WARDENMF";
const CATALOG_MAGIC: &[u8; 8] = b"WARDENCT";
const DOCUMENT_MAGIC: &[u8; 8] = b"WARDENDC";
const INDEX_MAGIC: &[u8; 8] = b"WARDENIX";
/// Largest header accepted: headers hold a few ids.
const MAX_HEADER: usize = 4096;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct ManifestHeader {
    keyring: String,
    store: String,
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct ManifestBody {
    tenants: Vec<TenantEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct TenantEntry {
    id: String,
    name: String,
    generation: u64,
    key_version: u32,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct CatalogHeader {
    tenant: String,
    generation: u64,
    key_version: u32,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct DocumentHeader {
    tenant: String,
    document: String,
    version: u64,
}

/// A catalog as stored: with the data key of every document (hex).
#[derive(Serialize, Deserialize, Default)]
struct TenantFile {
    catalog: Catalog,
    /// Document id → data key (hex), wiped from memory when dropped.
    data_keys: BTreeMap<String, Zeroizing<String>>,
}

/// What `warden store verify` found.
#[derive(Debug, Default, Serialize)]
pub struct IntegrityReport {
    pub manifest_error: Option<String>,
    pub tenants: Vec<TenantIntegrity>,
    /// Files no commit refers to (left by an interrupted run; removed at the next write).
    pub unreferenced_files: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct TenantIntegrity {
    pub name: String,
    pub id: String,
    pub catalog_error: Option<String>,
    pub documents: usize,
    pub chunks: usize,
    pub damaged: Vec<DamagedDocument>,
    /// `ok`, `missing` or `damaged: …` (a missing or damaged index is rebuilt
    /// from the stored vectors when the tenant is next opened).
    pub index: String,
}

#[derive(Debug, Serialize)]
pub struct DamagedDocument {
    pub id: String,
    pub source: String,
    pub error: String,
}

impl IntegrityReport {
    /// True when every record authenticated (a missing index is not damage).
    pub fn is_intact(&self) -> bool {
        self.manifest_error.is_none()
            && self.tenants.iter().all(|tenant| {
                tenant.catalog_error.is_none()
                    && tenant.damaged.is_empty()
                    && !tenant.index.starts_with("damaged")
            })
    }
}

pub struct EncryptedStore {
    dir: PathBuf,
    keyring: Arc<Keyring>,
    /// The last catalog read per tenant id, reused while `MANIFEST` still names
    /// its generation and key version (readers decrypt it once, not per document).
    catalogs: Mutex<HashMap<String, Arc<(TenantEntry, TenantFile)>>>,
}

impl EncryptedStore {
    /// Creates an empty store bound to `keyring`, with the default tenant.
    pub fn create(dir: &Path, keyring: Arc<Keyring>) -> Result<Self, StoreError> {
        let store = Self {
            dir: dir.to_path_buf(),
            keyring,
            catalogs: Mutex::new(HashMap::new()),
        };
        let occupied = fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if occupied {
            return Err(StoreError::NotEmpty {
                path: dir.to_path_buf(),
            });
        }
        let header = ManifestHeader {
            keyring: store.keyring.id().to_string(),
            store: random_id("s")?,
        };
        store.write_manifest_with(&header, &ManifestBody::default())?;
        store.add_tenant(DEFAULT_TENANT)?;
        Ok(store)
    }

    /// Opens an existing store; fails if it belongs to another keyring.
    pub fn open(dir: &Path, keyring: Arc<Keyring>) -> Result<Self, StoreError> {
        let store = Self {
            dir: dir.to_path_buf(),
            keyring,
            catalogs: Mutex::new(HashMap::new()),
        };
        store.read_manifest()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join("MANIFEST")
    }

    fn manifest_key(&self) -> SecretKey {
        self.keyring.derive("warden store manifest v1")
    }

    fn read_manifest(&self) -> Result<(ManifestHeader, ManifestBody), StoreError> {
        let path = self.manifest_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing {
                    path: self.dir.clone(),
                })
            }
            Err(error) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    error,
                })
            }
        };
        let (header, prefix): (ManifestHeader, usize) =
            parse_header(&bytes, MANIFEST_MAGIC, &path, "the store manifest")?;
        if header.keyring != self.keyring.id() {
            return Err(StoreError::WrongKeyring {
                path: self.dir.clone(),
                found: header.keyring,
                expected: self.keyring.id().to_string(),
            });
        }
        let plain = open_sealed(&self.manifest_key(), &bytes, prefix, "the store manifest")?;
        let body = serde_json::from_slice(&plain).map_err(|err| StoreError::Damaged {
            what: "the store manifest".into(),
            message: err.to_string(),
        })?;
        Ok((header, body))
    }

    fn write_manifest_with(
        &self,
        header: &ManifestHeader,
        body: &ManifestBody,
    ) -> Result<(), StoreError> {
        let bytes = seal_file(MANIFEST_MAGIC, header, &self.manifest_key(), &to_json(body))?;
        write_atomic(&self.manifest_path(), &bytes)
    }

    /// Holds the writer lock until dropped.
    fn lock(&self) -> Result<File, StoreError> {
        let path = self.dir.join("LOCK");
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(file)
    }

    fn entry<'a>(body: &'a ManifestBody, name: &str) -> Result<&'a TenantEntry, StoreError> {
        body.tenants
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| StoreError::UnknownTenant {
                name: name.to_string(),
            })
    }

    fn tenant_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn catalog_path(&self, entry: &TenantEntry, generation: u64) -> PathBuf {
        self.tenant_dir(&entry.id)
            .join(format!("catalog-{generation}.wks"))
    }

    fn index_path(&self, entry: &TenantEntry, generation: u64) -> PathBuf {
        self.tenant_dir(&entry.id)
            .join(format!("index-{generation}.wks"))
    }

    fn document_path(&self, entry: &TenantEntry, id: &str, version: u64) -> PathBuf {
        self.tenant_dir(&entry.id)
            .join(format!("doc-{id}-{version}.wks"))
    }

    fn tenant_key(&self, entry: &TenantEntry) -> Result<SecretKey, StoreError> {
        Ok(self.keyring.tenant_key(&entry.id, entry.key_version)?)
    }

    fn read_tenant_file(&self, entry: &TenantEntry) -> Result<TenantFile, StoreError> {
        let path = self.catalog_path(entry, entry.generation);
        let what = format!("the catalog of tenant `{}`", entry.name);
        let bytes = fs::read(&path).map_err(io("read", &path))?;
        let (header, prefix): (CatalogHeader, usize) =
            parse_header(&bytes, CATALOG_MAGIC, &path, &what)?;
        let expected = CatalogHeader {
            tenant: entry.id.clone(),
            generation: entry.generation,
            key_version: entry.key_version,
        };
        if header != expected {
            return Err(StoreError::Damaged {
                what,
                message: format!("the file holds {header:?}, the manifest expects {expected:?}"),
            });
        }
        let key = self.tenant_key(entry)?.derive("warden catalog v1");
        let plain = Zeroizing::new(open_sealed(&key, &bytes, prefix, &what)?);
        serde_json::from_slice(&plain).map_err(|err| StoreError::Damaged {
            what,
            message: err.to_string(),
        })
    }

    fn write_tenant_file(
        &self,
        entry: &TenantEntry,
        key: &SecretKey,
        file: &TenantFile,
    ) -> Result<(), StoreError> {
        let header = CatalogHeader {
            tenant: entry.id.clone(),
            generation: entry.generation,
            key_version: entry.key_version,
        };
        let plain = Zeroizing::new(to_json(file));
        let bytes = seal_file(
            CATALOG_MAGIC,
            &header,
            &key.derive("warden catalog v1"),
            &plain,
        )?;
        write_atomic(&self.catalog_path(entry, entry.generation), &bytes)
    }

    fn write_index(
        &self,
        entry: &TenantEntry,
        key: &SecretKey,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let header = CatalogHeader {
            tenant: entry.id.clone(),
            generation: entry.generation,
            key_version: entry.key_version,
        };
        let sealed = seal_file(INDEX_MAGIC, &header, &key.derive("warden index v1"), bytes)?;
        write_atomic(&self.index_path(entry, entry.generation), &sealed)
    }

    fn read_index(&self, entry: &TenantEntry) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.index_path(entry, entry.generation);
        let what = format!("the vector index of tenant `{}`", entry.name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io("read", &path)(error)),
        };
        let (header, prefix): (CatalogHeader, usize) =
            parse_header(&bytes, INDEX_MAGIC, &path, &what)?;
        if header.tenant != entry.id
            || header.generation != entry.generation
            || header.key_version != entry.key_version
        {
            return Err(StoreError::Damaged {
                what,
                message: "the header names another tenant or generation".into(),
            });
        }
        let key = self.tenant_key(entry)?.derive("warden index v1");
        open_sealed(&key, &bytes, prefix, &what).map(Some)
    }

    fn read_content(
        &self,
        entry: &TenantEntry,
        file: &TenantFile,
        document: &Document,
    ) -> Result<DocumentContent, StoreError> {
        let what = format!("document `{}` ({})", document.source, document.id);
        let path = self.document_path(entry, &document.id, document.version);
        let bytes = fs::read(&path).map_err(|err| StoreError::Damaged {
            what: what.clone(),
            message: format!("cannot read {}: {err}", path.display()),
        })?;
        let (header, prefix): (DocumentHeader, usize) =
            parse_header(&bytes, DOCUMENT_MAGIC, &path, &what)?;
        let expected = DocumentHeader {
            tenant: entry.id.clone(),
            document: document.id.clone(),
            version: document.version,
        };
        if header != expected {
            return Err(StoreError::Damaged {
                what,
                message: format!(
                    "the file holds tenant {} document {} version {}: it was moved or replaced",
                    header.tenant, header.document, header.version
                ),
            });
        }
        let key = file
            .data_keys
            .get(&document.id)
            .and_then(|hex_key| hex::decode(hex_key.as_str()).ok())
            .and_then(|bytes| SecretKey::from_slice(&Zeroizing::new(bytes)))
            .ok_or_else(|| StoreError::Damaged {
                what: what.clone(),
                message: "its data key is missing from the catalog".into(),
            })?;
        let plain = Zeroizing::new(open_sealed(&key, &bytes, prefix, &what)?);
        decode_content(&plain, document, file.catalog.dimensions).map_err(|message| {
            StoreError::Damaged {
                what: what.clone(),
                message,
            }
        })
    }

    /// Reads a tenant's manifest entry and catalog, retrying if a concurrent
    /// commit replaced the catalog between the two reads.
    fn snapshot(&self, tenant: &str) -> Result<(TenantEntry, TenantFile), StoreError> {
        let mut attempts = 0;
        loop {
            let (_, body) = self.read_manifest()?;
            let entry = Self::entry(&body, tenant)?.clone();
            match self.read_tenant_file(&entry) {
                Err(StoreError::Io { error, .. })
                    if error.kind() == std::io::ErrorKind::NotFound && attempts < 3 =>
                {
                    attempts += 1;
                }
                Err(StoreError::Io { error, .. })
                    if error.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Err(StoreError::Damaged {
                        what: format!("the catalog of tenant `{tenant}`"),
                        message: "its file is missing".into(),
                    })
                }
                result => return result.map(|file| (entry, file)),
            }
        }
    }

    /// Drops a tenant's cached catalog (and the data keys in it) from memory.
    fn evict(&self, tenant_id: &str) {
        self.catalogs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(tenant_id);
    }

    /// The tenant's current catalog for readers, decrypted once per generation.
    fn cached_snapshot(&self, tenant: &str) -> Result<Arc<(TenantEntry, TenantFile)>, StoreError> {
        let (_, body) = self.read_manifest()?;
        let entry = Self::entry(&body, tenant)?;
        let mut cache = self
            .catalogs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cached) = cache.get(&entry.id) {
            if cached.0.generation == entry.generation && cached.0.key_version == entry.key_version
            {
                return Ok(cached.clone());
            }
        }
        let snapshot = Arc::new(self.snapshot(tenant)?);
        cache.insert(snapshot.0.id.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// Destroys key versions that the manifest no longer uses (left by a
    /// `forget` that was interrupted after its commit).
    fn retire_stale_keys(&self, entry: &TenantEntry) -> Result<(), StoreError> {
        let versions = self.keyring.tenant_key_versions(&entry.id)?;
        if versions.iter().any(|version| *version != entry.key_version) {
            self.keyring
                .retire_tenant_keys(&entry.id, entry.key_version)?;
        }
        Ok(())
    }

    /// Deletes files that no commit refers to: old generations, replaced
    /// documents, temporary files and folders of forgotten tenants.
    fn collect_garbage(&self, body: &ManifestBody, committed: Option<(&TenantEntry, &Catalog)>) {
        for path in self.unreferenced(body, committed) {
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }

    /// Files no commit refers to. With `committed`, only that tenant's folder
    /// is examined, against the catalog just written (a commit touches one
    /// tenant: there is no need to decrypt every other tenant's catalog).
    fn unreferenced(
        &self,
        body: &ManifestBody,
        committed: Option<(&TenantEntry, &Catalog)>,
    ) -> Vec<PathBuf> {
        let mut unreferenced = Vec::new();
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return unreferenced;
        };
        let tenants: BTreeMap<&str, &TenantEntry> = body
            .tenants
            .iter()
            .map(|entry| (entry.id.as_str(), entry))
            .collect();
        for item in entries.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let path = item.path();
            if name == "MANIFEST" || name == "LOCK" {
                continue;
            }
            match tenants.get(name.as_str()) {
                Some(entry) if path.is_dir() => {
                    let mut keep = BTreeSet::from([
                        format!("catalog-{}.wks", entry.generation),
                        format!("index-{}.wks", entry.generation),
                    ]);
                    let read;
                    let catalog = match committed {
                        Some((only, _)) if only.id != entry.id => continue,
                        Some((_, catalog)) => catalog,
                        None => match self.read_tenant_file(entry) {
                            Ok(file) => {
                                read = file;
                                &read.catalog
                            }
                            // An unreadable catalog: keep everything for inspection.
                            Err(_) => continue,
                        },
                    };
                    for document in &catalog.documents {
                        keep.insert(format!("doc-{}-{}.wks", document.id, document.version));
                    }
                    for file in fs::read_dir(&path).into_iter().flatten().flatten() {
                        let file_name = file.file_name().to_string_lossy().into_owned();
                        if !keep.contains(&file_name) {
                            unreferenced.push(file.path());
                        }
                    }
                }
                _ if name.ends_with(TEMP_SUFFIX)
                    || (path.is_dir() && name.starts_with('t') && name.len() == 17) =>
                {
                    unreferenced.push(path)
                }
                _ => {}
            }
        }
        unreferenced
    }

    /// Authenticates every record of every tenant.
    pub fn verify(&self) -> IntegrityReport {
        let mut report = IntegrityReport::default();
        let body = match self.read_manifest() {
            Ok((_, body)) => body,
            Err(err) => {
                report.manifest_error = Some(err.to_string());
                return report;
            }
        };
        for entry in &body.tenants {
            let mut tenant = TenantIntegrity {
                name: entry.name.clone(),
                id: entry.id.clone(),
                ..TenantIntegrity::default()
            };
            match self.read_tenant_file(entry) {
                Err(err) => tenant.catalog_error = Some(err.to_string()),
                Ok(file) => {
                    tenant.documents = file.catalog.documents.len();
                    for document in &file.catalog.documents {
                        match self.read_content(entry, &file, document) {
                            Ok(content) => tenant.chunks += content.chunks.len(),
                            Err(err) => tenant.damaged.push(DamagedDocument {
                                id: document.id.clone(),
                                source: document.source.clone(),
                                error: err.to_string(),
                            }),
                        }
                    }
                    tenant.index = match self.read_index(entry) {
                        Ok(Some(_)) => "ok".into(),
                        Ok(None) if file.catalog.documents.is_empty() => "ok".into(),
                        Ok(None) => "missing".into(),
                        Err(err) => format!("damaged: {err}"),
                    };
                }
            }
            report.tenants.push(tenant);
        }
        report.unreferenced_files = self
            .unreferenced(&body, None)
            .into_iter()
            .map(|path| path.display().to_string())
            .collect();
        report
    }
}

impl KnowledgeStore for EncryptedStore {
    fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let (_, body) = self.read_manifest()?;
        let mut names: Vec<String> = body.tenants.into_iter().map(|entry| entry.name).collect();
        names.sort();
        Ok(names)
    }

    fn add_tenant(&self, name: &str) -> Result<(), StoreError> {
        validate_tenant_name(name)?;
        let _lock = self.lock()?;
        let (header, mut body) = self.read_manifest()?;
        if body.tenants.iter().any(|entry| entry.name == name) {
            return Err(StoreError::TenantExists {
                name: name.to_string(),
            });
        }
        let id = random_id("t")?[..17].to_string();
        let (key_version, key) = self.keyring.add_tenant_key(&id)?;
        let entry = TenantEntry {
            id,
            name: name.to_string(),
            generation: 0,
            key_version,
        };
        let file = TenantFile {
            catalog: Catalog {
                tenant: name.to_string(),
                ..Catalog::default()
            },
            data_keys: BTreeMap::new(),
        };
        self.write_tenant_file(&entry, &key, &file)?;
        body.tenants.push(entry);
        self.write_manifest_with(&header, &body)
    }

    fn catalog(&self, tenant: &str) -> Result<Catalog, StoreError> {
        Ok(self.cached_snapshot(tenant)?.1.catalog.clone())
    }

    fn content(&self, tenant: &str, document: &Document) -> Result<DocumentContent, StoreError> {
        let snapshot = self.cached_snapshot(tenant)?;
        let (entry, file) = (&snapshot.0, &snapshot.1);
        let current =
            file.catalog
                .document(&document.id)
                .ok_or_else(|| StoreError::UnknownDocument {
                    tenant: tenant.to_string(),
                    id: document.id.clone(),
                })?;
        if current.version != document.version {
            return Err(StoreError::Conflict {
                tenant: tenant.to_string(),
            });
        }
        self.read_content(entry, file, current)
    }

    fn commit(&self, tenant: &str, mut change: Change) -> Result<Catalog, StoreError> {
        let _lock = self.lock()?;
        // Under the writer lock nothing changes between these reads.
        let (header, mut body) = self.read_manifest()?;
        let entry = Self::entry(&body, tenant)?.clone();
        let mut file = self.read_tenant_file(&entry)?;
        self.retire_stale_keys(&entry)?;
        validate_change(&file.catalog, &change)?;
        let key = self.tenant_key(&entry)?;
        assign_versions(&file.catalog, &mut change);
        for (document, content) in &change.put {
            let data_key = SecretKey::random()?;
            let header = DocumentHeader {
                tenant: entry.id.clone(),
                document: document.id.clone(),
                version: document.version,
            };
            let plain = Zeroizing::new(encode_content(content));
            let bytes = seal_file(DOCUMENT_MAGIC, &header, &data_key, &plain)?;
            write_atomic(
                &self.document_path(&entry, &document.id, document.version),
                &bytes,
            )?;
            file.data_keys.insert(
                document.id.clone(),
                Zeroizing::new(hex::encode(data_key.expose())),
            );
        }
        apply_to_catalog(&mut file.catalog, &change);
        for id in &change.remove {
            file.data_keys.remove(id);
        }
        let next = TenantEntry {
            generation: file.catalog.generation,
            ..entry.clone()
        };
        self.write_tenant_file(&next, &key, &file)?;
        if let Some(index) = &change.index {
            self.write_index(&next, &key, index)?;
        }
        for slot in &mut body.tenants {
            if slot.id == next.id {
                *slot = next.clone();
            }
        }
        self.write_manifest_with(&header, &body)?;
        self.collect_garbage(&body, Some((&next, &file.catalog)));
        Ok(file.catalog)
    }

    fn forget_document(
        &self,
        tenant: &str,
        id: &str,
        index: Option<Vec<u8>>,
    ) -> Result<Catalog, StoreError> {
        let _lock = self.lock()?;
        // Under the writer lock nothing changes between these reads.
        let (header, mut body) = self.read_manifest()?;
        let entry = Self::entry(&body, tenant)?.clone();
        let mut file = self.read_tenant_file(&entry)?;
        self.retire_stale_keys(&entry)?;
        remove_document(&mut file.catalog, id)?;
        file.data_keys.remove(id);
        // Re-key: the remaining data keys go under a fresh tenant key version,
        // and the old version (the only key to the forgotten data key in any
        // earlier copy) is destroyed once the new catalog is committed.
        let (key_version, key) = self.keyring.add_tenant_key(&entry.id)?;
        let next = TenantEntry {
            generation: file.catalog.generation,
            key_version,
            ..entry.clone()
        };
        self.write_tenant_file(&next, &key, &file)?;
        if let Some(index) = &index {
            self.write_index(&next, &key, index)?;
        }
        for slot in &mut body.tenants {
            if slot.id == next.id {
                *slot = next.clone();
            }
        }
        self.write_manifest_with(&header, &body)?;
        self.keyring.retire_tenant_keys(&next.id, key_version)?;
        self.evict(&next.id);
        self.collect_garbage(&body, Some((&next, &file.catalog)));
        Ok(file.catalog)
    }

    fn forget_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let (header, mut body) = self.read_manifest()?;
        let entry = Self::entry(&body, tenant)?.clone();
        // Keys first: from here on the tenant's data is unreadable everywhere;
        // an interrupted run is finished by running `forget` again.
        self.keyring.destroy_tenant_keys(&entry.id)?;
        self.evict(&entry.id);
        body.tenants.retain(|slot| slot.id != entry.id);
        self.write_manifest_with(&header, &body)?;
        self.collect_garbage(&body, None);
        Ok(())
    }

    fn load_index(&self, tenant: &str, generation: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let (_, body) = self.read_manifest()?;
        let entry = Self::entry(&body, tenant)?;
        if entry.generation != generation {
            return Ok(None);
        }
        match self.read_index(entry) {
            Ok(index) => Ok(index),
            Err(StoreError::Damaged { what, message }) => {
                tracing::warn!("{what} is damaged ({message}); rebuilding it");
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    fn save_index(&self, tenant: &str, generation: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let (_, body) = self.read_manifest()?;
        let entry = Self::entry(&body, tenant)?;
        if entry.generation != generation {
            return Ok(());
        }
        let key = self.tenant_key(entry)?;
        self.write_index(entry, &key, bytes)
    }
}

/// `magic ‖ format (u32 LE) ‖ header length (u32 LE) ‖ header JSON ‖ sealed`,
/// where everything before `sealed` is its associated data.
fn seal_file<H: Serialize>(
    magic: &[u8; 8],
    header: &H,
    key: &SecretKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let header = to_json(header);
    let mut bytes = Vec::with_capacity(16 + header.len() + plaintext.len() + 28);
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&header);
    let sealed = key.seal(&bytes, plaintext)?;
    bytes.extend_from_slice(&sealed);
    Ok(bytes)
}

fn parse_header<H: DeserializeOwned>(
    bytes: &[u8],
    magic: &[u8; 8],
    path: &Path,
    what: &str,
) -> Result<(H, usize), StoreError> {
    let damaged = |message: &str| StoreError::Damaged {
        what: what.to_string(),
        message: message.to_string(),
    };
    if bytes.len() < 16 || &bytes[..8] != magic {
        return Err(damaged("not a Warden store file of the expected kind"));
    }
    let format = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if format != FORMAT {
        return Err(StoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: format,
            supported: FORMAT,
        });
    }
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default()) as usize;
    if header_len > MAX_HEADER || bytes.len() < 16 + header_len {
        return Err(damaged("the header length is impossible"));
    }
    let header = serde_json::from_slice(&bytes[16..16 + header_len])
        .map_err(|_| damaged("the header does not parse"))?;
    Ok((header, 16 + header_len))
}

fn open_sealed(
    key: &SecretKey,
    bytes: &[u8],
    prefix: usize,
    what: &str,
) -> Result<Vec<u8>, StoreError> {
    key.open(&bytes[..prefix], &bytes[prefix..])
        .map_err(|err| StoreError::Damaged {
            what: what.to_string(),
            message: err.to_string(),
        })
}

/// Document content: `u64 LE JSON length ‖ JSON (without vectors) ‖ vectors as f32 LE`.
fn encode_content(content: &DocumentContent) -> Vec<u8> {
    let json = to_json(content);
    let dimensions: usize = content.chunks.iter().map(|chunk| chunk.vector.len()).sum();
    let mut bytes = Vec::with_capacity(8 + json.len() + dimensions * 4);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for chunk in &content.chunks {
        for value in &chunk.vector {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

fn decode_content(
    bytes: &[u8],
    document: &Document,
    dimensions: usize,
) -> Result<DocumentContent, String> {
    let json_len = bytes
        .get(..8)
        .and_then(|len| len.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or("content is truncated")? as usize;
    let json = bytes
        .get(8..8usize.saturating_add(json_len))
        .ok_or("content is truncated")?;
    let mut content: DocumentContent =
        serde_json::from_slice(json).map_err(|err| err.to_string())?;
    let vectors = &bytes[8 + json_len..];
    if content.chunks.len() != document.chunks
        || vectors.len() != content.chunks.len() * dimensions * 4
    {
        return Err("content does not match its catalog entry".into());
    }
    for (chunk, raw) in content
        .chunks
        .iter_mut()
        .zip(vectors.chunks_exact(dimensions.max(1) * 4))
    {
        chunk.vector = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
    }
    if content
        .chunks
        .iter()
        .enumerate()
        .any(|(offset, chunk): (usize, &Chunk)| chunk.key != document.first_key + offset as u64)
    {
        return Err("chunk keys do not match the catalog".into());
    }
    Ok(content)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    durable::write_atomic(path, bytes).map_err(io("write", path))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |error| StoreError::Io {
        action,
        path,
        error,
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain data structures: serialisation cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}
