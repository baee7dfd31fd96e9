//! Citation verification: is each sentence of an answer backed by the passage
//! it cites?
//!
//! Support is judged by content, not by the marker's presence. Each clause of
//! a sentence ("…; …", "…, while …") must be backed by one source sentence
//! (framed by its document title, section heading, list lead-in or table
//! header) that covers it and passes the hard checks a small model's
//! mistakes trip over:
//! - every number, name and date word of the sentence appears in the window;
//! - no negation or antonym flips the meaning ("must not", "optional");
//! - the sentence's content words are covered by the window, exactly (same
//!   stem) or by meaning (static word-vector similarity, see
//!   `index::words`), to at least a calibrated share.
//!
//! Stages are plain functions over analysed words, so a local entailment model
//! can be added later as one more check on the chosen window.

use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::grounding::AnswerKind;
use super::text::{
    analyse, citation_marker_len, citation_numbers, split_sentences, unit, Word, WordKind,
    ANTONYMS, MONTHS,
};
use crate::index::words::{dot, WordVectors};

/// Thresholds of the verifier, calibrated on `knowledge/eval/verification-a.jsonl`
/// (see `docs/grounding.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierSettings {
    /// Share of the sentence's content words the window must cover.
    pub min_coverage: f32,
    /// Word similarity below which a word counts as not covered at all.
    pub soft_floor: f32,
    /// Word similarity at and above which a word counts as fully covered.
    pub soft_full: f32,
    /// Key words a clause may take from a source sentence other than the one
    /// that supports it before it counts as stitching facts together.
    pub max_borrowed_words: usize,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self {
            min_coverage: 0.55,
            soft_floor: 0.25,
            soft_full: 0.65,
            max_borrowed_words: 2,
        }
    }
}

/// What the verifier concluded about one sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A cited source supports it.
    Supported,
    /// No source supports it.
    Unsupported,
    /// It cites nothing. `support` says whether some source would back it.
    Uncited,
    /// The cited source does not support it but another one does.
    WrongCitation,
    /// Not a factual claim (a heading, "Here is what I found:", a refusal).
    NoClaim,
}

/// The passage that best supports a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Support {
    /// Index of the source (0-based; `[n]` markers are `index + 1`).
    pub source: usize,
    /// Byte range in the source's text.
    pub start: usize,
    pub end: usize,
    /// Share of the sentence's content covered by the span (0..=1).
    pub score: f32,
}

/// The verdict on one sentence of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentenceCheck {
    /// Byte range in the answer.
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// `[n]` markers in the sentence, as written.
    pub citations: Vec<usize>,
    pub verdict: Verdict,
    /// Coverage of the best span considered (0 when none).
    pub score: f32,
    /// The best span that passes every check, if any.
    pub support: Option<Support>,
    /// Why it is not supported: "number 30 not in the source", ...
    pub reasons: Vec<String>,
}

impl SentenceCheck {
    /// A factual sentence that some source backs, whatever its marker says.
    pub fn is_grounded(&self) -> bool {
        match self.verdict {
            Verdict::Supported | Verdict::WrongCitation | Verdict::NoClaim => true,
            Verdict::Uncited => self.support.is_some(),
            Verdict::Unsupported => false,
        }
    }
}

/// The verdicts on a whole answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub sentences: Vec<SentenceCheck>,
}

impl Verification {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.sentences
            .iter()
            .filter(|sentence| sentence.verdict == verdict)
            .count()
    }

    /// Sentences that make a claim.
    pub fn claims(&self) -> usize {
        self.sentences.len() - self.count(Verdict::NoClaim)
    }

    /// Claims no source backs.
    pub fn ungrounded(&self) -> usize {
        self.sentences
            .iter()
            .filter(|sentence| !sentence.is_grounded())
            .count()
    }

    /// Every claim is backed by a source.
    pub fn all_grounded(&self) -> bool {
        self.ungrounded() == 0
    }
}

/// Result of checking one claim against one passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupportCheck {
    pub supported: bool,
    pub score: f32,
    /// Best span (byte range in the passage) that passes the checks.
    pub span: Option<Range<usize>>,
    pub reasons: Vec<String>,
}

/// A passage to check against: its document title frames every sentence.
#[derive(Debug, Clone, Copy)]
pub struct SourceText<'a> {
    pub title: &'a str,
    pub text: &'a str,
    /// The markdown headings above the passage in its document, outermost
    /// first ("## 3. Birthing parent", "### Northwind enhancement"): a chunk
    /// cut below its headings is still read under them.
    pub section: &'a [String],
}

impl<'a> SourceText<'a> {
    pub fn new(title: &'a str, text: &'a str) -> Self {
        Self {
            title,
            text,
            section: &[],
        }
    }

    /// A passage without a title.
    pub fn untitled(text: &'a str) -> Self {
        Self::new("", text)
    }

    /// The same passage read under `section`'s headings.
    pub fn under(self, section: &'a [String]) -> Self {
        Self { section, ..self }
    }
}

/// Checks answers against their sources. Cheap to clone.
#[derive(Clone)]
pub struct CitationVerifier {
    settings: VerifierSettings,
    vectors: Option<Arc<WordVectors>>,
}

/// A source split into sentences with analysed words.
struct PreparedSource {
    sentences: Vec<PreparedSentence>,
    /// What a clause may be checked against: every sentence, and each pair of
    /// consecutive sentences of one paragraph or list item ("Complete the
    /// training within 5 days. Access is not granted until it is complete.").
    units: Vec<PreparedSentence>,
}

struct PreparedSentence {
    range: Range<usize>,
    words: Vec<Word>,
    /// Words that frame the sentence: the section heading, the line that
    /// introduces a list ("… as follows:"), a table's header row.
    context: Vec<Rc<[Word]>>,
    /// A list item under a negated lead-in ("You must not:").
    lead_in_negated: bool,
    /// Similarity-cache ids of `all_words()`, in the same order.
    ids: Vec<usize>,
    /// Interned stems of `all_words()`, in the same order.
    stem_ids: Vec<usize>,
    /// Indices of the source sentences this unit is made of.
    members: Range<usize>,
    /// Hyphenated names written as code (`` `insight-api` ``).
    code_names: Rc<[Hyphenated]>,
}

impl PreparedSentence {
    fn context_words(&self) -> impl Iterator<Item = &Word> {
        self.context.iter().flat_map(|part| part.iter())
    }

    fn all_words(&self) -> impl Iterator<Item = &Word> {
        self.words
            .iter()
            .chain(self.context.iter().flat_map(|part| part.iter()))
    }
}

/// Best coverage of one claim by one source.
struct SourceMatch {
    /// Best span passing every check: (byte range, coverage).
    passing: Option<(Range<usize>, f32)>,
    /// Highest coverage of any span, and what failed there.
    best_score: f32,
    best_reasons: Vec<String>,
}

impl SourceMatch {
    /// Why the source does not support the claim: the checks that failed on
    /// the best-covering span, or too little coverage.
    fn failure(self) -> (f32, Vec<String>) {
        match self.passing {
            Some((_, score)) if score >= self.best_score => (score, vec![low_coverage(score)]),
            _ => (self.best_score, self.best_reasons),
        }
    }
}

impl CitationVerifier {
    /// `vectors` enables matching by meaning; without it only stems match.
    pub fn new(settings: VerifierSettings, vectors: Option<Arc<WordVectors>>) -> Self {
        Self { settings, vectors }
    }

    pub fn settings(&self) -> &VerifierSettings {
        &self.settings
    }

    /// Checks every sentence of `answer` against `sources` (`[n]` = `sources[n-1]`).
    pub fn verify(&self, answer: &str, sources: &[SourceText]) -> Verification {
        self.verify_reply(None, answer, sources)
    }

    /// Checks `answer` as the reply to `question`: a sentence that leans on
    /// the question for what it is about ("The answer is 30 days \[1\].") is
    /// checked with the question's words added, so that "30 days" must be
    /// what the source says about the question's subject, not any 30 days.
    pub fn verify_reply(
        &self,
        question: Option<&str>,
        answer: &str,
        sources: &[SourceText],
    ) -> Verification {
        let topic = question.map(QuestionTopic::of).unwrap_or_default();
        let mut similarity = SimilarityCache::new(self.vectors.as_deref());
        let prepared: Vec<PreparedSource> = sources
            .iter()
            .map(|source| prepare(source, &mut similarity))
            .collect();
        let sentences = split_sentences(answer)
            .into_iter()
            .map(|range| self.check_sentence(answer, range, &topic, &prepared, &mut similarity))
            .collect();
        Verification { sentences }
    }

    /// Checks one claim against one passage (markers in the claim are ignored).
    pub fn check(&self, claim: &str, passage: SourceText) -> SupportCheck {
        let mut similarity = SimilarityCache::new(self.vectors.as_deref());
        let prepared = prepare(&passage, &mut similarity);
        let words = claim_words(claim);
        if !words.iter().any(|word| word.kind == WordKind::Content) {
            return SupportCheck {
                supported: false,
                score: 0.0,
                span: None,
                reasons: vec!["no factual content".into()],
            };
        }
        let found = self.match_source(
            &words,
            &QuestionTopic::default(),
            &prepared,
            &mut similarity,
        );
        match found.passing {
            Some((span, score)) if score >= self.settings.min_coverage => SupportCheck {
                supported: true,
                score,
                span: Some(span),
                reasons: Vec::new(),
            },
            Some((span, score)) => SupportCheck {
                supported: false,
                score,
                span: Some(span),
                reasons: vec![low_coverage(score)],
            },
            None => {
                let (score, reasons) = found.failure();
                SupportCheck {
                    supported: false,
                    score,
                    span: None,
                    reasons,
                }
            }
        }
    }

