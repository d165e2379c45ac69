//! Router-level tests: every endpoint's shapes and codes, errors included. Connectors are created
//! against unreachable Kafka and Cassandra (their tasks retry in the background), or STOPPED.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::*;
use crate::config::{Settings, WorkerConfig};
use crate::wasm::{Registry, WasmSettings};
use crate::worker::herder::Herder;
use crate::worker::status::StatusBoard;

fn test_router() -> (Router, Arc<Herder>) {
    let cache = std::env::temp_dir().join("spillway-rest-test-cache");
    let worker = WorkerConfig::from_settings(&Settings::from_pairs(&[
        ("bootstrap.servers", "127.0.0.1:1"),
        ("wasm.cache.dir", cache.to_str().unwrap()),
    ]))
    .unwrap();
    let registry = Registry::open(&worker.wasm).unwrap();
    let herder = Herder::new(Arc::new(worker), registry, Arc::new(StatusBoard::default()), CancellationToken::new());
    (router(RestState::new(herder.clone(), "127.0.0.1:8083".into())), herder)
}

async fn call(router: &Router, method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(uri).header("content-type", "application/json");
    let request = request.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}

fn sink_config(name: &str) -> Value {
    json!({
        "name": name,
        "connector.class": "io.lenses.streamreactor.connect.cassandra.sink.CassandraSinkConnector",
        "topics": "readings",
        "tasks.max": 2,
        "connect.cassandra.contact.points": "127.0.0.1",
        "connect.cassandra.port": "1",
        "connect.cassandra.key.space": "ks",
        "connect.cassandra.password": "s3cret",
        "connect.cassandra.username": "me",
        "connect.cassandra.kcql": "INSERT INTO t SELECT * FROM readings",
    })
}

