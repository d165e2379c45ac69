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
