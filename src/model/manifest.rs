//! The model manifest: which model files Warden may load, pinned by sha256.
//!
//! Every file the engine opens (GGUF weights, embedding weights, tokenizers) must
//! match an entry of `models/manifest.toml` byte for byte. A file that is missing
//! points at the fetch command; a file whose hash differs, or that no entry pins,
//! is refused. This module must never open a model, only decide whether one may
//! be opened.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ModelError;

/// The command that puts every pinned model in place.
pub const FETCH_COMMAND: &str = "scripts/fetch-models";

/// One pinned file.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub kind: String,
    pub file: String,
    #[serde(default)]
    pub architecture: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub licence: String,
    pub source: String,
}

/// The parsed manifest together with the folder its files live in.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub models_dir: PathBuf,
    pub entries: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestFile {
    model: Vec<ManifestEntry>,
}

/// A model file that passed its hash check.
#[derive(Debug, Clone)]
pub struct VerifiedFile {
    pub path: PathBuf,
    pub entry: ManifestEntry,
}

impl Manifest {
    /// Reads `<models_dir>/manifest.toml`.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let path = models_dir.join("manifest.toml");
        let text = std::fs::read_to_string(&path).map_err(|error| ModelError::ManifestRead {
            path: path.clone(),
            error,
        })?;
        let parsed: ManifestFile =
            toml::from_str(&text).map_err(|err| ModelError::ManifestParse {
                path: path.clone(),
                message: err.to_string(),
            })?;
        Ok(Self {
            models_dir: models_dir.to_path_buf(),
            entries: parsed.model,
        })
    }

    /// Looks up an entry by its manifest name.
    pub fn entry(&self, name: &str) -> Option<&ManifestEntry> {
        self.entries.iter().find(|entry| entry.name == name)
    }

    /// Names of the generation models, for error messages and `models list`.
    pub fn generation_model_names(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|entry| entry.kind == "generation")
            .map(|entry| entry.name.as_str())
            .collect()
    }

    /// Resolves a model given by manifest name or by path, and verifies its hash.
    pub fn resolve_and_verify(&self, name_or_path: &str) -> Result<VerifiedFile, ModelError> {
        match self.entry(name_or_path) {
            Some(entry) => self.verify_entry(entry),
            None => {
                let path = PathBuf::from(name_or_path);
                let looks_like_path = path.extension().is_some() || name_or_path.contains('/');
                if looks_like_path {
                    self.verify_path(&path)
                } else {
                    Err(ModelError::UnknownModel {
                        name: name_or_path.to_string(),
                        known: self.generation_model_names().join(", "),
                    })
                }
            }
        }
    }

    /// Verifies the file an entry names, in the models folder.
    pub fn verify_entry(&self, entry: &ManifestEntry) -> Result<VerifiedFile, ModelError> {
        let path = self.models_dir.join(&entry.file);
        if !path.is_file() {
            return Err(ModelError::Missing {
                name: entry.name.clone(),
                path,
                fetch: FETCH_COMMAND,
            });
        }
        let actual = sha256_file(&path)?;
        if actual != entry.sha256 {
            return Err(ModelError::HashMismatch {
                path,
                expected: entry.sha256.clone(),
                actual,
            });
        }
        Ok(VerifiedFile {
            path,
            entry: entry.clone(),
        })
    }

    /// Verifies an arbitrary file: it must hash to a pinned entry.
    pub fn verify_path(&self, path: &Path) -> Result<VerifiedFile, ModelError> {
        if !path.is_file() {
            return Err(ModelError::FileNotFound {
                path: path.to_path_buf(),
            });
        }
        let actual = sha256_file(path)?;
        if let Some(entry) = self.entries.iter().find(|entry| entry.sha256 == actual) {
            return Ok(VerifiedFile {
                path: path.to_path_buf(),
                entry: entry.clone(),
            });
        }
        let file_name = path.file_name().and_then(|name| name.to_str());
        match self
            .entries
            .iter()
            .find(|entry| Some(entry.file.as_str()) == file_name)
        {
            Some(entry) => Err(ModelError::HashMismatch {
                path: path.to_path_buf(),
                expected: entry.sha256.clone(),
                actual,
            }),
            None => Err(ModelError::NotPinned {
                path: path.to_path_buf(),
                sha256: actual,
            }),
        }
    }
}

/// Streams a file through SHA-256 and returns the lowercase hex digest.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let io_error = |error| ModelError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io_error)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}
