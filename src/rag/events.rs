//! The events one answer is made of, shared by every front end.

use serde::Serialize;

use crate::guard::{Outcome, Verification};
use crate::model::{GenerationStats, ModelInfo};

/// A retrieved passage as shown to the user and the model: `[number]`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRef {
    pub number: usize,
    pub document_id: String,
    pub source: String,
    pub title: String,
    pub chunk_key: u64,
    /// Byte span of the passage in the document's text.
    pub start: usize,
    pub end: usize,
    /// Page, paragraph or row of the passage, where the format has one.
    pub location: Option<String>,
    pub score: f32,
    pub text: String,
    /// The document's headings above the passage, outermost first (markdown
    /// documents): what the passage is about when it starts below them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub section: Vec<String>,
    /// The retrieval guard flagged the passage: it is fenced in the prompt.
    pub untrusted: bool,
    /// The document's access labels (`no-verbatim` limits quoting it).
    pub labels: Vec<String>,
}

/// One guard finding on the way to an answer.
#[derive(Debug, Clone, Serialize)]
pub struct GuardFlag {
    pub stage: crate::guard::scan::Stage,
    /// For the retrieval stage: the source passage's document.
    pub source: Option<String>,
    #[serde(flatten)]
    pub flag: crate::guard::scan::Flag,
}

/// Where the time went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub retrieval_ms: f64,
    pub prompt_build_ms: f64,
    /// Citation verification and policy.
    pub verify_ms: f64,
    /// Input, retrieval and output scanners together.
    pub guard_ms: f64,
    pub total_ms: f64,
    pub generation: Option<GenerationStats>,
}

/// The finished answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub question: String,
    /// What the user is shown: the draft after the citation policy.
    pub answer: String,
    /// The model's own text, before verification (empty when it was not asked).
    pub draft: String,
    /// Per-sentence verdicts on the draft.
    pub verification: Option<Verification>,
    pub outcome: Outcome,
    /// A strict-mode refusal: a person should look at this question.
    pub flagged_for_review: bool,
    /// Source numbers the answer cites with `[n]`, in order of first use.
    pub citations: Vec<usize>,
    /// `[n]` markers that point at no source.
    pub invalid_citations: Vec<usize>,
    pub sources: Vec<SourceRef>,
    /// False when nothing relevant was retrieved and the model was not asked.
    pub answered_by_model: bool,
    pub notices: Vec<String>,
    /// What the input, retrieval and output guards found, and did.
    pub guard: Vec<GuardFlag>,
    pub model: ModelInfo,
    /// The catalog generation (index version) the passages came from.
    pub index_generation: u64,
    /// A tool call the question led to, and what became of it.
    pub tool: Option<crate::tools::ToolReport>,
    pub timings: Timings,
}

/// One step of an answer, in the order it happens.
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    /// Passages found for the question (before generation).
    Sources(Vec<SourceRef>),
    /// Something the user should know (a source trimmed to fit, say).
    Notice(String),
    /// A piece of the model's draft. Not verified yet: front ends show it as a
    /// draft (or not at all) and replace it with `Done`'s `answer`.
    Token(String),
    /// The verified answer with verdicts, citations and timings.
    Done(Box<Answer>),
}

/// Finds `[n]` markers: valid ones (1..=sources) and invalid ones, first use order.
pub fn parse_citations(text: &str, sources: usize) -> (Vec<usize>, Vec<usize>) {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'[' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|byte| byte.is_ascii_digit())
                .count();
            if digits > 0 && digits <= 4 && bytes.get(i + 1 + digits) == Some(&b']') {
                let number: usize = text[i + 1..i + 1 + digits].parse().unwrap_or(0);
                let target = if (1..=sources).contains(&number) {
                    &mut valid
                } else {
                    &mut invalid
                };
                if !target.contains(&number) {
                    target.push(number);
                }
                i += digits + 2;
                continue;
            }
        }
        i += 1;
    }
    (valid, invalid)
}

#[cfg(test)]
mod tests {
    use super::parse_citations;

    #[test]
    fn finds_valid_and_invalid_markers_in_first_use_order() {
        let (valid, invalid) = parse_citations("A [2]. B [1][2]. C [7]. D [x] [] [12345]", 3);
        assert_eq!(valid, vec![2, 1]);
        assert_eq!(invalid, vec![7]);
    }
}