    /// How much of a question's content each of `sentences` covers (0..=1):
    /// ranks source sentences for the quote fallback.
    pub fn relevance(&self, question: &str, sentences: &[&str]) -> Vec<f32> {
        const QUESTION_WORDS: &[&str] = &["many", "long", "often", "need", "know", "tell"];
        let words: Vec<Word> = analyse(question)
            .into_iter()
            .filter(|word| {
                word.kind == WordKind::Content && !QUESTION_WORDS.contains(&word.lower.as_str())
            })
            .collect();
        if words.is_empty() {
            return vec![0.0; sentences.len()];
        }
        let mut similarity = SimilarityCache::new(self.vectors.as_deref());
        sentences
            .iter()
            .map(|sentence| {
                let target = PreparedSentence {
                    range: 0..sentence.len(),
                    words: analyse(sentence),
                    context: Vec::new(),
                    lead_in_negated: false,
                    ids: Vec::new(),
                    stem_ids: Vec::new(),
                    members: 0..1,
                    code_names: Rc::from([]),
                };
                let target = with_ids(target, &mut similarity);
                words
                    .iter()
                    .map(|word| self.word_coverage(word, &target, &mut similarity))
                    .sum::<f32>()
                    / words.len() as f32
            })
            .collect()
    }

    fn check_sentence(
        &self,
        answer: &str,
        range: Range<usize>,
        topic: &QuestionTopic,
        sources: &[PreparedSource],
        similarity: &mut SimilarityCache,
    ) -> SentenceCheck {
        let text = &answer[range.clone()];
        let citations = citation_numbers(text);
        let mut words = claim_words(text);
        if leans_on_question(&words) {
            words.extend(topic.words.iter().cloned());
        }
        let mut check = SentenceCheck {
            start: range.start,
            end: range.end,
            text: text.to_string(),
            citations: citations.clone(),
            verdict: Verdict::NoClaim,
            score: 0.0,
            support: None,
            reasons: Vec::new(),
        };
        if is_refusal(text) || !words.iter().any(|word| word.kind == WordKind::Content) {
            return check;
        }
        // "Someone from the Service Desk called and asked me …": the asker's
        // story handed back as a fact. Documents address their reader ("your
        // budget", "if you exceed"), which a model may echo as "my budget" or
        // "when I exceed"; they never tell what happened to "me".
        if let Some(pronoun) = tells_of_the_asker(text) {
            check.verdict = Verdict::Unsupported;
            check.reasons = vec![format!(
                "tells of the asker (\"{pronoun}\"), which no source does"
            )];
            return check;
        }

        let mut best_cited: Option<Support> = None;
        let mut best_other: Option<Support> = None;
        let mut closest = (0f32, Vec::new());
        for (index, source) in sources.iter().enumerate() {
            let found = self.match_source(&words, topic, source, similarity);
            let cited = citations.contains(&(index + 1));
            if let Some((span, score)) = found.passing.clone() {
                if score >= self.settings.min_coverage {
                    let support = Support {
                        source: index,
                        start: span.start,
                        end: span.end,
                        score,
                    };
                    let slot = if cited {
                        &mut best_cited
                    } else {
                        &mut best_other
                    };
                    if slot.as_ref().is_none_or(|best| score > best.score) {
                        *slot = Some(support);
                    }
                    continue;
                }
            }
            // Not supported here: remember why, preferring what the cited sources say.
            let (score, reasons) = found.failure();
            let counts_more = cited || citations.is_empty() || closest.1.is_empty();
            if counts_more && score >= closest.0 {
                closest = (score, reasons);
            }
        }

        // A source that names the advised action and does not advise it
        // ("shutting down destroys evidence") outweighs another that only
        // comes near it in meaning ("laptops are remotely locked").
        let rejected = advised_verb(&words).and_then(|verb| {
            sources.iter().enumerate().find_map(|(index, source)| {
                source.sentences.iter().find_map(|sentence| {
                    advice_not_given(verb, &sentence.words)
                        .map(|reason| format!("source [{}]: {reason}", index + 1))
                })
            })
        });
        if let Some(reason) = rejected {
            best_cited = None;
            best_other = None;
            closest = (closest.0, vec![reason]);
        }

        let cited_any = !citations.is_empty();
        let invalid: Vec<usize> = citations
            .iter()
            .copied()
            .filter(|number| *number == 0 || *number > sources.len())
            .collect();
        (check.verdict, check.support) = match (best_cited, best_other) {
            (Some(support), _) => (Verdict::Supported, Some(support)),
            (None, Some(support)) if cited_any => (Verdict::WrongCitation, Some(support)),
            (None, other) if !cited_any => (Verdict::Uncited, other),
            (None, _) => (Verdict::Unsupported, None),
        };
        check.score = check
            .support
            .as_ref()
            .map_or(closest.0, |support| support.score);
        if check.support.is_none() {
            check.reasons = closest.1;
        }
        if !invalid.is_empty() {
            check.reasons.push(format!(
                "cites {} but there {} {} source(s)",
                invalid
                    .iter()
                    .map(|n| format!("[{n}]"))
                    .collect::<Vec<_>>()
                    .join(" "),
                if sources.len() == 1 { "is" } else { "are" },
                sources.len()
            ));
        }
        check
    }

