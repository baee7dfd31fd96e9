//! The keyring: one random master key, wrapped by one or more unlockers, and
//! the tenant keys it wraps in turn.
//!
//! Layout of `<home>/keyring/`:
//! - `keyring.json`: the keyring's random id (plaintext, binds the store to it).
//! - `unlockers/<id>.json`: the master key wrapped by a key derived from a
//!   passphrase (Argon2id; parameters and salt stored beside it) or from a key
//!   file (HKDF). Many unlockers open one master key; changing a passphrase
//!   rewrites one small file.
//! - `tenants/<tenant id>.json`: the tenant's key versions, each wrapped by a
//!   key derived from the master key. Erasure destroys versions here, which is
//!   why these live in the keyring and not in the store: a copy of the store
//!   taken earlier holds nothing that a surviving key can open.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{derive_key, fill_random, random_id, CryptoError, SecretKey, KEY_LEN};
use crate::durable;

const FORMAT: u32 = 1;
const KEY_FILE_HEADER: &str = "warden-key-v1";
/// Shortest passphrase accepted for a new unlocker.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("no keyring in {dir}; create one with `warden init`")]
    Missing { dir: PathBuf },
    #[error("a keyring already exists in {dir}; refusing to overwrite it")]
    Exists { dir: PathBuf },
    #[error("the passphrase does not unlock this keyring")]
    WrongPassphrase,
    #[error("the key file {path} does not unlock this keyring")]
    WrongKeyFile { path: PathBuf },
    #[error("{path} is not a Warden key file ({message})")]
    BadKeyFile { path: PathBuf, message: String },
    #[error("this keyring has no {kind} unlocker")]
    NoUnlockerOfKind { kind: &'static str },
    #[error("{path} is damaged ({message}); restore it from backup")]
    Damaged { path: PathBuf, message: String },
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the passphrase is too short: at least {MIN_PASSPHRASE_CHARS} characters")]
    WeakPassphrase,
    #[error("no unlocker `{id}` in this keyring (see `warden keys list`)")]
    UnknownUnlocker { id: String },
    #[error("refusing to remove the last unlocker: the keyring could never be opened again")]
    LastUnlocker,
    #[error(
        "unlocker `{id}` is a key file; only passphrase unlockers have a passphrase to change"
    )]
    NotAPassphrase { id: String },
    #[error("invalid key-derivation parameters: {0}")]
    BadParams(String),
    #[error("tenant key {tenant} version {version} is not in the keyring (it was destroyed, or the store and keyring come from different backups)")]
    MissingTenantKey { tenant: String, version: u32 },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// How to open the keyring.
pub enum Unlock {
    Passphrase(Zeroizing<String>),
    KeyFile(PathBuf),
}

impl Unlock {
    fn kind(&self) -> &'static str {
        match self {
            Unlock::Passphrase(_) => "passphrase",
            Unlock::KeyFile(_) => "key-file",
        }
    }
}

