//! Golden tests of Kafka Connect's transforms (`plugins/std/`): every case directory
//! `plugins/std/<plugin>/fixtures/<case>/` holds `config.properties` (its `plugin=` line names the
//! file in `plugins/dist/`, the rest is the transform's config), `input.jsonl` and
//! `expected.jsonl`, in `spillway plugin test`'s formats — or, for a configuration the plugin must
//! refuse, `error.txt` with the message. The same fixtures can check an implementation in another
//! language.

use std::path::{Path, PathBuf};

use spillway_tests::plugin_dist;

fn std_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/std")
}

fn cases() -> Vec<PathBuf> {
    let mut cases = Vec::new();
    for plugin in std::fs::read_dir(std_dir()).expect("plugins/std").flatten() {
        let Ok(entries) = std::fs::read_dir(plugin.path().join("fixtures")) else { continue };
        cases.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    cases.sort();
    cases
}

fn run_case(case: &Path) -> Result<(), String> {
    let read = |name: &str| std::fs::read_to_string(case.join(name)).map_err(|e| format!("{name}: {e}"));
    let properties = spillway::config::properties::parse(&read("config.properties")?).map_err(|e| e.to_string())?;
    let plugin = properties.get("plugin").ok_or("config.properties has no plugin= line")?;
    let config: Vec<(String, String)> =
        properties.iter().filter(|(k, _)| *k != "plugin").map(|(k, v)| (k.clone(), v.clone())).collect();
    let file = plugin_dist().join(format!("{plugin}.wasm"));
    // A case with `error.txt` is a configuration the plugin must refuse, with that message.
    if let Ok(expected_error) = read("error.txt") {
        return match spillway::cli::plugin_test(&file, config, "") {
            Err(e) if e.contains(expected_error.trim()) => Ok(()),
            Err(e) => Err(format!("refused, but not with '{}': {e}", expected_error.trim())),
            Ok(_) => Err(format!("accepted a config it must refuse ('{}')", expected_error.trim())),
        };
    }
    let actual = spillway::cli::plugin_test(&file, config, &read("input.jsonl")?)?;
    let diffs = spillway::cli::compare(&actual, &read("expected.jsonl")?)?;
    if diffs.is_empty() { Ok(()) } else { Err(diffs.join("\n    ")) }
}

#[test]
fn connect_transforms_pass_their_golden_fixtures() {
    let cases = cases();
    assert!(cases.len() >= 10, "fixtures found: {cases:?}");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case.strip_prefix(std_dir()).unwrap_or(case).display().to_string();
            run_case(case).err().map(|e| format!("{name}:\n    {e}"))
        })
        .collect();
    println!("{} golden cases", cases.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
