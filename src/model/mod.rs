//! Local text generation from a pinned GGUF model.
//!
//! Straight-line: verify the file against the manifest, read the GGUF header,
//! build tokenizer, chat template and weights from it, then prefill the prompt
//! and sample token by token, streaming text pieces to a callback. This module
//! knows nothing about retrieval or documents.

pub mod gemma3;
pub mod gguf;
pub mod hub;
mod layers;
pub mod llama;
pub mod manifest;
pub mod mapped;
pub mod packed;
pub mod sampler;
pub mod template;
pub mod token_stream;
pub mod tokenizer;

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

pub use manifest::{Manifest, VerifiedFile};
pub use sampler::SamplingParams;
pub use template::{ChatMessage, ChatTemplate};

use gguf::ModelWeights;
use token_stream::TokenStream;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{name}` is not in models/ (expected {path}); run `{fetch}` to fetch and verify the pinned models")]
    Missing {
        name: String,
        path: PathBuf,
        fetch: &'static str,
    },
    #[error("model file {path} does not exist")]
    FileNotFound { path: PathBuf },
    #[error("unknown model `{name}`; known generation models: {known} (or give a path to a pinned .gguf file)")]
    UnknownModel { name: String, known: String },
    #[error("{path} has sha256 {actual}, but models/manifest.toml pins {expected}; refusing to load it. Delete the file and run `scripts/fetch-models`")]
    HashMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{path} (sha256 {sha256}) is not pinned in models/manifest.toml; Warden loads only pinned models. Add an entry with this sha256 after checking where the file came from")]
    NotPinned { path: PathBuf, sha256: String },
    #[error("cannot read the model manifest {path}: {error}; point --models-dir or WARDEN_MODELS_DIR at the folder holding manifest.toml")]
    ManifestRead {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the model manifest {path} is invalid: {message}")]
    ManifestParse { path: PathBuf, message: String },
    #[error("{path} is not a usable GGUF model: {message}")]
    CorruptModel { path: PathBuf, message: String },
    #[error("{path} declares architecture `{architecture}`, which Warden does not run yet (supported: llama, qwen2, qwen3, phi3, gemma3)")]
    UnsupportedArchitecture { path: PathBuf, architecture: String },
    #[error("device `{device}` is not available: {reason}")]
    DeviceUnavailable { device: String, reason: String },
    #[error("cannot pull {file}: {message}")]
    Pull { file: String, message: String },
    #[error("cannot import {path}: {message}")]
    Import { path: PathBuf, message: String },
    #[error("tokenizer: {message}")]
    Tokenizer { message: String },
    #[error("chat template: {message}")]
    Template { message: String },
    #[error("the prompt needs {needed} tokens but the context window allows {available}; shorten the question")]
    PromptTooLong { needed: usize, available: usize },
    #[error("i/o error on {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the model loader stopped unexpectedly; the file may be damaged")]
    LoaderPanicked,
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// How the weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// As shipped in the GGUF (least memory).
    #[default]
    Quantized,
    /// Dequantised to f16 at load: faster prompts, about 3x the memory.
    F16,
    /// Dequantised to f32 at load: fastest prompts, most memory.
    F32,
    /// Requantised to Q8_0 at load: candle's Q8_0 kernels are SIMD, its Q4_1
    /// ones scalar.
    #[serde(rename = "q8_0")]
    Q8_0,
    /// Repacked at load for Warden's AVX-512 VNNI kernel ([`packed`]): about
    /// the file's size in memory, the fastest prompts and generation. On a
    /// CPU without AVX-512 VNNI this loads as `f16` instead.
    Packed,
}

impl WeightFormat {
    /// The format a load with `self` really uses on `device`: packed needs
    /// the CPU kernel; on a GPU the file's quantised format runs on candle's.
    pub fn effective_on(self, device: &Device) -> Self {
        match self {
            Self::Packed if !device.is_cpu() => Self::Quantized,
            Self::Packed if !packed::kernel_available() => Self::F16,
            other => other,
        }
    }
}

impl std::str::FromStr for WeightFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "quantized" | "q" => Ok(Self::Quantized),
            "f16" => Ok(Self::F16),
            "f32" => Ok(Self::F32),
            "q8_0" | "q8" => Ok(Self::Q8_0),
            "packed" => Ok(Self::Packed),
            other => Err(format!(
                "unknown weight format `{other}` (expected packed, quantized, q8_0, f16 or f32)"
            )),
        }
    }
}

/// Facts about the loaded model, reported with every answer.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
    pub architecture: String,
    pub context_length: usize,
    /// How the weights are held (after [`WeightFormat::effective_on`]).
    pub weights: WeightFormat,
    /// How long mapping the file and checking its sha256 took.
    pub verify_ms: f64,
    /// How long building the model from the checked bytes took (header,
    /// tokenizer, chat template, weights); the time to ready is the sum.
    pub load_ms: f64,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndOfText,
    MaxTokens,
    ContextFull,
    Cancelled,
}

/// Counts and timings of one generation.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_ms: f64,
    pub generation_ms: f64,
    pub time_to_first_token_ms: f64,
    pub prompt_tokens_per_s: f64,
    pub generation_tokens_per_s: f64,
    pub stop_reason: StopReason,
}

/// A loaded model: weights, tokenizer, template and stop tokens.
pub struct LanguageModel {
    weights: ModelWeights,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    stop_tokens: Vec<u32>,
    add_bos: Option<u32>,
    device: Device,
    pub info: ModelInfo,
}

/// Tokens that end generation in the model families Warden knows: the end of
/// a turn, and the repository/fill-in-the-middle markers code models may emit
/// (the same end-of-generation set llama.cpp derives, checked in tests).
const END_OF_TURN_TOKENS: &[&str] = &[
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "</s>",
    "<end_of_turn>",
    "<EOT>",
    "<reponame>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
];

impl LanguageModel {
    /// Verifies `name_or_path` against the manifest and loads it.
    pub fn load(
        manifest: &Manifest,
        name_or_path: &str,
        format: WeightFormat,
    ) -> Result<Self, ModelError> {
        let verified = manifest.resolve_and_verify(name_or_path)?;
        Self::load_verified(&verified, format)
    }

    /// Loads the model onto `device` (the CPU unless a GPU feature is built in).
    pub fn load_on(
        manifest: &Manifest,
        name_or_path: &str,
        format: WeightFormat,
        device: DeviceChoice,
    ) -> Result<Self, ModelError> {
        let device = device.open()?;
        let verified = manifest.resolve_and_verify(name_or_path)?;
        Self::load_verified_on(&verified, format, device)
    }

    /// Loads a file that already passed its hash check.
    pub fn load_verified(
        verified: &VerifiedFile,
        format: WeightFormat,
    ) -> Result<Self, ModelError> {
        Self::load_verified_on(verified, format, Device::Cpu)
    }

    fn load_verified_on(
        verified: &VerifiedFile,
        format: WeightFormat,
        device: Device,
    ) -> Result<Self, ModelError> {
        let started = std::time::Instant::now();
        let format = format.effective_on(&device);
        let path = &verified.path;
        let _span = tracing::info_span!("load_model", path = %path.display()).entered();
        let bytes = verified.mapped.bytes();
        let content = gguf::parse_header(path, bytes)?;
        let mut file = verified.mapped.reader();
        let architecture = tokenizer::metadata_string(&content, "general.architecture")
            .ok_or_else(|| ModelError::CorruptModel {
                path: path.clone(),
                message: "missing `general.architecture` metadata".into(),
            })?;
        let context_length =
            tokenizer::metadata_u32(&content, &format!("{architecture}.context_length"))
                .unwrap_or(2048) as usize;
        let tokenizer = tokenizer::tokenizer_for(&content, path)?;
        let token_text = |key: &str| {
            tokenizer::metadata_u32(&content, key)
                .and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let bos_token = token_text("tokenizer.ggml.bos_token_id");
        let eos_token = token_text("tokenizer.ggml.eos_token_id");
        let template = ChatTemplate::new(
            tokenizer::metadata_string(&content, "tokenizer.chat_template"),
            bos_token,
            eos_token,
        )?;
        let mut stop_tokens: Vec<u32> =
            ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
                .iter()
                .filter_map(|key| tokenizer::metadata_u32(&content, key))
                .collect();
        stop_tokens.extend(
            END_OF_TURN_TOKENS
                .iter()
                .filter_map(|text| tokenizer.token_to_id(text)),
        );
        stop_tokens.sort_unstable();
        stop_tokens.dedup();
        let add_bos = content
            .metadata
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|value| value.to_bool().ok())
            .unwrap_or(false)
            .then(|| tokenizer::metadata_u32(&content, "tokenizer.ggml.bos_token_id"))
            .flatten();

        let weights = load_weights_as(format, || {
            if format == WeightFormat::Q8_0 {
                let target = candle_core::quantized::GgmlDType::Q8_0;
                let (mut buffer, content) = gguf::requantize(path, &mut file, &content, target)?;
                gguf::load_weights(path, &mut buffer, content, &architecture, &device, false)
            } else {
                let pack = format == WeightFormat::Packed;
                gguf::load_weights(path, &mut file, content, &architecture, &device, pack)
            }
        })?;
        Ok(Self {
            weights,
            tokenizer,
            template,
            stop_tokens,
            add_bos,
            device,
            info: ModelInfo {
                name: verified.entry.name.clone(),
                file: path.clone(),
                sha256: verified.entry.sha256.clone(),
                architecture,
                context_length,
                weights: format,
                verify_ms: verified.verify_ms,
                load_ms: started.elapsed().as_secs_f64() * 1e3,
            },
        })
    }

    /// Makes generation run to `max_tokens` whatever the model emits: for
    /// benchmarks that must time a fixed number of tokens.
    pub fn disable_stop_tokens(&mut self) {
        self.stop_tokens.clear();
    }

    /// The token ids that end generation.
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop_tokens
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// Renders a conversation with the model's chat template.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        self.template.render(messages)
    }

    /// Tokenizes prompt text; special-token markup in it becomes special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|err| ModelError::Tokenizer {
                message: err.to_string(),
            })?;
        let mut ids = Vec::with_capacity(encoding.len() + 1);
        ids.extend(self.add_bos);
        ids.extend_from_slice(encoding.get_ids());
        Ok(ids)
    }

    /// Counts the tokens of a piece of text (no special additions).
    pub fn count_tokens(&self, text: &str) -> Result<usize, ModelError> {
        Ok(self
            .tokenizer
            .encode(text, false)
            .map_err(|err| ModelError::Tokenizer {
                message: err.to_string(),
            })?
            .len())
    }

    /// The model's next-token logits before each token of `continuation`,
    /// given `prompt` (already templated) and the continuation's earlier
    /// tokens: how likely the model finds a given text, token by token. Used
    /// to compare with another engine's choices without depending on
    /// near-ties between equally likely tokens.
    pub fn forced_logits(
        &mut self,
        prompt: &str,
        continuation: &[u32],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let prompt_ids = self.encode(prompt)?;
        let needed = prompt_ids.len() + continuation.len();
        if needed > self.info.context_length {
            return Err(ModelError::PromptTooLong {
                needed,
                available: self.info.context_length,
            });
        }
        self.weights.clear_kv_cache();
        let input = Tensor::new(prompt_ids.as_slice(), &self.device)?.unsqueeze(0)?;
        let mut logits = on_worker(|| self.weights.forward(&input, 0))?;
        let mut all = Vec::with_capacity(continuation.len());
        for (offset, &token) in continuation.iter().enumerate() {
            all.push(logits.flatten_all()?.to_vec1::<f32>()?);
            let input = Tensor::new(&[token], &self.device)?.unsqueeze(0)?;
            logits = on_worker(|| self.weights.forward(&input, prompt_ids.len() + offset))?;
        }
        Ok(all)
    }

    /// Generates a continuation of `prompt` (already templated), calling
    /// `on_text` with each final piece of text. `on_text` may cancel.
    pub fn generate(
        &mut self,
        prompt: &str,
        params: &SamplingParams,
        max_tokens: usize,
        context_limit: usize,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<GenerationStats, ModelError> {
        let prompt_ids = self.encode(prompt)?;
        tracing::debug!(tokens = prompt_ids.len(), ids = ?&prompt_ids[..prompt_ids.len().min(24)], "prompt:\n{prompt}");
        let window = context_limit.min(self.info.context_length);
        if prompt_ids.len() + 1 > window {
            return Err(ModelError::PromptTooLong {
                needed: prompt_ids.len() + 1,
                available: window,
            });
        }
        self.weights.clear_kv_cache();
        let mut sampler = sampler::Sampler::new(params);
        let mut stream = TokenStream::new(&self.tokenizer);
        // The repeat penalty looks at generated tokens only: a grounded answer
        // should be free to repeat the words of its sources.
        let mut generated_ids: Vec<u32> = Vec::with_capacity(max_tokens);
        let mut position = prompt_ids.len();

        let started = Instant::now();
        let input = Tensor::new(prompt_ids.as_slice(), &self.device)?.unsqueeze(0)?;
        let logits = on_worker(|| self.weights.forward(&input, 0))?;
        let mut next = sampler.next_token(&logits, &generated_ids)?;
        let prompt_ms = started.elapsed().as_secs_f64() * 1e3;
        let generation_started = Instant::now();

        let mut generated = 0usize;
        let mut stop_reason = StopReason::MaxTokens;
        while generated < max_tokens {
            if self.stop_tokens.contains(&next) {
                stop_reason = StopReason::EndOfText;
                break;
            }
            generated += 1;
            generated_ids.push(next);
            if let Some(piece) = stream.push(next)? {
                if on_text(&piece).is_break() {
                    stop_reason = StopReason::Cancelled;
                    break;
                }
            }
            if position + 1 >= window {
                stop_reason = StopReason::ContextFull;
                break;
            }
            if generated == max_tokens {
                break;
            }
            let input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
            let logits = on_worker(|| self.weights.forward(&input, position))?;
            position += 1;
            next = sampler.next_token(&logits, &generated_ids)?;
        }
        if stop_reason != StopReason::Cancelled {
            if let Some(rest) = stream.flush()? {
                let _ = on_text(&rest);
            }
        }
        let generation_ms = generation_started.elapsed().as_secs_f64() * 1e3;
        Ok(GenerationStats {
            prompt_tokens: prompt_ids.len(),
            generated_tokens: generated,
            prompt_ms,
            generation_ms,
            time_to_first_token_ms: prompt_ms,
            prompt_tokens_per_s: prompt_ids.len() as f64 / (prompt_ms / 1e3).max(1e-9),
            generation_tokens_per_s: generated.saturating_sub(1) as f64
                / (generation_ms / 1e3).max(1e-9),
            stop_reason,
        })
    }
}

/// Runs one forward pass on a worker of rayon's pool, so that the many small
/// parallel products inside it are split among workers that are already
/// awake, instead of each being injected into the pool from outside (a
/// wake-up per product costs more than a decode step's small matrices save).
fn on_worker<T: Send>(forward: impl FnOnce() -> T + Send) -> T {
    rayon::scope(|_| forward())
}

/// candle reads its dequantisation switches from the environment once per
/// thread, when that thread builds its first quantised matmul. Loading on a
/// fresh thread, with the switches set just before, makes every load honour
/// its own `WeightFormat`; the lock keeps two concurrent loads from changing
/// the switches under each other.
fn load_weights_as<T: Send>(
    format: WeightFormat,
    load: impl FnOnce() -> Result<T, ModelError> + Send,
) -> Result<T, ModelError> {
    static LOADING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_load_at_a_time = LOADING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (all, f16) = match format {
        WeightFormat::Quantized | WeightFormat::Q8_0 | WeightFormat::Packed => ("0", "0"),
        WeightFormat::F16 => ("0", "1"),
        WeightFormat::F32 => ("1", "0"),
    };
    std::env::set_var("CANDLE_DEQUANTIZE_ALL", all);
    std::env::set_var("CANDLE_DEQUANTIZE_ALL_F16", f16);
    std::thread::scope(|scope| {
        scope
            .spawn(load)
            .join()
            .unwrap_or_else(|_| Err(ModelError::LoaderPanicked))
    })
}

/// Where generation runs: `cpu`, `cuda:N` (built with `--features cuda`) or
/// `metal` (`--features metal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeviceChoice {
    #[default]
    Cpu,
    Cuda(usize),
    Metal,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            "metal" => Ok(Self::Metal),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("`{text}` is not a device (cpu, cuda:N, metal)")),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal => f.write_str("metal"),
        }
    }
}

impl DeviceChoice {
    /// Opens the device, or says why it cannot be used by this build.
    pub fn open(self) -> Result<Device, ModelError> {
        let unavailable = |reason: String| ModelError::DeviceUnavailable {
            device: self.to_string(),
            reason,
        };
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(ordinal) => {
                if cfg!(feature = "cuda") {
                    Device::new_cuda(ordinal).map_err(|err| unavailable(err.to_string()))
                } else {
                    Err(unavailable(
                        "this build has no CUDA support; rebuild with `cargo build --release --features cuda`".into(),
                    ))
                }
            }
            Self::Metal => {
                if cfg!(feature = "metal") {
                    Device::new_metal(0).map_err(|err| unavailable(err.to_string()))
                } else {
                    Err(unavailable(
                        "this build has no Metal support; rebuild with `cargo build --release --features metal`".into(),
                    ))
                }
            }
        }
    }
}