/// Argon2id cost for passphrase unlockers; stored with each salt.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes: RFC 9106's second recommended memory and passes,
    /// above OWASP's minimum (one unlock takes well under 0.1 s here).
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    pub fn validate(&self) -> Result<(), KeyringError> {
        if self.memory_kib < 8 * 1024 {
            return Err(KeyringError::BadParams("memory below 8 MiB".into()));
        }
        if self.iterations == 0 || self.parallelism == 0 {
            return Err(KeyringError::BadParams(
                "iterations and parallelism must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What `warden keys list` shows: never key material.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnlockerInfo {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub created: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "kebab-case")]
enum Kdf {
    Argon2id {
        #[serde(flatten)]
        params: KdfParams,
        salt: String,
    },
    HkdfSha256 {
        salt: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Unlocker {
    #[serde(flatten)]
    info: UnlockerInfo,
    kdf: Kdf,
    /// nonce ‖ AES-GCM(master key) under the unlocker's key, hex.
    wrapped_master_key: String,
}

/// An unlocker file: the record and a checksum that tells damage apart from a
/// wrong passphrase.
#[derive(Serialize, Deserialize)]
struct UnlockerFile {
    unlocker: Unlocker,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct KeyringHeader {
    format: u32,
    keyring_id: String,
}

#[derive(Serialize, Deserialize, Default)]
struct TenantKeysFile {
    /// version → nonce ‖ AES-GCM(tenant key), hex.
    keys: BTreeMap<u32, String>,
}

/// An unlocked keyring. Holds the master key in memory (zeroized on drop).
pub struct Keyring {
    dir: PathBuf,
    id: String,
    master: SecretKey,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("dir", &self.dir)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn exists(dir: &Path) -> bool {
        dir.join("keyring.json").exists()
    }

    /// Creates a keyring with a fresh master key and its first unlocker.
    pub fn create(
        dir: &Path,
        first: &Unlock,
        params: KdfParams,
        label: &str,
    ) -> Result<Keyring, KeyringError> {
        if Self::exists(dir) {
            return Err(KeyringError::Exists {
                dir: dir.to_path_buf(),
            });
        }
        let keyring = Keyring {
            dir: dir.to_path_buf(),
            id: random_id("k")?,
            master: SecretKey::random()?,
        };
        // The unlocker goes first: a keyring.json without an unlocker would be
        // a keyring nobody can open.
        keyring.add_unlocker(first, params, label)?;
        let header = KeyringHeader {
            format: FORMAT,
            keyring_id: keyring.id.clone(),
        };
        keyring.write(&dir.join("keyring.json"), &to_json(&header))?;
        Ok(keyring)
    }

    /// Opens the keyring with a passphrase or key file, trying every unlocker
    /// of that kind.
    pub fn unlock(dir: &Path, unlock: &Unlock) -> Result<Keyring, KeyringError> {
        let header_path = dir.join("keyring.json");
        let header: KeyringHeader = match fs::read(&header_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| KeyringError::Damaged {
                path: header_path.clone(),
                message: err.to_string(),
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyringError::Missing {
                    dir: dir.to_path_buf(),
                })
            }
            Err(error) => {
                return Err(KeyringError::Io {
                    action: "read",
                    path: header_path,
                    error,
                })
            }
        };
        if header.format != FORMAT {
            return Err(KeyringError::Damaged {
                path: header_path,
                message: format!("format {} is not supported", header.format),
            });
        }
        let key_file_secret = match unlock {
            Unlock::KeyFile(path) => Some(read_key_file(path)?),
            Unlock::Passphrase(_) => None,
        };
        let mut tried = 0;
        for (path, unlocker) in read_unlockers(dir)? {
            let unlocker = unlocker?;
            let candidate = match (&unlocker.kdf, unlock) {
                (Kdf::Argon2id { params, salt }, Unlock::Passphrase(passphrase)) => {
                    passphrase_key(passphrase, params, &decode_hex(&path, salt)?)?
                }
                (Kdf::HkdfSha256 { salt }, Unlock::KeyFile(_)) => {
                    let secret = key_file_secret.as_ref().expect("read above");
                    derive_key(
                        secret.expose(),
                        &decode_hex(&path, salt)?,
                        "warden key file v1",
                    )
                }
                _ => continue,
            };
            tried += 1;
            let wrapped = decode_hex(&path, &unlocker.wrapped_master_key)?;
            let associated = unlocker_ad(&header.keyring_id, &unlocker.info.id);
            if let Ok(master) = candidate.open(&associated, &wrapped) {
                let master = Zeroizing::new(master);
                let master =
                    SecretKey::from_slice(&master).ok_or_else(|| KeyringError::Damaged {
                        path: path.clone(),
                        message: "wrapped key has the wrong length".into(),
                    })?;
                return Ok(Keyring {
                    dir: dir.to_path_buf(),
                    id: header.keyring_id,
                    master,
                });
            }
        }
        match unlock {
            _ if tried == 0 => Err(KeyringError::NoUnlockerOfKind {
                kind: unlock.kind(),
            }),
            Unlock::Passphrase(_) => Err(KeyringError::WrongPassphrase),
            Unlock::KeyFile(path) => Err(KeyringError::WrongKeyFile { path: path.clone() }),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A key derived from the master key for one purpose (e.g. the store manifest).
    pub fn derive(&self, purpose: &str) -> SecretKey {
        self.master.derive(purpose)
    }

    /// Wraps the master key under a new passphrase or key file.
    pub fn add_unlocker(
        &self,
        unlock: &Unlock,
        params: KdfParams,
        label: &str,
    ) -> Result<UnlockerInfo, KeyringError> {
        let id = random_id("u")?[..17].to_string();
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let (kdf, key) = match unlock {
            Unlock::Passphrase(passphrase) => {
                if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
                    return Err(KeyringError::WeakPassphrase);
                }
                params.validate()?;
                let key = passphrase_key(passphrase, &params, &salt)?;
                (
                    Kdf::Argon2id {
                        params,
                        salt: hex::encode(salt),
                    },
                    key,
                )
            }
            Unlock::KeyFile(path) => {
                let secret = read_key_file(path)?;
                let key = derive_key(secret.expose(), &salt, "warden key file v1");
                (
                    Kdf::HkdfSha256 {
                        salt: hex::encode(salt),
                    },
                    key,
                )
            }
        };
        let info = UnlockerInfo {
            id: id.clone(),
            kind: unlock.kind().to_string(),
            label: label.to_string(),
            created: now_unix(),
        };
        let wrapped = key.seal(&unlocker_ad(&self.id, &id), self.master.expose())?;
        let unlocker = Unlocker {
            info: info.clone(),
            kdf,
            wrapped_master_key: hex::encode(wrapped),
        };
        let file = UnlockerFile {
            sha256: unlocker_checksum(&unlocker),
            unlocker,
        };
        self.write(&self.unlocker_path(&id), &to_json(&file))?;
        Ok(info)
    }

    /// Every unlocker, oldest first.
    pub fn unlockers(&self) -> Result<Vec<UnlockerInfo>, KeyringError> {
        let mut infos = Vec::new();
        for (_, unlocker) in read_unlockers(&self.dir)? {
            infos.push(unlocker?.info);
        }
        infos.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(infos)
    }

    /// Removes one unlocker; the last one is never removed.
    pub fn remove_unlocker(&self, id: &str) -> Result<(), KeyringError> {
        let unlockers = self.unlockers()?;
        if !unlockers.iter().any(|info| info.id == id) {
            return Err(KeyringError::UnknownUnlocker { id: id.to_string() });
        }
        if unlockers.len() == 1 {
            return Err(KeyringError::LastUnlocker);
        }
        let path = self.unlocker_path(id);
        fs::remove_file(&path).map_err(|error| KeyringError::Io {
            action: "remove",
            path,
            error,
        })?;
        durable::sync_dir(&self.dir.join("unlockers"));
        Ok(())
    }

    /// Replaces a passphrase unlocker with one for `new` (same label).
    pub fn change_passphrase(
        &self,
        id: &str,
        new: Zeroizing<String>,
        params: KdfParams,
    ) -> Result<UnlockerInfo, KeyringError> {
        let old = self
            .unlockers()?
            .into_iter()
            .find(|info| info.id == id)
            .ok_or_else(|| KeyringError::UnknownUnlocker { id: id.to_string() })?;
        if old.kind != "passphrase" {
            return Err(KeyringError::NotAPassphrase { id: id.to_string() });
        }
        let added = self.add_unlocker(&Unlock::Passphrase(new), params, &old.label)?;
        self.remove_unlocker(id)?;
        Ok(added)
    }

    /// The tenant key of `version`.
    pub fn tenant_key(&self, tenant: &str, version: u32) -> Result<SecretKey, KeyringError> {
        let path = self.tenant_path(tenant);
        let keys = self.read_tenant_keys(tenant)?;
        let wrapped = keys
            .keys
            .get(&version)
            .ok_or_else(|| KeyringError::MissingTenantKey {
                tenant: tenant.to_string(),
                version,
            })?;
        let plain = Zeroizing::new(
            self.tenant_wrapping_key()
                .open(
                    &tenant_key_ad(&self.id, tenant, version),
                    &decode_hex(&path, wrapped)?,
                )
                .map_err(|_| KeyringError::Damaged {
                    path: path.clone(),
                    message: format!("tenant key version {version} does not authenticate"),
                })?,
        );
        SecretKey::from_slice(&plain).ok_or_else(|| KeyringError::Damaged {
            path,
            message: "tenant key has the wrong length".into(),
        })
    }

    /// Key versions held for `tenant`, oldest first.
    pub fn tenant_key_versions(&self, tenant: &str) -> Result<Vec<u32>, KeyringError> {
        Ok(self.read_tenant_keys(tenant)?.keys.into_keys().collect())
    }

    /// Adds a fresh random key version for `tenant` and returns it.
    pub fn add_tenant_key(&self, tenant: &str) -> Result<(u32, SecretKey), KeyringError> {
        let mut keys = self.read_tenant_keys(tenant)?;
        let version = keys.keys.keys().next_back().map_or(1, |last| last + 1);
        let key = SecretKey::random()?;
        let wrapped = self
            .tenant_wrapping_key()
            .seal(&tenant_key_ad(&self.id, tenant, version), key.expose())?;
        keys.keys.insert(version, hex::encode(wrapped));
        self.write(&self.tenant_path(tenant), &to_json(&keys))?;
        Ok((version, key))
    }

    /// Destroys every key version of `tenant` except `keep`.
    pub fn retire_tenant_keys(&self, tenant: &str, keep: u32) -> Result<(), KeyringError> {
        let mut keys = self.read_tenant_keys(tenant)?;
        let before = keys.keys.len();
        keys.keys.retain(|version, _| *version == keep);
        if keys.keys.len() != before {
            self.write(&self.tenant_path(tenant), &to_json(&keys))?;
        }
        Ok(())
    }

    /// Destroys all of `tenant`'s keys: what they encrypted is gone for good.
    pub fn destroy_tenant_keys(&self, tenant: &str) -> Result<(), KeyringError> {
        let path = self.tenant_path(tenant);
        match fs::remove_file(&path) {
            Ok(()) => {
                durable::sync_dir(&self.dir.join("tenants"));
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(KeyringError::Io {
                action: "remove",
                path,
                error,
            }),
        }
    }

    /// Ids of every tenant that has keys here.
    pub fn tenant_ids(&self) -> Result<Vec<String>, KeyringError> {
        let dir = self.dir.join("tenants");
        let mut ids = Vec::new();
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(id) = name.strip_suffix(".json") {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn tenant_wrapping_key(&self) -> SecretKey {
        self.master.derive("warden tenant key wrapping v1")
    }

    fn read_tenant_keys(&self, tenant: &str) -> Result<TenantKeysFile, KeyringError> {
        let path = self.tenant_path(tenant);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| KeyringError::Damaged {
                path,
                message: err.to_string(),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(TenantKeysFile::default()),
            Err(error) => Err(KeyringError::Io {
                action: "read",
                path,
                error,
            }),
        }
    }

    fn tenant_path(&self, tenant: &str) -> PathBuf {
        self.dir.join("tenants").join(format!("{tenant}.json"))
    }

    fn unlocker_path(&self, id: &str) -> PathBuf {
        self.dir.join("unlockers").join(format!("{id}.json"))
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), KeyringError> {
        durable::write_atomic(path, bytes).map_err(|error| KeyringError::Io {
            action: "write",
            path: path.to_path_buf(),
            error,
        })
    }
}

/// Writes a new random key file (owner-only); refuses to overwrite one.
pub fn create_key_file(path: &Path) -> Result<(), KeyringError> {
    let mut secret = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(secret.as_mut())?;
    let text = Zeroizing::new(format!(
        "{KEY_FILE_HEADER} {}\n",
        hex::encode(secret.as_ref())
    ));
    durable::write_new(path, text.as_bytes()).map_err(|error| KeyringError::Io {
        action: "create",
        path: path.to_path_buf(),
        error,
    })
}

fn read_key_file(path: &Path) -> Result<SecretKey, KeyringError> {
    let bad = |message: &str| KeyringError::BadKeyFile {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let metadata = fs::metadata(path).map_err(|error| KeyringError::Io {
        action: "read",
        path: path.to_path_buf(),
        error,
    })?;
    if metadata.len() > 1024 {
        return Err(bad("too large"));
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|_| bad("not text"))?);
    let hex_part = text
        .trim()
        .strip_prefix(KEY_FILE_HEADER)
        .map(str::trim)
        .ok_or_else(|| bad("missing the warden-key-v1 header"))?;
    let bytes = Zeroizing::new(hex::decode(hex_part).map_err(|_| bad("the key is not hex"))?);
    SecretKey::from_slice(&bytes).ok_or_else(|| bad("the key is not 256 bits"))
}

fn passphrase_key(
    passphrase: &str,
    params: &KdfParams,
    salt: &[u8],
) -> Result<SecretKey, KeyringError> {
    let argon_params = argon2::Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|err| KeyringError::BadParams(err.to_string()))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|err| CryptoError::Kdf(err.to_string()))?;
    Ok(SecretKey::from_bytes(*out))
}

type UnlockerEntry = (PathBuf, Result<Unlocker, KeyringError>);

fn read_unlockers(dir: &Path) -> Result<Vec<UnlockerEntry>, KeyringError> {
    let folder = dir.join("unlockers");
    let entries = fs::read_dir(&folder).map_err(|error| KeyringError::Io {
        action: "list",
        path: folder.clone(),
        error,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| {
            let parsed = fs::read(&path)
                .map_err(|error| KeyringError::Io {
                    action: "read",
                    path: path.clone(),
                    error,
                })
                .and_then(|bytes| {
                    serde_json::from_slice::<UnlockerFile>(&bytes).map_err(|err| {
                        KeyringError::Damaged {
                            path: path.clone(),
                            message: err.to_string(),
                        }
                    })
                })
                .and_then(|file| {
                    if unlocker_checksum(&file.unlocker) == file.sha256 {
                        Ok(file.unlocker)
                    } else {
                        Err(KeyringError::Damaged {
                            path: path.clone(),
                            message: "checksum mismatch".into(),
                        })
                    }
                });
            (path, parsed)
        })
        .collect())
}

fn unlocker_checksum(unlocker: &Unlocker) -> String {
    hex::encode(Sha256::digest(to_json(unlocker)))
}

fn unlocker_ad(keyring: &str, unlocker: &str) -> Vec<u8> {
    format!("warden unlocker v1|{keyring}|{unlocker}").into_bytes()
}

fn tenant_key_ad(keyring: &str, tenant: &str, version: u32) -> Vec<u8> {
    format!("warden tenant key v1|{keyring}|{tenant}|{version}").into_bytes()
}

fn decode_hex(path: &Path, text: &str) -> Result<Vec<u8>, KeyringError> {
    hex::decode(text).map_err(|_| KeyringError::Damaged {
        path: path.to_path_buf(),
        message: "a field is not hex".into(),
    })
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn passphrase(text: &str) -> Unlock {
        Unlock::Passphrase(Zeroizing::new(text.to_string()))
    }

    #[test]
    fn passphrases_and_key_files_unlock_the_same_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::create(
            dir.path(),
            &passphrase("first passphrase"),
            cheap(),
            "admin",
        )
        .unwrap();
        let key_file = dir.path().join("backup.key");
        create_key_file(&key_file).unwrap();
        keyring
            .add_unlocker(&Unlock::KeyFile(key_file.clone()), cheap(), "backup")
            .unwrap();
        let by_file = Keyring::unlock(dir.path(), &Unlock::KeyFile(key_file)).unwrap();
        assert_eq!(by_file.derive("x"), keyring.derive("x"));
        assert!(matches!(
            Keyring::unlock(dir.path(), &passphrase("wrong passphrase")),
            Err(KeyringError::WrongPassphrase)
        ));

        let first = keyring
            .unlockers()
            .unwrap()
            .into_iter()
            .find(|info| info.kind == "passphrase")
            .unwrap()
            .id;
        keyring
            .change_passphrase(&first, Zeroizing::new("second passphrase".into()), cheap())
            .unwrap();
        assert!(Keyring::unlock(dir.path(), &passphrase("first passphrase")).is_err());
        let reopened = Keyring::unlock(dir.path(), &passphrase("second passphrase")).unwrap();
        assert_eq!(reopened.derive("x"), keyring.derive("x"));
    }

    #[test]
    fn the_last_unlocker_cannot_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        let keyring =
            Keyring::create(dir.path(), &passphrase("only passphrase"), cheap(), "").unwrap();
        let id = keyring.unlockers().unwrap()[0].id.clone();
        assert!(matches!(
            keyring.remove_unlocker(&id),
            Err(KeyringError::LastUnlocker)
        ));
    }

    #[test]
    fn retired_tenant_keys_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let keyring =
            Keyring::create(dir.path(), &passphrase("a passphrase"), cheap(), "").unwrap();
        let (v1, key1) = keyring.add_tenant_key("t1").unwrap();
        let (v2, _) = keyring.add_tenant_key("t1").unwrap();
        assert_eq!((v1, v2), (1, 2));
        assert_eq!(keyring.tenant_key("t1", 1).unwrap(), key1);
        keyring.retire_tenant_keys("t1", 2).unwrap();
        assert!(keyring.tenant_key("t1", 1).is_err());
        assert!(keyring.tenant_key("t1", 2).is_ok());
    }
}
