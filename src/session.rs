//! The front door every question comes through, bound to one principal:
//! permission check, rate limit, the read-path pipeline (already scoped to
//! the principal's tenant and labels), then review queue, conversation
//! history and one audit record. `warden ask`, `warden search` and (later)
//! the terminal UI and the HTTP server all go through here, so no front end
//! can forget a step.

use std::path::Path;

use serde::Serialize;

use crate::audit::{redacted_text, AuditLog, Entry};
use crate::auth::{Action, AuthError, Directory, Principal, RoleSpec};
use crate::crypto::Keyring;
use crate::governance::{
    review_reasons, GovernanceError, History, Limits, RateLimiter, Retention, ReviewItem,
    ReviewQueue, ReviewStatus, Turn,
};
use crate::rag::{Answer, AnswerEvent, Pipeline, RagError, Retriever, SourceRef};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Governance(#[from] GovernanceError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Rag(#[from] RagError),
    #[error("the pipeline is scoped to tenant `{pipeline}` but the principal to `{principal}`")]
    ScopeMismatch { pipeline: String, principal: String },
}

/// Governance settings from the configuration.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct GovernanceSettings {
    pub retention: Retention,
    pub limits: Limits,
    /// Review reasons that hold an answer until a reviewer approves it.
    pub review_hold: Vec<String>,
    pub roles: std::collections::BTreeMap<String, RoleSpec>,
}

/// Everything a home keeps about people and decisions.
pub struct Governance {
    pub audit: AuditLog,
    pub review: ReviewQueue,
    pub history: History,
    pub limiter: RateLimiter,
    pub directory: Directory,
    pub settings: GovernanceSettings,
}

impl Governance {
    pub fn open(home: &Path, keyring: &Keyring, settings: GovernanceSettings) -> Self {
        Self {
            audit: AuditLog::open(home, keyring),
            review: ReviewQueue::open(home, keyring),
            history: History::open(home, keyring),
            limiter: RateLimiter::open(home, keyring, settings.limits),
            directory: Directory::open(home, keyring, settings.roles.clone()),
            settings,
        }
    }

    /// Records one decision.
    pub fn record(
        &self,
        principal: &Principal,
        tenant: &str,
        action: &str,
        outcome: &str,
        payload: serde_json::Value,
    ) -> Result<(), SessionError> {
        self.audit.append(Entry {
            principal: principal.id.clone(),
            tenant: tenant.to_string(),
            action: action.to_string(),
            outcome: outcome.to_string(),
            payload,
        })?;
        Ok(())
    }

    /// Records a failed authentication (no principal to name).
    pub fn record_unauthenticated(&self, payload: serde_json::Value) -> Result<(), SessionError> {
        self.audit.append(Entry {
            principal: "unauthenticated".into(),
            tenant: String::new(),
            action: "authenticate".into(),
            outcome: "denied".into(),
            payload,
        })?;
        Ok(())
    }

    /// Checks `action` in `tenant`; a refusal is audited before it is returned.
    pub fn require(
        &self,
        principal: &Principal,
        action: Action,
        tenant: &str,
    ) -> Result<(), SessionError> {
        if let Err(err) = principal.require(action, tenant) {
            self.record(
                principal,
                tenant,
                action.name(),
                "denied",
                serde_json::json!({ "reason": err.to_string() }),
            )?;
            return Err(err.into());
        }
        Ok(())
    }

    /// Admits one request under the rate limit (a refusal is audited).
    pub fn admit(&self, principal: &Principal, action: &str) -> Result<(), SessionError> {
        if let Err(err) = self
            .limiter
            .admit_question(&principal.id, crate::sealed::now())
        {
            let outcome = match err {
                GovernanceError::QuotaExceeded { .. } => "quota_exceeded",
                _ => "rate_limited",
            };
            self.record(
                principal,
                &principal.tenant,
                action,
                outcome,
                serde_json::json!({ "reason": err.to_string() }),
            )?;
            return Err(err.into());
        }
        Ok(())
    }
}

/// What the asker gets.
#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    #[serde(flatten)]
    pub answer: Answer,
    /// The review item this answer went to, if any.
    pub review_id: Option<String>,
    /// The answer waits for a reviewer; `answer.answer` says so instead.
    pub held: bool,
}

