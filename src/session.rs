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
use crate::tools::{
    ApprovalQueue, CallLog, CallStatus, PendingCall, Plan, PlannedAction, ProposedCall, ToolError,
    ToolHandler, ToolRegistry, ToolReport, ToolResolution, ToolSpec,
};

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
    #[error(transparent)]
    Tool(#[from] crate::tools::ToolError),
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
    /// The tools declared in `<home>/tools.toml`.
    pub tools: ToolRegistry,
}

/// Everything a home keeps about people and decisions.
pub struct Governance {
    pub audit: AuditLog,
    pub review: ReviewQueue,
    pub history: History,
    pub limiter: RateLimiter,
    pub directory: Directory,
    pub approvals: ApprovalQueue,
    pub call_log: CallLog,
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
            approvals: ApprovalQueue::open(home, keyring),
            call_log: CallLog::open(home, keyring),
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
        let mut tools = SessionTools {
            governance,
            principal: &self.principal,
        };
        let offers_tools = !tools.available().is_empty();
        let result = self.pipeline.ask_with_tools(
            question,
            offers_tools.then_some(&mut tools as &mut dyn ToolHandler),
            &mut |event| match event {
                AnswerEvent::Token(_) if may_hold => {}
                other => emit(other),
            },
        );
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
        "bias_flags": answer
            .guard
            .iter()
            .filter(|flag| crate::guard::scan::BIAS_SCANNERS.contains(&flag.flag.scanner.as_str()))
            .count(),
        "citations": verdicts,
        "review": { "reasons": reasons, "id": review_id, "held": held },
        "model": { "name": answer.model.name, "sha256": answer.model.sha256 },
        "index_generation": answer.index_generation,
        "generated_tokens": tokens,
    })
}

/// The session's side of tool calls: the principal's identity and the
/// governance that decides, queues, logs and audits.
struct SessionTools<'a> {
    governance: &'a Governance,
    principal: &'a Principal,
}

impl ToolHandler for SessionTools<'_> {
    fn available(&self) -> Vec<ToolSpec> {
        self.governance
            .settings
            .tools
            .available_to(self.principal)
            .cloned()
            .collect()
    }

    fn handle(&mut self, call: &ProposedCall, user_message: &str) -> ToolResolution {
        let report = |plan: &Plan, decision: &str, reason: Option<String>| ToolReport {
            tool: call.tool.clone(),
            decision: decision.into(),
            arguments: plan.arguments.clone(),
            overridden: plan.overridden.clone(),
            reason,
            call_id: None,
        };
        match self
            .governance
            .call_tool(self.principal, &call.tool, &call.arguments, user_message)
        {
            Ok(resolution) => resolution,
            Err(err) => {
                let plan = Plan {
                    tool: call.tool.clone(),
                    risk: None,
                    proposed: call.arguments.clone(),
                    arguments: call.arguments.clone(),
                    overridden: Vec::new(),
                    action: PlannedAction::Refuse {
                        reason: err.to_string(),
                    },
                };
                ToolResolution::Refused {
                    report: report(&plan, "failed", Some(err.to_string())),
                    message: format!("I did not run `{}`: {err}.", call.tool),
                }
            }
        }
    }
}

impl Governance {
    /// What policy would do with a call, without doing it.
    pub fn plan_tool_call(
        &self,
        principal: &Principal,
        tool: &str,
        arguments: &serde_json::Value,
        user_message: &str,
    ) -> Result<Plan, SessionError> {
        let count = self
            .call_log
            .count(&principal.id, tool, crate::sealed::now())?;
        Ok(crate::tools::evaluate(
            &self.settings.tools,
            principal,
            tool,
            arguments,
            user_message,
            count,
        ))
    }

