//! Settings: `<home>/warden.toml`, then `WARDEN_*` environment variables, then
//! command-line flags, validated once into a typed `Config` that is the only
//! settings value the rest of Warden sees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::RoleSpec;
use crate::governance::{Limits, Retention};
use crate::guard::{GroundingSettings, VerifierSettings};
use crate::ingest::ChunkSettings;
use crate::model::{SamplingParams, WeightFormat};
use crate::rag::AskSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}={value} is not valid: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },
    #[error("setting `{name}` is invalid: {message}")]
    Invalid { name: &'static str, message: String },
    #[error("no home directory: pass --home or set WARDEN_HOME")]
    NoHome,
}

/// Every setting, each optional: one layer of configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub models_dir: Option<PathBuf>,
    pub model: Option<String>,
    pub weights: Option<String>,
    pub threads: Option<usize>,
    /// Where generation runs: cpu, cuda:N, metal.
    pub device: Option<String>,
    pub max_tokens: Option<usize>,
    pub context_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub repeat_penalty: Option<f32>,
    pub seed: Option<u64>,
    pub sources: Option<usize>,
    pub min_score: Option<f32>,
    pub chunk_min_chars: Option<usize>,
    pub chunk_max_chars: Option<usize>,
    pub citation_policy: Option<String>,
    pub quote_fallback: Option<bool>,
    pub min_coverage: Option<f32>,
    pub key_file: Option<PathBuf>,
    pub tenant: Option<String>,
    pub guard_policy: Option<PathBuf>,
    pub retention_conversation_days: Option<u64>,
    pub retention_review_days: Option<u64>,
    pub retention_audit_payload_days: Option<u64>,
    pub questions_per_minute: Option<u32>,
    pub tokens_per_day: Option<u64>,
    /// Review reasons that hold an answer until a reviewer approves it.
    pub review_hold: Option<Vec<String>>,
    /// Largest disparity score per protected attribute that
    /// `warden eval --fairness` accepts (0..=1).
    pub fairness_threshold: Option<f64>,
    /// `[roles.<name>]` tables: `labels` and `actions` (added to the built-in roles).
    pub roles: Option<BTreeMap<String, RoleSpec>>,
    /// `[os_users]`: operating-system user → Warden user, for the terminal UI and CLI.
    pub os_users: Option<BTreeMap<String, String>>,
    /// `[keys]`: chat UI action → key (`quit = "ctrl+q"`).
    pub keys: Option<BTreeMap<String, String>>,
}

/// Names of the settings, as used in warden.toml and (upper-cased) in `WARDEN_*`.
const KEYS: &[&str] = &[
    "models_dir",
    "model",
    "weights",
    "threads",
    "device",
    "max_tokens",
    "context_tokens",
    "temperature",
    "top_k",
    "top_p",
    "repeat_penalty",
    "seed",
    "sources",
    "min_score",
    "chunk_min_chars",
    "chunk_max_chars",
    "citation_policy",
    "quote_fallback",
    "min_coverage",
    "key_file",
    "tenant",
    "guard_policy",
    "retention_conversation_days",
    "retention_review_days",
    "retention_audit_payload_days",
    "questions_per_minute",
    "tokens_per_day",
    "review_hold",
    "fairness_threshold",
];

