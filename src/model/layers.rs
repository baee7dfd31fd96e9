//! Building blocks shared by Warden's own model implementations
//! ([`super::llama`], [`super::gemma3`]): rotary positions, attention masks,
//! RMS norms from GGUF tensors, a key/value cache that grows in place, and
//! grouped-query attention that reads each key/value head once.
//!
//! candle's reference models append to their cache with `Tensor::cat` (a copy
//! of the whole cache per token and layer) and repeat every key/value head for
//! the query heads that share it (another copy of the whole cache per token).
//! At a 500-token RAG prompt those copies cost as much memory traffic as the
//! weights themselves; here keys and values are written once.

use std::sync::Arc;

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{DType, Device, Result, Tensor};
use candle_nn::RmsNorm;

/// Cosine and sine of every position's rotation angles, `(positions, head_dim / 2)`.
#[derive(Debug, Clone)]
pub(super) struct Rotary {
    cos: Tensor,
    sin: Tensor,
    /// Pairs `(2i, 2i + 1)` rotate together (GGUF llama) instead of `(i, i + d/2)`.
    interleaved: bool,
}

impl Rotary {
    pub(super) fn new(
        base: f32,
        head_dim: usize,
        positions: usize,
        device: &Device,
    ) -> Result<Self> {
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
            interleaved: false,
        })
    }

    /// The same tables for models whose rotation pairs neighbouring values.
    pub(super) fn interleaved(mut self) -> Self {
        self.interleaved = true;
        self
    }

    /// Rotates `x` `(batch, heads, seq, head_dim)` for positions `start..start + seq`.
    pub(super) fn apply(&self, x: &Tensor, start: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        if start + seq > self.cos.dim(0)? {
            return Err(candle_core::Error::Msg(format!(
                "position {} is past the {} the rotary tables cover",
                start + seq,
                self.cos.dim(0)?
            )));
        }
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        if self.interleaved {
            candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin)
        } else {
            candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
        }
    }
}

