//! The Wasm boundary per record, next to the same logic in native Rust (`make bench-wasm`).
//!
//! A batch of 500 IoT events (10 fields, ~250 B of JSON each) goes through a transform chain as a
//! sink task runs it: build the batch, call the plugin, read the outcomes back into host records.
//! - `keep`: the plugin passes every record on (`keep`): the fixed cost of the boundary;
//! - `field-edit`: rename a field and insert a field (the guest parses and re-serializes the JSON).
//!
//! - `JsonConverter`: Connect's JSON converter plugin (`plugins/std/json-converter`, schemas.enable=false)
//!   reading each value into a typed value (the result crosses back into the host);
//! - the 3-transform chain of Connect's transforms by class: ReplaceField$Value (rename) →
//!   InsertField$Value (static field) → TimestampConverter$Value (epoch ms → formatted string),
//!   run as one `spillway.FusedSteps` call (one read and one write of the JSON), and again with one
//!   call per step (without that plugin on the plugin path).
//!
//! "native" is the same work in host Rust: cloning the record for `keep`; for the edit, the SDK's
//! own `Value` code (compiled natively) parsing, editing and serializing, then a new record; for
//! the converter and the chain, `serde_json` on the same record.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spillway::pipeline::record::SinkRecord;
use spillway::wasm::bindings::converter::exports::spillway::plugin::conversion::{Converted, Part};
use spillway::wasm::bindings::types::Data;
use spillway::wasm::chain::{TransformChain, TransformFailure, TransformSpec};
use spillway::wasm::{Instance, Registry, WasmSettings, World, arena};

#[path = "../../plugins/sdk/rust/src/value.rs"]
#[allow(dead_code, unused_imports, missing_debug_implementations)]
mod value;

/// The allocator the `spillway` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;
const ROUNDS: usize = 15;
const BATCHES_PER_ROUND: usize = 100;

type Outcomes = Vec<Result<Vec<SinkRecord>, TransformFailure>>;

fn events() -> Vec<SinkRecord> {
    let topic: Arc<str> = Arc::from("iot-readings");
    (0..BATCH)
        .map(|i| {
            let value = format!(
                r#"{{"device_id":"sensor-{:05}","ts":{},"temperature":{:.3},"humidity":{:.1},"pressure":1013.25,"battery":0.87,"firmware":"2.4.1","site":"plant-north-building-7","status":"nominal","location":{{"lat":52.5200,"lon":13.4050}}}}"#,
                i % 1000,
                1_700_000_000_000i64 + i as i64,
                20.0 + (i % 100) as f64 / 8.0,
                40.0 + (i % 50) as f64 / 2.0
            );
            SinkRecord {
                topic: topic.clone(),
                partition: (i % 6) as i32,
                offset: i as i64,
                timestamp_ms: Some(1_700_000_000_000 + i as i64),
                key: Some(format!("sensor-{:05}", i % 1000).into_bytes()),
                value: Some(value.into_bytes()),
                headers: Vec::new(),
            }
        })
        .collect()
}

/// One round: `BATCHES_PER_ROUND` batches, each a fresh copy of the input made before the clock
/// starts (as a consumed batch would be); returns the time per record.
fn round(run: &mut dyn FnMut(Vec<SinkRecord>) -> usize, input: &[SinkRecord]) -> Duration {
    let batches: Vec<Vec<SinkRecord>> = (0..BATCHES_PER_ROUND).map(|_| input.to_vec()).collect();
    let start = Instant::now();
    for batch in batches {
        assert_eq!(run(batch), BATCH);
    }
    start.elapsed() / (BATCHES_PER_ROUND * BATCH) as u32
}

