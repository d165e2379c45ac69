//! Confluent's AvroConverter (`plugins/std/avro-converter`) against a real schema registry (started
//! by `make up`): values written in the Confluent wire format and read back, then a sink reading
//! Avro records from Kafka into Cassandra.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use spillway::pipeline::record::SinkRecord;
use spillway::wasm::bindings::converter::exports::spillway::plugin::conversion::{Converted, Part};
use spillway::wasm::bindings::types::Data;
use spillway::wasm::{Instance, Registry, WasmSettings, World, arena};
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, TestRecord, iot, plugin_dist, unique_name};

use crate::common::{DEADLINE, plugin_worker, rows, setup, sink, text_headers, wait_for_commits};

/// The Connect schema of the readings these tests write (every column of `iot::TABLE_DDL`).
fn reading_schema() -> Value {
    let f = |name: &str, typ: &str| json!({"field": name, "type": typ, "optional": false});
    json!({"type": "struct", "name": "com.example.Reading", "optional": false, "fields": [
        f("sensor_id", "string"),
        {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "optional": false},
        f("reading_id", "string"), f("site", "string"), f("kind", "string"), f("temperature", "float64"),
        f("humidity", "float64"), f("pressure", "float64"), f("battery", "int32"),
        {"field": "firmware", "type": "string", "optional": true},
    ]})
}

/// A converter plugin instance, configured.
fn converter(registry: &Registry, class: &str, config: &[(&str, &str)]) -> Instance {
    let plugin = registry.resolve(class, World::Converter).expect("converter plugin");
    let given: Vec<(String, String)> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let config = plugin.validate("", &given).expect("settings accepted");
    Instance::new(&plugin, &config).expect("instantiates")
}

/// JsonConverter and AvroConverter, loaded from `plugins/dist`.
fn converters(services: &Services) -> (Instance, Instance) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("avro-plugins"));
    std::fs::create_dir_all(&dir).expect("plugin dir");
    for p in ["json-converter.wasm", "avro-converter.wasm"] {
        std::fs::copy(plugin_dist().join(p), dir.join(p)).expect("plugin file (make plugins)");
    }
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache");
    let registry =
        Registry::open(&WasmSettings { plugin_path: vec![dir], cache_dir: cache, ..WasmSettings::default() })
            .expect("plugin runtime");
    let json = converter(&registry, "org.apache.kafka.connect.json.JsonConverter", &[]);
    let avro = converter(
        &registry,
        "io.confluent.connect.avro.AvroConverter",
        &[("schema.registry.url", &services.schema_registry_url)],
    );
    (json, avro)
}

fn records(topic: &str, values: Vec<Vec<u8>>) -> Vec<SinkRecord> {
    let topic: Arc<str> = Arc::from(topic);
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| SinkRecord {
            topic: topic.clone(),
            partition: 0,
            offset: i as i64,
            timestamp_ms: None,
            key: None,
            value: Some(v),
            headers: Vec::new(),
        })
        .collect()
}

