//! Gemma 3 from a GGUF file, implemented here instead of taken from
//! candle-transformers.
//!
//! candle 0.11's `quantized_gemma3` differs from the model in three ways that
//! do not crash and quietly make answers worse than llama.cpp's on the same
//! file: its feed-forward gate uses SiLU where Gemma 3 uses GELU (tanh
//! approximation; candle issue #3745), its sliding-window layers stop applying
//! the window once generation starts (the mask is only built for the prompt),
//! and it precomputes rotary tables for 131,072 positions in every layer
//! (seconds of load time and gigabytes for a 270M model). This module follows
//! the reference model: GELU-gated MLP, local layers attending to the last
//! `sliding_window` positions at every step with their own rotary base, one
//! shared pair of rotary tables sized to the context. Its greedy output is
//! tested token for token against llama.cpp's.

use std::sync::Arc;

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_nn::RmsNorm;

use super::layers::{
    attention_mask, grouped_attention, load_embeddings_and_output, load_norm, KvCache, Rotary,
};
use super::packed::{load_matrix, Projection};

/// Every sixth layer attends globally unless the file says otherwise.
const DEFAULT_GLOBAL_EVERY: usize = 6;
const DEFAULT_GLOBAL_ROPE_BASE: f32 = 1_000_000.0;
const DEFAULT_LOCAL_ROPE_BASE: f32 = 10_000.0;
/// Rotary tables cover at most this many positions (more than Warden's
/// prompts need; a longer sequence is an error, not a panic).
const MAX_POSITIONS: usize = 32_768;

#[derive(Debug, Clone)]
struct Layer {
    attention_norm: RmsNorm,
    /// Query, key and value projections, one product when packed.
    query_key_value: Projection,
    attention_out: QMatMul,
    query_norm: RmsNorm,
    key_norm: RmsNorm,
    post_attention_norm: RmsNorm,
    ffn_norm: RmsNorm,
    /// Gate and up projections, one product when packed.
    gate_up: Projection,
    down: QMatMul,
    post_ffn_norm: RmsNorm,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// `Some(n)`: a local layer, each position sees itself and the n - 1 before it.
    window: Option<usize>,
    rotary: Rotary,
    cache: KvCache,
}

