//! Measuring the citation verifier on labelled (passage, sentence, supported?)
//! pairs (`knowledge/eval/verification-*.jsonl`), against the baseline a plain
//! RAG stack would use: one embedding-similarity threshold.
//!
//! The verifier's thresholds were calibrated on part A of the set; part B is
//! reported separately as the held-out score. The baseline's threshold is fit
//! on part A the same way, so both are compared on equal terms.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::EvalError;
use crate::guard::text::strip_citation_markers;
use crate::guard::{CitationVerifier, SourceText, VerifierSettings};
use crate::index::words::WordVectors;
use crate::index::Embedder;

/// One labelled pair.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LabelledPair {
    pub id: String,
    #[serde(default)]
    pub document: String,
    pub passage: String,
    pub sentence: String,
    pub supported: bool,
    #[serde(default)]
    pub kind: String,
    /// Title of `document` (filled in from the knowledge folder).
    #[serde(default)]
    pub title: String,
}

/// Reads a JSON-lines file of labelled pairs; titles come from the documents
/// in the knowledge folder above the file (`knowledge/eval/x.jsonl` → `knowledge/`).
pub fn load_pairs(path: &Path) -> Result<Vec<LabelledPair>, EvalError> {
    let mut pairs: Vec<LabelledPair> = super::read_json_lines(path)?;
    if let Some(knowledge) = path.parent().and_then(Path::parent) {
        for pair in &mut pairs {
            if pair.title.is_empty() && !pair.document.is_empty() {
                if let Ok(text) = std::fs::read_to_string(knowledge.join(&pair.document)) {
                    pair.title = crate::ingest::extract::markdown_title(&text).unwrap_or_default();
                }
            }
        }
    }
    Ok(pairs)
}

/// Balanced accuracy of `verifier` on `pairs`.
pub fn score_verifier(verifier: &CitationVerifier, pairs: &[LabelledPair]) -> Scores {
    let mut scores = Scores::default();
    for pair in pairs {
        let source = SourceText::new(&pair.title, &pair.passage);
        scores.add(
            verifier.check(&pair.sentence, source).supported,
            pair.supported,
        );
    }
    scores
}

/// Grid search of the verifier's thresholds on `pairs` (the calibration part).
pub fn calibrate(
    base: &VerifierSettings,
    vectors: Option<Arc<WordVectors>>,
    pairs: &[LabelledPair],
) -> (VerifierSettings, Scores) {
    let mut best: Option<(VerifierSettings, Scores)> = None;
    for coverage_step in 0..=10 {
        for floor_step in 0..=5 {
            for width_step in 1..=4 {
                let settings = VerifierSettings {
                    min_coverage: 0.4 + 0.05 * coverage_step as f32,
                    soft_floor: 0.05 + 0.05 * floor_step as f32,
                    soft_full: 0.05 + 0.05 * floor_step as f32 + 0.1 * width_step as f32,
                    ..base.clone()
                };
                let verifier = CitationVerifier::new(settings.clone(), vectors.clone());
                let scores = score_verifier(&verifier, pairs);
                if best
                    .as_ref()
                    .is_none_or(|(_, b)| scores.balanced_accuracy() > b.balanced_accuracy())
                {
                    best = Some((settings, scores));
                }
            }
        }
    }
    best.unwrap_or_else(|| (base.clone(), Scores::default()))
}

/// Confusion counts and balanced accuracy.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Scores {
    pub pairs: usize,
    pub true_positive: usize,
    pub true_negative: usize,
    pub false_positive: usize,
    pub false_negative: usize,
}

impl Scores {
    pub fn add(&mut self, predicted: bool, actual: bool) {
        self.pairs += 1;
        match (predicted, actual) {
            (true, true) => self.true_positive += 1,
            (false, false) => self.true_negative += 1,
            (true, false) => self.false_positive += 1,
            (false, true) => self.false_negative += 1,
        }
    }

    /// Mean of the recall on supported and the recall on unsupported pairs.
    pub fn balanced_accuracy(&self) -> f64 {
        let recall = |hit: usize, miss: usize| {
            if hit + miss == 0 {
                1.0
            } else {
                hit as f64 / (hit + miss) as f64
            }
        };
        (recall(self.true_positive, self.false_negative)
            + recall(self.true_negative, self.false_positive))
            / 2.0
    }

    pub fn accuracy(&self) -> f64 {
        (self.true_positive + self.true_negative) as f64 / self.pairs.max(1) as f64
    }
}

