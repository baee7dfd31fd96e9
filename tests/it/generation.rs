//! Generation with real models: determinism, limits, and grounded answers.

use std::ops::ControlFlow;

use warden::model::{
    ChatMessage, LanguageModel, ModelError, SamplingParams, StopReason, WeightFormat,
};
use warden::rag::AnswerEvent;

use crate::common::{manifest, small_pipeline, smollm2, QWEN2, SMOLLM2};

fn generate(
    model: &mut LanguageModel,
    params: &SamplingParams,
    max_tokens: usize,
) -> (String, StopReason) {
    let prompt = model
        .render_chat(&[ChatMessage::user("Write a short poem about the sea.")])
        .unwrap();
    let mut text = String::new();
    let stats = model
        .generate(&prompt, params, max_tokens, 4096, |piece| {
            text.push_str(piece);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(stats.generated_tokens <= max_tokens);
    (text, stats.stop_reason)
}

#[test]
fn seeded_sampling_is_deterministic() {
    let mut model = smollm2();
    let params = SamplingParams {
        temperature: 0.9,
        top_p: Some(0.95),
        seed: 7,
        ..SamplingParams::default()
    };
    let (first, _) = generate(&mut model, &params, 24);
    let (second, _) = generate(&mut model, &params, 24);
    assert!(!first.trim().is_empty());
    assert_eq!(first, second, "same seed, same text");
    let other_seeds: Vec<String> = (100..104)
        .map(|seed| {
            generate(
                &mut model,
                &SamplingParams {
                    seed,
                    ..params.clone()
                },
                24,
            )
            .0
        })
        .collect();
    assert!(
        other_seeds.iter().any(|text| text != &first),
        "four other seeds all reproduced seed 7's text: sampling ignores the seed"
    );
}

#[test]
fn generation_honours_max_tokens_and_stops_at_end_of_turn() {
    let mut model = smollm2();
    let (_, reason) = generate(&mut model, &SamplingParams::default(), 5);
    assert_eq!(reason, StopReason::MaxTokens);
    let prompt = model
        .render_chat(&[ChatMessage::user("Reply with just the word: yes")])
        .unwrap();
    let stats = model
        .generate(&prompt, &SamplingParams::default(), 64, 4096, |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(stats.stop_reason, StopReason::EndOfText, "{stats:?}");
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let mut model = smollm2();
    let prompt = "word ".repeat(600);
    let err = model
        .generate(&prompt, &SamplingParams::default(), 8, 256, |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(
        matches!(err, ModelError::PromptTooLong { available: 256, .. }),
        "{err}"
    );
}

fn answers_with_citation(model_name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = small_pipeline(dir.path(), model_name);
    let mut streamed = String::new();
    let answer = pipeline
        .ask(
            "How many days of paid annual leave does a full-time employee get per year?",
            &mut |event| {
                if let AnswerEvent::Token(piece) = event {
                    streamed.push_str(&piece);
                }
            },
        )
        .unwrap();
    // Tokens stream the draft; `answer` is what verification lets through.
    assert_eq!(streamed.trim(), answer.draft);
    assert!(answer.answered_by_model);
    assert!(
        answer.answer.contains("28"),
        "{model_name} did not state the 28 days: {:?}",
        answer.answer
    );
    let cited_leave_policy = answer.sources.iter().any(|source| {
        source.source == "hr/leave-policy.md" && answer.citations.contains(&source.number)
    });
    assert!(
        cited_leave_policy,
        "{model_name} did not cite the leave policy: {:?} sources {:?}",
        answer.answer,
        answer.sources.iter().map(|s| &s.source).collect::<Vec<_>>()
    );
}

#[test]
fn smollm2_answers_a_demo_question_with_a_citation() {
    answers_with_citation(SMOLLM2);
}

#[test]
fn qwen2_answers_a_demo_question_with_a_citation() {
    answers_with_citation(QWEN2);
}

#[test]
fn every_weight_format_loads_and_dense_formats_answer_correctly() {
    let manifest = manifest();
    let mut outputs = Vec::new();
    for format in [
        WeightFormat::Quantized,
        WeightFormat::Q8_0,
        WeightFormat::F16,
        WeightFormat::F32,
        WeightFormat::Packed,
    ] {
        let mut model = LanguageModel::load(&manifest, SMOLLM2, format).unwrap();
        let prompt = model
            .render_chat(&[ChatMessage::user("What is the capital of France?")])
            .unwrap();
        let mut text = String::new();
        model
            .generate(&prompt, &SamplingParams::default(), 6, 4096, |piece| {
                text.push_str(piece);
                ControlFlow::Continue(())
            })
            .unwrap();
        outputs.push((format, text));
    }
    // Dense weights (f16, f32) compute the same function; quantised
    // matmuls also quantise activations, so Q4_1 and Q8_0 agree with each other
    // (SmolLM2-135M then answers "L'Étoile", a known small-model slip).
    assert!(outputs[2].1.contains("Paris"), "{outputs:?}");
    assert_eq!(
        outputs[2].1, outputs[3].1,
        "f16 and f32 disagree: {outputs:?}"
    );
    assert!(
        !outputs[0].1.trim().is_empty() && !outputs[1].1.trim().is_empty(),
        "{outputs:?}"
    );
    // Packed weights (the default) quantise activations the way the file's
    // own kernels (and llama.cpp) do, and give the same answer as they do.
    assert_eq!(outputs[4].1, outputs[0].1, "{outputs:?}");
}

/// Gemma 3 270M (a base model): its architecture, SentencePiece vocabulary and
/// stop tokens come from the GGUF, and greedy generation continues a plain
/// text prompt with plain words. Chat quality is not claimed.
#[test]
fn gemma3_loads_and_generates() {
    // llama.cpp's greedy continuations on the same file (llama-simple),
    // which candle's own `quantized_gemma3` misses from the second token on
    // (SiLU instead of GELU in the feed-forward; see src/model/gemma3.rs).
    const LLAMA_CPP: &str =
        " the capital of the country of France. It is the largest city in France and";
    // An 800-token prompt runs the sliding-window path past the 512-token
    // window, in the prompt and while generating. Only that it runs is
    // asserted: token-for-token parity with llama.cpp does not hold this far
    // in (llama.cpp keeps its KV cache in f16, Warden in f32; already at 420
    // tokens the two pick different wordings), and 14 greedy tokens of a
    // 270M base model do not reliably state the answer.
    let policy: String =
        std::fs::read_to_string(crate::common::knowledge_dir().join("hr/leave-policy.md"))
            .unwrap()
            .chars()
            .take(3200)
            .collect();
    let long_prompt = format!(
        "{policy}\n\nQuestion: How many days of paid annual leave does a full-time employee get, and how many can be carried over?\nAnswer:"
    );
    for weights in [
        WeightFormat::Quantized,
        WeightFormat::F16,
        WeightFormat::Packed,
    ] {
        let started = std::time::Instant::now();
        let mut model = LanguageModel::load(&manifest(), crate::common::GEMMA3, weights).unwrap();
        eprintln!(
            "gemma3-270m {weights:?} loaded in {:.2} s (sha256 {:.2} s, weights {:.2} s)",
            started.elapsed().as_secs_f64(),
            model.info.verify_ms / 1e3,
            model.info.load_ms / 1e3
        );
        assert_eq!(model.info.architecture, "gemma3");
        let end_of_turn = model.tokenizer().token_to_id("<end_of_turn>").unwrap();
        assert!(
            model.stop_tokens().contains(&1),
            "{:?}",
            model.stop_tokens()
        );
        assert!(model.stop_tokens().contains(&end_of_turn));
        let text = greedy_text(&mut model, "The capital city of France is", 16);
        eprintln!("gemma3-270m {weights:?}: {text:?}");
        // Fed llama.cpp's tokens, the model picks each of them itself, except
        // where two tokens are near-tied: at " country|. vs | of" the
        // quantised formats differ from llama.cpp by 0.005 (candle's kernels)
        // and 0.07 (packed) logits, and free-running greedy text then
        // diverges; f16 follows llama.cpp exactly. A wrong model (candle's
        // SiLU gate, tried) misses at 4 tokens from the second on, by 0.4 to
        // 4.5 logits.
        let gaps = gaps_to_reference(&mut model, "The capital city of France is", LLAMA_CPP);
        eprintln!("gemma3-270m {weights:?}: gaps to llama.cpp {gaps:?}");
        assert!(gaps.iter().all(|&gap| gap < 0.1), "{weights:?}: {gaps:?}");
        assert!(
            gaps.iter().filter(|&&gap| gap == 0.0).count() >= gaps.len() - 1,
            "{weights:?}: {gaps:?}"
        );
        if weights == WeightFormat::F16 {
            assert_eq!(text, LLAMA_CPP);
        }
        assert!(model.count_tokens(&long_prompt).unwrap() > 512);
        let long = greedy_text(&mut model, &long_prompt, 14);
        eprintln!("gemma3-270m {weights:?}, long prompt: {long:?}");
    }
}

/// For each token of `reference` (another engine's greedy continuation of
/// `prompt`), how far its logit is below the model's best one: 0 where the
/// model picks the same token, small where the two are near-tied.
fn gaps_to_reference(model: &mut LanguageModel, prompt: &str, reference: &str) -> Vec<f32> {
    let prompt_ids = model.encode(prompt).unwrap();
    let all_ids = model.encode(&format!("{prompt}{reference}")).unwrap();
    assert!(
        all_ids.starts_with(&prompt_ids),
        "the prompt tokenizes the same alone"
    );
    let continuation = &all_ids[prompt_ids.len()..];
    let logits = model.forced_logits(prompt, continuation).unwrap();
    continuation
        .iter()
        .zip(&logits)
        .map(|(&token, logits)| {
            let best = logits.iter().copied().fold(f32::MIN, f32::max);
            best - logits[token as usize]
        })
        .collect()
}

/// Plain greedy generation, like llama-simple (no repeat penalty): exactly
/// `tokens` tokens, returned as text.
fn greedy_text(model: &mut LanguageModel, prompt: &str, tokens: usize) -> String {
    let greedy = SamplingParams {
        repeat_penalty: 1.0,
        ..SamplingParams::default()
    };
    let mut text = String::new();
    let stats = model
        .generate(prompt, &greedy, tokens, 4096, |piece| {
            text.push_str(piece);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(stats.generated_tokens, tokens, "{text:?}");
    text
}

/// The bundled models' greedy continuations are llama.cpp's on the same files
/// (`llama-simple -n 16`, recorded 2026-11-25): Warden's llama and qwen2
/// compute what the reference engine computes, in every weight format,
/// packed included (on a CPU without AVX-512 VNNI that loads as f16).
#[test]
fn greedy_output_matches_llama_cpp_on_the_bundled_models() {
    let cases = [
        (
            SMOLLM2,
            " Paris.\n\nThe United States has a population of approximately 311",
        ),
        (
            QWEN2,
            " Paris.\n\nTo determine the capital city of France, we need to recall the capital",
        ),
    ];
    let mut mismatches = Vec::new();
    for (name, expected) in cases {
        for weights in [
            WeightFormat::Quantized,
            WeightFormat::F16,
            WeightFormat::Packed,
        ] {
            let mut model = LanguageModel::load(&manifest(), name, weights).unwrap();
            assert_eq!(
                model.info.weights,
                weights.effective_on(&candle_core::Device::Cpu)
            );
            let text = greedy_text(&mut model, "The capital city of France is", 16);
            eprintln!("{name} {weights:?}: {text:?}");
            if text != expected {
                mismatches.push(format!(
                    "{name} {weights:?}: {text:?}, llama.cpp {expected:?}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
