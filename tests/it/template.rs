//! Chat templates from GGUF metadata render exactly what the model expects.

use warden::model::{ChatMessage, ChatTemplate};

use crate::common::smollm2;

#[test]
fn smollm2_template_renders_exactly() {
    let model = smollm2();
    let rendered = model
        .render_chat(&[
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hi [1]"),
        ])
        .unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi [1]<|im_end|>\n<|im_start|>assistant\n"
    );
    assert!(!model.template().is_fallback);
}

#[test]
fn smollm2_template_inserts_its_default_system_line() {
    let rendered = smollm2()
        .render_chat(&[ChatMessage::user("Hello")])
        .unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn chatml_fallback_renders_when_a_model_has_no_template() {
    let template = ChatTemplate::new(None, String::new(), String::new()).unwrap();
    assert!(template.is_fallback);
    let rendered = template.render(&[ChatMessage::user("Q")]).unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn template_errors_are_reported_not_panicked() {
    let broken = ChatTemplate::new(Some("{% for x in %}".into()), String::new(), String::new());
    assert!(broken.is_err());
    let raising = ChatTemplate::new(
        Some("{{ raise_exception('roles must alternate') }}".into()),
        String::new(),
        String::new(),
    )
    .unwrap();
    let err = raising.render(&[ChatMessage::user("Q")]).unwrap_err();
    assert!(err.to_string().contains("roles must alternate"), "{err}");
}
