//! `spillway plugin new | check | test`: write, validate and try a plugin without a connector.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::pipeline::record::SinkRecord;
use crate::wasm::arena;
use crate::wasm::bindings::types::Data;
use crate::wasm::chain::{TransformChain, TransformSpec};
use crate::wasm::registry::Registry;
use crate::wasm::{Instance, Plugin, Runtime, WasmSettings, World};

const SDK_LIB: &str = include_str!("../../plugins/sdk/rust/src/lib.rs");
const SDK_GUEST: &str = include_str!("../../plugins/sdk/rust/src/guest.rs");
const SDK_VALUE: &str = include_str!("../../plugins/sdk/rust/src/value.rs");
const SDK_ARENA: &str = include_str!("../../plugins/sdk/rust/src/arena.rs");
const SDK_RAW: &str = include_str!("../../plugins/sdk/rust/src/raw.rs");
const WIT: &str = include_str!("../../wit/plugin.wit");

/// Creates `dir/name`: a Rust transform that builds as is (`cargo build --release`), with the
/// SDK and the WIT contract vendored so it needs nothing but crates.io.
pub fn plugin_new(name: &str, lang: &str, dir: &Path) -> Result<PathBuf, String> {
    if lang != "rust" {
        return Err(format!(
            "--lang {lang}: only rust templates ship with this version (any language that builds a wasm32-wasip2 component against wit/plugin.wit works)"
        ));
    }
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid || name.starts_with('-') || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("plugin name '{name}': use lowercase letters, digits and '-', starting with a letter"));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(format!("{} already exists", root.display()));
    }
    let crate_name = name.replace('-', "_");
    let files: Vec<(PathBuf, String)> = vec![
        (root.join("Cargo.toml"), format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nspillway-plugin-sdk = {{ path = \"spillway-plugin-sdk\", features = [\"transform\"] }}\n\n[profile.release]\nopt-level = 3\nlto = true\ncodegen-units = 1\npanic = \"abort\"\nstrip = true\n\n[workspace]\n"
        )),
        (root.join(".cargo/config.toml"), "[build]\ntarget = \"wasm32-wasip2\"\n\n[target.wasm32-wasip2]\nrustflags = [\"-C\", \"target-feature=+simd128\"]\n".to_string()),
        (root.join("src/lib.rs"), TEMPLATE.replace("{name}", name).replace("{Type}", &type_name(name))),
        (root.join("README.md"), format!(
            "# {name}\n\nA Spillway transform.\n\n```sh\nrustup target add wasm32-wasip2   # once\ncargo build --release\nspillway plugin check target/wasm32-wasip2/release/{crate_name}.wasm\nspillway plugin test target/wasm32-wasip2/release/{crate_name}.wasm --config field=source --config value=me --input input.jsonl\n```\n\nThen copy the `.wasm` file into a directory of the worker's `plugin.path` and use it in a connector:\n`transforms=t`, `transforms.t.type={name}`, `transforms.t.field=...`.\n"
        )),
        (root.join("input.jsonl"), "{\"topic\":\"demo\",\"partition\":0,\"offset\":0,\"value\":{\"id\":1}}\n".to_string()),
        (root.join("spillway-plugin-sdk/Cargo.toml"), "[package]\nname = \"spillway-plugin-sdk\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[features]\ntransform = []\nconverter = []\nsink-mapper = []\nsource-mapper = []\ncall-arena = []\n\n[dependencies]\nwit-bindgen = { version = \"0.61\", default-features = false, features = [\"macros\", \"realloc\"] }\nserde = \"1\"\nserde_json = \"1\"\n".to_string()),
        (root.join("spillway-plugin-sdk/src/lib.rs"), SDK_LIB.to_string()),
        (root.join("spillway-plugin-sdk/src/guest.rs"), SDK_GUEST.to_string()),
        (root.join("spillway-plugin-sdk/src/value.rs"), SDK_VALUE.to_string()),
        (root.join("spillway-plugin-sdk/src/arena.rs"), SDK_ARENA.to_string()),
        (root.join("spillway-plugin-sdk/src/raw.rs"), SDK_RAW.to_string()),
        (root.join("spillway-plugin-sdk/wit/plugin.wit"), WIT.to_string()),
    ];
    for (path, content) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(root)
}

/// `add-source` → `AddSourceTransform`.
fn type_name(name: &str) -> String {
    let mut out: String =
        name.split('-').filter(|p| !p.is_empty()).map(|p| p[..1].to_ascii_uppercase() + &p[1..]).collect();
    out.push_str("Transform");
    out
}

