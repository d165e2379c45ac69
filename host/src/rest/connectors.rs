//! `/connectors…`: create, read, reconfigure, control and delete connectors, as Connect answers.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ApiError, JsonBody, RestState};
use crate::config::Settings;
use crate::worker::herder::Target;
use crate::worker::status::{ConnectorStatus, State as TaskState, TaskStatus};

/// Shown instead of a secret's value.
pub const HIDDEN: &str = "[hidden]";

/// Whether a key holds a secret: passwords, secrets, tokens, JAAS configs, and keys a plugin
/// declared as `password` in its self-description (matched by their last segment).
pub fn is_secret(key: &str, plugin_secrets: &[String]) -> bool {
    let lower = key.to_ascii_lowercase();
    let last = lower.rsplit('.').next().unwrap_or(&lower);
    last.contains("password")
        || last.contains("secret")
        || last == "token"
        || lower.ends_with("sasl.jaas.config")
        || plugin_secrets.iter().any(|p| lower.ends_with(&format!(".{}", p.to_ascii_lowercase())))
}

fn plugin_secrets(state: &RestState) -> Vec<String> {
    state
        .herder
        .registry()
        .plugins()
        .iter()
        .flat_map(|p| p.descriptor.params.iter())
        .filter(|p| p.kind == crate::wasm::plugin::ParamType::Password)
        .map(|p| p.name.clone())
        .collect()
}

/// The configuration as shown: secrets masked.
fn masked(state: &RestState, config: &BTreeMap<String, String>) -> Value {
    let secrets = plugin_secrets(state);
    let map: Map<String, Value> = config
        .iter()
        .map(|(k, v)| (k.clone(), json!(if is_secret(k, &secrets) && !v.is_empty() { HIDDEN } else { v })))
        .collect();
    Value::Object(map)
}

fn find(state: &RestState, name: &str) -> Result<ConnectorStatus, ApiError> {
    state.herder.board().connector(name).ok_or_else(|| ApiError::not_found(format!("Connector {name} not found")))
}

/// Connect's `ConnectorInfo`.
fn info_json(state: &RestState, name: &str, c: &ConnectorStatus) -> Value {
    let tasks: Vec<Value> = c.tasks.keys().map(|id| json!({"connector": name, "task": id})).collect();
    json!({"name": name, "config": masked(state, &c.config), "tasks": tasks, "type": c.kind})
}

fn task_json(state: &RestState, id: u32, task: &TaskStatus) -> Value {
    let worker = task.worker_id.as_ref().unwrap_or(&state.worker_id);
    let mut v = json!({"id": id, "state": task.state, "worker_id": worker});
    if let Some(trace) = task.trace.as_ref().filter(|t| !t.is_empty()) {
        v["trace"] = json!(trace);
    }
    v
}

/// Connect's `ConnectorStateInfo`.
fn status_json(state: &RestState, name: &str, c: &ConnectorStatus) -> Value {
    let tasks: Vec<Value> = c.tasks.iter().map(|(id, t)| task_json(state, *id, t)).collect();
    let worker = c.worker_id.as_ref().unwrap_or(&state.worker_id);
    let mut connector = json!({"state": c.state, "worker_id": worker});
    if let Some(trace) = c.trace.as_ref().filter(|t| !t.is_empty()) {
        connector["trace"] = json!(trace);
    }
    json!({"name": name, "connector": connector, "tasks": tasks, "type": c.kind})
}

/// A flat string map from a JSON object, as Connect reads configs: strings, numbers and booleans
/// become strings, nulls are dropped; anything else is a 400 naming the key.
pub fn string_map(value: &Value, what: &str) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(format!("{what} must be a JSON object of string values")));
    };
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{what}: the value of '{k}' must be a string, not {}",
                        if v.is_array() { "an array" } else { "an object" }
                    )));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// Secrets sent back as [`HIDDEN`] (a GET's output PUT back) keep their stored value.
fn unmask(config: &mut BTreeMap<String, String>, stored: Option<&Settings>) {
    let Some(stored) = stored else { return };
    for (k, v) in config.iter_mut() {
        if v == HIDDEN
            && let Some(old) = stored.get(k)
        {
            *v = old.to_string();
        }
    }
}

