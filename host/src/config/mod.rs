//! Configuration: parse (`.properties` / JSON) → validate (pure functions) → typed config structs.
//!
//! Key names are Kafka Connect's wherever one exists, so existing files work unchanged. Nothing here
//! opens a connection: the same validation serves startup and (later) the REST validate endpoint.

pub mod connector;
pub mod properties;
pub mod security;
pub mod worker;

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

pub use connector::{ConnectorConfig, ErrorTolerance};
pub use worker::{ClusterSettings, WorkerConfig};

/// A configuration problem, always naming the key (or file) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key has a value that cannot be used.
    #[error("invalid value for '{key}': {reason}")]
    Invalid {
        /// The offending key.
        key: String,
        /// Why the value was rejected.
        reason: String,
    },
    /// A required key is absent.
    #[error("missing required setting '{key}': {doc}")]
    Missing {
        /// The absent key.
        key: String,
        /// What the key is for.
        doc: String,
    },
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl ConfigError {
    /// A value that cannot be used.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { key: key.into(), reason: reason.into() }
    }

    /// A required key that is absent.
    pub fn missing(key: impl Into<String>, doc: impl Into<String>) -> Self {
        Self::Missing { key: key.into(), doc: doc.into() }
    }
}

/// Flat string settings with typed accessors that produce [`ConfigError`]s naming the key.
///
/// Its `Debug` output masks the values of secret keys (see [`is_secret_key`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings(pub BTreeMap<String, String>);

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, if is_secret_key(k) { "****" } else { v.as_str() })))
            .finish()
    }
}

/// Whether a key holds a secret (a password, a JAAS config, a private key) whose value must never be
/// logged or printed.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "jaas", "key.pem", "keystore.key", "credentials"].iter().any(|s| key.contains(s))
}

impl Settings {
    /// Settings from `(key, value)` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// The raw value, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The trimmed value if set and not blank.
    pub fn non_blank(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A required, non-blank value.
    pub fn required(&self, key: &str, doc: &str) -> Result<&str, ConfigError> {
        self.non_blank(key).ok_or_else(|| ConfigError::missing(key, doc))
    }

    /// A value parsed with `FromStr`, or the default when unset.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.non_blank(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| ConfigError::invalid(key, format!("'{v}': {e}"))),
        }
    }

    /// A boolean (`true`/`false`, any case, as Connect accepts), or the default when unset.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.non_blank(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ConfigError::invalid(key, format!("'{v}' is not a boolean (true or false)"))),
        }
    }

    /// The settings under `prefix`, with the prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> Settings {
        Settings(
            self.0
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v.clone())))
                .collect(),
        )
    }

    /// Keys that are neither in `known` nor under one of `prefixes`.
    pub fn unknown_keys<'a>(&'a self, known: &[&str], prefixes: &[&str]) -> Vec<&'a str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|k| !known.contains(k) && !prefixes.iter().any(|p| k.starts_with(p)))
            .collect()
    }
}

/// Reads a `.properties` file (or, for names ending in `.json`, a JSON object) into flat settings.
///
/// JSON may be Connect's create body `{"name": …, "config": {…}}` or a flat object of strings.
pub fn read_settings_file(path: &Path) -> Result<Settings, ConfigError> {
    let file_error = |reason: String| ConfigError::File { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        settings_from_json(&text).map_err(file_error)
    } else {
        properties::parse(&text).map(Settings).map_err(|e| file_error(e.to_string()))
    }
}

/// Parses a connector's JSON: Connect's `{"name", "config"}` body or a flat object; values must be
/// strings, numbers or booleans (Connect stringifies those too).
pub fn settings_from_json(text: &str) -> Result<Settings, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    let serde_json::Value::Object(mut top) = value else {
        return Err("expected a JSON object".into());
    };
    let name = top.get("name").and_then(|n| n.as_str()).map(str::to_string);
    let flat = match top.remove("config") {
        Some(serde_json::Value::Object(config)) => config,
        Some(_) => return Err("\"config\" must be a JSON object".into()),
        None => top,
    };
    let mut out = BTreeMap::new();
    for (key, value) in flat {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            other => return Err(format!("\"{key}\" must be a string, number or boolean, not {other}")),
        };
        out.insert(key, text);
    }
    if let Some(name) = name {
        out.entry("name".to_string()).or_insert(name);
    }
    Ok(Settings(out))
}

/// Splits a comma-separated list, trimming blanks and dropping empty items (Connect's `LIST` type).
pub fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn typed_accessors_name_the_key() {
        let s = settings(&[("n", "12"), ("bad", "x"), ("flag", "TRUE"), ("blank", "  ")]);
        assert_eq!(s.parse_or("n", 0u32).unwrap(), 12);
        assert_eq!(s.parse_or("absent", 7u32).unwrap(), 7);
        assert_eq!(s.parse_or("blank", 7u32).unwrap(), 7);
        let err = s.parse_or("bad", 0u32).unwrap_err().to_string();
        assert!(err.contains("'bad'") && err.contains("'x'"), "{err}");
        assert!(s.bool_or("flag", false).unwrap());
        assert!(s.bool_or("n", false).unwrap_err().to_string().contains("not a boolean"));
        assert!(s.required("blank", "doc").unwrap_err().to_string().contains("missing required setting 'blank'"));
    }

    #[test]
    fn json_connect_body_and_flat() {
        let s = settings_from_json(r#"{"name":"a","config":{"tasks.max":2,"x":"y","b":true}}"#).unwrap();
        assert_eq!(s.get("name"), Some("a"));
        assert_eq!(s.get("tasks.max"), Some("2"));
        assert_eq!(s.get("b"), Some("true"));
        let flat = settings_from_json(r#"{"name":"b","topics":"t"}"#).unwrap();
        assert_eq!(flat.get("topics"), Some("t"));
        assert!(settings_from_json("{").unwrap_err().contains("malformed JSON"));
        assert!(settings_from_json(r#"{"config":{"a":[1]}}"#).unwrap_err().contains("\"a\""));
    }

    #[test]
    fn every_key_is_documented() {
        let doc = include_str!("../../../docs/configuration.md");
        let keys = worker::KNOWN_KEYS
            .iter()
            .chain(worker::INERT_KEYS.iter().map(|(k, _)| k))
            .chain(worker::DISTRIBUTED_KEYS)
            .chain(connector::COMMON_KEYS)
            .chain(connector::INERT_KEYS.iter().map(|(k, _)| k))
            .chain(crate::connectors::sink::config::CONNECTION_KEYS)
            .chain(crate::connectors::sink::config::SINK_KEYS)
            .chain(crate::connectors::source::config::SOURCE_KEYS)
            .chain(crate::connectors::sink::lenses::KEYS)
            .chain(crate::connectors::sink::datastax::KEYS)
            .chain(security::KAFKA_SECURITY_KEYS)
            .chain(crate::rest::security::HTTPS_KEYS)
            .chain(crate::rest::security::HTTPS_INERT_KEYS);
        for key in keys {
            assert!(doc.contains(&format!("`{key}`")), "docs/configuration.md does not document `{key}`");
        }
    }

    #[test]
    fn prefixes_and_unknown_keys() {
        let s = settings(&[("consumer.fetch.min.bytes", "1"), ("a", "1"), ("typo", "2")]);
        assert_eq!(s.with_prefix("consumer.").get("fetch.min.bytes"), Some("1"));
        assert_eq!(s.unknown_keys(&["a"], &["consumer."]), vec!["typo"]);
        assert_eq!(split_list(" a, ,b ,"), vec!["a", "b"]);
    }
}
