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
    if model_kind == "llama" {
        return sentencepiece_from_gguf(content).map_err(|message| ModelError::Tokenizer {
            message: format!("{}: {message}", model_path.display()),
        });
    }
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

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;

/// A SentencePiece-style (`tokenizer.ggml.model = "llama"`) tokenizer from
/// GGUF metadata: the vocabulary with its scores becomes a byte-fallback BPE
/// whose merges are every pair of pieces that joins into a piece, ranked by
/// the joined piece's score — the merge llama.cpp's SPM tokenizer would make
/// first (the same derivation Hugging Face uses to convert SentencePiece
/// models). Spaces become `▁`, with one prepended when the file says
/// `add_space_prefix`; control and user-defined tokens are matched whole.
fn sentencepiece_from_gguf(content: &gguf_file::Content) -> Result<Tokenizer, String> {
    use std::collections::HashMap;
    use tokenizers::decoders::byte_fallback::ByteFallback;
    use tokenizers::decoders::fuse::Fuse;
    use tokenizers::decoders::sequence::Sequence as DecoderSequence;
    use tokenizers::decoders::strip::Strip;
    use tokenizers::models::bpe::BPE;
    use tokenizers::normalizers::{Prepend, Replace};
    use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper};

    let array = |key: &str| match content.metadata.get(key) {
        Some(gguf_file::Value::Array(values)) => Ok(values),
        _ => Err(format!("missing `{key}`")),
    };
    let tokens: Vec<String> = array("tokenizer.ggml.tokens")?
        .iter()
        .map(|value| value.to_string().cloned().map_err(|err| err.to_string()))
        .collect::<Result<_, _>>()?;
    let scores: Vec<f32> = match array("tokenizer.ggml.scores") {
        Ok(values) => values
            .iter()
            .map(|value| value.to_f32().map_err(|err| err.to_string()))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![0.0; tokens.len()],
    };
    let types: Vec<i32> = match array("tokenizer.ggml.token_type") {
        Ok(values) => values
            .iter()
            .map(|value| value.to_i32().map_err(|err| err.to_string()))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![1; tokens.len()],
    };
    if scores.len() != tokens.len() || types.len() != tokens.len() {
        return Err("tokens, scores and token types differ in length".into());
    }
    let ids: HashMap<&str, u32> = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.as_str(), id as u32))
        .collect();
    // Every way a piece splits into two pieces, ordered by the piece's score
    // (highest first), then by the halves' ids.
    let mut merges: Vec<(f32, u32, u32, usize)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types[id] == TOKEN_CONTROL || types[id] == TOKEN_USER_DEFINED {
            continue;
        }
        for (split, _) in piece.char_indices().skip(1) {
            if let (Some(&left), Some(&right)) =
                (ids.get(&piece[..split]), ids.get(&piece[split..]))
            {
                merges.push((scores[id], left, right, split));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let merges: Vec<(String, String)> = merges
        .into_iter()
        .map(|(_, left, right, _)| {
            (
                tokens[left as usize].clone(),
                tokens[right as usize].clone(),
            )
        })
        .collect();
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect();
    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true);
    if let Some(unknown) = metadata_u32(content, "tokenizer.ggml.unknown_token_id")
        .and_then(|id| tokens.get(id as usize))
    {
        builder = builder.unk_token(unknown.clone());
    }
    let model = builder.build().map_err(|err| err.to_string())?;
    let mut tokenizer = Tokenizer::new(model);
    let add_space_prefix = content
        .metadata
        .get("tokenizer.ggml.add_space_prefix")
        .and_then(|value| value.to_bool().ok())
        .unwrap_or(true);
    let replace = Replace::new(" ", "▁").map_err(|err| err.to_string())?;
    let normalizer: NormalizerWrapper = if add_space_prefix {
        tokenizers::normalizers::Sequence::new(vec![
            Prepend::new("▁".into()).into(),
            replace.into(),
        ])
        .into()
    } else {
        replace.into()
    };
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(|err| err.to_string())?;
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new("▁", " ")
            .map_err(|err| err.to_string())?
            .into(),
        ByteFallback::default().into(),
        Fuse::default().into(),
    ];
    if add_space_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    let whole = |kind: i32, special: bool| -> Vec<AddedToken> {
        tokens
            .iter()
            .zip(&types)
            .filter(|(_, k)| **k == kind)
            .map(|(token, _)| AddedToken::from(token.clone(), special))
            .collect()
    };
    tokenizer
        .add_special_tokens(whole(TOKEN_CONTROL, true))
        .map_err(|err| err.to_string())?;
    tokenizer
        .add_tokens(whole(TOKEN_USER_DEFINED, false))
        .map_err(|err| err.to_string())?;
    Ok(tokenizer)
}