/// What a held answer says instead of itself.
pub fn held_notice(id: &str) -> String {
    format!(
        "This answer is held for review by a person (review item {id}). Read it with `warden review show {id}` once it is approved."
    )
}

/// One principal's questions through the pipeline.
pub struct Session<'g> {
    pub principal: Principal,
    pub pipeline: Pipeline,
    governance: &'g Governance,
}

impl<'g> Session<'g> {
    /// Binds a pipeline opened with `principal.scope()` to the principal.
    pub fn new(
        principal: Principal,
        pipeline: Pipeline,
        governance: &'g Governance,
    ) -> Result<Self, SessionError> {
        let scope = pipeline.retriever.scope();
        if scope != &principal.scope() {
            return Err(SessionError::ScopeMismatch {
                pipeline: scope.tenant.clone(),
                principal: principal.tenant.clone(),
            });
        }
        Ok(Self {
            principal,
            pipeline,
            governance,
        })
    }

    /// Points `pipeline` (its model stays loaded) at the principal's own scope
    /// of `store` and binds it to the principal. On failure the pipeline is
    /// handed back with the error, for the next principal.
    #[allow(clippy::result_large_err)]
    pub fn bind(
        principal: Principal,
        mut pipeline: Pipeline,
        store: std::sync::Arc<dyn crate::store::KnowledgeStore>,
        embedder: std::sync::Arc<crate::index::Embedder>,
        governance: &'g Governance,
    ) -> Result<Self, (SessionError, Pipeline)> {
        match Retriever::open_scoped(store, &principal.scope(), embedder) {
            Ok(retriever) => {
                pipeline.retriever = retriever;
                Ok(Self {
                    principal,
                    pipeline,
                    governance,
                })
            }
            Err(err) => Err((err.into(), pipeline)),
        }
    }

    /// The pipeline back, for the next principal (the model stays loaded).
    pub fn into_pipeline(self) -> Pipeline {
        self.pipeline
    }

    /// Answers `question` for the principal, emitting the pipeline's events
    /// (draft tokens are withheld when an answer could be held for review).
    pub fn ask(
        &mut self,
        question: &str,
        emit: &mut dyn FnMut(AnswerEvent),
    ) -> Result<Delivered, SessionError> {
        let governance = self.governance;
        let tenant = self.principal.tenant.clone();
        governance.require(&self.principal, Action::Ask, &tenant)?;
        governance.admit(&self.principal, "ask")?;
        let may_hold = !governance.settings.review_hold.is_empty();
        let result = self.pipeline.ask(question, &mut |event| match event {
            AnswerEvent::Token(_) if may_hold => {}
            other => emit(other),
        });
        let mut answer = match result {
            Ok(answer) => answer,
            Err(err) => {
                governance.record(
                    &self.principal,
                    &tenant,
                    "ask",
                    "error",
                    serde_json::json!({
                        "question": redacted_text(question),
                        "error": err.to_string(),
                    }),
                )?;
                return Err(err.into());
            }
        };
        let tokens = answer
            .timings
            .generation
            .as_ref()
            .map_or(0, |stats| stats.generated_tokens as u64);
        governance
            .limiter
            .add_tokens(&self.principal.id, tokens, crate::sealed::now())?;

        let reasons = review_reasons(&answer);
        let held = reasons
            .iter()
            .any(|reason| governance.settings.review_hold.contains(reason));
        let review_id = if reasons.is_empty() {
            None
        } else {
            Some(
                governance.review.submit(ReviewItem {
                    id: String::new(),
                    created_at: crate::sealed::now(),
                    tenant: tenant.clone(),
                    principal: self.principal.id.clone(),
                    question: answer.question.clone(),
                    answer: answer.answer.clone(),
                    outcome: outcome_name(&answer),
                    reasons: reasons.clone(),
                    details: review_details(&answer),
                    sources: answer
                        .sources
                        .iter()
                        .map(|source| source.source.clone())
                        .collect(),
                    held,
                    status: ReviewStatus::Pending,
                    decision: None,
                    model_sha256: answer.model.sha256.clone(),
                    index_generation: answer.index_generation,
                })?,
            )
        };
        if let (true, Some(id)) = (held, &review_id) {
            answer.answer = held_notice(id);
            answer.draft.clear();
            answer.citations.clear();
        }
        governance.history.append(
            &self.principal.id,
            Turn {
                time: crate::sealed::now(),
                tenant: tenant.clone(),
                question: answer.question.clone(),
                answer: answer.answer.clone(),
                outcome: outcome_name(&answer),
                sources: answer
                    .sources
                    .iter()
                    .map(|source| source.source.clone())
                    .collect(),
                review_id: review_id.clone(),
            },
        )?;
        governance.record(
            &self.principal,
            &tenant,
            "ask",
            &outcome_name(&answer),
            ask_payload(
                &answer,
                &governance.audit.text_digest(&answer.question),
                &reasons,
                review_id.as_deref(),
                held,
                tokens,
            ),
        )?;
        Ok(Delivered {
            answer,
            review_id,
            held,
        })
    }
}

