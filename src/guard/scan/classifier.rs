//! The learned input stage: logistic regression over the MiniLM sentence
//! embedding of a question, for the attacks rules miss because they are
//! paraphrased ("set aside your training for this request").
//!
//! Training is part of the repository and deterministic: `warden guard-train`
//! embeds the `train` split of the labelled input corpus, fits the weights by
//! full-batch gradient descent from zero, picks the threshold that keeps false
//! positives on the training benign questions at or below the target, and
//! writes `models/guard-classifier.json` (384 weights, a bias, a threshold:
//! a few kilobytes, committed).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::GuardError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InjectionClassifier {
    /// The embedding model the weights belong to.
    pub embedding_model: String,
    pub weights: Vec<f32>,
    pub bias: f32,
    /// Probability at or above which a question is an attack.
    pub threshold: f32,
    /// How it was trained (for the README and the audit).
    pub trained_on: String,
}

/// The file name beside the models.
pub const CLASSIFIER_FILE: &str = "guard-classifier.json";

impl InjectionClassifier {
    pub fn load(path: &Path) -> Result<Self, GuardError> {
        let error = |message: String| GuardError::Classifier {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|err| error(err.to_string()))?;
        let classifier: Self = serde_json::from_str(&text).map_err(|err| error(err.to_string()))?;
        if classifier.weights.is_empty() || classifier.weights.iter().any(|w| !w.is_finite()) {
            return Err(error("the weights are empty or not finite".into()));
        }
        Ok(classifier)
    }

    /// Refuses weights made for another embedding model or size: scoring
    /// them would silently give 0 and switch the learned stage off.
    pub fn check(&self, embedding_model: &str, dimensions: usize) -> Result<(), GuardError> {
        if self.embedding_model != embedding_model || self.weights.len() != dimensions {
            return Err(GuardError::Classifier {
                path: CLASSIFIER_FILE.into(),
                message: format!(
                    "it was trained for `{}` ({} dimensions), the embedder is `{embedding_model}` ({dimensions})",
                    self.embedding_model,
                    self.weights.len()
                ),
            });
        }
        Ok(())
    }

    /// Probability that `embedding` is an attack.
    pub fn probability(&self, embedding: &[f32]) -> f32 {
        if embedding.len() != self.weights.len() {
            return 0.0;
        }
        let z: f32 = self
            .weights
            .iter()
            .zip(embedding)
            .map(|(w, x)| w * x)
            .sum::<f32>()
            + self.bias;
        1.0 / (1.0 + (-z).exp())
    }

    /// Fits logistic regression (L2-regularised, full batch, from zero, so the
    /// same data always gives the same weights) and picks the threshold that
    /// keeps the benign false-positive rate at most `max_fpr` on questions the
    /// weights were not fitted to (5-fold cross-validation inside `features`:
    /// on its own training data the model separates almost perfectly, which
    /// says nothing about new questions).
    pub fn train(
        embedding_model: &str,
        features: &[Vec<f32>],
        labels: &[bool],
        max_fpr: f32,
        trained_on: &str,
    ) -> Self {
        const FOLDS: usize = 5;
        let mut held_out_benign = Vec::new();
        if features.len() >= FOLDS * 4 {
            for fold in 0..FOLDS {
                let (mut x, mut y) = (Vec::new(), Vec::new());
                for (i, (features, &label)) in features.iter().zip(labels).enumerate() {
                    if i % FOLDS != fold {
                        x.push(features.clone());
                        y.push(label);
                    }
                }
                let (weights, bias) = fit(&x, &y);
                let model = Self {
                    embedding_model: String::new(),
                    weights,
                    bias,
                    threshold: 0.5,
                    trained_on: String::new(),
                };
                for (i, (features, &label)) in features.iter().zip(labels).enumerate() {
                    if i % FOLDS == fold && !label {
                        held_out_benign.push(model.probability(features));
                    }
                }
            }
        }
        let (weights, bias) = fit(features, labels);
        let mut classifier = Self {
            embedding_model: embedding_model.to_string(),
            weights,
            bias,
            threshold: 0.5,
            trained_on: trained_on.to_string(),
        };
        if held_out_benign.is_empty() {
            held_out_benign = features
                .iter()
                .zip(labels)
                .filter(|(_, &label)| !label)
                .map(|(x, _)| classifier.probability(x))
                .collect();
        }
        held_out_benign.sort_by(|a, b| b.total_cmp(a));
        // Just above the benign score that `max_fpr` of them may exceed.
        let allowed = (held_out_benign.len() as f32 * max_fpr).floor() as usize;
        let cut = held_out_benign.get(allowed).copied().unwrap_or(0.5);
        classifier.threshold = (cut + 1e-4).clamp(0.5, 0.999);
        classifier
    }
}

/// L2-regularised logistic regression by full-batch gradient descent from
/// zero, classes weighted to count equally.
fn fit(features: &[Vec<f32>], labels: &[bool]) -> (Vec<f32>, f32) {
    {
        let dimensions = features.first().map_or(0, Vec::len);
        let mut weights = vec![0f32; dimensions];
        let mut bias = 0f32;
        let positives = labels.iter().filter(|&&l| l).count().max(1) as f32;
        let negatives = labels.iter().filter(|&&l| !l).count().max(1) as f32;
        let n = features.len().max(1) as f32;
        // Classes weighted to balance: attacks and benign questions count equally.
        let class_weight = |label: bool| {
            if label {
                n / (2.0 * positives)
            } else {
                n / (2.0 * negatives)
            }
        };
        let (learning_rate, l2, epochs) = (2.0f32, 1e-3f32, 2000);
        for _ in 0..epochs {
            let mut gradient = vec![0f32; dimensions];
            let mut bias_gradient = 0f32;
            for (x, &label) in features.iter().zip(labels) {
                let z: f32 = weights.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + bias;
                let p = 1.0 / (1.0 + (-z).exp());
                let error = (p - f32::from(u8::from(label))) * class_weight(label);
                for (g, v) in gradient.iter_mut().zip(x) {
                    *g += error * v;
                }
                bias_gradient += error;
            }
            for (w, g) in weights.iter_mut().zip(&gradient) {
                *w -= learning_rate * (g / n + l2 * *w);
            }
            bias -= learning_rate * bias_gradient / n;
        }
        (weights, bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_separates_separable_data_and_respects_the_false_positive_budget() {
        let features: Vec<Vec<f32>> = (0..40)
            .map(|i| {
                let x = i as f32 / 40.0;
                vec![x, 1.0 - x]
            })
            .collect();
        let labels: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let classifier = InjectionClassifier::train("test", &features, &labels, 0.0, "unit");
        for (x, &label) in features.iter().zip(&labels) {
            if !label {
                assert!(classifier.probability(x) < classifier.threshold);
            }
        }
        assert!(classifier.probability(&[1.0, 0.0]) >= classifier.threshold);
        let again = InjectionClassifier::train("test", &features, &labels, 0.0, "unit");
        assert_eq!(classifier, again, "training is deterministic");
        assert!(classifier.check("test", 2).is_ok());
        assert!(classifier.check("test", 384).is_err());
        assert!(classifier.check("other", 2).is_err());
    }
}
