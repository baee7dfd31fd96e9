//! Warden's speed and memory figures (criterion). Run with `make bench`;
//! thread count from RAYON_NUM_THREADS (1 unless set). The README's table comes
//! from this run beside benches/peers (llama.cpp, sentence-transformers).
//!
//! Groups:
//! - `prefill/<model>/<weights>`: a 278-token prompt to the first token
//!   (time to first token; throughput = prompt tokens/s).
//! - `decode/<model>/<weights>`: 64 new tokens after a short prompt, greedy
//!   (throughput = generated tokens/s, prefill of 9 tokens included).
//! - `embed/minilm`: 256 sentences of ~45 tokens, batch 32 (sentences/s).
//! - `search/hnsw-<n>`: top-10 cosine queries over n random 384-d vectors.
//! - `verify/answer-300-tokens-5-chunks`: citation verification of a
//!   ~300-token answer (15 sentences, some unsupported) against 5 demo chunks.
//!
//! Peak resident memory after each model load is printed at the end.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use warden::guard::{CitationVerifier, SourceText, VerifierSettings};
use warden::index::{Embedder, VectorIndex};
use warden::model::{ChatMessage, LanguageModel, Manifest, SamplingParams, WeightFormat};

/// The same allocator as the `warden` binary, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROMPT_TOKENS: usize = 278;
const DECODE_TOKENS: usize = 64;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn resident_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A prompt of exactly `PROMPT_TOKENS` tokens for this model's tokenizer.
fn exact_prompt(model: &LanguageModel) -> String {
    let policy = std::fs::read_to_string(repo().join("knowledge/hr/leave-policy.md")).unwrap();
    let words: Vec<&str> = policy.split_whitespace().collect();
    let mut count = 1;
    loop {
        let text = model
            .render_chat(&[ChatMessage::user(words[..count].join(" "))])
            .unwrap();
        let tokens = model.encode(&text).unwrap().len();
        if tokens >= PROMPT_TOKENS || count == words.len() {
            // Trim back one word at a time to land on the target.
            let mut trimmed = count;
            loop {
                let text = model
                    .render_chat(&[ChatMessage::user(words[..trimmed].join(" "))])
                    .unwrap();
                if model.encode(&text).unwrap().len() <= PROMPT_TOKENS || trimmed == 1 {
                    return text;
                }
                trimmed -= 1;
            }
        }
        count += 1;
    }
}

fn bench_model(c: &mut Criterion, memory: &mut Vec<String>, name: &str, weights: WeightFormat) {
    let manifest = Manifest::load(&repo().join("models")).unwrap();
    let before = resident_kib("VmRSS:");
    let mut model = LanguageModel::load(&manifest, name, weights).unwrap();
    memory.push(format!(
        "{name} {weights:?}: +{} MiB resident after load",
        resident_kib("VmRSS:").saturating_sub(before) / 1024
    ));
    model.disable_stop_tokens();
    let greedy = SamplingParams::default();
    let label = format!("{name}/{weights:?}").to_lowercase();

    let prompt = exact_prompt(&model);
    let tokens = model.encode(&prompt).unwrap().len();
    let mut group = c.benchmark_group("prefill");
    group.throughput(Throughput::Elements(tokens as u64));
    group.bench_function(BenchmarkId::from_parameter(&label), |b| {
        b.iter(|| {
            model
                .generate(&prompt, &greedy, 1, 4096, |_| ControlFlow::Continue(()))
                .unwrap()
        })
    });
    group.finish();

    let short = model
        .render_chat(&[ChatMessage::user("Tell me a story.")])
        .unwrap();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(DECODE_TOKENS as u64));
    group.bench_function(BenchmarkId::from_parameter(&label), |b| {
        b.iter(|| {
            let stats = model
                .generate(&short, &greedy, DECODE_TOKENS, 4096, |_| {
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(stats.generated_tokens, DECODE_TOKENS);
        })
    });
    group.finish();
}

fn sentences() -> Vec<String> {
    let path = repo().join("benches/peers/results/sentences.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: it holds the sentences both Warden and the peer embed",
            path.display()
        )
    });
    text.lines().take(256).map(str::to_string).collect()
}

fn bench_embeddings(c: &mut Criterion, memory: &mut Vec<String>) {
    let manifest = Manifest::load(&repo().join("models")).unwrap();
    let before = resident_kib("VmRSS:");
    let embedder = Embedder::load(&manifest).unwrap();
    memory.push(format!(
        "all-MiniLM-L6-v2: +{} MiB resident after load",
        resident_kib("VmRSS:").saturating_sub(before) / 1024
    ));
    let sentences = sentences();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("embed");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("minilm", |b| {
        b.iter(|| embedder.embed_all(&texts, |_| {}).unwrap())
    });
    group.finish();
}

