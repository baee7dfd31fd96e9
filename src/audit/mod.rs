//! The tamper-evident record of every decision: who asked what, in which
//! tenant, what was retrieved, what the guards and the citation check said,
//! which model file answered, and how it ended.
//!
//! `<home>/audit/log` holds one record per line, each sealed (AES-256-GCM,
//! key derived from the keyring) so nothing in it is readable or forgeable
//! without the key. Records form a hash chain: each carries the SHA-256 of its
//! predecessor's header, and the header carries the digest of the payload, not
//! the payload itself. `<home>/audit/HEAD.wsf` is the authenticated checkpoint
//! (sequence number and hash of the last record), rewritten after every append,
//! so cutting records off the end is detected too.
//!
//! Erasure and retention remove payloads (`scrub`) but keep headers and
//! digests, so the chain still verifies after a person's data is gone; each
//! payload carries a random salt, so a scrubbed payload cannot be recovered by
//! guessing texts against its digest. Payload text is redacted of PII and
//! secrets before it is written.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{Keyring, SecretKey};
use crate::sealed::{self, SealedError};

const RECORD_AAD: &[u8] = b"warden audit record v1";
const HEAD_PURPOSE: &str = "audit head";
/// The longest text kept in a payload field (longer questions are cut).
pub const MAX_TEXT_CHARS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the audit log is damaged at line {line}: {message}; run `warden audit verify`")]
    Damaged { line: usize, message: String },
    #[error("the last record of the audit log does not authenticate (edited, forged or cut short); nothing may happen unrecorded, so this is refused: run `warden audit verify`, then restore the log from a backup")]
    DamagedEnd,
    #[error(transparent)]
    Sealed(#[from] SealedError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
}

/// What a caller records: the payload is free-form JSON, already redacted.
#[derive(Debug, Clone)]
pub struct Entry {
    pub principal: String,
    pub tenant: String,
    pub action: String,
    pub outcome: String,
    pub payload: serde_json::Value,
}

/// One record of the log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub time: u64,
    /// Hash of the previous record (64 zeros for the first).
    pub prev: String,
    pub principal: String,
    pub tenant: String,
    pub action: String,
    pub outcome: String,
    pub payload_digest: String,
    /// `None` once scrubbed (erasure or retention).
    pub payload: Option<serde_json::Value>,
    /// Why the payload was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrubbed: Option<String>,
    pub hash: String,
}

impl Record {
    fn header_hash(&self) -> String {
        let header = serde_json::to_vec(&(
            self.seq,
            self.time,
            &self.prev,
            &self.principal,
            &self.tenant,
            &self.action,
            &self.outcome,
            &self.payload_digest,
        ))
        .unwrap_or_default();
        hex::encode(Sha256::digest(&header))
    }
}

