//! The Cassandra source end to end: rows written to a real Cassandra table, records read back from a
//! real Kafka topic, offsets read back from the worker's offset file and REST.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use rdkafka::Message;
use rdkafka::message::OwnedMessage;
use scylla::client::session::Session;
use scylla::value::CqlTimestamp;
use serde_json::{Value, json};
use spillway::config::{Settings, WorkerConfig};
use spillway::connectors::source::offsets::OffsetFile;
use spillway::connectors::source::slice::format_time;
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, create_keyspace, execute, poll_until, unique_name};

use crate::common::{DEADLINE, rest_json, settings};

/// A worker with its own offsets file; returns the file's path too.
fn source_worker(services: &Services, extra: &[(&str, &str)]) -> (WorkerConfig, PathBuf) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.offsets", unique_name("source")));
    let path_text = path.display().to_string();
    let mut s = settings(&[
        ("bootstrap.servers", &services.kafka_bootstrap),
        ("listeners", "http://127.0.0.1:0"),
        ("offset.flush.interval.ms", "200"),
        ("offset.storage.file.filename", &path_text),
        ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
        ("value.converter.schemas.enable", "false"),
        ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
    ]);
    for (k, v) in extra {
        s.0.insert(k.to_string(), v.to_string());
    }
    (WorkerConfig::from_settings(&s).expect("valid worker config"), path)
}

/// A Lenses source connector config.
fn source(services: &Services, name: &str, keyspace: &str, kcql: &str, extra: &[(&str, &str)]) -> Settings {
    let port = services.cassandra_port().to_string();
    let mut s = settings(&[
        ("name", name),
        ("connector.class", "io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector"),
        ("tasks.max", "1"),
        ("connect.cassandra.contact.points", services.cassandra_address()),
        ("connect.cassandra.port", &port),
        ("connect.cassandra.key.space", keyspace),
        ("connect.cassandra.kcql", kcql),
        ("connect.cassandra.import.poll.interval", "200"),
    ]);
    for (k, v) in extra {
        s.0.insert(k.to_string(), v.to_string());
    }
    s
}

async fn keyspace(services: &Services) -> (String, Session) {
    let keyspace = unique_name("src");
    let session = services.cassandra().await;
    create_keyspace(&session, &keyspace).await;
    (keyspace, session)
}

/// Runs `cql` with each row's values, 256 at a time.
async fn insert_all<V>(session: &Session, cql: &str, rows: impl IntoIterator<Item = V>)
where
    V: scylla::serialize::row::SerializeRow + Send,
{
    let prepared = Arc::new(session.prepare(cql).await.unwrap_or_else(|e| panic!("`{cql}`: {e}")));
    let mut writes = futures::stream::iter(rows)
        .map(|v| {
            let prepared = prepared.clone();
            async move { session.execute_unpaged(&prepared, v).await.map(|_| ()) }
        })
        .buffer_unordered(256);
    while let Some(r) = writes.next().await {
        r.unwrap_or_else(|e| panic!("`{cql}`: {e}"));
    }
}

fn value_of(m: &OwnedMessage) -> Value {
    serde_json::from_slice(m.payload().expect("a value")).expect("JSON value")
}

fn key_of(m: &OwnedMessage) -> String {
    String::from_utf8(m.key().expect("a key").to_vec()).expect("text key")
}

