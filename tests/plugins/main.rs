//! The Wasm plugin runtime against real plugins built in this repo (`plugins/`, `make plugins`):
//! transforms, the sandbox against hostile plugins, fault isolation by bisection, hot reload,
//! settings validation and the `spillway plugin` CLI. No services needed.

mod golden;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spillway::pipeline::record::SinkRecord;
use spillway::wasm::chain::{TransformChain, TransformFailure, TransformSpec};
use spillway::wasm::{Plugin, Registry, Runtime, WasmSettings};
use spillway_tests::{plugin_dist, spillway_binary, unique_name};

/// A fresh plugin directory holding copies of `plugins` (file names in `plugins/dist`).
fn plugin_dir(plugins: &[&str]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("plugins"));
    std::fs::create_dir_all(&dir).unwrap();
    for p in plugins {
        std::fs::copy(plugin_dist().join(p), dir.join(p)).unwrap_or_else(|e| panic!("copying {p}: {e}"));
    }
    dir
}

fn settings(dir: &Path) -> WasmSettings {
    WasmSettings {
        plugin_path: vec![dir.to_path_buf()],
        call_timeout: Duration::from_millis(300),
        memory_max_bytes: 32 << 20,
        cache_dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache"),
        ..WasmSettings::default()
    }
}

fn registry(plugins: &[&str]) -> Arc<Registry> {
    Registry::open(&settings(&plugin_dir(plugins))).expect("plugin runtime starts")
}

fn records(values: &[&str]) -> Vec<SinkRecord> {
    let topic: Arc<str> = Arc::from("readings");
    values
        .iter()
        .enumerate()
        .map(|(i, v)| SinkRecord {
            topic: topic.clone(),
            partition: 0,
            offset: i as i64,
            timestamp_ms: Some(1_700_000_000_000 + i as i64),
            key: Some(format!("k{i}").into_bytes()),
            value: Some(v.as_bytes().to_vec()),
            headers: vec![("h".into(), Some(b"1".to_vec()))],
        })
        .collect()
}