/// Wasm and native rounds alternate (so drift of this shared machine hits both alike); returns the
/// (median, fastest) round per record of each.
fn compare(
    wasm: &mut dyn FnMut(Vec<SinkRecord>) -> usize,
    native: &mut dyn FnMut(Vec<SinkRecord>) -> usize,
    input: &[SinkRecord],
) -> [(Duration, Duration); 2] {
    for _ in 0..50 {
        wasm(input.to_vec());
        native(input.to_vec());
    }
    let (mut w, mut n): (Vec<Duration>, Vec<Duration>) =
        (0..ROUNDS).map(|_| (round(wasm, input), round(native, input))).unzip();
    w.sort();
    n.sort();
    [(w[ROUNDS / 2], w[0]), (n[ROUNDS / 2], n[0])]
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The 3-transform chain in native Rust with serde_json.
fn native_chain(records: Vec<SinkRecord>) -> Outcomes {
    records
        .iter()
        .map(|r| {
            let failure =
                |message: String| TransformFailure { alias: "chain".into(), plugin: "native".into(), message };
            let mut v: serde_json::Value =
                serde_json::from_slice(r.value.as_deref().unwrap_or_default()).map_err(|e| failure(e.to_string()))?;
            let o = v.as_object_mut().ok_or_else(|| failure("not an object".into()))?;
            let t = o.remove("temperature").ok_or_else(|| failure("no temperature".into()))?;
            o.insert("temp_c".into(), t);
            o.insert("source".into(), "spillway".into());
            let ms = o.get("ts").and_then(serde_json::Value::as_i64).ok_or_else(|| failure("no ts".into()))?;
            let (secs, day) = (ms.div_euclid(1000), ms.div_euclid(86_400_000));
            let (y, m, d) = civil(day);
            let s = secs.rem_euclid(86_400);
            let text = format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
            o.insert("ts".into(), text.into());
            Ok(vec![SinkRecord {
                value: Some(serde_json::to_vec(&v).map_err(|e| failure(e.to_string()))?),
                ..r.clone()
            }])
        })
        .collect()
}

fn json_of(outcomes: &Outcomes) -> Vec<serde_json::Value> {
    outcomes
        .iter()
        .map(|o| {
            let records = o.as_ref().expect("no failures");
            serde_json::from_slice(records[0].value.as_deref().expect("a value")).expect("JSON")
        })
        .collect()
}

fn native_keep(records: Vec<SinkRecord>) -> Outcomes {
    records.iter().map(|r| Ok(vec![r.clone()])).collect()
}

fn native_edit(records: Vec<SinkRecord>) -> Outcomes {
    records
        .iter()
        .map(|r| {
            let mut v = value::Value::from_json(r.value.as_deref().unwrap_or_default())
                .map_err(|message| TransformFailure { alias: "edit".into(), plugin: "native".into(), message })?;
            v.rename("temperature", "temp_c");
            v.insert("source", "spillway");
            Ok(vec![SinkRecord { value: Some(v.to_json()), ..r.clone() }])
        })
        .collect()
}

fn main() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist");
    assert!(dist.join("keep.wasm").exists(), "build the plugins first: make plugins");
    let settings = WasmSettings {
        plugin_path: vec![dist.clone()],
        cache_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm-cache"),
        ..WasmSettings::default()
    };
    let registry = Registry::open(&settings).expect("plugin runtime");
    let chain = |plugin: &str, config: &[(&str, &str)]| {
        let spec =
            TransformSpec::new("bench", plugin, config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        TransformChain::new(registry.clone(), &[spec], "bench").expect("chain")
    };
    let input = events();
    let bytes: usize = input.iter().map(|r| r.value.as_ref().map_or(0, Vec::len)).sum();
    println!("wasm boundary: batches of {BATCH} records, {} B of JSON per value on average", bytes / BATCH);

    // Same output both ways, or the comparison means nothing.
    let mut edit = chain(
        "field-edit",
        &[("renames", "temperature:temp_c"), ("static.field", "source"), ("static.value", "spillway")],
    );
    let (wasm_out, native_out) = (edit.apply(input.clone()), native_edit(input.clone()));
    assert_eq!(wasm_out, native_out, "the plugin and the native code must agree");

    let mut keep = chain("keep", &[]);

    // Connect's JsonConverter as a plugin, next to serde_json reading the same bytes.
    let json_plugin =
        registry.resolve("org.apache.kafka.connect.json.JsonConverter", World::Converter).expect("make plugins");
    let config = json_plugin.validate("", &[("schemas.enable".into(), "false".into())]).expect("settings");
    let mut json_converter = Instance::new(&json_plugin, &config).expect("instance");
    let mut wasm_json = |records: Vec<SinkRecord>| {
        let answer = json_converter.convert(true, Part::Value, &arena::batch(&records, false)).expect("converts");
        answer.results.iter().filter(|r| matches!(r, Converted::Ok(Data::Typed(_)))).count()
    };
    let mut native_json = |records: Vec<SinkRecord>| {
        records
            .iter()
            .filter(|r| serde_json::from_slice::<serde_json::Value>(r.value.as_deref().unwrap_or_default()).is_ok())
            .count()
    };

    // Three of Connect's transforms by class name, next to the same edits with serde_json.
    let step = |alias: &str, class: &str, config: &[(&str, &str)]| {
        TransformSpec::new(alias, class, config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    };
    let specs = [
        step("rename", "org.apache.kafka.connect.transforms.ReplaceField$Value", &[("renames", "temperature:temp_c")]),
        step(
            "stamp",
            "org.apache.kafka.connect.transforms.InsertField$Value",
            &[("static.field", "source"), ("static.value", "spillway")],
        ),
        step(
            "time",
            "org.apache.kafka.connect.transforms.TimestampConverter$Value",
            &[("field", "ts"), ("target.type", "string"), ("format", "yyyy-MM-dd HH:mm:ss")],
        ),
    ];
    let mut connect_chain = TransformChain::new(registry.clone(), &specs, "bench").expect("chain (make plugins)");
    assert_eq!(connect_chain.stats().len(), 4, "the three steps run as one spillway.FusedSteps call");
    // The same chain without `spillway.FusedSteps` on the plugin path: one call per step.
    let unfused_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-plugins-unfused");
    std::fs::create_dir_all(&unfused_dir).expect("a plugin directory");
    for file in ["replace-field-value.wasm", "insert-field-value.wasm", "timestamp-converter-value.wasm"] {
        std::fs::copy(dist.join(file), unfused_dir.join(file)).expect("make plugins");
    }
    let unfused_registry =
        Registry::open(&WasmSettings { plugin_path: vec![unfused_dir], ..settings.clone() }).expect("plugin runtime");
    let mut step_by_step = TransformChain::new(unfused_registry, &specs, "bench").expect("chain");
    assert_eq!(step_by_step.stats().len(), 3, "no fused run");
    assert_eq!(
        json_of(&connect_chain.apply(input.clone())),
        json_of(&native_chain(input.clone())),
        "the chain and the native code must agree"
    );
    assert_eq!(
        json_of(&step_by_step.apply(input.clone())),
        json_of(&native_chain(input.clone())),
        "the chain step by step and the native code must agree"
    );

    let rows = [
        ("keep", compare(&mut |r| keep.apply(r).len(), &mut |r| native_keep(r).len(), &input)),
        ("field-edit (rename + insert)", compare(&mut |r| edit.apply(r).len(), &mut |r| native_edit(r).len(), &input)),
        ("JsonConverter (bytes → typed)", compare(&mut wasm_json, &mut native_json, &input)),
        (
            "Connect chain (3 transforms)",
            compare(&mut |r| connect_chain.apply(r).len(), &mut |r| native_chain(r).len(), &input),
        ),
        (
            "  the same, one call per step",
            compare(&mut |r| step_by_step.apply(r).len(), &mut |r| native_chain(r).len(), &input),
        ),
    ];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("per record, median of {ROUNDS} rounds (fastest round)");
    println!("{:<30} {:>20} {:>20} {:>8}", "", "wasm", "native", "ratio");
    for (name, [(wasm, wasm_min), (native, native_min)]) in rows {
        println!(
            "{name:<30} {:>8.3} µs ({:.3}) {:>8.3} µs ({:.3}) {:>7.1}×",
            us(wasm),
            us(wasm_min),
            us(native),
            us(native_min),
            us(wasm) / us(native)
        );
    }
}
