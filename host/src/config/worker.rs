//! The worker's own settings (`worker.properties`), under Kafka Connect's key names.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Settings};
use crate::pipeline::convert::ConverterConfig;

/// Keys the worker uses. `consumer.*`, `producer.*` and the converters' own `*.converter.*` keys are
/// passed through; anything else is reported as unknown (never silently ignored).
pub const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "listeners",
    "rest.port",
    "rest.host.name",
    "offset.flush.interval.ms",
    "key.converter",
    "value.converter",
    "plugin.path",
    "wasm.memory.max.bytes",
    "wasm.call.timeout.ms",
    "wasm.module.max.bytes",
    "wasm.cache.dir",
    "wasm.threads",
];
/// Connect keys accepted for compatibility that have no effect in this version; each is reported
/// with the reason, so a user never believes a setting took effect when it did not.
pub const INERT_KEYS: &[(&str, &str)] = &[
    ("group.id", "is for distributed mode; standalone mode has no cluster"),
    ("rest.advertised.host.name", "is for distributed mode"),
    ("rest.advertised.port", "is for distributed mode"),
    ("config.storage.topic", "is for distributed mode"),
    ("config.storage.replication.factor", "is for distributed mode"),
    ("offset.storage.topic", "is for distributed mode"),
    ("offset.storage.replication.factor", "is for distributed mode"),
    ("offset.storage.partitions", "is for distributed mode"),
    ("status.storage.topic", "is for distributed mode"),
    ("status.storage.replication.factor", "is for distributed mode"),
    ("status.storage.partitions", "is for distributed mode"),
    ("offset.storage.file.filename", "holds source offsets; no source connector runs in this version"),
    ("offset.flush.timeout.ms", "has no effect: a stopping task waits for its in-flight writes instead"),
    ("header.converter", "has no effect: header values are read as UTF-8 text, as JSON when they parse as JSON"),
];
const PASS_THROUGH_PREFIXES: &[&str] =
    &["consumer.", "producer.", "key.converter.", "value.converter.", "header.converter."];

/// Typed worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Kafka bootstrap servers (`bootstrap.servers`).
    pub bootstrap_servers: String,
    /// Cluster name in distributed mode (`group.id`).
    pub group_id: Option<String>,
    /// Where the REST API listens (`listeners`, or the legacy `rest.host.name`/`rest.port`).
    pub listeners: Vec<SocketAddr>,
    /// How often sink tasks commit their acknowledged offsets (`offset.flush.interval.ms`).
    pub offset_flush_interval: Duration,
    /// Default key converter (`key.converter` + `key.converter.*`).
    pub key_converter: ConverterConfig,
    /// Default value converter (`value.converter` + `value.converter.*`).
    pub value_converter: ConverterConfig,
    /// Standalone source offsets file (`offset.storage.file.filename`).
    pub offset_storage_file: Option<PathBuf>,
    /// librdkafka settings for every consumer (`consumer.*`, prefix removed).
    pub consumer: Settings,
    /// librdkafka settings for every producer (`producer.*`, prefix removed).
    pub producer: Settings,
    /// The plugin runtime: `plugin.path` and the sandbox's limits (`wasm.*`).
    pub wasm: crate::wasm::WasmSettings,
    /// Non-fatal findings (unknown keys) for the caller to log.
    pub warnings: Vec<String>,
}

