//! `warden serve`: the local HTTP API. OpenAI-compatible endpoints for
//! integrators, admin endpoints under the same roles as the CLI, health,
//! Prometheus metrics and the OpenAPI description. Identity comes from the
//! bearer token only; a request body can never name a tenant or a role.
//! Handlers never touch tensors: answers go through the engine thread.

pub mod admin;
pub mod engine;
pub mod error;
pub mod openai;
pub mod openapi;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;

use crate::auth::Principal;
use crate::config::Config;
use crate::index::Embedder;
use crate::session::{Delivered, Governance};
use crate::store::KnowledgeStore;

pub use engine::Engine;
pub use error::ApiError;

/// How the server listens and what it accepts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    /// Allow a non-loopback address without TLS (behind a TLS proxy, say).
    pub insecure_remote: bool,
    /// Answers queued or running at most; beyond it, 429.
    pub queue: usize,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Origins allowed by CORS (none: no CORS headers at all).
    pub cors_origins: Vec<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8088)),
            insecure_remote: false,
            queue: 8,
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(300),
            cors_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<String, u64>>,
    answer_seconds: Mutex<(f64, u64)>,
}

impl Metrics {
    pub fn count(&self, name: &str) {
        self.add(name, 1);
    }

    fn add(&self, name: &str, value: u64) {
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *counters.entry(name.to_string()).or_default() += value;
    }

    pub fn answered(&self, delivered: &Delivered) {
        let outcome = serde_json::to_value(delivered.answer.outcome)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default();
        self.count(&format!("answers_total{{outcome=\"{outcome}\"}}"));
        if let Some(stats) = &delivered.answer.timings.generation {
            self.add("generated_tokens_total", stats.generated_tokens as u64);
        }
        let mut seconds = self
            .answer_seconds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seconds.0 += delivered.answer.timings.total_ms / 1e3;
        seconds.1 += 1;
    }

    fn mean_answer_seconds(&self) -> f64 {
        let seconds = self
            .answer_seconds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seconds.1 == 0 {
            5.0
        } else {
            seconds.0 / seconds.1 as f64
        }
    }

    fn render(&self, in_flight: usize, capacity: usize, cancelled: usize) -> String {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        for (name, value) in counters.iter() {
            out.push_str(&format!("warden_{name} {value}\n"));
        }
        out.push_str(&format!("warden_answers_in_flight {in_flight}\n"));
        out.push_str(&format!("warden_answers_cancelled_total {cancelled}\n"));
        out.push_str(&format!("warden_answer_queue_capacity {capacity}\n"));
        out.push_str(&format!(
            "warden_answer_seconds_mean {:.3}\n",
            self.mean_answer_seconds()
        ));
        out
    }
}

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub governance: Arc<Governance>,
    pub engine: Engine,
    pub embedder: Arc<Embedder>,
    pub store: Arc<dyn KnowledgeStore>,
    pub model_name: String,
    /// How the loaded model was checked and built (times, architecture), for `/v1/models`.
    pub model_info: crate::model::ModelInfo,
    pub started_at: u64,
    pub metrics: Metrics,
}

impl AppState {
    /// How long a refused client should wait: one answer's mean time.
    pub fn retry_after_seconds(&self) -> u64 {
        self.metrics.mean_answer_seconds().ceil().max(1.0) as u64
    }
}

/// The principal behind `Authorization: Bearer <token>`; failures are audited.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return Err(ApiError::unauthorized(
            "missing bearer token: send `Authorization: Bearer <token>` (see `warden users add`)",
        ));
    };
    match state.governance.directory.authenticate(token) {
        Ok(principal) => Ok(principal),
        Err(err) => {
            if let Err(record) = state.governance.record_unauthenticated(
                serde_json::json!({ "reason": err.to_string(), "via": "http" }),
            ) {
                tracing::error!("an authentication failure could not be recorded: {record}");
            }
            state.metrics.count("auth_failures_total");
            Err(err.into())
        }
    }
}

/// A JSON body whose rejections are OpenAI-shaped errors.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::new(
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                },
                "invalid_request_error",
                rejection.body_text(),
            )),
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(
            state
                .engine
                .in_flight
                .load(std::sync::atomic::Ordering::SeqCst),
            state.engine.capacity,
            state
                .engine
                .cancelled
                .load(std::sync::atomic::Ordering::SeqCst),
        ),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see /openapi.json)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "this endpoint does not take that method (see /openapi.json)",
    )
}

