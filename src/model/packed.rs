//! Warden's own kernel for quantised matrices, plugged into candle.
//!
//! candle's CPU kernels for quantised weights multiply one row at a time and
//! reach a fraction of llama.cpp's speed (`docs/performance.md`); its
//! AVX-512 path only takes matrices whose width divides by 256, which rules
//! out the bundled models (widths 576, 640, 896). Dequantising to f16 instead
//! doubles or quadruples the bytes read per generated token, and generation
//! on a CPU is bound by exactly those bytes.
//!
//! This module repacks each quantised matrix once, at load, into tiles of 16
//! rows by 32 columns that one AVX-512 VNNI instruction (`vpdpbusd`) consumes
//! four columns at a time for all 16 rows: 4-bit codes where the file's format
//! has at most 4 bits (Q4_0, Q4_1, Q4_K: exact), 5-bit codes for Q5_0 and
//! Q5_1 (exact), 8-bit codes otherwise (Q8_0: exact; Q6_K and the rest:
//! requantised to 8 bits per block of 32, an error far below the file's own).
//! Every row-block keeps an f16 scale, and an f16 offset where the format is
//! asymmetric, so a weight is `scale * code + offset` (for symmetric formats,
//! `scale * (code - center)`): the bytes read per token match the file's. Activations are
//! quantised to 8 bits per block of 32, as llama.cpp does. The result is
//! exposed to candle as a [`QuantizedType`], so `QMatMul` calls it like its
//! own kernels.
//!
//! CPUs without AVX-512 VNNI run the same layout through a portable loop
//! (correct, slow); [`kernel_available`] lets the loader choose f16 there.

use std::borrow::Cow;
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor, QuantizedType};
use candle_core::{CpuStorage, Device, Result};
use half::f16;

/// Rows per tile: one 512-bit register of 32-bit sums.
pub const TILE_ROWS: usize = 16;
/// Columns per block: one scale (and offset) per row and block.
pub const BLOCK: usize = 32;
/// Bytes of one tile block's 16 f16 scales, and of its 16 f16 offsets.
const HALVES_BYTES: usize = TILE_ROWS * 2;

/// How many bits each packed code has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeWidth {
    Four,
    /// Four bits as in `Four`, plus a 64-bit mask of fifth bits per 64 codes.
    Five,
    Eight,
}

impl CodeWidth {
    fn code_bytes(self) -> usize {
        match self {
            Self::Four => TILE_ROWS * BLOCK / 2,
            Self::Five => TILE_ROWS * BLOCK / 2 + TILE_ROWS * BLOCK / 8,
            Self::Eight => TILE_ROWS * BLOCK,
        }
    }
}

/// How a GGUF format packs: the code width, and for symmetric formats the
/// code that means zero (then `weight = scale * (code - center)` and no
/// offsets are stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: CodeWidth,
    pub center: Option<u8>,
    /// One scale per 16 columns instead of 32 (Q6_K, exactly; symmetric
    /// 8-bit codes only).
    pub split: bool,
}

impl Layout {
    /// `None` for dense formats (left to candle's dense matmul).
    pub fn for_dtype(dtype: GgmlDType) -> Option<Self> {
        let (width, center) = match dtype {
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => return None,
            GgmlDType::Q4_0 => (CodeWidth::Four, Some(8)),
            GgmlDType::Q4_1 | GgmlDType::Q4K => (CodeWidth::Four, None),
            GgmlDType::Q5_0 => (CodeWidth::Five, Some(16)),
            GgmlDType::Q5_1 => (CodeWidth::Five, None),
            GgmlDType::Q6K => {
                return Some(Self {
                    width: CodeWidth::Eight,
                    center: Some(32),
                    split: true,
                })
            }
            // Q8_0 exactly; the rest requantised symmetrically.
            _ => (CodeWidth::Eight, Some(128)),
        };
        Some(Self {
            width,
            center,
            split: false,
        })
    }

    /// Offsets (asymmetric formats) or the second half's scales (split).
    fn offsets_bytes(self) -> usize {
        if self.center.is_some() && !self.split {
            0
        } else {
            HALVES_BYTES
        }
    }

    fn codes_start(self) -> usize {
        HALVES_BYTES + self.offsets_bytes()
    }

    fn block_bytes(self) -> usize {
        self.codes_start() + self.width.code_bytes()
    }

    /// Scale and offset of `lane`'s `column` in a tile block.
    fn scale_offset(self, block: &[u8], lane: usize, column: usize) -> (f32, f32) {
        let second_half = self.split && column >= BLOCK / 2;
        let scale = half_at(block, 2 * lane + if second_half { HALVES_BYTES } else { 0 });
        let offset = match self.center {
            Some(center) => -f32::from(center) * scale,
            None => half_at(block, HALVES_BYTES + 2 * lane),
        };
        (scale, offset)
    }
}

/// One row's 32 weights as codes: `weight[i] = scale * codes[i] + offset`
/// (`second_scale` for columns 16.. in split layouts).
#[derive(Debug, Clone, Copy)]
struct RowBlock {
    scale: f32,
    second_scale: f32,
    offset: f32,
    codes: [u8; BLOCK],
}

impl Default for RowBlock {
    fn default() -> Self {
        Self {
            scale: 0.0,
            second_scale: 0.0,
            offset: 0.0,
            codes: [0; BLOCK],
        }
    }
}

/// True when this CPU runs the AVX-512 VNNI kernel.
pub fn kernel_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A weight matrix ready for `forward`: packed when `pack` is set, the format
/// is quantised and the width divides into blocks; otherwise as candle loads
/// it (dequantised when the weight format asks for it).
pub fn load_matrix(tensor: QTensor, pack: bool) -> Result<QMatMul> {
    if !pack {
        return QMatMul::from_qtensor(tensor);
    }
    match PackedMatrix::from_qtensor(&tensor)? {
        Some(packed) => {
            drop(tensor);
            PackedMatrices::new(vec![packed])?.into_matmul()
        }
        None => QMatMul::from_qtensor(tensor),
    }
}

/// Several matrices applied to the same input (query, key and value; gate
/// and up): packed together they quantise the input once and run as one
/// product, whose output columns are each matrix's in turn.
#[derive(Debug, Clone)]
pub enum Projection {
    Fused { matrix: QMatMul, widths: Vec<usize> },
    Separate(Vec<QMatMul>),
}

impl Projection {
    /// Packs `tensors` (all `n_i x k`) as one product when `pack` is set and
    /// every one packs with the same activation format; else one by one.
    pub fn load(tensors: Vec<QTensor>, pack: bool) -> Result<Self> {
        if pack {
            let packed = tensors
                .iter()
                .map(PackedMatrix::from_qtensor)
                .collect::<Result<Option<Vec<_>>>>()?;
            if let Some(parts) = packed {
                let fusable = parts.windows(2).all(|pair| {
                    pair[0].activations == pair[1].activations
                        && pair[0].columns == pair[1].columns
                        && pair[0].rows % TILE_ROWS == 0
                });
                if fusable {
                    let widths = parts.iter().map(|part| part.rows).collect();
                    drop(tensors);
                    let matrix = PackedMatrices::new(parts)?.into_matmul()?;
                    return Ok(Self::Fused { matrix, widths });
                }
            }
        }
        tensors
            .into_iter()
            .map(|tensor| load_matrix(tensor, pack))
            .collect::<Result<Vec<_>>>()
            .map(Self::Separate)
    }

