//! Transforms as Wasm plugins in a running sink: a chain of three, records renamed and stamped on
//! their way to Cassandra, one record that makes a plugin trap isolated to the dead letter queue.

use std::collections::HashMap;

use rdkafka::Message;
use scylla::value::CqlTimestamp;
use serde_json::Value;
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, TestRecord, count_rows, iot, unique_name};

use crate::common::{DEADLINE, plugin_worker, rest_json, rows, setup, sink, text_headers, wait_for_commits};

const RECORDS: u64 = 300;
const POISONED: u64 = 123;

/// The reading as an older producer writes it: `sensor` and `temp` instead of the table's names.
fn legacy_reading(i: u64) -> Value {
    let mut v = iot::reading(i);
    let o = v.as_object_mut().expect("object");
    let sensor = o.remove("sensor_id").expect("sensor_id");
    let temp = o.remove("temperature").expect("temperature");
    o.insert("sensor".into(), sensor);
    o.insert("temp".into(), temp);
    if i == POISONED {
        o.insert("site".into(), "poison".into());
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_wasm_transforms_feeds_the_sink_and_isolates_a_trapping_record() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    let records: Vec<TestRecord> =
        (0..RECORDS).map(|i| TestRecord::json(&format!("k{}", i % 7), &legacy_reading(i))).collect();
    services.produce(&topic, records).await;

    let worker = plugin_worker(&services, &["field-edit.wasm", "hostile.wasm"]);

    let name = unique_name("smt");
    let dlq = unique_name("smt_dlq");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("transforms", "rename,stamp,guard"),
            ("transforms.rename.type", "field-edit"),
            ("transforms.rename.renames", "sensor:sensor_id,temp:temperature"),
            ("transforms.stamp.type", "field-edit@0.1.0"),
            ("transforms.stamp.static.field", "kind"),
            ("transforms.stamp.static.value", "transformed"),
            ("transforms.guard.type", "hostile"),
            ("transforms.guard.mode", "poison"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", &dlq),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    let standalone = Standalone::start(worker, vec![connector]).await.expect("starts");

    wait_for_commits(&services, &standalone, &name, &topic, 2, RECORDS as i64).await;
    let table = format!("{keyspace}.readings");
    assert_eq!(count_rows(&session, &table).await, RECORDS as i64 - 1, "every record but the poisoned one");
    let mut expected: HashMap<(String, i64), u64> = (0..RECORDS)
        .map(|i| (iot::reading(i), i))
        .map(|(v, i)| ((v["sensor_id"].as_str().unwrap().to_string(), v["ts"].as_i64().unwrap()), i))
        .collect();
    let written: Vec<(String, CqlTimestamp, f64, String)> =
        rows(&session, &format!("SELECT sensor_id, ts, temperature, kind FROM {table}")).await;
    for (sensor, ts, temperature, kind) in &written {
        let i = expected.remove(&(sensor.clone(), ts.0)).unwrap_or_else(|| panic!("unexpected row {sensor} {}", ts.0));
        assert_ne!(i, POISONED);
        assert_eq!(*temperature, iot::reading(i)["temperature"].as_f64().unwrap(), "renamed field kept its value");
        assert_eq!(kind, "transformed", "the second transform ran after the first");
    }
    assert_eq!(expected.keys().len(), 1, "only the poisoned record is missing");

    let dead = services.consume(&dlq, 1, DEADLINE).await;
    let headers = text_headers(&dead[0]);
    assert_eq!(headers["__connect.errors.stage"], "TRANSFORMATION");
    assert_eq!(headers["__connect.errors.class.name"], "hostile@0.1.0");
    assert!(headers["__connect.errors.exception.message"].contains("transform 'guard'"), "{headers:?}");
    assert!(headers["__connect.errors.exception.message"].contains("trapped"), "{headers:?}");
    let original: Value = serde_json::from_slice(dead[0].payload().unwrap()).unwrap();
    assert_eq!(original, legacy_reading(POISONED), "the dead letter queue gets the record as consumed");

    let listed = rest_json(&standalone, "/plugins").await;
    let names: Vec<&str> = listed["plugins"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, vec!["field-edit", "hostile"]);
    standalone.stop().await;
}

/// A transform that routes records to a topic no mapping writes: the records are not dropped
/// silently, they follow the error policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_routed_to_an_unmapped_topic_go_to_the_error_policy() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    services.produce(&topic, (0..3).map(|i| TestRecord::from(iot::record(i)))).await;
    let worker = plugin_worker(&services, &["field-edit.wasm"]);
    let (name, dlq) = (unique_name("route"), unique_name("route_dlq"));
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("transforms", "route"),
            ("transforms.route.type", "field-edit"),
            ("transforms.route.topic", "elsewhere"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", &dlq),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    let standalone = Standalone::start(worker, vec![connector]).await.expect("starts");
    wait_for_commits(&services, &standalone, &name, &topic, 1, 3).await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, 0);
    let dead = services.consume(&dlq, 3, DEADLINE).await;
    assert_eq!(dead.len(), 3);
    for message in &dead {
        let headers = text_headers(message);
        assert_eq!(headers["__connect.errors.stage"], "TASK_PUT");
        assert!(
            headers["__connect.errors.exception.message"].contains("no mapping writes topic 'elsewhere'"),
            "{headers:?}"
        );
    }
    standalone.stop().await;
}

/// Kafka Connect's own transforms, by class name and by alias, on JsonConverter's schema envelope:
/// ReplaceField renames and drops, InsertField adds a static field, TimestampConverter parses a
/// formatted time, and each row matches its record field by field. JsonConverter's envelope: the
/// steps run one by one (`spillway.FusedSteps`, on the plugin path, does not take envelopes and
/// hands each record back to them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_transforms_by_class_name_feed_the_sink() {
    connect_transforms_feed_the_sink(true).await;
}