/// Five chunks of demo knowledge and an answer of ~300 tokens citing them:
/// copied, paraphrased and altered sentences.
fn verification_case() -> (Vec<(String, String)>, String) {
    let documents = [
        "hr/leave-policy.md",
        "finance/expenses-policy.md",
        "it-security/password-mfa-policy.md",
        "finance/payment-details-change.md",
        "hr/remote-work-policy.md",
    ];
    let mut chunks = Vec::new();
    for document in documents {
        let text = std::fs::read_to_string(repo().join("knowledge").join(document)).unwrap();
        let title = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("# ")
            .to_string();
        // A chunk-sized passage from the body, on a line boundary.
        let start = text.find("\n## ").unwrap_or(0);
        let mut end = (start + 850).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        chunks.push((title, text[start..end].to_string()));
    }
    let mut answer = String::new();
    for (index, (_, chunk)) in chunks.iter().enumerate() {
        let sentences: Vec<&str> = chunk
            .split(['.', '\n'])
            .map(str::trim)
            .filter(|s| s.len() > 40 && !s.starts_with('#') && !s.starts_with('|'))
            .take(3)
            .collect();
        for (n, sentence) in sentences.iter().enumerate() {
            let sentence = sentence.trim_start_matches(['-', '*', ' ']);
            match n {
                0 => answer.push_str(&format!("According to [{}], {sentence}. ", index + 1)),
                1 => answer.push_str(&format!("{sentence} [{}]. ", index + 1)),
                // Altered: every digit changed, or an unsupported addition.
                _ => {
                    let altered: String = sentence
                        .chars()
                        .map(|c| if c.is_ascii_digit() { '9' } else { c })
                        .collect();
                    let altered = if altered == sentence {
                        format!("{sentence}, and this also applies to contractors abroad")
                    } else {
                        altered
                    };
                    answer.push_str(&format!("{altered} [{}]. ", index + 1))
                }
            }
        }
    }
    (chunks, answer.trim_end().to_string())
}

fn bench_verify(c: &mut Criterion, embedder: &Embedder) {
    let vectors = std::sync::Arc::new(embedder.word_vectors().unwrap());
    let verifier = CitationVerifier::new(VerifierSettings::default(), Some(vectors));
    let (chunks, answer) = verification_case();
    let sources: Vec<SourceText> = chunks
        .iter()
        .map(|(title, text)| SourceText::new(title, text))
        .collect();
    let manifest = Manifest::load(&repo().join("models")).unwrap();
    let qwen =
        LanguageModel::load(&manifest, "qwen2.5-coder-0.5b", WeightFormat::Quantized).unwrap();
    let tokens = qwen.count_tokens(&answer).unwrap();
    let verification = verifier.verify(&answer, &sources);
    println!(
        "verify case: answer of {tokens} tokens, {} sentences ({} not grounded) against {} chunks",
        verification.sentences.len(),
        verification.ungrounded(),
        sources.len()
    );
    let mut group = c.benchmark_group("verify");
    group.bench_function("answer-300-tokens-5-chunks", |b| {
        b.iter(|| verifier.verify(&answer, &sources))
    });
    group.finish();
}

fn random_unit_vectors(count: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    (0..count)
        .map(|_| {
            let v: Vec<f32> = (0..dimensions).map(|_| next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn bench_search(c: &mut Criterion) {
    let queries = random_unit_vectors(256, 384, 99);
    let mut group = c.benchmark_group("search");
    for count in [10_000usize, 100_000] {
        let vectors = random_unit_vectors(count, 384, 7);
        let index = VectorIndex::build(
            384,
            vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u64, v.as_slice())),
        )
        .unwrap();
        group.throughput(Throughput::Elements(queries.len() as u64));
        group.bench_function(BenchmarkId::new("hnsw-top10", count), |b| {
            b.iter(|| {
                for query in &queries {
                    index.search(query, 10).unwrap();
                }
            })
        });
    }
    group.finish();
}

fn main() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut memory = Vec::new();
    // A filter argument (`cargo bench -- verify`) skips the other groups' set-up too.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let wants = |group: &str| {
        filter
            .as_deref()
            .is_none_or(|filter| group.contains(filter) || filter.contains(group))
    };
    if wants("prefill") || wants("decode") {
        for (model, weights) in [
            ("smollm2-135m", WeightFormat::Quantized),
            ("smollm2-135m", WeightFormat::F16),
            ("smollm2-135m", WeightFormat::F32),
            ("qwen2.5-coder-0.5b", WeightFormat::F16),
        ] {
            bench_model(&mut criterion, &mut memory, model, weights);
        }
    }
    if wants("embed") {
        bench_embeddings(&mut criterion, &mut memory);
    }
    if wants("search") {
        bench_search(&mut criterion);
    }
    if wants("verify") {
        let manifest = Manifest::load(&repo().join("models")).unwrap();
        bench_verify(&mut criterion, &Embedder::load(&manifest).unwrap());
    }
    criterion.final_summary();
    println!("\nmemory:");
    for line in memory {
        println!("  {line}");
    }
    println!(
        "  peak resident (VmHWM): {} MiB",
        resident_kib("VmHWM:") / 1024
    );
}
