//! Loading GGUF weights: read the header, pick the architecture from
//! `general.architecture`, and build the model for it (our own llama, qwen2
//! and gemma3; candle's qwen3 and phi3).
//!
//! A truncated or corrupt file must give an error, never a panic, so loading
//! runs behind `catch_unwind` as a last line of defence against panics inside
//! third-party parsing code.

use std::io::{Cursor, Read, Seek};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_phi3, quantized_qwen3};

use super::gemma3::Gemma3;
use super::llama::Llama;

use super::mapped::MappedFile;
use super::ModelError;

/// The architectures Warden can run. Adding one is adding a variant here.
pub enum ModelWeights {
    /// Our own implementation of llama and qwen2, so they run on [`super::packed`].
    Llama(Llama),
    Qwen3(quantized_qwen3::ModelWeights),
    Phi3(quantized_phi3::ModelWeights),
    /// Our own implementation: candle's differs from the model (see [`super::gemma3`]).
    Gemma3(Gemma3),
}

/// The `general.architecture` values [`load_weights`] accepts.
pub const ARCHITECTURES: &[&str] = &["llama", "qwen2", "qwen3", "phi3", "gemma3"];

impl ModelWeights {
    /// Runs the tokens at position `index_pos` and returns the last position's logits.
    pub fn forward(&mut self, input: &Tensor, index_pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Self::Llama(model) => model.forward(input, index_pos),
            Self::Qwen3(model) => model.forward(input, index_pos),
            Self::Phi3(model) => model.forward(input, index_pos),
            Self::Gemma3(model) => model.forward(input, index_pos),
        }
    }

    pub fn clear_kv_cache(&mut self) {
        match self {
            Self::Llama(model) => model.clear_kv_cache(),
            Self::Qwen3(model) => model.clear_kv_cache(),
            Self::Gemma3(model) => model.clear_kv_cache(),
            // It resets its cache when a sequence starts at position 0.
            Self::Phi3(_) => {}
        }
    }
}

/// Maps a GGUF file and reads its header (metadata and tensor table) without
/// loading tensors.
pub fn read_header(path: &Path) -> Result<(MappedFile, gguf_file::Content), ModelError> {
    let mapped = MappedFile::open(path)?;
    let content = parse_header(path, mapped.bytes())?;
    Ok((mapped, content))
}

/// Reads the header of the GGUF whose bytes are `bytes` (named `path` in errors).
pub fn parse_header(path: &Path, bytes: &[u8]) -> Result<gguf_file::Content, ModelError> {
    let corrupt = |message: String| ModelError::CorruptModel {
        path: path.to_path_buf(),
        message,
    };
    let file_len = bytes.len() as u64;
    let content = catch_unwind(AssertUnwindSafe(|| {
        gguf_file::Content::read(&mut Cursor::new(bytes))
    }))
    .map_err(|_| corrupt("the GGUF header could not be parsed".into()))?
    .map_err(|err| corrupt(err.to_string()))?;
    // Every tensor must lie inside the file: a truncated download fails here,
    // with a clear message, rather than deep inside a tensor read.
    for (name, info) in &content.tensor_infos {
        let block = info.ggml_dtype.block_size() as u64;
        let elements = info.shape.elem_count() as u64;
        let bytes = elements / block.max(1) * info.ggml_dtype.type_size() as u64;
        let end = content
            .tensor_data_offset
            .checked_add(info.offset)
            .and_then(|start| start.checked_add(bytes));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(corrupt(format!(
                "tensor `{name}` ends at byte {} but the file has {file_len} bytes (truncated?)",
                end.map_or_else(|| "past 2^64".to_string(), |end| end.to_string())
            )))
            }
        }
    }
    Ok(content)
}

/// Rewrites every quantised matrix of the model as `target` (Q8_0, say) and
/// returns an in-memory GGUF with the same metadata. candle has fast kernels
/// for some formats and a scalar fallback for others (Q4_1): requantising at
/// load trades some memory for generation speed. Matrices whose rows do not
/// divide into `target`'s blocks, and unquantised tensors, are kept as they are.
pub fn requantize<R: Read + Seek>(
    path: &Path,
    file: &mut R,
    content: &gguf_file::Content,
    target: GgmlDType,
) -> Result<(Cursor<Vec<u8>>, gguf_file::Content), ModelError> {
    let corrupt = |message: String| ModelError::CorruptModel {
        path: path.to_path_buf(),
        message,
    };
    let device = Device::Cpu;
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(content.tensor_infos.len());
    for name in content.tensor_infos.keys() {
        let tensor = content
            .tensor(file, name, &device)
            .map_err(|err| corrupt(format!("tensor `{name}`: {err}")))?;
        let dims = tensor.shape().dims().to_vec();
        let convertible = matches!(
            tensor.dtype(),
            dtype if dtype != GgmlDType::F32 && dtype != GgmlDType::F16 && dtype != target
        ) && dims.len() == 2
            && dims[1] % target.block_size() == 0
            && name != "token_embd.weight";
        let tensor = if convertible {
            let dense = tensor.dequantize(&device)?;
            QTensor::quantize(&dense, target)?
        } else {
            tensor
        };
        tensors.push((name.clone(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors
        .iter()
        .map(|(name, tensor)| (name.as_str(), tensor))
        .collect();
    let mut buffer = Cursor::new(Vec::new());
    gguf_file::write(&mut buffer, &metadata, &tensor_refs)?;
    drop(tensors);
    buffer.set_position(0);
    let rewritten = gguf_file::Content::read(&mut buffer)?;
    buffer.set_position(0);
    Ok((buffer, rewritten))
}

/// Builds the model for the architecture the GGUF declares.
pub fn load_weights<R: Read + Seek>(
    path: &Path,
    file: &mut R,
    content: gguf_file::Content,
    architecture: &str,
    device: &Device,
    pack: bool,
) -> Result<ModelWeights, ModelError> {
    let corrupt = |message: String| ModelError::CorruptModel {
        path: path.to_path_buf(),
        message,
    };
    let loaded = catch_unwind(AssertUnwindSafe(|| match architecture {
        "llama" | "qwen2" => Llama::from_gguf(architecture, content, file, device, pack)
            .map(ModelWeights::Llama)
            .map_err(|err| corrupt(err.to_string())),
        "qwen3" => quantized_qwen3::ModelWeights::from_gguf(content, file, device)
            .map(ModelWeights::Qwen3)
            .map_err(|err| corrupt(err.to_string())),
        "phi3" => quantized_phi3::ModelWeights::from_gguf(false, content, file, device)
            .map(ModelWeights::Phi3)
            .map_err(|err| corrupt(err.to_string())),
        "gemma3" => Gemma3::from_gguf(content, file, device, pack)
            .map(ModelWeights::Gemma3)
            .map_err(|err| corrupt(err.to_string())),
        other => Err(ModelError::UnsupportedArchitecture {
            path: path.to_path_buf(),
            architecture: other.to_string(),
        }),
    }));
    loaded.map_err(|_| corrupt("loading the tensors panicked".into()))?
}