/// Counts every response by route and status.
async fn count_responses(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched".to_string(), |path| path.as_str().to_string());
    let response = next.run(request).await;
    state.metrics.count(&format!(
        "http_responses_total{{route=\"{route}\",status=\"{}\"}}",
        response.status().as_u16()
    ));
    if response.status().is_server_error() {
        tracing::error!(route, status = %response.status(), "server error");
    }
    response
}

/// The routes, limits and layers.
pub fn router(state: Arc<AppState>, options: &ServeOptions) -> Router {
    let mut router = Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/v1/embeddings", post(openai::embeddings))
        .route(
            "/v1/documents",
            get(admin::list_documents).post(admin::add_document),
        )
        .route("/v1/documents/{id}", delete(admin::delete_document))
        .route("/v1/review", get(admin::list_review))
        .route("/v1/review/calls", get(admin::list_calls))
        .route("/v1/review/{id}/{decision}", post(admin::decide_review))
        .route("/v1/audit", get(admin::export_audit))
        .route("/v1/users", get(admin::list_users).post(admin::add_user))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::spec))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_responses,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(options.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ));
    if !options.cors_origins.is_empty() {
        let origins: Vec<axum::http::HeaderValue> = options
            .cors_origins
            .iter()
            .filter_map(|origin| origin.parse().ok())
            .collect();
        router = router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                ]),
        );
    }
    router.with_state(state)
}

/// Refuses a listening address that would expose plaintext HTTP.
pub fn check_bind(options: &ServeOptions) -> Result<(), String> {
    if options.tls_cert.is_some() != options.tls_key.is_some() {
        return Err("TLS needs both --tls-cert and --tls-key".into());
    }
    for path in [&options.tls_cert, &options.tls_key].into_iter().flatten() {
        if !path.is_file() {
            return Err(format!("TLS file {} does not exist", path.display()));
        }
    }
    let tls = options.tls_cert.is_some();
    if !tls && !options.bind.ip().is_loopback() && !options.insecure_remote {
        return Err(format!(
            "refusing to serve plaintext HTTP on {}: tokens and answers would cross the network in the clear; bind to 127.0.0.1, or pass --insecure-no-tls if a TLS proxy fronts this port",
            options.bind
        ));
    }
    Ok(())
}

/// Runs the server until Ctrl+C or SIGTERM; in-flight answers finish first.
pub fn run(state: Arc<AppState>, options: ServeOptions) -> anyhow::Result<()> {
    check_bind(&options).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match (options.tls_cert.clone(), options.tls_key.clone()) {
            (Some(cert), Some(key)) => serve_tls(state, &options, &cert, &key).await,
            _ => serve_plain(state, &options).await,
        }
    })
}

/// How long a client may take to send its request headers (slow-loris defence).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Hyper's connection settings: a header read timeout needs a timer.
fn harden<A: axum_server::accept::Accept<tokio::net::TcpStream, Router>>(
    mut server: axum_server::Server<SocketAddr, A>,
) -> axum_server::Server<SocketAddr, A> {
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    server
}

/// Prints the bound address once the listener is up (stdout, one line).
async fn announce(handle: &axum_server::Handle<SocketAddr>, scheme: &str) {
    if let Some(address) = handle.listening().await {
        println!("listening on {scheme}://{address}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
}

/// Stops accepting at Ctrl+C or SIGTERM; connections in flight finish.
fn shutdown_on_signal(handle: &axum_server::Handle<SocketAddr>) {
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        shutdown.graceful_shutdown(None);
    });
}

async fn serve_plain(state: Arc<AppState>, options: &ServeOptions) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    shutdown_on_signal(&handle);
    let app = router(state, options);
    let server = harden(axum_server::bind(options.bind))
        .handle(handle.clone())
        .serve(app.into_make_service());
    let (served, ()) = tokio::join!(server, announce(&handle, "http"));
    served?;
    eprintln!("stopped: in-flight requests finished");
    Ok(())
}

/// HTTPS with rustls (ring provider): the same router, the same shutdown.
async fn serve_tls(
    state: Arc<AppState>,
    options: &ServeOptions,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "reading the TLS certificate {} and key {} (PEM)",
                cert.display(),
                key.display()
            )
        })?;
    let handle = axum_server::Handle::new();
    shutdown_on_signal(&handle);
    let app = router(state, options);
    let server = harden(axum_server::bind_rustls(options.bind, tls))
        .handle(handle.clone())
        .serve(app.into_make_service());
    let (served, ()) = tokio::join!(server, announce(&handle, "https"));
    served?;
    eprintln!("stopped: in-flight requests finished");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
