//! Both config dialects end to end: fan-out, TTL and write time, keys, headers, `now()`, deletes.

use scylla::value::{CqlTimestamp, CqlTimeuuid};
use serde_json::json;
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, TestRecord, count_rows, execute, iot, poll_until, unique_name};

use crate::common::{DEADLINE, datastax_sink, rows, setup, sink, wait_for_commits, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenses_one_topic_fans_out_to_two_tables_with_ttl_and_record_timestamps() {
    const N: u64 = 1000;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    execute(
        &session,
        &format!(
            "CREATE TABLE {keyspace}.by_site (site text, ts timestamp, sensor_id text, temperature double, PRIMARY KEY ((site), ts, sensor_id))"
        ),
    )
    .await;
    // Record timestamps differ from the readings' own `ts`, to see which one the write time follows.
    let record_ts = |i: u64| iot::START_MS + 500_000 + i as i64;
    let records = (0..N).map(|i| TestRecord::from(iot::record(i)).at(record_ts(i)));
    services.produce(&topic, records).await;

    let name = unique_name("fanout");
    let kcql = format!(
        "INSERT INTO readings SELECT * FROM {topic} TTL=3600; INSERT INTO by_site SELECT site, ts, sensor_id, temperature FROM {topic}"
    );
    let connector = sink(&services, &name, &topic, &keyspace, "readings", &[("connect.cassandra.kcql", &kcql)]);
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("starts");
    for table in ["readings", "by_site"] {
        let t = format!("{keyspace}.{table}");
        poll_until(DEADLINE, &format!("{N} rows in {t}"), || async {
            (count_rows(&session, &t).await == N as i64).then_some(())
        })
        .await;
    }
    let with_ttl: Vec<(String, CqlTimestamp, Option<i32>, Option<i64>)> = rows(
        &session,
        &format!("SELECT sensor_id, ts, TTL(temperature), WRITETIME(temperature) FROM {keyspace}.readings"),
    )
    .await;
    assert_eq!(with_ttl.len() as u64, N);
    for (sensor, ts, ttl, writetime) in with_ttl {
        let i = (0..N)
            .find(|i| iot::reading(*i)["sensor_id"] == sensor && iot::reading(*i)["ts"] == ts.0)
            .expect("known row");
        let ttl = ttl.expect("a TTL");
        assert!(ttl > 3000 && ttl <= 3600, "TTL {ttl} of {sensor}@{}", ts.0);
        assert_eq!(writetime, Some(record_ts(i) * 1000), "write time = record timestamp in µs");
    }
    let by_site: Vec<(Option<i32>,)> =
        rows(&session, &format!("SELECT TTL(temperature) FROM {keyspace}.by_site")).await;
    assert!(by_site.iter().all(|(ttl,)| ttl.is_none()), "the second statement has no TTL");
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datastax_maps_key_value_header_now_ttl_and_timestamp() {
    const N: i64 = 200;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    execute(
        &session,
        &format!(
            "CREATE TABLE {keyspace}.events (id text PRIMARY KEY, name text, amount int, origin text, seen timeuuid)"
        ),
    )
    .await;
    let records = (0..N).map(|i| {
        let value = json!({"name": format!("event {i}"), "amount": i, "ttl": 1000 + i, "ts": iot::START_MS + i});
        TestRecord::json(&format!("e{i}"), &value).header("origin", "web")
    });
    services.produce(&topic, records).await;

    let name = unique_name("datastax");
    let mapping_key = format!("topic.{topic}.{keyspace}.events.mapping");
    let unit_key = format!("topic.{topic}.{keyspace}.events.timestampTimeUnit");
    let mapping = "id=key, name=value.name, amount=value.amount, origin=header.origin, seen=now(), __ttl=value.ttl, __timestamp=value.ts";
    let connector = datastax_sink(
        &services,
        &name,
        &topic,
        &[
            (&mapping_key, mapping),
            (&unit_key, "MILLISECONDS"),
            ("key.converter", "org.apache.kafka.connect.storage.StringConverter"),
        ],
    );
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("starts");
    let table = format!("{keyspace}.events");
    poll_until(DEADLINE, "all events", || async { (count_rows(&session, &table).await == N).then_some(()) }).await;

    type Row = (String, String, i32, String, CqlTimeuuid, Option<i32>, Option<i64>);
    let all: Vec<Row> =
        rows(&session, &format!("SELECT id, name, amount, origin, seen, TTL(name), WRITETIME(name) FROM {table}"))
            .await;
    assert_eq!(all.len() as i64, N);
    for (id, name, amount, origin, seen, ttl, writetime) in all {
        let i: i64 = id[1..].parse().expect("e<i>");
        assert_eq!(name, format!("event {i}"));
        assert_eq!(i64::from(amount), i);
        assert_eq!(origin, "web", "from the header");
        assert_eq!(uuid::Uuid::from(seen).get_version_num(), 1, "now() is a time UUID");
        let ttl = i64::from(ttl.expect("a TTL"));
        assert!(ttl <= 1000 + i && ttl > 900 + i, "TTL {ttl} of {id}");
        assert_eq!(writetime, Some((iot::START_MS + i) * 1000), "__timestamp in ms, written in µs");
    }
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_in_both_dialects() {
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    execute(&session, &format!("CREATE TABLE {keyspace}.kv (id text PRIMARY KEY, v text)")).await;

    // DataStax: a tombstone, or a record whose only non-null column is the key, deletes the row.
    let mut records: Vec<TestRecord> =
        (1..=3).map(|i| TestRecord::json(&format!("k{i}"), &json!({"v": format!("v{i}")}))).collect();
    records.push(TestRecord { key: Some(b"k2".to_vec()), value: None, ..TestRecord::default() });
    records.push(TestRecord::json("k3", &json!({"v": null})));
    services.produce(&topic, records).await;
    let name = unique_name("ds-deletes");
    let mapping_key = format!("topic.{topic}.{keyspace}.kv.mapping");
    let ds = datastax_sink(
        &services,
        &name,
        &topic,
        &[(&mapping_key, "id=key, v=value.v"), ("key.converter", "org.apache.kafka.connect.storage.StringConverter")],
    );

    // Lenses: a tombstone runs the delete statement with fields of the (JSON) key.
    let lenses_topic = unique_name("lenses_deletes");
    services.create_topic(&lenses_topic, 1).await;
    let mut records: Vec<TestRecord> = (0..10).map(|i| TestRecord::from(iot::record(i))).collect();
    for i in [2u64, 5, 7] {
        let r = iot::reading(i);
        let key = json!({"sensor_id": r["sensor_id"], "ts": r["ts"]});
        records.push(TestRecord { key: Some(serde_json::to_vec(&key).unwrap()), value: None, ..TestRecord::default() });
    }
    services.produce(&lenses_topic, records).await;
    let lenses_name = unique_name("lenses-deletes");
    let lenses = sink(
        &services,
        &lenses_name,
        &lenses_topic,
        &keyspace,
        "readings",
        &[
            ("connect.cassandra.delete.enabled", "true"),
            ("connect.cassandra.delete.statement", "DELETE FROM readings WHERE sensor_id = ? AND ts = ?"),
            ("connect.cassandra.delete.struct_flds", "sensor_id,ts"),
            ("key.converter", "org.apache.kafka.connect.json.JsonConverter"),
            ("key.converter.schemas.enable", "false"),
        ],
    );
    let standalone = Standalone::start(worker(&services), vec![ds, lenses]).await.expect("starts");

    wait_for_commits(&services, &standalone, &name, &topic, 1, 5).await;
    wait_for_commits(&services, &standalone, &lenses_name, &lenses_topic, 1, 13).await;
    let left: Vec<(String, String)> = rows(&session, &format!("SELECT id, v FROM {keyspace}.kv")).await;
    assert_eq!(left, vec![("k1".to_string(), "v1".to_string())]);
    let readings: Vec<(String, CqlTimestamp)> =
        rows(&session, &format!("SELECT sensor_id, ts FROM {keyspace}.readings")).await;
    assert_eq!(readings.len(), 7, "3 of 10 readings deleted");
    for i in [2u64, 5, 7] {
        let r = iot::reading(i);
        assert!(!readings.iter().any(|(s, t)| r["sensor_id"] == *s && r["ts"] == t.0), "reading {i} deleted");
    }
    standalone.stop().await;
}
