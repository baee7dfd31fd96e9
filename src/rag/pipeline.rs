//! The read-path pipeline: input guard → retrieval → retrieval guard →
//! grounded prompt → streamed generation → citation verification → output
//! guard. This is the one place that orders the stages.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::guard::scan::{Action, Scanners, Stage, BIAS_SCANNERS};
use crate::guard::{
    apply_policy, CitationPolicy, CitationVerifier, Grounded, GroundingSettings, Outcome,
    SourceText, VerifierSettings,
};
use crate::model::{LanguageModel, SamplingParams};
use crate::tools::{ToolHandler, ToolResolution};

use super::events::parse_citations;
use super::prompt::build_prompt;
use super::{Answer, AnswerEvent, GuardFlag, RagError, Retriever, Timings};

pub use crate::guard::grounding::NOT_FOUND_ANSWER;

/// Settings of one ask.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AskSettings {
    /// Passages retrieved and offered to the model.
    pub sources: usize,
    /// Passages scoring below this cosine similarity are not relevant.
    pub min_score: f32,
    pub max_tokens: usize,
    /// Upper bound on the context used (the model's own limit also applies).
    pub context_tokens: usize,
    /// Longest question accepted, in characters.
    pub max_question_chars: usize,
    pub sampling: SamplingParams,
    /// What happens to sentences the sources do not support.
    pub grounding: GroundingSettings,
    pub verifier: VerifierSettings,
}

impl Default for AskSettings {
    fn default() -> Self {
        Self {
            sources: 3,
            min_score: 0.30,
            max_tokens: 200,
            context_tokens: 4096,
            max_question_chars: 4000,
            sampling: SamplingParams::default(),
            grounding: GroundingSettings::default(),
            verifier: VerifierSettings::default(),
        }
    }
}

/// Retrieval plus a loaded model: everything needed to answer.
pub struct Pipeline {
    pub retriever: Retriever,
    pub model: LanguageModel,
    pub settings: AskSettings,
    pub verifier: CitationVerifier,
    pub guard: Arc<Scanners>,
    /// Set from another thread to stop generation (a client went away); the
    /// draft so far is verified as usual and the answer says it was cut short.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
    /// Embeddings of tool descriptions, computed once per description.
    tool_vectors: std::collections::HashMap<String, Vec<f32>>,
}

/// Longest reply to the tool proposal prompt.
const PROPOSAL_MAX_TOKENS: usize = 96;

/// Least cosine similarity between the question and a proposed tool's name
/// and description for the proposal to count. Measured on qwen2.5-coder-0.5b's
/// proposals over the demo tools: questions asking for a tool scored
/// 0.40–0.67, questions it wrongly proposed a tool for (leave, VPN,
/// expenses, passwords, returns policy) 0.04–0.30.
pub const TOOL_MIN_SIMILARITY: f32 = 0.35;

/// What the user reads when a guard refuses.
pub const BLOCKED_QUESTION: &str =
    "I can't help with that request. It was blocked by the input guard";
pub const BLOCKED_ANSWER: &str =
    "The answer was withheld by the output guard and flagged for review";

impl Pipeline {
    /// The verifier's word vectors come from the retriever's embedding model.
    pub fn new(
        retriever: Retriever,
        model: LanguageModel,
        settings: AskSettings,
    ) -> Result<Self, RagError> {
        let vectors = Arc::new(retriever.embedder().word_vectors()?);
        let verifier = CitationVerifier::new(settings.verifier.clone(), Some(vectors));
        Ok(Self {
            retriever,
            model,
            settings,
            verifier,
            guard: Arc::new(Scanners::new(Default::default())),
            cancel: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            tool_vectors: std::collections::HashMap::new(),
        })
    }

    /// The same pipeline under another guard policy.
    pub fn with_guard(mut self, guard: Arc<Scanners>) -> Self {
        self.guard = guard;
        self
    }

    /// The citation policy answers get: the tenant's own (`[tenants.<name>]
    /// citation_policy` in the guard policy), else the configured one.
    pub fn citation_policy(&self) -> CitationPolicy {
        self.guard
            .policy()
            .citation_policy(self.tenant())
            .unwrap_or(self.settings.grounding.policy)
    }

    fn tenant(&self) -> Option<&str> {
        Some(self.retriever.catalog().tenant.as_str())
    }

    /// Answers `question`, emitting events as they happen.
    pub fn ask(
        &mut self,
        question: &str,
        emit: &mut dyn FnMut(AnswerEvent),
    ) -> Result<Answer, RagError> {
        self.ask_with_tools(question, None, emit)
    }

