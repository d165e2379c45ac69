//! The REST API, shaped as Kafka Connect's: `router(state)`; errors are `{"error_code", "message"}`.
//!
//! This version serves the read side a standalone worker needs: `/`, `/health`, `/connectors`,
//! `/connectors/{c}`, `/connectors/{c}/status`, `/connectors/{c}/tasks/{t}/status`,
//! `/connector-plugins` (`?connectorsOnly=false` adds the converters, transformations and predicates
//! of `plugin.path`), `/connector-plugins/{class}/config` (from each plugin's self-description), and
//! Spillway's own `/plugins` (the Wasm plugins in `plugin.path`, and files that were rejected, with
//! why).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};

use crate::wasm::{Registry, World};
use crate::worker::status::{ConnectorStatus, StatusBoard, TaskStatus};

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct RestState {
    board: Arc<StatusBoard>,
    worker_id: String,
    kafka_cluster_id: Arc<OnceLock<String>>,
    registry: Arc<Registry>,
}

impl RestState {
    /// State for a worker known to others as `worker_id` (`host:port`).
    pub fn new(board: Arc<StatusBoard>, worker_id: String, registry: Arc<Registry>) -> Self {
        Self { board, worker_id, kafka_cluster_id: Arc::new(OnceLock::new()), registry }
    }

    /// Looks the Kafka cluster id (shown by `GET /`) up in the background.
    pub fn lookup_kafka_cluster_id(self, bootstrap_servers: &str) -> Self {
        let (cell, bootstrap) = (self.kafka_cluster_id.clone(), bootstrap_servers.to_string());
        tokio::task::spawn_blocking(move || {
            let consumer: Result<BaseConsumer, _> =
                rdkafka::ClientConfig::new().set("bootstrap.servers", &bootstrap).create();
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
    fn not_found(message: String) -> Self {
        Self { status: StatusCode::NOT_FOUND, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error_code": self.status.as_u16(), "message": self.message}))).into_response()
    }
}

/// The REST router.
pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/connectors", get(list_connectors))
        .route("/connectors/{name}", get(get_connector))
        .route("/connectors/{name}/status", get(connector_status))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
        .route("/connector-plugins", get(connector_plugins))
        .route("/connector-plugins/{class}/config", get(connector_plugin_config))
        .route("/plugins", get(plugins))
        .fallback(|| async { ApiError::not_found("HTTP 404 Not Found".into()) })
        .with_state(state)
}

async fn root(AxumState(state): AxumState<RestState>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SPILLWAY_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": state.kafka_cluster_id.get(),
    }))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}))
}

async fn list_connectors(AxumState(state): AxumState<RestState>) -> Json<Vec<String>> {
    Json(state.board.names())
}

fn find(state: &RestState, name: &str) -> Result<ConnectorStatus, ApiError> {
    state.board.connector(name).ok_or_else(|| ApiError::not_found(format!("Connector {name} not found")))
}

async fn get_connector(
    AxumState(state): AxumState<RestState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&state, &name)?;
    let tasks: Vec<Value> = c.tasks.keys().map(|id| json!({"connector": name, "task": id})).collect();
    Ok(Json(json!({"name": name, "config": c.config, "tasks": tasks, "type": c.kind})))
}

fn task_json(state: &RestState, id: u32, task: &TaskStatus) -> Value {
    let mut v = json!({"id": id, "state": task.state, "worker_id": state.worker_id});
    if let Some(trace) = &task.trace {
        v["trace"] = json!(trace);
    }
    v
}

async fn connector_status(
    AxumState(state): AxumState<RestState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&state, &name)?;
    let tasks: Vec<Value> = c.tasks.iter().map(|(id, t)| task_json(&state, *id, t)).collect();
    let mut connector = json!({"state": c.state, "worker_id": state.worker_id});
    if let Some(trace) = &c.trace {
        connector["trace"] = json!(trace);
    }
    Ok(Json(json!({"name": name, "connector": connector, "tasks": tasks, "type": c.kind})))
}

async fn task_status(
    AxumState(state): AxumState<RestState>,
    Path((name, task)): Path<(String, u32)>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&state, &name)?;
    let t = c.tasks.get(&task).ok_or_else(|| ApiError::not_found(format!("Task {name}-{task} not found")))?;
    Ok(Json(task_json(&state, task, t)))
}

async fn plugins(AxumState(state): AxumState<RestState>) -> Json<Value> {
    let mut plugins: Vec<Value> = state
        .registry
        .plugins()
        .iter()
        .map(|p| {
            let mut v = json!(p.descriptor);
            v["kind"] = json!(p.world.as_str());
            v["path"] = json!(p.path);
            v["sha256"] = json!(p.hash);
            v
        })
        .collect();
    plugins
        .sort_by(|a, b| (a["name"].as_str(), a["version"].as_str()).cmp(&(b["name"].as_str(), b["version"].as_str())));
    Json(json!({"plugins": plugins, "files": state.registry.files()}))
}

