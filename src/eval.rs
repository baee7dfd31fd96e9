//! Measuring the whole read path on a labelled question set
//! (`knowledge/eval/qa.jsonl`): does retrieval find the gold document, does the
//! answer state the gold facts, does it cite, and does it decline when the
//! knowledge base has no answer.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::rag::{Answer, Pipeline, RagError, Retriever};

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
    #[error(transparent)]
    Rag(#[from] RagError),
}

/// Reads a JSON-lines question set.
pub fn load_questions(path: &Path) -> Result<Vec<EvalQuestion>, EvalError> {
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
    let Some(gold) = &question.gold_document else {
        return Ok(None);
    };
    let sources = retriever.retrieve(&question.question, k)?;
    let mut seen = Vec::new();
    for source in sources {
        if !seen.contains(&source.source) {
            seen.push(source.source.clone());
        }
        if &source.source == gold {
            return Ok(Some(seen.len()));
        }
    }
    Ok(None)
}

/// Whether an answer declines to answer.
pub fn is_refusal(answer: &Answer) -> bool {
    let text = answer.answer.to_lowercase();
    !answer.answered_by_model
        || text.contains("could not find")
        || text.contains("couldn't find")
        || text.contains("can't find")
        || text.contains("cannot find")
        || text.contains("not found in the knowledge base")
        || text.contains("does not say")
        || text.contains("no information")
}

/// The outcome for one question.
#[derive(Debug, Clone, Serialize)]
pub struct EvalOutcome {
    pub id: String,
    pub answerable: bool,
    pub answer: String,
    pub gold_retrieved: bool,
    pub facts_found: bool,
    pub cited: bool,
    pub cites_gold: bool,
    pub refused: bool,
    pub total_ms: f64,
}

impl EvalOutcome {
    /// Correct: an answerable question answered with its facts and a citation of
    /// the gold document, or an unanswerable one declined.
    pub fn correct(&self) -> bool {
        if self.answerable {
            self.facts_found && self.cites_gold
        } else {
            self.refused
        }
    }
}

/// Summary of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalSummary {
    pub model: String,
    pub answerable: usize,
    pub unanswerable: usize,
    pub gold_retrieved: usize,
    pub facts_found: usize,
    pub cited: usize,
    pub cites_gold: usize,
    pub correct_answerable: usize,
    pub refused_unanswerable: usize,
    pub refused_answerable: usize,
    pub mean_ms: f64,
}

/// Asks one question through the pipeline and scores the answer.
pub fn evaluate(pipeline: &mut Pipeline, question: &EvalQuestion) -> Result<EvalOutcome, RagError> {
    let answer = pipeline.ask(&question.question, &mut |_| {})?;
    let text = answer.answer.to_lowercase();
    let facts_found = !question.gold_facts.is_empty()
        && question
            .gold_facts
            .iter()
            .all(|fact| text.contains(&fact.to_lowercase()));
    let gold = question.gold_document.as_deref();
    let gold_retrieved = answer
        .sources
        .iter()
        .any(|s| Some(s.source.as_str()) == gold);
    let cites_gold = answer.sources.iter().any(|source| {
        Some(source.source.as_str()) == gold && answer.citations.contains(&source.number)
    });
    Ok(EvalOutcome {
        id: question.id.clone(),
        answerable: question.answerable,
        gold_retrieved,
        facts_found,
        cited: !answer.citations.is_empty(),
        cites_gold,
        refused: is_refusal(&answer),
        total_ms: answer.timings.total_ms,
        answer: answer.answer,
    })
}

/// Adds up outcomes.
pub fn summarise(model: &str, outcomes: &[EvalOutcome]) -> EvalSummary {
    let mut summary = EvalSummary {
        model: model.to_string(),
        ..EvalSummary::default()
    };
    for outcome in outcomes {
        if outcome.answerable {
            summary.answerable += 1;
            summary.gold_retrieved += outcome.gold_retrieved as usize;
            summary.facts_found += outcome.facts_found as usize;
            summary.cited += outcome.cited as usize;
            summary.cites_gold += outcome.cites_gold as usize;
            summary.correct_answerable += outcome.correct() as usize;
            summary.refused_answerable += outcome.refused as usize;
        } else {
            summary.unanswerable += 1;
            summary.refused_unanswerable += outcome.refused as usize;
        }
    }
    summary.mean_ms =
        outcomes.iter().map(|o| o.total_ms).sum::<f64>() / outcomes.len().max(1) as f64;
    summary
}