    /// Finds the source sentences that best cover the claim. Each clause of
    /// the claim ("…; …", "…, and …", "…, while …") must be covered by one
    /// source sentence that passes the hard checks, so a number cannot be
    /// borrowed from a neighbouring sentence about something else.
    fn match_source(
        &self,
        claim: &[Word],
        topic: &QuestionTopic,
        source: &PreparedSource,
        similarity: &mut SimilarityCache,
    ) -> SourceMatch {
        let mut found = SourceMatch {
            passing: None,
            best_score: 0.0,
            best_reasons: vec!["the source has no text".into()],
        };
        if source.sentences.is_empty() {
            return found;
        }
        let mut span: Option<Range<usize>> = None;
        let mut weakest = 1f32;
        let mut failed = false;
        for clause in clauses(claim) {
            let content: Vec<&Word> = clause
                .iter()
                .filter(|word| word.kind == WordKind::Content)
                .collect();
            if content.is_empty() {
                continue;
            }
            let weights: Vec<f32> = content.iter().map(|word| weight(word)).collect();
            let total_weight: f32 = weights.iter().sum();
            let antonyms = claim_antonyms(clause);
            let mut best_pass: Option<(usize, f32)> = None;
            let mut best_fail: Option<(f32, Vec<String>)> = None;
            // Best-covering sentences first; the first one to pass the hard
            // checks is the support, and only failures above it matter.
            // Coverage per sentence and word; a pair of sentences covers a
            // word as well as its better member does.
            let probes: Vec<Probe> = content
                .iter()
                .map(|word| Probe::new(word, similarity))
                .collect();
            let per_sentence: Vec<Vec<f32>> = source
                .sentences
                .iter()
                .map(|sentence| {
                    probes
                        .iter()
                        .map(|probe| self.coverage(probe, sentence, similarity))
                        .collect()
                })
                .collect();
            let mut scored: Vec<(usize, f32)> = source
                .units
                .iter()
                .enumerate()
                .map(|(index, unit)| {
                    let covered: f32 = weights
                        .iter()
                        .enumerate()
                        .map(|(w, weight)| {
                            let best = unit
                                .members
                                .clone()
                                .map(|member| per_sentence[member][w])
                                .fold(0f32, f32::max);
                            weight * best
                        })
                        .sum();
                    (index, covered / total_weight.max(1e-6))
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (index, score) in scored {
                // A pair of sentences is checked like one: negations count over
                // both, and their scope is read word by word (`polarity_checks`).
                let unit = &source.units[index];
                let mut reasons = hard_checks(clause, &antonyms, unit);
                // A word of the question put before a head word the source
                // qualifies differently: "the referral bonus is 10%" against
                // "a target bonus of 10%" answers a question about referral
                // bonuses with a fact about another bonus.
                if reasons.is_empty() {
                    // The sentence, its heading and its lead-in count here, not
                    // the document's title: "Business Travel Policy" does not
                    // make "business class" the source's "1st class".
                    let title = unit.context.first().map_or(0, |title| title.len());
                    let own = unit.words.len();
                    let mut coverage = |word: &Word| {
                        let probe = Probe::new(word, similarity);
                        let mut best = self.cover_in(
                            &probe,
                            &unit.words,
                            &unit.ids[..own],
                            &unit.stem_ids[..own],
                            similarity,
                        );
                        let mut offset = own + title;
                        for part in unit.context.iter().skip(1) {
                            let end = offset + part.len();
                            best = best.max(self.cover_in(
                                &probe,
                                part,
                                &unit.ids[offset..end],
                                &unit.stem_ids[offset..end],
                                similarity,
                            ));
                            offset = end;
                        }
                        best
                    };
                    reasons.extend(requalified(clause, &topic.words, unit, &mut coverage));
                    if reasons.is_empty() && topic.asks_who {
                        reasons.extend(echoed_head_missing(clause, &topic.words, &mut coverage));
                    }
                }
                if reasons.is_empty() {
                    best_pass = Some((index, score));
                    break;
                }
                if best_fail.is_none() {
                    best_fail = Some((score, reasons));
                }
            }
            // Sentences the claim draws words from (exact stems missing from the
            // chosen one) must not contradict it either: "extra days can be
            // carried over" pulls in "Purchased days cannot be carried over."
            if let Some((chosen, score)) = best_pass {
                let chosen_unit = &source.units[chosen];
                let uncovered: Vec<&Word> = content
                    .iter()
                    .copied()
                    .filter(|word| weight(word) == 1.0 && word.number.is_none())
                    .filter(|word| self.word_coverage(word, chosen_unit, similarity) == 0.0)
                    .collect();
                let only_in = |other: usize| -> Vec<&Word> {
                    uncovered
                        .iter()
                        .copied()
                        .filter(|word| {
                            source.sentences[other]
                                .words
                                .iter()
                                .any(|w| w.stem == word.stem)
                        })
                        .collect()
                };
                let pulled: Vec<usize> = (0..source.sentences.len())
                    .filter(|other| !chosen_unit.members.contains(other))
                    .filter(|&other| !only_in(other).is_empty())
                    .collect();
                for other in pulled {
                    // Two or more key words found only in another sentence: the
                    // clause stitches facts from different places together
                    // ("a doctor's certificate on the first day of absence").
                    let borrowed: Vec<&str> = only_in(other)
                        .into_iter()
                        .filter(|word| !word.is_name)
                        .map(|word| word.lower.as_str())
                        .collect();
                    let mut reasons = polarity_checks(clause, &antonyms, &source.sentences[other]);
                    if borrowed.len() >= self.settings.max_borrowed_words {
                        reasons.push(format!(
                            "joins \"{}\" from another part of the source",
                            borrowed.join(" ")
                        ));
                    }
                    if !reasons.is_empty() {
                        best_pass = None;
                        if best_fail.as_ref().is_none_or(|(best, _)| score >= *best) {
                            best_fail = Some((score, reasons));
                        }
                        break;
                    }
                }
            }
            match (best_pass, best_fail) {
                (Some((index, score)), fail)
                    if score >= self.settings.min_coverage
                        || fail.as_ref().is_none_or(|(other, _)| score >= *other) =>
                {
                    let range = &source.units[index].range;
                    span = Some(match span {
                        Some(current) => current.start.min(range.start)..current.end.max(range.end),
                        None => range.clone(),
                    });
                    weakest = weakest.min(score);
                }
                (_, Some((score, reasons))) => {
                    failed = true;
                    weakest = weakest.min(score);
                    found.best_reasons = reasons;
                }
                (_, None) => failed = true,
            }
        }
        found.best_score = weakest;
        if !failed {
            if let Some(span) = span {
                found.passing = Some((span, weakest));
            }
        }
        found
    }

    /// 1 for the same stem or number, a graded share for a near meaning, else 0.
    fn word_coverage(
        &self,
        word: &Word,
        sentence: &PreparedSentence,
        similarity: &mut SimilarityCache,
    ) -> f32 {
        let probe = Probe::new(word, similarity);
        self.coverage(&probe, sentence, similarity)
    }

    /// `word_coverage` for a word whose cache ids are already looked up.
    fn coverage(
        &self,
        probe: &Probe,
        sentence: &PreparedSentence,
        similarity: &mut SimilarityCache,
    ) -> f32 {
        let word = probe.word;
        // Quantities compare across units ("1.5 hours" is "90 minutes"): the
        // number and its unit word are covered when the amount is there.
        let quantities = || {
            sentence
                .words
                .iter()
                .filter_map(|other| other.quantity.as_ref())
        };
        if let Some(quantity) = &word.quantity {
            if quantities().any(|other| other.same(quantity)) {
                return 1.0;
            }
        } else if probe.is_unit && quantities().next().is_some() {
            return 1.0;
        }
        let id = probe.id;
        let own = sentence.words.len();
        let mut best = self.cover_in(
            probe,
            &sentence.words,
            &sentence.ids[..own],
            &sentence.stem_ids[..own],
            similarity,
        );
        if best >= 1.0 {
            return 1.0;
        }
        // The frame (title, heading, list lead-in) says what the sentence is
        // about; a word found only there is half covered. Frames are shared
        // by many sentences, so each one is scored once per word.
        let mut offset = own;
        for part in &sentence.context {
            let key = (id, Rc::as_ptr(part) as *const Word as usize);
            let share = match similarity.frames.get(&key) {
                Some(&share) => share,
                None => {
                    let end = offset + part.len();
                    let share = self.cover_in(
                        probe,
                        part,
                        &sentence.ids[offset..end],
                        &sentence.stem_ids[offset..end],
                        similarity,
                    );
                    similarity.frames.insert(key, share);
                    share
                }
            };
            best = best.max(share * CONTEXT_CREDIT);
            offset += part.len();
        }
        best
    }

    /// How well `words` cover the probed word: 1 for the same stem (or
    /// "unpaid" for "not paid"), a graded share for a near meaning, else 0.
    fn cover_in(
        &self,
        probe: &Probe,
        words: &[Word],
        ids: &[usize],
        stem_ids: &[usize],
        similarity: &mut SimilarityCache,
    ) -> f32 {
        let word = probe.word;
        // Exact matches first: they end the search before any cosine is taken.
        for (other, &other_stem) in words.iter().zip(stem_ids) {
            if other.kind != WordKind::Negation
                && (other_stem == probe.stem_id
                    || negated_forms_match(word, other)
                    || negated_forms_match(other, word))
            {
                return 1.0;
            }
        }
        if !probe.soft {
            return 0.0;
        }
        let mut best = 0f32;
        for (other, &other_id) in words.iter().zip(ids) {
            if other.kind != WordKind::Content || other.number.is_some() {
                continue;
            }
            let cosine = similarity.cosine(probe.id, other_id);
            let share = (cosine - self.settings.soft_floor)
                / (self.settings.soft_full - self.settings.soft_floor).max(1e-6);
            best = best.max(share.clamp(0.0, 1.0));
        }
        best
    }
}

/// A claim word being looked for, with its cache ids.
struct Probe<'w> {
    word: &'w Word,
    id: usize,
    stem_id: usize,
    /// May be covered by meaning: numbers, names and dates must match
    /// exactly (hard checks), everything else may also match by meaning.
    soft: bool,
    /// A unit of time ("hours"): covered by any amount the sentence states.
    is_unit: bool,
}

impl<'w> Probe<'w> {
    fn new(word: &'w Word, similarity: &mut SimilarityCache) -> Self {
        Self {
            word,
            id: similarity.id(&word.lower),
            stem_id: similarity.stem_id(&word.stem),
            soft: word.number.is_none() && !word.is_name && !word.is_date_word,
            is_unit: unit(&word.lower).is_some(),
        }
    }
}

/// The clause repeats a phrase of the question ("the customer success manager
/// for Isarwerk is …") whose head word the source does not have: the source
/// speaks of something else ("VP Customer Success (Sabine Krüger)").
fn echoed_head_missing(
    clause: &[Word],
    topic: &[Word],
    coverage: &mut impl FnMut(&Word) -> f32,
) -> Option<String> {
    // Only words next to each other in the clause make a phrase: "manager
    // for Isarwerk" is two.
    let content: Vec<(usize, &Word)> = clause
        .iter()
        .enumerate()
        .filter(|(_, word)| word.kind == WordKind::Content && word.number.is_none())
        .collect();
    let asked = |first: (usize, &Word), second: (usize, &Word)| {
        second.0 == first.0 + 1
            && topic
                .windows(2)
                .any(|pair| pair[0].stem == first.1.stem && pair[1].stem == second.1.stem)
    };
    let mut at = 0;
    while at + 1 < content.len() {
        if !asked(content[at], content[at + 1]) {
            at += 1;
            continue;
        }
        let start = at;
        while at + 1 < content.len() && asked(content[at], content[at + 1]) {
            at += 1;
        }
        // A name ("Brauhaus Logistik") is the name check's to judge, title included.
        let head = content[at].1;
        if !head.is_name && weight(head) == 1.0 && coverage(head) < QUESTION_HEAD_COVER {
            let phrase: Vec<&str> = content[start..=at]
                .iter()
                .map(|(_, word)| word.lower.as_str())
                .collect();
            return Some(format!(
                "the source does not speak of the question's \"{}\"",
                phrase.join(" ")
            ));
        }
        at += 1;
    }
    None
}

/// Coverage the head of a question's phrase needs where the answer repeats
/// the phrase: what a word found only in a heading gets.
const QUESTION_HEAD_COVER: f32 = 0.5;

/// Below this coverage a qualifier taken from the question counts as absent
/// from the source (near synonyms such as "normal" / "standard" score above).
const ABSENT_QUALIFIER: f32 = 0.25;

/// `clause` says "<q> <head>" with `q` a word of the question that `unit` does
/// not have, while `unit` qualifies the same head with a word of its own:
/// the claim moved the source's fact onto the question's subject.
fn requalified(
    clause: &[Word],
    topic: &[Word],
    unit: &PreparedSentence,
    coverage: &mut impl FnMut(&Word) -> f32,
) -> Option<String> {
    for pair in clause.windows(2) {
        let (qualifier, head) = (&pair[0], &pair[1]);
        let plain =
            |word: &Word| word.kind == WordKind::Content && word.number.is_none() && !word.is_name;
        // A head is a noun-like word: not a figure ("takes 10") and not an
        // adverb ("report misconduct anonymously").
        if !plain(qualifier)
            || !plain(head)
            || head.lower.ends_with("ly")
            || !topic.iter().any(|asked| asked.stem == qualifier.stem)
        {
            continue;
        }
        let other = unit.words.windows(2).find(|source| {
            source[1].stem == head.stem
                && source[0].kind == WordKind::Content
                && source[0].stem != qualifier.stem
                // ("1st" is not the "one" of "one-way": figures by their spelling.)
                && !clause.iter().any(|word| {
                    word.lower == source[0].lower
                        || (source[0].number.is_none() && word.stem == source[0].stem)
                })
        });
        if let Some(other) = other {
            if coverage(qualifier) < ABSENT_QUALIFIER {
                return Some(format!(
                    "says \"{} {}\" where the source says \"{} {}\"",
                    qualifier.lower, head.lower, other[0].lower, other[1].lower
                ));
            }
        }
    }
    None
}

/// Coverage a word gets when only the sentence's frame contains it.
const CONTEXT_CREDIT: f32 = 0.5;

fn negated_forms_match(prefixed: &Word, plain: &Word) -> bool {
    plain.negated
        && ["un", "in", "im", "il", "non"]
            .iter()
            .any(|prefix| prefixed.stem.strip_prefix(prefix) == Some(plain.stem.as_str()))
}

/// Words that carry little on their own ("get", "need") count for less.
fn weight(word: &Word) -> f32 {
    if LIGHT_WORDS.binary_search(&word.lower.as_str()).is_ok() {
        0.4
    } else {
        1.0
    }
}

/// Common verbs and fillers a paraphrase adds or drops freely. Sorted.
const LIGHT_WORDS: &[&str] = &[
    "able",
    "allowed",
    "also",
    "always",
    "anyone",
    "anything",
    "apply",
    "applies",
    "back",
    "case",
    "come",
    "comes",
    "done",
    "everyone",
    "fine",
    "give",
    "given",
    "go",
    "goes",
    "going",
    "got",
    "happen",
    "happens",
    "keep",
    "kind",
    "know",
    "made",
    "make",
    "makes",
    "may",
    "need",
    "needed",
    "needs",
    "new",
    "off",
    "ok",
    "okay",
    "only",
    "people",
    "person",
    "plan",
    "put",
    "really",
    "required",
    "see",
    "set",
    "someone",
    "something",
    "take",
    "taken",
    "takes",
    "thing",
    "things",
    "time",
    "times",
    "use",
    "used",
    "want",
    "way",
    "well",
];

/// Splits a claim at strong clause boundaries: ";", ", and", ", but", ", while", …
fn clauses(words: &[Word]) -> Vec<&[Word]> {
    let mut parts = Vec::new();
    let mut start = 0;
    for index in 0..words.len() {
        if index > start && words[index].boundary_before {
            parts.push(&words[start..index]);
            start = index;
        }
    }
    parts.push(&words[start..]);
    parts
}

fn low_coverage(score: f32) -> String {
    format!(
        "the source covers only {:.0}% of what the sentence says",
        score * 100.0
    )
}

/// The checks no amount of word overlap can outvote. Numbers and dates must
/// be in the sentence itself; names may also come from its title and headings.
fn hard_checks(
    claim: &[Word],
    antonyms: &[(&str, &str)],
    sentence: &PreparedSentence,
) -> Vec<String> {
    let words = || sentence.words.iter();
    let names = || sentence.all_words();
    let mut reasons = Vec::new();
    for word in claim {
        if word.kind != WordKind::Content {
            continue;
        }
        if let Some(value) = word.number {
            // "one" is as often a pronoun as a count; it is covered softly.
            if word.lower == "one" {
                continue;
            }
            let same_quantity = |other: &Word| match (&word.quantity, &other.quantity) {
                (Some(a), Some(b)) => a.same(b),
                _ => false,
            };
            let same_currency = |other: &Word| match (word.currency, other.currency) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            // "every 2 years" is not "twice a year", though both say 2.
            let other_quantity = |other: &Word| match (&word.quantity, &other.quantity) {
                (Some(a), Some(b)) => !a.same(b),
                _ => false,
            };
            if !words().any(|other| {
                (other.number == Some(value) && same_currency(other) && !other_quantity(other))
                    || same_quantity(other)
            }) {
                reasons.push(format!("the number {} is not in the source", word.lower));
            }
        } else if word.is_name && !names().any(|other| names_match(word, other)) {
            reasons.push(format!("\"{}\" is not in the source", word.lower));
        } else if word.is_date_word
            && !words().any(|other| other.is_date_word && other.lower == word.lower)
        {
            reasons.push(format!("the date \"{}\" is not in the source", word.lower));
        }
    }
    if reasons.is_empty() {
        reasons.extend(dates_apart(claim, &sentence.words));
    }
    if reasons.is_empty() {
        reasons.extend(other_identifier(claim, sentence));
    }
    if reasons.is_empty() {
        reasons.extend(date_of_another_thing(claim, &sentence.words));
    }

    if !acronyms_resolved(claim, sentence, &mut reasons) {
        return reasons;
    }
    reasons.extend(polarity_checks(claim, antonyms, sentence));
    if reasons.is_empty() {
        reasons.extend(crossed_binding(claim, &sentence.words));
    }
    reasons
}

/// Hyphen-joined words without figures ("auth-service", "sign-in"):
/// services, products and codes are often named so.
#[derive(Clone)]
struct Hyphenated {
    /// Stems joined by hyphens, for comparing.
    stems: String,
    /// As written, lower-cased, for reasons.
    lower: String,
    /// Byte range of the whole compound.
    range: Range<usize>,
}

fn hyphenated<'w>(words: impl Iterator<Item = &'w Word>) -> Vec<Hyphenated> {
    let mut found = Vec::new();
    // The chain so far and whether it holds a figure.
    let mut chain: Option<(Vec<&Word>, bool)> = None;
    let mut close = |chain: Option<(Vec<&Word>, bool)>| {
        if let Some((parts, false)) = chain.filter(|(parts, _)| parts.len() > 1) {
            let join = |part: fn(&Word) -> &str| {
                parts
                    .iter()
                    .map(|word| part(word))
                    .collect::<Vec<_>>()
                    .join("-")
            };
            found.push(Hyphenated {
                stems: join(|word| word.stem.as_str()),
                lower: join(|word| word.lower.as_str()),
                range: parts[0].range.start..parts[parts.len() - 1].range.end,
            });
        }
    };
    for word in words {
        let joined = word.punct_before == '-'
            && chain
                .as_ref()
                .and_then(|(parts, _)| parts.last())
                .is_some_and(|last| word.range.start == last.range.end + 1);
        if !joined {
            close(chain.take());
        }
        let (parts, figure) = chain.get_or_insert_with(|| (Vec::new(), false));
        parts.push(word);
        *figure |= word.number.is_some();
        if word.punct_after != '-' {
            close(chain.take());
        }
    }
    close(chain);
    found
}