#[tokio::test]
async fn create_read_update_delete_as_connect() {
    let (r, herder) = test_router();
    let body = json!({"name": "s1", "config": sink_config("s1"), "initial_state": "STOPPED"}).to_string();
    let request =
        Request::post("/connectors").header("content-type", "application/json").body(Body::from(body.clone()));
    let response = r.clone().oneshot(request.unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/connectors/s1");

    let (code, v) = call(&r, Method::POST, "/connectors", Some(&body)).await;
    assert_eq!((code, v), (StatusCode::CONFLICT, json!({"error_code": 409, "message": "Connector s1 already exists"})));

    let (code, v) = call(&r, Method::GET, "/connectors/s1", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["type"], "sink");
    assert_eq!(v["tasks"], json!([]), "a STOPPED connector has no tasks");
    assert_eq!(v["config"]["connect.cassandra.password"], "[hidden]", "secrets are masked");
    assert_eq!(v["config"]["connect.cassandra.username"], "me");
    assert_eq!(v["config"]["tasks.max"], "2", "numbers are read as strings, as Connect does");

    let (code, v) = call(&r, Method::GET, "/connectors/s1/status", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["connector"], json!({"state": "STOPPED", "worker_id": "127.0.0.1:8083"}));

    // A GET's output PUT back keeps the real secret.
    let (_, config) = call(&r, Method::GET, "/connectors/s1/config", None).await;
    assert_eq!(config["connect.cassandra.password"], "[hidden]");
    let mut changed = config.clone();
    changed["tasks.max"] = json!("1");
    let (code, v) = call(&r, Method::PUT, "/connectors/s1/config", Some(&changed.to_string())).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    let stored = herder.config("s1").await.unwrap();
    assert_eq!(stored.get("connect.cassandra.password"), Some("s3cret"));
    assert_eq!(stored.get("tasks.max"), Some("1"));

    // PATCH: null removes a key.
    let (code, v) =
        call(&r, Method::PATCH, "/connectors/s1/config", Some(r#"{"connect.cassandra.username": null}"#)).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert!(v["config"].get("connect.cassandra.username").is_none());
    let (code, _) = call(&r, Method::PATCH, "/connectors/nope/config", Some("{}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // PUT creates (201) when absent; a name that differs from the URL is a 400.
    let (code, v) = call(&r, Method::PUT, "/connectors/s2/config", Some(&sink_config("s2").to_string())).await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(v["tasks"], json!([{"connector": "s2", "task": 0}, {"connector": "s2", "task": 1}]));
    let (code, v) = call(&r, Method::PUT, "/connectors/other/config", Some(&sink_config("s2").to_string())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "Connector name configuration (s2) doesn't match connector name in the URL (other)");

    let (code, v) = call(&r, Method::GET, "/connectors", None).await;
    assert_eq!((code, v), (StatusCode::OK, json!(["s1", "s2"])));
    let (code, v) = call(&r, Method::GET, "/connectors?expand=nothing", None).await;
    assert_eq!((code, v), (StatusCode::OK, json!({"s1": {}, "s2": {}})), "any expand answers the map, as Connect");
    let (code, v) = call(&r, Method::GET, "/connectors?expand=status&expand=info", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["s1"]["status"]["connector"]["state"], "STOPPED");
    assert_eq!(v["s2"]["info"]["name"], "s2");

    let (code, v) = call(&r, Method::GET, "/connectors/s2/tasks", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v[1]["id"], json!({"connector": "s2", "task": 1}));
    assert_eq!(v[1]["config"]["connect.cassandra.password"], "[hidden]");
    let (code, v) = call(&r, Method::GET, "/connectors/s2/tasks-config", None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(v.get("s2-0").is_some() && v.get("s2-1").is_some(), "{v}");

    assert_eq!(call(&r, Method::DELETE, "/connectors/s2", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(&r, Method::DELETE, "/connectors/s1", None).await.0, StatusCode::NO_CONTENT);
    let (code, v) = call(&r, Method::GET, "/connectors/s1", None).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::NOT_FOUND, json!("Connector s1 not found")));
    let (code, v) = call(&r, Method::GET, "/connectors/s1/status", None).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::NOT_FOUND, json!("No status found for connector s1")));
    herder.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_connect_errors() {
    let (r, _) = test_router();
    let (code, v) = call(&r, Method::POST, "/connectors", Some("{\"name\": ")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["error_code"], 400);
    assert!(v["message"].as_str().unwrap().contains("not valid JSON"), "{v}");

    let (code, v) = call(&r, Method::POST, "/connectors", Some(r#"{"config": {}}"#)).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::BAD_REQUEST, json!("Connector name cannot be empty")));

    let mut bad = sink_config("bad");
    bad["tasks.max"] = json!("zero");
    let (code, v) =
        call(&r, Method::POST, "/connectors", Some(&json!({"name": "bad", "config": bad}).to_string())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("Connector configuration is invalid and contains the following 1 error(s):"),
        "{message}"
    );
    assert!(message.contains("tasks.max"), "{message}");

    let (code, v) = call(&r, Method::POST, "/connectors", Some(r#"{"name": "x", "config": {"a": [1]}}"#)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("'a'"), "{v}");

    let (code, v) =
        call(&r, Method::POST, "/connectors", Some(r#"{"name": "x", "config": {}, "initial_state": "SLEEPING"}"#))
            .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");

    let (code, v) = call(&r, Method::GET, "/connector-plugins?connectorsOnly=maybe&connectorsOnly=true", None).await;
    assert_eq!((code, v["error_code"].clone()), (StatusCode::BAD_REQUEST, json!(400)), "the first value counts: {v}");
    let (code, _) = call(&r, Method::GET, "/connector-plugins?connectorsOnly=true&connectorsOnly=x", None).await;
    assert_eq!(code, StatusCode::OK);

    let (code, v) = call(&r, Method::GET, "/no/such/path", None).await;
    assert_eq!((code, v), (StatusCode::NOT_FOUND, json!({"error_code": 404, "message": "HTTP 404 Not Found"})));
    let (code, v) = call(&r, Method::DELETE, "/connector-plugins", None).await;
    assert_eq!((code, v["error_code"].clone()), (StatusCode::METHOD_NOT_ALLOWED, json!(405)));
    let (code, _) = call(&r, Method::GET, "/connectors/x/tasks/abc/status", None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, v) = call(&r, Method::PUT, "/connectors/nope/pause", None).await;
    assert_eq!((code, v["error_code"].clone()), (StatusCode::NOT_FOUND, json!(404)));
}

#[tokio::test]
async fn lifecycle_pause_resume_stop_restart() {
    let (r, herder) = test_router();
    let body = json!({"name": "life", "config": sink_config("life")}).to_string();
    assert_eq!(call(&r, Method::POST, "/connectors", Some(&body)).await.0, StatusCode::CREATED);
    let (_, v) = call(&r, Method::GET, "/connectors/life/status", None).await;
    assert_eq!(v["connector"]["state"], "RUNNING");
    assert_eq!(v["tasks"].as_array().unwrap().len(), 2);

    assert_eq!(call(&r, Method::PUT, "/connectors/life/pause", None).await.0, StatusCode::ACCEPTED);
    let (_, v) = call(&r, Method::GET, "/connectors/life/status", None).await;
    assert_eq!(v["connector"]["state"], "PAUSED");
    assert_eq!(v["tasks"][0]["state"], "PAUSED");
    assert_eq!(call(&r, Method::PUT, "/connectors/life/pause", None).await.0, StatusCode::ACCEPTED, "idempotent");

    assert_eq!(call(&r, Method::PUT, "/connectors/life/resume", None).await.0, StatusCode::ACCEPTED);
    let (_, v) = call(&r, Method::GET, "/connectors/life/tasks/1/status", None).await;
    assert_eq!(v, json!({"id": 1, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}));

    // Offsets change only when stopped.
    let patch = r#"{"offsets": [{"partition": {"kafka_topic": "readings", "kafka_partition": 0}, "offset": {"kafka_offset": 5}}]}"#;
    let (code, v) = call(&r, Method::PATCH, "/connectors/life/offsets", Some(patch)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().starts_with("Connectors must be in the STOPPED state"), "{v}");
    let (code, _) = call(&r, Method::DELETE, "/connectors/life/offsets", None).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, v) = call(&r, Method::PATCH, "/connectors/life/offsets", Some(r#"{"offsets": []}"#)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
    let bad = r#"{"offsets": [{"partition": {"kafka_topic": "readings", "kafka_partition": -1}, "offset": null}]}"#;
    let (code, v) = call(&r, Method::PATCH, "/connectors/life/offsets", Some(bad)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("kafka_partition"), "{v}");

    // Restarts: the legacy form is a 204; with tasks a 202 showing RESTARTING.
    assert_eq!(call(&r, Method::POST, "/connectors/life/restart", None).await.0, StatusCode::NO_CONTENT);
    let (code, v) = call(&r, Method::POST, "/connectors/life/restart?includeTasks=true", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(v["connector"]["state"], "RESTARTING");
    assert_eq!(v["tasks"][0]["state"], "RESTARTING");
    let (code, v) = call(&r, Method::POST, "/connectors/life/restart?includeTasks=true&onlyFailed=true", None).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(v["connector"]["state"], "RUNNING", "only failed instances restart: {v}");
    let (code, v) = call(&r, Method::POST, "/connectors/life/tasks/9/restart", None).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::NOT_FOUND, json!("Unknown task: life-9")));
    assert_eq!(call(&r, Method::POST, "/connectors/life/tasks/0/restart", None).await.0, StatusCode::NO_CONTENT);

    assert_eq!(call(&r, Method::PUT, "/connectors/life/stop", None).await.0, StatusCode::NO_CONTENT);
    let (_, v) = call(&r, Method::GET, "/connectors/life/status", None).await;
    assert_eq!((v["connector"]["state"].clone(), v["tasks"].clone()), (json!("STOPPED"), json!([])));
    assert_eq!(call(&r, Method::PUT, "/connectors/life/pause", None).await.0, StatusCode::ACCEPTED);
    let (_, v) = call(&r, Method::GET, "/connectors/life/status", None).await;
    assert_eq!(v["connector"]["state"], "PAUSED");
    assert_eq!(v["tasks"][1]["state"], "PAUSED", "pausing a stopped connector starts its tasks paused: {v}");
    assert_eq!(call(&r, Method::PUT, "/connectors/life/resume", None).await.0, StatusCode::ACCEPTED);
    let (_, v) = call(&r, Method::GET, "/connectors/life/status", None).await;
    assert_eq!(v["connector"]["state"], "RUNNING");
    assert_eq!(v["tasks"].as_array().unwrap().len(), 2, "resume after stop starts the tasks again");

    let (code, v) = call(&r, Method::GET, "/connectors/life/topics", None).await;
    assert_eq!((code, v), (StatusCode::OK, json!({"life": {"topics": []}})));
    assert_eq!(call(&r, Method::PUT, "/connectors/life/topics/reset", None).await.0, StatusCode::ACCEPTED);

    let (code, text) = call(&r, Method::GET, "/metrics", None).await;
    assert_eq!(code, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(text.contains("spillway_connector_state{connector=\"life\",state=\"RUNNING\"} 1"), "{text}");
    assert!(text.contains("spillway_task_records_read_total{connector=\"life\",task=\"1\"} 0"), "{text}");
    herder.shutdown().await;
}

#[tokio::test]
async fn validate_answers_config_infos() {
    let (r, _) = test_router();
    let class = "io.lenses.streamreactor.connect.cassandra.sink.CassandraSinkConnector";
    let uri = format!("/connector-plugins/{class}/config/validate");
    let (code, v) = call(&r, Method::PUT, &uri, Some(&sink_config("v").to_string())).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!((v["name"].clone(), v["error_count"].clone()), (json!(class), json!(0)));
    assert!(v["configs"].as_array().unwrap().iter().all(|c| c["value"]["errors"] == json!([])));

    let mut bad = sink_config("v");
    bad["errors.tolerance"] = json!("some");
    let (code, v) = call(&r, Method::PUT, &uri, Some(&bad.to_string())).await;
    assert_eq!((code, v["error_count"].clone()), (StatusCode::OK, json!(1)));
    let field = v["configs"].as_array().unwrap().iter().find(|c| c["value"]["name"] == "errors.tolerance").unwrap();
    assert!(field["value"]["errors"][0].as_str().unwrap().contains("'some'"), "{field}");
    assert_eq!(field["definition"]["group"], "Error Handling");

    let (code, v) =
        call(&r, Method::PUT, "/connector-plugins/CassandraSink/config/validate", Some(r#"{"topics": "t"}"#)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("contains no connector type"), "{v}");
    let (code, v) =
        call(&r, Method::PUT, "/connector-plugins/FileStreamSink/config/validate", Some(&sink_config("v").to_string()))
            .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("does not match request type FileStreamSink"), "{v}");

    let (code, v) = call(&r, Method::GET, "/connector-plugins", None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(v.as_array().unwrap().iter().any(|p| p["class"] == class && p["type"] == "sink"));
    let (code, v) = call(&r, Method::GET, &format!("/connector-plugins/{class}/config"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(v.as_array().unwrap().iter().any(|k| k["name"] == "connect.cassandra.kcql"), "{v}");
    let (code, v) = call(&r, Method::GET, "/connector-plugins/Nope/config", None).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::NOT_FOUND, json!("Unknown plugin Nope.")));
}

#[tokio::test]
async fn loggers_change_levels_live() {
    let (r, _) = test_router();
    let (code, v) = call(&r, Method::PUT, "/admin/loggers/spillway.connectors", Some(r#"{"level": "debug"}"#)).await;
    assert_eq!((code, v), (StatusCode::OK, json!(["spillway.connectors"])));
    let (code, v) = call(&r, Method::GET, "/admin/loggers/spillway.connectors", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(v["level"], "DEBUG");
    assert!(v["last_modified"].is_i64());
    let (_, v) = call(&r, Method::GET, "/admin/loggers", None).await;
    assert!(v.get("root").is_some() && v.get("spillway.connectors").is_some(), "{v}");
    let (code, v) = call(&r, Method::GET, "/admin/loggers/org.example.nothing", None).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::NOT_FOUND, json!("Logger org.example.nothing not found.")));
    let (code, v) = call(&r, Method::GET, "/admin/loggers/spillway.rest", None).await;
    assert_eq!((code, v["last_modified"].clone()), (StatusCode::OK, Value::Null), "Spillway's loggers exist: {v}");
    let (code, v) = call(&r, Method::PUT, "/admin/loggers/x", Some(r#"{"level": "LOUD"}"#)).await;
    assert_eq!((code, v["message"].clone()), (StatusCode::NOT_FOUND, json!("invalid log level 'LOUD'.")));
    let (code, v) = call(&r, Method::PUT, "/admin/loggers/x", Some("{}")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(v["message"], "Desired 'level' parameter was not specified in request.");
    let (code, _) = call(&r, Method::PUT, "/admin/loggers/x?scope=cluster", Some(r#"{"level": "INFO"}"#)).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn plugins_endpoints_answer() {
    let (r, _) = test_router();
    let (code, v) = call(&r, Method::GET, "/plugins", None).await;
    assert_eq!((code, v), (StatusCode::OK, json!({"plugins": [], "files": []})));
    let (code, _) = call(&r, Method::GET, "/plugins/nope", None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, v) = call(&r, Method::PUT, "/plugins/x", Some("not wasm")).await;
    assert_eq!(code, StatusCode::CONFLICT, "no plugin.path to store it in: {v}");
    let (code, _) = call(&r, Method::POST, "/plugins/nope/test", Some(r#"{"records": []}"#)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let too_big = "x".repeat(WasmSettings::default().module_max_bytes + 2048);
    let (code, v) = call(&r, Method::PUT, "/plugins/x", Some(&too_big)).await;
    assert_eq!((code, v["error_code"].clone()), (StatusCode::PAYLOAD_TOO_LARGE, json!(413)), "{v}");
}

/// The spec, the route table and the router agree: every documented operation is served, and
/// every served route is documented.
#[tokio::test]
async fn openapi_matches_the_router() {
    let spec: Value = serde_json::from_str(admin::OPENAPI).expect("openapi.json parses");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    served.sort();
    assert_eq!(documented, served, "openapi.json and ROUTES differ");

    let (r, _) = test_router();
    for (method, path) in ROUTES {
        let uri = path
            .replace("{connector}", "none")
            .replace("{task}", "0")
            .replace("{plugin}", "none")
            .replace("{logger}", "root")
            .replace("{name}", "none");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (code, v) = call(&r, method.clone(), &uri, Some("{}")).await;
        assert_ne!(code, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri} is not routed");
        assert_ne!(v, json!({"error_code": 404, "message": "HTTP 404 Not Found"}), "{method} {uri} is not routed");
    }
}