fn check_name(config: &BTreeMap<String, String>, name: &str) -> Result<(), ApiError> {
    match config.get("name") {
        Some(n) if n != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request("Connector name cannot be empty"));
    }
    if name.chars().any(char::is_control) || name.contains('/') {
        return Err(ApiError::bad_request(format!(
            "Connector name '{}' must not contain control characters or '/'",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// The query string's `key=value` pairs, in order.
pub fn query_flags(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// A boolean query parameter (absent: false). A repeated one counts once, its first value, as
/// Jersey reads it.
pub fn query_bool(flags: &[(String, String)], key: &str) -> Result<bool, ApiError> {
    match flags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v.is_empty() => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!("query parameter '{key}' must be true or false, not '{v}'"))),
    }
}

/// `GET /connectors[?expand=status&expand=info]`.
pub async fn list(State(state): State<RestState>, RawQuery(query): RawQuery) -> Response {
    let expand: Vec<String> =
        query_flags(&query).into_iter().filter(|(k, _)| k == "expand").map(|(_, v)| v.to_ascii_lowercase()).collect();
    let (status, info) = (expand.iter().any(|e| e == "status"), expand.iter().any(|e| e == "info"));
    let all = state.herder.board().all();
    // Any `expand`, even of nothing known, answers the map (as Connect).
    if expand.is_empty() {
        return axum::Json(all.keys().cloned().collect::<Vec<_>>()).into_response();
    }
    let mut out = Map::new();
    for (name, c) in &all {
        let mut entry = Map::new();
        if status {
            entry.insert("status".into(), status_json(&state, name, c));
        }
        if info {
            entry.insert("info".into(), info_json(&state, name, c));
        }
        out.insert(name.clone(), Value::Object(entry));
    }
    axum::Json(Value::Object(out)).into_response()
}

fn created(name: &str, body: Value) -> Response {
    let location = format!("/connectors/{}", urlencode(name));
    (StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(body)).into_response()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn connector_info(state: &RestState, name: &str) -> Result<Value, ApiError> {
    Ok(info_json(state, name, &find(state, name)?))
}

/// `POST /connectors` with `{"name", "config", "initial_state"}`.
pub async fn create(State(state): State<RestState>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object with 'name' and 'config'"));
    };
    let mut config: BTreeMap<String, String> = match body.get("config") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(c) => string_map(c, "config")?.into_iter().filter_map(|(k, v)| Some((k, v?))).collect(),
    };
    let name = match body.get("name") {
        Some(Value::String(n)) => n.trim().to_string(),
        None | Some(Value::Null) => config.get("name").map(|n| n.trim().to_string()).unwrap_or_default(),
        Some(_) => return Err(ApiError::bad_request("'name' must be a string")),
    };
    valid_name(&name)?;
    check_name(&config, &name)?;
    let target = match body.get("initial_state") {
        None | Some(Value::Null) => Target::Running,
        Some(Value::String(s)) => Target::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            ApiError::bad_request(format!("initial_state '{s}' is not one of RUNNING, PAUSED, STOPPED"))
        })?,
        Some(_) => return Err(ApiError::bad_request("'initial_state' must be a string")),
    };
    config.insert("name".into(), name.clone());
    state.herder.create(Settings(config), target).await?;
    Ok(created(&name, connector_info(&state, &name)?))
}

/// `GET /connectors/{c}`.
pub async fn info(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(axum::Json(connector_info(&state, &name)?).into_response())
}

/// `GET /connectors/{c}/config`.
pub async fn get_config(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let c = find(&state, &name)?;
    Ok(axum::Json(masked(&state, &c.config)).into_response())
}

/// `PUT /connectors/{c}/config`: 201 when created, 200 when updated.
pub async fn put_config(
    State(state): State<RestState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    valid_name(&name)?;
    let mut config: BTreeMap<String, String> =
        string_map(&body, "the connector configuration")?.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
    check_name(&config, &name)?;
    config.insert("name".into(), name.clone());
    unmask(&mut config, state.herder.config(&name).await.ok().as_ref());
    let was_created = state.herder.put_config(Settings(config)).await?;
    let info = connector_info(&state, &name)?;
    Ok(if was_created { created(&name, info) } else { axum::Json(info).into_response() })
}

/// `PATCH /connectors/{c}/config`: merges; a `null` value removes the key.
pub async fn patch_config(
    State(state): State<RestState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let patch = string_map(&body, "the configuration patch")?;
    let stored = state.herder.config(&name).await?;
    let mut config = stored.0.clone();
    for (k, v) in patch {
        match v {
            Some(v) => config.insert(k, v),
            None => config.remove(&k),
        };
    }
    check_name(&config, &name)?;
    config.insert("name".into(), name.clone());
    unmask(&mut config, Some(&stored));
    state.herder.put_config(Settings(config)).await?;
    Ok(axum::Json(connector_info(&state, &name)?).into_response())
}