fn digest_of(payload: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(payload).unwrap_or_default(),
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// The result of `verify`: the first bad record, if any.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditReport {
    pub records: u64,
    pub scrubbed: u64,
    /// The sequence number the checkpoint vouches for.
    pub checkpoint: u64,
    pub problem: Option<AuditProblem>,
    /// A final line cut short by a crash (not tampering: it is dropped at the next append).
    pub torn_tail: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditProblem {
    /// 1-based line of the log where the problem shows.
    pub line: usize,
    /// The record sequence number expected there.
    pub expected_seq: u64,
    pub message: String,
}

impl AuditReport {
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// The audit log of one Warden home.
pub struct AuditLog {
    dir: PathBuf,
    key: SecretKey,
    digest_key: SecretKey,
}

impl AuditLog {
    pub fn open(home: &Path, keyring: &Keyring) -> Self {
        Self {
            dir: home.join("audit"),
            key: keyring.derive("warden audit v1"),
            digest_key: keyring.derive("warden audit text digest v1"),
        }
    }

    /// A keyed digest (HMAC-SHA256) of a text: whoever holds the keyring can
    /// check whether a given question was asked; nobody can recover it or
    /// test guesses against it without the key.
    pub fn text_digest(&self, text: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(self.digest_key.expose())
            .expect("HMAC takes keys of any length");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("log")
    }

    fn head_path(&self) -> PathBuf {
        self.dir.join("HEAD.wsf")
    }

    fn io(&self, action: &'static str, path: PathBuf) -> impl FnOnce(std::io::Error) -> AuditError {
        move |error| AuditError::Io {
            action,
            path,
            error,
        }
    }

    fn seal_line(&self, record: &Record) -> Result<String, AuditError> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(record).unwrap_or_default());
        let sealed = self.key.seal(RECORD_AAD, &json)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    fn open_line(&self, line: &str) -> Option<Record> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(line.trim_end_matches('\r'))
            .ok()?;
        let json = zeroize::Zeroizing::new(self.key.open(RECORD_AAD, &sealed).ok()?);
        serde_json::from_slice(&json).ok()
    }

    /// Appends one record and moves the checkpoint to it.
    pub fn append(&self, entry: Entry) -> Result<Record, AuditError> {
        let _lock = sealed::lock(&self.dir)?;
        let path = self.log_path();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(self.io("open", path.clone()))?;
        let (last, complete_len) = self.last_record(&mut file)?;
        // A line torn by a crash is dropped before the next record goes on.
        file.set_len(complete_len)
            .map_err(self.io("truncate", path.clone()))?;
        file.seek(SeekFrom::End(0))
            .map_err(self.io("seek", path.clone()))?;
        let mut payload = entry.payload;
        if let serde_json::Value::Object(map) = &mut payload {
            let mut salt = [0u8; 16];
            crate::crypto::fill_random(&mut salt)?;
            map.insert("salt".into(), hex::encode(salt).into());
        }
        let (seq, prev) = match &last {
            Some(record) => (record.seq + 1, record.hash.clone()),
            None => (1, "0".repeat(64)),
        };
        let mut record = Record {
            seq,
            time: sealed::now(),
            prev,
            principal: entry.principal,
            tenant: entry.tenant,
            action: entry.action,
            outcome: entry.outcome,
            payload_digest: digest_of(&payload),
            payload: Some(payload),
            scrubbed: None,
            hash: String::new(),
        };
        record.hash = record.header_hash();
        let mut line = self.seal_line(&record)?;
        line.push('\n');
        file.write_all(line.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(self.io("append to", path.clone()))?;
        sealed::write(
            &self.head_path(),
            &self.key,
            HEAD_PURPOSE,
            &Head {
                seq: record.seq,
                hash: record.hash.clone(),
            },
        )?;
        Ok(record)
    }

    /// The last complete record and the length of the log up to its end.
    fn last_record(&self, file: &mut std::fs::File) -> Result<(Option<Record>, u64), AuditError> {
        let path = self.log_path();
        let len = file
            .metadata()
            .map_err(self.io("read", path.clone()))?
            .len();
        let mut window = 64 * 1024u64;
        loop {
            let start = len.saturating_sub(window);
            file.seek(SeekFrom::Start(start))
                .map_err(self.io("seek", path.clone()))?;
            let mut tail = Vec::new();
            file.read_to_end(&mut tail)
                .map_err(self.io("read", path.clone()))?;
            let complete = match tail.iter().rposition(|&byte| byte == b'\n') {
                Some(end) => end + 1,
                None if start == 0 => return Ok((None, 0)),
                None => {
                    window *= 4;
                    continue;
                }
            };
            let body = &tail[..complete - 1];
            let line_start = match body.iter().rposition(|&byte| byte == b'\n') {
                Some(position) => position + 1,
                None if start == 0 => 0,
                None => {
                    window *= 4;
                    continue;
                }
            };
            let line = String::from_utf8_lossy(&body[line_start..]);
            let record = self.open_line(&line).ok_or(AuditError::DamagedEnd)?;
            return Ok((Some(record), start + complete as u64));
        }
    }

    /// Every record, in order (fails on the first that does not authenticate).
    pub fn records(&self) -> Result<Vec<Record>, AuditError> {
        let text = self.read_log()?;
        let mut records = Vec::new();
        for (index, line) in complete_lines(&text).enumerate() {
            records.push(self.open_line(line).ok_or_else(|| AuditError::Damaged {
                line: index + 1,
                message: "the record does not authenticate".into(),
            })?);
        }
        Ok(records)
    }

    fn read_log(&self) -> Result<String, AuditError> {
        match std::fs::read(self.log_path()) {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(error) => Err(AuditError::Io {
                action: "read",
                path: self.log_path(),
                error,
            }),
        }
    }

    /// Checks every record, the chain and the checkpoint; names the first bad line.
    pub fn verify(&self) -> Result<AuditReport, AuditError> {
        let text = self.read_log()?;
        let head: Option<Head> = sealed::read(&self.head_path(), &self.key, HEAD_PURPOSE)?;
        let mut report = AuditReport {
            records: 0,
            scrubbed: 0,
            checkpoint: head.as_ref().map_or(0, |head| head.seq),
            problem: None,
            torn_tail: !text.is_empty() && !text.ends_with('\n'),
        };
        let mut prev = "0".repeat(64);
        let mut hashes = Vec::new();
        for (index, line) in complete_lines(&text).enumerate() {
            let expected_seq = index as u64 + 1;
            let problem = |message: String| AuditProblem {
                line: index + 1,
                expected_seq,
                message,
            };
            let Some(record) = self.open_line(line) else {
                report.problem = Some(problem(
                    "the record does not authenticate: it was edited, forged or damaged".into(),
                ));
                return Ok(report);
            };
            let found = if record.seq != expected_seq {
                Some(format!(
                    "found record {} where record {expected_seq} belongs: records were deleted, cut out or reordered",
                    record.seq
                ))
            } else if record.prev != prev {
                Some(
                    "the chain is broken: the previous record is not the one this record follows"
                        .into(),
                )
            } else if record.hash != record.header_hash() {
                Some("the record's hash does not match its header".into())
            } else if record
                .payload
                .as_ref()
                .is_some_and(|payload| digest_of(payload) != record.payload_digest)
            {
                Some("the payload does not match its digest".into())
            } else {
                None
            };
            if let Some(message) = found {
                report.problem = Some(problem(message));
                return Ok(report);
            }
            report.records += 1;
            report.scrubbed += u64::from(record.payload.is_none());
            prev = record.hash.clone();
            hashes.push(record.hash);
        }
        let lines = report.records as usize;
        match head {
            Some(head) if head.seq > report.records => {
                report.problem = Some(AuditProblem {
                    line: lines + 1,
                    expected_seq: report.records + 1,
                    message: format!(
                        "the log ends after record {} but the checkpoint vouches for {} records: records were cut off the end",
                        report.records, head.seq
                    ),
                });
            }
            Some(head) if head.seq > 0 && hashes[head.seq as usize - 1] != head.hash => {
                report.problem = Some(AuditProblem {
                    line: head.seq as usize,
                    expected_seq: head.seq,
                    message: "record differs from the one the checkpoint vouches for".into(),
                });
            }
            None if report.records > 0 => {
                report.problem = Some(AuditProblem {
                    line: 1,
                    expected_seq: 1,
                    message: "the checkpoint is missing".into(),
                });
            }
            _ => {}
        }
        Ok(report)
    }

    /// Removes the payloads of records that `select` picks (headers, digests
    /// and the chain stay); returns how many were scrubbed.
    pub fn scrub(
        &self,
        reason: &str,
        select: impl Fn(&Record) -> bool,
    ) -> Result<usize, AuditError> {
        let _lock = sealed::lock(&self.dir)?;
        let text = self.read_log()?;
        let mut out = String::with_capacity(text.len());
        let mut scrubbed = 0;
        for (index, line) in complete_lines(&text).enumerate() {
            let mut record = self.open_line(line).ok_or_else(|| AuditError::Damaged {
                line: index + 1,
                message: "the record does not authenticate".into(),
            })?;
            if record.payload.is_some() && select(&record) {
                record.payload = None;
                record.scrubbed = Some(reason.to_string());
                out.push_str(&self.seal_line(&record)?);
                scrubbed += 1;
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        if scrubbed > 0 {
            crate::durable::write_atomic(&self.log_path(), out.as_bytes())
                .map_err(self.io("rewrite", self.log_path()))?;
        }
        Ok(scrubbed)
    }
}

fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.split('\n').filter(|line| !line.is_empty())
}

/// `text` redacted of PII and secrets and cut to [`MAX_TEXT_CHARS`]: what an
/// audit payload may hold of what a person typed.
pub fn redacted_text(text: &str) -> String {
    let redacted = crate::guard::scan::pii::redact(text);
    match redacted.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &redacted[..cut]),
        None => redacted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_text_keeps_no_email_or_key() {
        let text = redacted_text("mail jane.doe@example.com key AKIAIOSFODNN7EXAMPLE please");
        assert!(!text.contains("jane.doe"));
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(text.contains("please"));
    }
}