/// Envelopes → typed (JsonConverter) → Confluent wire format (AvroConverter, registering the schema).
fn to_avro(json: &mut Instance, avro: &mut Instance, topic: &str, envelopes: &[Value]) -> Vec<Vec<u8>> {
    let input = records(topic, envelopes.iter().map(|e| serde_json::to_vec(e).expect("JSON")).collect());
    let typed = json.convert(true, Part::Value, &arena::batch(&input, false)).expect("JsonConverter runs");
    let data: Vec<Data> = typed
        .results
        .iter()
        .map(|r| match r {
            Converted::Ok(d) => *d,
            Converted::Fail(e) => panic!("JsonConverter refused a test envelope: {}", e.message),
        })
        .collect();
    let written = avro.convert(false, Part::Value, &arena::batch_over(typed.output, data, &input)).expect("Avro runs");
    written
        .results
        .iter()
        .map(|r| match r {
            Converted::Ok(d) => arena::data_bytes(&written.output, d).expect("bytes").expect("not null"),
            Converted::Fail(e) => panic!("AvroConverter could not write: {}", e.message),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_round_trip_through_a_real_schema_registry() {
    let services = Services::from_env();
    let topic = unique_name("avro-rt");
    let (mut json, mut avro) = converters(&services);
    let schema = reading_schema();
    let payloads: Vec<Value> = (0..20)
        .map(|i| {
            let mut r = iot::reading(i);
            if i % 5 == 0 {
                r["firmware"] = Value::Null;
            }
            r
        })
        .collect();
    let envelopes: Vec<Value> = payloads.iter().map(|p| json!({"schema": schema, "payload": p})).collect();
    let bytes = tokio::task::block_in_place(|| to_avro(&mut json, &mut avro, &topic, &envelopes));

    // The Confluent wire format: magic byte 0, then the id the registry gave the subject's schema.
    let id = u32::from_be_bytes(bytes[0][1..5].try_into().expect("4 bytes"));
    assert!(bytes.iter().all(|b| b[0] == 0 && b[1..5] == id.to_be_bytes()), "one schema id for all");
    let url = format!("{}/subjects/{topic}-value/versions/latest", services.schema_registry_url);
    let latest: Value = reqwest::get(&url).await.expect("registry answers").json().await.expect("JSON");
    assert_eq!(latest["id"], json!(id), "registered under the TopicNameStrategy subject: {latest}");
    let registered: Value = serde_json::from_str(latest["schema"].as_str().expect("schema text")).expect("Avro JSON");
    assert_eq!(registered["type"], "record");
    assert_eq!(registered["name"], "Reading");
    assert_eq!(registered["namespace"], "com.example");

    // Back: Avro bytes → typed values with Connect schemas, equal to what went in.
    let input = records(&topic, bytes);
    let read = tokio::task::block_in_place(|| avro.convert(true, Part::Value, &arena::batch(&input, false)))
        .expect("AvroConverter runs");
    for (i, (result, payload)) in read.results.iter().zip(&payloads).enumerate() {
        let Converted::Ok(Data::Typed(t)) = result else { panic!("record {i} not read back: {result:?}") };
        assert_eq!(&arena::to_json(&read.output, t.root, 0).expect("value"), payload, "record {i}");
        let back = arena::to_json(&read.output, t.schema.expect("a schema"), 0).expect("schema");
        assert_eq!(back["name"], schema["name"]);
        let names = |s: &Value| -> Vec<(Value, Value, Value)> {
            s["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| (f["field"].clone(), f["type"].clone(), f["optional"].clone()))
                .collect()
        };
        assert_eq!(names(&back), names(&schema), "record {i}: field names, types and optionality");
    }

    // Bytes that are not in the wire format: a per-record error, not a trap.
    let garbage = records(&topic, vec![b"{\"plain\": \"json\"}".to_vec()]);
    let refused = tokio::task::block_in_place(|| avro.convert(true, Part::Value, &arena::batch(&garbage, false)))
        .expect("AvroConverter runs");
    let [Converted::Fail(e)] = refused.results.as_slice() else { panic!("{:?}", refused.results) };
    assert!(e.message.contains("Unknown magic byte"), "{}", e.message);
}

/// A sink with `value.converter=io.confluent.connect.avro.AvroConverter`: every Avro record becomes
/// its row (a transform in between sees the typed value with its schema); a record that is not
/// Avro goes to the dead letter queue as a VALUE_CONVERTER failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_reads_avro_records_through_the_registry() {
    const N: u64 = 300;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    let (mut json, mut avro) = converters(&services);
    let schema = reading_schema();
    let envelopes: Vec<Value> = (0..N).map(|i| json!({"schema": schema, "payload": iot::reading(i)})).collect();
    let bytes = tokio::task::block_in_place(|| to_avro(&mut json, &mut avro, &topic, &envelopes));
    let mut produced: Vec<TestRecord> = bytes
        .into_iter()
        .enumerate()
        .map(|(i, b)| TestRecord { key: Some(format!("k{i}").into_bytes()), value: Some(b), ..TestRecord::default() })
        .collect();
    produced.push(TestRecord {
        key: Some(b"bad".to_vec()),
        value: Some(b"not avro".to_vec()),
        ..TestRecord::default()
    });
    services.produce(&topic, produced).await;

    let dlq = unique_name("avro-dlq");
    let worker = plugin_worker(&services, &["avro-converter.wasm", "insert-field-value.wasm"]);
    let name = unique_name("avro-sink");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("value.converter", "io.confluent.connect.avro.AvroConverter"),
            ("value.converter.schema.registry.url", &services.schema_registry_url),
            ("transforms", "stamp"),
            ("transforms.stamp.type", "InsertField$Value"),
            ("transforms.stamp.static.field", "kind"),
            ("transforms.stamp.static.value", "from-avro"),
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", &dlq),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    let standalone = Standalone::start(worker, vec![connector]).await.expect("starts");
    wait_for_commits(&services, &standalone, &name, &topic, 2, N as i64 + 1).await;
    let written: Vec<(String, scylla::value::CqlTimestamp, f64, i32, String, Option<String>)> =
        rows(&session, &format!("SELECT sensor_id, ts, temperature, battery, kind, firmware FROM {keyspace}.readings"))
            .await;
    assert_eq!(written.len() as u64, N, "one row per Avro record");
    let by_key: std::collections::HashMap<(String, i64), _> =
        written.into_iter().map(|(s, ts, t, b, k, f)| ((s, ts.0), (t, b, k, f))).collect();
    for i in 0..N {
        let r = iot::reading(i);
        let key = (r["sensor_id"].as_str().unwrap().to_string(), r["ts"].as_i64().unwrap());
        let (temperature, battery, kind, firmware) = by_key.get(&key).unwrap_or_else(|| panic!("row {i} missing"));
        assert_eq!(*temperature, r["temperature"].as_f64().unwrap(), "row {i}");
        assert_eq!(i64::from(*battery), r["battery"].as_i64().unwrap(), "row {i}");
        assert_eq!(kind, "from-avro", "row {i}: the transform saw the Avro value");
        assert_eq!(firmware.as_deref(), r["firmware"].as_str(), "row {i}");
    }
    let dead = services.consume(&dlq, 1, DEADLINE).await;
    assert_eq!(dead.len(), 1, "the record that is not Avro");
    let h = text_headers(&dead[0]);
    assert_eq!(h["__connect.errors.stage"], "VALUE_CONVERTER");
    assert_eq!(h["__connect.errors.class.name"], "io.confluent.connect.avro.AvroConverter@0.1.0");
    assert!(h["__connect.errors.exception.message"].contains("Unknown magic byte"), "{h:?}");
    standalone.stop().await;
}
