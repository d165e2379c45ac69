//! `/`, `/health`, `/admin/loggers…`, `/metrics` (Prometheus) and `/openapi.json`.

use std::fmt::Write as _;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, JsonBody, RestState};
use crate::connectors::TaskReport;
use crate::worker::status::State as TaskState;

/// Our OpenAPI document: every route of [`super::ROUTES`].
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /`.
pub async fn root(State(state): State<RestState>) -> Response {
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SPILLWAY_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": state.kafka_cluster_id.get(),
    }))
    .into_response()
}

/// `GET /health`: the worker answers once it has started.
pub async fn health() -> Response {
    axum::Json(json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}))
        .into_response()
}

/// `GET /admin/loggers`.
pub async fn loggers() -> Response {
    axum::Json(json!(crate::telemetry::loggers())).into_response()
}

/// `GET /admin/loggers/{logger}`: 404 for a logger that is neither set nor one of Spillway's.
pub async fn logger(Path(name): Path<String>) -> Result<Response, ApiError> {
    let level =
        crate::telemetry::logger(&name).ok_or_else(|| ApiError::not_found(format!("Logger {name} not found.")))?;
    Ok(axum::Json(json!(level)).into_response())
}

/// `PUT /admin/loggers/{logger}?scope=worker|cluster` with `{"level": "DEBUG"}`.
pub async fn set_logger(
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let scope = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "scope")
        .map(|(_, v)| v.to_ascii_lowercase());
    let level = body
        .get("level")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Desired 'level' parameter was not specified in request."))?;
    let now = chrono::Utc::now().timestamp_millis();
    let affected = crate::telemetry::set_level(&name, level, now).map_err(ApiError::not_found)?;
    match scope.as_deref() {
        // One worker is the whole cluster in standalone mode.
        Some("cluster") => Ok(StatusCode::NO_CONTENT.into_response()),
        None | Some("worker") => Ok(axum::Json(affected).into_response()),
        Some(other) => {
            // As Connect: an unknown scope is the worker's, with a warning.
            tracing::warn!(scope = other, "unknown logger scope; applying to this worker");
            Ok(axum::Json(affected).into_response())
        }
    }
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<RestState>) -> Response {
    let mut out = String::new();
    let states = [
        TaskState::Unassigned,
        TaskState::Running,
        TaskState::Paused,
        TaskState::Stopped,
        TaskState::Failed,
        TaskState::Restarting,
    ];
    let name_of =
        |s: TaskState| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let board = state.herder.board().all();
    out.push_str(
        "# HELP spillway_connector_state 1 for the connector's current state.\n# TYPE spillway_connector_state gauge\n",
    );
    for (name, c) in &board {
        for s in states {
            let v = u8::from(c.state == s);
            let _ =
                writeln!(out, "spillway_connector_state{{connector=\"{}\",state=\"{}\"}} {v}", label(name), name_of(s));
        }
    }
    out.push_str("# HELP spillway_task_state 1 for the task's current state.\n# TYPE spillway_task_state gauge\n");
    for (name, c) in &board {
        for (id, t) in &c.tasks {
            for s in states {
                let v = u8::from(t.state == s);
                let _ = writeln!(
                    out,
                    "spillway_task_state{{connector=\"{}\",task=\"{id}\",state=\"{}\"}} {v}",
                    label(name),
                    name_of(s)
                );
            }
        }
    }
    let reports = state.herder.reports().await;
    type Counter = (&'static str, &'static str, fn(&TaskReport) -> u64);
    let counters: [Counter; 4] = [
        ("spillway_task_records_read_total", "Records polled from Kafka.", |r| TaskReport::get(&r.records_read)),
        ("spillway_task_statements_written_total", "Statements Cassandra acknowledged.", |r| {
            TaskReport::get(&r.statements_written)
        }),
        (
            "spillway_task_records_skipped_total",
            "Records skipped by the error policy (dead letter queue or log).",
            |r| TaskReport::get(&r.records_skipped),
        ),
        ("spillway_task_failures_total", "Times the task failed.", |r| TaskReport::get(&r.failures)),
    ];
    for (metric, help, read) in counters {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
        for (name, id, report) in &reports {
            let _ = writeln!(out, "{metric}{{connector=\"{}\",task=\"{id}\"}} {}", label(name), read(report));
        }
    }
    let registry = state.herder.registry();
    let _ = writeln!(
        out,
        "# HELP spillway_plugins Wasm plugins loaded.\n# TYPE spillway_plugins gauge\nspillway_plugins {}",
        registry.plugins().len()
    );
    let rejected = registry.files().iter().filter(|f| f.error.is_some()).count();
    let _ = writeln!(
        out,
        "# HELP spillway_plugin_files_rejected Files in plugin.path that failed to load.\n# TYPE spillway_plugin_files_rejected gauge\nspillway_plugin_files_rejected {rejected}"
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