/// Fails at once, with the trace, when a task of `name` failed.
async fn assert_running(standalone: &Standalone, name: &str) {
    let status = rest_json(standalone, &format!("/connectors/{name}/status")).await;
    if let Some(failed) = status["tasks"].as_array().and_then(|ts| ts.iter().find(|t| t["state"] == "FAILED")) {
        panic!("a task of {name} failed: {}", failed["trace"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucketed_table_of_100_000_rows_becomes_exactly_those_records() {
    const N: i64 = 100_000;
    let services = Services::from_env();
    let (ks, session) = keyspace(&services).await;
    execute(
        &session,
        &format!(
            "CREATE TABLE {ks}.readings (bucket text, ts timestamp, id int, sensor text, temperature double, PRIMARY KEY ((bucket), ts, id))"
        ),
    )
    .await;
    // 14 hourly buckets from 26 hours ago; ten rows share each timestamp (every 5 s), and every
    // boundary of the 15 s slices falls on one of them.
    let start = (chrono_now() - 26 * 3_600_000) / 3_600_000 * 3_600_000;
    let ts_of = |i: i64| start + (i / 10) * 5_000;
    let bucket_of = |ts: i64| format_time(ts)[..13].replace([' ', '-'], "");
    insert_all(
        &session,
        &format!("INSERT INTO {ks}.readings (bucket, ts, id, sensor, temperature) VALUES (?, ?, ?, ?, ?)"),
        (0..N)
            .map(|i| (bucket_of(ts_of(i)), CqlTimestamp(ts_of(i)), i as i32, format!("s-{}", i % 97), i as f64 / 4.0)),
    )
    .await;

    let topic = unique_name("readings");
    services.create_topic(&topic, 4).await;
    let name = unique_name("bucketed");
    let kcql = format!("INSERT INTO {topic} SELECT * FROM readings PK ts INCREMENTALMODE=BUCKETTIMESERIES WITHKEY(id)");
    let initial = format_time(start);
    let connector = source(
        &services,
        &name,
        &ks,
        &kcql,
        &[
            ("connect.cassandra.initial.offset", &initial),
            ("connect.cassandra.slice.duration", "15000"),
            // Slices stay 15 s wide: they widen only when they hold fewer than 10 × 2 rows.
            ("connect.cassandra.fetch.size", "10"),
            ("connect.cassandra.source.parallelism", "2"),
            ("connect.cassandra.bucket.timeseries.mode", "HOUR"),
            ("connect.cassandra.bucket.timeseries.format", "yyyyMMddHH"),
            ("connect.cassandra.bucket.timeseries.field.name", "bucket"),
        ],
    );
    let (worker, offsets_path) = source_worker(&services, &[]);
    let standalone = Standalone::start(worker, vec![connector]).await.expect("standalone starts");

    let messages = services.consume(&topic, N as usize, DEADLINE).await;
    assert_running(&standalone, &name).await;
    let mut seen = HashSet::new();
    for m in &messages {
        let v = value_of(m);
        let id = v["id"].as_i64().expect("id");
        assert!(seen.insert(id), "row {id} arrived twice");
        assert_eq!(key_of(m), id.to_string(), "WITHKEY(id)");
        assert_eq!(v["ts"], json!(ts_of(id)), "ts of {id}");
        assert_eq!(v["bucket"], json!(bucket_of(ts_of(id))), "bucket of {id}");
        assert_eq!(v["sensor"], json!(format!("s-{}", id % 97)), "sensor of {id}");
        assert_eq!(v["temperature"], json!(id as f64 / 4.0), "temperature of {id}");
    }
    assert_eq!(seen.len() as i64, N);

    // The offset moves on past the last row (and is stored in Connect's layout), also over REST.
    let last = ts_of(N - 1);
    let offsets = OffsetFile::open(&offsets_path).expect("offsets file");
    let partition = json!({"connect.cassandra.assigned.tables": "readings"});
    poll_until(DEADLINE, "the offset past the last row", || async {
        let stored = offsets.get(&name, &partition)?;
        let at = spillway::connectors::source::slice::parse_time(stored["ts"].as_str()?).ok()?;
        (at >= last).then_some(())
    })
    .await;
    let rest = rest_json(&standalone, &format!("/connectors/{name}/offsets")).await;
    assert_eq!(rest["offsets"][0]["partition"], partition, "{rest}");
    assert!(rest["offsets"][0]["offset"]["ts"].is_string(), "{rest}");
    standalone.stop().await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_mode_loses_no_equal_timestamps_and_reads_late_writes_within_the_delay() {
    let services = Services::from_env();
    let (ks, session) = keyspace(&services).await;
    execute(
        &session,
        &format!("CREATE TABLE {ks}.orders (id int, created timestamp, product text, PRIMARY KEY (id, created))"),
    )
    .await;
    let insert = format!("INSERT INTO {ks}.orders (id, created, product) VALUES (?, ?, ?)");
    // 2,000 rows in 20 timestamps one second apart, 100 rows each; slices of exactly one second
    // end on every one of them.
    let base = (chrono_now() - 600_000) / 1000 * 1000;
    insert_all(
        &session,
        &insert,
        (0..2_000).map(|i| (i, CqlTimestamp(base + i64::from(i / 100) * 1000), format!("p{i}"))),
    )
    .await;

    let topic = unique_name("orders");
    services.create_topic(&topic, 1).await;
    let name = unique_name("orders");
    let kcql =
        format!("INSERT INTO {topic} SELECT id, created, product FROM orders PK created INCREMENTALMODE=TIMESTAMP");
    let initial = format_time(base);
    let connector = source(
        &services,
        &name,
        &ks,
        &kcql,
        &[
            ("connect.cassandra.initial.offset", &initial),
            ("connect.cassandra.slice.duration", "1000"),
            // Slices stay 1 s wide: they hold 100 rows, more than 4 × 10 × 1.
            ("connect.cassandra.fetch.size", "10"),
            ("connect.cassandra.source.parallelism", "1"),
            ("connect.cassandra.slice.delay.ms", "4000"),
        ],
    );
    let (worker, _) = source_worker(&services, &[]);
    let standalone = Standalone::start(worker, vec![connector]).await.expect("standalone starts");
    let first = services.consume(&topic, 2_000, DEADLINE).await;
    let ids: HashSet<i64> = first.iter().map(|m| value_of(m)["id"].as_i64().expect("id")).collect();
    assert_eq!(ids.len(), 2_000, "every row once, equal timestamps at every slice boundary included");
    assert_running(&standalone, &name).await;

    // A late writer: rows stamped 2 s in the past, inside the 4 s delay, so behind the clock but
    // ahead of the reader. They arrive.
    let late = chrono_now() - 2_000;
    insert_all(&session, &insert, (2_000..2_050).map(|i| (i, CqlTimestamp(late), format!("late{i}")))).await;
    let all = services.consume(&topic, 2_050, DEADLINE).await;
    let late_ids: HashSet<i64> = all
        .iter()
        .map(value_of)
        .filter(|v| v["id"].as_i64() >= Some(2_000))
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(late_ids.len(), 50, "every late row");
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cql_type_arrives_typed_with_its_schema() {
    let services = Services::from_env();
    let (ks, session) = keyspace(&services).await;
    execute(&session, &format!("CREATE TYPE {ks}.address (street text, zip int)")).await;
    execute(
        &session,
        &format!(
            "CREATE TABLE {ks}.everything (id uuid, at timeuuid, t text, a ascii, i int, b bigint, s smallint, ti tinyint, \
             bo boolean, f float, d double, de decimal, v varint, bl blob, ip inet, da date, tm time, ts timestamp, \
             du duration, li list<int>, se set<text>, ma map<text, int>, mi map<int, text>, tu tuple<int, text>, ad frozen<address>, \
             nothing text, PRIMARY KEY (id, at))"
        ),
    )
    .await;
    let created = chrono_now() - 60_000;
    execute(
        &session,
        &format!(
            "INSERT INTO {ks}.everything (id, at, t, a, i, b, s, ti, bo, f, d, de, v, bl, ip, da, tm, ts, du, li, se, ma, mi, tu, ad) VALUES \
             (5b6962dd-3f90-4c93-8f61-eabfa4a803e2, minTimeuuid({created}), 'text', 'ascii', 42, 9000000000, 7, -3, true, 1.5, 2.25, \
             123.4500, 123456789012345678901234567890, 0xcafe, '10.1.2.3', '2024-05-01', '10:00:00.000000123', {created}, 1mo2d3ns, \
             [1, 2], {{'x', 'y'}}, {{'k': 1}}, {{7: 'seven'}}, (1, 'one'), {{street: 'Main', zip: 12345}})"
        ),
    )
    .await;
    let topic = unique_name("everything");
    services.create_topic(&topic, 1).await;
    let name = unique_name("everything");
    let kcql = format!("INSERT INTO {topic} SELECT * FROM everything PK at INCREMENTALMODE=TIMEUUID");
    let initial = format_time(created - 1_000);
    let connector = source(
        &services,
        &name,
        &ks,
        &kcql,
        &[
            ("connect.cassandra.initial.offset", &initial),
            ("connect.cassandra.mapping.collection.to.json", "false"),
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("value.converter.schemas.enable", "true"),
        ],
    );
    let (worker, _) = source_worker(&services, &[]);
    let standalone = Standalone::start(worker, vec![connector]).await.expect("standalone starts");
    let messages = services.consume(&topic, 1, DEADLINE).await;
    let v = value_of(&messages[0]);
    let payload = &v["payload"];
    let expected = json!({
        "id": "5b6962dd-3f90-4c93-8f61-eabfa4a803e2", "t": "text", "a": "ascii", "i": 42, "b": 9_000_000_000_i64,
        "s": 7, "ti": -3, "bo": true, "f": 1.5, "d": 2.25, "de": "123.4500", "v": "123456789012345678901234567890",
        "bl": "yv4=", "ip": "10.1.2.3", "da": 19844, "tm": 36_000_000_000_123_i64, "ts": created, "du": "1mo2d3ns",
        "li": [1, 2], "se": ["x", "y"], "ma": {"k": 1}, "mi": [[7, "seven"]], "tu": {"field1": 1, "field2": "one"},
        "ad": {"street": "Main", "zip": 12345}, "nothing": null,
    });
    for (field, want) in expected.as_object().unwrap() {
        assert_eq!(&payload[field], want, "field {field} of {payload}");
    }
    assert!(payload["at"].as_str().is_some_and(|u| u.len() == 36), "timeuuid as text: {payload}");
    let schema = &v["schema"];
    assert_eq!(schema["type"], "struct");
    assert_eq!(schema["name"], format!("{ks}.everything"));
    let fields: BTreeMap<String, Value> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_string(), f.clone()))
        .collect();
    assert_eq!(fields["ts"]["name"], "org.apache.kafka.connect.data.Timestamp");
    assert_eq!(fields["da"]["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(fields["b"]["type"], "int64");
    assert_eq!(fields["ti"]["type"], "int8");
    assert_eq!(fields["bl"]["type"], "bytes");
    assert_eq!(fields["li"]["type"], "array");
    assert_eq!(fields["li"]["items"]["type"], "int32");
    assert_eq!(fields["mi"]["type"], "map");
    assert_eq!(fields["ad"]["fields"][1]["field"], "zip");
    assert_eq!(fields["tu"]["fields"][1]["type"], "string");
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_snapshot_reads_every_row_once_and_is_not_taken_again_after_a_restart() {
    const N: i32 = 10_000;
    let services = Services::from_env();
    let (ks, session) = keyspace(&services).await;
    execute(&session, &format!("CREATE TABLE {ks}.users (id uuid PRIMARY KEY, n int, name text)")).await;
    let ids: Vec<uuid::Uuid> = (0..N).map(|_| uuid::Uuid::new_v4()).collect();
    insert_all(
        &session,
        &format!("INSERT INTO {ks}.users (id, n, name) VALUES (?, ?, ?)"),
        ids.iter().enumerate().map(|(i, id)| (*id, i as i32, format!("user {i}"))),
    )
    .await;
    let topic = unique_name("users");
    services.create_topic(&topic, 2).await;
    let name = unique_name("snapshot");
    let kcql =
        format!("INSERT INTO {topic} SELECT id, n, name FROM users INCREMENTALMODE=TOKEN WITHKEY(id) WITHFORMAT JSON");
    let connector = source(&services, &name, &ks, &kcql, &[("connect.cassandra.source.token.ranges", "16")]);
    let (worker, offsets_path) = source_worker(&services, &[]);
    let standalone = Standalone::start(worker.clone(), vec![connector.clone()]).await.expect("standalone starts");
    let messages = services.consume(&topic, N as usize, DEADLINE).await;
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for m in &messages {
        // WITHFORMAT JSON: the value is the row as JSON text (a JSON string through JsonConverter).
        let text = value_of(m);
        let row: Value = serde_json::from_str(text.as_str().expect("a string value")).expect("JSON row");
        assert!(by_id.insert(key_of(m), row).is_none(), "a row arrived twice");
    }
    for (i, id) in ids.iter().enumerate() {
        let row = by_id.get(&id.to_string()).unwrap_or_else(|| panic!("row {id} missing"));
        assert_eq!(row, &json!({"id": id.to_string(), "n": i, "name": format!("user {i}")}));
    }
    let offsets = OffsetFile::open(&offsets_path).expect("offsets file");
    let partition = json!({"connect.cassandra.assigned.tables": "users"});
    poll_until(DEADLINE, "the snapshot marked complete", || async {
        (offsets.get(&name, &partition)?["snapshot"] == "complete").then_some(())
    })
    .await;
    standalone.stop().await;

    // Started again, it keeps its position: one more row is not a new snapshot.
    let standalone = Standalone::start(worker, vec![connector]).await.expect("standalone starts again");
    poll_until(DEADLINE, "the task running again", || async {
        let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
        (status["tasks"][0]["state"] == "RUNNING").then_some(())
    })
    .await;
    standalone.stop().await;
    assert_eq!(services.end_offsets(&topic, 2), i64::from(N), "no second snapshot");
    assert_eq!(offsets.get(&name, &partition).expect("kept")["snapshot"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_mode_is_rejected_over_rest_with_the_reason() {
    let services = Services::from_env();
    let (worker, _) = source_worker(&services, &[]);
    let standalone = Standalone::start(worker, vec![]).await.expect("standalone starts");
    let client = reqwest::Client::new();
    let url = format!("http://{}/connectors", standalone.rest_addr());
    for (kcql, reason) in [
        ("INSERT INTO t SELECT * FROM orders PK created INCREMENTALMODE=INT", "INCREMENTALMODE=INT is not a mode"),
        ("INSERT INTO t SELECT * FROM orders PK created", "no INCREMENTALMODE"),
    ] {
        let config = source(&services, "bad-mode", "ks", kcql, &[]);
        let body = json!({"name": "bad-mode", "config": config.0});
        let response = client.post(&url).json(&body).send().await.expect("POST /connectors");
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.expect("JSON error");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("connect.cassandra.kcql") && message.contains(reason), "{error}");
    }
    let list = rest_json(&standalone, "/connectors").await;
    assert_eq!(list, json!([]), "nothing was created");
    standalone.stop().await;
}
