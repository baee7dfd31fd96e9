//! The tokenizer, built from the GGUF's own metadata so weights and vocabulary
//! can never drift apart.
//!
//! candle builds a byte-level BPE from `tokenizer.ggml.*`, but its pre-tokenizer
//! for some `tokenizer.ggml.pre` values differs from the one the model was trained
//! with (SmolLM2's `smollm` falls back to GPT-2 with a prefix space, which changes
//! ids). This module replaces it with the matching one. A `<stem>.tokenizer.json`
//! beside the GGUF overrides the metadata entirely.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::Tokenizer;

use super::ModelError;

/// Where an override tokenizer for `model_path` would live.
pub fn override_path(model_path: &Path) -> PathBuf {
    let stem = model_path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("model");
    model_path.with_file_name(format!("{stem}.tokenizer.json"))
}

/// Builds the tokenizer for a GGUF model.
pub fn tokenizer_for(
    content: &gguf_file::Content,
    model_path: &Path,
) -> Result<Tokenizer, ModelError> {
    let override_file = override_path(model_path);
    if override_file.is_file() {
        return Tokenizer::from_file(&override_file).map_err(|err| ModelError::Tokenizer {
            message: format!("{}: {err}", override_file.display()),
        });
    }
    let model_kind = metadata_string(content, "tokenizer.ggml.model").unwrap_or_default();
    if model_kind != "gpt2" {
        return Err(ModelError::Tokenizer {
            message: format!(
                "tokenizer kind `{model_kind}` in {} is not supported from GGUF metadata yet; \
                 place its tokenizer.json at {}",
                model_path.display(),
                override_file.display()
            ),
        });
    }
    let mut tokenizer = Tokenizer::from_gguf(content).map_err(|err| ModelError::Tokenizer {
        message: format!("{}: {err}", model_path.display()),
    })?;
    let pre = metadata_string(content, "tokenizer.ggml.pre").unwrap_or_default();
    if pre == "smollm" {
        // Matches the model's tokenizer.json: digits split one by one, then byte-level
        // without a prefix space. Verified against llama.cpp's ids in tests.
        let pre_tokenizer = Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ]);
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    }
    Ok(tokenizer)
}

/// A string value from GGUF metadata, if present.
pub fn metadata_string(content: &gguf_file::Content, key: &str) -> Option<String> {
    content
        .metadata
        .get(key)
        .and_then(|value| value.to_string().ok())
        .cloned()
}

/// A numeric value from GGUF metadata, if present.
pub fn metadata_u32(content: &gguf_file::Content, key: &str) -> Option<u32> {
    content
        .metadata
        .get(key)
        .and_then(|value| value.to_u32().ok())
}
