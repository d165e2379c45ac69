//! Logging setup: `tracing` to stderr, human-readable or JSON, filtered by `SPILLWAY_LOG` / `RUST_LOG`;
//! levels can change while running (`PUT /admin/loggers/{name}`), as Connect's log4j loggers can.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event.
    Json,
}

/// The default filter: `info` for Spillway, `warn` for the libraries under it.
const DEFAULT_FILTER: &str = "warn,spillway=info";

/// A logger's level as `GET /admin/loggers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoggerLevel {
    /// TRACE, DEBUG, INFO, WARN, ERROR or OFF.
    pub level: String,
    /// When it was last set over REST (epoch milliseconds).
    pub last_modified: Option<i64>,
}

struct Levels {
    /// The filter given at start.
    base: String,
    /// Logger name → level set over REST; "root" is every target.
    set: BTreeMap<String, LoggerLevel>,
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

fn levels() -> &'static Mutex<Levels> {
    static LEVELS: OnceLock<Mutex<Levels>> = OnceLock::new();
    LEVELS.get_or_init(|| Mutex::new(Levels { base: DEFAULT_FILTER.into(), set: BTreeMap::new(), handle: None }))
}

fn lock() -> std::sync::MutexGuard<'static, Levels> {
    levels().lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the global subscriber. `SPILLWAY_LOG` (or `RUST_LOG`) sets the filter, default `info`
/// for Spillway and `warn` for the libraries under it.
pub fn init(format: LogFormat) {
    let base = std::env::var("SPILLWAY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .filter(|f| EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| DEFAULT_FILTER.to_string());
    let (filter, handle) = reload::Layer::new(EnvFilter::new(&base));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    let result = match format {
        LogFormat::Text => tracing_subscriber::registry().with(filter).with(fmt).try_init(),
        LogFormat::Json => tracing_subscriber::registry().with(filter).with(fmt.json()).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    if result.is_ok() {
        let mut levels = lock();
        levels.base = base;
        levels.handle = Some(handle);
    }
}

/// The root level of a filter string: its directive without a target.
fn root_level(filter: &str) -> String {
    filter.split(',').map(str::trim).find(|d| !d.contains('=') && !d.is_empty()).unwrap_or("error").to_ascii_uppercase()
}

/// Connect's level names to `tracing`'s (FATAL is ERROR).
fn parse_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

/// A logger name as a `tracing` target: Java's dots become Rust's `::`.
fn target(name: &str) -> String {
    if name.contains("::") { name.to_string() } else { name.replace('.', "::") }
}

/// The root logger and every logger set over REST.
pub fn loggers() -> BTreeMap<String, LoggerLevel> {
    let levels = lock();
    let mut out = levels.set.clone();
    out.entry("root".into()).or_insert_with(|| LoggerLevel { level: root_level(&levels.base), last_modified: None });
    out
}

/// One logger's level: set over REST, or the level its nearest configured ancestor gives it.
/// `None` for a logger that is neither set, nor `root`, nor one of Spillway's (`spillway…`) or of
/// the filter given at start.
pub fn logger(name: &str) -> Option<LoggerLevel> {
    let levels = lock();
    if let Some(l) = levels.set.get(name) {
        return Some(l.clone());
    }
    let t = target(name);
    let known = name == "root"
        || t == "spillway"
        || t.starts_with("spillway::")
        || levels
            .base
            .split(',')
            .filter_map(|d| d.trim().split_once('='))
            .any(|(p, _)| t == p || t.starts_with(&format!("{p}::")));
    if !known {
        return None;
    }
    let inherited = levels
        .base
        .split(',')
        .filter_map(|d| d.trim().split_once('='))
        .filter(|(prefix, _)| t == *prefix || t.starts_with(&format!("{prefix}::")))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, level)| level.to_ascii_uppercase());
    let root = levels.set.get("root").map(|l| l.level.clone());
    Some(LoggerLevel { level: inherited.or(root).unwrap_or_else(|| root_level(&levels.base)), last_modified: None })
}

/// Sets a logger's level (and its descendants' set over REST) at once. Returns the loggers
/// affected, or why the level is not one.
pub fn set_level(name: &str, level: &str, now_ms: i64) -> Result<Vec<String>, String> {
    let tracing_level = parse_level(level).ok_or_else(|| format!("invalid log level '{level}'."))?;
    let mut levels = lock();
    let entry = LoggerLevel { level: tracing_level.to_ascii_uppercase(), last_modified: Some(now_ms) };
    let mut affected = vec![name.to_string()];
    let descendants: Vec<String> = levels
        .set
        .keys()
        .filter(|k| {
            *k != name && (name == "root" || k.starts_with(&format!("{name}.")) || k.starts_with(&format!("{name}::")))
        })
        .cloned()
        .collect();
    for d in descendants {
        levels.set.insert(d.clone(), entry.clone());
        affected.push(d);
    }
    levels.set.insert(name.to_string(), entry);
    // Root replaces the base's default level; named loggers add directives after the base's.
    let mut directives: Vec<String> = Vec::new();
    match levels.set.get("root") {
        Some(root) => {
            directives.push(root.level.to_ascii_lowercase());
            directives.extend(levels.base.split(',').map(str::trim).filter(|d| d.contains('=')).map(str::to_string));
        }
        None => directives.push(levels.base.clone()),
    }
    for (logger, l) in levels.set.iter().filter(|(k, _)| *k != "root") {
        directives.push(format!("{}={}", target(logger), l.level.to_ascii_lowercase()));
    }
    let filter = EnvFilter::try_new(directives.join(",")).map_err(|e| format!("cannot apply the level: {e}"))?;
    if let Some(handle) = &levels.handle {
        handle.reload(filter).map_err(|e| format!("cannot apply the level: {e}"))?;
    }
    affected.sort();
    Ok(affected)
}
