//! `/connector-plugins…` (Connect's) and `/plugins…` (Spillway's Wasm plugins: list, inspect,
//! upload, remove, try).

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::connectors::string_map;
use super::{ApiError, JsonBody, RestState};
use crate::config::Settings;
use crate::connectors::ConnectorKind;
use crate::wasm::pool::off_runtime;
use crate::wasm::{Plugin, World};

/// Connect's plugin type of a Wasm plugin: converters, transformations, and predicates (transform
/// plugins under Connect's `…transforms.predicates.` package). Mappers are Spillway's own: `None`.
fn connect_plugin_type(plugin: &Plugin) -> Option<&'static str> {
    match plugin.world {
        World::Converter => Some("converter"),
        World::Transform if plugin.descriptor.name.contains(".predicates.") => Some("predicate"),
        World::Transform => Some("transformation"),
        World::SinkMapper | World::SourceMapper => None,
    }
}

/// `GET /connector-plugins`: the connector classes (and, with `connectorsOnly=false`, the Wasm
/// converters, transformations and predicates), each `{"class", "type", "version"}`.
pub async fn connector_plugins(
    State(state): State<RestState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let flags = super::connectors::query_flags(&query);
    let connectors_only =
        !flags.iter().any(|(k, _)| k == "connectorsOnly") || super::connectors::query_bool(&flags, "connectorsOnly")?;
    let version = env!("CARGO_PKG_VERSION");
    let sinks = crate::connectors::SINK_CLASSES.iter().map(|c| (c, "sink"));
    let sources = crate::connectors::SOURCE_CLASSES.iter().map(|c| (c, "source"));
    let mut out: Vec<Value> = sinks
        .chain(sources)
        .filter(|(c, _)| c.contains('.'))
        .map(|(c, kind)| json!({"class": c, "type": kind, "version": version}))
        .collect();
    if !connectors_only {
        let mut plugins: Vec<Value> = state
            .herder
            .registry()
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
    Ok(axum::Json(Value::Array(out)).into_response())
}

/// Connect's `ConfigKeyInfo`.
fn key_info(
    name: &str,
    typ: &str,
    default: Option<&str>,
    required: bool,
    doc: &str,
    group: &str,
    order: usize,
) -> Value {
    json!({
        "name": name, "type": typ, "required": required, "default_value": default,
        "importance": if required { "HIGH" } else { "MEDIUM" }, "documentation": doc, "group": group,
        "width": "NONE", "display_name": name, "dependents": [], "order": order,
    })
}

fn connector_keys(kind: ConnectorKind) -> Vec<Value> {
    let doc = "See docs/configuration.md.";
    let common = crate::config::connector::COMMON_KEYS;
    let mut keys: Vec<Value> = common
        .iter()
        .enumerate()
        .map(|(i, k)| key_info(k, "STRING", None, matches!(*k, "name" | "connector.class"), doc, "Common", i + 1))
        .collect();
    let own = match kind {
        ConnectorKind::CassandraSink => crate::connectors::sink::config_keys(),
        ConnectorKind::CassandraSource => crate::connectors::source::config_keys(),
    };
    keys.extend(
        own.iter()
            .filter(|k| !common.contains(k))
            .enumerate()
            .map(|(i, k)| key_info(k, "STRING", None, false, doc, "Cassandra", i + 1)),
    );
    keys
}

/// `GET /connector-plugins/{plugin}/config`: Connect's `ConfigKeyInfo` list, from the plugin's
/// self-description (a Wasm plugin named by class, alias or `name@version`) or the connector's keys.
pub async fn connector_plugin_config(
    State(state): State<RestState>,
    Path(class): Path<String>,
) -> Result<Response, ApiError> {
    if let Ok(kind) = ConnectorKind::from_class(&class) {
        return Ok(axum::Json(Value::Array(connector_keys(kind))).into_response());
    }
    let registry = state.herder.registry();
    let found = [World::Converter, World::Transform]
        .into_iter()
        .find_map(|world| registry.resolve(&class, world).ok())
        .filter(|p| connect_plugin_type(p).is_some())
        .ok_or_else(|| ApiError::not_found(format!("Unknown plugin {class}.")))?;
    let params = &found.descriptor.params;
    let keys: Vec<Value> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let typ = serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_uppercase));
            key_info(
                &p.name,
                typ.as_deref().unwrap_or("STRING"),
                p.default.as_deref(),
                p.required,
                &p.documentation,
                "",
                i + 1,
            )
        })
        .collect();
    Ok(axum::Json(Value::Array(keys)).into_response())
}

