//! The sample workload shared by tests, the demo and the benchmarks: IoT sensor readings, ~250 bytes
//! of JSON with 10 fields, keyed by sensor, into `PRIMARY KEY ((sensor_id), ts)`.

use serde_json::{Value, json};

/// The table the readings go to (`{table}` is replaced by the qualified name).
pub const TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS {table} (
    sensor_id text, ts timestamp, reading_id uuid, site text, kind text, temperature double,
    humidity double, pressure double, battery int, firmware text,
    PRIMARY KEY ((sensor_id), ts))";

/// Number of distinct sensors.
pub const SENSORS: u64 = 100;
/// 2026-01-01T00:00:00Z in epoch milliseconds: the first reading's time.
pub const START_MS: i64 = 1_767_225_600_000;

/// The `i`-th reading, deterministic: `(sensor_id, ts)` is unique for every `i`.
pub fn reading(i: u64) -> Value {
    let sensor = i % SENSORS;
    let step = i / SENSORS;
    let site = ["oslo", "lyon", "porto", "turku"][(sensor % 4) as usize];
    json!({
        "sensor_id": format!("sensor-{sensor:03}"),
        "ts": START_MS + (step as i64) * 1000,
        "reading_id": format!("00000000-0000-4000-8000-{i:012x}"),
        "site": site,
        "kind": "environment",
        "temperature": 15.0 + ((i * 7) % 200) as f64 / 10.0,
        "humidity": 30.0 + ((i * 13) % 500) as f64 / 10.0,
        "pressure": 990.0 + ((i * 3) % 400) as f64 / 10.0,
        "battery": (100 - (step % 100)) as i32,
        "firmware": format!("fw-2.{}.{}", sensor % 3, sensor % 7),
    })
}

/// The reading as the record the producer sends: key = sensor id, value = JSON bytes.
pub fn record(i: u64) -> (Option<String>, Option<Vec<u8>>) {
    let value = reading(i);
    let key = value["sensor_id"].as_str().map(str::to_string);
    (key, Some(serde_json::to_vec(&value).expect("serializable")))
}