/// Connect's plugin type of a Wasm plugin: converters, transformations, and predicates (transform
/// plugins under Connect's `…transforms.predicates.` package). Mappers are Spillway's own: `None`.
fn connect_plugin_type(plugin: &crate::wasm::Plugin) -> Option<&'static str> {
    match plugin.world {
        World::Converter => Some("converter"),
        World::Transform if plugin.descriptor.name.contains(".predicates.") => Some("predicate"),
        World::Transform => Some("transformation"),
        World::SinkMapper | World::SourceMapper => None,
    }
}

#[derive(Debug, serde::Deserialize)]
struct PluginsQuery {
    #[serde(rename = "connectorsOnly")]
    connectors_only: Option<bool>,
}

/// `GET /connector-plugins`: the connector classes (and, with `connectorsOnly=false`, the Wasm
/// converters, transformations and predicates), each `{"class", "type", "version"}`.
async fn connector_plugins(AxumState(state): AxumState<RestState>, Query(query): Query<PluginsQuery>) -> Json<Value> {
    let version = env!("CARGO_PKG_VERSION");
    let mut out: Vec<Value> = crate::connectors::SINK_CLASSES
        .iter()
        .filter(|c| c.contains('.'))
        .map(|c| json!({"class": c, "type": "sink", "version": version}))
        .collect();
    if query.connectors_only == Some(false) {
        let mut plugins: Vec<Value> = state
            .registry
            .plugins()
            .iter()
            .filter_map(|p| {
                let kind = connect_plugin_type(p)?;
                Some(json!({"class": p.descriptor.name, "type": kind, "version": p.descriptor.version}))
            })
            .collect();
        plugins
            .sort_by(|a, b| (a["type"].as_str(), a["class"].as_str()).cmp(&(b["type"].as_str(), b["class"].as_str())));
        out.extend(plugins);
    }
    Json(Value::Array(out))
}

/// `GET /connector-plugins/{class}/config`: Connect's `ConfigKeyInfo` list, from the plugin's
/// self-description (a Wasm plugin named by class, alias or `name@version`) or the connector's keys.
async fn connector_plugin_config(
    AxumState(state): AxumState<RestState>,
    Path(class): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = |name: &str, typ: &str, default: Option<&str>, required: bool, doc: &str, order: usize| {
        json!({
            "name": name, "type": typ, "required": required, "default_value": default,
            "importance": if required { "HIGH" } else { "MEDIUM" }, "documentation": doc, "group": null,
            "width": "NONE", "display_name": name, "dependents": [], "order": order,
        })
    };
    if crate::connectors::SINK_CLASSES.contains(&class.as_str()) {
        let keys = crate::connectors::sink::config_keys();
        let doc = "See docs/configuration.md.";
        return Ok(Json(Value::Array(
            keys.iter().enumerate().map(|(i, k)| key(k, "STRING", None, false, doc, i + 1)).collect(),
        )));
    }
    let found = [World::Converter, World::Transform]
        .into_iter()
        .find_map(|world| state.registry.resolve(&class, world).ok())
        .filter(|p| connect_plugin_type(p).is_some())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Failed to find any class that implements Connector and which name matches {class}"
            ))
        })?;
    let params = &found.descriptor.params;
    Ok(Json(Value::Array(
        params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let typ = serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_uppercase));
                key(
                    &p.name,
                    typ.as_deref().unwrap_or("STRING"),
                    p.default.as_deref(),
                    p.required,
                    &p.documentation,
                    i + 1,
                )
            })
            .collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::status::State;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn call(router: Router, uri: &str) -> (StatusCode, Value) {
        let response = router.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn status_shapes_match_connect() {
        let board = Arc::new(StatusBoard::default());
        board.add_connector("sink1", "sink", [("name".to_string(), "sink1".to_string())].into(), 2);
        board.set_task("sink1", 0, State::Running, None);
        board.set_task("sink1", 1, State::Failed, Some("boom".into()));
        let settings = crate::wasm::WasmSettings {
            cache_dir: std::env::temp_dir().join("spillway-rest-test-cache"),
            ..Default::default()
        };
        let registry = Registry::open(&settings).unwrap();
        let router = router(RestState::new(board, "127.0.0.1:8083".into(), registry));

        let (code, body) = call(router.clone(), "/plugins").await;
        assert_eq!((code, body), (StatusCode::OK, json!({"plugins": [], "files": []})));

        let (code, body) = call(router.clone(), "/connectors").await;
        assert_eq!((code, body), (StatusCode::OK, json!(["sink1"])));

        let (code, body) = call(router.clone(), "/connectors/sink1/status").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["connector"], json!({"state": "RUNNING", "worker_id": "127.0.0.1:8083"}));
        assert_eq!(body["tasks"][0], json!({"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}));
        assert_eq!(body["tasks"][1]["trace"], "boom");
        assert_eq!(body["type"], "sink");

        let (code, body) = call(router.clone(), "/connectors/sink1").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["tasks"], json!([{"connector": "sink1", "task": 0}, {"connector": "sink1", "task": 1}]));

        let (code, body) = call(router.clone(), "/connectors/nope/status").await;
        assert_eq!(
            (code, body),
            (StatusCode::NOT_FOUND, json!({"error_code": 404, "message": "Connector nope not found"}))
        );
        let (code, _) = call(router.clone(), "/connectors/sink1/tasks/7/status").await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        let (code, body) = call(router, "/no/such/path").await;
        assert_eq!((code, body["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    }
}