fn chain(registry: &Arc<Registry>, plugin: &str, config: &[(&str, &str)]) -> TransformChain {
    let spec = TransformSpec::new("t", plugin, config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    TransformChain::new(registry.clone(), &[spec], "test").unwrap_or_else(|e| panic!("{plugin}: {e}"))
}

fn errors(results: &[Result<Vec<SinkRecord>, TransformFailure>]) -> Vec<String> {
    results.iter().filter_map(|r| r.as_ref().err().map(|f| f.message.clone())).collect()
}

/// `keep` passes records on unchanged; `field-edit` renames and inserts fields.
#[test]
fn transforms_keep_and_edit_records() {
    let registry = registry(&["keep.wasm", "field-edit.wasm"]);
    let input = records(&[r#"{"device":"d1","temp":20.5}"#, r#"{"device":"d2","temp":21}"#]);
    let kept = chain(&registry, "keep", &[]).apply(input.clone());
    assert_eq!(kept, input.iter().map(|r| Ok(vec![r.clone()])).collect::<Vec<_>>());

    let mut edit = chain(&registry, "field-edit@0.1.0", &[("renames", "device:device_id"), ("static.field", "src")]);
    let out = edit.apply(input.clone());
    let first = &out[0].as_ref().unwrap()[0];
    let value: serde_json::Value = serde_json::from_slice(first.value.as_deref().unwrap()).unwrap();
    assert_eq!(value, serde_json::json!({"device_id": "d1", "temp": 20.5, "src": ""}));
    assert_eq!((first.offset, first.key.as_deref(), first.headers.len()), (0, Some(&b"k0"[..]), 1));
    // A record the transform cannot handle fails alone, with the plugin's reason.
    let out = edit.apply(records(&["[1,2]", r#"{"device":"d3"}"#]));
    assert_eq!(errors(&out), vec!["field-edit needs a struct (JSON object) value, got list"]);
    assert!(out[1].is_ok());
}

/// A plugin that never returns is stopped at its deadline; other plugins are served meanwhile.
#[test]
fn an_endless_loop_is_stopped_at_the_deadline_while_other_plugins_run() {
    let registry = registry(&["keep.wasm", "hostile.wasm"]);
    let mut hostile = chain(&registry, "hostile", &[("mode", "loop")]);
    let looping = std::thread::spawn(move || hostile.apply(records(&["{}", "{}"])));
    let mut keep = chain(&registry, "keep", &[]);
    let mut served = 0;
    while !looping.is_finished() {
        assert!(keep.apply(records(&["{}"]))[0].is_ok());
        served += 1;
    }
    let results = looping.join().expect("the host does not panic");
    let errors = errors(&results);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.contains("CPU deadline of 300 ms")), "{errors:?}");
    assert!(served > 0, "keep was served while the hostile plugin ran");
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let registry = registry(&["hostile.wasm", "keep.wasm"]);
    let results = chain(&registry, "hostile", &[("mode", "memory")]).apply(records(&["{}"]));
    let errors = errors(&results);
    assert!(errors[0].contains("memory cap of 33554432 bytes (wasm.memory.max.bytes)"), "{errors:?}");
    assert!(chain(&registry, "keep", &[]).apply(records(&["{}"]))[0].is_ok());
}

/// A panic is a trap, reported with the plugin's name; the instance is replaced and the next batch
/// runs (here it traps again, as this plugin always panics).
#[test]
fn a_panic_is_a_trap_named_after_the_plugin() {
    let registry = registry(&["hostile.wasm", "keep.wasm"]);
    let mut panicking = chain(&registry, "hostile", &[("mode", "panic")]);
    for _ in 0..2 {
        let errors = errors(&panicking.apply(records(&["{}"])));
        assert!(errors[0].contains("hostile@0.1.0 trapped"), "{errors:?}");
    }
    assert_eq!(panicking.stats()[0].3, 2, "one new instance per trapped batch");
    assert!(chain(&registry, "keep", &[]).apply(records(&["{}"]))[0].is_ok());
}

/// No files, no sockets, no environment: each attempt fails inside the plugin.
#[test]
fn files_sockets_and_the_environment_are_denied() {
    let registry = registry(&["hostile.wasm"]);
    for mode in ["file", "socket", "env"] {
        let results = chain(&registry, "hostile", &[("mode", mode)]).apply(records(&["{}"]));
        let errors = errors(&results);
        assert_eq!(errors.len(), 1, "{mode}: {errors:?}");
        assert!(errors[0].starts_with("denied"), "{mode}: {}", errors[0]);
    }
}

/// One poison record in 500: exactly that one fails, the 499 others pass.
#[test]
fn bisection_finds_the_one_poison_record_in_500() {
    let registry = registry(&["hostile.wasm"]);
    let mut values: Vec<String> = (0..500).map(|i| format!(r#"{{"n":{i}}}"#)).collect();
    values[137] = r#"{"n":"poison"}"#.to_string();
    let input = records(&values.iter().map(String::as_str).collect::<Vec<_>>());
    let mut poison = chain(&registry, "hostile", &[("mode", "poison")]);
    let results = poison.apply(input.clone());
    let failed: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(failed, vec![137]);
    assert!(errors(&results)[0].contains("trapped"), "{:?}", errors(&results));
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 137) {
        assert_eq!(r.as_ref().unwrap(), &vec![input[i].clone()], "record {i}");
    }
    let (_, _, calls, instances) = poison.stats()[0].clone();
    println!("bisection: {calls} calls, {instances} instances for 500 records with one poison record");
    assert!(calls < 40, "bisection, not one call per record: {calls} calls");
}

/// A replaced file is used from the next batch on, without a restart.
#[test]
fn a_replaced_plugin_takes_effect_without_restart() {
    let dir = plugin_dir(&[]);
    std::fs::copy(plugin_dist().join("tagger-v1.wasm"), dir.join("tagger.wasm")).unwrap();
    let registry = Registry::open(&settings(&dir)).unwrap();
    let mut tagger = chain(&registry, "tagger", &[]);
    let tag = |chain: &mut TransformChain| -> String {
        let out = chain.apply(records(&["{}"]));
        let record = &out[0].as_ref().unwrap()[0];
        let (_, v) = record.headers.iter().find(|(k, _)| k == "tagged-by").expect("tag header");
        String::from_utf8(v.clone().unwrap()).unwrap()
    };
    assert_eq!(tag(&mut tagger), "tagger@1.0.0");

    // Replace the file atomically, as a deployment would (write aside, rename over).
    let started = Instant::now();
    std::fs::copy(plugin_dist().join("tagger-v2.wasm"), dir.join("tagger.wasm.part")).unwrap();
    std::fs::rename(dir.join("tagger.wasm.part"), dir.join("tagger.wasm")).unwrap();
    loop {
        if tag(&mut tagger) == "tagger@2.0.0" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the new version was not picked up in 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("hot reload: tagger 2.0.0 in use {} ms after the file was replaced", started.elapsed().as_millis());
    let files = registry.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].plugin.as_deref(), Some("tagger@2.0.0"));
}

/// A broken file is reported and disturbs nothing; a component of another world is refused with
/// what it lacks.
#[test]
fn broken_and_foreign_files_are_reported_and_disturb_nothing() {
    let dir = plugin_dir(&["keep.wasm", "wrong-world.wasm"]);
    std::fs::write(dir.join("garbage.wasm"), b"\0asm but not really").unwrap();
    let registry = Registry::open(&settings(&dir)).unwrap();
    let files = registry.files();
    let report = |name: &str| files.iter().find(|f| f.path.ends_with(name)).unwrap().clone();
    assert_eq!(report("keep.wasm").plugin.as_deref(), Some("keep@1.0.0"));
    let garbage = report("garbage.wasm").error.unwrap();
    assert!(garbage.contains("not a valid WebAssembly component"), "{garbage}");
    let foreign = report("wrong-world.wasm").error.unwrap();
    assert!(foreign.contains("does not export spillway:plugin/plugin@0.1.0"), "{foreign}");
    assert!(foreign.contains("it exports other:greeter/greeter@1.0.0"), "{foreign}");
    assert!(chain(&registry, "keep", &[]).apply(records(&["{}"]))[0].is_ok());
}

#[test]
fn settings_are_checked_against_the_self_description() {
    let registry = registry(&["hostile.wasm", "field-edit.wasm"]);
    let refused = |plugin: &str, config: &[(&str, &str)]| -> String {
        let spec =
            TransformSpec::new("x", plugin, config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        TransformChain::new(registry.clone(), &[spec], "test").unwrap_err().to_string()
    };
    let e = refused("hostile", &[]);
    assert!(e.contains("transforms.x.mode: required by hostile@0.1.0"), "{e}");
    let e = refused("field-edit", &[("renamez", "a:b")]);
    assert!(e.contains("transforms.x.renamez: field-edit@0.1.0 has no such setting"), "{e}");
    let e = refused("field-edit@9.9.9", &[]);
    assert!(e.contains("no transform plugin 'field-edit@9.9.9'") && e.contains("field-edit@0.1.0"), "{e}");
    // The plugin's own check (configure) runs when the connector is validated.
    let e = refused("field-edit", &[("renames", "nocolon")]);
    assert!(e.contains("refused its configuration: 'renames' entry 'nocolon' is not old:new"), "{e}");
    let e = refused("hostile", &[("mode", "nonsense")]);
    assert!(e.contains("unknown mode 'nonsense'"), "{e}");
}

#[test]
fn oversized_modules_are_refused() {
    let dir = plugin_dir(&[]);
    let runtime = Runtime::new(WasmSettings { module_max_bytes: 1000, ..settings(&dir) }).unwrap();
    let e = Plugin::load(&runtime, &plugin_dist().join("keep.wasm")).unwrap_err();
    assert!(e.contains("over the cap of 1000 bytes (wasm.module.max.bytes)"), "{e}");
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(spillway_binary()).args(args).output().expect("spillway runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// `plugin check` and `plugin test`, with and without a matching `--expect`.
#[test]
fn the_plugin_cli_checks_and_tests_a_plugin() {
    let dist = plugin_dist();
    let edit = dist.join("field-edit.wasm");
    let (ok, out, _) = run(&["plugin", "check", edit.to_str().unwrap()]);
    assert!(ok && out.contains("name:     field-edit") && out.contains("renames (List"), "{out}");
    let (ok, _, err) = run(&["plugin", "check", dist.join("wrong-world.wasm").to_str().unwrap()]);
    assert!(!ok && err.contains("not a Spillway plugin"), "{err}");

    let dir = plugin_dir(&[]);
    let input = dir.join("in.jsonl");
    std::fs::write(&input, "{\"value\":{\"device\":\"d1\"}}\n{\"value\":[1]}\n").unwrap();
    let expect = dir.join("expected.jsonl");
    std::fs::write(&expect, "{\"value\":{\"id\":\"d1\"}}\n{\"offset\":1,\"error\":\"needs a struct\"}\n").unwrap();
    let args = |expect: &Path| -> Vec<String> {
        ["plugin", "test", edit.to_str().unwrap(), "--config", "renames=device:id", "--input", input.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .chain(["--expect".to_string(), expect.display().to_string()])
            .collect()
    };
    let argv = args(&expect);
    let (ok, out, err) = run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok, "{out}\n{err}");
    std::fs::write(&expect, "{\"value\":{\"id\":\"d2\"}}\n").unwrap();
    let (ok, _, err) = run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok && err.contains("mismatch: line 1"), "{err}");
}

/// Converters, sink mappers and source mappers run through the host too (`plugin test`).
#[test]
fn every_world_runs_converters_and_mappers_included() {
    let dist = plugin_dist();
    let dir = plugin_dir(&[]);
    let records = dir.join("records.jsonl");
    std::fs::write(
        &records,
        "{\"value\":{\"device\":\"d1\",\"ts\":1700000000000,\"temp\":20.5},\"timestamp\":5}\n{\"key\":{\"text\":\"d1/1700000000000\"},\"value\":null}\n{\"value\":{\"device\":\"d1\"}}\n",
    )
    .unwrap();
    let test = |plugin: &str, input: &Path, config: &[&str], expected: &str| {
        let expect = dir.join(format!("{plugin}.expected.jsonl"));
        std::fs::write(&expect, expected).unwrap();
        let file = dist.join(format!("{plugin}.wasm"));
        let mut args = vec!["plugin", "test", file.to_str().unwrap(), "--input", input.to_str().unwrap()];
        for c in config {
            args.extend(["--config", c]);
        }
        args.extend(["--expect", expect.to_str().unwrap()]);
        let (ok, out, err) = run(&args);
        assert!(ok, "{plugin}: {out}\n{err}");
    };
    test(
        "readings-mapper",
        &records,
        &["ttl.seconds=60"],
        concat!(
            r#"{"offset":0,"mutations":[{"table":"readings","operation":"upsert","cells":{"device_id":"d1","ts":1700000000000,"temperature":20.5},"ttl_seconds":60,"write_timestamp_micros":5000,"keyspace":null}]}"#,
            "\n",
            r#"{"offset":1,"mutations":[{"table":"readings","operation":"delete","cells":{"device_id":"d1","ts":1700000000000},"ttl_seconds":null,"write_timestamp_micros":null,"keyspace":null}]}"#,
            "\n",
            r#"{"offset":2,"error":"field 'ts' (integer, ms) is missing"}"#,
        ),
    );
    test(
        "json-typed",
        &records,
        &[],
        "{\"offset\":0,\"value\":{\"device\":\"d1\",\"ts\":1700000000000,\"temp\":20.5}}\n{\"offset\":1,\"value\":null}\n{\"offset\":2,\"value\":{\"device\":\"d1\"}}\n",
    );
    let rows = dir.join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"keyspace\":\"ks\",\"table\":\"t\",\"cells\":{\"id\":7,\"name\":\"x\"},\"write_time\":1700000000000000}\n",
    )
    .unwrap();
    test(
        "row-to-json",
        &rows,
        &["key.column=id", "topic.prefix=cdc."],
        "{\"topic\":\"cdc.t\",\"key\":7,\"value\":{\"id\":7,\"name\":\"x\"},\"timestamp\":1700000000000,\"partition\":-1}\n",
    );
}

/// `plugin new` writes a project that builds as is and passes `plugin check` and `plugin test`.
#[test]
fn a_new_plugin_from_the_template_builds_and_runs() {
    let dir = plugin_dir(&[]);
    let (ok, out, err) = run(&["plugin", "new", "add-source", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let project = dir.join("add-source");
    // Share the plugins' build cache: the SDK's dependencies are then already compiled.
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/target");
    let build = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&project)
        .status()
        .expect("cargo runs");
    assert!(build.success(), "the template must build as is");
    let wasm = target.join("wasm32-wasip2/release/add_source.wasm");
    let (ok, out, err) = run(&["plugin", "check", wasm.to_str().unwrap()]);
    assert!(ok && out.contains("name:     add-source") && out.contains("field (String, required)"), "{out}{err}");
    let expect = project.join("expected.jsonl");
    std::fs::write(&expect, "{\"topic\":\"demo\",\"value\":{\"id\":1,\"source\":\"me\"}}\n").unwrap();
    let input = project.join("input.jsonl");
    let args = ["plugin", "test", wasm.to_str().unwrap(), "--config", "field=source", "--config", "value=me"];
    let (ok, out, err) =
        run(&[&args[..], &["--input", input.to_str().unwrap(), "--expect", expect.to_str().unwrap()]].concat());
    assert!(ok, "{out}{err}");
}

/// A one-shot fake schema registry answering `GET /schemas/ids/7`.
fn fake_registry() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let n = conn.read(&mut buf).unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).to_string();
        let body = if request.starts_with("GET /schemas/ids/7 ") { r#"{"schema":"\"string\""}"# } else { "{}" };
        let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    });
    url
}

/// The host imports reach the host: counters, and the schema registry (with and without one).
#[test]
fn host_imports_counters_and_the_schema_registry() {
    use spillway::wasm::arena;
    let registry = registry(&["host-calls.wasm"]);
    let plugin = registry.resolve("host-calls", spillway::wasm::World::Transform).unwrap();
    let mut instance = spillway::wasm::Instance::new(&plugin, &plugin.validate("", &[]).unwrap()).unwrap();
    let input = records(&["{}", "{}", "{}"]);
    let answer = instance.transform(&arena::batch(&input, false)).unwrap();
    assert_eq!(answer.outcomes.len(), 3);
    assert_eq!(instance.counters().get("records"), Some(&3));

    let without = chain(&registry, "host-calls", &[("schema.id", "7")]).apply(records(&["{}"]));
    assert!(errors(&without)[0].contains("no schema registry is configured"), "{:?}", errors(&without));

    let url = fake_registry();
    let with =
        chain(&registry, "host-calls", &[("schema.id", "7"), ("schema.registry.url", &url)]).apply(records(&["{}"]));
    let out = &with[0].as_ref().unwrap()[0];
    let (_, schema) = out.headers.iter().find(|(k, _)| k == "schema").expect("schema header");
    assert_eq!(schema.as_deref(), Some(&b"\"string\""[..]));
}

/// Connect's predicates (`predicates=…`, `transforms.x.predicate`, `transforms.x.negate`): a
/// transform applies only to the records its predicate selects; the others pass it unchanged.
#[test]
fn predicates_choose_the_records_a_transform_applies_to() {
    use spillway::wasm::chain::PredicateSpec;
    let registry =
        registry(&["filter.wasm", "record-is-tombstone.wasm", "insert-field-value.wasm", "topic-name-matches.wasm"]);
    let predicate = |name: &str, reference: &str, config: &[(&str, &str)], negate: bool| PredicateSpec {
        name: name.into(),
        reference: reference.into(),
        config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        negate,
    };
    // Drop tombstones; stamp every record whose topic is NOT `audit-*`.
    let mut drop = TransformSpec::new("drop", "Filter", Vec::new());
    drop.predicate = Some(predicate("tomb", "RecordIsTombstone", &[], false));
    let mut stamp = TransformSpec::new(
        "stamp",
        "org.apache.kafka.connect.transforms.InsertField$Value",
        vec![("static.field".into(), "kind".into()), ("static.value".into(), "stamped".into())],
    );
    stamp.predicate = Some(predicate("audit", "TopicNameMatches", &[("pattern", "audit-.*")], true));
    let mut chain = TransformChain::new(registry.clone(), &[drop, stamp], "test").expect("chain");

    let mut input = records(&[r#"{"a":1}"#, "null", r#"{"a":3}"#]);
    input[1].value = None;
    input[2].topic = Arc::from("audit-log");
    let out = chain.apply(input.clone());
    assert_eq!(out.len(), 3);
    let values: Vec<Vec<serde_json::Value>> = out
        .iter()
        .map(|r| {
            r.as_ref()
                .expect("no failures")
                .iter()
                .map(|rec| serde_json::from_slice(rec.value.as_deref().unwrap_or(b"null")).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(values[0], vec![serde_json::json!({"a": 1, "kind": "stamped"})], "selected: transformed");
    assert!(values[1].is_empty(), "the tombstone matched the predicate and was filtered out");
    assert_eq!(values[2], vec![serde_json::json!({"a": 3})], "audit topic: negated predicate, passed unchanged");

    // A predicate's own settings are checked like a transform's, under `predicates.<name>.`.
    let mut bad = TransformSpec::new("drop", "Filter", Vec::new());
    bad.predicate = Some(predicate("p", "TopicNameMatches", &[], false));
    let err = TransformChain::new(registry.clone(), &[bad], "test").unwrap_err().to_string();
    assert!(err.contains("predicates.p.pattern"), "{err}");
    let mut wrong = TransformSpec::new("drop", "Filter", Vec::new());
    wrong.predicate = Some(predicate("p", "no-such-predicate", &[], false));
    let err = TransformChain::new(registry, &[wrong], "test").unwrap_err().to_string();
    assert!(err.contains("predicates.p.type"), "{err}");
}

/// Consecutive field edits of Connect's transforms run as one `spillway.FusedSteps` call when it is
/// on the plugin path; every outcome and error is the one the steps give one by one (without it).
#[test]
fn fused_field_edits_give_what_the_steps_give_one_by_one() {
    let steps = ["replace-field-value.wasm", "insert-field-value.wasm", "timestamp-converter-value.wasm"];
    let with_fused = registry(&[&steps[..], &["fused-steps.wasm"]].concat());
    let without = registry(&steps);
    let step = |alias: &str, class: &str, config: &[(&str, &str)]| {
        TransformSpec::new(
            alias,
            format!("org.apache.kafka.connect.transforms.{class}"),
            config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        )
    };
    let specs = [
        step("rename", "ReplaceField$Value", &[("renames", "temperature:temp_c"), ("exclude", "secret")]),
        step(
            "stamp",
            "InsertField$Value",
            &[("static.field", "source"), ("static.value", "spillway"), ("offset.field", "at")],
        ),
        step(
            "time",
            "TimestampConverter$Value",
            &[("field", "ts"), ("target.type", "string"), ("format", "yyyy-MM-dd HH:mm:ss.SSS")],
        ),
    ];
    let mut fused = TransformChain::new(with_fused, &specs, "test").expect("chain");
    let mut one_by_one = TransformChain::new(without, &specs, "test").expect("chain");
    let mut input = records(&[
        r#"{"id":1,"ts":1700000000123,"temperature":21.50,"secret":"x","nested":{"a":[1, 2]}}"#,
        r#" { "ts" : 0 , "temperature" : -1e3 , "name":"caf\u00e9" } "#,
        r#"{"id":3,"temperature":20}"#,
        r#"{"id":4,"ts":"not a time"}"#,
        r#"{"schema":{"type":"struct","fields":[{"field":"ts","type":"int64"}]},"payload":{"ts":5}}"#,
        r#"[1,2,3]"#,
        r#"{"id":7,"ts":1700000000000"#,
        r#"{"id":8,"id":9,"ts":null,"source":"old"}"#,
        "tombstone",
    ]);
    input[8].value = None;
    let (a, b) = (fused.apply(input.clone()), one_by_one.apply(input));
    let view = |results: &[Result<Vec<SinkRecord>, TransformFailure>]| -> Vec<Result<Vec<serde_json::Value>, String>> {
        results
            .iter()
            .map(|r| match r {
                Ok(records) => Ok(records
                    .iter()
                    .map(|rec| {
                        rec.value
                            .as_deref()
                            .map_or(serde_json::Value::Null, |v| serde_json::from_slice(v).expect("JSON"))
                    })
                    .collect()),
                Err(f) => Err(format!("{} ({}): {}", f.alias, f.plugin, f.message)),
            })
            .collect()
    };
    let (a, b) = (view(&a), view(&b));
    assert_eq!(a, b, "fused and one by one agree");
    assert_eq!(
        a[0],
        Ok(vec![
            serde_json::json!({"id": 1, "ts": "2023-11-14 22:13:20.123", "temp_c": 21.5, "nested": {"a": [1, 2]}, "source": "spillway", "at": 0})
        ])
    );
    assert!(a[3].as_ref().is_err_and(|e| e.starts_with("time (") && e.contains("not a time")), "{:?}", a[3]);
    assert!(a[6].as_ref().is_err_and(|e| e.starts_with("rename (")), "not JSON fails at the first step: {:?}", a[6]);
    let stats = fused.stats();
    let (alias, plugin, calls, _) = stats.last().expect("stats").clone();
    assert_eq!(
        (alias.as_str(), plugin.as_str(), calls),
        ("rename+stamp+time", "spillway.FusedSteps@0.1.0", 1),
        "{stats:?}"
    );
    assert_eq!(stats.len(), 4, "three steps and one fused run: {stats:?}");
    assert_eq!(one_by_one.stats().len(), 3, "no fused run without the plugin");
}

/// `GET /connector-plugins?connectorsOnly=false` lists Connect's standard library by class and type,
/// and `GET /connector-plugins/{class}/config` gives each one's keys from its self-description.
#[tokio::test]
async fn connector_plugins_are_listed_as_connect_lists_them() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::{Value, json};
    use spillway::rest::{RestState, router};
    use tower::ServiceExt;

    let registry = registry(&[
        "json-converter.wasm",
        "insert-field-value.wasm",
        "topic-name-matches.wasm",
        "readings-mapper.wasm",
    ]);
    let board = Arc::new(spillway::worker::status::StatusBoard::default());
    let worker = spillway::config::WorkerConfig::from_settings(&spillway::config::Settings::default()).unwrap();
    let herder = spillway::worker::herder::Herder::new(
        Arc::new(worker),
        registry,
        board,
        tokio_util::sync::CancellationToken::new(),
    );
    let app = router(RestState::new(herder, "127.0.0.1:8083".into()));
    let call = |uri: &str| {
        let (app, uri) = (app.clone(), uri.to_string());
        async move {
            let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (code, only) = call("/connector-plugins").await;
    assert_eq!(code, StatusCode::OK);
    let connectors = only.as_array().unwrap();
    assert!(connectors.iter().all(|p| p["type"] == "sink" || p["type"] == "source"), "{only}");
    let listed = |class: &str, kind: &str| connectors.iter().any(|p| p["class"] == class && p["type"] == kind);
    assert!(listed("com.datastax.oss.kafka.sink.CassandraSinkConnector", "sink"), "{only}");
    assert!(listed("io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector", "source"), "{only}");

    let (_, all) = call("/connector-plugins?connectorsOnly=false").await;
    let of = |class: &str| all.as_array().unwrap().iter().find(|p| p["class"] == class).cloned();
    assert_eq!(
        of("org.apache.kafka.connect.json.JsonConverter"),
        Some(json!({"class": "org.apache.kafka.connect.json.JsonConverter", "type": "converter", "version": "0.1.0"}))
    );
    assert_eq!(of("org.apache.kafka.connect.transforms.InsertField$Value").unwrap()["type"], "transformation");
    assert_eq!(of("org.apache.kafka.connect.transforms.predicates.TopicNameMatches").unwrap()["type"], "predicate");
    assert!(
        all.as_array().unwrap().iter().all(|p| p["type"] != "sink-mapper"),
        "Spillway's mappers are not Connect plugins"
    );

    let (code, keys) = call("/connector-plugins/InsertField$Value/config").await;
    assert_eq!(code, StatusCode::OK);
    let static_value = keys.as_array().unwrap().iter().find(|k| k["name"] == "static.value").expect("static.value");
    assert_eq!(static_value["type"], "STRING");
    assert_eq!(static_value["required"], false);
    let (_, keys) = call("/connector-plugins/org.apache.kafka.connect.json.JsonConverter/config").await;
    let schemas = keys.as_array().unwrap().iter().find(|k| k["name"] == "schemas.enable").expect("schemas.enable");
    assert_eq!((schemas["type"].as_str(), schemas["default_value"].as_str()), (Some("BOOLEAN"), Some("true")));
    let (_, keys) = call("/connector-plugins/com.datastax.oss.kafka.sink.CassandraSinkConnector/config").await;
    assert!(keys.as_array().unwrap().iter().any(|k| k["name"] == "contactPoints"), "{keys}");
    let (code, body) = call("/connector-plugins/com.acme.Nope/config").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body["error_code"], 404);
}

/// A converter class that is neither built in nor a plugin, or a converter plugin with bad
/// settings, is a config error naming the setting and why.
#[test]
fn converter_plugins_are_checked_when_the_connector_is_configured() {
    use spillway::wasm::converter::{ConverterPart, ConverterSpec, resolve};
    let registry = registry(&["avro-converter.wasm"]);
    let spec = |reference: &str, config: &[(&str, &str)]| ConverterSpec {
        part: ConverterPart::Value,
        reference: reference.into(),
        config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let err = resolve(&registry, &spec("com.acme.FancyConverter", &[])).unwrap_err().to_string();
    assert!(err.contains("value.converter") && err.contains("not built in"), "{err}");
    let err = resolve(&registry, &spec("io.confluent.connect.avro.AvroConverter", &[])).unwrap_err().to_string();
    assert!(err.contains("schema.registry.url"), "{err}");
    let bad = [("schema.registry.url", "https://r:8081"), ("value.subject.name.strategy", "Nope")];
    let err = resolve(&registry, &spec("AvroConverter", &bad[..1])).unwrap_err().to_string();
    assert!(err.contains("schema.registry.url") && err.contains("http://"), "{err}");
    let err = resolve(&registry, &spec("AvroConverter", &[("schema.registry.url", "http://r:8081"), bad[1]]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("value.subject.name.strategy: 'Nope'"), "{err}");
    let ok = resolve(&registry, &spec("AvroConverter", &[("schema.registry.url", "http://127.0.0.1:1")]));
    assert!(ok.is_ok(), "configuring does not contact the registry: {:?}", ok.err());
}
