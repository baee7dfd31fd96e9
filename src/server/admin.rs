//! Admin endpoints under the same roles as the CLI: documents (list, add,
//! delete), the review queue, the audit log, users. Everything is scoped to
//! the token's tenant; another tenant's resources are 404, never 403.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Action, Principal, UserInfo};
use crate::governance::{Decision, ReviewStatus};
use crate::ingest::{forget_document, ingest_path, IngestOptions};

use super::error::ApiError;
use super::{authenticate, ApiJson, AppState};

/// Authenticates and checks one action in the token's tenant (audited).
async fn principal_for(
    state: &AppState,
    headers: &HeaderMap,
    action: Action,
) -> Result<Principal, ApiError> {
    let principal = authenticate(state, headers).await?;
    state
        .governance
        .require(&principal, action, &principal.tenant)?;
    Ok(principal)
}

/// Runs blocking store work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::internal("the task failed"))?
}

fn list<T: serde::Serialize>(data: T) -> Response {
    axum::Json(json!({ "object": "list", "data": data })).into_response()
}

pub async fn list_documents(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Ask).await?;
    let store = state.store.clone();
    let tenant = principal.tenant.clone();
    let catalog = blocking(move || Ok(store.catalog(&tenant)?)).await?;
    let documents: Vec<Value> = catalog
        .documents
        .iter()
        .filter(|document| principal.labels.admits(&document.labels))
        .map(|document| {
            json!({
                "id": document.id,
                "source": document.source,
                "title": document.title,
                "format": document.format,
                "labels": document.labels,
                "chunks": document.chunks,
                "guard": document.guard,
                "ingested_at": document.ingested_at,
            })
        })
        .collect();
    state.governance.record(
        &principal,
        &principal.tenant,
        "docs list",
        "done",
        json!({ "documents": documents.len() }),
    )?;
    Ok(list(documents))
}

#[derive(Debug, Deserialize)]
pub struct NewDocument {
    /// File name, e.g. `travel-policy.md` (`.md` or `.txt`).
    name: String,
    text: String,
    #[serde(default)]
    labels: Vec<String>,
}

/// Where an uploaded text waits while ingest reads it: memory (`/dev/shm`)
/// where the system has it, so the plaintext never reaches a disk; else the
/// home. The path is the document's identity, so it must be stable per home.
fn staging_dir(home: &std::path::Path) -> std::path::PathBuf {
    use sha2::Digest;
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        let id = hex::encode(&sha2::Sha256::digest(home.to_string_lossy().as_bytes())[..8]);
        return shm.join(format!("warden-uploads-{id}"));
    }
    home.join("uploads")
}

fn valid_document_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && (name.ends_with(".md") || name.ends_with(".txt"))
}

pub async fn add_document(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(document): ApiJson<NewDocument>,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Ingest).await?;
    if !valid_document_name(&document.name) {
        return Err(ApiError::bad_request(
            "name: 1 to 100 letters, digits, `.`, `-` or `_`, ending in .md or .txt",
        )
        .param("name"));
    }
    if document.text.trim().is_empty() {
        return Err(ApiError::bad_request("text is empty").param("text"));
    }
    principal.require_labels(&document.labels)?;
    let store = state.store.clone();
    let embedder = state.embedder.clone();
    let uploads = staging_dir(&state.config.home).join(&principal.tenant);
    let options = IngestOptions {
        tenant: principal.tenant.clone(),
        labels: document.labels.clone(),
        chunking: state.config.chunking.clone(),
        ..IngestOptions::default()
    };
    let name = document.name.clone();
    let report = blocking(move || {
        // The text passes through a file only for as long as ingest reads it;
        // the file's path is the document's identity, so the same name replaces.
        std::fs::create_dir_all(&uploads)
            .map_err(|err| ApiError::internal(format!("cannot create the upload folder: {err}")))?;
        let path = uploads.join(&name);
        std::fs::write(&path, document.text.as_bytes())
            .map_err(|err| ApiError::internal(format!("cannot stage the upload: {err}")))?;
        let report = ingest_path(&path, store.as_ref(), &embedder, &options, &mut ());
        let _ = std::fs::remove_file(&path);
        report.map_err(|err| ApiError::bad_request(err.to_string()))
    })
    .await?;
    state.governance.record(
        &principal,
        &principal.tenant,
        "ingest",
        if report.failed.is_empty() {
            "done"
        } else {
            "failed"
        },
        json!({ "document": document.name, "labels": document.labels, "via": "http" }),
    )?;
    if let Some(failed) = report.failed.first() {
        return Err(ApiError::bad_request(failed.reason.clone()).param("text"));
    }
    let status = if report.ingested.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(json!({
            "ingested": report.ingested,
            "replaced": report.replaced,
            "unchanged": report.unchanged,
            "guarded": report.guarded.iter().map(|issue| &issue.reason).collect::<Vec<_>>(),
            "chunks": report.chunks_embedded,
        })),
    )
        .into_response())
}

