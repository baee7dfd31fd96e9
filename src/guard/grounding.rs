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
use super::text::{analyse, map_citation_markers, split_sentences, unit, Word, WordKind};

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
    // Grounded sentences that do not answer what was asked (a fact about
    // another bonus, another release, nobody named for "who") are not an answer.
    let off_question = off_question(verifier, question, draft, verification);
    if let Some(why) = &off_question {
        if settings.policy != CitationPolicy::Annotate {
            let mut grounded = fallback(
                settings,
                verifier,
                question,
                sources,
                settings.policy == CitationPolicy::Strict,
            );
            grounded
                .notices
                .insert(0, format!("the generated answer {why}"));
            return grounded;
        }
    }
    match settings.policy {
        CitationPolicy::Annotate => {
            let text = annotate(draft, verification);
            let mut notices = unsupported_notice(ungrounded, "marked");
            notices.extend(off_question.map(|why| format!("the answer {why}")));
            Grounded {
                text,
                outcome: if ungrounded == 0 && notices.is_empty() {
                    Outcome::Answered
                } else {
                    Outcome::Annotated
                },
                flagged_for_review: false,
                notices,
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

/// Least share of the question's words a grounded sentence of the answer
/// must cover, by meaning, for the answer to be about the question.
const MIN_ANSWER_RELEVANCE: f32 = 0.2;

/// Why the grounded sentences of `draft` do not answer `question`, if they do not:
/// - none of them is about it (covers a fifth of its words);
/// - it asks for a figure, a date or a person and none of them gives one
///   that the question does not already hold;
/// - it names a versioned thing ("Insight 4.2") and they speak of another
///   version of it ("Insight 4.3").
fn off_question(
    verifier: &CitationVerifier,
    question: &str,
    draft: &str,
    verification: &Verification,
) -> Option<String> {
    let claims: Vec<&str> = verification
        .sentences
        .iter()
        .filter(|sentence| sentence.verdict != Verdict::NoClaim && sentence.is_grounded())
        .map(|sentence| &draft[sentence.start..sentence.end])
        .collect();
    if claims.is_empty() {
        return None;
    }
    let relevance = verifier.relevance(question, &claims);
    if relevance.iter().all(|&share| share < MIN_ANSWER_RELEVANCE) {
        return Some("is not about the question".into());
    }
    let asked = analyse(question);
    let analysed: Vec<Vec<Word>> = claims.iter().map(|claim| analyse(claim)).collect();
    if let Some(kind) = AnswerKind::asked_by(question) {
        let new_value = |word: &Word| {
            !asked.iter().any(|own| {
                own.stem == word.stem && own.number == word.number && own.kind == word.kind
            })
        };
        let given = analysed.iter().any(|words| {
            let fresh: Vec<Word> = words.iter().filter(|w| new_value(w)).cloned().collect();
            kind.found_in(&fresh)
        });
        if !given {
            return Some(format!(
                "does not give the {} the question asks for",
                kind.noun()
            ));
        }
    }
    for name in identifiers_in(question) {
        let before = |words: &[Word], at: usize| at.checked_sub(1).map(|b| words[b].stem.clone());
        let Some(label) = asked
            .iter()
            .position(|word| word.range == name.range)
            .and_then(|at| before(&asked, at))
        else {
            continue;
        };
        for words in &analysed {
            for (at, word) in words.iter().enumerate() {
                if word.number.is_some()
                    && word.number != name.number
                    && before(words, at).as_deref() == Some(label.as_str())
                {
                    return Some(format!(
                        "speaks of {} {}, the question asks about {} {}",
                        words[at - 1].lower,
                        word.lower,
                        label,
                        name.lower
                    ));
                }
            }
        }
    }
    None
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

/// "1. A request …" → "A request …": a list item's number is not part of a quote.
fn without_enumerator(sentence: &str) -> &str {
    let digits = sentence.bytes().take_while(u8::is_ascii_digit).count();
    match sentence.as_bytes().get(digits..digits + 2) {
        Some([b'.' | b')', b' ']) if digits > 0 && digits <= 2 => {
            sentence[digits + 2..].trim_start()
        }
        _ => sentence,
    }
}

/// What a question asks for, when its wording says: a figure, a date or a person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AnswerKind {
    Figure,
    Date,
    Person,
}

impl AnswerKind {
    pub(crate) fn asked_by(question: &str) -> Option<Self> {
        let lower = question.to_lowercase();
        let starts = |phrases: &[&str]| phrases.iter().any(|phrase| lower.contains(phrase));
        if starts(&[
            "how much",
            "how many",
            "how long",
            "how often",
            "how far",
            "what percentage",
            "what percent",
            "what is the maximum",
            "what is the minimum",
        ]) {
            Some(Self::Figure)
        } else if lower.starts_with("when ") || starts(&["what date", "which date", "by when"]) {
            Some(Self::Date)
        } else if lower.starts_with("who ") || starts(&[" who "]) {
            Some(Self::Person)
        } else {
            None
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Figure => "figure",
            Self::Date => "date",
            Self::Person => "person",
        }
    }

    fn found_in(self, words: &[Word]) -> bool {
        words.iter().any(|word| match self {
            Self::Figure => {
                word.number.is_some() || word.quantity.is_some() || unit(&word.lower).is_some()
            }
            Self::Date => word.is_date_word || word.number.is_some(),
            Self::Person => word.is_name,
        })
    }
}

/// Numbers the question writes as part of a name ("Insight 4.4", "Gateway 3"):
/// the asker's own figures ("I have 7 days left") are not among them.
fn identifiers_in(question: &str) -> Vec<Word> {
    let words = analyse(question);
    words
        .iter()
        .enumerate()
        .filter(|(at, word)| {
            word.number.is_some()
                && word.kind == WordKind::Content
                && at
                    .checked_sub(1)
                    .is_some_and(|before| words[before].is_name && words[before].number.is_none())
        })
        .map(|(_, word)| word.clone())
        .collect()
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
            let plain = without_enumerator(sentence.trim_start_matches(['-', '*', '#', '>', ' ']));
            if plain.len() >= 20 && !plain.starts_with('|') {
                candidates.push((index, plain));
            }
        }
    }
    let texts: Vec<&str> = candidates.iter().map(|(_, text)| *text).collect();
    let wanted = AnswerKind::asked_by(question);
    let identifiers = identifiers_in(question);
    let mut scored: Vec<(f32, usize, String)> = verifier
        .relevance(question, &texts)
        .into_iter()
        .zip(&candidates)
        .filter(|(relevance, _)| *relevance >= settings.quote_min_relevance)
        // A quote answers the question only if it holds what was asked for (a
        // figure for "how many", a date for "when") and names what the
        // question names ("Insight 4.4" is not "Insight 4.3").
        .filter(|(_, (_, text))| {
            let words = analyse(text);
            wanted.is_none_or(|kind| kind.found_in(&words))
                && identifiers.iter().all(|name| {
                    words
                        .iter()
                        .any(|word| word.stem == name.stem && word.number == name.number)
                })
        })
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
        let question = "How many unused leave days can be carried over?";
        answer_to(question, LEAVE, policy, draft)
    }

    fn answer_to(question: &str, source: &str, policy: CitationPolicy, draft: &str) -> Grounded {
        let verifier = CitationVerifier::new(VerifierSettings::default(), None);
        let sources = [SourceText::untitled(source)];
        let verification = verifier.verify_reply(Some(question), draft, &sources);
        let settings = GroundingSettings {
            policy,
            ..GroundingSettings::default()
        };
        apply_policy(
            &settings,
            &verifier,
            question,
            draft,
            &verification,
            &sources,
        )
    }

    const RELEASES: &str = "Insight 4.3 was released to all workspaces on 20 May 2025. \
        Insight 4.2 was released to EU workspaces on 11 February 2025.";

    #[test]
    fn grounded_sentences_that_do_not_answer_the_question_are_not_shown() {
        let strict = CitationPolicy::Strict;
        for (question, source, draft, why) in [
            (
                "Do I get paid time off when I move house?",
                LEAVE,
                "According to [1], up to 5 unused days may be carried over.",
                "is not about the question",
            ),
            (
                "Who decides whether unused days can be carried over?",
                LEAVE,
                "According to [1], up to 5 unused days may be carried over.",
                "does not give the person",
            ),
            (
                "When was Insight 4.2 released?",
                RELEASES,
                "According to [1], Insight 4.3 was released to all workspaces on 20 May 2025.",
                "speaks of insight 4.3",
            ),
            (
                "How many days of paid annual leave does a full-time employee get?",
                LEAVE,
                "According to [1], the answer is 5 days.",
                "not supported",
            ),
        ] {
            let shown = answer_to(question, source, strict, draft);
            assert_ne!(shown.outcome, Outcome::Answered, "{question}: {shown:?}");
            assert!(shown.flagged_for_review, "{question}: {shown:?}");
            assert!(
                shown.notices.iter().any(|notice| notice.contains(why)),
                "{question}: {:?}",
                shown.notices
            );
        }
        // A fact about another bonus, moved onto the question's subject.
        let verifier = CitationVerifier::new(VerifierSettings::default(), None);
        let bonus = [SourceText::untitled(
            "Eligible employees have a target bonus of 10% of annual base salary.",
        )];
        let moved = verifier.verify_reply(
            Some("How much is the referral bonus if I recommend someone?"),
            "According to [1], the referral bonus is 10% of annual base salary.",
            &bonus,
        );
        assert!(
            moved.sentences[0]
                .reasons
                .iter()
                .any(|r| r.contains("\"target bonus\"")),
            "{moved:?}"
        );
        // The asker's own words handed back, and a question's phrase whose
        // head the source lacks.
        for (question, source, draft, why) in [
            (
                "Someone called and asked me to read out my code. Is that normal?",
                "Nobody from the Service Desk needs your code.",
                "According to [1], someone from the Service Desk called and asked me for my code.",
                "tells of the asker",
            ),
            (
                "Who is the customer success manager for Isarwerk?",
                "Isarwerk data owner: VP Customer Success (Sabine Krüger).",
                "According to [1], the customer success manager for Isarwerk is Sabine Krüger.",
                "\"customer success manager\"",
            ),
        ] {
            let checked =
                verifier.verify_reply(Some(question), draft, &[SourceText::untitled(source)]);
            assert!(
                checked.sentences[0].reasons.iter().any(|r| r.contains(why)),
                "{question}: {checked:?}"
            );
        }
        // The reader the document addresses, echoed as "my" or "I", and a
        // question's phrase in other words when no person is asked for.
        for (question, source, draft) in [
            (
                "What's my budget for home office equipment?",
                "Each employee has a one-off home office budget of £430.",
                "According to [1], my one-off budget for home office equipment is £430.",
            ),
            (
                "What does the API return when I exceed the rate limit?",
                "When a limit is exceeded the API returns HTTP 429 Too Many Requests.",
                "According to [1], when I exceed the rate limit, the API returns HTTP 429 Too Many Requests.",
            ),
            (
                "Which address do I forward a suspicious email to?",
                "Forward the message as an attachment to phishing@northwind-analytics.example.",
                "According to [1], forward a suspicious email as an attachment to phishing@northwind-analytics.example.",
            ),
            (
                "Who is the billing contact at Brauhaus Logistik?",
                "# Customer Account Record: Brauhaus Logistik AG\n\nChanges need a call-back to the registered billing contact (Monika Huber).",
                "According to [1], the billing contact at Brauhaus Logistik is Monika Huber.",
            ),
        ] {
            let checked = verifier.verify_reply(Some(question), draft, &[SourceText::untitled(source)]);
            assert_eq!(checked.sentences[0].verdict, Verdict::Supported, "{question}: {checked:?}");
        }
        let answered = answer_to(
            "When was Insight 4.2 released?",
            RELEASES,
            strict,
            "According to [1], Insight 4.2 was released to EU workspaces on 11 February 2025.",
        );
        assert_eq!(answered.outcome, Outcome::Answered, "{answered:?}");
    }

    #[test]
    fn quotes_must_hold_what_was_asked() {
        // A quote about release 4.3 does not answer a question about 4.4, and
        // a sentence without a figure does not answer "how much".
        let settings = GroundingSettings::default();
        let verifier = CitationVerifier::new(VerifierSettings::default(), None);
        let releases = [SourceText::untitled(RELEASES)];
        assert!(relevant_sentences(
            &settings,
            &verifier,
            "When will Insight 4.4 be released?",
            &releases
        )
        .is_empty());
        assert_eq!(
            relevant_sentences(
                &settings,
                &verifier,
                "When was Insight 4.2 released?",
                &releases
            )
            .len(),
            1
        );
        let allowance = [SourceText::untitled(
            "On-call engineers receive an on-call allowance per the on-call agreement.",
        )];
        let question = "How much is the on-call allowance for engineers?";
        assert!(relevant_sentences(&settings, &verifier, question, &allowance).is_empty());
        assert_eq!(
            without_enumerator("1. A request is never accepted."),
            "A request is never accepted."
        );
        assert_eq!(
            without_enumerator("2025 was a good year."),
            "2025 was a good year."
        );
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
