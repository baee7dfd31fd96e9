//! The model manifest: which model files Warden may load, pinned by sha256.
//!
//! Every file the engine opens (GGUF weights, embedding weights, tokenizers) must
//! match an entry of `models/manifest.toml` byte for byte. A file that is missing
//! points at the fetch command; a file whose hash differs, or that no entry pins,
//! is refused. This module never parses a model, only decides whether one may
//! be loaded; the bytes it hashed travel on with its verdict ([`VerifiedFile`])
//! so that the loader parses exactly what was checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use super::mapped::MappedFile;
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
    /// Not fetched by default (`scripts/fetch-models NAME` fetches it); its
    /// absence is not a failure.
    #[serde(default)]
    pub optional: bool,
}

/// The parsed manifest together with the folder its files live in.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub models_dir: PathBuf,
    pub entries: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestFile {
    #[serde(default)]
    model: Vec<ManifestEntry>,
}

/// A model file that passed its hash check.
#[derive(Debug, Clone)]
pub struct VerifiedFile {
    pub path: PathBuf,
    pub entry: ManifestEntry,
    /// The bytes that were hashed: loading parses these, not a second read.
    pub mapped: Arc<MappedFile>,
    /// How long mapping and hashing took.
    pub verify_ms: f64,
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
        let started = Instant::now();
        let mapped = MappedFile::open(&path)?;
        let actual = mapped.sha256();
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
            mapped: Arc::new(mapped),
            verify_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Verifies an arbitrary file: it must hash to a pinned entry.
    pub fn verify_path(&self, path: &Path) -> Result<VerifiedFile, ModelError> {
        if !path.is_file() {
            return Err(ModelError::FileNotFound {
                path: path.to_path_buf(),
            });
        }
        let started = Instant::now();
        let mapped = MappedFile::open(path)?;
        let actual = mapped.sha256();
        if let Some(entry) = self.entries.iter().find(|entry| entry.sha256 == actual) {
            return Ok(VerifiedFile {
                path: path.to_path_buf(),
                entry: entry.clone(),
                mapped: Arc::new(mapped),
                verify_ms: started.elapsed().as_secs_f64() * 1e3,
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

/// The lowercase hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    Ok(MappedFile::open(path)?.sha256())
}

/// What `warden models import` records about where a file came from.
pub struct ImportRequest<'a> {
    pub source: &'a Path,
    /// The file's name in the models folder [default: the source's name].
    pub file_name: Option<&'a str>,
    /// Where it came from [default: "imported from <source>"].
    pub origin: Option<String>,
    /// Manifest name; the file's stem, lower-cased, when not given.
    pub name: Option<&'a str>,
    pub licence: &'a str,
    /// Who imported it (for the provenance line).
    pub imported_by: &'a str,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

impl Manifest {
    fn manifest_path(&self) -> PathBuf {
        self.models_dir.join("manifest.toml")
    }

    /// Copies a GGUF into the models folder and pins it: the header must
    /// parse and declare an architecture Warden runs; the copy is hashed as it
    /// is written (to a temporary file, renamed into place) and an entry with
    /// its sha256, size and provenance is appended to the manifest.
    /// `progress` sees the bytes copied so far.
    pub fn import(
        &self,
        request: &ImportRequest<'_>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ManifestEntry, ModelError> {
        use sha2::{Digest, Sha256};
        use std::fs::File;
        use std::io::{Read, Write};
        let source = request.source;
        let invalid = |message: String| ModelError::Import {
            path: source.to_path_buf(),
            message,
        };
        let (_, content) = super::gguf::read_header(source)?;
        let architecture = super::tokenizer::metadata_string(&content, "general.architecture")
            .ok_or_else(|| invalid("no `general.architecture` in its metadata".into()))?;
        if !super::gguf::ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(ModelError::UnsupportedArchitecture {
                path: source.to_path_buf(),
                architecture,
            });
        }
        let file_name = request
            .file_name
            .or_else(|| source.file_name().and_then(|name| name.to_str()))
            .filter(|name| !name.starts_with('.') && !name.contains(['/', '\\', '"']))
            .ok_or_else(|| invalid("the file name is not usable".into()))?
            .to_string();
        let name = match request.name {
            Some(name) => name.to_string(),
            None => file_name
                .trim_end_matches(".gguf")
                .to_ascii_lowercase()
                .replace(
                    |c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)),
                    "-",
                ),
        };
        if !valid_name(&name) {
            return Err(invalid(format!(
                "`{name}` is not a model name (1–64 of a-z, 0-9, '.', '_', '-')"
            )));
        }
        if self.entry(&name).is_some() {
            return Err(invalid(format!("a model named `{name}` is already pinned")));
        }
        if self.entries.iter().any(|entry| entry.file == file_name)
            || self.models_dir.join(&file_name).exists()
        {
            return Err(invalid(format!(
                "{} already holds a file named {file_name}",
                self.models_dir.display()
            )));
        }

        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| ModelError::Io {
                path: path.clone(),
                error,
            }
        };
        let total = std::fs::metadata(source).map_err(io(source))?.len();
        let temporary = self.models_dir.join(format!(".import-{file_name}.tmp"));
        let copied = (|| {
            let mut input = File::open(source).map_err(io(source))?;
            let mut output = File::create(&temporary).map_err(io(&temporary))?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; 1 << 20];
            let mut done = 0u64;
            loop {
                let read = input.read(&mut buffer).map_err(io(source))?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
                output.write_all(&buffer[..read]).map_err(io(&temporary))?;
                done += read as u64;
                progress(done, total);
            }
            output.sync_all().map_err(io(&temporary))?;
            Ok::<_, ModelError>((format!("{:x}", hasher.finalize()), done))
        })();
        let (sha256, size) = match copied {
            Ok(done) => done,
            Err(err) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(err);
            }
        };
        let target = self.models_dir.join(&file_name);
        std::fs::rename(&temporary, &target).map_err(io(&target))?;

        let entry = ManifestEntry {
            name,
            kind: "generation".into(),
            file: file_name,
            architecture: Some(architecture),
            sha256,
            size,
            licence: request.licence.to_string(),
            optional: false,
            source: format!(
                "{} on {} by {}",
                request
                    .origin
                    .clone()
                    .unwrap_or_else(|| format!("imported from {}", source.display())),
                crate::sealed::now(),
                request.imported_by
            ),
        };
        let manifest_path = self.manifest_path();
        let mut text = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "\n[[model]]\nname = {}\nkind = \"generation\"\nfile = {}\narchitecture = {}\nsha256 = \"{}\"\nsize = {}\nlicence = {}\nsource = {}\n",
            toml_string(&entry.name),
            toml_string(&entry.file),
            toml_string(entry.architecture.as_deref().unwrap_or_default()),
            entry.sha256,
            entry.size,
            toml_string(&entry.licence),
            toml_string(&entry.source),
        ));
        crate::durable::write_atomic(&manifest_path, text.as_bytes())
            .map_err(io(&manifest_path))?;
        Ok(entry)
    }

    /// Unpins a model and deletes its file.
    pub fn remove(&self, name: &str) -> Result<ManifestEntry, ModelError> {
        let entry = self
            .entry(name)
            .cloned()
            .ok_or_else(|| ModelError::UnknownModel {
                name: name.to_string(),
                known: self.generation_model_names().join(", "),
            })?;
        let manifest_path = self.manifest_path();
        let text = std::fs::read_to_string(&manifest_path).map_err(|error| ModelError::Io {
            path: manifest_path.clone(),
            error,
        })?;
        // Entries are `[[model]]` blocks; the one naming `name` goes.
        let mut kept = String::new();
        for (index, block) in text.split("[[model]]").enumerate() {
            let names_it = block.lines().any(|line| {
                line.trim()
                    .strip_prefix("name")
                    .map(|rest| rest.trim_start().trim_start_matches('=').trim())
                    == Some(toml_string(name).as_str())
            });
            if index > 0 && names_it {
                continue;
            }
            if index > 0 {
                kept.push_str("[[model]]");
            }
            kept.push_str(block);
        }
        let reparsed: ManifestFile =
            toml::from_str(&kept).map_err(|err| ModelError::ManifestParse {
                path: manifest_path.clone(),
                message: err.to_string(),
            })?;
        if reparsed.model.len() + 1 != self.entries.len() {
            return Err(ModelError::ManifestParse {
                path: manifest_path,
                message: format!("could not remove exactly the entry `{name}`"),
            });
        }
        crate::durable::write_atomic(&manifest_path, kept.as_bytes()).map_err(|error| {
            ModelError::Io {
                path: manifest_path.clone(),
                error,
            }
        })?;
        let path = self.models_dir.join(&entry.file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(ModelError::Io { path, error }),
        }
        Ok(entry)
    }
}
