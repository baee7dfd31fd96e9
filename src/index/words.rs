//! Static word vectors taken from the embedding model's input table.
//!
//! The citation verifier compares single words ("staff" against "employees")
//! thousands of times per answer; running the transformer for that would cost
//! more than the answer. BERT's word-piece embedding table already places
//! related words near each other, so a word's vector here is the mean of its
//! word pieces' rows, centred on the table's mean and L2-normalised.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

/// Word-piece vocabulary and embedding table of a BERT-style model.
pub struct WordVectors {
    vocab: HashMap<String, u32>,
    table: Vec<f32>,
    mean: Vec<f32>,
    dimensions: usize,
}

impl WordVectors {
    /// `table` is row-major, one row of `dimensions` values per vocabulary id.
    pub fn new(vocab: HashMap<String, u32>, table: Vec<f32>, dimensions: usize) -> Self {
        let rows = table.len() / dimensions.max(1);
        let mut mean = vec![0f32; dimensions];
        for row in table.chunks_exact(dimensions) {
            for (sum, value) in mean.iter_mut().zip(row) {
                *sum += value;
            }
        }
        for sum in &mut mean {
            *sum /= rows.max(1) as f32;
        }
        Self {
            vocab,
            table,
            mean,
            dimensions,
        }
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The unit vector of a lower-case word, or `None` when the vocabulary
    /// cannot spell it.
    pub fn vector(&self, word: &str) -> Option<Vec<f32>> {
        // bert-base-uncased normalisation: decompose and drop accents.
        let plain: String = word
            .nfd()
            .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
            .flat_map(char::to_lowercase)
            .collect();
        let pieces = self.word_pieces(&plain)?;
        let mut vector = vec![0f32; self.dimensions];
        for id in &pieces {
            let row = &self.table[*id as usize * self.dimensions..][..self.dimensions];
            for (sum, value) in vector.iter_mut().zip(row) {
                *sum += value;
            }
        }
        let count = pieces.len() as f32;
        for (value, mean) in vector.iter_mut().zip(&self.mean) {
            *value = *value / count - mean;
        }
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm == 0.0 {
            return None;
        }
        for value in &mut vector {
            *value /= norm;
        }
        Some(vector)
    }

    /// Greedy longest-match-first word-piece split (BERT's WordPiece).
    fn word_pieces(&self, word: &str) -> Option<Vec<u32>> {
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while end > start {
                if word.is_char_boundary(end) {
                    let piece = if start == 0 {
                        self.vocab.get(&word[start..end])
                    } else {
                        self.vocab.get(&format!("##{}", &word[start..end]))
                    };
                    if let Some(&id) = piece {
                        found = Some(id);
                        break;
                    }
                }
                end -= 1;
            }
            pieces.push(found?);
            start = end;
        }
        (!pieces.is_empty()).then_some(pieces)
    }
}

/// Cosine of two unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU was just checked for the features the function is
        // compiled for; it reads only through the slices it is given.
        return unsafe { dot_avx2(a, b) };
    }
    dot_portable(a, b)
}

/// The same sum compiled for AVX2 and FMA: the verifier takes thousands of
/// these per answer, and the portable build only vectorises to SSE2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    // Sixteen partial sums let the compiler keep them in vector registers.
    let mut sums = [0f32; 16];
    let chunks_a = a.chunks_exact(16);
    let chunks_b = b.chunks_exact(16);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..16 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_words_with_pieces_and_averages() {
        let vocab: HashMap<String, u32> = [("play", 0), ("##ing", 1), ("run", 2)]
            .into_iter()
            .map(|(word, id)| (word.to_string(), id))
            .collect();
        let table = vec![1.0, 0.0, 0.0, 1.0, -1.0, -1.0];
        let vectors = WordVectors::new(vocab, table, 2);
        assert_eq!(vectors.word_pieces("playing"), Some(vec![0, 1]));
        assert_eq!(vectors.word_pieces("jump"), None);
        // mean of the table is 0; "playing" = (0.5, 0.5) normalised.
        let playing = vectors.vector("Playing").unwrap();
        assert!((playing[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!((dot(&playing, &vectors.vector("run").unwrap()) + 1.0).abs() < 1e-6);
    }
}