pub async fn delete_document(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Forget).await?;
    let store = state.store.clone();
    let tenant = principal.tenant.clone();
    let scope = principal.labels.clone();
    let wanted = id.clone();
    let document = blocking(move || {
        let catalog = store.catalog(&tenant)?;
        // Only a document the principal can see, by id: never a path guess.
        let visible = catalog
            .document(&wanted)
            .is_some_and(|document| scope.admits(&document.labels));
        if !visible {
            return Err(ApiError::not_found("no such document"));
        }
        forget_document(store.as_ref(), &tenant, &wanted)
            .map_err(|err| ApiError::bad_request(err.to_string()))
    })
    .await?;
    state.governance.record(
        &principal,
        &principal.tenant,
        "forget document",
        "done",
        json!({ "document": document.id, "via": "http" }),
    )?;
    Ok(axum::Json(json!({ "id": document.id, "deleted": true })).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReviewQuery {
    #[serde(default)]
    status: Option<String>,
}

pub async fn list_review(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Review).await?;
    let status = match query.status.as_deref() {
        None | Some("pending") => Some(ReviewStatus::Pending),
        Some("approved") => Some(ReviewStatus::Approved),
        Some("rejected") => Some(ReviewStatus::Rejected),
        Some("all") => None,
        Some(_) => {
            return Err(
                ApiError::bad_request("status: pending, approved, rejected or all").param("status"),
            )
        }
    };
    let items: Vec<_> = state
        .governance
        .review
        .items()?
        .into_iter()
        .filter(|item| item.tenant == principal.tenant)
        .filter(|item| status.is_none_or(|status| item.status == status))
        .collect();
    state.governance.record(
        &principal,
        &principal.tenant,
        "review list",
        "done",
        json!({ "items": items.len(), "via": "http" }),
    )?;
    Ok(list(items))
}

/// Tool calls of the token's tenant waiting for approval (`?status=all`:
/// every call that needed one).
pub async fn list_calls(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Review).await?;
    let all = match query.status.as_deref() {
        None | Some("pending") => false,
        Some("all") => true,
        Some(_) => return Err(ApiError::bad_request("status: pending or all").param("status")),
    };
    let calls: Vec<_> = state
        .governance
        .approvals
        .items()?
        .into_iter()
        .filter(|call| call.tenant == principal.tenant)
        .filter(|call| all || call.status == crate::tools::CallStatus::Pending)
        .collect();
    state.governance.record(
        &principal,
        &principal.tenant,
        "review calls",
        "done",
        json!({ "calls": calls.len(), "via": "http" }),
    )?;
    Ok(list(calls))
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionBody {
    #[serde(default)]
    comment: String,
}

pub async fn decide_review(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Review).await?;
    let approved = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::not_found("no such endpoint (approve or reject)")),
    };
    // The body is optional for approvals.
    let comment = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<DecisionBody>(&body)
            .map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?
            .comment
    };
    if !approved && comment.trim().is_empty() {
        return Err(ApiError::bad_request("say why in `comment` when rejecting").param("comment"));
    }
    if comment.len() > 4000 {
        return Err(ApiError::bad_request("comment: at most 4000 bytes").param("comment"));
    }
    if id.starts_with('t') {
        // A tool call waiting for approval: the same queue for the reviewer.
        let call = state.governance.approvals.get(&id)?;
        if call.tenant != principal.tenant {
            return Err(ApiError::not_found("no such tool call"));
        }
        let governance = state.governance.clone();
        let call = blocking(move || {
            Ok(if approved {
                governance.approve_tool_call(&principal, &id, &comment)?
            } else {
                governance.reject_tool_call(&principal, &id, &comment)?
            })
        })
        .await?;
        return Ok(axum::Json(call).into_response());
    }
    let queue = &state.governance.review;
    let item = queue.get(&id)?;
    if item.tenant != principal.tenant {
        return Err(ApiError::not_found("no such review item"));
    }
    let item = queue.decide(
        &id,
        Decision {
            reviewer: principal.id.clone(),
            approved,
            comment: comment.clone(),
            time: crate::sealed::now(),
        },
    )?;
    state.governance.record(
        &principal,
        &principal.tenant,
        "review",
        &item.status.to_string(),
        json!({ "item": item.id, "comment": crate::audit::redacted_text(&comment), "via": "http" }),
    )?;
    Ok(axum::Json(item).into_response())
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Unix seconds.
    #[serde(default)]
    since: Option<u64>,
}

pub async fn export_audit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Audit).await?;
    let since = query.since.unwrap_or(0);
    let tenant = principal.tenant.clone();
    let governance = state.governance.clone();
    let records = blocking(move || {
        governance
            .audit
            .records()
            .map_err(|err| ApiError::internal(err.to_string()))
    })
    .await?;
    let records: Vec<_> = records
        .into_iter()
        .filter(|record| record.tenant == tenant && record.time >= since)
        .collect();
    state.governance.record(
        &principal,
        &principal.tenant,
        "audit export",
        "done",
        json!({ "records": records.len(), "since": since, "via": "http" }),
    )?;
    Ok(list(records))
}

pub async fn list_users(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Admin).await?;
    let users: Vec<UserInfo> = state
        .governance
        .directory
        .users()?
        .iter()
        .filter(|user| user.tenant == principal.tenant)
        .map(UserInfo::from)
        .collect();
    state.governance.record(
        &principal,
        &principal.tenant,
        "users list",
        "done",
        json!({ "users": users.len(), "via": "http" }),
    )?;
    Ok(list(users))
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    name: String,
    roles: Vec<String>,
    #[serde(default)]
    expires_days: Option<u64>,
}

pub async fn add_user(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(user): ApiJson<NewUser>,
) -> Result<Response, ApiError> {
    let principal = principal_for(&state, &headers, Action::Admin).await?;
    let (info, token) = state.governance.directory.add(
        &user.name,
        &principal.tenant,
        &user.roles,
        user.expires_days,
    )?;
    state.governance.record(
        &principal,
        &principal.tenant,
        "users add",
        "done",
        json!({ "user": info.id, "roles": info.roles, "via": "http" }),
    )?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user": info, "token": token.0.as_str() })),
    )
        .into_response())
}