impl RawConfig {
    /// Reads `path` if it exists.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|err| ConfigError::Parse {
                path: path.to_path_buf(),
                message: err.to_string(),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                error,
            }),
        }
    }

    /// Reads the `WARDEN_*` variables that name settings.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        for key in KEYS {
            let name = format!("WARDEN_{}", key.to_ascii_uppercase());
            if let Some(value) = lookup(&name) {
                let parsed = format!("v = {value}")
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|mut table| table.remove("v"))
                    .unwrap_or(toml::Value::String(value.clone()));
                table.insert((*key).to_string(), parsed);
            }
        }
        let name_of = |message: &str| {
            KEYS.iter()
                .find(|key| message.contains(*key))
                .map(|key| format!("WARDEN_{}", key.to_ascii_uppercase()))
                .unwrap_or_else(|| "WARDEN_*".into())
        };
        table.try_into().map_err(|err: toml::de::Error| {
            let message = err.to_string();
            let name = name_of(&message);
            ConfigError::Env {
                value: lookup(&name).unwrap_or_default(),
                name,
                message,
            }
        })
    }

    /// `self` with every setting that `over` has replaced by it.
    pub fn overlay(self, over: RawConfig) -> RawConfig {
        RawConfig {
            models_dir: over.models_dir.or(self.models_dir),
            model: over.model.or(self.model),
            weights: over.weights.or(self.weights),
            threads: over.threads.or(self.threads),
            device: over.device.or(self.device),
            max_tokens: over.max_tokens.or(self.max_tokens),
            context_tokens: over.context_tokens.or(self.context_tokens),
            temperature: over.temperature.or(self.temperature),
            top_k: over.top_k.or(self.top_k),
            top_p: over.top_p.or(self.top_p),
            repeat_penalty: over.repeat_penalty.or(self.repeat_penalty),
            seed: over.seed.or(self.seed),
            sources: over.sources.or(self.sources),
            min_score: over.min_score.or(self.min_score),
            chunk_min_chars: over.chunk_min_chars.or(self.chunk_min_chars),
            chunk_max_chars: over.chunk_max_chars.or(self.chunk_max_chars),
            citation_policy: over.citation_policy.or(self.citation_policy),
            quote_fallback: over.quote_fallback.or(self.quote_fallback),
            min_coverage: over.min_coverage.or(self.min_coverage),
            key_file: over.key_file.or(self.key_file),
            tenant: over.tenant.or(self.tenant),
            guard_policy: over.guard_policy.or(self.guard_policy),
            retention_conversation_days: over
                .retention_conversation_days
                .or(self.retention_conversation_days),
            retention_review_days: over.retention_review_days.or(self.retention_review_days),
            retention_audit_payload_days: over
                .retention_audit_payload_days
                .or(self.retention_audit_payload_days),
            questions_per_minute: over.questions_per_minute.or(self.questions_per_minute),
            tokens_per_day: over.tokens_per_day.or(self.tokens_per_day),
            review_hold: over.review_hold.or(self.review_hold),
            fairness_threshold: over.fairness_threshold.or(self.fairness_threshold),
            roles: over.roles.or(self.roles),
            os_users: over.os_users.or(self.os_users),
            keys: over.keys.or(self.keys),
        }
    }
}

/// The default generation model (measured on the demo questions: see README).
pub const DEFAULT_MODEL: &str = "qwen2.5-coder-0.5b";

/// Validated settings.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub home: PathBuf,
    pub models_dir: PathBuf,
    pub model: String,
    pub weights: WeightFormat,
    pub threads: usize,
    pub device: crate::model::DeviceChoice,
    pub ask: AskSettings,
    /// Largest disparity score per attribute `eval --fairness` accepts.
    pub fairness_threshold: f64,
    pub chunking: ChunkSettings,
    /// Key file that unlocks the keyring (else `WARDEN_PASSPHRASE` or a prompt).
    pub key_file: Option<PathBuf>,
    /// Tenant used when a command names none.
    pub tenant: String,
    /// The guard policy file (`<home>/guard.toml` when it exists, else built-in defaults).
    pub guard_policy: Option<PathBuf>,
    /// Retention, limits, review holds and roles.
    pub governance: crate::session::GovernanceSettings,
    /// Operating-system user → Warden user.
    pub os_users: BTreeMap<String, String>,
    /// Chat UI key overrides (validated here, applied by `tui::keys::KeyMap`).
    pub keys: BTreeMap<String, String>,
}

impl Config {
    /// Layers file, environment and flags over the defaults and validates them.
    pub fn resolve(home: PathBuf, flags: RawConfig) -> Result<Self, ConfigError> {
        let file = RawConfig::from_file(&home.join("warden.toml"))?;
        let env = RawConfig::from_env(|name| std::env::var(name).ok())?;
        Self::validate(home, file.overlay(env).overlay(flags))
    }

