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
//! - `search/hnsw-<n>`: top-10 cosine queries over n random 384-d vectors;
//!   `search/hnsw-top10-filter-1-in-<m>`: the same with an access filter that
//!   admits one chunk in m, inside the graph search; `search/exact-top10-of-
//!   50-admitted`: the exact fallback for a scope too narrow for the graph.
//! - `governance/audit-append`: one sealed, chained, fsynced audit record and
//!   its checkpoint; `governance/rate-limit-admit`: one admission.
//! - `verify/answer-300-tokens-5-chunks`: citation verification of a
//!   ~300-token answer (13 sentences, some unsupported) against 5 demo chunks,
//!   as the reply to a question, as the pipeline checks its drafts.
//!
//! - `store/*`: the encrypted store on the PostgreSQL 15 manual (Debian's
//!   `postgresql-doc-15`, ~1,170 HTML pages, fetched by `make bench` with
//!   `scripts/fetch-bench-corpus`). One timed ingest of the whole corpus
//!   (MB/s, chunks/s, and the share of its time spent in AES-GCM) is printed;
//!   criterion then measures opening the tenant (catalog decryption, index
//!   load) and retrieval with decryption of the hit documents.
//!
//! - `guard/all-stages-1kb`: every rule-based scanner (input, retrieval and
//!   output stages) over 1 KB of answer-like text; `guard/input-question-with-
//!   classifier`: the input stage on one question, learned classifier included.
//!
//! Peak resident memory and the load time (hash check, then building the
//! weights) of each model are printed at the end. The optional
//! `qwen2.5-coder-1.5b` is benched when it is installed.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use warden::crypto::{KdfParams, Keyring, Unlock};
use warden::guard::{CitationVerifier, SourceText, VerifierSettings};
use warden::index::{Embedder, VectorIndex};
use warden::ingest::{ingest_path, IngestOptions, IngestProgress};
use warden::model::{ChatMessage, LanguageModel, Manifest, SamplingParams, WeightFormat};
use warden::rag::Retriever;
use warden::store::{EncryptedStore, KnowledgeStore, DEFAULT_TENANT};

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
        "{name} {weights:?}: +{} MiB resident after load; sha256 checked in {:.0} ms, loaded in {:.0} ms",
        resident_kib("VmRSS:").saturating_sub(before) / 1024,
        model.info.verify_ms,
        model.info.load_ms
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
    // Checked as the pipeline checks a draft: as the reply to a question,
    // which adds the checks that read the question's words.
    let question = "How many days of annual leave do I get, and who must approve my travel?";
    let verification = verifier.verify_reply(Some(question), &answer, &sources);
    println!(
        "verify case: answer of {tokens} tokens, {} sentences ({} not grounded) against {} chunks",
        verification.sentences.len(),
        verification.ungrounded(),
        sources.len()
    );
    let mut group = c.benchmark_group("verify");
    group.bench_function("answer-300-tokens-5-chunks", |b| {
        b.iter(|| verifier.verify_reply(Some(question), &answer, &sources))
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
        let index = VectorIndex::new(384, count).unwrap();
        for (i, v) in vectors.iter().enumerate() {
            index.add(i as u64, v).unwrap();
        }
        group.throughput(Throughput::Elements(queries.len() as u64));
        group.bench_function(BenchmarkId::new("hnsw-top10", count), |b| {
            b.iter(|| {
                for query in &queries {
                    index.search(query, 10).unwrap();
                }
            })
        });
        if count != 10_000 {
            continue;
        }
        // Access control inside the search: a principal admitted to 1 in
        // `every` chunks (the predicate runs on every candidate).
        for every in [2u64, 20, 200] {
            group.bench_function(
                BenchmarkId::new(format!("hnsw-top10-filter-1-in-{every}"), count),
                |b| {
                    b.iter(|| {
                        for query in &queries {
                            index
                                .search_filtered(query, 10, |key| key % every == 0)
                                .unwrap();
                        }
                    })
                },
            );
        }
        group.bench_function(BenchmarkId::new("exact-top10-of-50-admitted", count), |b| {
            b.iter(|| {
                for query in &queries {
                    index
                        .search_exact(query, 10, (0..50u64).map(|i| i * 200))
                        .unwrap();
                }
            })
        });
    }
    group.finish();
}

