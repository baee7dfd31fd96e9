//! `warden models pull`: a model file through hf-hub from a Hugging Face
//! endpoint or an internal mirror (`HF_ENDPOINT`, `HF_HOME`, `HF_TOKEN`;
//! `HF_HUB_OFFLINE=1` reads only the local cache), with hf-hub's progress bar
//! and its resume of an interrupted download. The downloaded blob must hash
//! to the sha256 the hub announced for it (an LFS file's etag) and to
//! `--sha256` when given; only then is it imported and pinned like any other
//! model.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use super::manifest::{sha256_file, ImportRequest, Manifest, ManifestEntry};
use super::ModelError;

/// What to pull and how to pin it.
pub struct PullRequest<'a> {
    /// `owner/name` on the hub.
    pub repo: &'a str,
    /// The file in the repository.
    pub file: &'a str,
    pub revision: &'a str,
    pub name: Option<&'a str>,
    pub licence: &'a str,
    /// The sha256 the file must have.
    pub sha256: Option<&'a str>,
    pub progress: bool,
    pub imported_by: &'a str,
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|value| value == "1" || value.eq_ignore_ascii_case("true"))
}

/// Downloads (or finds in the cache), checks and pins one file.
pub fn pull(manifest: &Manifest, request: &PullRequest<'_>) -> Result<ManifestEntry, ModelError> {
    let failed = |message: String| ModelError::Pull {
        file: format!("{}/{}", request.repo, request.file),
        message,
    };
    let repo = hf_hub::Repo::with_revision(
        request.repo.to_string(),
        hf_hub::RepoType::Model,
        request.revision.to_string(),
    );
    // hf-hub asserts on some malformed answers: a hostile mirror must give
    // an error, not a crash.
    let fetched = catch_unwind(AssertUnwindSafe(|| -> Result<PathBuf, String> {
        if offline() {
            return hf_hub::Cache::from_env()
                .repo(repo.clone())
                .get(request.file)
                .ok_or_else(|| "not in the local cache, and HF_HUB_OFFLINE is set".to_string());
        }
        let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_token(token)
            .with_progress(request.progress)
            .build()
            .map_err(|err| err.to_string())?;
        api.repo(repo.clone())
            .get(request.file)
            .map_err(|err| err.to_string())
    }))
    .map_err(|_| failed("the hub's answer could not be handled".into()))?
    .map_err(failed)?;
    let blob = std::fs::canonicalize(&fetched).map_err(|error| ModelError::Io {
        path: fetched.clone(),
        error,
    })?;
    let actual = sha256_file(&blob)?;
    // The cache names a large (LFS) file's blob by the sha256 the hub sent.
    let announced = blob
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase);
    if let Some(announced) = announced.filter(|announced| *announced != actual) {
        let _ = std::fs::remove_file(&blob);
        return Err(failed(format!(
            "the download hashes to {actual}, not to the {announced} the hub announced; it was deleted"
        )));
    }
    if let Some(expected) = request.sha256 {
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(ModelError::HashMismatch {
                path: blob,
                expected: expected.to_ascii_lowercase(),
                actual,
            });
        }
    }
    let endpoint =
        std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".to_string());
    let file_name = request
        .file
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| failed("no file name".into()))?;
    manifest.import(
        &ImportRequest {
            source: &blob,
            file_name: Some(file_name),
            origin: Some(format!(
                "pulled from {endpoint}/{}@{}/{} (sha256 {actual})",
                request.repo, request.revision, request.file
            )),
            name: request.name,
            licence: request.licence,
            imported_by: request.imported_by,
        },
        |_, _| {},
    )
}