impl Layer {
    fn attention(&mut self, x: &Tensor, start: usize, masks: &Masks) -> Result<Tensor> {
        let (batch, seq, _) = x.dims3()?;
        let split = |t: Tensor, heads: usize| {
            t.reshape((batch, seq, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let [q, k, v] = self.query_key_value.forward_each(x)?;
        let q = split(q, self.heads)?;
        let k = split(k, self.kv_heads)?;
        let v = split(v, self.kv_heads)?;
        let q = self.rotary.apply(&self.query_norm.forward(&q)?, start)?;
        let k = self.rotary.apply(&self.key_norm.forward(&k)?, start)?;
        let (k, v) = self.cache.append(&k, &v, start)?;
        let mask = match self.window {
            Some(_) => &masks.local,
            None => &masks.global,
        };
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let out = grouped_attention(&q, &k, &v, mask.as_ref(), scale)?;
        let out = out
            .transpose(1, 2)?
            .reshape((batch, seq, self.heads * self.head_dim))?;
        self.attention_out.forward(&out)
    }

    fn forward(&mut self, x: &Tensor, start: usize, masks: &Masks) -> Result<Tensor> {
        let attended = self.attention(&self.attention_norm.forward(x)?, start, masks)?;
        let x = (self.post_attention_norm.forward(&attended)? + x)?;
        let normed = self.ffn_norm.forward(&x)?;
        let [gate, up] = self.gate_up.forward_each(&normed)?;
        let gated = (gate.gelu()? * up)?;
        let fed = self.post_ffn_norm.forward(&self.down.forward(&gated)?)?;
        fed + x
    }
}

/// The two masks of one forward pass, built once and shared by the layers of
/// each kind (`None` where nothing is hidden).
struct Masks {
    global: Option<Tensor>,
    local: Option<Tensor>,
}

/// A Gemma 3 text model with its KV cache.
#[derive(Debug, Clone)]
pub struct Gemma3 {
    /// The file's token embedding table, as stored (the largest tensor:
    /// 262,144 × width); rows are dequantised on lookup.
    embeddings: Arc<QTensor>,
    width: usize,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
}

impl Gemma3 {
    /// Builds the model; `pack`: quantised matrices run on [`super::packed`].
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
        pack: bool,
    ) -> Result<Self> {
        let get = |key: &str| {
            content
                .metadata
                .get(&format!("gemma3.{key}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("missing `gemma3.{key}` metadata")))
        };
        let count = |key: &str| -> Result<usize> { Ok(get(key)?.to_u32()? as usize) };
        let heads = count("attention.head_count")?;
        let kv_heads = count("attention.head_count_kv")?;
        let blocks = count("block_count")?;
        let width = count("embedding_length")?;
        let head_dim = count("attention.key_length")?;
        let window = count("attention.sliding_window")?;
        let global_every = count("attention.sliding_window_type").unwrap_or(DEFAULT_GLOBAL_EVERY);
        let eps = f64::from(get("attention.layer_norm_rms_epsilon")?.to_f32()?);
        let global_base = get("rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(DEFAULT_GLOBAL_ROPE_BASE);
        let local_base = get("rope.local_freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(DEFAULT_LOCAL_ROPE_BASE);
        let positions = count("context_length")
            .unwrap_or(MAX_POSITIONS)
            .min(MAX_POSITIONS);
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 || head_dim % 2 != 0 || window == 0
        {
            return Err(candle_core::Error::Msg(format!(
                "unusable attention shape: {heads} heads, {kv_heads} key/value heads, head size {head_dim}, sliding window {window}"
            )));
        }
        let global_rotary = Rotary::new(global_base, head_dim, positions, device)?;
        let local_rotary = Rotary::new(local_base, head_dim, positions, device)?;

        let (embeddings, output) = load_embeddings_and_output(&content, reader, device, pack)?;
        let final_norm = load_norm(&content, reader, "output_norm.weight", eps, device)?;
        let mut layers = Vec::with_capacity(blocks);
        for index in 0..blocks {
            let name = |part: &str| format!("blk.{index}.{part}.weight");
            let mut norm = |part: &str| load_norm(&content, reader, &name(part), eps, device);
            let attention_norm = norm("attn_norm")?;
            let query_norm = norm("attn_q_norm")?;
            let key_norm = norm("attn_k_norm")?;
            let post_attention_norm = norm("post_attention_norm")?;
            let ffn_norm = norm("ffn_norm")?;
            let post_ffn_norm = norm("post_ffw_norm")?;
            let mut tensor = |part: &str| content.tensor(reader, &name(part), device);
            let query_key_value = Projection::load(
                vec![tensor("attn_q")?, tensor("attn_k")?, tensor("attn_v")?],
                pack,
            )?;
            let gate_up = Projection::load(vec![tensor("ffn_gate")?, tensor("ffn_up")?], pack)?;
            let attention_out = load_matrix(tensor("attn_output")?, pack)?;
            let down = load_matrix(tensor("ffn_down")?, pack)?;
            let global = (index + 1) % global_every.max(1) == 0;
            layers.push(Layer {
                attention_norm,
                query_key_value,
                attention_out,
                query_norm,
                key_norm,
                post_attention_norm,
                ffn_norm,
                gate_up,
                down,
                post_ffn_norm,
                heads,
                kv_heads,
                head_dim,
                window: (!global).then_some(window),
                rotary: if global {
                    global_rotary.clone()
                } else {
                    local_rotary.clone()
                },
                cache: KvCache::default(),
            });
        }
        Ok(Self {
            embeddings,
            width,
            layers,
            norm: final_norm,
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
        let x = self.embeddings.embedding(tokens)?;
        let mut x = (x * (self.width as f64).sqrt())?;
        // Keys after this call: the cached positions and the new ones.
        let total = start + seq;
        let window = self.layers.iter().find_map(|layer| layer.window);
        let masks = Masks {
            global: attention_mask(seq, start, total, None, x.device())?,
            local: match window {
                Some(window) => attention_mask(seq, start, total, Some(window), x.device())?,
                None => None,
            },
        };
        for layer in &mut self.layers {
            x = layer.forward(&x, start, &masks)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_layers_see_only_their_window_at_every_step() {
        let device = Device::Cpu;
        // Prompt of 4 with a window of 2: each query sees itself and one before.
        let mask = attention_mask(4, 0, 4, Some(2), &device).unwrap().unwrap();
        let rows: Vec<Vec<f32>> = mask.to_vec2().unwrap();
        let seen = |row: &Vec<f32>| row.iter().map(|v| v.is_finite()).collect::<Vec<_>>();
        assert_eq!(seen(&rows[0]), [true, false, false, false]);
        assert_eq!(seen(&rows[3]), [false, false, true, true]);
        // Generating position 5 over 6 cached keys: still only the last two.
        let step = attention_mask(1, 5, 6, Some(2), &device).unwrap().unwrap();
        let row: Vec<Vec<f32>> = step.to_vec2().unwrap();
        assert_eq!(
            seen(&row[0]),
            [false, false, false, false, true, true],
            "the window applies while generating too"
        );
        // A global layer generating needs no mask at all.
        assert!(attention_mask(1, 5, 6, None, &device).unwrap().is_none());
        // Inside the window, no mask either.
        assert!(attention_mask(1, 1, 2, Some(2), &device).unwrap().is_none());
    }
}
