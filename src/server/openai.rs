//! The OpenAI-compatible surface: `/v1/chat/completions` (plain and SSE),
//! `/v1/models`, `/v1/embeddings`. The answer is Warden's verified answer with
//! `[n]` markers; `sources` and `warden` (verdicts, guard findings, review) ride
//! along as extra fields that OpenAI clients ignore and integrators can read.
//!
//! Streaming never shows unverified text: the draft is generated and checked
//! first (keep-alive comments hold the connection), then the verified answer
//! is sent as content deltas, exactly in OpenAI's chunk sequence.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc::unbounded_channel;

use crate::auth::Action;
use crate::guard::{Outcome, Verdict};
use crate::rag::SourceRef;
use crate::session::Delivered;

use super::engine::{Job, JobEvent, Overrides};
use super::error::ApiError;
use super::{authenticate, ApiJson, AppState};

/// The most messages and characters a request may carry.
const MAX_MESSAGES: usize = 256;
const MAX_EMBEDDING_INPUTS: usize = 256;
const MAX_EMBEDDING_CHARS: usize = 32_000;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default)]
    n: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

/// The text of a message: a string, or the text parts of a list.
fn message_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|part| part["type"] == "text")
                .filter_map(|part| part["text"].as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

impl ChatRequest {
    /// The question (the last user message) and the per-request settings.
    fn validate(&self, state: &AppState) -> Result<(String, Overrides), ApiError> {
        check_model(state, self.model.as_deref())?;
        if self.messages.is_empty() || self.messages.len() > MAX_MESSAGES {
            return Err(ApiError::bad_request(format!(
                "messages must hold 1 to {MAX_MESSAGES} messages"
            ))
            .param("messages"));
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::bad_request("only n = 1 is supported").param("n"));
        }
        if let Some(temperature) = self.temperature {
            if !(0.0..=2.0).contains(&temperature) {
                return Err(
                    ApiError::bad_request("temperature must be within 0..=2").param("temperature")
                );
            }
        }
        if let Some(top_p) = self.top_p {
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(ApiError::bad_request("top_p must be within (0, 1]").param("top_p"));
            }
        }
        let max_tokens = self.max_completion_tokens.or(self.max_tokens);
        if max_tokens == Some(0) {
            return Err(ApiError::bad_request("max_tokens must be at least 1").param("max_tokens"));
        }
        // Warden answers the latest user message from the knowledge base;
        // client system prompts do not override its rules.
        let question = self
            .messages
            .iter()
            .rev()
            .find(|message| message.role == "user")
            .and_then(|message| message_text(&message.content))
            .ok_or_else(|| {
                ApiError::bad_request("no user message with text content").param("messages")
            })?;
        Ok((
            question,
            Overrides {
                max_tokens: max_tokens.map(|tokens| tokens as usize),
                temperature: self.temperature,
                top_p: self.top_p,
                seed: self.seed.map(|seed| seed as u64),
            },
        ))
    }
}

fn check_model(state: &AppState, model: Option<&str>) -> Result<(), ApiError> {
    match model {
        None => Ok(()),
        Some(name) if name == state.model_name || name == "warden" => Ok(()),
        Some(name) if installed_models(state).iter().any(|entry| entry.name == name) => {
            Err(ApiError::not_found(format!(
                "the model `{name}` is installed but this server serves `{}`; start `warden serve --model {name}` to use it",
                state.model_name
            ))
            .param("model")
            .code("model_not_loaded"))
        }
        Some(name) => Err(ApiError::not_found(format!(
            "the model `{name}` does not exist; this server serves `{}` (see /v1/models)",
            state.model_name
        ))
        .param("model")
        .code("model_not_found")),
    }
}

fn completion_id() -> String {
    crate::crypto::random_id("chatcmpl-")
        .map(|id| id[..33].to_string())
        .unwrap_or_else(|_| "chatcmpl-warden".into())
}

/// How each source fared in the citation check.
fn support_of(delivered: &Delivered, source: &SourceRef) -> &'static str {
    let Some(verification) = &delivered.answer.verification else {
        return "not_cited";
    };
    let citing: Vec<_> = verification
        .sentences
        .iter()
        .filter(|sentence| sentence.citations.contains(&source.number))
        .collect();
    if citing
        .iter()
        .any(|sentence| sentence.verdict == Verdict::Supported)
    {
        "supported"
    } else if citing.is_empty() {
        "not_cited"
    } else {
        "unsupported"
    }
}

fn sources_json(delivered: &Delivered) -> Value {
    if delivered.held {
        return json!([]);
    }
    delivered
        .answer
        .sources
        .iter()
        .map(|source| {
            json!({
                "index": source.number,
                "document_id": source.document_id,
                "title": source.title,
                "source": source.source,
                "location": source.location,
                "span": { "start": source.start, "end": source.end },
                "score": (f64::from(source.score) * 1000.0).round() / 1000.0,
                "support": support_of(delivered, source),
                "text": source.text,
            })
        })
        .collect()
}

