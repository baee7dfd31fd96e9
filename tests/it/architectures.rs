//! Architectures without a small public model here (qwen3, phi3): the test
//! writes a random-weight GGUF with candle's GGUF writer — real metadata
//! keys, real tensor names and shapes, a SentencePiece-style vocabulary —
//! pins it in a manifest and loads and runs it through the same code path as
//! any user-supplied model.

use std::ops::ControlFlow;
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use warden::model::{LanguageModel, Manifest, SamplingParams, WeightFormat};

const HIDDEN: usize = 64;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 128;
const LAYERS: usize = 2;

/// The vocabulary: specials, the 256 byte tokens, and letters with `▁`.
fn vocabulary() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>"].map(String::from).to_vec();
    let mut types = vec![2, 3, 3];
    for byte in 0..=255u8 {
        tokens.push(format!("<0x{byte:02X}>"));
        types.push(6);
    }
    for c in "▁abcdefghijklmnopqrstuvwxyz".chars() {
        tokens.push(c.to_string());
        types.push(1);
    }
    for piece in ["▁t", "he", "▁the", "▁a", "in", "▁in"] {
        tokens.push(piece.to_string());
        types.push(1);
    }
    let scores = (0..tokens.len()).map(|i| -(i as f32)).collect();
    (tokens, scores, types)
}

fn random(shape: &[usize]) -> QTensor {
    let tensor = Tensor::randn(0f32, 0.2, shape, &Device::Cpu).unwrap();
    QTensor::quantize(&tensor, GgmlDType::F32).unwrap()
}

fn ones(size: usize) -> QTensor {
    QTensor::quantize(
        &Tensor::ones(size, candle_core::DType::F32, &Device::Cpu).unwrap(),
        GgmlDType::F32,
    )
    .unwrap()
}

