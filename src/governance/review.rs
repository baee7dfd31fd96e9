//! The human review queue: answers the guards or the citation check flagged,
//! sealed one item per file in `<home>/review/`. Reviewers of the item's
//! tenant list, approve or reject them with a comment. Items whose reasons
//! are configured to be held (`review_hold`) are not shown to the asker until
//! a reviewer approves them; the asker can then read them with
//! `warden review show <id>`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crypto::{Keyring, SecretKey};
use crate::sealed;

use super::GovernanceError;

const PURPOSE: &str = "review item";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
}

impl std::fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        })
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    pub reviewer: String,
    pub approved: bool,
    pub comment: String,
    pub time: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReviewItem {
    pub id: String,
    pub created_at: u64,
    pub tenant: String,
    /// The asker's principal id.
    pub principal: String,
    pub question: String,
    /// What the pipeline would show (or showed).
    pub answer: String,
    pub outcome: String,
    /// Why it is here: `blocked`, `guard`, `unsupported`, `flagged`.
    pub reasons: Vec<String>,
    /// Notes for the reviewer: guard findings and unsupported sentences.
    pub details: Vec<String>,
    pub sources: Vec<String>,
    /// Not shown to the asker until approved.
    pub held: bool,
    pub status: ReviewStatus,
    pub decision: Option<Decision>,
    pub model_sha256: String,
    pub index_generation: u64,
}

pub struct ReviewQueue {
    dir: PathBuf,
    key: SecretKey,
}

impl ReviewQueue {
    pub fn open(home: &Path, keyring: &Keyring) -> Self {
        Self {
            dir: home.join("review"),
            key: keyring.derive("warden review v1"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.wsf"))
    }

    fn valid_id(id: &str) -> bool {
        id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// Adds an item (its id is set here) and returns the id.
    pub fn submit(&self, mut item: ReviewItem) -> Result<String, GovernanceError> {
        item.id = crate::crypto::random_id("r")?[..13].to_string();
        item.status = ReviewStatus::Pending;
        item.decision = None;
        sealed::write(&self.path(&item.id), &self.key, PURPOSE, &item)?;
        Ok(item.id)
    }

    pub fn get(&self, id: &str) -> Result<ReviewItem, GovernanceError> {
        if !Self::valid_id(id) {
            return Err(GovernanceError::UnknownReview(id.to_string()));
        }
        sealed::read(&self.path(id), &self.key, PURPOSE)?
            .ok_or_else(|| GovernanceError::UnknownReview(id.to_string()))
    }

    /// Every item, oldest first.
    pub fn items(&self) -> Result<Vec<ReviewItem>, GovernanceError> {
        let mut items: Vec<ReviewItem> = sealed::read_all(&self.dir, &self.key, PURPOSE)?;
        items.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(items)
    }

    /// Approves or rejects a pending item.
    pub fn decide(&self, id: &str, decision: Decision) -> Result<ReviewItem, GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut item = self.get(id)?;
        if item.status != ReviewStatus::Pending {
            return Err(GovernanceError::AlreadyDecided {
                id: id.to_string(),
                status: item.status,
            });
        }
        item.status = if decision.approved {
            ReviewStatus::Approved
        } else {
            ReviewStatus::Rejected
        };
        item.decision = Some(decision);
        sealed::write(&self.path(id), &self.key, PURPOSE, &item)?;
        Ok(item)
    }

    /// Removes the items `select` picks; returns how many.
    pub fn remove_where(
        &self,
        select: impl Fn(&ReviewItem) -> bool,
    ) -> Result<usize, GovernanceError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut removed = 0;
        for item in self.items()? {
            if select(&item) {
                sealed::remove(&self.path(&item.id))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
