//! Measuring the whole read path on a labelled question set
//! (`knowledge/eval/qa.jsonl`): does retrieval find the gold document, does the
//! answer state the gold facts, does it cite, and does it decline when the
//! knowledge base has no answer.

use std::path::Path;

pub mod fairness;
pub mod redteam;
pub mod verification;

use serde::{Deserialize, Serialize};

use crate::guard::grounding::UNVERIFIED_MARK;
use crate::guard::{apply_policy, CitationPolicy, GroundingSettings, Outcome, SourceText, Verdict};
use crate::rag::{Pipeline, RagError, Retriever, SourceRef};

/// One labelled question.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EvalQuestion {
    pub id: String,
    pub question: String,
    pub answerable: bool,
    #[serde(default)]
    pub gold_answer: Option<String>,
    #[serde(default)]
    pub gold_document: Option<String>,
    #[serde(default)]
    pub gold_facts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: std::path::PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid {
        path: std::path::PathBuf,
        message: String,
    },
    #[error(transparent)]
    Rag(#[from] RagError),
    #[error("embedding model: {message}")]
    Model { message: String },
}

/// Reads a JSON-lines question set.
pub fn load_questions(path: &Path) -> Result<Vec<EvalQuestion>, EvalError> {
    read_json_lines(path)
}

/// Reads one JSON value per non-empty line.
pub(crate) fn read_json_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Vec<T>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|error| EvalError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|err| EvalError::Parse {
                path: path.to_path_buf(),
                line: index + 1,
                message: err.to_string(),
            })
        })
        .collect()
}

/// Rank (1-based) of the gold document among the top `k` retrieved, if found.
pub fn gold_rank(
    retriever: &Retriever,
    question: &EvalQuestion,
    k: usize,
) -> Result<Option<usize>, RagError> {
    if question.gold_document.is_none() {
        return Ok(None);
    }
    Ok(gold_rank_in(
        &retriever.retrieve(&question.question, k)?,
        question,
    ))
}

/// Rank (1-based, by distinct document) of the gold document in `sources`.
fn gold_rank_in(sources: &[SourceRef], question: &EvalQuestion) -> Option<usize> {
    let gold = question.gold_document.as_deref()?;
    let mut seen: Vec<&str> = Vec::new();
    for source in sources {
        if !seen.contains(&source.source.as_str()) {
            seen.push(&source.source);
        }
        if source.source == gold {
            return Some(seen.len());
        }
    }
    None
}

/// What one citation policy would have shown for a question.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyResult {
    pub policy: CitationPolicy,
    pub outcome: Outcome,
    pub facts_found: bool,
    pub cites_gold: bool,
}

/// The outcome for one question.
#[derive(Debug, Clone, Serialize)]
pub struct EvalOutcome {
    pub id: String,
    pub answerable: bool,
    /// What the user was shown (configured policy).
    pub answer: String,
    /// The model's draft before verification.
    pub draft: String,
    pub outcome: Outcome,
    /// Rank of the gold document among the top 5 retrieved documents.
    pub gold_rank: Option<usize>,
    /// Similarity of the best retrieved passage (for the retrieval floor).
    pub top_score: f32,
    pub gold_retrieved: bool,
    pub facts_found: bool,
    pub cited: bool,
    pub cites_gold: bool,
    /// Declined, refused or not found: no answer was given.
    pub refused: bool,
    /// Refused, or the draft was withheld and sources quoted instead.
    pub withheld: bool,
    /// Claims in the draft, and how many no source supports (before verification).
    pub draft_claims: usize,
    pub draft_unsupported: usize,
    /// Claims shown as fact, and how many no source supports (after).
    pub shown_claims: usize,
    pub shown_unsupported: usize,
    /// The same ALCE counts on the draft, before any policy.
    pub draft_claims_supported_by_citations: usize,
    pub draft_citations: usize,
    pub draft_citations_relevant: usize,
    /// ALCE citation recall: shown claims whose cited sources support them.
    pub claims_supported_by_citations: usize,
    /// ALCE citation precision: citations that support their sentence.
    pub citations: usize,
    pub citations_relevant: usize,
    /// The same draft under each policy.
    pub policies: Vec<PolicyResult>,
    /// Why the draft's sentences failed verification, and what the pipeline
    /// noted (a withheld draft, an answer off the question, a guard's change).
    pub draft_reasons: Vec<String>,
    pub notices: Vec<String>,
    pub total_ms: f64,
    pub verify_ms: f64,
}

impl EvalOutcome {
    /// Correct: an answerable question answered with its facts and a citation of
    /// the gold document, or an unanswerable one declined.
    pub fn correct(&self) -> bool {
        if self.answerable {
            self.facts_found && self.cites_gold
        } else {
            self.withheld
        }
    }
}

