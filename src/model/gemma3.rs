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

use candle_core::quantized::{gguf_file, QMatMul};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::RmsNorm;

/// Every sixth layer attends globally unless the file says otherwise.
const DEFAULT_GLOBAL_EVERY: usize = 6;
const DEFAULT_GLOBAL_ROPE_BASE: f32 = 1_000_000.0;
const DEFAULT_LOCAL_ROPE_BASE: f32 = 10_000.0;
/// Rotary tables cover at most this many positions (more than Warden's
/// prompts need; a longer sequence is an error, not a panic).
const MAX_POSITIONS: usize = 32_768;

/// Cosine and sine of every position's rotation angles, `(positions, head_dim / 2)`.
#[derive(Debug, Clone)]
struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    fn new(base: f32, head_dim: usize, positions: usize, device: &Device) -> Result<Self> {
        let inverse: Vec<f32> = (0..head_dim / 2)
            .map(|i| 1.0 / base.powf(2.0 * i as f32 / head_dim as f32))
            .collect();
        let inverse = Tensor::from_vec(inverse, (1, head_dim / 2), device)?;
        let positions = Tensor::arange(0u32, positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((positions, 1))?;
        let angles = positions.broadcast_mul(&inverse)?;
        Ok(Self {
            cos: angles.cos()?,
            sin: angles.sin()?,
        })
    }

    /// Rotates `x` `(batch, heads, seq, head_dim)` for positions `start..start + seq`.
    fn apply(&self, x: &Tensor, start: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attention_norm: RmsNorm,
    query: QMatMul,
    key: QMatMul,
    value: QMatMul,
    attention_out: QMatMul,
    query_norm: RmsNorm,
    key_norm: RmsNorm,
    post_attention_norm: RmsNorm,
    ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    post_ffn_norm: RmsNorm,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    /// `Some(n)`: a local layer, each position sees itself and the n - 1 before it.
    window: Option<usize>,
    rotary: Rotary,
    cache: Option<(Tensor, Tensor)>,
}

impl Layer {
    fn attention(&mut self, x: &Tensor, start: usize, masks: &Masks) -> Result<Tensor> {
        let (batch, seq, _) = x.dims3()?;
        let split = |t: Tensor, heads: usize| {
            t.reshape((batch, seq, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?, self.heads)?;
        let k = split(self.key.forward(x)?, self.kv_heads)?;
        let v = split(self.value.forward(x)?, self.kv_heads)?;
        let q = self.rotary.apply(&self.query_norm.forward(&q)?, start)?;
        let k = self.rotary.apply(&self.key_norm.forward(&k)?, start)?;
        let (k, v) = match self.cache.take() {
            Some((cached_k, cached_v)) if start > 0 => (
                Tensor::cat(&[&cached_k, &k], 2)?,
                Tensor::cat(&[&cached_v, &v], 2)?,
            ),
            _ => (k, v),
        };
        self.cache = Some((k.clone(), v.clone()));
        let groups = self.heads / self.kv_heads;
        let k = candle_transformers::utils::repeat_kv(k, groups)?.contiguous()?;
        let v = candle_transformers::utils::repeat_kv(v, groups)?.contiguous()?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        let mask = match self.window {
            Some(_) => &masks.local,
            None => &masks.global,
        };
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights.matmul(&v)?.transpose(1, 2)?.reshape((
            batch,
            seq,
            self.heads * self.head_dim,
        ))?;
        self.attention_out.forward(&out)
    }

    fn forward(&mut self, x: &Tensor, start: usize, masks: &Masks) -> Result<Tensor> {
        let attended = self.attention(&self.attention_norm.forward(x)?, start, masks)?;
        let x = (self.post_attention_norm.forward(&attended)? + x)?;
        let normed = self.ffn_norm.forward(&x)?;
        let gated = (self.gate.forward(&normed)?.gelu()? * self.up.forward(&normed)?)?;
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

/// Additive mask `(seq, total)` for queries at positions `start..start + seq`
/// over keys `0..total`: 0 where a query may look, -inf elsewhere (later keys,
/// and keys outside a local layer's window). `None` when nothing is hidden.
fn attention_mask(
    seq: usize,
    start: usize,
    total: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Option<Tensor>> {
    let visible =
        |query: usize, key: usize| key <= query && window.is_none_or(|window| query - key < window);
    let last = start + seq - 1;
    let hides_nothing = seq == 1 && (0..total).all(|key| visible(last, key));
    if hides_nothing {
        return Ok(None);
    }
    let mask: Vec<f32> = (start..start + seq)
        .flat_map(|query| {
            (0..total).map(move |key| {
                if visible(query, key) {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (seq, total), device).map(Some)
}

fn load_norm<R: std::io::Read + std::io::Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
    name: &str,
    eps: f64,
    device: &Device,
) -> Result<RmsNorm> {
    Ok(RmsNorm::new(
        content.tensor(reader, name, device)?.dequantize(device)?,
        eps,
    ))
}

/// A Gemma 3 text model with its KV cache.
#[derive(Debug, Clone)]
pub struct Gemma3 {
    /// Token embeddings, f16 (the largest tensor: 262,144 × width).
    embeddings: Tensor,
    width: usize,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
}

impl Gemma3 {
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
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

        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let embeddings = tensor("token_embd.weight")?.dequantize_f16(device)?;
        let output = match tensor("output.weight") {
            Ok(output) => output,
            // Tied embeddings: the output matrix is the embedding matrix.
            Err(_) => tensor("token_embd.weight")?,
        };
        let output = QMatMul::from_qtensor(output)?;
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
            let mut matrix = |part: &str| -> Result<QMatMul> {
                QMatMul::from_qtensor(content.tensor(reader, &name(part), device)?)
            };
            let global = (index + 1) % global_every.max(1) == 0;
            layers.push(Layer {
                attention_norm,
                query: matrix("attn_q")?,
                key: matrix("attn_k")?,
                value: matrix("attn_v")?,
                attention_out: matrix("attn_output")?,
                query_norm,
                key_norm,
                post_attention_norm,
                ffn_norm,
                gate: matrix("ffn_gate")?,
                up: matrix("ffn_up")?,
                down: matrix("ffn_down")?,
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
                cache: None,
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
        let (batch, seq) = tokens.dims2()?;
        if seq == 0 {
            return Err(candle_core::Error::Msg("no tokens to run".into()));
        }
        let ids = tokens.flatten_all()?;
        let mut x = self
            .embeddings
            .index_select(&ids, 0)?
            .to_dtype(DType::F32)?
            .reshape((batch, seq, self.width))?;
        x = (x * (self.width as f64).sqrt())?;
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
            layer.cache = None;
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