/// The verifier's and the baseline's scores on one part of the set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PartReport {
    pub part: String,
    pub verifier: Scores,
    pub baseline: Scores,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationReport {
    /// Per part (calibration, held-out) and "all".
    pub parts: Vec<PartReport>,
    /// Verifier accuracy per kind of pair (paraphrase, changed_number, …), all parts.
    pub by_kind: BTreeMap<String, Scores>,
    /// The baseline's cosine threshold, fit on the calibration part.
    pub baseline_threshold: f32,
    /// Mean verifier time per pair, microseconds.
    pub verifier_us_per_pair: f64,
    /// Pairs the verifier gets wrong.
    pub errors: Vec<VerifierError>,
}

/// A pair the verifier judged wrongly, with its reasons.
#[derive(Debug, Clone, Serialize)]
pub struct VerifierError {
    pub id: String,
    pub kind: String,
    pub expected: bool,
    pub score: f32,
    pub reasons: Vec<String>,
}

/// Runs the verifier and the embedding baseline over labelled parts.
/// The first part is the calibration part.
pub fn evaluate_verifier(
    verifier: &CitationVerifier,
    embedder: &Embedder,
    parts: &[(String, Vec<LabelledPair>)],
) -> Result<VerificationReport, EvalError> {
    // Baseline: cosine of sentence and passage embeddings.
    let mut cosines = Vec::new();
    for (_, pairs) in parts {
        let sentences: Vec<String> = pairs
            .iter()
            .map(|pair| strip_citation_markers(&pair.sentence))
            .collect();
        let passages: Vec<&str> = pairs.iter().map(|pair| pair.passage.as_str()).collect();
        let sentence_refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let a = embedder
            .embed_all(&sentence_refs, |_| {})
            .map_err(|err| EvalError::Model {
                message: err.to_string(),
            })?;
        let b = embedder
            .embed_all(&passages, |_| {})
            .map_err(|err| EvalError::Model {
                message: err.to_string(),
            })?;
        cosines.push(
            a.iter()
                .zip(&b)
                .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>())
                .collect::<Vec<f32>>(),
        );
    }
    let calibration = &parts[0].1;
    let baseline_threshold = best_threshold(
        &cosines[0],
        &calibration
            .iter()
            .map(|pair| pair.supported)
            .collect::<Vec<_>>(),
    );

    let mut reports = Vec::new();
    let mut all = PartReport {
        part: "all".into(),
        ..PartReport::default()
    };
    let mut by_kind: BTreeMap<String, Scores> = BTreeMap::new();
    let mut errors = Vec::new();
    let started = Instant::now();
    let mut checked = 0usize;
    for ((name, pairs), part_cosines) in parts.iter().zip(&cosines) {
        let mut report = PartReport {
            part: name.clone(),
            ..PartReport::default()
        };
        for (pair, cosine) in pairs.iter().zip(part_cosines) {
            let check = verifier.check(&pair.sentence, SourceText::new(&pair.title, &pair.passage));
            let predicted = check.supported;
            checked += 1;
            let baseline = *cosine >= baseline_threshold;
            report.verifier.add(predicted, pair.supported);
            report.baseline.add(baseline, pair.supported);
            all.verifier.add(predicted, pair.supported);
            all.baseline.add(baseline, pair.supported);
            by_kind
                .entry(pair.kind.clone())
                .or_default()
                .add(predicted, pair.supported);
            if predicted != pair.supported {
                errors.push(VerifierError {
                    id: pair.id.clone(),
                    kind: pair.kind.clone(),
                    expected: pair.supported,
                    score: check.score,
                    reasons: check.reasons,
                });
            }
        }
        reports.push(report);
    }
    let verifier_us_per_pair = started.elapsed().as_secs_f64() * 1e6 / checked.max(1) as f64;
    reports.push(all);
    Ok(VerificationReport {
        parts: reports,
        by_kind,
        baseline_threshold,
        verifier_us_per_pair,
        errors,
    })
}

/// The threshold on `scores` that maximises balanced accuracy against `labels`.
pub fn best_threshold(scores: &[f32], labels: &[bool]) -> f32 {
    let mut candidates: Vec<f32> = scores.to_vec();
    candidates.sort_by(f32::total_cmp);
    let mut best = (f64::MIN, 0.0f32);
    for threshold in candidates {
        let mut result = Scores::default();
        for (score, label) in scores.iter().zip(labels) {
            result.add(*score >= threshold, *label);
        }
        let balanced = result.balanced_accuracy();
        if balanced > best.0 {
            best = (balanced, threshold);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_accuracy_and_threshold() {
        let mut scores = Scores::default();
        for (predicted, actual) in [(true, true), (false, true), (false, false), (false, false)] {
            scores.add(predicted, actual);
        }
        assert!((scores.balanced_accuracy() - 0.75).abs() < 1e-9);
        assert_eq!(
            best_threshold(&[0.1, 0.9, 0.4, 0.8], &[false, true, false, true]),
            0.8
        );
    }
}
