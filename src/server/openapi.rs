//! `/openapi.json`: the API described for clients and fuzzers (OpenAPI 3.0).

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

fn error_responses() -> Value {
    let error = json!({ "$ref": "#/components/schemas/Error" });
    let body = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": error } } });
    json!({
        "400": body("invalid request"),
        "401": body("missing or invalid token"),
        "403": body("the token's roles do not allow this"),
        "404": body("not found (or not visible to this token)"),
        "413": body("body too large"),
        "429": body("rate limit, quota or queue full; see Retry-After"),
    })
}

fn operation(summary: &str, request: Option<Value>, ok: &str) -> Value {
    let mut responses = error_responses();
    responses["200"] = json!({ "description": ok, "content": { "application/json": { "schema": { "type": "object" } } } });
    let mut op =
        json!({ "summary": summary, "security": [{ "bearer": [] }], "responses": responses });
    if let Some(schema) = request {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    }
    op
}

/// The description of this server: its model and its roles are enumerated,
/// so generated requests are valid ones as often as invalid ones.
pub fn document(model: &str, roles: &[String]) -> Value {
    let message = json!({
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": { "type": "string", "enum": ["system", "user", "assistant", "developer"] },
            "content": { "type": "string" }
        }
    });
    let chat = json!({
        "type": "object",
        "required": ["messages"],
        "properties": {
            "model": { "type": "string", "enum": [model, "warden"] },
            "messages": { "type": "array", "items": message, "minItems": 1, "maxItems": 256 },
            "stream": { "type": "boolean" },
            "stream_options": { "type": "object", "properties": { "include_usage": { "type": "boolean" } } },
            "max_tokens": { "type": "integer", "minimum": 1, "maximum": 4096 },
            "max_completion_tokens": { "type": "integer", "minimum": 1, "maximum": 4096 },
            "temperature": { "type": "number", "minimum": 0, "maximum": 2 },
            "top_p": { "type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1 },
            "seed": { "type": "integer" },
            "n": { "type": "integer", "minimum": 1, "maximum": 1 }
        }
    });
    let embeddings = json!({
        "type": "object",
        "required": ["input"],
        "properties": {
            "input": { "oneOf": [
                { "type": "string", "minLength": 1 },
                { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1, "maxItems": 256 }
            ] },
            "model": { "type": "string", "enum": [crate::index::embed::EMBEDDING_WEIGHTS] },
            "encoding_format": { "type": "string", "enum": ["float", "base64"] }
        }
    });
    let new_document = json!({
        "type": "object",
        "required": ["name", "text"],
        "properties": {
            "name": { "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,95}\\.(md|txt)$" },
            "text": { "type": "string", "minLength": 1 },
            "labels": { "type": "array", "items": { "type": "string" } }
        }
    });
    let new_user = json!({
        "type": "object",
        "required": ["name", "roles"],
        "properties": {
            "name": { "type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}$" },
            "roles": { "type": "array", "items": { "type": "string", "enum": roles }, "minItems": 1 },
            "expires_days": { "type": "integer", "minimum": 0 }
        }
    });
    let id = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    let mut decide = operation(
        "Approve or reject a review item, or a tool call waiting for approval (ids starting with t; the approval that completes the count runs it, once)",
        Some(json!({ "type": "object", "properties": { "comment": { "type": "string" } } })),
        "the decided item",
    );
    decide["parameters"] = json!([id("id"), { "name": "decision", "in": "path", "required": true, "schema": { "type": "string", "enum": ["approve", "reject"] } }]);
    let mut delete_document = operation("Erase a document", None, "erased");
    delete_document["parameters"] = json!([id("id")]);
    let mut review = operation("List review items of the token's tenant", None, "items");
    review["parameters"] = json!([{ "name": "status", "in": "query", "schema": { "type": "string", "enum": ["pending", "approved", "rejected", "all"] } }]);
    let mut calls = operation(
        "List the tenant's tool calls waiting for approval",
        None,
        "tool calls",
    );
    calls["parameters"] = json!([{ "name": "status", "in": "query", "schema": { "type": "string", "enum": ["pending", "all"] } }]);
    let mut audit = operation("Export the tenant's audit records", None, "records");
    audit["parameters"] =
        json!([{ "name": "since", "in": "query", "schema": { "type": "integer", "minimum": 0 } }]);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Warden",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OpenAI-compatible answers from a company's own documents, verified and cited; admin endpoints under role-based access. Identity comes from the bearer token only."
        },
        "servers": [{ "url": "/" }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "object", "required": ["message", "type"], "properties": {
                        "message": { "type": "string" }, "type": { "type": "string" },
                        "param": { "type": "string", "nullable": true }, "code": { "type": "string", "nullable": true }
                    } } }
                }
            }
        },
        "paths": {
            "/v1/chat/completions": { "post": operation("Answer the last user message from the knowledge base, with sources and verdicts (stream with SSE)", Some(chat), "a chat completion") },
            "/v1/models": { "get": operation("The served models", None, "models") },
            "/v1/embeddings": { "post": operation("Embed texts with the retrieval model", Some(embeddings), "embeddings") },
            "/v1/documents": {
                "get": operation("Documents visible to the token", None, "documents"),
                "post": operation("Add or replace a text document", Some(new_document), "the ingest report")
            },
            "/v1/documents/{id}": { "delete": delete_document },
            "/v1/review": { "get": review },
            "/v1/review/calls": { "get": calls },
            "/v1/review/{id}/{decision}": { "post": decide },
            "/v1/audit": { "get": audit },
            "/v1/users": {
                "get": operation("Users of the token's tenant", None, "users"),
                "post": operation("Add a user; the token is in the response, once", Some(new_user), "the user and its token")
            },
            "/healthz": { "get": { "summary": "Liveness", "security": [], "responses": { "200": { "description": "ok", "content": { "text/plain": { "schema": { "type": "string" } } } } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "security": [], "responses": { "200": { "description": "metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } } } }
        }
    })
}

pub async fn spec(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<super::AppState>>,
) -> Response {
    let roles: Vec<String> = state.config.governance.roles.keys().cloned().collect();
    axum::Json(document(&state.model_name, &roles)).into_response()
}
