//! Calls waiting for people: sealed one per file in `<home>/tool-calls/`,
//! with the full arguments and the question that led to them. Approvers (by
//! role, never the requester, two different people where declared) approve
//! or reject; the approval that completes the count executes the call, once:
//! the record says `executing` before the call goes out and `executed` or
//! `failed` after, under the queue's lock, so a second approval, a retry or a
//! crash never sends it again.
//!
//! `CallLog` keeps each user's calls of the last hour for `calls_per_hour`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Risk, ToolError};
use crate::auth::Principal;
use crate::crypto::{Keyring, SecretKey};
use crate::sealed;

const PURPOSE: &str = "tool call";
const LOG_PURPOSE: &str = "tool call log";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Pending,
    Rejected,
    /// Sent (or being sent); if Warden stopped here, the outcome is unknown
    /// and the call is never sent again.
    Executing,
    Executed,
    Failed,
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallStatus::Pending => "pending",
            CallStatus::Rejected => "rejected",
            CallStatus::Executing => "executing",
            CallStatus::Executed => "executed",
            CallStatus::Failed => "failed",
        })
    }
}

/// One approver's word.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CallDecision {
    pub approver: String,
    pub approver_name: String,
    pub comment: String,
    pub time: u64,
}

/// A call waiting for (or past) approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingCall {
    pub id: String,
    pub created_at: u64,
    pub tenant: String,
    /// The requester's principal id and name.
    pub principal: String,
    pub principal_name: String,
    pub tool: String,
    pub risk: Risk,
    /// After binding: exactly what will be sent.
    pub arguments: Value,
    /// The question that led to the call.
    pub question: String,
    pub approvers_needed: usize,
    pub approvals: Vec<CallDecision>,
    pub rejection: Option<CallDecision>,
    pub status: CallStatus,
    /// The tool's answer, or why it failed.
    pub result: Option<String>,
}