/// The group Connect's validate response files a key under.
fn group_of(key: &str) -> &'static str {
    if key.starts_with("transforms") {
        "Transforms"
    } else if key.starts_with("predicates") {
        "Predicates"
    } else if key.starts_with("errors.") {
        "Error Handling"
    } else if crate::config::connector::COMMON_KEYS.contains(&key) || key.contains("converter") {
        "Common"
    } else {
        "Cassandra"
    }
}

/// `PUT /connector-plugins/{plugin}/config/validate`: Connect's `ConfigInfos`, the error (if any)
/// under the key it concerns.
pub async fn validate(
    State(state): State<RestState>,
    Path(plugin): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut config: BTreeMap<String, String> =
        string_map(&body, "the connector configuration")?.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
    let Some(class) = config.get("connector.class").cloned() else {
        return Err(ApiError::bad_request(format!("Connector config {body} contains no connector type")));
    };
    let same = |a: &str, b: &str| {
        let (ka, kb) = (ConnectorKind::from_class(a), ConnectorKind::from_class(b));
        a == b || a.ends_with(&format!(".{b}")) || matches!((ka, kb), (Ok(x), Ok(y)) if x == y)
    };
    if !same(&class, &plugin) {
        return Err(ApiError::bad_request(format!(
            "Included connector type {class} does not match request type {plugin}"
        )));
    }
    // A name is needed to validate; the endpoint validates the rest.
    config.entry("name".into()).or_insert_with(|| "validate".into());
    let validation = state.herder.validate(Settings(config.clone())).await;
    let (error_key, error) = match &validation.error {
        None => (None, None),
        Some(crate::config::ConfigError::Invalid { key, .. } | crate::config::ConfigError::Missing { key, .. }) => {
            (Some(key.clone()), validation.error.as_ref().map(ToString::to_string))
        }
        Some(other) => (Some("connector.class".to_string()), Some(other.to_string())),
    };
    if let Some(key) = &error_key {
        config.entry(key.clone()).or_default();
    }
    let mut groups: Vec<&str> = Vec::new();
    let configs: Vec<Value> = config
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let group = group_of(k);
            if !groups.contains(&group) {
                groups.push(group);
            }
            let errors: Vec<&str> =
                if error_key.as_deref() == Some(k) { error.as_deref().into_iter().collect() } else { vec![] };
            let required = matches!(k.as_str(), "name" | "connector.class");
            json!({
                "definition": key_info(k, "STRING", None, required, "See docs/configuration.md.", group, i + 1),
                "value": {"name": k, "value": v, "recommended_values": [], "errors": errors, "visible": true},
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "name": class,
        "error_count": usize::from(error.is_some()),
        "groups": groups,
        "configs": configs,
    }))
    .into_response())
}

fn plugin_json(p: &Plugin) -> Value {
    let mut v = json!(p.descriptor);
    v["kind"] = json!(p.world.as_str());
    v["path"] = json!(p.path);
    v["sha256"] = json!(p.hash);
    v
}

/// `GET /plugins`: the Wasm plugins in use, and files that were rejected (with why).
pub async fn list(State(state): State<RestState>) -> Response {
    let registry = state.herder.registry();
    let mut plugins: Vec<Value> = registry.plugins().iter().map(|p| plugin_json(p)).collect();
    plugins
        .sort_by(|a, b| (a["name"].as_str(), a["version"].as_str()).cmp(&(b["name"].as_str(), b["version"].as_str())));
    axum::Json(json!({"plugins": plugins, "files": registry.files()})).into_response()
}

/// A plugin by reference (name, alias, `name@version`) or by its file's name without `.wasm`.
fn lookup(state: &RestState, name: &str) -> Option<std::sync::Arc<Plugin>> {
    let registry = state.herder.registry();
    let worlds = [World::Transform, World::Converter, World::SinkMapper, World::SourceMapper];
    worlds.into_iter().find_map(|w| registry.resolve(name, w).ok()).or_else(|| {
        registry.plugins().into_iter().find(|p| p.path.file_stem().is_some_and(|s| s.to_string_lossy() == name))
    })
}

/// `GET /plugins/{name}`.
pub async fn get_one(State(state): State<RestState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let plugin = lookup(&state, &name).ok_or_else(|| ApiError::not_found(format!("Plugin {name} not found")))?;
    Ok(axum::Json(plugin_json(&plugin)).into_response())
}

fn valid_file_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "plugin name '{}' may hold only letters, digits, '-', '_', '.', '@' (at most 128, not starting with '.')",
            name.escape_debug()
        )))
    }
}

