//! The llama family (llama, mistral-style llama files, qwen2) from a GGUF
//! file, implemented here instead of taken from candle-transformers.
//!
//! candle's `quantized_llama` and `quantized_qwen2` compute what llama.cpp
//! computes (the greedy parity tests show it), but they build their matrices
//! themselves, so they cannot run on Warden's packed kernels
//! ([`super::packed`]), and they keep the token embeddings dequantised to f32
//! (545 MB for Qwen2.5 0.5B). This module is the same model: RMS-normed
//! pre-attention and pre-MLP blocks, grouped-query attention with rotary
//! positions (interleaved pairs for llama, halves for qwen2), optional
//! query/key/value biases (qwen2), a SiLU-gated MLP; it looks token
//! embeddings up in the file's quantised table, row by row.

use std::sync::Arc;

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_nn::RmsNorm;

use super::layers::{
    attention_mask, grouped_attention, load_embeddings_and_output, load_norm, KvCache, Rotary,
};
use super::packed::{load_matrix, Projection};

/// Rotary tables cover at most this many positions (more than Warden's
/// prompts need; a longer sequence is an error, not a panic).
const MAX_POSITIONS: usize = 32_768;
const DEFAULT_ROPE_BASE: f32 = 10_000.0;

#[derive(Debug, Clone)]
struct Layer {
    attention_norm: RmsNorm,
    /// Query, key and value projections, one product when packed.
    query_key_value: Projection,
    /// Query, key and value biases (qwen2), `None` for llama.
    biases: Option<[Tensor; 3]>,
    attention_out: QMatMul,
    ffn_norm: RmsNorm,
    /// Gate and up projections, one product when packed.
    gate_up: Projection,
    down: QMatMul,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    rotary: Rotary,
    cache: KvCache,
}

