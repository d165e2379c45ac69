//! The Wasm boundary per record, next to the same logic in native Rust (`make bench-wasm`).
//!
//! A batch of 500 IoT events (10 fields, ~250 B of JSON each) goes through a transform chain as a
//! sink task runs it: build the batch, call the plugin, read the outcomes back into host records.
//! - `keep`: the plugin passes every record on (`keep`): the fixed cost of the boundary;
//! - `field-edit`: rename a field and insert a field (the guest parses and re-serializes the JSON).
//!
//! "native" is the same work in host Rust: cloning the record for `keep`; for the edit, the SDK's
//! own `Value` code (compiled natively) parsing, editing and serializing, then a new record.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spillway::pipeline::record::SinkRecord;
use spillway::wasm::chain::{TransformChain, TransformFailure, TransformSpec};
use spillway::wasm::{Registry, WasmSettings};

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
fn round(run: &mut dyn FnMut(Vec<SinkRecord>) -> Outcomes, input: &[SinkRecord]) -> Duration {
    let batches: Vec<Vec<SinkRecord>> = (0..BATCHES_PER_ROUND).map(|_| input.to_vec()).collect();
    let start = Instant::now();
    for batch in batches {
        let out = run(batch);
        assert_eq!(out.len(), BATCH);
    }
    start.elapsed() / (BATCHES_PER_ROUND * BATCH) as u32
}

/// Wasm and native rounds alternate (so drift of this shared machine hits both alike); returns the
/// (median, fastest) round per record of each.
fn compare(
    wasm: &mut dyn FnMut(Vec<SinkRecord>) -> Outcomes,
    native: &mut dyn FnMut(Vec<SinkRecord>) -> Outcomes,
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
        plugin_path: vec![dist],
        cache_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm-cache"),
        ..WasmSettings::default()
    };
    let registry = Registry::open(&settings).expect("plugin runtime");
    let chain = |plugin: &str, config: &[(&str, &str)]| {
        let spec = TransformSpec {
            alias: "bench".into(),
            reference: plugin.into(),
            config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
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
    let rows = [
        ("keep", compare(&mut |r| keep.apply(r), &mut native_keep, &input)),
        ("field-edit (rename + insert)", compare(&mut |r| edit.apply(r), &mut native_edit, &input)),
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