/// Additive mask `(seq, total)` for queries at positions `start..start + seq`
/// over keys `0..total`: 0 where a query may look, -inf elsewhere (later keys,
/// and keys outside a local layer's window). `None` when nothing is hidden.
pub(super) fn attention_mask(
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

pub(super) fn load_norm<R: std::io::Read + std::io::Seek>(
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

/// The token embedding table, kept as stored (rows are dequantised on
/// lookup), and the output matrix: `output.weight`, or the embedding table
/// again for models with tied embeddings.
pub(super) fn load_embeddings_and_output<R: std::io::Read + std::io::Seek>(
    content: &gguf_file::Content,
    reader: &mut R,
    device: &Device,
    pack: bool,
) -> Result<(Arc<QTensor>, QMatMul)> {
    let mut tensor = |name: &str| content.tensor(reader, name, device);
    let embeddings = Arc::new(tensor("token_embd.weight")?);
    let output = match tensor("output.weight") {
        Ok(output) => output,
        Err(_) => tensor("token_embd.weight")?,
    };
    Ok((embeddings, super::packed::load_matrix(output, pack)?))
}

/// Keys and values of the positions seen so far, `(batch, kv_heads,
/// capacity, head_dim)`, grown by doubling; new positions are written in place.
#[derive(Debug, Clone, Default)]
pub(super) struct KvCache {
    keys: Option<Tensor>,
    values: Option<Tensor>,
    len: usize,
}

/// Positions a cache holds before its first growth.
const INITIAL_CAPACITY: usize = 512;

impl KvCache {
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Stores `keys` and `values` `(batch, kv_heads, seq, head_dim)` for
    /// positions `start..start + seq` and returns views of positions
    /// `0..start + seq`. `start` 0 begins a new sequence; a `start` before the
    /// cached length rewinds to it; one past it is an error.
    pub(super) fn append(
        &mut self,
        keys: &Tensor,
        values: &Tensor,
        start: usize,
    ) -> Result<(Tensor, Tensor)> {
        if start > self.len {
            return Err(candle_core::Error::Msg(format!(
                "the cache holds {} positions; cannot continue at {start}",
                self.len
            )));
        }
        let seq = keys.dim(2)?;
        let needed = start + seq;
        let capacity = self.keys.as_ref().map_or(Ok(0), |cached| cached.dim(2))?;
        let same_shape = self.keys.as_ref().map_or(Ok(false), |cached| {
            Ok::<_, candle_core::Error>(
                cached.dim(0)? == keys.dim(0)?
                    && cached.dim(1)? == keys.dim(1)?
                    && cached.dim(3)? == keys.dim(3)?,
            )
        })?;
        if needed > capacity || !same_shape {
            let (batch, heads, _, head_dim) = keys.dims4()?;
            let grown = needed.max(2 * capacity).max(INITIAL_CAPACITY);
            let shape = (batch, heads, grown, head_dim);
            let new_keys = Tensor::zeros(shape, keys.dtype(), keys.device())?;
            let new_values = Tensor::zeros(shape, values.dtype(), values.device())?;
            if let (Some(old_keys), Some(old_values), true) =
                (&self.keys, &self.values, same_shape && start > 0)
            {
                new_keys.slice_set(&old_keys.narrow(2, 0, start)?.contiguous()?, 2, 0)?;
                new_values.slice_set(&old_values.narrow(2, 0, start)?.contiguous()?, 2, 0)?;
            }
            self.keys = Some(new_keys);
            self.values = Some(new_values);
        }
        let (Some(cached_keys), Some(cached_values)) = (&self.keys, &self.values) else {
            unreachable!("allocated above");
        };
        cached_keys.slice_set(&keys.contiguous()?, 2, start)?;
        cached_values.slice_set(&values.contiguous()?, 2, start)?;
        self.len = needed;
        Ok((
            cached_keys.narrow(2, 0, needed)?,
            cached_values.narrow(2, 0, needed)?,
        ))
    }
}

/// Scaled dot-product attention of `queries` `(batch, heads, seq, head_dim)`
/// over `keys` and `values` `(batch, kv_heads, total, head_dim)`, where each
/// run of `heads / kv_heads` query heads shares one key/value head. The
/// optional additive `mask` is `(seq, total)`. Returns `(batch, heads, seq,
/// head_dim)`.
pub(super) fn grouped_attention(
    queries: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> Result<Tensor> {
    let (batch, heads, seq, head_dim) = queries.dims4()?;
    let (kv_heads, total) = (keys.dim(1)?, keys.dim(2)?);
    if kv_heads == 0 || heads % kv_heads != 0 {
        return Err(candle_core::Error::Msg(format!(
            "{heads} query heads cannot share {kv_heads} key/value heads"
        )));
    }
    let groups = heads / kv_heads;
    // Query heads of one group are adjacent: fold them into the rows.
    let queries = queries
        .contiguous()?
        .reshape((batch, kv_heads, groups * seq, head_dim))?;
    let mut scores = (queries.matmul(&keys.t()?)? * scale)?;
    if let Some(mask) = mask {
        scores = scores
            .reshape((batch, kv_heads, groups, seq, total))?
            .broadcast_add(mask)?
            .reshape((batch, kv_heads, groups * seq, total))?;
    }
    let weights = candle_nn::ops::softmax_last_dim(&scores)?;
    weights
        .matmul(values)?
        .reshape((batch, heads, seq, head_dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache and grouped attention compute what concatenation and
    /// repeated heads compute.
    #[test]
    fn grouped_attention_over_the_cache_matches_repeated_heads() {
        let device = Device::Cpu;
        let (heads, kv_heads, head_dim) = (6, 2, 8);
        let random = |seq: usize, heads: usize, seed: u64| {
            Tensor::rand(-1f32, 1f32, (1, heads, seq, head_dim), &device)
                .and_then(|t| t.affine(1.0, seed as f64 * 1e-3))
                .unwrap()
        };
        let mut cache = KvCache::default();
        let (mut all_keys, mut all_values) = (Vec::new(), Vec::new());
        let mut start = 0;
        // A 5-token prompt, then 600 single steps: past the first growth.
        for (step, seq) in std::iter::once(5)
            .chain(std::iter::repeat_n(1, 600))
            .enumerate()
        {
            let (keys, values) = (random(seq, kv_heads, step as u64), random(seq, kv_heads, 7));
            let queries = random(seq, heads, 3);
            all_keys.push(keys.clone());
            all_values.push(values.clone());
            let (cached_keys, cached_values) = cache.append(&keys, &values, start).unwrap();
            let total = start + seq;
            let mask = attention_mask(seq, start, total, None, &device).unwrap();
            let got = grouped_attention(&queries, &cached_keys, &cached_values, mask.as_ref(), 0.3)
                .unwrap();
            if step == 0 || step % 97 == 0 || step == 600 {
                let keys = Tensor::cat(&all_keys, 2).unwrap();
                let values = Tensor::cat(&all_values, 2).unwrap();
                let keys = candle_transformers::utils::repeat_kv(keys, heads / kv_heads).unwrap();
                let values =
                    candle_transformers::utils::repeat_kv(values, heads / kv_heads).unwrap();
                let mut scores = (queries.matmul(&keys.t().unwrap()).unwrap() * 0.3).unwrap();
                if let Some(mask) = &mask {
                    scores = scores.broadcast_add(mask).unwrap();
                }
                let weights = candle_nn::ops::softmax_last_dim(&scores).unwrap();
                let want = weights.matmul(&values.contiguous().unwrap()).unwrap();
                let difference: f32 = (got - want)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar()
                    .unwrap();
                assert!(difference < 1e-5, "step {step}: {difference}");
            }
            start = total;
        }
        // Starting over at 0 forgets the old sequence; skipping ahead is an error.
        let one = random(1, kv_heads, 1);
        let (keys, _) = cache.append(&one, &one, 0).unwrap();
        assert_eq!(keys.dim(2).unwrap(), 1);
        assert!(cache.append(&one, &one, 5).is_err());
    }
}