fn upload_dir(state: &RestState) -> Result<PathBuf, ApiError> {
    state
        .herder
        .worker()
        .wasm
        .plugin_path
        .first()
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "this worker has no plugin.path; set it to upload plugins"))
}

/// `PUT /plugins/{name}` with the `.wasm` file as the body: stored as `<plugin.path>/<name>.wasm`
/// (in distributed mode, in the cluster's plugin topic, so every worker loads it) and loaded at
/// once. A file the runtime rejects is refused with the reason (400) and stored nowhere.
pub async fn upload(
    State(state): State<RestState>,
    Path(name): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    // Too large (over wasm.module.max.bytes) or unreadable: Connect's error body, not axum's text.
    let body =
        body.map_err(|e| ApiError::new(e.status(), format!("cannot read the plugin file: {}", e.body_text())))?;
    valid_file_name(&name)?;
    if body.is_empty() {
        return Err(ApiError::bad_request("the body is empty; send the plugin's .wasm file"));
    }
    let cluster = state.herder.cluster().cloned();
    let dir = match cluster.as_ref() {
        Some(cluster) => cluster.plugin_dir().to_path_buf(),
        None => upload_dir(&state)?,
    };
    let registry = state.herder.registry().clone();
    let path = dir.join(format!("{name}.wasm"));
    let existed = path.exists();
    let file = name.clone();
    let store_here = cluster.is_none();
    let stored = body.clone();
    let outcome = off_runtime(move || -> Result<Option<String>, String> {
        // Check it before it replaces anything, from a directory of its own outside plugin.path.
        static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let check = std::env::temp_dir().join(format!("spillway-upload-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&check).map_err(|e| format!("{}: {e}", check.display()))?;
        let checked = check.join(format!("{file}.wasm"));
        let loaded = std::fs::write(&checked, &body)
            .map_err(|e| format!("{}: {e}", checked.display()))
            .map(|()| Plugin::load(registry.runtime(), &checked));
        let _ = std::fs::remove_dir_all(&check);
        if let Err(reason) = loaded? {
            return Ok(Some(reason.replace(&checked.display().to_string(), &format!("{file}.wasm"))));
        }
        if !store_here {
            return Ok(None);
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let temp = dir.join(format!(".{file}.wasm.upload"));
        std::fs::write(&temp, &body).map_err(|e| format!("{}: {e}", temp.display()))?;
        std::fs::rename(&temp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        registry.scan();
        Ok(None)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    if let Some(reason) = outcome {
        return Err(ApiError::bad_request(format!("plugin {name} rejected: {reason}")));
    }
    if let Some(cluster) = cluster {
        cluster
            .put_plugin(&name, Some(&stored))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    }
    let plugin = lookup(&state, &name).ok_or_else(|| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("plugin {name} stored but not loaded"))
    })?;
    let code = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((code, axum::Json(plugin_json(&plugin))).into_response())
}

/// `DELETE /plugins/{name}`: removes the plugin's file from `plugin.path` (an uploaded plugin, in
/// distributed mode, from every worker); connectors using it keep the instance they have until
/// they restart.
pub async fn remove(State(state): State<RestState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let plugin = lookup(&state, &name).ok_or_else(|| ApiError::not_found(format!("Plugin {name} not found")))?;
    if let Some(cluster) = state.herder.cluster().filter(|c| plugin.path.starts_with(c.plugin_dir())) {
        let file = plugin.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(name);
        cluster.put_plugin(&file, None).await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        return Ok(StatusCode::NO_CONTENT);
    }
    std::fs::remove_file(&plugin.path).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot remove {}: {e}", plugin.path.display()))
    })?;
    let registry = state.herder.registry().clone();
    let _ = off_runtime(move || registry.scan()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /plugins/{name}/test` with `{"config": {…}, "records": [...]}`: the plugin's output per
/// record, as `spillway plugin test` prints it.
pub async fn test(
    State(state): State<RestState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let plugin = lookup(&state, &name).ok_or_else(|| ApiError::not_found(format!("Plugin {name} not found")))?;
    let config: Vec<(String, String)> = match body.get("config") {
        None | Some(Value::Null) => Vec::new(),
        Some(c) => string_map(c, "config")?.into_iter().filter_map(|(k, v)| Some((k, v?))).collect(),
    };
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("'records' must be an array of input records"))?;
    let input: String = records.iter().map(|r| format!("{r}\n")).collect();
    let path = plugin.path.clone();
    let outputs = off_runtime(move || crate::cli::plugin_test(&path, config, &input))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?
        .map_err(ApiError::bad_request)?;
    Ok(axum::Json(json!({"outputs": outputs})).into_response())
}