const TEMPLATE: &str = r#"//! {name}: a Spillway transform. It sets a text field on JSON object (struct) values.

use spillway_plugin_sdk::*;

struct {Type} {
    field: String,
    value: String,
}

impl Plugin for {Type} {
    fn describe() -> Descriptor {
        Descriptor::new("{name}", "0.1.0")
            .doc("Sets a text field on every struct (JSON object) value.")
            .param(Param::string("field").required().doc("The field to set."))
            .param(Param::string("value").default("").doc("Its value."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        Ok(Self { field: config.required("field")?.to_string(), value: config.get_or("value", "").to_string() })
    }
}

impl Transform for {Type} {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        if record.value().is_null() {
            return Ok(Outcome::Keep); // tombstones pass through
        }
        let mut value = record.value().to_value()?;
        if !value.insert(self.field.as_str(), self.value.as_str()) {
            return Err(Error::new(format!("expected a struct value, got {}", value.kind())));
        }
        Ok(Outcome::one(record.with_value(Payload::json(&value))))
    }
}

export_transform!({Type});
"#;

/// Settings for one-off CLI use: the worker's defaults, no plugin directory.
fn cli_settings() -> WasmSettings {
    WasmSettings { threads: 1, max_instances: 16, ..WasmSettings::default() }
}

fn load(file: &Path) -> Result<(Arc<Runtime>, Arc<Plugin>), String> {
    let runtime = Runtime::new(cli_settings())?;
    let plugin = Plugin::load(&runtime, file)?;
    Ok((runtime, Arc::new(plugin)))
}

/// Splits `k=v` arguments.
pub fn parse_config(pairs: &[String]) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("--config {p}: expected key=value"))
        })
        .collect()
}

/// Validates a plugin file against the contract and prints its self-description; with settings,
/// validates those too.
pub fn plugin_check(file: &Path, config: &[(String, String)]) -> Result<String, String> {
    let (_runtime, plugin) = load(file)?;
    let d = &plugin.descriptor;
    let mut out = String::new();
    let _ = writeln!(out, "{}: a valid Spillway plugin", file.display());
    let _ = writeln!(out, "  name:     {}", d.name);
    let _ = writeln!(out, "  version:  {}", d.version);
    let _ = writeln!(out, "  kind:     {}", plugin.world);
    if !d.aliases.is_empty() {
        let _ = writeln!(out, "  aliases:  {}", d.aliases.join(", "));
    }
    let _ = writeln!(out, "  typed:    {}", if d.wants_typed { "keys and values arrive typed" } else { "bytes" });
    let _ = writeln!(out, "  sha256:   {}", plugin.hash);
    if !d.documentation.is_empty() {
        let _ = writeln!(out, "  about:    {}", d.documentation);
    }
    let _ = writeln!(out, "  parameters:");
    if d.params.is_empty() {
        let _ = writeln!(out, "    (none)");
    }
    for p in &d.params {
        let default = p.default.as_deref().map(|v| format!(", default '{v}'")).unwrap_or_default();
        let required = if p.required { ", required" } else { "" };
        let _ = writeln!(out, "    {} ({:?}{required}{default}): {}", p.name, p.kind, p.documentation);
    }
    if !config.is_empty() {
        instance(&plugin, config)?;
        let _ = writeln!(out, "  the given settings are valid");
    }
    Ok(out)
}

/// Reads one input line of `plugin test`: `{"topic", "partition", "offset", "timestamp", "key",
/// "value", "headers": {k: v}}`; `key`/`value`/header values are JSON (sent as JSON text), or
/// `{"text": "..."}` for raw text, or null.
fn input_record(line: &str, n: usize, topics: &mut Vec<Arc<str>>) -> Result<SinkRecord, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("input line {n}: not JSON: {e}"))?;
    let obj = v.as_object().ok_or_else(|| format!("input line {n}: not a JSON object"))?;
    let bytes = |field: &str| -> Option<Vec<u8>> { payload(obj.get(field).unwrap_or(&Value::Null)) };
    let topic_name = obj.get("topic").and_then(Value::as_str).unwrap_or("test");
    let topic = match topics.iter().find(|t| &***t == topic_name) {
        Some(t) => t.clone(),
        None => {
            topics.push(Arc::from(topic_name));
            topics.last().cloned().expect("just pushed")
        }
    };
    let headers = match obj.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.clone(), payload(v))).collect(),
        Some(_) => return Err(format!("input line {n}: headers must be an object")),
    };
    Ok(SinkRecord {
        topic,
        partition: obj.get("partition").and_then(Value::as_i64).unwrap_or(0) as i32,
        offset: obj.get("offset").and_then(Value::as_i64).unwrap_or(n as i64 - 1),
        timestamp_ms: obj.get("timestamp").and_then(Value::as_i64),
        key: bytes("key"),
        value: bytes("value"),
        headers,
    })
}