    pub fn validate(home: PathBuf, raw: RawConfig) -> Result<Self, ConfigError> {
        let defaults = AskSettings::default();
        let sampling_defaults = SamplingParams::default();
        let weights = match raw.weights {
            Some(text) => text.parse().map_err(|message| ConfigError::Invalid {
                name: "weights",
                message,
            })?,
            None => WeightFormat::Packed,
        };
        let positive = |name: &'static str, value: Option<usize>, default: usize| {
            let value = value.unwrap_or(default);
            if value == 0 {
                Err(ConfigError::Invalid {
                    name,
                    message: "must be at least 1".into(),
                })
            } else {
                Ok(value)
            }
        };
        let temperature = raw.temperature.unwrap_or(sampling_defaults.temperature);
        if !(0.0..=5.0).contains(&temperature) {
            return Err(ConfigError::Invalid {
                name: "temperature",
                message: format!("{temperature} is outside 0..=5"),
            });
        }
        if let Some(top_p) = raw.top_p {
            if !(0.0 < top_p && top_p <= 1.0) {
                return Err(ConfigError::Invalid {
                    name: "top_p",
                    message: format!("{top_p} is outside (0, 1]"),
                });
            }
        }
        let chunking = ChunkSettings {
            min_chars: positive(
                "chunk_min_chars",
                raw.chunk_min_chars,
                ChunkSettings::default().min_chars,
            )?,
            max_chars: positive(
                "chunk_max_chars",
                raw.chunk_max_chars,
                ChunkSettings::default().max_chars,
            )?,
        };
        if chunking.min_chars > chunking.max_chars {
            return Err(ConfigError::Invalid {
                name: "chunk_min_chars",
                message: "must not exceed chunk_max_chars".into(),
            });
        }
        let grounding_defaults = GroundingSettings::default();
        let citation_policy = match raw.citation_policy {
            Some(text) => text.parse().map_err(|message| ConfigError::Invalid {
                name: "citation_policy",
                message,
            })?,
            None => grounding_defaults.policy,
        };
        let mut verifier = VerifierSettings::default();
        if let Some(min_coverage) = raw.min_coverage {
            if !(0.0..=1.0).contains(&min_coverage) {
                return Err(ConfigError::Invalid {
                    name: "min_coverage",
                    message: format!("{min_coverage} is outside 0..=1"),
                });
            }
            verifier.min_coverage = min_coverage;
        }
        let retention_defaults = Retention::default();
        let limit_defaults = Limits::default();
        let review_hold = raw.review_hold.unwrap_or_default();
        for reason in &review_hold {
            if !crate::governance::REVIEW_REASONS.contains(&reason.as_str()) {
                return Err(ConfigError::Invalid {
                    name: "review_hold",
                    message: format!(
                        "`{reason}` is not a review reason; use {}",
                        crate::governance::REVIEW_REASONS.join(", ")
                    ),
                });
            }
        }
        let mut roles = crate::auth::default_roles();
        roles.extend(raw.roles.unwrap_or_default());
        let governance = crate::session::GovernanceSettings {
            retention: Retention {
                conversation_days: raw
                    .retention_conversation_days
                    .unwrap_or(retention_defaults.conversation_days),
                review_days: raw
                    .retention_review_days
                    .unwrap_or(retention_defaults.review_days),
                audit_payload_days: raw
                    .retention_audit_payload_days
                    .unwrap_or(retention_defaults.audit_payload_days),
            },
            limits: Limits {
                questions_per_minute: raw
                    .questions_per_minute
                    .unwrap_or(limit_defaults.questions_per_minute),
                tokens_per_day: raw.tokens_per_day.unwrap_or(limit_defaults.tokens_per_day),
            },
            review_hold,
            roles,
            tools: crate::tools::ToolRegistry::load(&home.join(crate::tools::TOOLS_FILE)).map_err(
                |err| ConfigError::Invalid {
                    name: "tools",
                    message: err.to_string(),
                },
            )?,
        };
        let fairness_threshold = raw
            .fairness_threshold
            .unwrap_or(crate::eval::fairness::DEFAULT_THRESHOLD);
        if !(0.0..=1.0).contains(&fairness_threshold) {
            return Err(ConfigError::Invalid {
                name: "fairness_threshold",
                message: format!("{fairness_threshold} is outside 0..=1"),
            });
        }
        let keys = raw.keys.unwrap_or_default();
        crate::tui::keys::KeyMap::with_overrides(&keys).map_err(|message| {
            ConfigError::Invalid {
                name: "keys",
                message,
            }
        })?;
        Ok(Self {
            governance,
            fairness_threshold,
            keys,
            os_users: raw.os_users.unwrap_or_default(),
            models_dir: raw.models_dir.unwrap_or_else(default_models_dir),
            model: raw.model.unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            weights,
            threads: positive("threads", raw.threads, default_threads())?,
            device: match raw.device {
                Some(text) => text.parse().map_err(|message| ConfigError::Invalid {
                    name: "device",
                    message,
                })?,
                None => crate::model::DeviceChoice::Cpu,
            },
            ask: AskSettings {
                sources: positive("sources", raw.sources, defaults.sources)?,
                min_score: raw.min_score.unwrap_or(defaults.min_score),
                max_tokens: positive("max_tokens", raw.max_tokens, defaults.max_tokens)?,
                context_tokens: positive(
                    "context_tokens",
                    raw.context_tokens,
                    defaults.context_tokens,
                )?,
                max_question_chars: defaults.max_question_chars,
                sampling: SamplingParams {
                    temperature,
                    top_k: raw.top_k,
                    top_p: raw.top_p,
                    repeat_penalty: raw
                        .repeat_penalty
                        .unwrap_or(sampling_defaults.repeat_penalty),
                    repeat_last_n: sampling_defaults.repeat_last_n,
                    seed: raw.seed.unwrap_or(sampling_defaults.seed),
                },
                grounding: GroundingSettings {
                    policy: citation_policy,
                    quote_fallback: raw
                        .quote_fallback
                        .unwrap_or(grounding_defaults.quote_fallback),
                    ..grounding_defaults
                },
                verifier,
            },
            chunking,
            key_file: raw.key_file,
            guard_policy: raw.guard_policy,
            tenant: raw
                .tenant
                .unwrap_or_else(|| crate::store::DEFAULT_TENANT.to_string()),
            home,
        })
    }

    /// The guard policy: the configured file, else `<home>/guard.toml`, else defaults.
    pub fn guard_policy(
        &self,
    ) -> Result<crate::guard::scan::GuardPolicy, crate::guard::scan::GuardError> {
        let path = self
            .guard_policy
            .clone()
            .unwrap_or_else(|| self.home.join("guard.toml"));
        if self.guard_policy.is_none() && !path.exists() {
            return Ok(crate::guard::scan::GuardPolicy::default());
        }
        crate::guard::scan::GuardPolicy::load(&path)
    }

    /// The encrypted knowledge store.
    pub fn store_dir(&self) -> PathBuf {
        self.home.join("store")
    }

    /// The keyring: master key unlockers and tenant keys.
    pub fn keyring_dir(&self) -> PathBuf {
        self.home.join("keyring")
    }
}

