//! What the user is shown once every sentence has a verdict.
//!
//! - `annotate` keeps the answer and marks each claim no source backs;
//! - `strip` drops those claims;
//! - `strict` refuses the whole answer if any claim fails and flags it for review.
//!
//! Under `strip` and `strict`, kept sentences have their citations repaired: a
//! wrong marker is replaced by the source that backs the sentence, a missing
//! one is added. When an answer cannot be shown, the quote fallback answers with
//! the source sentences most relevant to the question, verbatim and cited, or
//! says plainly that the knowledge base has no answer.

use serde::{Deserialize, Serialize};

use super::citations::{is_refusal, CitationVerifier, SourceText, Verdict, Verification};
use super::text::{map_citation_markers, split_sentences};

/// The reply when the knowledge base holds no answer.
pub const NOT_FOUND_ANSWER: &str = "I could not find this in the knowledge base.";

/// How unsupported sentences are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CitationPolicy {
    /// Keep every sentence; mark the unsupported ones.
    Annotate,
    /// Drop unsupported sentences.
    Strip,
    /// Refuse the answer if any sentence is unsupported, and flag it for review.
    Strict,
}

impl std::str::FromStr for CitationPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "annotate" => Ok(Self::Annotate),
            "strip" => Ok(Self::Strip),
            "strict" => Ok(Self::Strict),
            other => Err(format!(
                "`{other}` is not a citation policy (annotate, strip, strict)"
            )),
        }
    }
}

/// Policy settings of the read path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundingSettings {
    pub policy: CitationPolicy,
    /// Answer with quoted source sentences when the model's answer fails.
    pub quote_fallback: bool,
    /// Share of the question's content words a source sentence must cover to be quoted.
    pub quote_min_relevance: f32,
    /// Most sentences quoted.
    pub quote_max_sentences: usize,
}

impl Default for GroundingSettings {
    fn default() -> Self {
        Self {
            policy: CitationPolicy::Strict,
            quote_fallback: true,
            quote_min_relevance: 0.6,
            quote_max_sentences: 2,
        }
    }
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every claim is backed by a source.
    Answered,
    /// Shown with unsupported claims marked (`annotate`).
    Annotated,
    /// Shown with unsupported claims removed (`strip`).
    Stripped,
    /// The model's answer failed; source sentences are quoted instead.
    Quoted,
    /// The model said the sources hold no answer.
    Declined,
    /// Nothing could be shown: the answer failed and nothing relevant could be quoted.
    Refused,
    /// Retrieval found nothing relevant; the model was not asked.
    NotFound,
    /// A guard refused the question or the answer (see the answer's guard flags).
    Blocked,
    /// The question asked for a tool call that now waits for approval.
    ToolPending,
    /// The question asked for a tool call that policy refused (or that failed).
    ToolRefused,
}

impl Outcome {
    /// The user was told the knowledge base holds no (verifiable) answer.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Outcome::Quoted
                | Outcome::Declined
                | Outcome::Refused
                | Outcome::NotFound
                | Outcome::Blocked
                | Outcome::ToolRefused
        )
    }
}

/// The text to show and what happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grounded {
    pub text: String,
    pub outcome: Outcome,
    /// Needs a human look (strict refusals).
    pub flagged_for_review: bool,
    pub notices: Vec<String>,
}

/// Marker appended to unsupported sentences under `annotate`.
pub const UNVERIFIED_MARK: &str = "[unverified]";