/// The hyphenated names a source sentence writes as code (`` `insight-api` ``).
fn code_names(text: &str, words: &[Word]) -> Vec<Hyphenated> {
    hyphenated(words.iter())
        .into_iter()
        .filter(|name| {
            text[..name.range.start].ends_with('`') && text[name.range.end..].starts_with('`')
        })
        .collect()
}

/// The claim names a hyphenated identifier ("auth-service") with a word the
/// source sentence lacks, while the sentence names a service or code of its
/// own (`` `insight-api` ``): the fact belongs to the other thing.
fn other_identifier(claim: &[Word], sentence: &PreparedSentence) -> Option<String> {
    if sentence.code_names.is_empty() {
        return None;
    }
    let claimed = hyphenated(claim.iter());
    let missing = claimed.iter().find(|id| {
        !sentence
            .code_names
            .iter()
            .any(|code| code.stems == id.stems)
            && id
                .stems
                .split('-')
                .any(|part| !sentence.all_words().any(|word| word.stem == part))
    })?;
    let other = sentence
        .code_names
        .iter()
        .find(|code| !claimed.iter().any(|id| id.stems == code.stems))?;
    Some(format!(
        "names \"{}\" where the source names \"{}\"",
        missing.lower, other.lower
    ))
}

/// The month a number is written with ("15 January", "October 1, 2021",
/// "January 2025"), as its first three letters.
fn month_of(words: &[Word], at: usize) -> Option<&str> {
    let is_month = |word: &Word| word.is_date_word && MONTHS.contains(&word.lower.as_str());
    let near = |index: Option<usize>, between: Option<usize>| {
        let word = words.get(index?)?;
        let between_ok = between.is_none_or(|b| words.get(b).is_some_and(|w| w.number.is_some()));
        (is_month(word) && between_ok).then(|| &word.lower[..3])
    };
    near(at.checked_sub(1), None)
        .or_else(|| near(Some(at + 1), None))
        .or_else(|| near(at.checked_sub(2), at.checked_sub(1)))
        .or_else(|| near(Some(at + 2), Some(at + 1)))
}

/// A day or year written with a month must be written with the same month in
/// the source: "15 February" is not "15 January … from February".
fn dates_apart(claim: &[Word], words: &[Word]) -> Option<String> {
    for (at, word) in claim.iter().enumerate() {
        let (Some(value), Some(month)) = (word.number, month_of(claim, at)) else {
            continue;
        };
        let together = words.iter().enumerate().any(|(index, other)| {
            other.number == Some(value) && month_of(words, index) == Some(month)
        });
        if !together {
            return Some(format!(
                "\"{}\" is not dated {} in the source",
                word.lower,
                claim
                    .iter()
                    .find(|w| w.is_date_word && w.lower.starts_with(month))
                    .map_or(month, |w| w.lower.as_str())
            ));
        }
    }
    None
}

