//! Helpers shared by the end-to-end tests: configs, setup, REST.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::message::{Headers, OwnedMessage};
use serde_json::Value;
use spillway::config::{Settings, WorkerConfig};
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, create_keyspace, execute, iot, plugin_dist, unique_name};

pub const DEADLINE: Duration = Duration::from_secs(120);

pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    Settings::from_pairs(pairs)
}

/// The test worker: the services, REST on a free port, frequent commits, plain JSON values.
pub fn worker(services: &Services) -> WorkerConfig {
    worker_with(services, &[])
}

fn worker_with(services: &Services, extra: &[(&str, &str)]) -> WorkerConfig {
    let mut s = settings(&[
        ("bootstrap.servers", &services.kafka_bootstrap),
        ("listeners", "http://127.0.0.1:0"),
        ("offset.flush.interval.ms", "200"),
        ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
        ("value.converter.schemas.enable", "false"),
    ]);
    for (k, v) in extra {
        s.0.insert(k.to_string(), v.to_string());
    }
    WorkerConfig::from_settings(&s).expect("valid worker config")
}

/// The test worker with a fresh `plugin.path` holding copies of `plugins` (from `plugins/dist`).
pub fn plugin_worker(services: &Services, plugins: &[&str]) -> WorkerConfig {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.join(unique_name("e2e-plugins"));
    std::fs::create_dir_all(&dir).expect("plugin directory");
    for p in plugins {
        std::fs::copy(plugin_dist().join(p), dir.join(p)).unwrap_or_else(|e| panic!("copying {p}: {e}"));
    }
    let (dir, cache) = (dir.display().to_string(), tmp.join("wasm-cache").display().to_string());
    worker_with(services, &[("plugin.path", &dir), ("wasm.cache.dir", &cache)])
}

/// A consumed message's headers as text (the dead letter queue's `__connect.errors.*` included).
pub fn text_headers(message: &OwnedMessage) -> HashMap<String, String> {
    message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A Lenses-dialect sink config for `topic` → `keyspace.table`.
pub fn sink(
    services: &Services,
    name: &str,
    topic: &str,
    keyspace: &str,
    table: &str,
    extra: &[(&str, &str)],
) -> Settings {
    let port = services.cassandra_port().to_string();
    let kcql = format!("INSERT INTO {table} SELECT * FROM {topic}");
    let mut s = settings(&[
        ("name", name),
        ("connector.class", "io.lenses.streamreactor.connect.cassandra.sink.CassandraSinkConnector"),
        ("tasks.max", "1"),
        ("topics", topic),
        ("connect.cassandra.contact.points", services.cassandra_address()),
        ("connect.cassandra.port", &port),
        ("connect.cassandra.key.space", keyspace),
        ("connect.cassandra.kcql", &kcql),
    ]);
    for (k, v) in extra {
        s.0.insert(k.to_string(), v.to_string());
    }
    s
}

/// A fresh topic and a keyspace with the IoT readings table; returns (topic, keyspace, session).
pub async fn setup(services: &Services, partitions: i32) -> (String, String, scylla::client::session::Session) {
    let topic = unique_name("readings");
    let keyspace = unique_name("ks");
    services.create_topic(&topic, partitions).await;
    let session = services.cassandra().await;
    create_keyspace(&session, &keyspace).await;
    execute(&session, &iot::TABLE_DDL.replace("{table}", &format!("{keyspace}.readings"))).await;
    (topic, keyspace, session)
}

pub async fn rest_json(standalone: &Standalone, path: &str) -> Value {
    let url = format!("http://{}{path}", standalone.rest_addr());
    reqwest::get(&url).await.unwrap_or_else(|e| panic!("GET {url}: {e}")).json().await.expect("JSON body")
}

/// A DataStax-dialect sink for `topic`; `extra` holds the `topic.*` mappings and anything else.
pub fn datastax_sink(services: &Services, name: &str, topic: &str, extra: &[(&str, &str)]) -> Settings {
    let port = services.cassandra_port().to_string();
    let mut s = settings(&[
        ("name", name),
        ("connector.class", "com.datastax.oss.kafka.sink.CassandraSinkConnector"),
        ("topics", topic),
        ("contactPoints", services.cassandra_address()),
        ("port", &port),
        ("loadBalancing.localDc", "datacenter1"),
    ]);
    for (k, v) in extra {
        s.0.insert(k.to_string(), v.to_string());
    }
    s
}

/// Every row of a query, typed.
pub async fn rows<T>(session: &scylla::client::session::Session, cql: &str) -> Vec<T>
where
    T: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
{
    use futures::TryStreamExt;
    session
        .query_iter(cql, &[])
        .await
        .unwrap_or_else(|e| panic!("`{cql}`: {e}"))
        .rows_stream::<T>()
        .unwrap_or_else(|e| panic!("`{cql}`: row type: {e}"))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("`{cql}`: {e}"))
}

/// Waits until the connector's committed offsets on `topic` add up to `expected`; fails at once,
/// with the trace, when one of its tasks failed.
pub async fn wait_for_commits(
    services: &Services,
    standalone: &Standalone,
    name: &str,
    topic: &str,
    partitions: i32,
    expected: i64,
) {
    let group = format!("connect-{name}");
    spillway_tests::poll_until(DEADLINE, &format!("{expected} offsets of {topic} committed by {name}"), || async {
        let status = rest_json(standalone, &format!("/connectors/{name}/status")).await;
        if let Some(failed) = status["tasks"].as_array().and_then(|ts| ts.iter().find(|t| t["state"] == "FAILED")) {
            panic!("a task of {name} failed: {}", failed["trace"]);
        }
        (services.committed_total(&group, topic, partitions) == expected).then_some(())
    })
    .await;
}
