//! The GGUF-built tokenizers give exactly llama.cpp's ids and round-trip text.

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::common::{manifest, models_dir};
use warden::model::gguf::read_header;
use warden::model::tokenizer::tokenizer_for;

#[derive(Deserialize)]
struct Fixture {
    models: BTreeMap<String, Vec<Case>>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

fn fixture() -> Fixture {
    let text =
        std::fs::read_to_string(crate::common::repo().join("tests/fixtures/tokenizer_ids.json"))
            .expect("tokenizer fixture exists");
    serde_json::from_str(&text).expect("tokenizer fixture parses")
}

fn check_model(name: &str) {
    let entry = manifest().entry(name).unwrap().clone();
    let path = models_dir().join(&entry.file);
    let (_, content) = read_header(&path).unwrap();
    let tokenizer = tokenizer_for(&content, &path).unwrap();
    let fixture = fixture();
    let cases = fixture
        .models
        .get(&entry.file)
        .unwrap_or_else(|| panic!("fixture has no cases for {}", entry.file));
    assert!(cases.len() >= 10, "too few fixture strings for {name}");
    for case in cases {
        let ids = tokenizer.encode(case.text.as_str(), false).unwrap();
        assert_eq!(
            ids.get_ids(),
            case.ids.as_slice(),
            "{name}: ids differ from llama.cpp for {:?}",
            case.text
        );
        let decoded = tokenizer.decode(&case.ids, false).unwrap();
        assert_eq!(
            decoded, case.text,
            "{name}: round trip changed {:?}",
            case.text
        );
    }
}

#[test]
fn smollm2_ids_match_llama_cpp_and_round_trip() {
    check_model(crate::common::SMOLLM2);
}

#[test]
fn qwen2_ids_match_llama_cpp_and_round_trip() {
    check_model(crate::common::QWEN2);
}

/// SentencePiece-style vocabulary (`tokenizer.ggml.model = "llama"`), built
/// from the GGUF's tokens, scores and token types.
#[test]
fn gemma3_ids_match_llama_cpp_and_round_trip() {
    check_model(crate::common::GEMMA3);
}

#[test]
fn stop_tokens_are_llama_cpps_end_of_generation_set() {
    let metadata: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::repo().join("tests/fixtures/gguf_metadata.json"))
            .unwrap(),
    )
    .unwrap();
    let manifest = manifest();
    for name in [crate::common::SMOLLM2, crate::common::QWEN2] {
        let entry = manifest.entry(name).unwrap();
        let mut expected: Vec<u32> = metadata["models"][&entry.file]["llama_cpp"]["eog_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_u64().unwrap() as u32)
            .collect();
        expected.sort_unstable();
        let model = warden::model::LanguageModel::load(
            &manifest,
            name,
            warden::model::WeightFormat::Quantized,
        )
        .unwrap();
        assert_eq!(model.stop_tokens(), expected.as_slice(), "{name}");
    }
}