/// The source dates a thing the claim does not mention ("the renewal meeting
/// on 12 June 2025"), and the claim gives that date to something else ("the
/// contract is up for renewal on 12 June 2025").
fn date_of_another_thing(claim: &[Word], words: &[Word]) -> Option<String> {
    for at in 1..words.len().saturating_sub(1) {
        if words[at].lower != "on" {
            continue;
        }
        let thing = &words[at - 1];
        let date = &words[at + 1];
        let (Some(day), Some(month)) = (date.number, month_of(words, at + 1)) else {
            continue;
        };
        // A thing, not an event: "followed on 3 June" says when, not what.
        if thing.kind != WordKind::Content
            || thing.number.is_some()
            || thing.is_name
            || thing.is_date_word
            || thing.lower.ends_with("ed")
            || weight(thing) < 1.0
        {
            continue;
        }
        let same_date = claim
            .iter()
            .enumerate()
            .any(|(index, word)| word.number == Some(day) && month_of(claim, index) == Some(month));
        if same_date && !claim.iter().any(|word| word.stem == thing.stem) {
            return Some(format!(
                "the source gives that date to the \"{}\"",
                thing.lower
            ));
        }
    }
    None
}

/// The verb a claim advises ("you should **shut** down", "you need to
/// **report**"), if it advises one.
fn advised_verb(claim: &[Word]) -> Option<&Word> {
    let at = claim
        .iter()
        .position(|word| matches!(word.lower.as_str(), "should" | "must" | "need" | "needs"))?;
    let mut next = at + 1;
    if claim.get(next).is_some_and(|word| word.lower == "to") {
        next += 1;
    }
    claim.get(next).filter(|verb| {
        verb.kind == WordKind::Content && verb.number.is_none() && !verb.lower.ends_with("ing")
    })
}

/// The claim advises `verb` ("you should shut down your laptop") where the
/// source only names it as an activity ("Keep the laptop powered on –
/// shutting down destroys evidence"): naming an action is not advising it.
fn advice_not_given(verb: &Word, words: &[Word]) -> Option<String> {
    let mut uses = words
        .iter()
        .filter(|other| other.stem == verb.stem)
        .peekable();
    let first = uses.peek().copied()?;
    uses.all(|other| other.lower.ends_with("ing") && other.lower != verb.lower)
        .then(|| {
            format!(
                "the source speaks of \"{}\", it does not advise it",
                first.lower
            )
        })
}

/// What a key word is, for finding its counterpart in a parallel segment.
#[derive(PartialEq)]
enum KeyKind {
    Name,
    Number,
    Date,
}

fn key_kind(word: &Word) -> Option<KeyKind> {
    if word.kind != WordKind::Content {
        None
    } else if word.number.is_some() {
        Some(KeyKind::Number)
    } else if word.is_date_word {
        Some(KeyKind::Date)
    } else if word.is_name {
        Some(KeyKind::Name)
    } else {
        None
    }
}

fn same_word(a: &Word, b: &Word) -> bool {
    match (a.number, b.number) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.stem == b.stem,
        _ => false,
    }
}

/// Facts bound in parallel segments of one source sentence ("Bavarian
/// holidays for staff in Munich, and English bank holidays for staff in
/// Leeds"; "every 15 minutes on Professional and every 5 minutes on
/// Enterprise"): a claim that pairs a key word `x` of one segment with a word
/// `y` found only in another, where that other segment holds its own
/// counterpart of `x` in the same slot (same neighbour on either side), has
/// crossed the bindings: "staff in Munich get English bank holidays".
fn crossed_binding(claim: &[Word], unit: &[Word]) -> Option<String> {
    let mut segment = Vec::with_capacity(unit.len());
    let mut current = 0usize;
    for (index, word) in unit.iter().enumerate() {
        if index > 0 && word.segment_before {
            current += 1;
        }
        segment.push(current);
    }
    let segments_of = |word: &Word| -> Vec<usize> {
        let mut found: Vec<usize> = unit
            .iter()
            .enumerate()
            .filter(|(_, other)| other.kind == WordKind::Content && same_word(word, other))
            .map(|(index, _)| segment[index])
            .collect();
        found.dedup();
        found
    };
    // The same slot: the same punctuation right before or after (not a table's
    // "|"), or the same two words there ("contracted to Munich" / "… to
    // Leeds"), or the same content word ending the segment ("12 hours;" /
    // "8 hours.").
    let same_side = |a: usize, b: usize, step: isize| -> bool {
        let (pa, pb) = if step < 0 {
            (unit[a].punct_before, unit[b].punct_before)
        } else {
            (unit[a].punct_after, unit[b].punct_after)
        };
        if pa != ' ' || pb != ' ' {
            return pa == pb && pa != '|';
        }
        let neighbour = |at: usize, distance: isize| -> Option<&Word> {
            let index = at.checked_add_signed(step * distance)?;
            let word = unit.get(index)?;
            // Stay inside the segment.
            let crosses = if step < 0 {
                (index + 1..=at).any(|inner| unit[inner].segment_before)
            } else {
                (at + 1..=index).any(|inner| unit[inner].segment_before)
            };
            (!crosses).then_some(word)
        };
        match (neighbour(a, 1), neighbour(b, 1)) {
            (Some(na), Some(nb)) if na.lower == nb.lower => {
                match (neighbour(a, 2), neighbour(b, 2)) {
                    (Some(fa), Some(fb)) => fa.lower == fb.lower,
                    (None, None) => na.kind == WordKind::Content,
                    _ => false,
                }
            }
            _ => false,
        }
    };
    let parallel = |a: usize, b: usize| same_side(a, b, -1) || same_side(a, b, 1);
    for x in claim.iter() {
        let Some(kind) = key_kind(x) else { continue };
        let x_at: Vec<usize> = (0..unit.len())
            .filter(|&index| unit[index].kind == WordKind::Content && same_word(x, &unit[index]))
            .collect();
        if x_at.is_empty() {
            continue;
        }
        let x_segments: Vec<usize> = x_at.iter().map(|&index| segment[index]).collect();
        for y in claim.iter() {
            if y.kind != WordKind::Content || y.number.is_some() || weight(y) < 1.0 {
                continue;
            }
            let y_segments = segments_of(y);
            // Together somewhere: the source binds them itself.
            if y_segments.is_empty() || y_segments.iter().any(|s| x_segments.contains(s)) {
                continue;
            }
            for &other in &y_segments {
                // The claim names that segment's own numbers or dates too
                // ("weeks 17 to 39 … the rest up to week 52"): it covers both
                // segments, not one bound to the wrong one. (Names come in
                // runs, "Customer Success Manager", so they do not count.)
                let names_other = kind != KeyKind::Name
                    && claim.iter().any(|word| {
                        !std::ptr::eq(word, x)
                            && !std::ptr::eq(word, y)
                            && key_kind(word).as_ref() == Some(&kind)
                            && unit
                                .iter()
                                .enumerate()
                                .any(|(index, u)| segment[index] == other && same_word(word, u))
                    });
                if names_other {
                    continue;
                }
                for (index, u) in unit.iter().enumerate() {
                    if segment[index] != other
                        || key_kind(u).as_ref() != Some(&kind)
                        || claim.iter().any(|word| same_word(word, u))
                    {
                        continue;
                    }
                    // "… refreshed every 15 minutes on Professional and every 5
                    // minutes on Enterprise": the words before the first item's
                    // slot are the stem both items share, not the first's own.
                    let stem_shared = |at: usize| {
                        let x_segment_start = (0..=at)
                            .rev()
                            .find(|&i| i == 0 || unit[i].segment_before)
                            .unwrap_or(0);
                        segment[index] < segment[at]
                            && matches!(unit[x_segment_start].lower.as_str(), "and" | "or")
                            && !unit[index + 1..]
                                .iter()
                                .zip(&segment[index + 1..])
                                .any(|(word, &s)| s == other && same_word(y, word))
                    };
                    if x_at
                        .iter()
                        .any(|&at| parallel(at, index) && !stem_shared(at))
                    {
                        return Some(format!(
                            "puts \"{}\" with \"{}\", where the source has \"{}\"",
                            x.lower, y.lower, u.lower
                        ));
                    }
                }
            }
        }
    }
    None
}

/// Negation and antonym checks: does the source say the opposite of the clause?
fn polarity_checks(
    claim: &[Word],
    antonyms: &[(&str, &str)],
    sentence: &PreparedSentence,
) -> Vec<String> {
    let words = || sentence.all_words();
    let mut reasons = Vec::new();
    // Negation: an odd number of negations on one side only flips the claim.
    // It must disagree both with the whole source sentence and with the
    // source clause that shares most words with the claim: long sentences
    // carry negations that belong to other clauses.
    let in_claim = negation_count(claim, &sentence.words) % 2;
    let mut in_sentence = negation_count(&sentence.words, claim);
    let mut in_clause = negation_count(best_clause(claim, sentence), claim);
    // A list item under "You must not:" (or "## Never do this", when the claim
    // leans on that heading's words) is negated by it.
    let own: Vec<&str> = sentence
        .words
        .iter()
        .map(|word| word.stem.as_str())
        .collect();
    let leans_on_context = claim.iter().any(|word| {
        word.kind == WordKind::Content
            && !own.contains(&word.stem.as_str())
            && sentence
                .context_words()
                .any(|other| other.stem == word.stem)
    });
    let framing = if sentence.lead_in_negated {
        1
    } else if leans_on_context {
        let context: Vec<Word> = sentence.context_words().cloned().collect();
        negation_count(&context, claim)
    } else {
        0
    };
    in_sentence += framing;
    in_clause += framing;
    if in_claim != in_sentence % 2 && in_claim != in_clause % 2 {
        reasons.push(if in_claim == 1 {
            "the sentence negates what the source states".to_string()
        } else {
            "the source negates what the sentence states".to_string()
        });
    }

    // Scope: a claim without any negation that states what the source says
    // only under a negation ("…, with no credit card required" against "the
    // trial requires a credit card") contradicts it, even when the parity
    // above is hidden by the source's other clauses.
    // "Only … if" restates "not … unless", so a claim with "only" is left to
    // the parity check, and so are words under "unless" (a condition).
    let conditional = claim.iter().any(|word| word.lower == "only");
    if reasons.is_empty() && !conditional && !claim.iter().any(is_negation) {
        let denied: Vec<&str> = claim
            .iter()
            .filter(|word| word.kind == WordKind::Content && word.number.is_none())
            .filter(|word| weight(word) == 1.0)
            .filter(|word| {
                let mut same = sentence
                    .words
                    .iter()
                    .filter(|other| other.stem == word.stem);
                let first = same.next();
                first.is_some_and(|first| first.negated && same.all(|other| other.negated))
                    && !under_unless(&sentence.words, &word.stem)
            })
            .map(|word| word.lower.as_str())
            .collect();
        if !denied.is_empty() {
            reasons.push(format!("the source negates \"{}\"", denied.join(" ")));
        }
    }

    // Antonyms: the sentence says one side of a pair where the source says the other.
    // A negated opposite says the same: "unpaid" is "not paid".
    for &(said, opposite) in antonyms {
        let stated = |term: &str| {
            sentence
                .all_words()
                .any(|word| (word.lower == term || word.stem == term) && !word.negated)
        };
        if stated(opposite) && !has(words(), said) {
            reasons.push(format!(
                "the sentence says \"{said}\" where the source says \"{opposite}\""
            ));
        }
    }
    reasons
}