impl Layer {
    fn attention(&mut self, x: &Tensor, start: usize, mask: Option<&Tensor>) -> Result<Tensor> {
        let (batch, seq, _) = x.dims3()?;
        let [mut q, mut k, mut v] = self.query_key_value.forward_each(x)?;
        if let Some([query_bias, key_bias, value_bias]) = &self.biases {
            q = q.broadcast_add(query_bias)?;
            k = k.broadcast_add(key_bias)?;
            v = v.broadcast_add(value_bias)?;
        }
        let split = |t: Tensor, heads: usize| {
            t.reshape((batch, seq, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = self.rotary.apply(&split(q, self.heads)?, start)?;
        let k = self.rotary.apply(&split(k, self.kv_heads)?, start)?;
        let v = split(v, self.kv_heads)?;
        let (k, v) = self.cache.append(&k, &v, start)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let out = grouped_attention(&q, &k, &v, mask, scale)?;
        let out = out
            .transpose(1, 2)?
            .reshape((batch, seq, self.heads * self.head_dim))?;
        self.attention_out.forward(&out)
    }

    fn forward(&mut self, x: &Tensor, start: usize, mask: Option<&Tensor>) -> Result<Tensor> {
        let attended = self.attention(&self.attention_norm.forward(x)?, start, mask)?;
        let x = (attended + x)?;
        let normed = self.ffn_norm.forward(&x)?;
        let [gate, up] = self.gate_up.forward_each(&normed)?;
        let gated = (candle_nn::ops::silu(&gate)? * up)?;
        self.down.forward(&gated)? + x
    }
}

/// A llama-family text model with its KV cache.
#[derive(Debug, Clone)]
pub struct Llama {
    /// The file's token embedding table, as stored (rows are dequantised on lookup).
    embeddings: Arc<QTensor>,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
}

impl Llama {
    /// Builds a `llama` or `qwen2` model; `pack`: quantised matrices run on
    /// [`super::packed`].
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        architecture: &str,
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
        pack: bool,
    ) -> Result<Self> {
        let get = |key: &str| {
            content
                .metadata
                .get(&format!("{architecture}.{key}"))
                .ok_or_else(|| {
                    candle_core::Error::Msg(format!("missing `{architecture}.{key}` metadata"))
                })
        };
        let count = |key: &str| -> Result<usize> { Ok(get(key)?.to_u32()? as usize) };
        let heads = count("attention.head_count")?;
        let kv_heads = count("attention.head_count_kv").unwrap_or(heads);
        let blocks = count("block_count")?;
        let width = count("embedding_length")?;
        let eps = f64::from(get("attention.layer_norm_rms_epsilon")?.to_f32()?);
        let rope_base = get("rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(DEFAULT_ROPE_BASE);
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 || width % heads != 0 {
            return Err(candle_core::Error::Msg(format!(
                "unusable attention shape: width {width}, {heads} heads, {kv_heads} key/value heads"
            )));
        }
        let head_dim = width / heads;
        if head_dim % 2 != 0 {
            return Err(candle_core::Error::Msg(format!(
                "odd head size {head_dim} cannot be rotated"
            )));
        }
        let positions = count("context_length")
            .unwrap_or(MAX_POSITIONS)
            .min(MAX_POSITIONS);
        let rotary = Rotary::new(rope_base, head_dim, positions, device)?;
        // GGUF llama files store query and key rows for pairwise rotation.
        let rotary = if architecture == "llama" {
            rotary.interleaved()
        } else {
            rotary
        };

        let (embeddings, output) = load_embeddings_and_output(&content, reader, device, pack)?;
        let norm = load_norm(&content, reader, "output_norm.weight", eps, device)?;
        let mut layers = Vec::with_capacity(blocks);
        for index in 0..blocks {
            let name = |part: &str| format!("blk.{index}.{part}");
            let attention_norm =
                load_norm(&content, reader, &name("attn_norm.weight"), eps, device)?;
            let ffn_norm = load_norm(&content, reader, &name("ffn_norm.weight"), eps, device)?;
            let mut tensor = |part: &str| content.tensor(reader, &name(part), device);
            let query_key_value = Projection::load(
                vec![
                    tensor("attn_q.weight")?,
                    tensor("attn_k.weight")?,
                    tensor("attn_v.weight")?,
                ],
                pack,
            )?;
            let gate_up = Projection::load(
                vec![tensor("ffn_gate.weight")?, tensor("ffn_up.weight")?],
                pack,
            )?;
            let attention_out = load_matrix(tensor("attn_output.weight")?, pack)?;
            let down = load_matrix(tensor("ffn_down.weight")?, pack)?;
            let biases = if content.tensor_infos.contains_key(&name("attn_q.bias")) {
                let mut bias = |part: &str| -> Result<Tensor> {
                    content
                        .tensor(reader, &name(part), device)?
                        .dequantize(device)
                };
                Some([
                    bias("attn_q.bias")?,
                    bias("attn_k.bias")?,
                    bias("attn_v.bias")?,
                ])
            } else {
                None
            };
            layers.push(Layer {
                attention_norm,
                query_key_value,
                biases,
                attention_out,
                ffn_norm,
                gate_up,
                down,
                heads,
                kv_heads,
                head_dim,
                rotary: rotary.clone(),
                cache: KvCache::default(),
            });
        }
        Ok(Self {
            embeddings,
            layers,
            norm,
            output,
        })
    }

    /// Runs `tokens` `(batch, seq)` at positions `start..` and returns the
    /// last position's logits `(batch, vocabulary)`. A sequence starting at
    /// position 0 replaces whatever the cache held.
    pub fn forward(&mut self, tokens: &Tensor, start: usize) -> Result<Tensor> {
        let (_batch, seq) = tokens.dims2()?;
        if seq == 0 {
            return Err(candle_core::Error::Msg("no tokens to run".into()));
        }
        let mut x = self.embeddings.embedding(tokens)?;
        let mask = attention_mask(seq, start, start + seq, None, x.device())?;
        for layer in &mut self.layers {
            x = layer.forward(&x, start, mask.as_ref())?;
        }
        let last = x.i((.., seq - 1, ..))?;
        let last = self.norm.forward(&last)?;
        self.output.forward(&last)
    }

    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.cache.clear();
        }
    }
}
