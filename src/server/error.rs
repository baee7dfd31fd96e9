//! Errors as OpenAI clients expect them: `{"error": {"message", "type",
//! "param", "code"}}` with the matching status. 401 means "who are you?",
//! 403 "not allowed", 404 "no such thing (that you may see)": a resource of
//! another tenant is always 404, so nothing is learnt about it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::AuthError;
use crate::governance::GovernanceError;
use crate::rag::RagError;
use crate::session::SessionError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<&'static str>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code: None,
            param: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .code("invalid_api_key")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", message).code("forbidden")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message).code("not_found")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    pub fn busy(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "the server is busy: every answer slot is taken; retry shortly",
            )
            .code("server_busy")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::BadToken | AuthError::Disabled(_) | AuthError::Expired(_) => {
                ApiError::unauthorized(err.to_string())
            }
            AuthError::Denied { .. } | AuthError::LabelsNotHeld { .. } => {
                ApiError::forbidden(err.to_string())
            }
            // Never say whether the other tenant or user exists.
            AuthError::OtherTenant { .. } | AuthError::UnknownUser(_) => {
                ApiError::not_found("not found")
            }
            AuthError::UserExists(_) | AuthError::BadName(_) | AuthError::UnknownRole(..) => {
                ApiError::bad_request(err.to_string())
            }
            AuthError::Sealed(_) | AuthError::Crypto(_) => {
                tracing::error!("{err}");
                ApiError::internal("the server could not read its records")
            }
        }
    }
}

impl From<GovernanceError> for ApiError {
    fn from(err: GovernanceError) -> Self {
        match err {
            GovernanceError::RateLimited { retry_after, .. } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    err.to_string(),
                )
                .code("rate_limit_exceeded")
            },
            GovernanceError::QuotaExceeded { .. } => ApiError {
                retry_after: Some(3600),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    err.to_string(),
                )
                .code("insufficient_quota")
            },
            GovernanceError::UnknownReview(_) => ApiError::not_found("no such review item"),
            GovernanceError::AlreadyDecided { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                err.to_string(),
            ),
            GovernanceError::Auth(err) => err.into(),
            other => {
                tracing::error!("{other}");
                ApiError::internal("the server could not write its records")
            }
        }
    }
}

impl From<RagError> for ApiError {
    fn from(err: RagError) -> Self {
        match err {
            RagError::EmptyQuestion | RagError::QuestionTooLong { .. } => {
                ApiError::bad_request(err.to_string()).param("messages")
            }
            RagError::EmptyKnowledgeBase => {
                ApiError::bad_request("this tenant's knowledge base is empty")
                    .code("knowledge_base_empty")
            }
            other => {
                tracing::error!("{other}");
                ApiError::internal("the answer failed; see the server log")
            }
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::Auth(err) => err.into(),
            SessionError::Governance(err) => err.into(),
            SessionError::Rag(err) => err.into(),
            SessionError::Tool(err) => err.into(),
            other => {
                tracing::error!("{other}");
                ApiError::internal("the server could not record the answer")
            }
        }
    }
}

impl From<crate::tools::ToolError> for ApiError {
    fn from(err: crate::tools::ToolError) -> Self {
        use crate::tools::ToolError;
        match err {
            ToolError::UnknownCall(_) => ApiError::not_found("no such tool call"),
            ToolError::AlreadyDecided { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                err.to_string(),
            ),
            ToolError::NotAnApprover { .. } => ApiError::forbidden(err.to_string()),
            ToolError::Invalid { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                err.to_string(),
            ),
            other => {
                tracing::error!("{other}");
                ApiError::internal("the server could not read or write its tool calls")
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        match err {
            crate::store::StoreError::UnknownDocument { .. } => {
                ApiError::not_found("no such document")
            }
            other => {
                tracing::error!("{other}");
                ApiError::internal("the knowledge store failed; see the server log")
            }
        }
    }
}