/// Whether `stem` follows an "unless" in its clause ("… unless someone fails").
fn under_unless(words: &[Word], stem: &str) -> bool {
    let mut condition = false;
    for word in words {
        if word.boundary_before {
            condition = false;
        }
        if word.lower == "unless" {
            condition = true;
        } else if condition && word.stem == stem {
            return true;
        }
    }
    false
}

fn has<'w>(mut words: impl Iterator<Item = &'w Word>, term: &str) -> bool {
    words.any(|word| word.lower == term || word.stem == term)
}

/// The antonym pairs (said, opposite) whose first side the claim states and
/// whose second it does not: the only pairs worth looking for in a source.
fn claim_antonyms(claim: &[Word]) -> Vec<(&'static str, &'static str)> {
    let terms: std::collections::HashSet<&str> = claim
        .iter()
        .flat_map(|word| [word.lower.as_str(), word.stem.as_str()])
        .collect();
    let mut pairs = Vec::new();
    for &(left, right) in ANTONYMS {
        for (said, opposite) in [(left, right), (right, left)] {
            if terms.contains(said) && !terms.contains(opposite) {
                pairs.push((said, opposite));
            }
        }
    }
    pairs
}

fn is_negation(word: &Word) -> bool {
    word.kind == WordKind::Negation || NEGATIVE_WORDS.contains(&word.lower.as_str())
}

/// Negation cues in `words`; a word negative by its prefix ("unpaid") counts
/// when `other` states its positive form ("paid").
fn negation_count(words: &[Word], other: &[Word]) -> usize {
    words
        .iter()
        .filter(|word| {
            word.kind == WordKind::Negation
                || (NEGATIVE_WORDS.contains(&word.lower.as_str())
                    && other.iter().any(|o| {
                        negated_forms_match(
                            word,
                            &Word {
                                negated: true,
                                ..o.clone()
                            },
                        )
                    }))
        })
        .count()
}

/// The clause of a source sentence sharing most content stems with the claim.
fn best_clause<'s>(claim: &[Word], sentence: &'s PreparedSentence) -> &'s [Word] {
    let stems: Vec<&str> = claim
        .iter()
        .filter(|word| word.kind == WordKind::Content)
        .map(|word| word.stem.as_str())
        .collect();
    clauses(&sentence.words)
        .into_iter()
        .max_by_key(|clause| {
            clause
                .iter()
                .filter(|word| stems.contains(&word.stem.as_str()))
                .count()
        })
        .unwrap_or(&[])
}

const NEGATIVE_WORDS: &[&str] = &[
    "unpaid",
    "unused",
    "unable",
    "unavailable",
    "unapproved",
    "unencrypted",
    "unauthorised",
    "unauthorized",
    "unsupported",
    "unacceptable",
    "unlawful",
    "invalid",
    "ineligible",
    "illegal",
    "impossible",
    "unnecessary",
    "forbidden",
    "prohibited",
];

/// Names match on stem or when one is a prefix of the other ("German", "Germany").
fn names_match(name: &Word, other: &Word) -> bool {
    let (a, b) = (&name.lower, &other.lower);
    // A name is written with its capital in the source too: "Head of People"
    // is not the "department head".
    other.capitalised
        && (name.stem == other.stem
            || (a.len() >= 4
                && b.len() >= 4
                && (a.starts_with(b.as_str()) || b.starts_with(a.as_str()))))
}

/// An acronym the source spells out ("UK" for "United Kingdom") is in the source.
/// Returns false when a reason was added.
fn acronyms_resolved(
    claim: &[Word],
    sentence: &PreparedSentence,
    reasons: &mut Vec<String>,
) -> bool {
    if !reasons.iter().any(|reason| reason.starts_with('"')) {
        return reasons.is_empty();
    }
    let words: Vec<&Word> = sentence.all_words().collect();
    reasons.retain(|reason| {
        let Some(name) = reason
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix("\" is not in the source"))
        else {
            return true;
        };
        let Some(word) = claim.iter().find(|word| word.lower == name) else {
            return true;
        };
        let letters: Vec<char> = word.lower.chars().collect();
        let is_acronym = letters.len() >= 2 && letters.len() <= 5 && word.is_name;
        let spelled = is_acronym
            && words.windows(letters.len()).any(|run| {
                run.iter()
                    .zip(&letters)
                    .all(|(w, letter)| w.capitalised && w.lower.starts_with(*letter))
            });
        !spelled
    });
    reasons.is_empty()
}

/// The object form of the first person a sentence uses, if any ("asked me",
/// "told me", "for myself").
fn tells_of_the_asker(text: &str) -> Option<&'static str> {
    text.split(|c: char| !c.is_alphanumeric())
        .find_map(|token| match token {
            "me" | "Me" => Some("me"),
            "myself" | "Myself" => Some("myself"),
            _ => None,
        })
}

/// Nouns an answer uses to point at itself or its sources, not at a subject.
const SELF_REFERENCES: &[&str] = &[
    "answer",
    "context",
    "document",
    "documents",
    "information",
    "passage",
    "passages",
    "question",
    "result",
    "source",
    "sources",
];

/// A claim that states a value ("30 days", "Yes, 5.", "It is Laura Brenner")
/// with no word saying what it is about: its subject is the question's.
fn leans_on_question(words: &[Word]) -> bool {
    let states_a_value = words.iter().any(|word| {
        word.kind == WordKind::Content
            && (word.number.is_some() || word.is_name || word.is_date_word)
    });
    let topical = words.iter().any(|word| {
        word.kind == WordKind::Content
            && word.number.is_none()
            && !word.is_name
            && !word.is_date_word
            && unit(&word.lower).is_none()
            && weight(word) == 1.0
            && !SELF_REFERENCES.contains(&word.lower.as_str())
    });
    states_a_value && !topical
}

/// What the question contributes to checking its answer.
#[derive(Debug, Default)]
struct QuestionTopic {
    /// The words that say what it is about: its content words, without the
    /// asker's own numbers ("I have 7 days left") or negations.
    words: Vec<Word>,
    /// "Who is …": the role the question names picks the person, so an
    /// answer that repeats the role must find it in the source.
    asks_who: bool,
}

impl QuestionTopic {
    fn of(question: &str) -> Self {
        let words = analyse(question)
            .into_iter()
            .filter(|word| word.kind == WordKind::Content && word.number.is_none())
            .map(|mut word| {
                word.boundary_before = false;
                word.segment_before = false;
                word.negated = false;
                word
            })
            .collect();
        Self {
            words,
            asks_who: AnswerKind::asked_by(question) == Some(AnswerKind::Person),
        }
    }
}

/// Words of a claim with its `[n]` markers and "source 2" references removed.
fn claim_words(text: &str) -> Vec<Word> {
    let mut blanked = text.to_string();
    let mut at = 0;
    while let Some(offset) = blanked[at..].find('[') {
        let start = at + offset;
        match citation_marker_len(&blanked[start..]) {
            Some(len) => {
                blanked.replace_range(start..start + len, &" ".repeat(len));
                at = start + len;
            }
            None => at = start + 1,
        }
    }
    let mut words = analyse(&blanked);
    // "Source 2 says …", "document 1": the number names a source, not a fact.
    let mut drop = vec![false; words.len()];
    for index in 1..words.len() {
        if words[index].number.is_some()
            && matches!(
                words[index - 1].lower.as_str(),
                "source" | "sources" | "document" | "passage"
            )
        {
            drop[index] = true;
        }
    }
    let mut index = 0;
    words.retain(|_| {
        let keep = !drop[index];
        index += 1;
        keep
    });
    words
}

fn with_ids(mut sentence: PreparedSentence, similarity: &mut SimilarityCache) -> PreparedSentence {
    sentence.ids = sentence
        .all_words()
        .map(|word| similarity.id(&word.lower))
        .collect();
    sentence.stem_ids = sentence
        .all_words()
        .map(|word| similarity.stem_id(&word.stem))
        .collect();
    sentence
}

/// Level and words of a markdown heading line ("### Rail" → 3).
fn heading_of(line: &str) -> Option<(usize, Rc<[Word]>)> {
    let trimmed = line.trim_start();
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    (level > 0).then(|| (level, analyse(trimmed).into()))
}

