//! Sentence embeddings with all-MiniLM-L6-v2 (BERT, mean pooling, L2 norm),
//! run in candle from the pinned safetensors file.
//!
//! Batches are formed from texts of similar length and padded only to the
//! longest in the batch (the shipped tokenizer.json pads every text to 128
//! tokens, which is wasted work on short chunks).

use std::path::Path;

use super::bert::{mean_pool_normalized, BertConfig, BertEncoder};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::words::WordVectors;
use super::IndexError;
use crate::model::Manifest;

/// Manifest names of the embedding model's files.
pub const EMBEDDING_WEIGHTS: &str = "all-minilm-l6-v2";
pub const EMBEDDING_TOKENIZER: &str = "all-minilm-l6-v2-tokenizer";
pub const EMBEDDING_CONFIG: &str = "all-minilm-l6-v2-config";

/// The longest input the model was trained on (sentence-transformers' max_seq_length).
pub const MAX_TOKENS: usize = 256;
/// Texts embedded per forward pass.
pub const BATCH_SIZE: usize = 32;

pub struct Embedder {
    model: BertEncoder,
    tokenizer: Tokenizer,
    device: Device,
    pub dimensions: usize,
}

impl Embedder {
    /// Verifies the three pinned files and loads the model.
    pub fn load(manifest: &Manifest) -> Result<Self, IndexError> {
        let verify = |name: &str| -> Result<std::path::PathBuf, IndexError> {
            let entry = manifest.entry(name).ok_or_else(|| IndexError::Embedder {
                message: format!("models/manifest.toml has no entry `{name}`"),
            })?;
            Ok(manifest.verify_entry(entry)?.path)
        };
        let weights = verify(EMBEDDING_WEIGHTS)?;
        let tokenizer = verify(EMBEDDING_TOKENIZER)?;
        let config = verify(EMBEDDING_CONFIG)?;
        Self::load_files(&weights, &tokenizer, &config)
    }

    fn load_files(weights: &Path, tokenizer: &Path, config: &Path) -> Result<Self, IndexError> {
        let fail = |what: &Path, err: &dyn std::fmt::Display| IndexError::Embedder {
            message: format!("{}: {err}", what.display()),
        };
        let config_text = std::fs::read_to_string(config).map_err(|err| fail(config, &err))?;
        let config: BertConfig =
            serde_json::from_str(&config_text).map_err(|err| fail(config, &err))?;
        let mut tokenizer = Tokenizer::from_file(tokenizer).map_err(|err| fail(tokenizer, &err))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|err| IndexError::Embedder {
                message: err.to_string(),
            })?;
        let device = Device::Cpu;
        // SAFETY: the file was hash-verified just now and is not modified while mapped.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device)
                .map_err(|err| fail(weights, &err))?
        };
        let model = BertEncoder::load(vb, &config).map_err(|err| fail(weights, &err))?;
        Ok(Self {
            model,
            tokenizer,
            device,
            dimensions: config.hidden_size,
        })
    }

    /// Static word vectors from this model's input embedding table (for the
    /// citation verifier's word similarity).
    pub fn word_vectors(&self) -> Result<WordVectors, IndexError> {
        let table = self.model.word_embedding_table();
        let dimensions = table.dim(1)?;
        let values = table.flatten_all()?.to_vec1::<f32>()?;
        let vocab = self.tokenizer.get_vocab(false).into_iter().collect();
        Ok(WordVectors::new(vocab, values, dimensions))
    }

    /// Embeds one text.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, IndexError> {
        let mut vectors = self.embed_batch(&[text])?;
        Ok(vectors.pop().unwrap_or_default())
    }

    /// Embeds many texts, in length-sorted batches; output order matches input.
    pub fn embed_all(
        &self,
        texts: &[&str],
        mut on_batch: impl FnMut(usize),
    ) -> Result<Vec<Vec<f32>>, IndexError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&index| texts[index].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let batch_texts: Vec<&str> = batch.iter().map(|&index| texts[index]).collect();
            let embedded = self.embed_batch(&batch_texts)?;
            for (&index, vector) in batch.iter().zip(embedded) {
                vectors[index] = vector;
            }
            on_batch(batch.len());
        }
        Ok(vectors)
    }

    /// Embeds one batch: tokenize, BERT, masked mean pooling, L2 normalisation.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, IndexError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| IndexError::Embedder {
                message: err.to_string(),
            })?;
        let rows =
            |get: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> candle_core::Result<Tensor> {
                let rows = encodings
                    .iter()
                    .map(|encoding| Tensor::new(get(encoding).as_slice(), &self.device))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::stack(&rows, 0)
            };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let type_ids = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let hidden = self.model.forward(&ids, &type_ids, &mask)?;
        Ok(mean_pool_normalized(&hidden, &mask)?.to_vec2::<f32>()?)
    }
}