    /// [`Self::forward`] for a projection of exactly `N` matrices.
    pub fn forward_each<const N: usize>(
        &self,
        x: &candle_core::Tensor,
    ) -> Result<[candle_core::Tensor; N]> {
        self.forward(x)?.try_into().map_err(|parts: Vec<_>| {
            candle_core::Error::Msg(format!("expected {N} projections, got {}", parts.len()))
        })
    }

    /// Each matrix's product with `x`, in the order they were loaded.
    pub fn forward(&self, x: &candle_core::Tensor) -> Result<Vec<candle_core::Tensor>> {
        use candle_core::Module;
        match self {
            Self::Fused { matrix, widths } => {
                let all = matrix.forward(x)?;
                let last = all.rank() - 1;
                let mut start = 0;
                widths
                    .iter()
                    .map(|&width| {
                        // Contiguous: candle's element-wise ops on strided
                        // views take a slow indexed path.
                        let part = all.narrow(last, start, width)?.contiguous();
                        start += width;
                        part
                    })
                    .collect()
            }
            Self::Separate(matrices) => matrices.iter().map(|matrix| matrix.forward(x)).collect(),
        }
    }
}

/// A `rows x columns` matrix in tiles of [`TILE_ROWS`] rows; each tile holds
/// its blocks of [`BLOCK`] columns in order, each block being 16 f16 scales,
/// 16 f16 offsets (asymmetric formats only) and the codes, laid out so that
/// 64 consecutive code bytes give four consecutive columns for each of the
/// 16 rows (two groups of four, low and high nibbles, for 4- and 5-bit codes).
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    rows: usize,
    columns: usize,
    layout: Layout,
    activations: ActivationFormat,
    data: Vec<u8>,
}

