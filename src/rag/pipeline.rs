//! The read-path pipeline: input guard → retrieval → retrieval guard →
//! grounded prompt → streamed generation → citation verification → output
//! guard. This is the one place that orders the stages.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::guard::scan::{Action, Scanners, Stage};
use crate::guard::{
    apply_policy, CitationVerifier, Grounded, GroundingSettings, Outcome, SourceText,
    VerifierSettings,
};
use crate::model::{LanguageModel, SamplingParams};

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
}

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
        })
    }

    /// The same pipeline under another guard policy.
    pub fn with_guard(mut self, guard: Arc<Scanners>) -> Self {
        self.guard = guard;
        self
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
            let grounded = Grounded {
                text: format!("{BLOCKED_QUESTION} ({reasons})."),
                outcome: Outcome::Blocked,
                flagged_for_review: true,
                notices: Vec::new(),
            };
            let timings = Timings {
                guard_ms: guard_started.elapsed().as_secs_f64() * 1e3,
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
            emit(AnswerEvent::Done(Box::new(answer.clone())));
            return Ok(answer);
        }
        // The model and retrieval see the question after redaction (PII the
        // policy does not allow stays out of the prompt).
        let question_for_model = input.text.clone();
        let mut guard_ms = guard_started.elapsed().as_secs_f64() * 1e3;

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
            .map(|source| SourceText::new(&source.title, &source.text))
            .collect();
        let verification = self.verifier.verify(&draft, &source_texts);
        let mut grounded = apply_policy(
            &self.settings.grounding,
            &self.verifier,
            question,
            &draft,
            &verification,
            &source_texts,
        );
        timings.verify_ms = verify_started.elapsed().as_secs_f64() * 1e3;

        let guard_started = Instant::now();
        let output = self
            .guard
            .scan(Stage::Output, &grounded.text, self.tenant());
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
        } else if output.text != grounded.text {
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
        emit(AnswerEvent::Done(Box::new(answer.clone())));
        Ok(answer)
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
