//! The read-path pipeline: question → retrieval → grounded prompt → streamed
//! generation → citations. Guards (input, citation verification, output) plug
//! in here as they are built; this is the one place that orders the stages.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::guard::{
    apply_policy, CitationVerifier, Grounded, GroundingSettings, Outcome, SourceText,
    VerifierSettings,
};
use crate::model::{LanguageModel, SamplingParams};

use super::events::parse_citations;
use super::prompt::build_prompt;
use super::{Answer, AnswerEvent, RagError, Retriever, Timings};

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
}

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
        })
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

        let retrieval_started = Instant::now();
        let mut sources = self.retriever.retrieve(question, self.settings.sources)?;
        sources.retain(|source| source.score >= self.settings.min_score);
        let mut timings = Timings {
            retrieval_ms: retrieval_started.elapsed().as_secs_f64() * 1e3,
            ..Timings::default()
        };
        emit(AnswerEvent::Sources(sources.clone()));

        if sources.is_empty() {
            let grounded = Grounded {
                text: NOT_FOUND_ANSWER.into(),
                outcome: Outcome::NotFound,
                flagged_for_review: false,
                notices: Vec::new(),
            };
            let answer = self.finish(
                question,
                String::new(),
                None,
                grounded,
                sources,
                Vec::new(),
                timings,
                started,
            );
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
            question,
            &sources,
            window,
            self.settings.max_tokens,
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
                ControlFlow::Continue(())
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
        let grounded = apply_policy(
            &self.settings.grounding,
            &self.verifier,
            question,
            &draft,
            &verification,
            &source_texts,
        );
        timings.verify_ms = verify_started.elapsed().as_secs_f64() * 1e3;
        let mut notices = built.notices;
        for notice in &grounded.notices {
            emit(AnswerEvent::Notice(notice.clone()));
            notices.push(notice.clone());
        }
        let answer = self.finish(
            question,
            draft,
            Some(verification),
            grounded,
            sources,
            notices,
            timings,
            started,
        );
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
            model: self.model.info.clone(),
            timings,
        }
    }
}
