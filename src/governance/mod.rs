//! What Warden keeps about people, for how long, and who looks at it:
//! conversation histories, the human review queue, per-principal rate limits
//! and token quotas, retention (`warden gc`), and a person's export and
//! erasure (GDPR articles 15 and 17; EU AI Act record-keeping and human
//! oversight). Everything here is sealed under keys derived from the keyring.

pub mod history;
pub mod limits;
pub mod review;

use serde::{Deserialize, Serialize};

pub use history::{History, Turn};
pub use limits::{Limits, RateLimiter};
pub use review::{Decision, ReviewItem, ReviewQueue, ReviewStatus};

#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error(transparent)]
    Sealed(#[from] crate::sealed::SealedError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("rate limit: `{principal}` asked {limit} questions in the last minute; try again in {retry_after} s")]
    RateLimited {
        principal: String,
        limit: u32,
        retry_after: u64,
    },
    #[error("token quota: `{principal}` used its {limit} generated tokens for today (UTC)")]
    QuotaExceeded { principal: String, limit: u64 },
    #[error("no review item `{0}` (see `warden review list`)")]
    UnknownReview(String),
    #[error("review item `{id}` was already {status}")]
    AlreadyDecided { id: String, status: ReviewStatus },
}

/// How long things are kept, in days (0 keeps them forever).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Retention {
    pub conversation_days: u64,
    pub review_days: u64,
    pub audit_payload_days: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            conversation_days: 90,
            review_days: 180,
            audit_payload_days: 365,
        }
    }
}

/// The cut-off time for `days` of retention (`None`: keep forever).
pub fn cutoff(now: u64, days: u64) -> Option<u64> {
    (days > 0).then(|| now.saturating_sub(days * 86_400))
}

/// What one retention pass removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GcReport {
    pub conversation_turns: usize,
    pub review_items: usize,
    pub tool_calls: usize,
    pub audit_payloads: usize,
}

/// Review reasons of an answer: why a person should look at it.
pub fn review_reasons(answer: &crate::rag::Answer) -> Vec<String> {
    use crate::guard::scan::{Action, BIAS_SCANNERS};
    use crate::guard::Outcome;
    let mut reasons = Vec::new();
    if answer.outcome == Outcome::Blocked {
        reasons.push("blocked".to_string());
    } else if answer.guard.iter().any(|flag| {
        flag.flag.action >= Action::Flag && !BIAS_SCANNERS.contains(&flag.flag.scanner.as_str())
    }) {
        reasons.push("guard".to_string());
    }
    if answer.guard.iter().any(|flag| {
        flag.flag.action >= Action::Flag && BIAS_SCANNERS.contains(&flag.flag.scanner.as_str())
    }) {
        reasons.push("bias".to_string());
    }
    let unsupported = answer.verification.as_ref().is_some_and(|verification| {
        verification.sentences.iter().any(|sentence| {
            !matches!(
                sentence.verdict,
                crate::guard::Verdict::Supported | crate::guard::Verdict::NoClaim
            )
        })
    });
    if unsupported
        || matches!(
            answer.outcome,
            Outcome::Annotated | Outcome::Stripped | Outcome::Quoted | Outcome::Refused
        )
    {
        reasons.push("unsupported".to_string());
    }
    if answer.flagged_for_review && !reasons.iter().any(|reason| reason == "blocked") {
        reasons.push("flagged".to_string());
    }
    reasons
}

/// The review reasons a reviewer can hold answers for.
pub const REVIEW_REASONS: &[&str] = &["blocked", "guard", "bias", "unsupported", "flagged"];
