//! The Cassandra sink end to end: records produced to a real Kafka topic, rows read back from a real
//! Cassandra table, offsets read back from Kafka.

use std::collections::HashMap;

use futures::TryStreamExt;
use scylla::value::CqlTimestamp;
use serde_json::Value;
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, count_rows, iot, poll_until, unique_name};

use crate::common::{DEADLINE, rest_json, setup, sink, wait_for_commits, worker};

type Row = (String, CqlTimestamp, uuid::Uuid, String, String, f64, f64, f64, i32, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_json_records_become_exactly_those_rows() {
    const N: u64 = 10_000;
    const PARTITIONS: i32 = 4;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, PARTITIONS).await;
    let produced = services.produce(&topic, (0..N).map(iot::record)).await;
    assert_eq!(produced as u64, N);

    let name = unique_name("sink");
    let connector = sink(&services, &name, &topic, &keyspace, "readings", &[("tasks.max", "2")]);
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("standalone starts");

    let table = format!("{keyspace}.readings");
    poll_until(DEADLINE, "10,000 rows in Cassandra", || async {
        (count_rows(&session, &table).await == N as i64).then_some(())
    })
    .await;

    // Every row, every field, against what was produced.
    let mut expected: HashMap<(String, i64), Value> = (0..N)
        .map(iot::reading)
        .map(|v| ((v["sensor_id"].as_str().unwrap().to_string(), v["ts"].as_i64().unwrap()), v))
        .collect();
    let rows: Vec<Row> = session
        .query_iter(
            format!("SELECT sensor_id, ts, reading_id, site, kind, temperature, humidity, pressure, battery, firmware FROM {table}"),
            &[],
        )
        .await
        .expect("select")
        .rows_stream::<Row>()
        .expect("row types")
        .try_collect()
        .await
        .expect("rows");
    assert_eq!(rows.len() as u64, N);
    for (sensor_id, ts, reading_id, site, kind, temperature, humidity, pressure, battery, firmware) in rows {
        let v = expected
            .remove(&(sensor_id.clone(), ts.0))
            .unwrap_or_else(|| panic!("unexpected or duplicate row ({sensor_id}, {})", ts.0));
        assert_eq!(reading_id.to_string(), v["reading_id"].as_str().unwrap(), "reading_id of {sensor_id}@{}", ts.0);
        assert_eq!(site, v["site"].as_str().unwrap());
        assert_eq!(kind, v["kind"].as_str().unwrap());
        assert_eq!(temperature, v["temperature"].as_f64().unwrap());
        assert_eq!(humidity, v["humidity"].as_f64().unwrap());
        assert_eq!(pressure, v["pressure"].as_f64().unwrap());
        assert_eq!(i64::from(battery), v["battery"].as_i64().unwrap());
        assert_eq!(firmware, v["firmware"].as_str().unwrap());
    }
    assert!(expected.is_empty(), "{} readings have no row", expected.len());

    // Offsets are committed for every record, under Connect's group name.
    let group = format!("connect-{name}");
    poll_until(DEADLINE, "all 10,000 offsets committed", || async {
        (services.committed_total(&group, &topic, PARTITIONS) == N as i64).then_some(())
    })
    .await;

    let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
    assert_eq!(status["type"], "sink");
    assert_eq!(status["tasks"].as_array().map(Vec::len), Some(2));
    for task in status["tasks"].as_array().unwrap() {
        assert_eq!(task["state"], "RUNNING", "{status}");
    }
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_fails_the_task_with_its_reason_and_blocks_the_commit() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    let bad = serde_json::json!({"ts": iot::START_MS, "site": "no sensor id"});
    let records = vec![iot::record(0), (None, Some(serde_json::to_vec(&bad).unwrap())), iot::record(1)];
    services.produce(&topic, records).await;

    let name = unique_name("sink");
    let standalone =
        Standalone::start(worker(&services), vec![sink(&services, &name, &topic, &keyspace, "readings", &[])])
            .await
            .expect("starts");

    let status = poll_until(DEADLINE, "the task to fail", || async {
        let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
        (status["tasks"][0]["state"] == "FAILED").then_some(status)
    })
    .await;
    let trace = status["tasks"][0]["trace"].as_str().expect("a trace");
    assert!(trace.contains(&format!("{topic}-0@1")), "the trace names the record: {trace}");
    assert!(trace.contains("primary key column 'sensor_id'"), "the trace says why: {trace}");

    // The record before it is written and committed; the bad one and everything after are not.
    let group = format!("connect-{name}");
    poll_until(DEADLINE, "offset 1 committed", || async {
        (services.committed_total(&group, &topic, 1) == 1).then_some(())
    })
    .await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, 1);
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_errors_tolerance_all_bad_records_are_skipped_and_the_rest_written() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    let wrong_type = serde_json::json!({"sensor_id": "sensor-x", "ts": iot::START_MS, "battery": "full"});
    let records = vec![
        iot::record(0),
        (None, Some(b"{not json".to_vec())),
        (None, Some(serde_json::to_vec(&wrong_type).unwrap())),
        (None, None),
        iot::record(1),
    ];
    services.produce(&topic, records).await;

    let name = unique_name("sink");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[("errors.tolerance", "all"), ("errors.log.enable", "true")],
    );
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("starts");

    wait_for_commits(&services, &standalone, &name, &topic, 1, 5).await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, 2, "the two good records are written");
    let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    standalone.stop().await;
}

/// Tasks with the same connection settings share one session; it closes with the last of them,
/// and other settings get their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_with_the_same_settings_share_one_session() {
    use spillway::cassandra::{ConnectionSettings, shared_session};
    use std::sync::Arc;
    let services = Services::from_env();
    let settings = ConnectionSettings {
        contact_points: vec![services.cassandra_address().to_string()],
        port: services.cassandra_port(),
        local_dc: None,
        credentials: None,
        connect_timeout: std::time::Duration::from_secs(10),
        tls: None,
    };
    let (a, b) =
        (shared_session(&settings).await.expect("connects"), shared_session(&settings).await.expect("connects"));
    assert!(Arc::ptr_eq(&a, &b), "one session for the same settings");
    let other = ConnectionSettings { local_dc: Some("datacenter1".into()), ..settings.clone() };
    let c = shared_session(&other).await.expect("connects");
    assert!(!Arc::ptr_eq(&a, &c), "other settings, another session");
    let closed = Arc::downgrade(&a);
    drop((a, b));
    assert!(closed.upgrade().is_none(), "closed with the last task holding it");
    let d = shared_session(&settings).await.expect("connects");
    d.query_unpaged("SELECT release_version FROM system.local", &[]).await.expect("a new session works");
    // A session's connections live on the runtime that opened it: another runtime (another test
    // in this process) gets its own, and ending that runtime leaves this one working.
    let elsewhere = std::thread::spawn({
        let settings = settings.clone();
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async { shared_session(&settings).await.expect("connects") })
        }
    })
    .join()
    .expect("the other runtime's thread");
    assert!(!Arc::ptr_eq(&d, &elsewhere), "another runtime, another session");
    drop(elsewhere);
    d.query_unpaged("SELECT release_version FROM system.local", &[])
        .await
        .expect("still works after the other runtime ended");
}