impl PackedMatrix {
    /// Repacks a 2-D quantised tensor; `None` when it stays as it is (dense
    /// formats, a width that is not a multiple of 32, not 2-D).
    pub fn from_qtensor(tensor: &QTensor) -> Result<Option<Self>> {
        let dtype = tensor.dtype();
        let Some(layout) = Layout::for_dtype(dtype) else {
            return Ok(None);
        };
        let Ok((rows, columns)) = tensor.shape().dims2() else {
            return Ok(None);
        };
        if rows == 0 || columns == 0 || columns % BLOCK != 0 || columns % dtype.block_size() != 0 {
            return Ok(None);
        }
        let bytes = tensor.data()?;
        let row_bytes = columns / dtype.block_size() * dtype.type_size();
        if bytes.len() != rows * row_bytes {
            candle_core::bail!(
                "quantized tensor holds {} bytes, expected {} for {rows}x{columns} {dtype:?}",
                bytes.len(),
                rows * row_bytes
            );
        }
        let tiles = rows.div_ceil(TILE_ROWS);
        let mut packed = Self {
            rows,
            columns,
            layout,
            activations: ActivationFormat::for_dtype(dtype, columns),
            data: vec![0; tiles * (columns / BLOCK) * layout.block_bytes()],
        };
        let mut blocks = vec![RowBlock::default(); columns / BLOCK];
        for (row, source) in bytes.chunks_exact(row_bytes).enumerate() {
            decode_row(dtype, source, columns, &mut blocks)?;
            packed.write_row(row, &blocks)?;
        }
        Ok(Some(packed))
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn blocks(&self) -> usize {
        self.columns / BLOCK
    }

    fn tile_bytes(&self) -> usize {
        self.blocks() * self.layout.block_bytes()
    }

    fn tiles(&self) -> usize {
        self.rows.div_ceil(TILE_ROWS)
    }

    fn write_row(&mut self, row: usize, blocks: &[RowBlock]) -> Result<()> {
        let (tile, lane) = (row / TILE_ROWS, row % TILE_ROWS);
        let layout = self.layout;
        let tile_start = tile * self.tile_bytes();
        let limit = match layout.width {
            CodeWidth::Four => 15,
            CodeWidth::Five => 31,
            CodeWidth::Eight => 255,
        };
        for (index, block) in blocks.iter().enumerate() {
            let scale = f16::from_f32(block.scale);
            let second_scale = f16::from_f32(block.second_scale);
            let offset = f16::from_f32(block.offset);
            if !scale.is_finite() || !offset.is_finite() || !second_scale.is_finite() {
                candle_core::bail!("a weight block's scale does not fit in f16: {block:?}");
            }
            if block.codes.iter().any(|&code| code > limit) {
                candle_core::bail!("a code is out of range for {:?}", layout.width);
            }
            let base = tile_start + index * layout.block_bytes();
            let out = &mut self.data[base..base + layout.block_bytes()];
            out[2 * lane..2 * lane + 2].copy_from_slice(&scale.to_le_bytes());
            let at = HALVES_BYTES + 2 * lane;
            if layout.split {
                out[at..at + 2].copy_from_slice(&second_scale.to_le_bytes());
            } else if layout.center.is_none() {
                out[at..at + 2].copy_from_slice(&offset.to_le_bytes());
            }
            let codes = &mut out[layout.codes_start()..];
            match layout.width {
                CodeWidth::Four | CodeWidth::Five => {
                    let stride = pair_stride(layout.width);
                    for pair in 0..BLOCK / 8 {
                        for j in 0..4 {
                            let low = block.codes[8 * pair + j];
                            let high = block.codes[8 * pair + 4 + j];
                            let at = lane * 4 + j;
                            codes[pair * stride + at] = (low & 0x0F) | ((high & 0x0F) << 4);
                            if layout.width == CodeWidth::Five {
                                let masks = pair * stride + 64;
                                codes[masks + at / 8] |= ((low >> 4) & 1) << (at % 8);
                                codes[masks + 8 + at / 8] |= ((high >> 4) & 1) << (at % 8);
                            }
                        }
                    }
                }
                CodeWidth::Eight => {
                    for group in 0..BLOCK / 4 {
                        for j in 0..4 {
                            codes[group * 64 + lane * 4 + j] = block.codes[4 * group + j];
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads row `row`'s weights back (for dequantising and embeddings).
    fn read_row(&self, data: &[u8], row: usize, out: &mut [f32]) {
        let (tile, lane) = (row / TILE_ROWS, row % TILE_ROWS);
        let layout = self.layout;
        let tile_start = tile * self.tile_bytes();
        for (index, weights) in out.chunks_exact_mut(BLOCK).enumerate() {
            let block = &data[tile_start + index * layout.block_bytes()..];
            let codes = &block[layout.codes_start()..];
            for (column, weight) in weights.iter_mut().enumerate() {
                let (scale, offset) = layout.scale_offset(block, lane, column);
                let code = code_at(layout.width, codes, lane, column);
                *weight = scale * f32::from(code) + offset;
            }
        }
    }

    /// `dst (m x rows) = lhs (m x columns) * selfᵀ`.
    /// Writes `lhs * selfᵀ` for the `m` quantised activation rows into
    /// `dst`, whose rows are `row_stride` long, from column `first_column`.
    fn multiply_quantized(
        &self,
        packed: &[u8],
        activations: &QuantizedActivations,
        m: usize,
        dst: &mut [f32],
        row_stride: usize,
        first_column: usize,
    ) {
        let n = self.rows;
        assert!(first_column + n <= row_stride && dst.len() >= m * row_stride);
        let output = OutputPointer(dst.as_mut_ptr());
        let fast = kernel_available();
        let run_tile = |tile: usize| {
            let lanes = (n - tile * TILE_ROWS).min(TILE_ROWS);
            let data = &packed[tile * self.tile_bytes()..(tile + 1) * self.tile_bytes()];
            let mut first = 0;
            while first < m {
                let count = (m - first).min(ROWS_PER_PASS);
                let mut sums = [[0f32; TILE_ROWS]; ROWS_PER_PASS];
                let pass = Pass {
                    layout: self.layout,
                    tile: data,
                    blocks: self.blocks(),
                    activations,
                    first,
                    count,
                };
                pass.run(fast, &mut sums);
                for (row, sums) in sums.iter().take(count).enumerate() {
                    // SAFETY: each tile writes only columns tile*16..tile*16+lanes
                    // of each output row, and tiles are disjoint, so no two
                    // threads write the same element; the bound was checked above.
                    unsafe {
                        let start =
                            output.at((first + row) * row_stride + first_column + tile * TILE_ROWS);
                        std::ptr::copy_nonoverlapping(sums.as_ptr(), start, lanes);
                    }
                }
                first += count;
            }
        };
        let tiles = self.tiles();
        if rayon::current_num_threads() > 1 && tiles > 1 {
            use rayon::prelude::*;
            (0..tiles)
                .into_par_iter()
                .with_min_len(4)
                .for_each(run_tile);
        } else {
            (0..tiles).for_each(run_tile);
        }
    }
}

thread_local! {
    /// Each calling thread's activation buffer, reused across products so
    /// generation does not allocate (and page in) a fresh one per matrix.
    static SCRATCH: std::cell::RefCell<QuantizedActivations> =
        std::cell::RefCell::new(QuantizedActivations::empty());
}

/// Activation rows handled together against one tile: each weight block is
/// loaded once for all of them.
const ROWS_PER_PASS: usize = 4;

#[derive(Clone, Copy)]
struct OutputPointer(*mut f32);

impl OutputPointer {
    /// # Safety
    /// `index` must lie inside the output slice this pointer was taken from.
    unsafe fn at(self, index: usize) -> *mut f32 {
        unsafe { self.0.add(index) }
    }
}

// SAFETY: the pointer is only written through at disjoint positions (see
// `PackedMatrix::multiply`).
unsafe impl Send for OutputPointer {}
unsafe impl Sync for OutputPointer {}

/// Bytes per pair of 4-column groups for 4- and 5-bit codes.
fn pair_stride(width: CodeWidth) -> usize {
    match width {
        CodeWidth::Five => 64 + 16,
        _ => 64,
    }
}

fn code_at(width: CodeWidth, codes: &[u8], lane: usize, column: usize) -> u8 {
    match width {
        CodeWidth::Four | CodeWidth::Five => {
            let (pair, within) = (column / 8, column % 8);
            let at = lane * 4 + within % 4;
            let byte = codes[pair * pair_stride(width) + at];
            let nibble = if within < 4 { byte & 0x0F } else { byte >> 4 };
            if width == CodeWidth::Five {
                let masks = pair * pair_stride(width) + 64 + if within < 4 { 0 } else { 8 };
                nibble | (((codes[masks + at / 8] >> (at % 8)) & 1) << 4)
            } else {
                nibble
            }
        }
        CodeWidth::Eight => codes[(column / 4) * 64 + lane * 4 + column % 4],
    }
}

/// How llama.cpp quantises the activations a weight format is multiplied
/// with, followed here so both engines compute the same sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationFormat {
    /// Per 32 values, an f16 scale (for Q4_0, Q5_0, Q8_0 weights).
    Q8_0,
    /// Per 32 values, an f16 scale and an f16 `scale * sum` (Q4_1, Q5_1).
    Q8_1,
    /// Per 256 values, an f32 scale (K-quants).
    Q8K,
}

impl ActivationFormat {
    fn for_dtype(dtype: GgmlDType, columns: usize) -> Self {
        match dtype {
            GgmlDType::Q4_1 | GgmlDType::Q5_1 => Self::Q8_1,
            GgmlDType::Q2K | GgmlDType::Q3K | GgmlDType::Q4K | GgmlDType::Q5K | GgmlDType::Q6K
                if columns.is_multiple_of(256) =>
            {
                Self::Q8K
            }
            _ => Self::Q8_0,
        }
    }
}

/// Activation rows quantised to 8 bits per block of 32, with each block's
/// scale, code sum, and `scale * sum` (for the weights' offsets), and the
/// code sum of each block's first 16 columns (for split layouts).
struct QuantizedActivations {
    columns: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<i32>,
    first_half_sums: Vec<i32>,
    offsets: Vec<f32>,
}

impl QuantizedActivations {
    fn empty() -> Self {
        Self {
            columns: 0,
            codes: Vec::new(),
            scales: Vec::new(),
            sums: Vec::new(),
            first_half_sums: Vec::new(),
            offsets: Vec::new(),
        }
    }

    #[cfg(test)]
    fn new(lhs: &[f32], m: usize, columns: usize, format: ActivationFormat) -> Self {
        let mut activations = Self::empty();
        activations.fill(lhs, m, columns, format);
        activations
    }

    /// Quantises `lhs` (`m x columns`) into this buffer, reusing its memory,
    /// as llama.cpp quantises activations for the weights' format (see
    /// [`ActivationFormat`]); codes are rounded half to even, as llama.cpp's
    /// SIMD paths do.
    fn fill(&mut self, lhs: &[f32], m: usize, columns: usize, format: ActivationFormat) {
        self.fill_with(lhs, m, columns, format, kernel_available());
    }

    /// [`Self::fill`], with SIMD code where `simd` (and the CPU allows).
    fn fill_with(
        &mut self,
        lhs: &[f32],
        m: usize,
        columns: usize,
        format: ActivationFormat,
        simd: bool,
    ) {
        self.fill_blocks(lhs, m, columns, simd);
        match format {
            ActivationFormat::Q8_0 => {
                for scale in &mut self.scales {
                    *scale = f16::from_f32(*scale).to_f32();
                }
            }
            ActivationFormat::Q8_1 => {
                for ((scale, offset), &sum) in self
                    .scales
                    .iter_mut()
                    .zip(&mut self.offsets)
                    .zip(&self.sums)
                {
                    *offset = f16::from_f32(*scale * sum as f32).to_f32();
                    *scale = f16::from_f32(*scale).to_f32();
                }
            }
            ActivationFormat::Q8K => self.requantize_superblocks(&lhs[..m * columns], simd),
        }
    }

    /// llama.cpp's Q8_K: one f32 scale per 256 values, `-127 / x` for the
    /// value `x` of largest magnitude.
    fn requantize_superblocks(&mut self, lhs: &[f32], simd: bool) {
        #[cfg(target_arch = "x86_64")]
        if simd && kernel_available() {
            // SAFETY: the CPU has AVX-512 F and BW; `fill_blocks` sized every
            // buffer for `lhs`.
            unsafe { avx512::quantize_superblocks(lhs, self) };
            return;
        }
        self.requantize_superblocks_portable(lhs);
    }

    fn requantize_superblocks_portable(&mut self, lhs: &[f32]) {
        const SUPER: usize = 256;
        for (group, values) in lhs.chunks_exact(SUPER).enumerate() {
            let extreme = values
                .iter()
                .fold(0f32, |max, &v| if v.abs() > max.abs() { v } else { max });
            let inverse = if extreme == 0.0 {
                0.0
            } else {
                -127.0 / extreme
            };
            let scale = if extreme == 0.0 { 0.0 } else { 1.0 / inverse };
            let codes = &mut self.codes[group * SUPER..(group + 1) * SUPER];
            for (code, &value) in codes.iter_mut().zip(values) {
                *code = (inverse * value).round_ties_even().min(127.0) as i8;
            }
            for block in 0..SUPER / BLOCK {
                let index = group * SUPER / BLOCK + block;
                let codes = &codes[block * BLOCK..(block + 1) * BLOCK];
                let half: i32 = codes[..BLOCK / 2].iter().map(|&c| i32::from(c)).sum();
                let sum: i32 = half
                    + codes[BLOCK / 2..]
                        .iter()
                        .map(|&c| i32::from(c))
                        .sum::<i32>();
                self.scales[index] = scale;
                self.first_half_sums[index] = half;
                self.sums[index] = sum;
                self.offsets[index] = scale * sum as f32;
            }
        }
    }

    /// Per block of 32: `scale = max|x| / 127`, codes `round(x / scale)`.
    fn fill_blocks(&mut self, lhs: &[f32], m: usize, columns: usize, simd: bool) {
        let blocks = m * columns / BLOCK;
        self.columns = columns;
        self.codes.resize(m * columns, 0);
        for buffer in [&mut self.scales, &mut self.offsets] {
            buffer.resize(blocks, 0.0);
        }
        for buffer in [&mut self.sums, &mut self.first_half_sums] {
            buffer.resize(blocks, 0);
        }
        #[cfg(target_arch = "x86_64")]
        if simd && kernel_available() {
            // SAFETY: the CPU has AVX-512 F and BW; every buffer was sized
            // for `blocks` blocks of `lhs` above.
            unsafe { avx512::quantize(&lhs[..m * columns], self) };
            return;
        }
        self.fill_blocks_portable(&lhs[..m * columns]);
    }

    fn fill_blocks_portable(&mut self, lhs: &[f32]) {
        for (block, values) in lhs.chunks_exact(BLOCK).enumerate() {
            let largest = values.iter().fold(0f32, |max, v| max.max(v.abs()));
            let scale = largest / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            let codes = &mut self.codes[block * BLOCK..(block + 1) * BLOCK];
            let mut sum = 0i32;
            for (index, (code, value)) in codes.iter_mut().zip(values).enumerate() {
                let q = (value * inverse).round_ties_even().clamp(-127.0, 127.0) as i8;
                *code = q;
                sum += i32::from(q);
                if index + 1 == BLOCK / 2 {
                    self.first_half_sums[block] = sum;
                }
            }
            self.scales[block] = scale;
            self.sums[block] = sum;
            self.offsets[block] = scale * sum as f32;
        }
    }

    fn row_codes(&self, row: usize) -> &[i8] {
        &self.codes[row * self.columns..(row + 1) * self.columns]
    }

    /// Scales, code sums, first-half code sums and offsets of row `row`'s blocks.
    fn row_blocks(&self, row: usize) -> (&[f32], &[i32], &[i32], &[f32]) {
        let blocks = self.columns / BLOCK;
        let range = row * blocks..(row + 1) * blocks;
        (
            &self.scales[range.clone()],
            &self.sums[range.clone()],
            &self.first_half_sums[range.clone()],
            &self.offsets[range],
        )
    }
}

/// One tile (16 weight rows) against `count` activation rows from `first`.
struct Pass<'a> {
    layout: Layout,
    tile: &'a [u8],
    blocks: usize,
    activations: &'a QuantizedActivations,
    first: usize,
    count: usize,
}

impl Pass<'_> {
    /// Writes `sums[row][lane]` for the pass's rows.
    fn run(&self, fast: bool, sums: &mut [[f32; TILE_ROWS]; ROWS_PER_PASS]) {
        #[cfg(target_arch = "x86_64")]
        if fast {
            use CodeWidth::{Eight, Five, Four};
            let symmetric = self.layout.center.is_some();
            // SAFETY: `fast` is `kernel_available()`: the CPU has the features
            // the kernel is compiled for; the tile holds `blocks` blocks of this
            // layout and each activation row `blocks * 32` codes.
            unsafe {
                macro_rules! go {
                    ($rows:literal) => {
                        match (self.layout.width, symmetric, self.layout.split) {
                            (Eight, true, true) => avx512::tile::<$rows, 8, true, true>(self, sums),
                            (Four, true, _) => avx512::tile::<$rows, 4, true, false>(self, sums),
                            (Four, false, _) => avx512::tile::<$rows, 4, false, false>(self, sums),
                            (Five, true, _) => avx512::tile::<$rows, 5, true, false>(self, sums),
                            (Five, false, _) => avx512::tile::<$rows, 5, false, false>(self, sums),
                            (Eight, true, _) => avx512::tile::<$rows, 8, true, false>(self, sums),
                            (Eight, false, _) => avx512::tile::<$rows, 8, false, false>(self, sums),
                        }
                    };
                }
                return match self.count {
                    1 => go!(1),
                    2 => go!(2),
                    3 => go!(3),
                    _ => go!(4),
                };
            }
        }
        let _ = fast;
        self.run_portable(sums);
    }

    /// The kernel in plain Rust: same layout, same integer sums.
    fn run_portable(&self, sums: &mut [[f32; TILE_ROWS]; ROWS_PER_PASS]) {
        let layout = self.layout;
        let halves = if layout.split { 2 } else { 1 };
        let columns = BLOCK / halves;
        for (row, sums) in sums.iter_mut().enumerate().take(self.count) {
            let codes_x = self.activations.row_codes(self.first + row);
            let (scales_x, sums_x, half_sums_x, offsets_x) =
                self.activations.row_blocks(self.first + row);
            for (lane, sum) in sums.iter_mut().enumerate() {
                let mut total = 0f32;
                for block in 0..self.blocks {
                    let data = &self.tile[block * layout.block_bytes()..];
                    let codes = &data[layout.codes_start()..];
                    for half in 0..halves {
                        let range = half * columns..(half + 1) * columns;
                        let (scale, offset) = layout.scale_offset(data, lane, range.start);
                        let dot: i32 = range
                            .map(|column| {
                                i32::from(code_at(layout.width, codes, lane, column))
                                    * i32::from(codes_x[block * BLOCK + column])
                            })
                            .sum();
                        let sum_x = match (layout.split, half) {
                            (false, _) => sums_x[block],
                            (true, 0) => half_sums_x[block],
                            (true, _) => sums_x[block] - half_sums_x[block],
                        };
                        total += match layout.center {
                            Some(center) => {
                                (dot - i32::from(center) * sum_x) as f32 * scale * scales_x[block]
                            }
                            None => {
                                dot as f32 * scale * scales_x[block] + offset * offsets_x[block]
                            }
                        };
                    }
                }
                *sum = total;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Pass, QuantizedActivations, BLOCK, HALVES_BYTES, ROWS_PER_PASS, TILE_ROWS};
    use std::arch::x86_64::*;

    /// [`QuantizedActivations::requantize_superblocks`] with 512-bit registers.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and BW; `out`'s buffers must hold
    /// `values.len() / 32` blocks.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize_superblocks(values: &[f32], out: &mut QuantizedActivations) {
        const SUPER: usize = 256;
        assert!(out.codes.len() >= values.len() && out.scales.len() >= values.len() / BLOCK);
        for (group, values) in values.chunks_exact(SUPER).enumerate() {
            unsafe {
                let at = values.as_ptr();
                let mut largest = _mm512_setzero_ps();
                for vector in 0..SUPER / 16 {
                    largest =
                        _mm512_max_ps(largest, _mm512_abs_ps(_mm512_loadu_ps(at.add(16 * vector))));
                }
                let largest = _mm512_reduce_max_ps(largest);
                // The first value of that magnitude, with its sign (as llama.cpp).
                let extreme = values
                    .iter()
                    .copied()
                    .find(|value| value.abs() == largest)
                    .unwrap_or(0.0);
                let inverse = if extreme == 0.0 {
                    0.0
                } else {
                    -127.0 / extreme
                };
                let scale = if extreme == 0.0 { 0.0 } else { 1.0 / inverse };
                let factor = _mm512_set1_ps(inverse);
                let ceiling = _mm512_set1_epi32(127);
                for block in 0..SUPER / BLOCK {
                    let index = group * SUPER / BLOCK + block;
                    let mut halves = [0i32; 2];
                    for (half, total) in halves.iter_mut().enumerate() {
                        let offset = block * BLOCK + half * 16;
                        let codes = _mm512_min_epi32(
                            _mm512_cvtps_epi32(_mm512_mul_ps(
                                _mm512_loadu_ps(at.add(offset)),
                                factor,
                            )),
                            ceiling,
                        );
                        let target =
                            out.codes.as_mut_ptr().add(group * SUPER + offset) as *mut __m128i;
                        _mm_storeu_si128(target, _mm512_cvtsepi32_epi8(codes));
                        *total = _mm512_reduce_add_epi32(codes);
                    }
                    out.scales[index] = scale;
                    out.first_half_sums[index] = halves[0];
                    out.sums[index] = halves[0] + halves[1];
                    out.offsets[index] = scale * (halves[0] + halves[1]) as f32;
                }
            }
        }
    }

    /// [`QuantizedActivations::fill`] with 512-bit registers.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and BW; `out`'s buffers must hold
    /// `values.len() / 32` blocks.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize(values: &[f32], out: &mut QuantizedActivations) {
        let blocks = values.len() / BLOCK;
        assert!(out.codes.len() >= blocks * BLOCK && out.scales.len() >= blocks);
        for block in 0..blocks {
            unsafe {
                let at = values.as_ptr().add(block * BLOCK);
                let first = _mm512_loadu_ps(at);
                let second = _mm512_loadu_ps(at.add(16));
                let largest = _mm512_reduce_max_ps(_mm512_max_ps(
                    _mm512_abs_ps(first),
                    _mm512_abs_ps(second),
                ));
                let scale = largest / 127.0;
                let inverse = _mm512_set1_ps(if scale > 0.0 { 1.0 / scale } else { 0.0 });
                // Default rounding: to nearest, ties to even.
                let first = _mm512_cvtps_epi32(_mm512_mul_ps(first, inverse));
                let second = _mm512_cvtps_epi32(_mm512_mul_ps(second, inverse));
                let codes = out.codes.as_mut_ptr().add(block * BLOCK) as *mut __m128i;
                _mm_storeu_si128(codes, _mm512_cvtsepi32_epi8(first));
                _mm_storeu_si128(codes.add(1), _mm512_cvtsepi32_epi8(second));
                let half = _mm512_reduce_add_epi32(first);
                let sum = half + _mm512_reduce_add_epi32(second);
                out.scales[block] = scale;
                out.first_half_sums[block] = half;
                out.sums[block] = sum;
                out.offsets[block] = scale * sum as f32;
            }
        }
    }

    /// The block's 32 codes of 16 rows times 32 activation codes at `x`, as
    /// two partial sums (two dependency chains): columns 0..16 and 16..32
    /// when `HALVES`, else alternating groups of four columns.
    ///
    /// # Safety
    /// AVX-512 F and VNNI; `x` must point to 32 readable bytes.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn dots<const HALVES: bool>(
        weights: &[__m512i; 8],
        x: *const i32,
    ) -> (__m512i, __m512i) {
        let mut first = _mm512_setzero_si512();
        let mut second = _mm512_setzero_si512();
        for step in 0..4 {
            let (a, b) = if HALVES {
                (step, step + 4)
            } else {
                (2 * step, 2 * step + 1)
            };
            // SAFETY: a and b are below 8, and x points to 8 i32 values.
            let (x_a, x_b) = unsafe { (x.add(a).read_unaligned(), x.add(b).read_unaligned()) };
            first = _mm512_dpbusd_epi32(first, weights[a], _mm512_set1_epi32(x_a));
            second = _mm512_dpbusd_epi32(second, weights[b], _mm512_set1_epi32(x_b));
        }
        (first, second)
    }

    /// `R` activation rows against one tile. `WIDTH`: 4, 5 or 8-bit codes;
    /// `SYMMETRIC`: no stored offsets, the layout's center is subtracted;
    /// `SPLIT`: a second set of scales for each block's columns 16..32.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW and VNNI; `pass.tile` must hold
    /// `pass.blocks` blocks of this layout and the activations rows
    /// `first..first + R`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile<
        const R: usize,
        const WIDTH: u8,
        const SYMMETRIC: bool,
        const SPLIT: bool,
    >(
        pass: &Pass<'_>,
        sums: &mut [[f32; TILE_ROWS]; ROWS_PER_PASS],
    ) {
        let layout = pass.layout;
        let block_bytes = layout.block_bytes();
        let codes_start = layout.codes_start();
        let center = i32::from(layout.center.unwrap_or(0));
        debug_assert!(pass.tile.len() >= pass.blocks * block_bytes);
        let mut codes_x = [std::ptr::null::<i8>(); R];
        let mut scales_x = [std::ptr::null::<f32>(); R];
        let mut sums_x = [std::ptr::null::<i32>(); R];
        let mut half_sums_x = [std::ptr::null::<i32>(); R];
        let mut offsets_x = [std::ptr::null::<f32>(); R];
        for row in 0..R {
            codes_x[row] = pass.activations.row_codes(pass.first + row).as_ptr();
            let (scales, code_sums, half_sums, offsets) =
                pass.activations.row_blocks(pass.first + row);
            scales_x[row] = scales.as_ptr();
            sums_x[row] = code_sums.as_ptr();
            half_sums_x[row] = half_sums.as_ptr();
            offsets_x[row] = offsets.as_ptr();
        }
        unsafe {
            let low_nibbles = _mm512_set1_epi8(0x0F);
            let fifth_bit = _mm512_set1_epi8(0x10);
            let mut totals = [_mm512_setzero_ps(); R];
            for block in 0..pass.blocks {
                let base = pass.tile.as_ptr().add(block * block_bytes);
                let scale = _mm512_cvtph_ps(_mm256_loadu_si256(base as *const __m256i));
                // Offsets, or with SPLIT the second half's scales.
                let offset = if SYMMETRIC && !SPLIT {
                    _mm512_setzero_ps()
                } else {
                    _mm512_cvtph_ps(_mm256_loadu_si256(base.add(HALVES_BYTES) as *const __m256i))
                };
                let codes = base.add(codes_start);
                let mut weights = [_mm512_setzero_si512(); 8];
                if WIDTH == 8 {
                    for (group, weights) in weights.iter_mut().enumerate() {
                        *weights = _mm512_loadu_si512(codes.add(group * 64) as *const __m512i);
                    }
                } else {
                    let stride = if WIDTH == 5 { 80 } else { 64 };
                    for pair in 0..4 {
                        let at = codes.add(pair * stride);
                        let packed = _mm512_loadu_si512(at as *const __m512i);
                        let mut low = _mm512_and_si512(packed, low_nibbles);
                        let mut high =
                            _mm512_and_si512(_mm512_srli_epi16::<4>(packed), low_nibbles);
                        if WIDTH == 5 {
                            let low_mask = (at.add(64) as *const u64).read_unaligned();
                            let high_mask = (at.add(72) as *const u64).read_unaligned();
                            low = _mm512_mask_add_epi8(low, low_mask, low, fifth_bit);
                            high = _mm512_mask_add_epi8(high, high_mask, high, fifth_bit);
                        }
                        weights[2 * pair] = low;
                        weights[2 * pair + 1] = high;
                    }
                }
                if SPLIT {
                    for row in 0..R {
                        let x = codes_x[row].add(block * BLOCK) as *const i32;
                        let (mut first, mut second) = dots::<true>(&weights, x);
                        let half_sum = *half_sums_x[row].add(block);
                        let sum = *sums_x[row].add(block);
                        first = _mm512_sub_epi32(first, _mm512_set1_epi32(center * half_sum));
                        second =
                            _mm512_sub_epi32(second, _mm512_set1_epi32(center * (sum - half_sum)));
                        let row_scale = _mm512_set1_ps(*scales_x[row].add(block));
                        totals[row] = _mm512_fmadd_ps(
                            _mm512_cvtepi32_ps(first),
                            _mm512_mul_ps(scale, row_scale),
                            totals[row],
                        );
                        totals[row] = _mm512_fmadd_ps(
                            _mm512_cvtepi32_ps(second),
                            _mm512_mul_ps(offset, row_scale),
                            totals[row],
                        );
                    }
                    continue;
                }
                for row in 0..R {
                    let x = codes_x[row].add(block * BLOCK) as *const i32;
                    let (even, odd) = dots::<false>(&weights, x);
                    let mut dot = _mm512_add_epi32(even, odd);
                    let row_scale = _mm512_set1_ps(*scales_x[row].add(block));
                    if SYMMETRIC {
                        // sum (code - center) * x = dot - center * sum x
                        let shift = _mm512_set1_epi32(center * *sums_x[row].add(block));
                        dot = _mm512_sub_epi32(dot, shift);
                    }
                    totals[row] = _mm512_fmadd_ps(
                        _mm512_cvtepi32_ps(dot),
                        _mm512_mul_ps(scale, row_scale),
                        totals[row],
                    );
                    if !SYMMETRIC {
                        totals[row] = _mm512_fmadd_ps(
                            offset,
                            _mm512_set1_ps(*offsets_x[row].add(block)),
                            totals[row],
                        );
                    }
                }
            }
            for row in 0..R {
                _mm512_storeu_ps(sums[row].as_mut_ptr(), totals[row]);
            }
        }
    }
}

fn half_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Decodes one row of GGUF blocks into 32-column blocks of codes. Formats
/// whose codes fit are copied exactly; the rest are dequantised by candle and
/// requantised to 8 bits.
fn decode_row(dtype: GgmlDType, source: &[u8], columns: usize, out: &mut [RowBlock]) -> Result<()> {
    let mut exact = |bytes_per_block: usize, decode: &dyn Fn(&[u8], &mut RowBlock)| {
        for (block, out) in source.chunks_exact(bytes_per_block).zip(out.iter_mut()) {
            decode(block, out);
        }
    };
    match dtype {
        GgmlDType::Q4_0 => exact(18, &|b, out| {
            let scale = half_at(b, 0);
            *out = RowBlock {
                second_scale: 0.0,
                scale,
                offset: -8.0 * scale,
                codes: nibbles(&b[2..18]),
            };
        }),
        GgmlDType::Q4_1 => exact(20, &|b, out| {
            *out = RowBlock {
                second_scale: 0.0,
                scale: half_at(b, 0),
                offset: half_at(b, 2),
                codes: nibbles(&b[4..20]),
            };
        }),
        GgmlDType::Q5_0 => exact(22, &|b, out| {
            let scale = half_at(b, 0);
            *out = RowBlock {
                second_scale: 0.0,
                scale,
                offset: -16.0 * scale,
                codes: five_bits(&b[2..6], &b[6..22]),
            };
        }),
        GgmlDType::Q5_1 => exact(24, &|b, out| {
            *out = RowBlock {
                second_scale: 0.0,
                scale: half_at(b, 0),
                offset: half_at(b, 2),
                codes: five_bits(&b[4..8], &b[8..24]),
            };
        }),
        GgmlDType::Q8_0 => exact(34, &|b, out| {
            let scale = half_at(b, 0);
            let mut codes = [0u8; BLOCK];
            for (code, &byte) in codes.iter_mut().zip(&b[2..34]) {
                *code = (i16::from(byte as i8) + 128) as u8;
            }
            *out = RowBlock {
                second_scale: 0.0,
                scale,
                offset: -128.0 * scale,
                codes,
            };
        }),
        GgmlDType::Q6K => {
            // 256 columns: 128 bytes of low nibbles, 64 of high bit pairs,
            // 16 signed scales (one per 16 columns), d.
            for (block, out) in source.chunks_exact(210).zip(out.chunks_exact_mut(8)) {
                let d = half_at(block, 208);
                let scales = &block[192..208];
                for half in 0..2 {
                    let ql = &block[64 * half..64 * half + 64];
                    let qh = &block[128 + 32 * half..128 + 32 * half + 32];
                    for quarter in 0..4 {
                        let mut codes = [0u8; BLOCK];
                        for (l, code) in codes.iter_mut().enumerate() {
                            let low = match quarter {
                                0 => ql[l] & 0x0F,
                                1 => ql[l + 32] & 0x0F,
                                2 => ql[l] >> 4,
                                _ => ql[l + 32] >> 4,
                            };
                            *code = low | (((qh[l] >> (2 * quarter)) & 3) << 4);
                        }
                        let scale = |i: usize| d * f32::from(scales[8 * half + i] as i8);
                        out[4 * half + quarter] = RowBlock {
                            scale: scale(2 * quarter),
                            second_scale: scale(2 * quarter + 1),
                            offset: 0.0,
                            codes,
                        };
                    }
                }
            }
        }
        GgmlDType::Q4K => {
            // 256 columns: d, dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles.
            for (block, out) in source.chunks_exact(144).zip(out.chunks_exact_mut(8)) {
                let (d, dmin) = (half_at(block, 0), half_at(block, 2));
                let packed_scales: &[u8; 12] = block[4..16].try_into().expect("12 bytes");
                for chunk in 0..4 {
                    let qs = &block[16 + 32 * chunk..16 + 32 * (chunk + 1)];
                    for half in 0..2 {
                        let (scale, min) = scale_min_k4(2 * chunk + half, packed_scales);
                        let mut codes = [0u8; BLOCK];
                        for (code, &byte) in codes.iter_mut().zip(qs) {
                            *code = if half == 0 { byte & 0x0F } else { byte >> 4 };
                        }
                        out[2 * chunk + half] = RowBlock {
                            second_scale: 0.0,
                            scale: d * f32::from(scale),
                            offset: -dmin * f32::from(min),
                            codes,
                        };
                    }
                }
            }
        }
        _ => {
            let storage = QStorage::from_data(Cow::Borrowed(source), &Device::Cpu, dtype)?;
            let row = QTensor::new(storage, (columns,))?;
            let values = row.dequantize(&Device::Cpu)?.to_vec1::<f32>()?;
            for (values, out) in values.chunks_exact(BLOCK).zip(out.iter_mut()) {
                *out = requantize_block(values);
            }
        }
    }
    Ok(())
}

/// Symmetric 8-bit codes (stored offset by 128) for a block of floats.
fn requantize_block(values: &[f32]) -> RowBlock {
    let largest = values.iter().fold(0f32, |max, v| max.max(v.abs()));
    // Round the scale to f16 first so codes are computed with the stored scale.
    let scale = f16::from_f32(largest / 127.0).to_f32();
    let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    let mut codes = [0u8; BLOCK];
    for (code, value) in codes.iter_mut().zip(values) {
        *code = ((value * inverse).round().clamp(-128.0, 127.0) as i16 + 128) as u8;
    }
    RowBlock {
        second_scale: 0.0,
        scale,
        offset: -128.0 * scale,
        codes,
    }
}

/// GGML's 4-bit layout: byte j holds column j (low nibble) and j + 16 (high).
fn nibbles(qs: &[u8]) -> [u8; BLOCK] {
    let mut codes = [0u8; BLOCK];
    for (j, &byte) in qs.iter().enumerate().take(BLOCK / 2) {
        codes[j] = byte & 0x0F;
        codes[j + BLOCK / 2] = byte >> 4;
    }
    codes
}

/// GGML's 5-bit layout: nibbles as in [`nibbles`], the fifth bit of column j
/// in bit j of the little-endian `qh`.
fn five_bits(qh: &[u8], qs: &[u8]) -> [u8; BLOCK] {
    let high = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let mut codes = nibbles(qs);
    for (j, code) in codes.iter_mut().enumerate() {
        *code |= (((high >> j) & 1) as u8) << 4;
    }
    codes
}

/// GGML's 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K block.
fn scale_min_k4(j: usize, scales: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

/// One or more packed matrices with the same width and activation format,
/// stacked by rows: what candle holds as one quantised tensor.
#[derive(Debug, Clone)]
pub struct PackedMatrices {
    /// The parts' headers; their bytes were moved into `data`.
    parts: Vec<PackedMatrix>,
    /// Where each part's bytes start in `data`.
    starts: Vec<usize>,
    data: Vec<u8>,
    rows: usize,
    columns: usize,
}

impl PackedMatrices {
    fn new(mut parts: Vec<PackedMatrix>) -> Result<Self> {
        let Some(first) = parts.first() else {
            candle_core::bail!("no matrices to pack");
        };
        let (columns, activations) = (first.columns, first.activations);
        if parts
            .iter()
            .any(|part| part.columns != columns || part.activations != activations)
        {
            candle_core::bail!("stacked matrices differ in width or activation format");
        }
        let rows = parts.iter().map(|part| part.rows).sum();
        let mut data = Vec::with_capacity(parts.iter().map(|part| part.data.len()).sum());
        let mut starts = Vec::with_capacity(parts.len());
        for part in &mut parts {
            starts.push(data.len());
            data.append(&mut part.data);
        }
        Ok(Self {
            parts,
            starts,
            data,
            rows,
            columns,
        })
    }

    fn part_data(&self, index: usize) -> &[u8] {
        let end = self
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(self.data.len());
        &self.data[self.starts[index]..end]
    }

    fn read_row(&self, row: usize, out: &mut [f32]) {
        let (index, row) = self.part_of(row);
        self.parts[index].read_row(self.part_data(index), row, out);
    }

    fn into_matmul(self) -> Result<QMatMul> {
        let shape = (self.rows, self.columns);
        let tensor = QTensor::new(QStorage::Cpu(Box::new(self)), shape)?;
        QMatMul::from_arc(Arc::new(tensor))
    }

    /// The index of the part holding row `row`, and the row's index in it.
    fn part_of(&self, mut row: usize) -> (usize, usize) {
        for (index, part) in self.parts.iter().enumerate() {
            if row < part.rows {
                return (index, row);
            }
            row -= part.rows;
        }
        unreachable!("row checked against the total by the caller")
    }

    fn multiply(&self, m: usize, lhs: &[f32], dst: &mut [f32]) -> Result<()> {
        let (k, n) = (self.columns, self.rows);
        if lhs.len() < m * k || dst.len() < m * n {
            candle_core::bail!("packed matmul: operands smaller than {m}x{k} and {m}x{n}");
        }
        let format = self.parts[0].activations;
        let run = |activations: &QuantizedActivations, dst: &mut [f32]| {
            let mut first_column = 0;
            for (index, part) in self.parts.iter().enumerate() {
                let data = self.part_data(index);
                part.multiply_quantized(data, activations, m, dst, n, first_column);
                first_column += part.rows;
            }
        };
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut activations) => {
                activations.fill(lhs, m, k, format);
                run(&activations, dst);
            }
            // Re-entered on this thread (a work-stealing pool ran another
            // product here meanwhile): use a buffer of its own.
            Err(_) => {
                let mut activations = QuantizedActivations::empty();
                activations.fill(lhs, m, k, format);
                run(&activations, dst);
            }
        });
        Ok(())
    }
}

impl QuantizedType for PackedMatrices {
    /// candle asks for a GGML type; none describes this layout. Q4_1 is one
    /// candle never routes to its own repacked kernels, so every product
    /// comes here. Nothing reads these bytes as Q4_1: dequantising, embedding
    /// and matmul all go through this implementation.
    fn dtype(&self) -> GgmlDType {
        GgmlDType::Q4_1
    }

