//! Conversation histories: each user's questions and the answers shown, one
//! sealed file per user (`<home>/conversations/<user id>.wsf`), so erasing a
//! person deletes exactly one file and retention trims by age.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crypto::{Keyring, SecretKey};
use crate::sealed;

use super::GovernanceError;

const PURPOSE: &str = "conversation";
/// Turns kept per user at most (the oldest go first).
pub const MAX_TURNS: usize = 2000;

/// One question and the answer the user was shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Turn {
    pub time: u64,
    pub tenant: String,
    pub question: String,
    pub answer: String,
    pub outcome: String,
    /// Cited documents (sources) of the answer.
    pub sources: Vec<String>,
    /// Set when the answer went to the review queue.
    #[serde(default)]
    pub review_id: Option<String>,
}

pub struct History {
    dir: PathBuf,
    key: SecretKey,
}

impl History {
    pub fn open(home: &Path, keyring: &Keyring) -> Self {
        Self {
            dir: home.join("conversations"),
            key: keyring.derive("warden conversations v1"),
        }
    }

    fn path(&self, user_id: &str) -> PathBuf {
        let safe: String = user_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        self.dir.join(format!("{safe}.wsf"))
    }

    pub fn turns(&self, user_id: &str) -> Result<Vec<Turn>, GovernanceError> {
        Ok(sealed::read(&self.path(user_id), &self.key, PURPOSE)?.unwrap_or_default())
    }

    pub fn append(&self, user_id: &str, turn: Turn) -> Result<(), GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut turns = self.turns(user_id)?;
        turns.push(turn);
        if turns.len() > MAX_TURNS {
            turns.drain(..turns.len() - MAX_TURNS);
        }
        Ok(sealed::write(
            &self.path(user_id),
            &self.key,
            PURPOSE,
            &turns,
        )?)
    }

    /// Deletes a user's whole history.
    pub fn forget(&self, user_id: &str) -> Result<usize, GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let turns = self.turns(user_id)?.len();
        sealed::remove(&self.path(user_id))?;
        Ok(turns)
    }

    /// Drops turns older than `cutoff` in every history; returns how many.
    pub fn purge_before(&self, cutoff: u64) -> Result<usize, GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(0);
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "wsf") {
                continue;
            }
            let Some(mut turns) = sealed::read::<Vec<Turn>>(&path, &self.key, PURPOSE)? else {
                continue;
            };
            let before = turns.len();
            turns.retain(|turn| turn.time >= cutoff);
            if turns.len() != before {
                removed += before - turns.len();
                if turns.is_empty() {
                    sealed::remove(&path)?;
                } else {
                    sealed::write(&path, &self.key, PURPOSE, &turns)?;
                }
            }
        }
        Ok(removed)
    }
}