/// `DELETE /connectors/{c}`.
pub async fn delete(State(state): State<RestState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.herder.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{c}/status`.
pub async fn status(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let c = state
        .herder
        .board()
        .connector(&name)
        .ok_or_else(|| ApiError::not_found(format!("No status found for connector {name}")))?;
    Ok(axum::Json(status_json(&state, &name, &c)).into_response())
}

/// `POST /connectors/{c}/restart?includeTasks&onlyFailed`: 204 for the connector alone (Connect's
/// legacy form), else 202 with the status showing what restarts as RESTARTING.
pub async fn restart(
    State(state): State<RestState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let flags = query_flags(&query);
    let (include_tasks, only_failed) = (query_bool(&flags, "includeTasks")?, query_bool(&flags, "onlyFailed")?);
    let before = find(&state, &name)?;
    let restarting = state.herder.restart(&name, include_tasks, only_failed).await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut shown = before;
    if !only_failed || shown.state == TaskState::Failed {
        shown.state = TaskState::Restarting;
        shown.trace = None;
    }
    for id in restarting {
        let worker_id = shown.tasks.get(&id).and_then(|t| t.worker_id.clone());
        shown.tasks.insert(id, TaskStatus { state: TaskState::Restarting, trace: None, worker_id });
    }
    Ok((StatusCode::ACCEPTED, axum::Json(status_json(&state, &name, &shown))).into_response())
}

/// `PUT /connectors/{c}/pause`.
pub async fn pause(State(state): State<RestState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.herder.pause(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{c}/resume`.
pub async fn resume(State(state): State<RestState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.herder.resume(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{c}/stop`.
pub async fn stop(State(state): State<RestState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.herder.stop(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn task_config(state: &RestState, c: &ConnectorStatus) -> Value {
    let mut config = masked(state, &c.config);
    config["task.class"] =
        json!(if c.kind == "source" { "spillway.CassandraSourceTask" } else { "spillway.CassandraSinkTask" });
    config
}

/// `GET /connectors/{c}/tasks`.
pub async fn tasks(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let c = find(&state, &name)?;
    let tasks: Vec<Value> = c
        .tasks
        .keys()
        .map(|id| json!({"id": {"connector": name, "task": id}, "config": task_config(&state, &c)}))
        .collect();
    Ok(axum::Json(tasks).into_response())
}

/// `GET /connectors/{c}/tasks-config` (removed in Connect 4.0; kept for older tools).
pub async fn tasks_config(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let c = find(&state, &name)?;
    let map: Map<String, Value> = c.tasks.keys().map(|id| (format!("{name}-{id}"), task_config(&state, &c))).collect();
    Ok(axum::Json(Value::Object(map)).into_response())
}

/// A task id from the path; anything but a non-negative integer is an unknown path, as in Connect.
fn task_id(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| ApiError::not_found("HTTP 404 Not Found"))
}

/// `GET /connectors/{c}/tasks/{t}/status`.
pub async fn task_status(
    State(state): State<RestState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = task_id(&task)?;
    let t = state
        .herder
        .board()
        .connector(&name)
        .and_then(|c| c.tasks.get(&id).cloned())
        .ok_or_else(|| ApiError::not_found(format!("No status found for task {name}-{id}")))?;
    Ok(axum::Json(task_json(&state, id, &t)).into_response())
}

/// `POST /connectors/{c}/tasks/{t}/restart`.
pub async fn restart_task(
    State(state): State<RestState>,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = task_id(&task)?;
    state.herder.restart_task(&name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn is_source(state: &RestState, name: &str) -> Result<bool, ApiError> {
    Ok(find(state, name)?.kind == "source")
}

/// `GET /connectors/{c}/offsets`: a sink's committed offset per partition, or a source's stored
/// offsets (`{"partition": {…}, "offset": {…}}`, Connect's layout).
pub async fn offsets(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    if is_source(&state, &name)? {
        let entries: Vec<Value> = state
            .herder
            .source_offsets(&name)
            .await?
            .into_iter()
            .map(|(partition, offset)| json!({"partition": partition, "offset": offset}))
            .collect();
        return Ok(axum::Json(json!({"offsets": entries})).into_response());
    }
    let offsets = state.herder.offsets(&name).await?;
    let entries: Vec<Value> = offsets
        .into_iter()
        .map(|((topic, partition), offset)| {
            json!({"partition": {"kafka_topic": topic, "kafka_partition": partition}, "offset": {"kafka_offset": offset}})
        })
        .collect();
    Ok(axum::Json(json!({"offsets": entries})).into_response())
}

type OffsetChange = ((String, i32), Option<i64>);

/// Reads `{"offsets": [{"partition": {"kafka_topic", "kafka_partition"}, "offset": {"kafka_offset"} | null}]}`.
fn offset_changes(body: &Value) -> Result<Vec<OffsetChange>, ApiError> {
    let entries = body
        .get("offsets")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("the body must be {\"offsets\": [...]}, with at least one entry"))?;
    if entries.is_empty() {
        return Err(ApiError::bad_request("the offsets list is empty; give at least one partition"));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let partition = e.get("partition").filter(|p| p.is_object()).ok_or_else(|| {
                ApiError::bad_request(format!("offsets[{i}]: 'partition' must be an object with kafka_topic and kafka_partition"))
            })?;
            let topic = partition.get("kafka_topic").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| {
                ApiError::bad_request(format!("offsets[{i}].partition: 'kafka_topic' must be a non-empty string"))
            })?;
            let number = partition.get("kafka_partition").and_then(Value::as_i64).filter(|p| (0..=i32::MAX as i64).contains(p));
            let number = number.ok_or_else(|| {
                ApiError::bad_request(format!("offsets[{i}].partition: 'kafka_partition' must be a non-negative integer"))
            })?;
            let offset = match e.get("offset") {
                None | Some(Value::Null) => None,
                Some(o) => Some(o.get("kafka_offset").and_then(Value::as_i64).filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "offsets[{i}].offset: 'kafka_offset' must be a non-negative integer (or the offset null to reset it)"
                    ))
                })?),
            };
            Ok(((topic.to_string(), number as i32), offset))
        })
        .collect()
}

type SourceOffsetChange = (Value, Option<Value>);

/// Reads `{"offsets": [{"partition": {…}, "offset": {…} | null}]}` for a source connector.
fn source_offset_changes(body: &Value) -> Result<Vec<SourceOffsetChange>, ApiError> {
    let entries = body
        .get("offsets")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::bad_request("the body must be {\"offsets\": [...]}, with at least one entry"))?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let partition = e.get("partition").filter(|p| p.is_object()).cloned().ok_or_else(|| {
                ApiError::bad_request(format!(
                    "offsets[{i}]: 'partition' must be an object, e.g. {{\"connect.cassandra.assigned.tables\": \"orders\"}}"
                ))
            })?;
            let offset = match e.get("offset") {
                None | Some(Value::Null) => None,
                Some(o) if o.is_object() => Some(o.clone()),
                Some(_) => return Err(ApiError::bad_request(format!("offsets[{i}]: 'offset' must be an object or null"))),
            };
            Ok((partition, offset))
        })
        .collect()
}

/// `PATCH /connectors/{c}/offsets` (the connector must be stopped).
pub async fn alter_offsets(
    State(state): State<RestState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    if is_source(&state, &name)? {
        let changes = source_offset_changes(&body)?;
        state.herder.alter_source_offsets(&name, Some(changes)).await?;
        return Ok(axum::Json(json!({"message": "The offsets for this connector have been altered successfully"}))
            .into_response());
    }
    let changes = offset_changes(&body)?;
    state.herder.alter_offsets(&name, changes).await?;
    Ok(axum::Json(json!({"message": "The offsets for this connector have been altered successfully"})).into_response())
}

/// `DELETE /connectors/{c}/offsets` (the connector must be stopped).
pub async fn reset_offsets(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    if is_source(&state, &name)? {
        state.herder.alter_source_offsets(&name, None).await?;
    } else {
        state.herder.reset_offsets(&name).await?;
    }
    Ok(axum::Json(json!({"message": "The offsets for this connector have been reset successfully"})).into_response())
}

/// `GET /connectors/{c}/topics`.
pub async fn topics(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let topics = state.herder.active_topics(&name).await?;
    let mut out = Map::new();
    out.insert(name, json!({"topics": topics}));
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// `PUT /connectors/{c}/topics/reset`.
pub async fn reset_topics(State(state): State<RestState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.herder.reset_active_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}
