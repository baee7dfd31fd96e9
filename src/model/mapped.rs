//! A model file mapped into memory once, hashed from that mapping, and loaded
//! from the same mapping.
//!
//! Why: the manifest pins each file's sha256 so that the file Warden runs is
//! the file an operator approved. Hashing one read of the file and then
//! parsing a second, separate read leaves a window in which the file on disk
//! can be swapped; hashing and parsing the same mapped bytes closes most of
//! it. The mapping also lets the kernel's page cache serve the bytes (no
//! second copy in the heap while candle builds its tensors, no read calls per
//! tensor) and is dropped as soon as the weights are built.
//!
//! What it does not do: candle's CPU tensors own their memory, so the weights
//! are still copied out of the mapping (dequantised to f16 by default). And a
//! mapping reflects later writes to the file by other processes: the models
//! folder must be writable only by Warden's own account (`models import`
//! writes through a temporary file and a rename, which leaves a mapped file
//! untouched).

use std::fs::File;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ModelError;

/// The bytes of one file, read-only.
pub struct MappedFile {
    path: PathBuf,
    bytes: Bytes,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    /// An empty file: nothing to map (mapping zero bytes is an error on some systems).
    Empty,
}

impl MappedFile {
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let io_error = |error| ModelError::Io {
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        let bytes = if len == 0 {
            Bytes::Empty
        } else {
            // SAFETY: the mapping is read-only and private to this process.
            // Another process truncating the file while it is mapped would
            // fault on access; the models folder belongs to Warden's account,
            // and Warden itself replaces files by rename, never in place.
            let map = unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(io_error)?;
            // Hashing and parsing both read front to back.
            let _ = map.advise(memmap2::Advice::Sequential);
            Bytes::Mapped(map)
        };
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped(map) => map,
            Bytes::Empty => &[],
        }
    }

    /// Lowercase hex SHA-256 of the mapped bytes.
    pub fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        let mut offset = 0;
        for piece in self.bytes().chunks(RELEASE_EVERY) {
            hasher.update(piece);
            self.release(offset, piece.len());
            offset += piece.len();
        }
        hex::encode(hasher.finalize())
    }

    /// A reader over the bytes that hands each piece back to the page cache
    /// once it has been read, so that loading a gigabyte model does not also
    /// keep a gigabyte of mapped pages in this process's resident set.
    pub fn reader(&self) -> MappedReader<'_> {
        MappedReader {
            file: self,
            position: 0,
        }
    }

    /// Drops this process's view of the whole pages (in [`PAGE_MULTIPLE`] units) inside `offset..offset +
    /// len`. The bytes stay in the page cache and a later read maps them
    /// again: this only changes what counts as this process's memory.
    fn release(&self, offset: usize, len: usize) {
        let Bytes::Mapped(map) = &self.bytes else {
            return;
        };
        let page = PAGE_MULTIPLE;
        let start = offset.div_ceil(page) * page;
        let end = ((offset + len).min(map.len()) / page) * page;
        if end > start {
            // SAFETY: the mapping is read-only and backed by the file, so
            // MADV_DONTNEED discards no data and invalidates no reference:
            // the next access faults the same bytes back in from the page
            // cache (or the file), exactly like a page the kernel evicted.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

/// How many bytes are read between two releases of mapped pages.
const RELEASE_EVERY: usize = 8 << 20;

/// Released ranges start and end on this boundary: a multiple of every page
/// size in use (4 KiB on x86, 16 KiB on Apple silicon, 64 KiB on some ARM).
const PAGE_MULTIPLE: usize = 64 << 10;

/// `Read + Seek` over a [`MappedFile`] (see [`MappedFile::reader`]).
pub struct MappedReader<'a> {
    file: &'a MappedFile,
    position: u64,
}

impl std::io::Read for MappedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bytes = self.file.bytes();
        let start = usize::try_from(self.position)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let count = buf.len().min(bytes.len() - start);
        buf[..count].copy_from_slice(&bytes[start..start + count]);
        self.position += count as u64;
        if count >= RELEASE_EVERY / 8 {
            self.file.release(start, count);
        }
        Ok(count)
    }
}

impl std::io::Seek for MappedReader<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let len = self.file.bytes().len() as i128;
        let target = match to {
            std::io::SeekFrom::Start(offset) => i128::from(offset),
            std::io::SeekFrom::End(delta) => len + i128::from(delta),
            std::io::SeekFrom::Current(delta) => i128::from(self.position) + i128::from(delta),
        };
        self.position = u64::try_from(target).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.position)
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .field("len", &self.bytes().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_it_maps_including_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let mapped = MappedFile::open(&empty).unwrap();
        assert!(mapped.bytes().is_empty());
        assert_eq!(
            mapped.sha256(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let abc = dir.path().join("abc");
        std::fs::write(&abc, b"abc").unwrap();
        let mapped = MappedFile::open(&abc).unwrap();
        assert_eq!(mapped.bytes(), b"abc");
        assert_eq!(
            mapped.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut reader = mapped.reader();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut reader, &mut text).unwrap();
        assert_eq!(text, "abc");
        std::io::Seek::seek(&mut reader, std::io::SeekFrom::End(-2)).unwrap();
        let mut tail = [0u8; 4];
        assert_eq!(std::io::Read::read(&mut reader, &mut tail).unwrap(), 2);
        assert_eq!(&tail[..2], b"bc");
        assert!(std::io::Seek::seek(&mut reader, std::io::SeekFrom::Current(-9)).is_err());
        assert!(matches!(
            MappedFile::open(&dir.path().join("missing")),
            Err(ModelError::Io { .. })
        ));
    }
}