fn prepare(source: &SourceText, similarity: &mut SimilarityCache) -> PreparedSource {
    let (title, text) = (source.title, source.text);
    let title: Rc<[Word]> = analyse(title).into();
    // The headings above the sentence, outermost first, with their levels:
    // "### Northwind enhancement" sits under "## Birthing parent".
    let mut headings: Vec<(usize, Rc<[Word]>)> = source
        .section
        .iter()
        .filter_map(|line| heading_of(line))
        .collect();
    // A level-1 heading is the document's title in markdown: it frames the
    // sentence as the title does, and counts as little ("Business Travel
    // Policy" does not make "business class" the source's "1st class").
    let framed_title = |headings: &[(usize, Rc<[Word]>)]| -> Rc<[Word]> {
        match headings.iter().find(|(level, _)| *level == 1) {
            Some((_, top)) => title.iter().chain(top.iter()).cloned().collect(),
            None => title.clone(),
        }
    };
    let mut title_frame = framed_title(&headings);
    let mut lead_in: Option<Rc<[Word]>> = None;
    let mut table_header: Option<Rc<[Word]>> = None;
    let mut sentences = Vec::new();
    let mut blocks = Vec::new();
    let mut block = 0usize;
    let mut previous_end = 0usize;
    // The sentences of the current paragraph so far: a list is introduced by
    // its whole paragraph ("If you see a breach, speak up. You can:").
    let mut paragraph: Vec<Word> = Vec::new();
    for range in split_sentences(text) {
        if text[previous_end..range.start].contains('\n') {
            block += 1;
            paragraph.clear();
        }
        previous_end = range.end;
        blocks.push(block);
        let raw = &text[range.clone()];
        let mut words = analyse(raw);
        for word in &mut words {
            word.range = word.range.start + range.start..word.range.end + range.start;
        }
        let code: Rc<[Hyphenated]> = code_names(text, &words).into();
        let trimmed = raw.trim_start();
        let is_row = trimmed.starts_with('|');
        let is_item = trimmed.starts_with(['-', '*', '+'])
            || trimmed.starts_with(|c: char| c.is_ascii_digit());
        let is_heading = trimmed.starts_with('#');
        let shared: Rc<[Word]> = words.clone().into();
        if is_heading {
            let level = trimmed.chars().take_while(|&c| c == '#').count();
            headings.retain(|(outer, _)| *outer < level);
            headings.push((level, shared.clone()));
            title_frame = framed_title(&headings);
            lead_in = None;
        }
        let mut context = vec![title_frame.clone()];
        context.extend(
            headings
                .iter()
                .filter(|(level, _)| *level > 1)
                .map(|(_, heading)| heading.clone()),
        );
        if is_row {
            // A table row is read with its header row: the header says what
            // each cell means ("| Annual contract value | €118,800 |").
            match &table_header {
                Some(header) => words.extend(header.iter().cloned()),
                None => table_header = Some(shared.clone()),
            }
        } else {
            table_header = None;
        }
        let mut lead_in_negated = false;
        if is_item || is_row {
            if let Some(lead_in) = &lead_in {
                context.push(lead_in.clone());
                lead_in_negated = lead_in.iter().any(|word| word.kind == WordKind::Negation);
            }
        } else if !is_heading {
            paragraph.extend(words.iter().cloned());
            lead_in = trimmed
                .ends_with(':')
                .then(|| Rc::from(std::mem::take(&mut paragraph)));
        }
        sentences.push(with_ids(
            PreparedSentence {
                range,
                words,
                context,
                lead_in_negated,
                ids: Vec::new(),
                stem_ids: Vec::new(),
                members: sentences.len()..sentences.len() + 1,
                code_names: code,
            },
            similarity,
        ));
    }
    let mut units: Vec<PreparedSentence> = sentences
        .iter()
        .map(|sentence| PreparedSentence {
            range: sentence.range.clone(),
            words: sentence.words.clone(),
            context: sentence.context.clone(),
            lead_in_negated: sentence.lead_in_negated,
            ids: sentence.ids.clone(),
            stem_ids: sentence.stem_ids.clone(),
            members: sentence.members.clone(),
            code_names: sentence.code_names.clone(),
        })
        .collect();
    for index in 1..sentences.len() {
        if blocks[index] != blocks[index - 1] {
            continue;
        }
        let (first, second) = (&sentences[index - 1], &sentences[index]);
        let mut words = first.words.clone();
        words.extend(second.words.iter().cloned());
        units.push(with_ids(
            PreparedSentence {
                range: first.range.start..second.range.end,
                words,
                context: first.context.clone(),
                lead_in_negated: first.lead_in_negated,
                ids: Vec::new(),
                stem_ids: Vec::new(),
                members: index - 1..index + 1,
                code_names: first
                    .code_names
                    .iter()
                    .chain(second.code_names.iter())
                    .cloned()
                    .collect(),
            },
            similarity,
        ));
    }
    PreparedSource { sentences, units }
}

/// Sentences that decline to answer make no claim.
pub fn is_refusal(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "could not find",
        "could not verify",
        "couldn't find",
        "cannot find",
        "can't find",
        "not found in the knowledge base",
        "not in the knowledge base",
        "no information",
        "do not contain",
        "does not contain",
        "don't contain",
        "doesn't contain",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

/// Word similarities computed once per verification.
/// Word similarities computed once per verification. Words get small ids so
/// the inner loop compares integers and reads a dense row, not strings.
struct SimilarityCache<'a> {
    vectors: Option<&'a WordVectors>,
    ids: HashMap<String, usize>,
    /// Stems as small integers, compared without touching the strings.
    stems: HashMap<String, usize>,
    /// Each id's word, and where its vector lies in `arena` once computed:
    /// vectors are made on first use, since most words (function words,
    /// numbers, names) are never compared by meaning.
    words: Vec<String>,
    vectors_at: Vec<VectorState>,
    arena: Vec<f32>,
    /// rows[a][b]: cosine of words a and b, NaN until computed.
    rows: Vec<Vec<f32>>,
    /// How well a frame (title, heading, lead-in) covers a word: (word id,
    /// frame address) → share.
    frames: HashMap<(usize, usize), f32>,
}

#[derive(Clone, Copy)]
enum VectorState {
    NotYet,
    Missing,
    At(usize),
}

impl<'a> SimilarityCache<'a> {
    fn new(vectors: Option<&'a WordVectors>) -> Self {
        Self {
            vectors,
            ids: HashMap::new(),
            stems: HashMap::new(),
            words: Vec::new(),
            vectors_at: Vec::new(),
            arena: Vec::new(),
            rows: Vec::new(),
            frames: HashMap::new(),
        }
    }

    fn id(&mut self, word: &str) -> usize {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len();
        self.words.push(word.to_string());
        self.vectors_at.push(VectorState::NotYet);
        self.ids.insert(word.to_string(), id);
        id
    }

    fn stem_id(&mut self, stem: &str) -> usize {
        if let Some(&id) = self.stems.get(stem) {
            return id;
        }
        let id = self.stems.len();
        self.stems.insert(stem.to_string(), id);
        id
    }

    fn vector_at(&mut self, id: usize) -> Option<usize> {
        if let VectorState::NotYet = self.vectors_at[id] {
            let vectors = self.vectors?;
            self.vectors_at[id] = match vectors.vector(&self.words[id]) {
                Some(vector) => {
                    self.arena.extend_from_slice(&vector);
                    VectorState::At(self.arena.len() - vector.len())
                }
                None => VectorState::Missing,
            };
        }
        match self.vectors_at[id] {
            VectorState::At(at) => Some(at),
            _ => None,
        }
    }