/// The same chain on schemaless JSON: the three steps run as one `spillway.FusedSteps` call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fused_connect_transforms_feed_the_sink() {
    connect_transforms_feed_the_sink(false).await;
}

async fn connect_transforms_feed_the_sink(envelope: bool) {
    const N: u64 = 200;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    let field = |name: &str, typ: &str| serde_json::json!({"field": name, "type": typ, "optional": false});
    let schema = serde_json::json!({"type": "struct", "optional": false, "fields": [
        field("sensor", "string"), field("time", "string"), field("temp", "double"),
        field("site", "string"), field("debug", "string"),
    ]});
    let time_text = |i: u64| {
        let second = i % 60;
        format!("2026-01-01 00:{:02}:{second:02}", i / 60)
    };
    let records = (0..N).map(|i| {
        let reading = iot::reading(i);
        let payload = serde_json::json!({
            "sensor": reading["sensor_id"], "time": time_text(i), "temp": reading["temperature"],
            "site": reading["site"], "debug": "drop me",
        });
        let value = if envelope { serde_json::json!({"schema": schema, "payload": payload}) } else { payload };
        TestRecord::json(&format!("k{i}"), &value)
    });
    services.produce(&topic, records).await;

    let worker = plugin_worker(
        &services,
        &["replace-field-value.wasm", "insert-field-value.wasm", "timestamp-converter-value.wasm", "fused-steps.wasm"],
    );
    let name = unique_name("connect-smt");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("value.converter.schemas.enable", if envelope { "true" } else { "false" }),
            ("transforms", "rename,stamp,time"),
            ("transforms.rename.type", "org.apache.kafka.connect.transforms.ReplaceField$Value"),
            ("transforms.rename.renames", "sensor:sensor_id,temp:temperature,time:ts"),
            ("transforms.rename.exclude", "debug"),
            ("transforms.stamp.type", "InsertField$Value"),
            ("transforms.stamp.static.field", "kind"),
            ("transforms.stamp.static.value", "transformed"),
            ("transforms.time.type", "org.apache.kafka.connect.transforms.TimestampConverter$Value"),
            ("transforms.time.field", "ts"),
            ("transforms.time.target.type", "Timestamp"),
            ("transforms.time.format", "yyyy-MM-dd HH:mm:ss"),
        ],
    );
    let standalone = Standalone::start(worker, vec![connector]).await.expect("starts");
    wait_for_commits(&services, &standalone, &name, &topic, 2, N as i64).await;
    let table = format!("{keyspace}.readings");
    let written: Vec<(String, CqlTimestamp, f64, String, String, Option<String>)> =
        rows(&session, &format!("SELECT sensor_id, ts, temperature, site, kind, firmware FROM {table}")).await;
    assert_eq!(written.len() as u64, N, "one row per record");
    let start = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    for (sensor, ts, temperature, site, kind, firmware) in written {
        let i = ((ts.0 - start) / 1000) as u64;
        let reading = iot::reading(i);
        assert_eq!(ts.0, start + i as i64 * 1000, "TimestampConverter parsed '{}'", time_text(i));
        assert_eq!(sensor, reading["sensor_id"].as_str().unwrap(), "row {i}: renamed sensor");
        assert_eq!(temperature, reading["temperature"].as_f64().unwrap(), "row {i}: renamed temp");
        assert_eq!(site, reading["site"].as_str().unwrap(), "row {i}");
        assert_eq!(kind, "transformed", "row {i}: InsertField");
        assert_eq!(firmware, None, "row {i}: nothing else written");
    }
    standalone.stop().await;
}