/// Writes a random `architecture` model into `dir` and a manifest pinning it.
fn write_model(dir: &Path, architecture: &str) -> Manifest {
    let (tokens, scores, types) = vocabulary();
    let vocab = tokens.len();
    let key = |name: &str| format!("{architecture}.{name}");
    let mut metadata: Vec<(String, gguf_file::Value)> = vec![
        (
            "general.architecture".into(),
            gguf_file::Value::String(architecture.into()),
        ),
        (key("context_length"), gguf_file::Value::U32(256)),
        (
            key("embedding_length"),
            gguf_file::Value::U32(HIDDEN as u32),
        ),
        (key("block_count"), gguf_file::Value::U32(LAYERS as u32)),
        (
            key("feed_forward_length"),
            gguf_file::Value::U32(FFN as u32),
        ),
        (
            key("attention.head_count"),
            gguf_file::Value::U32(HEADS as u32),
        ),
        (
            key("attention.head_count_kv"),
            gguf_file::Value::U32(KV_HEADS as u32),
        ),
        (
            key("attention.key_length"),
            gguf_file::Value::U32(HEAD_DIM as u32),
        ),
        (
            key("attention.layer_norm_rms_epsilon"),
            gguf_file::Value::F32(1e-6),
        ),
        (key("rope.freq_base"), gguf_file::Value::F32(10_000.0)),
        (
            key("rope.dimension_count"),
            gguf_file::Value::U32(HEAD_DIM as u32),
        ),
        (
            "tokenizer.ggml.model".into(),
            gguf_file::Value::String("llama".into()),
        ),
        (
            "tokenizer.ggml.tokens".into(),
            gguf_file::Value::Array(
                tokens
                    .iter()
                    .cloned()
                    .map(gguf_file::Value::String)
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.scores".into(),
            gguf_file::Value::Array(scores.into_iter().map(gguf_file::Value::F32).collect()),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            gguf_file::Value::Array(types.into_iter().map(gguf_file::Value::I32).collect()),
        ),
        (
            "tokenizer.ggml.bos_token_id".into(),
            gguf_file::Value::U32(1),
        ),
        (
            "tokenizer.ggml.eos_token_id".into(),
            gguf_file::Value::U32(2),
        ),
        (
            "tokenizer.ggml.unknown_token_id".into(),
            gguf_file::Value::U32(0),
        ),
        (
            "tokenizer.ggml.add_bos_token".into(),
            gguf_file::Value::Bool(true),
        ),
    ];
    metadata.push((
        "general.name".into(),
        gguf_file::Value::String(format!("random {architecture}")),
    ));

    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), random(&[vocab, HIDDEN])),
        ("output_norm.weight".into(), ones(HIDDEN)),
        ("output.weight".into(), random(&[vocab, HIDDEN])),
    ];
    for layer in 0..LAYERS {
        let name = |tensor: &str| format!("blk.{layer}.{tensor}.weight");
        tensors.push((name("attn_norm"), ones(HIDDEN)));
        tensors.push((name("ffn_norm"), ones(HIDDEN)));
        tensors.push((name("attn_output"), random(&[HIDDEN, HEADS * HEAD_DIM])));
        tensors.push((name("ffn_down"), random(&[HIDDEN, FFN])));
        match architecture {
            "qwen3" => {
                tensors.push((name("attn_q"), random(&[HEADS * HEAD_DIM, HIDDEN])));
                tensors.push((name("attn_k"), random(&[KV_HEADS * HEAD_DIM, HIDDEN])));
                tensors.push((name("attn_v"), random(&[KV_HEADS * HEAD_DIM, HIDDEN])));
                tensors.push((name("attn_q_norm"), ones(HEAD_DIM)));
                tensors.push((name("attn_k_norm"), ones(HEAD_DIM)));
                tensors.push((name("ffn_gate"), random(&[FFN, HIDDEN])));
                tensors.push((name("ffn_up"), random(&[FFN, HIDDEN])));
            }
            "phi3" => {
                let qkv = (HEADS + 2 * KV_HEADS) * HEAD_DIM;
                tensors.push((name("attn_qkv"), random(&[qkv, HIDDEN])));
                // Gate and up projections fused.
                tensors.push((name("ffn_up"), random(&[2 * FFN, HIDDEN])));
            }
            other => panic!("no layout for {other}"),
        }
    }
    let file = format!("random-{architecture}.gguf");
    let path = dir.join(&file);
    let mut out = std::fs::File::create(&path).unwrap();
    let metadata_refs: Vec<(&str, &gguf_file::Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut out, &metadata_refs, &tensor_refs).unwrap();
    drop(out);

    let bytes = std::fs::read(&path).unwrap();
    let sha256 = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(&bytes))
    };
    std::fs::write(
        dir.join("manifest.toml"),
        format!(
            "[[model]]\nname = \"random-{architecture}\"\nkind = \"generation\"\nfile = \"{file}\"\n\
             architecture = \"{architecture}\"\nsha256 = \"{sha256}\"\nsize = {}\n\
             licence = \"test data\"\nsource = \"written by the test\"\n",
            bytes.len()
        ),
    )
    .unwrap();
    Manifest::load(dir).unwrap()
}

fn loads_and_generates(architecture: &str) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_model(dir.path(), architecture);
    for format in [
        WeightFormat::Quantized,
        WeightFormat::F16,
        WeightFormat::Packed,
    ] {
        let mut model =
            LanguageModel::load(&manifest, &format!("random-{architecture}"), format).unwrap();
        assert_eq!(model.info.architecture, architecture);
        assert_eq!(model.info.context_length, 256);
        assert_eq!(model.encode("the").unwrap().len(), 2, "bos + ▁the");
        let mut pieces = 0;
        let stats = model
            .generate("in the", &SamplingParams::default(), 6, 256, |_| {
                pieces += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(stats.generated_tokens >= 1 && stats.generated_tokens <= 6);
        assert!(pieces >= 1);
    }
    // One byte flipped: the manifest refuses it before any parsing.
    let path = dir.path().join(format!("random-{architecture}.gguf"));
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    assert!(LanguageModel::load(
        &manifest,
        &format!("random-{architecture}"),
        WeightFormat::Quantized
    )
    .is_err());
}

#[test]
fn a_random_qwen3_loads_and_generates() {
    loads_and_generates("qwen3");
}

#[test]
fn a_random_phi3_loads_and_generates() {
    loads_and_generates("phi3");
}
