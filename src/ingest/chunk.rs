//! Splitting documents into passages small enough to embed and cite, keeping
//! each passage's byte offsets into the document so citations can point at it.

use serde::{Deserialize, Serialize};
use text_splitter::{ChunkConfig, MarkdownSplitter};

/// Chunk sizes in characters (all-MiniLM-L6-v2 reads at most 256 tokens,
/// about 1,000 characters of English).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChunkSettings {
    pub min_chars: usize,
    pub max_chars: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self {
            min_chars: 400,
            max_chars: 900,
        }
    }
}

/// One passage and where it sits in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSpan {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Splits `text` on Markdown structure (headings, paragraphs, sentences).
pub fn split(text: &str, settings: &ChunkSettings) -> Vec<TextSpan> {
    let min = settings.min_chars.max(1);
    let max = settings.max_chars.max(min);
    let splitter = MarkdownSplitter::new(ChunkConfig::new(min..max).with_trim(true));
    splitter
        .chunk_indices(text)
        .map(|(start, chunk)| TextSpan {
            start,
            end: start + chunk.len(),
            text: chunk.to_string(),
        })
        .collect()
}
