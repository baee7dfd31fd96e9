//! Small encrypted records outside the knowledge store: the user directory,
//! review items, conversation histories, rate-limit counters, the audit
//! checkpoint. Each is one JSON value sealed with AES-256-GCM under a key the
//! caller derives from the keyring for that purpose; the associated data names
//! the purpose and the file name, so a record copied over another (one user's
//! history over another's, say) fails to open. Writes are atomic.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crypto::SecretKey;

const MAGIC: &[u8; 8] = b"WARDENSF";

#[derive(Debug, thiserror::Error)]
pub enum SealedError {
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is damaged, was moved from elsewhere, or belongs to another keyring")]
    Damaged { path: PathBuf },
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

fn associated(purpose: &str, path: &Path) -> Vec<u8> {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut aad = MAGIC.to_vec();
    aad.extend_from_slice(purpose.as_bytes());
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// Seals `value` into `path` (atomically: the old file stays until the new one is whole).
pub fn write<T: Serialize>(
    path: &Path,
    key: &SecretKey,
    purpose: &str,
    value: &T,
) -> Result<(), SealedError> {
    let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(value).unwrap_or_default());
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&key.seal(&associated(purpose, path), &plaintext)?);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| SealedError::Io {
            action: "create",
            path: parent.to_path_buf(),
            error,
        })?;
    }
    crate::durable::write_atomic(path, &bytes).map_err(|error| SealedError::Io {
        action: "write",
        path: path.to_path_buf(),
        error,
    })
}

/// Opens what [`write()`] sealed; `None` when the file does not exist.
pub fn read<T: DeserializeOwned>(
    path: &Path,
    key: &SecretKey,
    purpose: &str,
) -> Result<Option<T>, SealedError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(SealedError::Io {
                action: "read",
                path: path.to_path_buf(),
                error,
            })
        }
    };
    let damaged = || SealedError::Damaged {
        path: path.to_path_buf(),
    };
    let sealed = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(damaged)?;
    let plaintext = zeroize::Zeroizing::new(
        key.open(&associated(purpose, path), sealed)
            .map_err(|_| damaged())?,
    );
    serde_json::from_slice(&plaintext)
        .map(Some)
        .map_err(|_| damaged())
}

/// Deletes `path` if it exists.
pub fn remove(path: &Path) -> Result<(), SealedError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(SealedError::Io {
            action: "remove",
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Opens every record of `dir` (files ending `.wsf`); none when the folder
/// does not exist.
pub fn read_all<T: DeserializeOwned>(
    dir: &Path,
    key: &SecretKey,
    purpose: &str,
) -> Result<Vec<T>, SealedError> {
    let mut records = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(records);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "wsf") {
            if let Some(record) = read(&path, key, purpose)? {
                records.push(record);
            }
        }
    }
    Ok(records)
}

/// An exclusive lock on `dir/LOCK`, held until the file is dropped: writers of
/// the same records in several processes (`serve` and the CLI) take turns.
pub fn lock(dir: &Path) -> Result<std::fs::File, SealedError> {
    std::fs::create_dir_all(dir).map_err(|error| SealedError::Io {
        action: "create",
        path: dir.to_path_buf(),
        error,
    })?;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| SealedError::Io {
            action: "open",
            path: path.clone(),
            error,
        })?;
    file.lock().map_err(|error| SealedError::Io {
        action: "lock",
        path,
        error,
    })?;
    Ok(file)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_under_its_own_name_purpose_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::random().unwrap();
        let alice = dir.path().join("alice.wsf");
        write(&alice, &key, "history", &vec!["hello"]).unwrap();
        let read_back: Vec<String> = read(&alice, &key, "history").unwrap().unwrap();
        assert_eq!(read_back, vec!["hello"]);
        assert!(read::<Vec<String>>(&alice, &key, "review").is_err());
        assert!(read::<Vec<String>>(&alice, &SecretKey::random().unwrap(), "history").is_err());
        let bob = dir.path().join("bob.wsf");
        std::fs::copy(&alice, &bob).unwrap();
        assert!(read::<Vec<String>>(&bob, &key, "history").is_err());
        assert!(
            read::<Vec<String>>(&dir.path().join("none"), &key, "history")
                .unwrap()
                .is_none()
        );
        assert!(!std::fs::read(&alice)
            .unwrap()
            .windows(5)
            .any(|w| w == b"hello"));
    }
}
