//! The file backend: one snapshot file, replaced atomically.
//!
//! Layout: `WARDENKS` magic, a little-endian u32 format version, a u64 body
//! length, the JSON body, and a sha256 of everything before it. A commit writes
//! a temporary file beside the store, fsyncs it, renames it over the old one and
//! fsyncs the folder: a crash leaves either the old or the new snapshot, and a
//! damaged file is detected by its checksum instead of being half read.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{KnowledgeStore, Snapshot, StoreError};

const MAGIC: &[u8; 8] = b"WARDENKS";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8;
const CHECKSUM_LEN: usize = 32;

pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store kept in `path` (created on first commit).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |error| StoreError::Io {
            action,
            path,
            error,
        }
    }

    fn corrupt(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Snapshot, StoreError> {
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN || &bytes[..8] != MAGIC {
            return Err(self.corrupt("bad header"));
        }
        let (content, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(content).as_slice() != checksum {
            return Err(self.corrupt("checksum mismatch: the file is damaged or truncated"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or([0; 4]));
        if version != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path: self.path.clone(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let body_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8])) as usize;
        let body = content
            .get(HEADER_LEN..)
            .filter(|body| body.len() == body_len)
            .ok_or_else(|| self.corrupt("body length does not match the header"))?;
        serde_json::from_slice(body).map_err(|err| self.corrupt(err.to_string()))
    }

    fn encode(&self, snapshot: &Snapshot) -> Result<Vec<u8>, StoreError> {
        if snapshot
            .chunks
            .iter()
            .any(|chunk| chunk.vector.iter().any(|x| !x.is_finite()))
        {
            return Err(StoreError::InvalidSnapshot {
                message: "a chunk vector holds NaN or infinite values".into(),
            });
        }
        let body = serde_json::to_vec(snapshot).map_err(|err| StoreError::InvalidSnapshot {
            message: err.to_string(),
        })?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() + CHECKSUM_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        let checksum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&checksum);
        Ok(bytes)
    }
}

impl KnowledgeStore for FileStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => self.decode(&bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Snapshot::default()),
            Err(err) => Err(self.io("read", &self.path)(err)),
        }
    }

    fn commit(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let dir = self
            .path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(self.io("create", dir))?;
        let file_name = self
            .path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("store");
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let encoded = self.encode(snapshot)?;
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(self.io("create", &tmp))?;
            file.write_all(&encoded).map_err(self.io("write", &tmp))?;
            file.sync_all().map_err(self.io("sync", &tmp))?;
            fs::rename(&tmp, &self.path).map_err(self.io("replace", &self.path))?;
            if let Ok(dir_handle) = File::open(dir) {
                let _ = dir_handle.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}