    fn matmul_t(&self, mkn: (usize, usize, usize), lhs: &[f32], dst: &mut [f32]) -> Result<()> {
        let (m, k, n) = mkn;
        if k != self.columns || n != self.rows {
            candle_core::bail!(
                "packed matmul: {m}x{k} by {}x{} does not fit",
                self.rows,
                self.columns
            );
        }
        self.multiply(m, lhs, dst)
    }

    fn matmul_t_f16(&self, mkn: (usize, usize, usize), lhs: &[f16], dst: &mut [f16]) -> Result<()> {
        let wide: Vec<f32> = lhs.iter().map(|v| v.to_f32()).collect();
        let mut out = vec![0f32; dst.len()];
        self.matmul_t(mkn, &wide, &mut out)?;
        for (dst, value) in dst.iter_mut().zip(out) {
            *dst = f16::from_f32(value);
        }
        Ok(())
    }

    fn embedding(&self, ids: &[u32], rows: usize, hidden: usize) -> Result<CpuStorage> {
        if rows != self.rows || hidden != self.columns {
            candle_core::bail!("packed embedding: shape {rows}x{hidden} does not match");
        }
        let mut out = vec![0f32; ids.len() * hidden];
        for (&id, out) in ids.iter().zip(out.chunks_exact_mut(hidden)) {
            let id = id as usize;
            if id >= rows {
                candle_core::bail!("token id {id} is outside the {rows}-row embedding table");
            }
            self.read_row(id, out);
        }
        Ok(CpuStorage::F32(out))
    }