pub struct ApprovalQueue {
    dir: PathBuf,
    key: SecretKey,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ApprovalQueue {
    pub fn open(home: &Path, keyring: &Keyring) -> Self {
        Self {
            dir: home.join("tool-calls"),
            key: keyring.derive("warden tool calls v1"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.wsf"))
    }

    /// Queues a call; returns its id (`t…`).
    pub fn submit(&self, mut call: PendingCall) -> Result<String, ToolError> {
        call.id = crate::crypto::random_id("t")
            .map_err(|err| ToolError::Random(err.to_string()))?[..13]
            .to_string();
        call.status = CallStatus::Pending;
        call.approvals.clear();
        call.rejection = None;
        call.result = None;
        sealed::write(&self.path(&call.id), &self.key, PURPOSE, &call)?;
        Ok(call.id)
    }

    pub fn get(&self, id: &str) -> Result<PendingCall, ToolError> {
        if !valid_id(id) {
            return Err(ToolError::UnknownCall(id.to_string()));
        }
        sealed::read(&self.path(id), &self.key, PURPOSE)?
            .ok_or_else(|| ToolError::UnknownCall(id.to_string()))
    }

    /// Every call, oldest first.
    pub fn items(&self) -> Result<Vec<PendingCall>, ToolError> {
        let mut items: Vec<PendingCall> = sealed::read_all(&self.dir, &self.key, PURPOSE)?;
        items.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(items)
    }

    fn decision(approver: &Principal, comment: &str) -> CallDecision {
        CallDecision {
            approver: approver.id.clone(),
            approver_name: approver.name.clone(),
            comment: comment.to_string(),
            time: sealed::now(),
        }
    }

    fn pending(&self, id: &str, approver: &Principal) -> Result<PendingCall, ToolError> {
        let call = self.get(id)?;
        if call.status != CallStatus::Pending {
            return Err(ToolError::AlreadyDecided {
                id: id.to_string(),
                status: call.status,
            });
        }
        // The keyring holder too: `operator` is one identity however many
        // people hold the key, so it cannot approve its own requests.
        if call.principal == approver.id {
            return Err(ToolError::NotAnApprover {
                approver: approver.name.clone(),
                id: id.to_string(),
                reason: "nobody approves their own request".into(),
            });
        }
        Ok(call)
    }

    /// Adds `approver`'s approval; when it completes the count, runs
    /// `execute` exactly once and records its result.
    pub fn approve(
        &self,
        id: &str,
        approver: &Principal,
        comment: &str,
        execute: impl FnOnce(&PendingCall) -> Result<String, String>,
    ) -> Result<PendingCall, ToolError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut call = self.pending(id, approver)?;
        if call.approvals.iter().any(|a| a.approver == approver.id) {
            return Err(ToolError::NotAnApprover {
                approver: approver.name.clone(),
                id: id.to_string(),
                reason: "already approved by them; a second approver is needed".into(),
            });
        }
        call.approvals.push(Self::decision(approver, comment));
        if call.approvals.len() < call.approvers_needed {
            sealed::write(&self.path(id), &self.key, PURPOSE, &call)?;
            return Ok(call);
        }
        call.status = CallStatus::Executing;
        sealed::write(&self.path(id), &self.key, PURPOSE, &call)?;
        let (status, result) = match execute(&call) {
            Ok(result) => (CallStatus::Executed, result),
            Err(error) => (CallStatus::Failed, error),
        };
        call.status = status;
        call.result = Some(result);
        sealed::write(&self.path(id), &self.key, PURPOSE, &call)?;
        Ok(call)
    }

    pub fn reject(
        &self,
        id: &str,
        approver: &Principal,
        comment: &str,
    ) -> Result<PendingCall, ToolError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut call = self.pending(id, approver)?;
        call.status = CallStatus::Rejected;
        call.rejection = Some(Self::decision(approver, comment));
        sealed::write(&self.path(id), &self.key, PURPOSE, &call)?;
        Ok(call)
    }

    /// Removes the calls `select` picks (erasure, retention); returns how many.
    pub fn remove_where(&self, select: impl Fn(&PendingCall) -> bool) -> Result<usize, ToolError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut removed = 0;
        for call in self.items()? {
            if select(&call) {
                sealed::remove(&self.path(&call.id))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Each user's calls in the last hour.
pub struct CallLog {
    dir: PathBuf,
    key: SecretKey,
}

impl CallLog {
    pub fn open(home: &Path, keyring: &Keyring) -> Self {
        Self {
            dir: home.join("tool-calls").join("log"),
            key: keyring.derive("warden tool call log v1"),
        }
    }

    fn path(&self, principal: &str) -> PathBuf {
        let name: String = principal
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.dir.join(format!("{name}.wsf"))
    }

    fn recent(&self, principal: &str, now: u64) -> Result<Vec<(String, u64)>, ToolError> {
        let calls: Vec<(String, u64)> =
            sealed::read(&self.path(principal), &self.key, LOG_PURPOSE)?.unwrap_or_default();
        Ok(calls
            .into_iter()
            .filter(|(_, time)| time + 3600 > now)
            .collect())
    }

    /// Calls of `tool` by `principal` in the hour before `now`.
    pub fn count(&self, principal: &str, tool: &str, now: u64) -> Result<usize, ToolError> {
        Ok(self
            .recent(principal, now)?
            .iter()
            .filter(|(name, _)| name == tool)
            .count())
    }

    pub fn add(&self, principal: &str, tool: &str, now: u64) -> Result<(), ToolError> {
        let _lock = sealed::lock(&self.dir)?;
        let mut calls = self.recent(principal, now)?;
        calls.push((tool.to_string(), now));
        sealed::write(&self.path(principal), &self.key, LOG_PURPOSE, &calls)?;
        Ok(())
    }

    pub fn forget(&self, principal: &str) -> Result<(), ToolError> {
        sealed::remove(&self.path(principal))?;
        Ok(())
    }
}