fn payload(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::Object(o) if o.len() == 1 && o.get("text").is_some_and(Value::is_string) => {
            Some(o["text"].as_str().unwrap_or_default().as_bytes().to_vec())
        }
        Value::Object(o) if o.len() == 1 && o.get("base64").is_some_and(Value::is_string) => {
            use base64::Engine as _;
            let text = o["base64"].as_str().unwrap_or_default();
            Some(base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|_| text.as_bytes().to_vec()))
        }
        other => Some(other.to_string().into_bytes()),
    }
}

fn show(bytes: &Option<Vec<u8>>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => match (serde_json::from_slice::<Value>(b), std::str::from_utf8(b)) {
            (Ok(v), _) => v,
            (Err(_), Ok(text)) => json!({"text": text}),
            (Err(_), Err(_)) => {
                use base64::Engine as _;
                json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)})
            }
        },
    }
}

fn output_record(r: &SinkRecord) -> Value {
    let headers: Map<String, Value> = r.headers.iter().map(|(k, v)| (k.clone(), show(v))).collect();
    json!({
        "topic": &*r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp_ms,
        "key": show(&r.key), "value": show(&r.value), "headers": headers,
    })
}

/// Runs a plugin over `input` (JSON lines) as the host would, batched, with fault isolation for
/// transforms. Records in (bytes as JSON text, `{"text": …}` or `{"base64": …}`), for transforms
/// (one line per emitted record), converters (the value read to typed, shown as JSON with its
/// `schema`, and the bytes it `written` back from that) and sink mappers (the mutations); rows in
/// (`{"keyspace", "table", "cells": {...}, "write_time"}`) for source mappers. A record that failed
/// is `{"offset": n, "error": "..."}`.
pub fn plugin_test(file: &Path, config: Vec<(String, String)>, input: &str) -> Result<Vec<Value>, String> {
    let settings = cli_settings();
    // Unique per call: REST's POST /plugins/{name}/test runs several at once in one process.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("spillway-plugin-test-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join(file.file_name().unwrap_or_default());
    std::fs::copy(file, &copy).map_err(|e| format!("{}: {e}", file.display()))?;
    let registry = Registry::open(&WasmSettings { plugin_path: vec![dir.clone()], ..settings });
    let outcome = (|| {
        let registry = registry?;
        if let Some(problem) = registry.files().into_iter().find_map(|f| f.error) {
            return Err(problem.replace(&copy.display().to_string(), &file.display().to_string()));
        }
        let plugin = registry.plugins().into_iter().next().ok_or("the plugin did not load")?;
        let lines: Vec<(usize, &str)> =
            input.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l)).collect();
        if plugin.world == World::SourceMapper {
            return test_source_mapper(&plugin, &config, &lines);
        }
        let mut topics = Vec::new();
        let records = lines.iter().map(|(n, l)| input_record(l, *n, &mut topics)).collect::<Result<Vec<_>, _>>()?;
        match plugin.world {
            World::Transform => {
                let spec = TransformSpec::new("test", plugin.id(), config);
                let mut chain =
                    TransformChain::new(registry.clone(), &[spec], "plugin-test").map_err(|e| e.to_string())?;
                let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
                let mut out = Vec::new();
                for (result, offset) in chain.apply(records).into_iter().zip(offsets) {
                    match result {
                        Ok(outputs) => out.extend(outputs.iter().map(output_record)),
                        Err(f) => out.push(json!({"offset": offset, "error": f.message})),
                    }
                }
                Ok(out)
            }
            World::Converter => test_converter(&plugin, &config, &records),
            World::SinkMapper => test_sink_mapper(&plugin, &config, &records),
            World::SourceMapper => unreachable!("handled above"),
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn instance(plugin: &Arc<Plugin>, config: &[(String, String)]) -> Result<Instance, String> {
    Instance::new(plugin, &plugin.validate("", config)?)
}

fn failed(offset: i64, message: &str) -> Value {
    json!({"offset": offset, "error": message})
}

/// A converter's answer per record: the value read (`to-typed`) as JSON with its schema, and the
/// bytes it writes back (`from-typed` of what it read), or the error of either way.
fn test_converter(
    plugin: &Arc<Plugin>,
    config: &[(String, String)],
    records: &[SinkRecord],
) -> Result<Vec<Value>, String> {
    use crate::wasm::bindings::converter::exports::spillway::plugin::conversion::{Converted, Part};
    let mut instance = instance(plugin, config)?;
    let answer = instance.convert(true, Part::Value, &arena::batch(records, false)).map_err(|e| e.to_string())?;
    let count = |n: usize| -> Result<(), String> {
        if n == records.len() {
            Ok(())
        } else {
            Err(format!("{} returned {n} results for {} records", plugin.id(), records.len()))
        }
    };
    count(answer.results.len())?;
    let mut lines = Vec::with_capacity(records.len());
    let mut typed = Vec::with_capacity(records.len());
    for (result, r) in answer.results.iter().zip(records) {
        match result {
            Converted::Ok(data) => {
                let (value, schema) = match *data {
                    Data::Typed(t) => (
                        arena::to_json(&answer.output, t.root, 0)?,
                        t.schema.map(|s| arena::to_json(&answer.output, s, 0)).transpose()?,
                    ),
                    ref other => (show(&arena::data_bytes(&answer.output, other)?), None),
                };
                lines.push(json!({"offset": r.offset, "value": value, "schema": schema}));
                typed.push(*data);
            }
            Converted::Fail(e) => {
                lines.push(failed(r.offset, &e.message));
                typed.push(Data::Null);
            }
        }
    }
    let back = arena::batch_over(answer.output, typed, records);
    let written = instance.convert(false, Part::Value, &back).map_err(|e| e.to_string())?;
    count(written.results.len())?;
    for (line, result) in lines.iter_mut().zip(&written.results) {
        if line.get("error").is_some() {
            continue;
        }
        line["written"] = match result {
            Converted::Ok(data) => show(&arena::data_bytes(&written.output, data)?),
            Converted::Fail(e) => json!({"error": e.message}),
        };
    }
    Ok(lines)
}

fn test_sink_mapper(
    plugin: &Arc<Plugin>,
    config: &[(String, String)],
    records: &[SinkRecord],
) -> Result<Vec<Value>, String> {
    use crate::wasm::bindings::sink_mapper::exports::spillway::plugin::sink_mapping::{Mapped, Operation};
    let answer = instance(plugin, config)?.map_records(&arena::batch(records, false)).map_err(|e| e.to_string())?;
    let text = |s: crate::wasm::bindings::types::Span| -> Result<String, String> {
        let b =
            answer.output.bytes.get(s.offset as usize..(s.offset + s.len) as usize).ok_or("span outside the output")?;
        Ok(String::from_utf8_lossy(b).into_owned())
    };
    let mut out = Vec::new();
    for (mapped, r) in answer.outcomes.iter().zip(records) {
        match mapped {
            Mapped::Skip => out.push(json!({"offset": r.offset, "mutations": []})),
            Mapped::Fail(e) => out.push(failed(r.offset, &e.message)),
            Mapped::Mutations(range) => {
                let mut mutations = Vec::new();
                for m in answer
                    .mutations
                    .get(range.first as usize..(range.first + range.len) as usize)
                    .ok_or("range outside the mutations")?
                {
                    let mut cells = Map::new();
                    for c in answer
                        .cells
                        .get(m.cells.first as usize..(m.cells.first + m.cells.len) as usize)
                        .ok_or("range outside the cells")?
                    {
                        cells.insert(text(c.column)?, arena::to_json(&answer.output, c.value, 0)?);
                    }
                    mutations.push(json!({
                        "keyspace": m.keyspace.map(text).transpose()?,
                        "table": text(m.table)?,
                        "operation": match m.operation { Operation::Upsert => "upsert", Operation::Delete => "delete" },
                        "cells": cells,
                        "ttl_seconds": m.ttl_seconds,
                        "write_timestamp_micros": m.write_timestamp_micros,
                    }));
                }
                out.push(json!({"offset": r.offset, "mutations": mutations}));
            }
        }
    }
    Ok(out)
}

fn test_source_mapper(
    plugin: &Arc<Plugin>,
    config: &[(String, String)],
    lines: &[(usize, &str)],
) -> Result<Vec<Value>, String> {
    use crate::wasm::bindings::source_mapper::exports::spillway::plugin::source_mapping::{Cell, Mapped, Row, Rows};
    let mut builder = arena::BatchBuilder::new(true);
    let (mut cells, mut rows) = (Vec::new(), Vec::new());
    for (n, line) in lines {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("input line {n}: not JSON: {e}"))?;
        let columns = v["cells"].as_object().ok_or_else(|| format!("input line {n}: \"cells\" must be an object"))?;
        let first = cells.len() as u32;
        for (column, value) in columns {
            let column = builder.span(column.as_bytes());
            cells.push(Cell { column, value: builder.value(value, 0) });
        }
        rows.push(Row {
            keyspace: builder.span(v["keyspace"].as_str().unwrap_or("ks").as_bytes()),
            table: builder.span(v["table"].as_str().unwrap_or("table").as_bytes()),
            cells: crate::wasm::bindings::types::Range { first, len: columns.len() as u32 },
            write_time_micros: v["write_time"].as_i64(),
        });
    }
    let input = Rows { arena: builder.into_arena(), cells, rows };
    let answer = instance(plugin, config)?.map_rows(&input).map_err(|e| e.to_string())?;
    let origin = SinkRecord {
        topic: Arc::from(""),
        partition: 0,
        offset: 0,
        timestamp_ms: None,
        key: None,
        value: None,
        headers: Vec::new(),
    };
    let mut out = Vec::new();
    for (i, mapped) in answer.outcomes.iter().enumerate() {
        match mapped {
            Mapped::Skip => {}
            Mapped::Fail(e) => out.push(json!({"row": i, "error": e.message})),
            Mapped::Records(range) => {
                let records = answer
                    .output
                    .records
                    .get(range.first as usize..(range.first + range.len) as usize)
                    .ok_or("range outside the records")?;
                for r in records {
                    let mut line = output_record(&arena::record(&answer.output, r, &origin)?);
                    line["partition"] = json!(r.partition);
                    line.as_object_mut().map(|o| o.remove("offset"));
                    out.push(line);
                }
            }
        }
    }
    Ok(out)
}

/// Compares output lines with expected JSON lines; returns the differences.
pub fn compare(actual: &[Value], expected: &str) -> Result<Vec<String>, String> {
    let expected: Vec<Value> = expected
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("expected line {}: not JSON: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    let mut diffs = Vec::new();
    for i in 0..actual.len().max(expected.len()) {
        match (actual.get(i), expected.get(i)) {
            (Some(a), Some(e)) if subset(e, a) => {}
            (a, e) => diffs.push(format!(
                "line {}: expected {}, got {}",
                i + 1,
                e.map(Value::to_string).unwrap_or_else(|| "nothing".into()),
                a.map(Value::to_string).unwrap_or_else(|| "nothing".into())
            )),
        }
    }
    Ok(diffs)
}

/// Whether `actual` has every field of `expected` with the same value (fields left out of an
/// expected line are not compared; an `error` is matched as a substring).
fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, ev)| match (k.as_str(), ev, a.get(k)) {
            ("error", Value::String(want), Some(Value::String(got))) => got.contains(want.as_str()),
            (_, ev, Some(av)) => ev == av,
            _ => false,
        }),
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_lines_match_by_subset_and_error_substring() {
        let actual =
            vec![json!({"topic": "t", "value": {"a": 1}}), json!({"offset": 3, "error": "plugin x trapped: boom"})];
        assert!(compare(&actual, "{\"value\":{\"a\":1}}\n{\"error\":\"trapped\"}\n").unwrap().is_empty());
        let diffs = compare(&actual, "{\"value\":{\"a\":2}}\n").unwrap();
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(diffs[1].contains("expected nothing"));
    }

    #[test]
    fn input_lines_carry_json_text_and_raw_text() {
        let mut topics = Vec::new();
        let r =
            input_record(r#"{"topic":"a","value":{"x":1},"key":{"text":"k1"},"headers":{"h":"v"}}"#, 1, &mut topics)
                .unwrap();
        assert_eq!(r.value.as_deref(), Some(&b"{\"x\":1}"[..]));
        assert_eq!(r.key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(r.headers, vec![("h".to_string(), Some(b"\"v\"".to_vec()))]);
        assert!(input_record("[1]", 2, &mut topics).unwrap_err().contains("line 2"));
    }

    #[test]
    fn new_refuses_bad_names_and_other_languages() {
        let dir = std::env::temp_dir();
        assert!(plugin_new("Bad_Name", "rust", &dir).unwrap_err().contains("lowercase"));
        assert!(plugin_new("ok", "cobol", &dir).unwrap_err().contains("only rust"));
    }
}