    /// Answers `question`; when `tools` offers any, the model is first asked
    /// (from the question alone) whether it calls for one, and `tools`
    /// decides on the proposal. An executed call's answer is screened like a
    /// retrieved passage and becomes source 1.
    pub fn ask_with_tools(
        &mut self,
        question: &str,
        tools: Option<&mut dyn ToolHandler>,
        emit: &mut dyn FnMut(AnswerEvent),
    ) -> Result<Answer, RagError> {
        let started = Instant::now();
        let question = question.trim();
        if question.is_empty() {
            return Err(RagError::EmptyQuestion);
        }
        let chars = question.chars().count();
        if chars > self.settings.max_question_chars {
            return Err(RagError::QuestionTooLong {
                chars,
                limit: self.settings.max_question_chars,
            });
        }

        let guard_started = Instant::now();
        let mut guard_flags = Vec::new();
        let input = self.guard.scan(Stage::Input, question, self.tenant());
        record(&mut guard_flags, Stage::Input, None, &input.flags);
        if input.blocked {
            let reasons = reasons(&input.flags);
            let answer = self.answer_without_model(
                question,
                format!("{BLOCKED_QUESTION} ({reasons})."),
                Outcome::Blocked,
                guard_started.elapsed().as_secs_f64() * 1e3,
                guard_flags,
                started,
            );
            emit(AnswerEvent::Done(Box::new(answer.clone())));
            return Ok(answer);
        }
        // The model and retrieval see the question after redaction (PII the
        // policy does not allow stays out of the prompt).
        let question_for_model = input.text.clone();
        let mut guard_ms = guard_started.elapsed().as_secs_f64() * 1e3;

        let mut tool_sources = Vec::new();
        let mut tool_report = None;
        if let Some(handler) = tools {
            let available = handler.available();
            if let Some(call) = self.propose_call(&available, &question_for_model)? {
                emit(AnswerEvent::Notice(format!(
                    "the model proposed a call of `{}`",
                    call.tool
                )));
                match handler.handle(&call, &question_for_model) {
                    ToolResolution::Executed { report, result } => {
                        let name = format!("tool:{}", report.tool);
                        let scanned = self.guard.scan(Stage::Retrieval, &result, self.tenant());
                        record(
                            &mut guard_flags,
                            Stage::Retrieval,
                            Some(&name),
                            &scanned.flags,
                        );
                        if scanned.blocked {
                            emit(AnswerEvent::Notice(format!(
                                "the answer of `{}` was set aside: {}",
                                report.tool,
                                reasons(&scanned.flags)
                            )));
                        } else {
                            tool_sources.push(super::SourceRef {
                                number: 0,
                                document_id: name.clone(),
                                title: format!("Answer of the tool {}", report.tool),
                                source: name,
                                chunk_key: 0,
                                start: 0,
                                end: scanned.text.len(),
                                location: None,
                                score: 1.0,
                                text: scanned.text,
                                section: Vec::new(),
                                // Tool answers are data from outside: fenced.
                                untrusted: true,
                                labels: Vec::new(),
                            });
                        }
                        tool_report = Some(report);
                    }
                    ToolResolution::Pending { report, message }
                    | ToolResolution::Refused { report, message } => {
                        let outcome = if report.decision == "pending" {
                            Outcome::ToolPending
                        } else {
                            Outcome::ToolRefused
                        };
                        let mut answer = self.answer_without_model(
                            question,
                            message,
                            outcome,
                            guard_ms,
                            guard_flags,
                            started,
                        );
                        answer.tool = Some(report);
                        emit(AnswerEvent::Token(answer.answer.clone()));
                        emit(AnswerEvent::Done(Box::new(answer.clone())));
                        return Ok(answer);
                    }
                }
            }
        }

        let retrieval_started = Instant::now();
        let mut sources = self
            .retriever
            .retrieve(&question_for_model, self.settings.sources)?;
        sources.retain(|source| source.score >= self.settings.min_score);
        let mut timings = Timings {
            retrieval_ms: retrieval_started.elapsed().as_secs_f64() * 1e3,
            ..Timings::default()
        };

        // Passages that address the assistant are quarantined: never shown to
        // the model, reported to the user. Flagged ones are fenced.
        let guard_started = Instant::now();
        let mut quarantine_notices = Vec::new();
        sources.retain_mut(|source| {
            let scanned = self
                .guard
                .scan(Stage::Retrieval, &source.text, self.tenant());
            record(
                &mut guard_flags,
                Stage::Retrieval,
                Some(&source.source),
                &scanned.flags,
            );
            source.untrusted = scanned.flags.iter().any(|flag| flag.action >= Action::Flag);
            // Secrets in a passage are redacted before the model sees it.
            source.text = scanned.text;
            if scanned.blocked {
                quarantine_notices.push(format!(
                    "a passage of {} was set aside: {}",
                    source.source,
                    reasons(&scanned.flags)
                ));
            }
            !scanned.blocked
        });
        if !tool_sources.is_empty() {
            sources.splice(0..0, tool_sources);
        }
        for (number, source) in sources.iter_mut().enumerate() {
            source.number = number + 1;
        }
        guard_ms += guard_started.elapsed().as_secs_f64() * 1e3;
        for notice in &quarantine_notices {
            emit(AnswerEvent::Notice(notice.clone()));
        }
        emit(AnswerEvent::Sources(sources.clone()));

        if sources.is_empty() {
            let grounded = Grounded {
                text: NOT_FOUND_ANSWER.into(),
                outcome: Outcome::NotFound,
                flagged_for_review: false,
                notices: Vec::new(),
            };
            timings.guard_ms = guard_ms;
            let mut answer = self.finish(
                question,
                String::new(),
                None,
                grounded,
                sources,
                quarantine_notices,
                timings,
                started,
            );
            answer.guard = guard_flags;
            emit(AnswerEvent::Token(answer.answer.clone()));
            emit(AnswerEvent::Done(Box::new(answer.clone())));
            return Ok(answer);
        }

        let prompt_started = Instant::now();
        let window = self
            .settings
            .context_tokens
            .min(self.model.info.context_length);
        let built = build_prompt(
            &self.model,
            &question_for_model,
            &sources,
            window,
            self.settings.max_tokens,
            self.guard.policy().canary.as_deref(),
        )?;
        sources.truncate(built.sources_used);
        for notice in &built.notices {
            emit(AnswerEvent::Notice(notice.clone()));
        }
        timings.prompt_build_ms = prompt_started.elapsed().as_secs_f64() * 1e3;

        let mut text = String::new();
        let stats = self.model.generate(
            &built.text,
            &self.settings.sampling,
            self.settings.max_tokens,
            window,
            |piece| {
                text.push_str(piece);
                emit(AnswerEvent::Token(piece.to_string()));
                if self.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )?;
        timings.generation = Some(stats);

        let verify_started = Instant::now();
        let draft = text.trim().to_string();
        let source_texts: Vec<SourceText> = sources
            .iter()
            .map(|source| SourceText::new(&source.title, &source.text).under(&source.section))
            .collect();
        let verification = self
            .verifier
            .verify_reply(Some(question), &draft, &source_texts);
        let grounding = GroundingSettings {
            policy: self.citation_policy(),
            ..self.settings.grounding.clone()
        };
        let mut grounded = apply_policy(
            &grounding,
            &self.verifier,
            question,
            &draft,
            &verification,
            &source_texts,
        );
        timings.verify_ms = verify_started.elapsed().as_secs_f64() * 1e3;

        let guard_started = Instant::now();
        // Personal data a source shows may be repeated, but only from sources
        // the retrieval guard trusts: an address planted in a fenced document
        // is exactly what an attacker wants repeated.
        let passages: Vec<&str> = sources
            .iter()
            .filter(|source| !source.untrusted)
            .map(|source| source.text.as_str())
            .collect();
        let output =
            self.guard
                .scan_with_sources(Stage::Output, &grounded.text, self.tenant(), &passages);
        record(&mut guard_flags, Stage::Output, None, &output.flags);
        let mut output = output;
        let protected: Vec<&str> = sources
            .iter()
            .filter(|source| source.labels.iter().any(|label| label == "no-verbatim"))
            .map(|source| source.text.as_str())
            .collect();
        if !protected.is_empty() && !output.blocked {
            let cut = self
                .guard
                .cut_verbatim(&output.text, self.tenant(), &protected);
            record(&mut guard_flags, Stage::Output, None, &cut.flags);
            output.flags.extend(cut.flags);
            output.text = cut.text;
        }
        if output.blocked {
            grounded.text = format!("{BLOCKED_ANSWER} ({}).", reasons(&output.flags));
            grounded.outcome = Outcome::Blocked;
            grounded.flagged_for_review = true;
        } else {
            for flag in &output.flags {
                if flag.action == Action::Flag && BIAS_SCANNERS.contains(&flag.scanner.as_str()) {
                    grounded.notices.push(format!(
                        "this answer may be biased: it {}; check it against the cited sources",
                        flag.reason
                    ));
                }
            }
        }
        if !output.blocked && output.text != grounded.text {
            grounded.notices.push(format!(
                "the output guard changed the answer: {}",
                reasons(&output.flags)
            ));
            grounded.text = output.text;
        }
        timings.guard_ms = guard_ms + guard_started.elapsed().as_secs_f64() * 1e3;
        let mut notices = quarantine_notices;
        notices.extend(built.notices);
        for notice in &grounded.notices {
            emit(AnswerEvent::Notice(notice.clone()));
            notices.push(notice.clone());
        }
        let mut answer = self.finish(
            question,
            draft,
            Some(verification),
            grounded,
            sources,
            notices,
            timings,
            started,
        );
        answer.guard = guard_flags;
        answer.tool = tool_report;
        emit(AnswerEvent::Done(Box::new(answer.clone())));
        Ok(answer)
    }

    /// Asks the model whether `question` calls for one of `tools`: from the
    /// question and the tool list alone, greedy, briefly.
    fn propose_call(
        &mut self,
        tools: &[crate::tools::ToolSpec],
        question: &str,
    ) -> Result<Option<crate::tools::ProposedCall>, RagError> {
        if tools.is_empty() {
            return Ok(None);
        }
        let specs: Vec<&crate::tools::ToolSpec> = tools.iter().collect();
        let prompt = self
            .model
            .render_chat(&crate::tools::propose::proposal_messages(&specs, question))?;
        let sampling = SamplingParams {
            temperature: 0.0,
            ..self.settings.sampling.clone()
        };
        let window = self
            .settings
            .context_tokens
            .min(self.model.info.context_length);
        let mut reply = String::new();
        self.model
            .generate(&prompt, &sampling, PROPOSAL_MAX_TOKENS, window, |piece| {
                reply.push_str(piece);
                ControlFlow::Continue(())
            })?;
        let Some(call) = crate::tools::parse_proposal(&reply) else {
            return Ok(None);
        };
        // Small models propose a tool for questions that ask for none: a
        // proposal counts only when the question is about what the tool does.
        let Some(spec) = tools.iter().find(|spec| spec.name == call.tool) else {
            return Ok(Some(call));
        };
        let question_vector = self.retriever.embedder().embed(question)?;
        let description = format!("{} {}", spec.name.replace('_', " "), spec.description);
        let tool_vector = match self.tool_vectors.get(&description) {
            Some(vector) => vector.clone(),
            None => {
                let vector = self.retriever.embedder().embed(&description)?;
                self.tool_vectors.insert(description, vector.clone());
                vector
            }
        };
        let similarity: f32 = question_vector
            .iter()
            .zip(&tool_vector)
            .map(|(a, b)| a * b)
            .sum();
        tracing::debug!(tool = %call.tool, similarity, "tool proposal");
        Ok((similarity >= TOOL_MIN_SIMILARITY).then_some(call))
    }

    /// An answer decided before retrieval (a blocked question, a tool call
    /// that waits or was refused): no sources, no draft. A blocked one is
    /// flagged for review.
    fn answer_without_model(
        &self,
        question: &str,
        text: String,
        outcome: Outcome,
        guard_ms: f64,
        guard_flags: Vec<GuardFlag>,
        started: Instant,
    ) -> Answer {
        let grounded = Grounded {
            text,
            outcome,
            flagged_for_review: outcome == Outcome::Blocked,
            notices: Vec::new(),
        };
        let timings = Timings {
            guard_ms,
            ..Timings::default()
        };
        let mut answer = self.finish(
            question,
            String::new(),
            None,
            grounded,
            Vec::new(),
            Vec::new(),
            timings,
            started,
        );
        answer.guard = guard_flags;
        answer
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        question: &str,
        draft: String,
        verification: Option<crate::guard::Verification>,
        grounded: Grounded,
        sources: Vec<super::SourceRef>,
        notices: Vec<String>,
        mut timings: Timings,
        started: Instant,
    ) -> Answer {
        let (citations, invalid_citations) = parse_citations(&grounded.text, sources.len());
        timings.total_ms = started.elapsed().as_secs_f64() * 1e3;
        Answer {
            question: question.to_string(),
            answer: grounded.text,
            answered_by_model: !draft.is_empty(),
            draft,
            verification,
            outcome: grounded.outcome,
            flagged_for_review: grounded.flagged_for_review,
            citations,
            invalid_citations,
            sources,
            notices,
            guard: Vec::new(),
            model: self.model.info.clone(),
            index_generation: self.retriever.catalog().generation,
            tool: None,
            timings,
        }
    }
}

fn record(
    into: &mut Vec<GuardFlag>,
    stage: Stage,
    source: Option<&str>,
    flags: &[crate::guard::scan::Flag],
) {
    into.extend(flags.iter().map(|flag| GuardFlag {
        stage,
        source: source.map(str::to_string),
        flag: flag.clone(),
    }));
}

/// The reasons of the flags that acted, for a short notice.
fn reasons(flags: &[crate::guard::scan::Flag]) -> String {
    let mut reasons: Vec<&str> = flags
        .iter()
        .filter(|flag| flag.action >= Action::Redact)
        .map(|flag| flag.reason.as_str())
        .collect();
    reasons.dedup();
    reasons.join("; ")
}