fn warden_json(delivered: &Delivered) -> Value {
    let answer = &delivered.answer;
    json!({
        "outcome": answer.outcome,
        "flagged_for_review": answer.flagged_for_review,
        "review_id": delivered.review_id,
        "held": delivered.held,
        "citations": answer.citations,
        "verification": if delivered.held { Value::Null } else { json!(answer.verification) },
        "guard": answer.guard,
        "notices": answer.notices,
        "model_sha256": answer.model.sha256,
        "index_generation": answer.index_generation,
        "tool": answer.tool,
    })
}

fn finish_reason(delivered: &Delivered) -> &'static str {
    if delivered.answer.outcome == Outcome::Blocked {
        return "content_filter";
    }
    match delivered
        .answer
        .timings
        .generation
        .as_ref()
        .map(|stats| stats.stop_reason)
    {
        Some(crate::model::StopReason::MaxTokens) | Some(crate::model::StopReason::ContextFull)
            if delivered.answer.outcome == Outcome::Answered =>
        {
            "length"
        }
        _ => "stop",
    }
}

fn usage_json(delivered: &Delivered) -> Value {
    let (prompt, completion) = delivered
        .answer
        .timings
        .generation
        .as_ref()
        .map_or((0, 0), |stats| {
            (stats.prompt_tokens, stats.generated_tokens)
        });
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

/// Queues the question and returns the receiver of its events.
fn submit(
    state: &AppState,
    principal: crate::auth::Principal,
    question: String,
    overrides: Overrides,
) -> Result<tokio::sync::mpsc::UnboundedReceiver<JobEvent>, ApiError> {
    let (events, receiver) = unbounded_channel();
    let job = Job {
        principal,
        question,
        overrides,
        events,
    };
    if state.engine.submit(job).is_err() {
        state.metrics.count("rejected_busy");
        return Err(ApiError::busy(state.retry_after_seconds()));
    }
    Ok(receiver)
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    let (question, overrides) = request.validate(&state)?;
    state
        .governance
        .require(&principal, Action::Ask, &principal.tenant)?;
    let mut receiver = submit(&state, principal, question, overrides)?;
    let id = completion_id();
    let created = crate::sealed::now();
    let model = state.model_name.clone();
    if !request.stream {
        let delivered = loop {
            match receiver.recv().await {
                Some(JobEvent::Done(result)) => break (*result)?,
                Some(JobEvent::Notice(_)) => continue,
                None => return Err(ApiError::internal("the answer engine stopped")),
            }
        };
        state.metrics.answered(&delivered);
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": format!("warden-{}", &delivered.answer.model.sha256[..12.min(delivered.answer.model.sha256.len())]),
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": delivered.answer.answer, "refusal": null },
                "logprobs": null,
                "finish_reason": finish_reason(&delivered),
            }],
            "usage": usage_json(&delivered),
            "sources": sources_json(&delivered),
            "warden": warden_json(&delivered),
        });
        return Ok(axum::Json(body).into_response());
    }

    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|options| options.include_usage);
    let metrics = state.clone();
    let chunk = move |delta: Value, finish: Value| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": null,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        })
    };
    let stream = async_stream(receiver, move |delivered: Option<&Delivered>| {
        let Some(delivered) = delivered else {
            return vec![chunk(
                json!({ "role": "assistant", "content": "" }),
                Value::Null,
            )];
        };
        metrics.metrics.answered(delivered);
        let mut events = Vec::new();
        for piece in pieces(&delivered.answer.answer) {
            events.push(chunk(json!({ "content": piece }), Value::Null));
        }
        let mut last = chunk(json!({}), json!(finish_reason(delivered)));
        last["sources"] = sources_json(delivered);
        last["warden"] = warden_json(delivered);
        events.push(last);
        if include_usage {
            let mut usage = chunk(json!({}), Value::Null);
            usage["choices"] = json!([]);
            usage["usage"] = usage_json(delivered);
            events.push(usage);
        }
        events
    });
    Ok(Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(5))
                .text("keep-alive"),
        )
        .into_response())
}

