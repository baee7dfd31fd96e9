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
//!
//! Peak resident memory after each model load is printed at the end.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
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
    bench_model(
        &mut criterion,
        &mut memory,
        "smollm2-135m",
        WeightFormat::Quantized,
    );
    bench_model(
        &mut criterion,
        &mut memory,
        "smollm2-135m",
        WeightFormat::F16,
    );
    bench_model(
        &mut criterion,
        &mut memory,
        "smollm2-135m",
        WeightFormat::F32,
    );
    bench_model(
        &mut criterion,
        &mut memory,
        "qwen2.5-coder-0.5b",
        WeightFormat::F16,
    );
    bench_embeddings(&mut criterion, &mut memory);
    bench_search(&mut criterion);
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