    fn cosine(&mut self, a: usize, b: usize) -> f32 {
        let Some(vectors) = self.vectors else {
            return 0.0;
        };
        if self.rows.len() <= a {
            self.rows.resize_with(a + 1, Vec::new);
        }
        if self.rows[a].len() <= b {
            let len = self.words.len().max(b + 1);
            self.rows[a].resize(len, f32::NAN);
        }
        if self.rows[a][b].is_nan() {
            let dimensions = vectors.dimensions();
            let value = match (self.vector_at(a), self.vector_at(b)) {
                (Some(x), Some(y)) => dot(
                    &self.arena[x..x + dimensions],
                    &self.arena[y..y + dimensions],
                ),
                _ => 0.0,
            };
            self.rows[a][b] = value;
        }
        self.rows[a][b]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAVE: &str = "Every full-time employee receives 28 working days of paid annual \
        leave per leave year. Up to 5 unused days may be carried over; they must be taken \
        by 31 March. Employees must not book leave without approval from their manager.";

    fn verifier() -> CitationVerifier {
        CitationVerifier::new(VerifierSettings::default(), None)
    }

    fn verdicts(answer: &str, sources: &[&str]) -> Vec<Verdict> {
        let sources: Vec<SourceText> = sources.iter().map(|s| SourceText::untitled(s)).collect();
        verifier()
            .verify(answer, &sources)
            .sentences
            .iter()
            .map(|s| s.verdict)
            .collect()
    }

    #[test]
    fn supported_sentence_points_at_its_span() {
        let verification = verifier().verify(
            "According to [1], full-time employees receive 28 days of paid annual leave.",
            &[SourceText::untitled(LEAVE)],
        );
        let sentence = &verification.sentences[0];
        assert_eq!(sentence.verdict, Verdict::Supported, "{sentence:?}");
        let support = sentence.support.as_ref().unwrap();
        assert_eq!(support.source, 0);
        assert!(LEAVE[support.start..support.end].starts_with("Every full-time"));
        assert!(LEAVE[support.start..support.end].contains("28 working days"));
    }

    #[test]
    fn changed_numbers_dates_negations_are_caught() {
        for (claim, reason) in [
            ("You receive 30 days of paid annual leave [1].", "number 30"),
            (
                "Up to 5 unused days can be carried over until 31 May [1].",
                "may",
            ),
            (
                "Employees may book leave without approval from their manager [1].",
                "negates",
            ),
            ("Up to 7 unused days may be carried over [1].", "number 7"),
        ] {
            let check = &verifier()
                .verify(claim, &[SourceText::untitled(LEAVE)])
                .sentences[0];
            assert_eq!(check.verdict, Verdict::Unsupported, "{claim}: {check:?}");
            assert!(
                check.reasons.iter().any(|r| r.contains(reason)),
                "{claim}: {:?}",
                check.reasons
            );
        }
    }

    /// Each (claim, source) pair and whether the source supports the claim,
    /// with a word the failure's reason must contain.
    fn assert_checks(cases: &[(&str, &str, Option<&str>)]) {
        for &(claim, source, reason) in cases {
            let check = verifier().check(claim, SourceText::untitled(source));
            match reason {
                None => assert!(check.supported, "{claim} / {source}: {check:?}"),
                Some(reason) => {
                    assert!(!check.supported, "{claim} / {source}: {check:?}");
                    assert!(
                        check.reasons.iter().any(|r| r.contains(reason)),
                        "{claim}: {:?} lacks {reason:?}",
                        check.reasons
                    );
                }
            }
        }
    }

    #[test]
    fn facts_bound_in_parallel_segments_stay_bound() {
        let holidays = "Public holidays are granted in addition: Bavarian public holidays for \
            staff contracted to Munich, and English bank holidays for staff contracted to Leeds.";
        let refresh = "Extracts can be refreshed every 15 minutes on Professional and every \
            5 minutes on Enterprise.";
        let team = "Northwind team: Customer Success Manager Jan Weber; Account Executive \
            Laura Brenner; Solutions Engineer Tim Koch.";
        assert_checks(&[
            (
                "Staff contracted to Munich get English bank holidays.",
                holidays,
                Some("leeds"),
            ),
            (
                "Staff contracted to Munich get Bavarian public holidays.",
                holidays,
                None,
            ),
            (
                "Staff contracted to Munich and Leeds get public holidays in addition.",
                holidays,
                None,
            ),
            (
                "Extracts are refreshed every 5 minutes on Professional.",
                refresh,
                Some("15"),
            ),
            (
                "Extracts are refreshed every 5 minutes on Enterprise.",
                refresh,
                None,
            ),
            (
                "Laura Brenner is the Customer Success Manager.",
                team,
                Some("weber"),
            ),
            ("Laura Brenner is the Account Executive.", team, None),
        ]);
    }

    #[test]
    fn negations_are_read_in_their_scope() {
        let trial =
            "Yes, a 14-day free trial of the Professional plan, with no credit card required.";
        assert_checks(&[
            ("The free trial of the Professional plan requires a credit card.", trial, Some("negates")),
            ("The 14-day free trial needs no credit card.", trial, None),
            (
                "Individual results are only shared with managers if someone fails 3 simulations.",
                "Individual results are not shared with managers unless someone fails 3 simulations.",
                None,
            ),
            (
                "Invoices without a valid PO number go unpaid.",
                "Invoices without a valid PO number are not paid.",
                None,
            ),
        ]);
    }

    #[test]
    fn dates_amounts_and_frequencies_are_compared_as_values() {
        let buying = "Purchase requests must be submitted by 15 January; the cost is spread \
            across the payroll runs from February to December.";
        assert_checks(&[
            (
                "Requests must be submitted by 15 February.",
                buying,
                Some("dated"),
            ),
            ("Requests must be submitted by 15 January.", buying, None),
            (
                "Staff get twenty-two and a half days.",
                "Staff get 22.5 days.",
                None,
            ),
            (
                "Reviews happen twice a year.",
                "Reviews happen every 6 months.",
                None,
            ),
            (
                "Reviews happen twice a year.",
                "Reviews happen every 2 years.",
                Some("twice"),
            ),
            (
                "Devices are checked three times a day.",
                "Devices are checked every 8 hours.",
                None,
            ),
            (
                "The step takes one and a half hours.",
                "The step takes 90 minutes.",
                None,
            ),
            (
                "A change is effective after a 5-working-day hold.",
                "5. A change becomes effective only after a 3-working-day hold.",
                Some("5"),
            ),
        ]);
    }

    #[test]
    fn names_keep_their_capitals_and_acronyms_count() {
        let source = "The People Team checks tax implications; calibration is chaired by the \
            department head.";
        assert_checks(&[
            (
                "IT Security checks tax implications.",
                source,
                Some("\"it\""),
            ),
            (
                "Calibration is chaired by the Head of People.",
                source,
                Some("head"),
            ),
            (
                "Calibration is chaired by the department head.",
                source,
                None,
            ),
        ]);
    }

    #[test]
    fn a_passage_is_read_under_the_headings_above_it() {
        let text = "### Northwind enhancement\n\nEligible employees receive 16 weeks at full pay.";
        let section = ["## 3. Birthing parent / primary adopter".to_string()];
        let question = "How many weeks at full pay does the birthing parent receive?";
        let answer = "The birthing parent receives 16 weeks at full pay [1].";
        let alone = verifier().verify_reply(Some(question), answer, &[SourceText::untitled(text)]);
        assert_eq!(
            alone.sentences[0].verdict,
            Verdict::Unsupported,
            "{alone:?}"
        );
        let framed = verifier().verify_reply(
            Some(question),
            answer,
            &[SourceText::untitled(text).under(&section)],
        );
        assert_eq!(
            framed.sentences[0].verdict,
            Verdict::Supported,
            "{framed:?}"
        );
    }

    #[test]
    fn citation_verdicts() {
        let other = "The VPN client is GlobalProtect; connect before opening internal tools.";
        assert_eq!(
            verdicts(
                "Employees receive 28 days of paid annual leave [2].",
                &[other, LEAVE]
            ),
            vec![Verdict::Supported]
        );
        assert_eq!(
            verdicts(
                "Employees receive 28 days of paid annual leave [1].",
                &[other, LEAVE]
            ),
            vec![Verdict::WrongCitation]
        );
        assert_eq!(
            verdicts(
                "Employees receive 28 days of paid annual leave.",
                &[other, LEAVE]
            ),
            vec![Verdict::Uncited]
        );
        assert_eq!(
            verdicts("The office has a gym on the roof [1].", &[LEAVE]),
            vec![Verdict::Unsupported]
        );
        assert_eq!(
            verdicts("I could not find this in the knowledge base.", &[LEAVE]),
            vec![Verdict::NoClaim]
        );
    }

    #[test]
    fn single_claim_check_reports_span() {
        let check = verifier().check(
            "Unused days must be taken by 31 March [1].",
            SourceText::untitled(LEAVE),
        );
        assert!(check.supported, "{check:?}");
        assert!(LEAVE[check.span.unwrap()].contains("31 March"));
        assert!(
            !verifier()
                .check("Here is what I found:", SourceText::untitled(LEAVE))
                .supported
        );
    }

    #[test]
    fn facts_stay_with_what_they_are_about() {
        // A level-1 heading is the document's title: its words do not make
        // "business class" the rail section's "1st class".
        let rail = "# Business Travel Policy\n\n## 3. Rail\n\n- Standard / 2nd class is the default. **1st class** is permitted when the one-way journey is longer than **3 hours**.";
        // A threshold stated for one service.
        let rollback = "- p95 latency exceeds **800 ms** (for `insight-api`; other services have their own thresholds in the service catalogue), or";
        // A date the source gives to a meeting.
        let renewal =
            "Laura Brenner is preparing a proposal for the renewal meeting on 12 June 2025.";
        let release = "A maintenance update, **4.3.1**, followed on **3 June 2025**.";
        // (question, answer, source, the reason expected; None: supported)
        let cases = [
            (
                "When am I allowed to fly business class?",
                "According to [1], business class is allowed when the one-way journey is longer than 3 hours.",
                rail,
                Some("\"1st class\""),
            ),
            (
                "What p95 latency threshold is used for auth-service canary rollbacks?",
                "The p95 latency threshold for auth-service rollbacks is 800 ms [1].",
                rollback,
                Some("\"insight-api\""),
            ),
            (
                "What p95 latency threshold is used for insight-api rollbacks?",
                "The p95 latency threshold for insight-api rollbacks is 800 ms [1].",
                rollback,
                None,
            ),
            (
                "When is the contract up for renewal?",
                "The contract is up for renewal on 12 June 2025 [1].",
                renewal,
                Some("\"meeting\""),
            ),
            (
                "When is the renewal meeting?",
                "The renewal meeting is on 12 June 2025 [1].",
                renewal,
                None,
            ),
            (
                "Should I shut down my laptop?",
                "You should shut down your laptop immediately [1].",
                "Keep the laptop **powered on** – shutting down destroys evidence held in memory.",
                Some("\"shutting\""),
            ),
            (
                "Should I shut down my laptop?",
                "You should keep the laptop powered on [1].",
                "Keep the laptop **powered on** – shutting down destroys evidence held in memory.",
                None,
            ),
            (
                "When did the 4.3.1 update come out?",
                "Insight 4.3.1 came out on 3 June 2025 [1].",
                release,
                None,
            ),
        ];
        for (question, answer, source, expected) in cases {
            let checked =
                verifier().verify_reply(Some(question), answer, &[SourceText::untitled(source)]);
            let reasons = &checked.sentences[0].reasons;
            match expected {
                Some(why) => assert!(
                    reasons.iter().any(|r| r.contains(why)),
                    "{answer}: {reasons:?}"
                ),
                None => assert!(reasons.is_empty(), "{answer}: {reasons:?}"),
            }
        }
    }
}