/// The answer cut into word-sized deltas (whitespace kept with the word).
fn pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if c.is_whitespace() && current.trim().chars().count() >= 1 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// SSE events for one job: the role chunk at once, then what `render` makes
/// of the finished answer, then `[DONE]`; an error becomes an `error` event.
fn async_stream(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<JobEvent>,
    render: impl Fn(Option<&Delivered>) -> Vec<Value> + Send + 'static,
) -> impl tokio_stream::Stream<Item = Result<Event, Infallible>> {
    let (sender, events) = unbounded_channel::<Event>();
    tokio::spawn(async move {
        let send = |value: Value| {
            sender
                .send(Event::default().data(value.to_string()))
                .is_ok()
        };
        for value in render(None) {
            if !send(value) {
                return;
            }
        }
        loop {
            let event = tokio::select! {
                event = receiver.recv() => event,
                // The client left: dropping `receiver` tells the engine to stop.
                _ = sender.closed() => return,
            };
            match event {
                Some(JobEvent::Notice(_)) => {}
                Some(JobEvent::Done(result)) => {
                    match *result {
                        Ok(delivered) => {
                            for value in render(Some(&delivered)) {
                                if !send(value) {
                                    return;
                                }
                            }
                        }
                        Err(err) => {
                            let err = ApiError::from(err);
                            send(json!({ "error": {
                                "message": err.message,
                                "type": err.kind,
                                "param": err.param,
                                "code": err.code,
                            }}));
                        }
                    }
                    let _ = sender.send(Event::default().data("[DONE]"));
                    return;
                }
                None => return,
            }
        }
    });
    tokio_stream::StreamExt::map(
        tokio_stream::wrappers::UnboundedReceiverStream::new(events),
        Ok::<_, Infallible>,
    )
}

pub async fn models(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers).await?;
    let created = state.started_at;
    let mut data = vec![
        json!({
            "id": state.model_name, "object": "model", "created": created, "owned_by": "warden",
            "loaded": true, "architecture": state.model_info.architecture,
            "context_length": state.model_info.context_length,
            "sha256": state.model_info.sha256,
            "verify_ms": state.model_info.verify_ms.round(),
            "load_ms": state.model_info.load_ms.round(),
        }),
        json!({ "id": crate::index::embed::EMBEDDING_WEIGHTS, "object": "model", "created": created, "owned_by": "warden", "loaded": true }),
    ];
    // The other generation models installed here: listed, not loaded.
    for entry in installed_models(&state) {
        if entry.name != state.model_name {
            data.push(json!({
                "id": entry.name, "object": "model", "created": created, "owned_by": "warden",
                "loaded": false, "architecture": entry.architecture,
            }));
        }
    }
    Ok(axum::Json(json!({ "object": "list", "data": data })).into_response())
}

/// Generation models pinned in the manifest whose files are present.
fn installed_models(state: &AppState) -> Vec<crate::model::manifest::ManifestEntry> {
    crate::model::Manifest::load(&state.config.models_dir)
        .map(|manifest| {
            manifest
                .entries
                .into_iter()
                .filter(|entry| {
                    entry.kind == "generation" && manifest.models_dir.join(&entry.file).is_file()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    input: Value,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    encoding_format: Option<String>,
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    if let Some(model) = request.model.as_deref() {
        if model != crate::index::embed::EMBEDDING_WEIGHTS && model != "warden" {
            return Err(ApiError::not_found(format!(
                "the embedding model `{model}` does not exist; use `{}`",
                crate::index::embed::EMBEDDING_WEIGHTS
            ))
            .param("model")
            .code("model_not_found"));
        }
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(
                ApiError::bad_request("encoding_format must be float or base64")
                    .param("encoding_format"),
            )
        }
    };
    let texts: Vec<String> = match &request.input {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => {
            return Err(ApiError::bad_request(
                "input must be a string or a non-empty array of strings (token arrays are not supported)",
            )
            .param("input"))
        }
    };
    if texts.len() > MAX_EMBEDDING_INPUTS
        || texts
            .iter()
            .any(|text| text.chars().count() > MAX_EMBEDDING_CHARS)
        || texts.iter().any(|text| text.is_empty())
    {
        return Err(ApiError::bad_request(format!(
            "input: at most {MAX_EMBEDDING_INPUTS} non-empty texts of at most {MAX_EMBEDDING_CHARS} characters"
        ))
        .param("input"));
    }
    state
        .governance
        .require(&principal, Action::Ask, &principal.tenant)?;
    state.governance.admit(&principal, "embeddings")?;
    let embedder = state.embedder.clone();
    let inputs = texts.clone();
    let vectors = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        embedder.embed_all(&refs, |_| {})
    })
    .await
    .map_err(|_| ApiError::internal("the embedding task failed"))?
    .map_err(|err| {
        tracing::error!("{err}");
        ApiError::internal("embedding failed")
    })?;
    let tokens: usize = texts
        .iter()
        .map(|text| text.split_whitespace().count())
        .sum();
    state.governance.record(
        &principal,
        &principal.tenant,
        "embeddings",
        "done",
        json!({ "inputs": texts.len() }),
    )?;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    Ok(axum::Json(json!({
        "object": "list",
        "data": data,
        "model": crate::index::embed::EMBEDDING_WEIGHTS,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .into_response())
}
