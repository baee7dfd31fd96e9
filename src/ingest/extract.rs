//! Finding documents and turning them into text: Markdown, plain text, HTML,
//! PDF, DOCX and CSV (the binary formats are read in `formats`). Every other
//! extension is reported as skipped, never silently dropped.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

/// A file found under the ingest root.
pub struct DiscoveredFile {
    pub path: PathBuf,
    /// Path relative to the root, with `/` separators.
    pub relative: String,
}

/// Text extracted from one document.
pub struct Extracted {
    pub title: String,
    pub text: String,
    /// `markdown`, `text`, `html`, `pdf`, `docx` or `csv`.
    pub format: &'static str,
    /// Where pages, paragraphs or rows start in `text`, in order.
    pub locations: Vec<Location>,
    /// Content the source hides from readers (kept out of `text`).
    pub hidden: Vec<crate::store::HiddenText>,
}

/// A named place in the extracted text ("page 3", "paragraph 12", "row 7").
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub start: usize,
    pub label: String,
}

impl Extracted {
    /// The location label of a span: "page 2", or "pages 2–3" across pages.
    pub fn location_of(&self, start: usize, end: usize) -> Option<String> {
        let at = |offset: usize| {
            let slot = self.locations.partition_point(|l| l.start <= offset);
            self.locations.get(slot.checked_sub(1)?)
        };
        // A span that opens before the first location (a title) starts at it.
        let first = at(start).or_else(|| {
            self.locations
                .iter()
                .find(|l| l.start >= start && l.start < end)
        })?;
        let last = at(end.saturating_sub(1)).unwrap_or(first);
        if first == last {
            return Some(first.label.clone());
        }
        match (first.label.split_once(' '), last.label.split_once(' ')) {
            (Some((kind, a)), Some((kind_b, b))) if kind == kind_b => {
                Some(format!("{kind}s {a}–{b}"))
            }
            _ => Some(format!("{}–{}", first.label, last.label)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not valid UTF-8 text (byte {0})")]
    NotUtf8(usize),
    #[error("the file is empty or holds no text")]
    Empty,
    #[error("binary content in a text file (a NUL byte at {0})")]
    Binary(usize),
    #[error("damaged or unreadable {format}: {message}")]
    Corrupt {
        format: &'static str,
        message: String,
    },
    #[error(
        "the file is {size} bytes; documents larger than {limit} bytes are refused (split it)"
    )]
    TooLarge { size: u64, limit: u64 },
}

/// Largest document accepted: far beyond any policy or manual, small enough
/// that one file cannot exhaust memory during chunking and embedding.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

const SUPPORTED: &[&str] = &["md", "markdown", "txt", "html", "htm", "pdf", "docx", "csv"];

/// The file in an ingest folder that lists paths to leave out.
pub const IGNORE_FILE: &str = ".wardenignore";

/// Patterns from `.wardenignore`: one relative path per line; a line ending in
/// `/` leaves out a whole folder; `#` starts a comment.
fn ignore_patterns(base: &Path) -> Vec<String> {
    std::fs::read_to_string(base.join(IGNORE_FILE))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.trim_start_matches("./").to_string())
        .collect()
}

fn is_ignored(relative: &str, patterns: &[String]) -> bool {
    patterns
        .iter()
        .any(|pattern| match pattern.strip_suffix('/') {
            Some(folder) => relative.starts_with(&format!("{folder}/")),
            None => relative == pattern,
        })
}

/// Lists supported files under `root` (or `root` itself), sorted by path.
/// Hidden files and folders, and paths named in `.wardenignore`, are left out;
/// unsupported files go to `skipped`.
pub fn discover(root: &Path, skipped: &mut Vec<String>) -> Vec<DiscoveredFile> {
    let base = if root.is_file() {
        root.parent().unwrap_or(Path::new("")).to_path_buf()
    } else {
        root.to_path_buf()
    };
    let ignored = if root.is_dir() {
        ignore_patterns(&base)
    } else {
        Vec::new()
    };
    let mut files = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.file_name()));
    for entry in walker.filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let relative = path
            .strip_prefix(&base)
            .unwrap_or(&path)
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if is_ignored(&relative, &ignored) {
            continue;
        }
        let extension = path
            .extension()
            .and_then(|ext| ext.to_str())
            .map(str::to_ascii_lowercase);
        match extension {
            Some(ext) if SUPPORTED.contains(&ext.as_str()) => {
                files.push(DiscoveredFile { path, relative })
            }
            _ => skipped.push(relative),
        }
    }
    files
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|name| name.starts_with('.'))
}

/// Reads a document and turns it into text, by its extension.
pub fn extract(path: &Path) -> Result<Extracted, ExtractError> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(ExtractError::TooLarge {
            size,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let bytes = std::fs::read(path)?;
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let fallback_title = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_default();
    let extension = path
        .extension()
        .and_then(|ext| ext.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let extracted = match extension.as_str() {
        "html" | "htm" => super::formats::html(&bytes, &fallback_title)?,
        "pdf" => super::formats::pdf(&bytes, &fallback_title)?,
        "docx" => super::formats::docx(&bytes, &fallback_title)?,
        "csv" => super::formats::csv(&bytes, &fallback_title)?,
        _ => plain_text(bytes, &fallback_title, extension != "txt")?,
    };
    if extracted.text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(extracted)
}

fn plain_text(
    bytes: Vec<u8>,
    fallback_title: &str,
    markdown: bool,
) -> Result<Extracted, ExtractError> {
    if let Some(position) = bytes.iter().take(64 * 1024).position(|&b| b == 0) {
        return Err(ExtractError::Binary(position));
    }
    let text = String::from_utf8(bytes)
        .map_err(|err| ExtractError::NotUtf8(err.utf8_error().valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    let title = markdown_title(&text).unwrap_or_else(|| fallback_title.to_string());
    Ok(Extracted {
        title,
        text,
        format: if markdown { "markdown" } else { "text" },
        locations: Vec::new(),
        hidden: Vec::new(),
    })
}

pub fn markdown_title(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("# "))
        .map(|title| title.trim().to_string())
        .filter(|title| !title.is_empty())
}
