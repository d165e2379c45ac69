//! The keys every connector shares (`name`, `connector.class`, `tasks.max`, converters, `errors.*`).
//! Connector-specific keys are validated by the connector itself (`connectors::*`).

use super::{ConfigError, Settings};
use crate::pipeline::convert::ConverterConfig;

/// Keys common to all connectors; the connector adds its own to decide what is unknown.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "topics",
    "topics.regex",
    "key.converter",
    "value.converter",
    "errors.tolerance",
    "errors.log.enable",
    "errors.log.include.messages",
];
/// Connect keys accepted for compatibility that have no effect in this version (reported, with why).
pub const INERT_KEYS: &[(&str, &str)] =
    &[("header.converter", "has no effect: header values are read as UTF-8 text, as JSON when they parse as JSON")];
/// Prefixes common to all connectors.
pub const COMMON_PREFIXES: &[&str] =
    &["key.converter.", "value.converter.", "header.converter.", "consumer.override.", "producer.override."];

/// What happens to a record that cannot be converted or mapped (`errors.tolerance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTolerance {
    /// The task fails on the first bad record (Connect's default).
    None,
    /// Bad records are skipped and reported; the task goes on.
    All,
}

/// Validated common connector settings plus the raw map for the connector's own keys.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Connector name (`name`), unique in the worker or cluster.
    pub name: String,
    /// Class as configured (`connector.class`); resolved by `connectors::ConnectorKind`.
    pub class: String,
    /// Upper bound on tasks (`tasks.max`).
    pub tasks_max: u32,
    /// Per-connector key converter override.
    pub key_converter: Option<ConverterConfig>,
    /// Per-connector value converter override.
    pub value_converter: Option<ConverterConfig>,
    /// `errors.tolerance`.
    pub error_tolerance: ErrorTolerance,
    /// `errors.log.enable`: log every skipped record.
    pub errors_log_enable: bool,
    /// `errors.log.include.messages`: include key/value in that log.
    pub errors_log_include_messages: bool,
    /// Everything, as given.
    pub settings: Settings,
}

impl ConnectorConfig {
    /// Validates the common keys. Pure.
    pub fn from_settings(settings: Settings) -> Result<Self, ConfigError> {
        let name = settings.required("name", "the connector's unique name")?.to_string();
        if name.chars().any(char::is_control) {
            return Err(ConfigError::invalid("name", "must not contain control characters"));
        }
        let class =
            settings.required("connector.class", "the connector implementation, e.g. CassandraSink")?.to_string();
        let tasks_max: u32 = settings.parse_or("tasks.max", 1)?;
        if tasks_max == 0 {
            return Err(ConfigError::invalid("tasks.max", "must be at least 1"));
        }
        let error_tolerance = match settings.non_blank("errors.tolerance").map(str::to_ascii_lowercase).as_deref() {
            None | Some("none") => ErrorTolerance::None,
            Some("all") => ErrorTolerance::All,
            Some(other) => {
                return Err(ConfigError::invalid("errors.tolerance", format!("'{other}' is not one of: none, all")));
            }
        };
        // Ignoring a transform would write records the user did not ask for: refuse instead.
        for key in ["transforms", "predicates"] {
            if settings.non_blank(key).is_some() {
                return Err(ConfigError::invalid(
                    key,
                    "single-message transforms and predicates are not available in this version; remove the key",
                ));
            }
        }
        let optional_converter = |prefix: &str| -> Result<Option<ConverterConfig>, ConfigError> {
            settings.non_blank(prefix).map(|_| ConverterConfig::from_settings(&settings, prefix)).transpose()
        };
        Ok(Self {
            key_converter: optional_converter("key.converter")?,
            value_converter: optional_converter("value.converter")?,
            errors_log_enable: settings.bool_or("errors.log.enable", false)?,
            errors_log_include_messages: settings.bool_or("errors.log.include.messages", false)?,
            error_tolerance,
            name,
            class,
            tasks_max,
            settings,
        })
    }

    /// Warnings for keys that are unknown or have no effect, given the connector's own keys and prefixes.
    pub fn unknown_key_warnings(&self, own_keys: &[&str], own_prefixes: &[&str]) -> Vec<String> {
        let inert = INERT_KEYS.iter().map(|(k, _)| k);
        let known: Vec<&str> = COMMON_KEYS.iter().chain(inert).chain(own_keys).copied().collect();
        let prefixes: Vec<&str> = COMMON_PREFIXES.iter().chain(own_prefixes).copied().collect();
        let inert_set = INERT_KEYS
            .iter()
            .filter(|(k, _)| self.settings.get(k).is_some())
            .map(|(k, why)| format!("connector '{}': setting '{k}' {why}", self.name));
        let unknown = self
            .settings
            .unknown_keys(&known, &prefixes)
            .into_iter()
            .map(|k| format!("connector '{}': unknown setting '{k}' is ignored", self.name));
        inert_set.chain(unknown).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ConnectorConfig, ConfigError> {
        ConnectorConfig::from_settings(Settings::from_pairs(pairs))
    }

    #[test]
    fn common_keys() {
        let c = config(&[
            ("name", "s"),
            ("connector.class", "CassandraSink"),
            ("tasks.max", "3"),
            ("errors.tolerance", "ALL"),
        ])
        .unwrap();
        assert_eq!(c.tasks_max, 3);
        assert_eq!(c.error_tolerance, ErrorTolerance::All);
        assert!(c.value_converter.is_none());
        assert_eq!(c.unknown_key_warnings(&[], &[]), Vec::<String>::new());
    }

    #[test]
    fn errors_name_the_key() {
        for (pairs, needle) in [
            (vec![("connector.class", "x")], "'name'"),
            (vec![("name", "a")], "'connector.class'"),
            (vec![("name", "a"), ("connector.class", "x"), ("tasks.max", "0")], "'tasks.max'"),
            (vec![("name", "a"), ("connector.class", "x"), ("tasks.max", "-1")], "'tasks.max'"),
            (vec![("name", "a"), ("connector.class", "x"), ("errors.tolerance", "some")], "'errors.tolerance'"),
        ] {
            let err = config(&pairs).unwrap_err().to_string();
            assert!(err.contains(needle), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_reported() {
        let c = config(&[("name", "s"), ("connector.class", "x"), ("topcs", "t"), ("header.converter", "a")]).unwrap();
        assert_eq!(
            c.unknown_key_warnings(&[], &[]),
            vec![
                "connector 's': setting 'header.converter' has no effect: header values are read as UTF-8 text, as JSON when they parse as JSON",
                "connector 's': unknown setting 'topcs' is ignored"
            ]
        );
    }
}
