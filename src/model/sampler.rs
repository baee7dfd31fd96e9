//! Sampling settings and the logits processor built from them.

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use serde::{Deserialize, Serialize};

use super::ModelError;

/// Temperatures below this sample greedily.
pub const MIN_TEMPERATURE: f64 = 1e-3;

/// How the next token is chosen. `temperature == 0` means greedy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SamplingParams {
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: None,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 299_792_458,
        }
    }
}

/// A seeded sampler: the same seed and logits always give the same tokens.
pub struct Sampler {
    processor: LogitsProcessor,
    params: SamplingParams,
}

impl Sampler {
    pub fn new(params: &SamplingParams) -> Self {
        let temperature = params.temperature;
        // Below this, dividing the logits by the temperature overflows to
        // infinity (a fuzzer sent 2e-311): such a temperature means greedy.
        let sampling = if !temperature.is_finite() || temperature < MIN_TEMPERATURE {
            Sampling::ArgMax
        } else {
            match (params.top_k, params.top_p) {
                (None, None) => Sampling::All { temperature },
                (Some(k), None) => Sampling::TopK { k, temperature },
                (None, Some(p)) => Sampling::TopP { p, temperature },
                (Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature },
            }
        };
        Self {
            processor: LogitsProcessor::from_sampling(params.seed, sampling),
            params: params.clone(),
        }
    }

    /// Picks the next token from `logits`, penalising recent `history`.
    pub fn next_token(&mut self, logits: &Tensor, history: &[u32]) -> Result<u32, ModelError> {
        let logits = logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?;
        let logits = if self.params.repeat_penalty == 1.0 || history.is_empty() {
            logits
        } else {
            let start = history.len().saturating_sub(self.params.repeat_last_n);
            candle_transformers::utils::apply_repeat_penalty(
                &logits,
                self.params.repeat_penalty,
                &history[start..],
            )?
        };
        Ok(self.processor.sample(&logits)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a fuzzer's temperature of 2.2e-311 turned the logits into
    /// infinities and the request into a server error.
    #[test]
    fn a_vanishing_temperature_samples_greedily() {
        let logits = Tensor::new(&[[0.1f32, 2.0, 0.5, -1.0]], &candle_core::Device::Cpu).unwrap();
        for temperature in [2.225073858507e-311, 1e-9, f64::NAN] {
            let mut sampler = Sampler::new(&SamplingParams {
                temperature,
                ..SamplingParams::default()
            });
            assert_eq!(
                sampler.next_token(&logits, &[]).unwrap(),
                1,
                "{temperature}"
            );
        }
    }
}