impl WorkerConfig {
    /// Validates worker settings. Pure: opens nothing.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let bootstrap_servers = s.non_blank("bootstrap.servers").unwrap_or("localhost:9092").to_string();
        let listeners = match s.non_blank("listeners") {
            Some(list) => {
                super::split_list(list).iter().map(|l| parse_listener("listeners", l)).collect::<Result<_, _>>()?
            }
            None => {
                let host = s.non_blank("rest.host.name").unwrap_or("0.0.0.0");
                let port: u16 = s.parse_or("rest.port", 8083)?;
                vec![resolve("rest.host.name", host, port)?]
            }
        };
        if listeners.is_empty() {
            return Err(ConfigError::invalid("listeners", "the list is empty; give at least one http://host:port"));
        }
        let flush_ms: u64 = s.parse_or("offset.flush.interval.ms", 60_000)?;
        if flush_ms == 0 {
            return Err(ConfigError::invalid("offset.flush.interval.ms", "must be at least 1"));
        }
        let inert: Vec<&str> = INERT_KEYS.iter().map(|(k, _)| *k).collect();
        let known: Vec<&str> = KNOWN_KEYS.iter().chain(&inert).copied().collect();
        let mut warnings: Vec<String> = INERT_KEYS
            .iter()
            .filter(|(k, _)| s.get(k).is_some())
            .map(|(k, why)| format!("worker setting '{k}' {why}"))
            .collect();
        warnings.extend(
            s.unknown_keys(&known, PASS_THROUGH_PREFIXES)
                .into_iter()
                .map(|k| format!("unknown worker setting '{k}' is ignored")),
        );
        Ok(Self {
            bootstrap_servers,
            group_id: s.non_blank("group.id").map(str::to_string),
            listeners,
            offset_flush_interval: Duration::from_millis(flush_ms),
            key_converter: ConverterConfig::from_settings(s, "key.converter")?,
            value_converter: ConverterConfig::from_settings(s, "value.converter")?,
            offset_storage_file: s.non_blank("offset.storage.file.filename").map(PathBuf::from),
            consumer: s.with_prefix("consumer."),
            producer: s.with_prefix("producer."),
            wasm: crate::wasm::WasmSettings::from_settings(s)?,
            warnings,
        })
    }
}

/// `http://host:port`; an empty host means every interface, as in Connect.
fn parse_listener(key: &str, listener: &str) -> Result<SocketAddr, ConfigError> {
    let Some((scheme, rest)) = listener.split_once("://") else {
        return Err(ConfigError::invalid(key, format!("'{listener}' is not of the form http://host:port")));
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(ConfigError::invalid(
            key,
            format!("'{listener}': only http listeners are supported in this version"),
        ));
    }
    let (host, port) =
        rest.rsplit_once(':').ok_or_else(|| ConfigError::invalid(key, format!("'{listener}' has no port")))?;
    let port: u16 = port
        .trim_end_matches('/')
        .parse()
        .map_err(|e| ConfigError::invalid(key, format!("'{listener}': bad port: {e}")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    resolve(key, if host.is_empty() { "0.0.0.0" } else { host }, port)
}

fn resolve(key: &str, host: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| ConfigError::invalid(key, format!("cannot resolve '{host}': {e}")))?
        .next()
        .ok_or_else(|| ConfigError::invalid(key, format!("'{host}' resolves to no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings(crate::config::properties::parse(text).unwrap())
    }

    #[test]
    fn defaults_are_connects() {
        let w = WorkerConfig::from_settings(&settings("")).unwrap();
        assert_eq!(w.bootstrap_servers, "localhost:9092");
        assert_eq!(w.listeners, vec!["0.0.0.0:8083".parse().unwrap()]);
        assert_eq!(w.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(w.value_converter.class, "org.apache.kafka.connect.json.JsonConverter");
    }

    #[test]
    fn listeners_and_pass_through() {
        let w = WorkerConfig::from_settings(&settings(
            "listeners=http://127.0.0.1:18083\nconsumer.fetch.min.bytes=10\nvalue.converter.schemas.enable=false\ntypo.key=1\ngroup.id=g\n",
        ))
        .unwrap();
        assert_eq!(w.listeners, vec!["127.0.0.1:18083".parse().unwrap()]);
        assert_eq!(w.consumer.get("fetch.min.bytes"), Some("10"));
        assert_eq!(
            w.warnings,
            vec![
                "worker setting 'group.id' is for distributed mode; standalone mode has no cluster",
                "unknown worker setting 'typo.key' is ignored"
            ]
        );
        let legacy = WorkerConfig::from_settings(&settings("rest.host.name=127.0.0.1\nrest.port=9999\n")).unwrap();
        assert_eq!(legacy.listeners, vec!["127.0.0.1:9999".parse().unwrap()]);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, needle) in [
            ("listeners=127.0.0.1:8083", "listeners"),
            ("listeners=http://127.0.0.1:x", "bad port"),
            ("listeners=ftp://a:1", "only http"),
            ("offset.flush.interval.ms=0", "offset.flush.interval.ms"),
            ("offset.flush.interval.ms=soon", "offset.flush.interval.ms"),
        ] {
            let err = WorkerConfig::from_settings(&settings(text)).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