/// Summary of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalSummary {
    pub model: String,
    pub policy: String,
    pub answerable: usize,
    pub unanswerable: usize,
    /// Gold document among the top 1 / 3 / 5 retrieved documents.
    pub recall_at_1: usize,
    pub recall_at_3: usize,
    pub recall_at_5: usize,
    pub gold_retrieved: usize,
    pub facts_found: usize,
    pub cited: usize,
    pub cites_gold: usize,
    pub correct_answerable: usize,
    pub refused_unanswerable: usize,
    pub withheld_unanswerable: usize,
    pub refused_answerable: usize,
    pub withheld_answerable: usize,
    pub draft_claims: usize,
    pub draft_unsupported: usize,
    pub shown_claims: usize,
    pub shown_unsupported: usize,
    /// ALCE citation recall and precision of the drafts and of what was shown.
    pub draft_citation_recall: f64,
    pub draft_citation_precision: f64,
    pub citation_recall: f64,
    pub citation_precision: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub mean_verify_ms: f64,
    /// Per policy: (policy, answerable correct, unanswerable withheld, answerable withheld).
    pub by_policy: Vec<(CitationPolicy, usize, usize, usize)>,
    /// Candidate retrieval floors: (floor, answerable kept, unanswerable rejected).
    pub floors: Vec<(f32, usize, usize)>,
}

fn facts_in(text: &str, question: &EvalQuestion) -> bool {
    let text = text.to_lowercase();
    !question.gold_facts.is_empty()
        && question
            .gold_facts
            .iter()
            .all(|fact| text.contains(&fact.to_lowercase()))
}

/// Asks one question through the pipeline and scores the answer.
pub fn evaluate(pipeline: &mut Pipeline, question: &EvalQuestion) -> Result<EvalOutcome, RagError> {
    let retrieved = pipeline.retriever.retrieve(&question.question, 5)?;
    let top_score = retrieved.first().map_or(0.0, |source| source.score);
    let gold_rank = gold_rank_in(&retrieved, question);
    let answer = pipeline.ask(&question.question, &mut |_| {})?;
    let gold = question.gold_document.as_deref();
    let gold_retrieved = answer
        .sources
        .iter()
        .any(|s| Some(s.source.as_str()) == gold);
    let cites_gold_in = |text: &str| {
        let (citations, _) = crate::rag::events::parse_citations(text, answer.sources.len());
        answer.sources.iter().any(|source| {
            Some(source.source.as_str()) == gold && citations.contains(&source.number)
        })
    };
    let source_texts: Vec<SourceText> = answer
        .sources
        .iter()
        .map(|source| SourceText::new(&source.title, &source.text).under(&source.section))
        .collect();
    let verifier = &pipeline.verifier;

    let (draft_claims, draft_unsupported) = answer
        .verification
        .as_ref()
        .map_or((0, 0), |v| (v.claims(), v.ungrounded()));

    // ALCE-style counts, judged by the verifier: (claims, unsupported, claims
    // whose citations support them, citations, citations that support their sentence).
    let alce = |verification: &crate::guard::Verification| {
        let mut counts = (0, 0, 0, 0, 0);
        for sentence in &verification.sentences {
            if sentence.verdict == Verdict::NoClaim || sentence.text.contains(UNVERIFIED_MARK) {
                continue;
            }
            counts.0 += 1;
            counts.1 += !sentence.is_grounded() as usize;
            counts.2 += (sentence.verdict == Verdict::Supported) as usize;
            for number in &sentence.citations {
                counts.3 += 1;
                if let Some(source) = source_texts.get(number.wrapping_sub(1)) {
                    counts.4 += verifier.check(&sentence.text, *source).supported as usize;
                }
            }
        }
        counts
    };
    let draft_counts = answer.verification.as_ref().map_or((0, 0, 0, 0, 0), alce);
    // After: the shown text, verified again; marked sentences are not shown as fact.
    let shown_counts = if answer.outcome == Outcome::NotFound {
        (0, 0, 0, 0, 0)
    } else {
        alce(&verifier.verify_reply(Some(&question.question), &answer.answer, &source_texts))
    };
    let (
        shown_claims,
        shown_unsupported,
        claims_supported_by_citations,
        citations,
        citations_relevant,
    ) = shown_counts;

    let policies = [
        CitationPolicy::Annotate,
        CitationPolicy::Strip,
        CitationPolicy::Strict,
    ]
    .into_iter()
    .map(|policy| {
        let (text, outcome) = match &answer.verification {
            Some(verification) => {
                let settings = GroundingSettings {
                    policy,
                    ..pipeline.settings.grounding.clone()
                };
                let grounded = apply_policy(
                    &settings,
                    verifier,
                    &question.question,
                    &answer.draft,
                    verification,
                    &source_texts,
                );
                (grounded.text, grounded.outcome)
            }
            None => (answer.answer.clone(), answer.outcome),
        };
        PolicyResult {
            policy,
            outcome,
            facts_found: facts_in(&text, question),
            cites_gold: cites_gold_in(&text),
        }
    })
    .collect();

    let refused = matches!(
        answer.outcome,
        Outcome::Declined | Outcome::Refused | Outcome::NotFound
    );
    Ok(EvalOutcome {
        id: question.id.clone(),
        answerable: question.answerable,
        draft: answer.draft.clone(),
        outcome: answer.outcome,
        gold_rank,
        top_score,
        gold_retrieved,
        facts_found: facts_in(&answer.answer, question),
        cited: !answer.citations.is_empty(),
        cites_gold: cites_gold_in(&answer.answer),
        refused,
        withheld: refused || answer.outcome.is_refusal(),
        draft_claims,
        draft_unsupported,
        shown_claims,
        shown_unsupported,
        claims_supported_by_citations,
        citations,
        citations_relevant,
        draft_claims_supported_by_citations: draft_counts.2,
        draft_citations: draft_counts.3,
        draft_citations_relevant: draft_counts.4,
        policies,
        draft_reasons: answer
            .verification
            .iter()
            .flat_map(|verification| &verification.sentences)
            .filter(|sentence| !sentence.is_grounded())
            .flat_map(|sentence| sentence.reasons.iter().cloned())
            .collect(),
        notices: answer.notices.clone(),
        total_ms: answer.timings.total_ms,
        verify_ms: answer.timings.verify_ms,
        answer: answer.answer,
    })
}