/// Applies `settings.policy` to a verified draft answer.
pub fn apply_policy(
    settings: &GroundingSettings,
    verifier: &CitationVerifier,
    question: &str,
    draft: &str,
    verification: &Verification,
    sources: &[SourceText],
) -> Grounded {
    let ungrounded = verification.ungrounded();
    let claims = verification.claims();
    if claims == 0 && !is_refusal(draft) && !draft.trim().is_empty() {
        // Text with nothing checkable that does not decline either
        // ("According to [1], according to the source [2], …"): not an answer.
        return fallback(
            settings,
            verifier,
            question,
            sources,
            settings.policy == CitationPolicy::Strict,
        );
    }
    if claims == 0 {
        // Only refusals (or nothing at all) are left: the model declined.
        return Grounded {
            text: if draft.trim().is_empty() {
                NOT_FOUND_ANSWER.to_string()
            } else {
                draft.to_string()
            },
            outcome: Outcome::Declined,
            flagged_for_review: false,
            notices: Vec::new(),
        };
    }
    match settings.policy {
        CitationPolicy::Annotate => {
            let text = annotate(draft, verification);
            Grounded {
                text,
                outcome: if ungrounded == 0 {
                    Outcome::Answered
                } else {
                    Outcome::Annotated
                },
                flagged_for_review: false,
                notices: unsupported_notice(ungrounded, "marked"),
            }
        }
        CitationPolicy::Strip => {
            let kept = repaired(draft, verification);
            if kept.claims == 0 {
                return fallback(settings, verifier, question, sources, false);
            }
            Grounded {
                text: kept.text,
                outcome: if ungrounded == 0 {
                    Outcome::Answered
                } else {
                    Outcome::Stripped
                },
                flagged_for_review: false,
                notices: unsupported_notice(ungrounded, "removed"),
            }
        }
        CitationPolicy::Strict => {
            if ungrounded > 0 {
                return fallback(settings, verifier, question, sources, true);
            }
            let kept = repaired(draft, verification);
            Grounded {
                text: kept.text,
                outcome: Outcome::Answered,
                flagged_for_review: false,
                notices: Vec::new(),
            }
        }
    }
}

fn unsupported_notice(count: usize, what: &str) -> Vec<String> {
    if count == 0 {
        return Vec::new();
    }
    vec![format!(
        "{count} sentence(s) not supported by the sources were {what}"
    )]
}

fn annotate(draft: &str, verification: &Verification) -> String {
    let mut text = String::with_capacity(draft.len() + 32);
    let mut at = 0;
    for sentence in &verification.sentences {
        text.push_str(&draft[at..sentence.end]);
        at = sentence.end;
        if !sentence.is_grounded() {
            text.push(' ');
            text.push_str(UNVERIFIED_MARK);
        }
    }
    text.push_str(&draft[at..]);
    text
}

struct Kept {
    text: String,
    claims: usize,
}

/// The grounded sentences of the draft, with their markers repaired.
fn repaired(draft: &str, verification: &Verification) -> Kept {
    let mut text = String::with_capacity(draft.len());
    let mut claims = 0;
    let mut previous_end = 0;
    for sentence in &verification.sentences {
        let gap = &draft[previous_end..sentence.start];
        previous_end = sentence.end;
        if !sentence.is_grounded() {
            continue;
        }
        if !text.is_empty() {
            text.push_str(if gap.contains('\n') { "\n" } else { " " });
        }
        let body = &draft[sentence.start..sentence.end];
        match (&sentence.verdict, &sentence.support) {
            (Verdict::WrongCitation | Verdict::Uncited, Some(support)) => {
                text.push_str(&with_citation(body, support.source + 1));
            }
            _ => text.push_str(body),
        }
        if sentence.verdict != Verdict::NoClaim {
            claims += 1;
        }
    }
    Kept { text, claims }
}

/// `sentence` citing `[number]`: its first marker is replaced in place (so
/// "According to [2], …" keeps its shape), other markers are dropped, and a
/// sentence without markers gets one before its final stop.
fn with_citation(sentence: &str, number: usize) -> String {
    let mut placed = false;
    let out = map_citation_markers(sentence, |index| {
        placed = true;
        (index == 0).then(|| format!("[{number}]"))
    });
    if placed {
        return out;
    }
    let trimmed = out.trim_end();
    match trimmed.char_indices().last() {
        Some((at, stop @ ('.' | '!' | '?'))) => {
            format!("{} [{number}]{stop}", trimmed[..at].trim_end())
        }
        _ => format!("{trimmed} [{number}]"),
    }
}

/// The answer when the draft cannot be shown: quoted source sentences, or not found.
fn fallback(
    settings: &GroundingSettings,
    verifier: &CitationVerifier,
    question: &str,
    sources: &[SourceText],
    flag: bool,
) -> Grounded {
    let quotes = if settings.quote_fallback {
        relevant_sentences(settings, verifier, question, sources)
    } else {
        Vec::new()
    };
    if quotes.is_empty() {
        return Grounded {
            text: NOT_FOUND_ANSWER.to_string(),
            outcome: Outcome::Refused,
            flagged_for_review: flag,
            notices: vec!["the generated answer was not supported by the sources".into()],
        };
    }
    let mut text = String::from("I could not verify a generated answer. The sources say:");
    for (source, sentence) in &quotes {
        text.push_str(&format!("\n> \"{sentence}\" [{}]", source + 1));
    }
    Grounded {
        text,
        outcome: Outcome::Quoted,
        flagged_for_review: flag,
        notices: vec![
            "the generated answer was not supported by the sources; quoting them instead".into(),
        ],
    }
}

