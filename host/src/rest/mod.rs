//! The REST API, shaped as Kafka Connect 4.x's: every endpoint of Connect with its status codes and
//! bodies, errors as `{"error_code", "message"}` (malformed JSON is a 400 with the parser's message),
//! plus Spillway's own `/plugins`, `/metrics` and `/openapi.json`. [`ROUTES`] lists what is served;
//! a test keeps it, the router and `openapi.json` in step.

mod admin;
mod connectors;
mod plugins;
pub mod security;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};

use crate::worker::herder::{Herder, HerderError};

/// Every route served, as (method, path) with axum's `{param}` syntax. `openapi.json` describes
/// exactly these (checked by a test).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/connectors"),
    ("POST", "/connectors"),
    ("GET", "/connectors/{connector}"),
    ("DELETE", "/connectors/{connector}"),
    ("GET", "/connectors/{connector}/config"),
    ("PUT", "/connectors/{connector}/config"),
    ("PATCH", "/connectors/{connector}/config"),
    ("GET", "/connectors/{connector}/status"),
    ("POST", "/connectors/{connector}/restart"),
    ("PUT", "/connectors/{connector}/pause"),
    ("PUT", "/connectors/{connector}/resume"),
    ("PUT", "/connectors/{connector}/stop"),
    ("GET", "/connectors/{connector}/tasks"),
    ("GET", "/connectors/{connector}/tasks-config"),
    ("GET", "/connectors/{connector}/tasks/{task}/status"),
    ("POST", "/connectors/{connector}/tasks/{task}/restart"),
    ("GET", "/connectors/{connector}/offsets"),
    ("PATCH", "/connectors/{connector}/offsets"),
    ("DELETE", "/connectors/{connector}/offsets"),
    ("GET", "/connectors/{connector}/topics"),
    ("PUT", "/connectors/{connector}/topics/reset"),
    ("GET", "/connector-plugins"),
    ("GET", "/connector-plugins/{plugin}/config"),
    ("PUT", "/connector-plugins/{plugin}/config/validate"),
    ("GET", "/admin/loggers"),
    ("GET", "/admin/loggers/{logger}"),
    ("PUT", "/admin/loggers/{logger}"),
    ("GET", "/plugins"),
    ("GET", "/plugins/{name}"),
    ("PUT", "/plugins/{name}"),
    ("DELETE", "/plugins/{name}"),
    ("POST", "/plugins/{name}/test"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct RestState {
    herder: Arc<Herder>,
    worker_id: String,
    kafka_cluster_id: Arc<OnceLock<String>>,
}

impl RestState {
    /// State for a worker known to others as `worker_id` (`host:port`).
    pub fn new(herder: Arc<Herder>, worker_id: String) -> Self {
        Self { herder, worker_id, kafka_cluster_id: Arc::new(OnceLock::new()) }
    }

    /// Looks the Kafka cluster id (shown by `GET /`) up in the background.
    pub fn lookup_kafka_cluster_id(self, worker: &crate::config::WorkerConfig) -> Self {
        let (cell, config) = (self.kafka_cluster_id.clone(), crate::kafka::client_config(worker));
        tokio::task::spawn_blocking(move || {
            let consumer: Result<BaseConsumer, _> = config.create();
            if let Some(id) = consumer.ok().and_then(|c| c.client().fetch_cluster_id(Duration::from_secs(10))) {
                let _ = cell.set(id);
            }
        });
        self
    }
}

/// A Connect-shaped error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> Self {
        let status = match &e {
            HerderError::NotFound(_) => StatusCode::NOT_FOUND,
            HerderError::AlreadyExists(_) => StatusCode::CONFLICT,
            HerderError::BadRequest(_) | HerderError::Invalid(_) => StatusCode::BAD_REQUEST,
            HerderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error_code": self.status.as_u16(), "message": self.message}))).into_response()
    }
}

/// A JSON request body; a body that does not parse is a 400 naming the parser's complaint
/// (Connect answers 500 there; a client error is a 400).
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("the request body is empty; a JSON document is expected"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

/// The REST router.
pub fn router(state: RestState) -> Router {
    let max_plugin = state.herder.worker().wasm.module_max_bytes;
    Router::new()
        .route("/", get(admin::root))
        .route("/health", get(admin::health))
        .route("/connectors", get(connectors::list).post(connectors::create))
        .route("/connectors/{connector}", get(connectors::info).delete(connectors::delete))
        .route(
            "/connectors/{connector}/config",
            get(connectors::get_config).put(connectors::put_config).patch(connectors::patch_config),
        )
        .route("/connectors/{connector}/status", get(connectors::status))
        .route("/connectors/{connector}/restart", post(connectors::restart))
        .route("/connectors/{connector}/pause", put(connectors::pause))
        .route("/connectors/{connector}/resume", put(connectors::resume))
        .route("/connectors/{connector}/stop", put(connectors::stop))
        .route("/connectors/{connector}/tasks", get(connectors::tasks))
        .route("/connectors/{connector}/tasks-config", get(connectors::tasks_config))
        .route("/connectors/{connector}/tasks/{task}/status", get(connectors::task_status))
        .route("/connectors/{connector}/tasks/{task}/restart", post(connectors::restart_task))
        .route(
            "/connectors/{connector}/offsets",
            get(connectors::offsets).patch(connectors::alter_offsets).delete(connectors::reset_offsets),
        )
        .route("/connectors/{connector}/topics", get(connectors::topics))
        .route("/connectors/{connector}/topics/reset", put(connectors::reset_topics))
        .route("/connector-plugins", get(plugins::connector_plugins))
        .route("/connector-plugins/{plugin}/config", get(plugins::connector_plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(plugins::validate))
        .route("/admin/loggers", get(admin::loggers))
        .route("/admin/loggers/{logger}", get(admin::logger).put(admin::set_logger))
        .route("/plugins", get(plugins::list))
        .route(
            "/plugins/{name}",
            get(plugins::get_one)
                .put(plugins::upload)
                .delete(plugins::remove)
                .layer(DefaultBodyLimit::max(max_plugin.saturating_add(1024))),
        )
        .route("/plugins/{name}/test", post(plugins::test))
        .route("/metrics", get(admin::metrics))
        .route("/openapi.json", get(admin::openapi))
        .fallback(|| async { ApiError::not_found("HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "HTTP 405 Method Not Allowed")
        })
        .with_state(state)
}

#[cfg(test)]
mod tests;