/// Adds up outcomes.
pub fn summarise(model: &str, policy: CitationPolicy, outcomes: &[EvalOutcome]) -> EvalSummary {
    let mut summary = EvalSummary {
        model: model.to_string(),
        policy: format!("{policy:?}").to_lowercase(),
        ..EvalSummary::default()
    };
    for outcome in outcomes {
        summary.draft_claims += outcome.draft_claims;
        summary.draft_unsupported += outcome.draft_unsupported;
        summary.shown_claims += outcome.shown_claims;
        summary.shown_unsupported += outcome.shown_unsupported;
        if outcome.answerable {
            summary.answerable += 1;
            let rank = outcome.gold_rank.unwrap_or(usize::MAX);
            summary.recall_at_1 += (rank <= 1) as usize;
            summary.recall_at_3 += (rank <= 3) as usize;
            summary.recall_at_5 += (rank <= 5) as usize;
            summary.gold_retrieved += outcome.gold_retrieved as usize;
            summary.facts_found += outcome.facts_found as usize;
            summary.cited += outcome.cited as usize;
            summary.cites_gold += outcome.cites_gold as usize;
            summary.correct_answerable += outcome.correct() as usize;
            summary.refused_answerable += outcome.refused as usize;
            summary.withheld_answerable += outcome.withheld as usize;
        } else {
            summary.unanswerable += 1;
            summary.refused_unanswerable += outcome.refused as usize;
            summary.withheld_unanswerable += outcome.withheld as usize;
        }
    }
    let claims: usize = outcomes.iter().map(|o| o.shown_claims).sum();
    let supported: usize = outcomes
        .iter()
        .map(|o| o.claims_supported_by_citations)
        .sum();
    let citations: usize = outcomes.iter().map(|o| o.citations).sum();
    let relevant: usize = outcomes.iter().map(|o| o.citations_relevant).sum();
    summary.citation_recall = supported as f64 / claims.max(1) as f64;
    summary.citation_precision = relevant as f64 / citations.max(1) as f64;
    let sum = |field: fn(&EvalOutcome) -> usize| outcomes.iter().map(field).sum::<usize>();
    summary.draft_citation_recall = sum(|o| o.draft_claims_supported_by_citations) as f64
        / sum(|o| o.draft_claims).max(1) as f64;
    summary.draft_citation_precision =
        sum(|o| o.draft_citations_relevant) as f64 / sum(|o| o.draft_citations).max(1) as f64;

    let mut latencies: Vec<f64> = outcomes.iter().map(|o| o.total_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    summary.mean_ms = latencies.iter().sum::<f64>() / latencies.len().max(1) as f64;
    summary.p50_ms = percentile(0.5);
    summary.p95_ms = percentile(0.95);
    summary.mean_verify_ms =
        outcomes.iter().map(|o| o.verify_ms).sum::<f64>() / outcomes.len().max(1) as f64;

    for policy in [
        CitationPolicy::Annotate,
        CitationPolicy::Strip,
        CitationPolicy::Strict,
    ] {
        let mut correct = 0;
        let mut withheld_unanswerable = 0;
        let mut withheld_answerable = 0;
        for outcome in outcomes {
            let Some(result) = outcome.policies.iter().find(|r| r.policy == policy) else {
                continue;
            };
            if outcome.answerable {
                correct += (result.facts_found && result.cites_gold) as usize;
                withheld_answerable += result.outcome.is_refusal() as usize;
            } else {
                withheld_unanswerable += result.outcome.is_refusal() as usize;
            }
        }
        summary
            .by_policy
            .push((policy, correct, withheld_unanswerable, withheld_answerable));
    }

    for step in 0..=12 {
        let floor = 0.2 + 0.025 * step as f32;
        let kept = outcomes
            .iter()
            .filter(|o| o.answerable && o.top_score >= floor)
            .count();
        let rejected = outcomes
            .iter()
            .filter(|o| !o.answerable && o.top_score < floor)
            .count();
        summary.floors.push((floor, kept, rejected));
    }
    summary
}
