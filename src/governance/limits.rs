//! Abuse limits per principal: questions per minute (a sliding window) and
//! generated tokens per UTC day. Someone draining the knowledge base through
//! many questions meets these first. Counters are sealed per principal in
//! `<home>/limits/`, so they hold across processes (`serve` and the CLI).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crypto::{Keyring, SecretKey};
use crate::sealed;

use super::GovernanceError;

const PURPOSE: &str = "limits";

/// The limits (0 means unlimited).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Limits {
    pub questions_per_minute: u32,
    pub tokens_per_day: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            questions_per_minute: 20,
            tokens_per_day: 200_000,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counters {
    /// Times of the questions in the last minute.
    recent: Vec<u64>,
    day: u64,
    tokens_today: u64,
}

pub struct RateLimiter {
    dir: PathBuf,
    key: SecretKey,
    limits: Limits,
}

impl RateLimiter {
    pub fn open(home: &Path, keyring: &Keyring, limits: Limits) -> Self {
        Self {
            dir: home.join("limits"),
            key: keyring.derive("warden limits v1"),
            limits,
        }
    }

    fn path(&self, principal: &str) -> PathBuf {
        let safe: String = principal
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        self.dir.join(format!("{safe}.wsf"))
    }

    fn counters(&self, principal: &str, now: u64) -> Result<Counters, GovernanceError> {
        let mut counters: Counters =
            sealed::read(&self.path(principal), &self.key, PURPOSE)?.unwrap_or_default();
        counters.recent.retain(|time| now < time + 60);
        if counters.day != now / 86_400 {
            counters.day = now / 86_400;
            counters.tokens_today = 0;
        }
        Ok(counters)
    }

    /// Admits one question at `now`, or says which limit stops it.
    pub fn admit_question(&self, principal: &str, now: u64) -> Result<(), GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut counters = self.counters(principal, now)?;
        if self.limits.tokens_per_day > 0 && counters.tokens_today >= self.limits.tokens_per_day {
            return Err(GovernanceError::QuotaExceeded {
                principal: principal.to_string(),
                limit: self.limits.tokens_per_day,
            });
        }
        let limit = self.limits.questions_per_minute;
        if limit > 0 && counters.recent.len() >= limit as usize {
            let oldest = counters.recent.iter().min().copied().unwrap_or(now);
            return Err(GovernanceError::RateLimited {
                principal: principal.to_string(),
                limit,
                retry_after: (oldest + 60).saturating_sub(now).max(1),
            });
        }
        counters.recent.push(now);
        Ok(sealed::write(
            &self.path(principal),
            &self.key,
            PURPOSE,
            &counters,
        )?)
    }

    /// Counts tokens a principal's answer generated.
    pub fn add_tokens(
        &self,
        principal: &str,
        tokens: u64,
        now: u64,
    ) -> Result<(), GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut counters = self.counters(principal, now)?;
        counters.tokens_today += tokens;
        Ok(sealed::write(
            &self.path(principal),
            &self.key,
            PURPOSE,
            &counters,
        )?)
    }

    /// Forgets a principal's counters (erasure).
    pub fn forget(&self, principal: &str) -> Result<(), GovernanceError> {
        Ok(sealed::remove(&self.path(principal))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KdfParams, Unlock};

    #[test]
    fn the_window_slides_and_the_quota_resets_at_midnight_utc() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::create(
            &dir.path().join("keyring"),
            &Unlock::Passphrase(zeroize::Zeroizing::new("pass phrase".into())),
            KdfParams {
                memory_kib: 8 * 1024,
                iterations: 1,
                parallelism: 1,
            },
            "test",
        )
        .unwrap();
        let limiter = RateLimiter::open(
            dir.path(),
            &keyring,
            Limits {
                questions_per_minute: 2,
                tokens_per_day: 100,
            },
        );
        let day = 20_000 * 86_400;
        limiter.admit_question("a", day + 10).unwrap();
        limiter.admit_question("a", day + 20).unwrap();
        let refused = limiter.admit_question("a", day + 30).unwrap_err();
        assert!(
            matches!(
                refused,
                GovernanceError::RateLimited {
                    retry_after: 40,
                    ..
                }
            ),
            "{refused}"
        );
        limiter.admit_question("b", day + 30).unwrap();
        limiter.admit_question("a", day + 71).unwrap();
        limiter.add_tokens("a", 100, day + 72).unwrap();
        assert!(matches!(
            limiter.admit_question("a", day + 200),
            Err(GovernanceError::QuotaExceeded { .. })
        ));
        limiter.admit_question("a", day + 86_400).unwrap();
    }
}