/// Source sentences that cover the question best, by the verifier's coverage.
pub fn relevant_sentences(
    settings: &GroundingSettings,
    verifier: &CitationVerifier,
    question: &str,
    sources: &[SourceText],
) -> Vec<(usize, String)> {
    let mut candidates: Vec<(usize, &str)> = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        for range in split_sentences(source.text) {
            let sentence = source.text[range].trim();
            // Headings and metadata lines ("**Owner:** …") are not statements.
            if sentence.starts_with('#') || sentence.starts_with("**") && sentence.contains(":**") {
                continue;
            }
            let plain = sentence.trim_start_matches(['-', '*', '#', '>', ' ']);
            if plain.len() >= 20 && !plain.starts_with('|') {
                candidates.push((index, plain));
            }
        }
    }
    let texts: Vec<&str> = candidates.iter().map(|(_, text)| *text).collect();
    let mut scored: Vec<(f32, usize, String)> = verifier
        .relevance(question, &texts)
        .into_iter()
        .zip(&candidates)
        .filter(|(relevance, _)| *relevance >= settings.quote_min_relevance)
        .map(|(relevance, (index, text))| (relevance, *index, text.replace('\n', " ")))
        .collect();
    // Best first; earlier (better retrieved) sources win ties.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(settings.quote_max_sentences)
        .map(|(_, source, sentence)| (source, sentence))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::VerifierSettings;

    const LEAVE: &str = "Every full-time employee receives 28 working days of paid annual \
        leave per leave year. Up to 5 unused days may be carried over; they must be taken \
        by 31 March.";

    fn run(policy: CitationPolicy, draft: &str) -> Grounded {
        let verifier = CitationVerifier::new(VerifierSettings::default(), None);
        let sources = [SourceText::untitled(LEAVE)];
        let verification = verifier.verify(draft, &sources);
        let settings = GroundingSettings {
            policy,
            ..GroundingSettings::default()
        };
        apply_policy(
            &settings,
            &verifier,
            "How many unused leave days can be carried over?",
            draft,
            &verification,
            &sources,
        )
    }

    const MIXED: &str = "Full-time employees receive 28 working days of paid annual leave. \
        Unused days are converted into a cash bonus at year end [1].";

    #[test]
    fn annotate_marks_and_strip_removes() {
        let annotated = run(CitationPolicy::Annotate, MIXED);
        assert_eq!(annotated.outcome, Outcome::Annotated);
        assert!(
            annotated.text.ends_with("at year end [1]. [unverified]"),
            "{annotated:?}"
        );

        let stripped = run(CitationPolicy::Strip, MIXED);
        assert_eq!(stripped.outcome, Outcome::Stripped);
        assert_eq!(
            stripped.text,
            "Full-time employees receive 28 working days of paid annual leave [1]."
        );
    }

    #[test]
    fn strict_falls_back_to_quotes_and_flags() {
        let strict = run(CitationPolicy::Strict, MIXED);
        assert_eq!(strict.outcome, Outcome::Quoted);
        assert!(strict.flagged_for_review);
        assert!(strict.text.contains(
            "\"Up to 5 unused days may be carried over; they must be taken by 31 March.\" [1]"
        ));
        let clean = run(
            CitationPolicy::Strict,
            "According to [1], up to 5 unused days may be carried over.",
        );
        assert_eq!(clean.outcome, Outcome::Answered);
    }

    #[test]
    fn declining_is_not_a_claim() {
        let declined = run(CitationPolicy::Strict, NOT_FOUND_ANSWER);
        assert_eq!(declined.outcome, Outcome::Declined);
        assert_eq!(declined.text, NOT_FOUND_ANSWER);
    }

    #[test]
    fn citations_are_placed_before_the_stop() {
        assert_eq!(with_citation("It is 28 days [3].", 1), "It is 28 days [1].");
        assert_eq!(with_citation("It is 28 days.", 2), "It is 28 days [2].");
        assert_eq!(
            with_citation("According to [2], it is 28 days [3].", 1),
            "According to [1], it is 28 days."
        );
    }
}