    /// Decides on a call by `principal` and carries the decision out:
    /// executes it, queues it for approval or refuses it. Audited.
    pub fn call_tool(
        &self,
        principal: &Principal,
        tool: &str,
        arguments: &serde_json::Value,
        user_message: &str,
    ) -> Result<ToolResolution, SessionError> {
        let tenant = principal.tenant.clone();
        let plan = self.plan_tool_call(principal, tool, arguments, user_message)?;
        let mut report = ToolReport {
            tool: tool.to_string(),
            decision: String::new(),
            arguments: plan.arguments.clone(),
            overridden: plan.overridden.clone(),
            reason: None,
            call_id: None,
        };
        let audit = |outcome: &str, report: &ToolReport| {
            self.record(
                principal,
                &tenant,
                "tool",
                outcome,
                serde_json::json!({
                    "tool": tool,
                    "arguments": redacted_text(&report.arguments.to_string()),
                    "overridden": report.overridden,
                    "reason": report.reason,
                    "call": report.call_id,
                    "question_digest": self.audit.text_digest(user_message),
                }),
            )
        };
        let spec = match (&plan.action, self.settings.tools.get(tool)) {
            (PlannedAction::Refuse { reason }, _) => {
                report.decision = "refused".into();
                report.reason = Some(reason.clone());
                audit("refused", &report)?;
                return Ok(ToolResolution::Refused {
                    message: format!("I did not run `{tool}`: {reason}."),
                    report,
                });
            }
            (_, Some(spec)) => spec,
            (_, None) => return Err(ToolError::UnknownCall(tool.to_string()).into()),
        };
        let now = crate::sealed::now();
        self.call_log.add(&principal.id, tool, now)?;
        if let PlannedAction::AwaitApproval { approvers_needed } = plan.action {
            let id = self.approvals.submit(PendingCall {
                id: String::new(),
                created_at: now,
                tenant: tenant.clone(),
                principal: principal.id.clone(),
                principal_name: principal.name.clone(),
                tool: tool.to_string(),
                risk: spec.risk,
                arguments: plan.arguments.clone(),
                question: user_message.to_string(),
                approvers_needed,
                approvals: Vec::new(),
                rejection: None,
                status: CallStatus::Pending,
                result: None,
            })?;
            report.decision = "pending".into();
            report.call_id = Some(id.clone());
            audit("pending", &report)?;
            return Ok(ToolResolution::Pending {
                message: format!(
                    "`{tool}` needs the approval of {approvers_needed} {} before it runs: \
                     request {id} is waiting in the review queue.",
                    if approvers_needed == 1 {
                        "person"
                    } else {
                        "people"
                    }
                ),
                report,
            });
        }
        let id = crate::crypto::random_id("t").map_err(|err| ToolError::Random(err.to_string()))?
            [..13]
            .to_string();
        report.call_id = Some(id.clone());
        match crate::tools::execute::execute(spec, &plan.arguments, &id) {
            Ok(result) => {
                report.decision = "executed".into();
                audit("executed", &report)?;
                Ok(ToolResolution::Executed { report, result })
            }
            Err(reason) => {
                report.decision = "failed".into();
                report.reason = Some(reason.clone());
                audit("failed", &report)?;
                Ok(ToolResolution::Refused {
                    message: format!("`{tool}` did not run: {reason}."),
                    report,
                })
            }
        }
    }

    fn approver_check(
        &self,
        approver: &Principal,
        call: &PendingCall,
    ) -> Result<&ToolSpec, SessionError> {
        self.require(approver, Action::Review, &call.tenant)?;
        let spec = self
            .settings
            .tools
            .get(&call.tool)
            .ok_or_else(|| ToolError::Invalid {
                tool: call.tool.clone(),
                message: "no longer declared in tools.toml; it cannot run".into(),
            })?;
        if !crate::tools::policy::may_approve(spec, approver) {
            return Err(ToolError::NotAnApprover {
                approver: approver.name.clone(),
                id: call.id.clone(),
                reason: format!(
                    "approvers hold one of the roles {}",
                    spec.approvers.join(", ")
                ),
            }
            .into());
        }
        Ok(spec)
    }

    /// Approves a waiting call; the approval that completes the count runs
    /// it, once. Audited.
    pub fn approve_tool_call(
        &self,
        approver: &Principal,
        id: &str,
        comment: &str,
    ) -> Result<PendingCall, SessionError> {
        let call = self.approvals.get(id)?;
        let spec = self.approver_check(approver, &call)?;
        let call = self.approvals.approve(id, approver, comment, |call| {
            crate::tools::execute::execute(spec, &call.arguments, &call.id)
        })?;
        self.record(
            approver,
            &call.tenant,
            "tool approve",
            &call.status.to_string(),
            serde_json::json!({
                "call": call.id,
                "tool": call.tool,
                "approvals": call.approvals.len(),
                "needed": call.approvers_needed,
                "comment": redacted_text(comment),
            }),
        )?;
        Ok(call)
    }

    pub fn reject_tool_call(
        &self,
        approver: &Principal,
        id: &str,
        comment: &str,
    ) -> Result<PendingCall, SessionError> {
        let call = self.approvals.get(id)?;
        self.approver_check(approver, &call)?;
        let call = self.approvals.reject(id, approver, comment)?;
        self.record(
            approver,
            &call.tenant,
            "tool reject",
            "rejected",
            serde_json::json!({
                "call": call.id,
                "tool": call.tool,
                "comment": redacted_text(comment),
            }),
        )?;
        Ok(call)
    }
}
