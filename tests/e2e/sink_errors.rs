//! Bad records end to end: every good record written, every bad one in the dead letter queue with
//! Connect's headers, offsets committed past all of them.

use std::collections::HashMap;

use rdkafka::Message;
use serde_json::json;
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, TestRecord, count_rows, iot, unique_name};

use crate::common::{DEADLINE, rest_json, setup, sink, text_headers, wait_for_commits, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_go_to_the_dead_letter_queue_with_connect_headers() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    let wrong_type = json!({"sensor_id": "sensor-x", "ts": iot::START_MS, "battery": "full"});
    let no_key = json!({"ts": iot::START_MS, "site": "nowhere"});
    // Cassandra refuses partition keys over 64 KiB: a write it rejects for good.
    let huge_key = json!({"sensor_id": "x".repeat(70_000), "ts": iot::START_MS});
    let records = vec![
        TestRecord::from(iot::record(0)), // 0 good
        TestRecord { value: Some(b"{not json".to_vec()), ..TestRecord::default() }.header("h", "kept"), // 1
        TestRecord::json("k", &wrong_type), // 2
        TestRecord::json("k", &no_key),   // 3
        TestRecord { key: Some(b"gone".to_vec()), value: None, ..TestRecord::default() }, // 4 tombstone
        TestRecord::json("k", &huge_key), // 5
        TestRecord::from(iot::record(1)), // 6 good
    ];
    services.produce(&topic, records).await;

    let name = unique_name("dlq");
    let dlq_topic = unique_name("dlq");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", &dlq_topic),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("starts");

    wait_for_commits(&services, &standalone, &name, &topic, 1, 7).await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, 2, "both good records written");

    let dead = services.consume(&dlq_topic, 5, DEADLINE).await;
    let mut by_offset = HashMap::new();
    for message in &dead {
        let headers = text_headers(message);
        assert_eq!(headers["__connect.errors.topic"], topic);
        assert_eq!(headers["__connect.errors.partition"], "0");
        assert_eq!(headers["__connect.errors.connector.name"], name);
        assert_eq!(headers["__connect.errors.task.id"], "0");
        let offset: i64 = headers["__connect.errors.offset"].parse().expect("numeric offset");
        by_offset.insert(offset, (headers, message.payload().map(<[u8]>::to_vec)));
    }
    let mut offsets: Vec<i64> = by_offset.keys().copied().collect();
    offsets.sort();
    assert_eq!(offsets, vec![1, 2, 3, 4, 5], "exactly the bad records, once each");

    let (h, payload) = &by_offset[&1];
    assert_eq!(h["__connect.errors.stage"], "VALUE_CONVERTER");
    assert!(h["__connect.errors.exception.message"].contains("malformed JSON"), "{h:?}");
    assert_eq!(h["h"], "kept", "the record's own headers are kept");
    assert_eq!(payload.as_deref(), Some(&b"{not json"[..]), "the original bytes");
    let (h, _) = &by_offset[&2];
    assert_eq!(h["__connect.errors.stage"], "TASK_PUT");
    assert!(h["__connect.errors.exception.message"].contains("column 'battery'"), "{h:?}");
    let (h, _) = &by_offset[&3];
    assert!(h["__connect.errors.exception.message"].contains("primary key column 'sensor_id'"), "{h:?}");
    let (h, payload) = &by_offset[&4];
    assert!(h["__connect.errors.exception.message"].contains("tombstone"), "{h:?}");
    assert_eq!(payload, &None, "a tombstone stays a tombstone");
    let (h, _) = &by_offset[&5];
    assert_eq!(h["__connect.errors.exception.class.name"], "spillway.WriteRejected", "{h:?}");

    let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    standalone.stop().await;
}

/// With `connect.cassandra.error.policy=THROW` a write Cassandra rejects fails the task, so records
/// are bound straight from the consumer's buffer and only their coordinates are kept while they are
/// written. A record that fails to bind still reaches the dead letter queue whole (key, value), and
/// a rejected write still names its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_bound_without_a_copy_reach_the_dead_letter_queue_whole() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    let wrong_type = json!({"sensor_id": "sensor-x", "ts": iot::START_MS, "battery": "full"});
    let huge_key = json!({"sensor_id": "x".repeat(70_000), "ts": iot::START_MS});
    let records = vec![
        TestRecord::from(iot::record(0)), // 0 good
        TestRecord { key: Some(b"k1".to_vec()), value: Some(b"{not json".to_vec()), ..TestRecord::default() }, // 1
        TestRecord::json("k2", &wrong_type), // 2
        TestRecord::from(iot::record(1)), // 3 good
        TestRecord::json("k4", &huge_key), // 4 rejected by Cassandra: fails the task
    ];
    services.produce(&topic, records).await;

    let name = unique_name("throw");
    let dlq_topic = unique_name("dlq");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("errors.tolerance", "all"),
            ("connect.cassandra.error.policy", "THROW"),
            ("errors.deadletterqueue.topic.name", &dlq_topic),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
        ],
    );
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("starts");

    let status = spillway_tests::poll_until(DEADLINE, "the task to fail", || async {
        let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
        (status["tasks"][0]["state"] == "FAILED").then_some(status)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().expect("a trace");
    assert!(trace.contains(&format!("writing record {topic}-0@4 failed")), "the trace names the record: {trace}");

    let dead = services.consume(&dlq_topic, 2, DEADLINE).await;
    let mut got: Vec<_> = dead.iter().map(|m| (m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec))).collect();
    got.sort();
    let expected = vec![
        (Some(b"k1".to_vec()), Some(b"{not json".to_vec())),
        (Some(b"k2".to_vec()), Some(serde_json::to_vec(&wrong_type).expect("JSON"))),
    ];
    assert_eq!(got, expected, "the two bad records, byte for byte");

    // Everything before the rejected write is done: written or in the dead letter queue.
    let group = format!("connect-{name}");
    spillway_tests::poll_until(DEADLINE, "offset 4 committed", || async {
        (services.committed_total(&group, &topic, 1) == 4).then_some(())
    })
    .await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, 2, "both good records written");
    standalone.stop().await;
}
