//! Chat templates: turning a conversation into the exact prompt text the model
//! was trained on.
//!
//! The template comes from the GGUF's `tokenizer.chat_template` (a Jinja
//! template, rendered with minijinja and Python-compatible string methods);
//! models without one fall back to ChatML.

use minijinja::{context, Environment, Error as JinjaError, ErrorKind};
use serde::Serialize;

use super::ModelError;

/// ChatML, used when a model ships no template of its own.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// One turn of a conversation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }
}

/// A compiled chat template plus the special tokens it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    pub is_fallback: bool,
}

impl ChatTemplate {
    /// Compiles `source`, or ChatML when `source` is `None`.
    pub fn new(
        source: Option<String>,
        bos_token: String,
        eos_token: String,
    ) -> Result<Self, ModelError> {
        let is_fallback = source.is_none();
        let source = source.unwrap_or_else(|| CHATML_TEMPLATE.to_string());
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, JinjaError> {
                Err(JinjaError::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned("chat", source)
            .map_err(|err| ModelError::Template {
                message: err.to_string(),
            })?;
        Ok(Self {
            env,
            bos_token,
            eos_token,
            is_fallback,
        })
    }

    /// Renders the conversation, ending with the assistant's turn opened.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|err| ModelError::Template {
                message: err.to_string(),
            })?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|err| ModelError::Template {
                message: err.to_string(),
            })
    }
}