/// `--home`, else `WARDEN_HOME`, else the platform's data directory.
pub fn resolve_home(flag: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    if let Some(home) = flag {
        return Ok(home);
    }
    if let Some(home) = std::env::var_os("WARDEN_HOME").filter(|home| !home.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    directories::ProjectDirs::from("", "", "warden")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or(ConfigError::NoHome)
}

/// `./models` when run from a checkout, else the models folder beside the binary's
/// checkout, else `models` under the working directory.
fn default_models_dir() -> PathBuf {
    let local = PathBuf::from("models");
    if local.join("manifest.toml").is_file() {
        return local;
    }
    let from_build = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    if from_build.join("manifest.toml").is_file() {
        return from_build;
    }
    local
}

/// The cores not already busy: a 2-thread run collapses when another process
/// holds a core (see shared/MEASURED.md).
pub fn default_threads() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let busy = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .map(|load| load.round() as usize)
        .unwrap_or(0);
    cores.saturating_sub(busy).clamp(1, cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_and_env_values_are_typed() {
        let env = RawConfig::from_env(|name| match name {
            "WARDEN_THREADS" => Some("3".into()),
            "WARDEN_MODEL" => Some("smollm2-135m".into()),
            _ => None,
        })
        .unwrap();
        let flags = RawConfig {
            threads: Some(1),
            ..RawConfig::default()
        };
        let config = Config::validate(PathBuf::from("/tmp/h"), env.overlay(flags)).unwrap();
        assert_eq!(config.threads, 1);
        assert_eq!(config.model, "smollm2-135m");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = RawConfig::from_env(|name| (name == "WARDEN_THREADS").then(|| "many".into()))
            .unwrap_err();
        assert!(err.to_string().contains("WARDEN_THREADS"), "{err}");
    }

    #[test]
    fn zero_threads_is_rejected() {
        let raw = RawConfig {
            threads: Some(0),
            ..RawConfig::default()
        };
        assert!(Config::validate(PathBuf::from("/tmp/h"), raw).is_err());
    }
}