    fn dequantize(&self, elem_count: usize) -> Result<CpuStorage> {
        if elem_count != self.rows * self.columns {
            candle_core::bail!("packed dequantize: {elem_count} elements requested");
        }
        let mut out = vec![0f32; elem_count];
        for (row, out) in out.chunks_exact_mut(self.columns).enumerate() {
            self.read_row(row, out);
        }
        Ok(CpuStorage::F32(out))
    }

    fn storage_size_in_bytes(&self) -> usize {
        self.data.len()
    }

    fn as_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    fn block_size(&self) -> usize {
        BLOCK
    }

    /// Packed matrices are built from GGUF tensors only; candle calls this
    /// when quantising a float tensor into a fresh storage, never on ours.
    fn from_float(&mut self, _xs: &[f32]) {}

    fn from_float_imatrix(&mut self, _xs: &[f32], _weights: &[f32], _n_per_row: usize) {}

    fn size(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    fn sample(rows: usize, columns: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..rows * columns)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// Packing is exact for formats whose codes fit, and the kernels (SIMD and
    /// portable) match a dense product of the same dequantised weights within
    /// the activation quantisation error.
    #[test]
    fn packed_products_match_the_dequantised_weights() {
        let device = Device::Cpu;
        // 40 rows: two full tiles and a partial one; 256 columns (one Q4_K block).
        let (rows, columns) = (40, 256);
        let weights = Tensor::from_vec(sample(rows, columns, 7), (rows, columns), &device).unwrap();
        for dtype in [
            GgmlDType::Q4_0,
            GgmlDType::Q4_1,
            GgmlDType::Q5_0,
            GgmlDType::Q5_1,
            GgmlDType::Q8_0,
            GgmlDType::Q4K,
            GgmlDType::Q5K,
            GgmlDType::Q6K,
        ] {
            let quantized = QTensor::quantize(&weights, dtype).unwrap();
            let reference = quantized.dequantize(&device).unwrap();
            let matrix = PackedMatrix::from_qtensor(&quantized).unwrap().unwrap();
            let packed = PackedMatrices::new(vec![matrix.clone()]).unwrap();
            // Dequantising the packed form gives the file's weights back.
            let CpuStorage::F32(unpacked) = packed.dequantize(rows * columns).unwrap() else {
                panic!("f32 expected");
            };
            let expected: Vec<f32> = reference.flatten_all().unwrap().to_vec1().unwrap();
            let worst = unpacked
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // Exact up to f16 rounding of scales, except Q5_K (requantised).
            let tolerance = if dtype == GgmlDType::Q5K { 0.01 } else { 2e-3 };
            assert!(worst <= tolerance, "{dtype:?}: worst weight error {worst}");

            for m in [1usize, 3, 6] {
                let lhs = sample(m, columns, 11 + m as u32);
                let dense = Tensor::from_vec(lhs.clone(), (m, columns), &device)
                    .unwrap()
                    .matmul(&reference.t().unwrap())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let mut fast = vec![0f32; m * rows];
                packed
                    .matmul_t((m, columns, rows), &lhs, &mut fast)
                    .unwrap();
                let activations = QuantizedActivations::new(&lhs, m, columns, matrix.activations);
                let mut portable = vec![0f32; m * rows];
                for tile in 0..matrix.tiles() {
                    let data = &matrix.data[tile * matrix.tile_bytes()..][..matrix.tile_bytes()];
                    for row in 0..m {
                        let mut sums = [[0f32; TILE_ROWS]; ROWS_PER_PASS];
                        let pass = Pass {
                            layout: matrix.layout,
                            tile: data,
                            blocks: matrix.blocks(),
                            activations: &activations,
                            first: row,
                            count: 1,
                        };
                        pass.run_portable(&mut sums);
                        for lane in 0..TILE_ROWS.min(rows - tile * TILE_ROWS) {
                            portable[row * rows + tile * TILE_ROWS + lane] = sums[0][lane];
                        }
                    }
                }
                for ((fast, portable), dense) in fast.iter().zip(&portable).zip(&dense) {
                    assert!(
                        (fast - portable).abs() <= 1e-3 * (1.0 + dense.abs()),
                        "{dtype:?} m={m}: kernel {fast} vs portable {portable}"
                    );
                    // Sums of 256 products of magnitude ~0.3: typically ~5;
                    // activation rounding moves them by a few hundredths.
                    assert!(
                        (fast - dense).abs() <= 0.1 + 0.02 * dense.abs(),
                        "{dtype:?} m={m}: kernel {fast} vs dense {dense}"
                    );
                }
            }
        }
    }

    /// Query, key and value packed as one product (different code widths,
    /// one activation format) give each matrix's own product.
    #[test]
    fn a_fused_projection_equals_its_parts() {
        let device = Device::Cpu;
        let columns = 64;
        let parts: Vec<QTensor> = [(GgmlDType::Q5_0, 32, 1), (GgmlDType::Q8_0, 16, 2)]
            .iter()
            .map(|&(dtype, rows, seed)| {
                let weights =
                    Tensor::from_vec(sample(rows, columns, seed), (rows, columns), &device);
                QTensor::quantize(&weights.unwrap(), dtype).unwrap()
            })
            .collect();
        let x = Tensor::from_vec(sample(3, columns, 9), (1, 3, columns), &device).unwrap();
        let separate: Vec<Vec<f32>> = parts
            .iter()
            .map(|part| {
                let part = QTensor::quantize(&part.dequantize(&device).unwrap(), part.dtype());
                let matrix = load_matrix(part.unwrap(), true).unwrap();
                candle_core::Module::forward(&matrix, &x)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap()
            })
            .collect();
        let fused = Projection::load(parts, true).unwrap();
        assert!(matches!(fused, Projection::Fused { .. }));
        let outputs = fused.forward(&x).unwrap();
        assert_eq!(outputs[0].dims(), [1, 3, 32]);
        assert_eq!(outputs[1].dims(), [1, 3, 16]);
        for (output, separate) in outputs.iter().zip(&separate) {
            let output: Vec<f32> = output.flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(&output, separate);
        }
    }

    /// The SIMD activation quantisers write what the portable ones write.
    #[test]
    fn activation_quantisers_agree() {
        let values = sample(3, 512, 5);
        for format in [
            ActivationFormat::Q8_0,
            ActivationFormat::Q8_1,
            ActivationFormat::Q8K,
        ] {
            let (mut fast, mut portable) =
                (QuantizedActivations::empty(), QuantizedActivations::empty());
            fast.fill_with(&values, 3, 512, format, true);
            portable.fill_with(&values, 3, 512, format, false);
            assert_eq!(fast.codes, portable.codes, "{format:?}");
            assert_eq!(fast.sums, portable.sums, "{format:?}");
            assert_eq!(fast.first_half_sums, portable.first_half_sums, "{format:?}");
            assert_eq!(fast.scales, portable.scales, "{format:?}");
            assert_eq!(fast.offsets, portable.offsets, "{format:?}");
        }
    }

    #[test]
    fn dense_and_ragged_tensors_are_left_to_candle() {
        let device = Device::Cpu;
        let dense = QTensor::quantize(
            &Tensor::zeros((16, 64), candle_core::DType::F32, &device).unwrap(),
            GgmlDType::F16,
        )
        .unwrap();
        assert!(PackedMatrix::from_qtensor(&dense).unwrap().is_none());
    }

    #[test]
    fn embedding_rows_come_back_and_bad_ids_are_errors() {
        let device = Device::Cpu;
        let values = sample(20, 64, 3);
        let weights = Tensor::from_vec(values, (20, 64), &device).unwrap();
        let quantized = QTensor::quantize(&weights, GgmlDType::Q8_0).unwrap();
        let packed = PackedMatrices::new(vec![PackedMatrix::from_qtensor(&quantized)
            .unwrap()
            .unwrap()])
        .unwrap();
        let CpuStorage::F32(rows) = packed.embedding(&[19, 0], 20, 64).unwrap() else {
            panic!("f32 expected");
        };
        let reference: Vec<Vec<f32>> = quantized.dequantize(&device).unwrap().to_vec2().unwrap();
        for (got, want) in rows[..64].iter().zip(&reference[19]) {
            assert!((got - want).abs() < 1e-3);
        }
        assert!(packed.embedding(&[20], 20, 64).is_err());
    }
}