/// What governance adds to each question: one audit record (sealed, chained,
/// fsynced, checkpoint rewritten) and one rate-limit admission (sealed, fsynced).
fn bench_governance(c: &mut Criterion) {
    use warden::audit::{AuditLog, Entry};
    use warden::governance::{Limits, RateLimiter};
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::create(
        &dir.path().join("keyring"),
        &Unlock::Passphrase(zeroize::Zeroizing::new("bench passphrase".into())),
        KdfParams {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        },
        "bench",
    )
    .unwrap();
    let log = AuditLog::open(dir.path(), &keyring);
    let limiter = RateLimiter::open(
        dir.path(),
        &keyring,
        Limits {
            questions_per_minute: 0,
            tokens_per_day: 0,
        },
    );
    let payload = serde_json::json!({
        "question": "How many days of annual leave do I get after five years?",
        "retrieved": vec![serde_json::json!({"document": "d0123456789abcdef", "chunk": 12, "score": 0.71}); 5],
        "guard": [],
        "citations": {"supported": 3, "unsupported": 0, "uncited": 0, "wrong_citation": 0},
        "model": {"name": "qwen2.5-coder-0.5b", "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"},
    });
    let mut group = c.benchmark_group("governance");
    group.bench_function("audit-append", |b| {
        b.iter(|| {
            log.append(Entry {
                principal: "u0123456789abcdef".into(),
                tenant: "default".into(),
                action: "ask".into(),
                outcome: "answered".into(),
                payload: payload.clone(),
            })
            .unwrap()
        })
    });
    group.bench_function("rate-limit-admit", |b| {
        b.iter(|| limiter.admit_question("u0123456789abcdef", 1).unwrap())
    });
    group.finish();
    let started = std::time::Instant::now();
    let report = log.verify().unwrap();
    eprintln!(
        "governance: audit verify of {} records in {:.1} ms",
        report.records,
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// All rule-based scanners (input, retrieval and output stages) over about
/// 1 KB of mixed text: an answer with citations, a link, an e-mail, numbers.
fn bench_guard(c: &mut Criterion) {
    use warden::guard::scan::{GuardPolicy, Scanners, Stage};
    let scanners = Scanners::new(GuardPolicy::default());
    let paragraph = "According to [1], employees receive 28 working days of paid leave per year; \
        up to five unused days can be carried over to 31 March [2]. Questions go to \
        hr@northwind.example or +49 89 1234 5678, and the policy lives at \
        https://intranet.northwind.example/hr/leave. Run `git status` before you deploy. ";
    let text = paragraph.repeat(1024 / paragraph.len() + 1);
    let text = &text[..text.floor_char_boundary(1024)];
    let mut group = c.benchmark_group("guard");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("all-stages-1kb", |b| {
        b.iter(|| {
            for stage in [Stage::Input, Stage::Retrieval, Stage::Output] {
                std::hint::black_box(scanners.scan(stage, text, None));
            }
        })
    });
    // The input stage with the learned classifier: one MiniLM embedding more.
    let classifier_path = repo().join("models/guard-classifier.json");
    if let Ok(classifier) = warden::guard::scan::InjectionClassifier::load(&classifier_path) {
        let manifest = Manifest::load(&repo().join("models")).unwrap();
        let embedder = Arc::new(Embedder::load(&manifest).unwrap());
        let learned = Scanners::new(GuardPolicy::default()).with_classifier(classifier, embedder);
        let question = "How many days of paid annual leave does a full-time employee get?";
        group.throughput(Throughput::Elements(1));
        group.bench_function("input-question-with-classifier", |b| {
            b.iter(|| std::hint::black_box(learned.scan(Stage::Input, question, None)))
        });
    }
    group.finish();
}

/// Counts what the ingest did, for the throughput line.
#[derive(Default)]
struct Count {
    files: usize,
}

impl IngestProgress for Count {
    fn file_read(&mut self, _source: &str) {
        self.files += 1;
        if self.files.is_multiple_of(100) {
            eprintln!("  ingest: {} files read", self.files);
        }
    }
}

fn bench_store(c: &mut Criterion, embedder: Arc<Embedder>, summary: &mut Vec<String>) {
    let corpus = repo().join("target/bench-corpus/postgresql-doc-15");
    if !corpus.join("index.html").exists() {
        summary.push(format!(
            "store: skipped, {} is missing (run scripts/fetch-bench-corpus or make bench)",
            corpus.display()
        ));
        return;
    }
    let version = std::fs::read_to_string(corpus.with_extension("version")).unwrap_or_default();
    // The ingested store is kept: later runs measure open and retrieval without
    // embedding the corpus again (delete the folder to time the ingest again).
    let home = repo().join("target/bench-corpus/store-home");
    let measured = home.join("ingest.txt");
    let unlock = Unlock::Passphrase(zeroize::Zeroizing::new("bench passphrase".into()));
    if let Ok(line) = std::fs::read_to_string(&measured) {
        let keyring = Arc::new(Keyring::unlock(&home.join("keyring"), &unlock).unwrap());
        let store = Arc::new(EncryptedStore::open(&home.join("store"), keyring).unwrap());
        summary.push(format!(
            "{} (measured earlier: {})",
            line.trim(),
            measured.display()
        ));
        return bench_queries(c, store, embedder, summary);
    }
    let _ = std::fs::remove_dir_all(&home);
    let keyring = Arc::new(
        Keyring::create(
            &home.join("keyring"),
            &unlock,
            KdfParams::default(),
            "bench",
        )
        .unwrap(),
    );
    let store = Arc::new(EncryptedStore::create(&home.join("store"), keyring).unwrap());

    let (aead_before, _) = warden::crypto::aead_totals();
    let started = std::time::Instant::now();
    let report = ingest_path(
        &corpus,
        store.as_ref(),
        &embedder,
        &IngestOptions::default(),
        &mut Count::default(),
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let (aead_after, aead_bytes) = warden::crypto::aead_totals();
    let aead = aead_after - aead_before;
    let html_bytes: u64 = std::fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let disk: u64 = walkdir::WalkDir::new(home.join("store"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum();
    summary.push(format!(
        "store/ingest postgresql-doc-15 {} ({} threads): {} documents ({} failed, {} skipped), {:.1} MB HTML, {:.1} MB text, {} chunks in {:.1} s: {:.3} MB/s of HTML, {:.1} chunks/s; AES-GCM {:.3} s over {:.1} MB = {:.2}% of the ingest; store on disk {:.1} MB",
        version.trim(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
        report.ingested.len(),
        report.failed.len(),
        report.skipped.len(),
        html_bytes as f64 / 1e6,
        report.text_bytes as f64 / 1e6,
        report.chunks_embedded,
        seconds,
        html_bytes as f64 / 1e6 / seconds,
        report.chunks_embedded as f64 / seconds,
        aead,
        aead_bytes as f64 / 1e6,
        aead / seconds * 100.0,
        disk as f64 / 1e6,
    ));
    eprintln!("{}", summary.last().unwrap());
    std::fs::write(&measured, summary.last().unwrap()).unwrap();
    bench_queries(c, store, embedder, summary);
}

fn bench_queries(
    c: &mut Criterion,
    store: Arc<EncryptedStore>,
    embedder: Arc<Embedder>,
    summary: &mut Vec<String>,
) {
    let mut group = c.benchmark_group("store");
    group.bench_function("open-tenant-postgresql-doc-15", |b| {
        b.iter(|| Retriever::open(store.clone(), DEFAULT_TENANT, embedder.clone()).unwrap())
    });
    let retriever = Retriever::open(store.clone(), DEFAULT_TENANT, embedder.clone()).unwrap();
    let questions = [
        "How do I create a unique index on two columns?",
        "What does VACUUM FULL do?",
        "How can I set up streaming replication?",
        "Which isolation levels does PostgreSQL support?",
    ];
    group.throughput(Throughput::Elements(questions.len() as u64));
    group.bench_function("retrieve-top5-with-decryption", |b| {
        b.iter(|| {
            for question in &questions {
                retriever.clear_cache();
                retriever.retrieve(question, 5).unwrap();
            }
        })
    });
    group.finish();
    let catalog = store.catalog(DEFAULT_TENANT).unwrap();
    summary.push(format!(
        "store: tenant of {} documents / {} chunks (open and retrieval timed above)",
        catalog.documents.len(),
        catalog.total_chunks()
    ));
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
    // `cargo bench -- gemma3` runs one model's prefill and decode only.
    let names_a_model = |model: &str| {
        filter
            .as_deref()
            .is_some_and(|filter| model.contains(filter) || filter.contains(model))
    };
    let models = [
        "smollm2-135m",
        "qwen2.5-coder-0.5b",
        "gemma3-270m",
        "qwen2.5-coder-1.5b",
    ];
    let one_model = models.iter().any(|model| names_a_model(model));
    if wants("prefill") || wants("decode") || one_model {
        // Packed is the default; f16 is the previous default, kept beside it.
        for (model, weights) in [
            ("smollm2-135m", WeightFormat::Packed),
            ("smollm2-135m", WeightFormat::F16),
            ("qwen2.5-coder-0.5b", WeightFormat::Packed),
            ("qwen2.5-coder-0.5b", WeightFormat::F16),
            ("gemma3-270m", WeightFormat::Packed),
            ("gemma3-270m", WeightFormat::F16),
            // Optional: benched when installed (`scripts/fetch-models qwen2.5-coder-1.5b`).
            ("qwen2.5-coder-1.5b", WeightFormat::Packed),
            ("qwen2.5-coder-1.5b", WeightFormat::F16),
        ] {
            if one_model && !names_a_model(model) {
                continue;
            }
            let installed = Manifest::load(&repo().join("models"))
                .ok()
                .and_then(|manifest| {
                    let entry = manifest.entry(model)?;
                    Some(manifest.models_dir.join(&entry.file).is_file())
                })
                .unwrap_or(false);
            if !installed {
                println!("{model}: not installed, skipped");
                continue;
            }
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
    if wants("guard") {
        bench_guard(&mut criterion);
    }
    if wants("governance") {
        bench_governance(&mut criterion);
    }
    let mut store_summary = Vec::new();
    if wants("store") {
        let manifest = Manifest::load(&repo().join("models")).unwrap();
        let embedder = Arc::new(Embedder::load(&manifest).unwrap());
        bench_store(&mut criterion, embedder, &mut store_summary);
    }
    criterion.final_summary();
    for line in store_summary {
        println!("{line}");
    }
    println!("\nmemory:");
    for line in memory {
        println!("  {line}");
    }
    println!(
        "  peak resident (VmHWM): {} MiB",
        resident_kib("VmHWM:") / 1024
    );
}
