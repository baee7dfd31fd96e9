//! Crash-safe file writes, shared by the keyring and the store.
//!
//! A file is written beside its final name, flushed to disk, renamed over the
//! old one and the folder is flushed: after a crash (even SIGKILL or power
//! loss) a reader finds either the old file or the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Suffix of files being written; anything carrying it after a crash is debris.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Atomically replaces (or creates) `path` with `bytes`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent(path);
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}{TEMP_SUFFIX}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        restrict_permissions(&file);
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` with `bytes`, failing if it already exists.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent(path);
    fs::create_dir_all(dir)?;
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    restrict_permissions(&file);
    let result = file.write_all(bytes).and_then(|_| file.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    sync_dir(dir);
    result
}

/// Flushes a folder's entries (new names, renames, removals) to disk.
pub fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Owner-only permissions: keys and ciphertext are nobody else's business.
fn restrict_permissions(file: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = file;
}