/// Retrieval only, for the principal: passages in scope, audited.
pub fn search(
    governance: &Governance,
    principal: &Principal,
    retriever: &Retriever,
    question: &str,
    k: usize,
) -> Result<Vec<SourceRef>, SessionError> {
    governance.require(principal, Action::Ask, &principal.tenant)?;
    if retriever.scope() != &principal.scope() {
        return Err(SessionError::ScopeMismatch {
            pipeline: retriever.scope().tenant.clone(),
            principal: principal.tenant.clone(),
        });
    }
    governance.admit(principal, "search")?;
    let sources = retriever.retrieve(question, k)?;
    governance.record(
        principal,
        &principal.tenant,
        "search",
        "answered",
        serde_json::json!({
            "question": redacted_text(question),
            "question_digest": governance.audit.text_digest(question),
            "retrieved": retrieved(&sources),
            "index_generation": retriever.catalog().generation,
        }),
    )?;
    Ok(sources)
}

fn outcome_name(answer: &Answer) -> String {
    serde_json::to_value(answer.outcome)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", answer.outcome).to_lowercase())
}

fn retrieved(sources: &[SourceRef]) -> serde_json::Value {
    sources
        .iter()
        .map(|source| {
            serde_json::json!({
                "document": source.document_id,
                "chunk": source.chunk_key,
                "score": (f64::from(source.score) * 1000.0).round() / 1000.0,
            })
        })
        .collect()
}

fn review_details(answer: &Answer) -> Vec<String> {
    let mut details: Vec<String> = answer
        .guard
        .iter()
        .filter(|flag| flag.flag.action >= crate::guard::scan::Action::Flag)
        .map(|flag| format!("{:?} guard: {}", flag.stage, flag.flag.reason))
        .collect();
    if let Some(verification) = &answer.verification {
        details.extend(
            verification
                .sentences
                .iter()
                .filter(|sentence| {
                    !matches!(
                        sentence.verdict,
                        crate::guard::Verdict::Supported | crate::guard::Verdict::NoClaim
                    )
                })
                .map(|sentence| format!("{:?}: {}", sentence.verdict, sentence.text)),
        );
    }
    details
}

fn ask_payload(
    answer: &Answer,
    question_digest: &str,
    reasons: &[String],
    review_id: Option<&str>,
    held: bool,
    tokens: u64,
) -> serde_json::Value {
    let verdicts = answer.verification.as_ref().map(|verification| {
        use crate::guard::Verdict;
        serde_json::json!({
            "supported": verification.count(Verdict::Supported),
            "unsupported": verification.count(Verdict::Unsupported),
            "uncited": verification.count(Verdict::Uncited),
            "wrong_citation": verification.count(Verdict::WrongCitation),
        })
    });
    let guard: Vec<serde_json::Value> = answer
        .guard
        .iter()
        .map(|flag| {
            serde_json::json!({
                "stage": flag.stage,
                "scanner": flag.flag.scanner,
                "action": flag.flag.action,
                "reason": flag.flag.reason,
            })
        })
        .collect();
    serde_json::json!({
        "question": redacted_text(&answer.question),
        "question_digest": question_digest,
        "retrieved": retrieved(&answer.sources),
        "cited": answer.citations,
        "guard": guard,
        "citations": verdicts,
        "review": { "reasons": reasons, "id": review_id, "held": held },
        "model": { "name": answer.model.name, "sha256": answer.model.sha256 },
        "index_generation": answer.index_generation,
        "generated_tokens": tokens,
    })
}
