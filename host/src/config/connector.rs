//! The keys every connector shares (`name`, `connector.class`, `tasks.max`, converters, `errors.*`).
//! Connector-specific keys are validated by the connector itself (`connectors::*`).

use super::{ConfigError, Settings};
use crate::pipeline::convert::ConverterConfig;
use crate::wasm::chain::{PredicateSpec, TransformSpec};

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
    "transforms",
    "predicates",
    "task.restart.max.attempts",
    "task.restart.backoff.ms",
];
/// Connect keys accepted for compatibility that have no effect in this version (reported, with why).
pub const INERT_KEYS: &[(&str, &str)] =
    &[("header.converter", "has no effect: header values are read as UTF-8 text, as JSON when they parse as JSON")];
/// Prefixes common to all connectors.
pub const COMMON_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "consumer.override.",
    "producer.override.",
    "transforms.",
    "predicates.",
];

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
    /// `transforms` and `transforms.<alias>.*`, in order.
    pub transforms: Vec<TransformSpec>,
    /// How many times in a row a task that failed for a reason that may pass (Cassandra or Kafka
    /// unavailable) is restarted automatically (`task.restart.max.attempts`; 0 = never, as Connect).
    pub restart_max_attempts: u32,
    /// The wait before the first automatic restart, doubled each time up to a minute
    /// (`task.restart.backoff.ms`).
    pub restart_backoff: std::time::Duration,
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
        let transforms = transform_specs(&settings)?;
        let restart_max_attempts: u32 = settings.parse_or("task.restart.max.attempts", 3)?;
        let backoff_ms: u64 = settings.parse_or("task.restart.backoff.ms", 1000)?;
        if backoff_ms == 0 {
            return Err(ConfigError::invalid("task.restart.backoff.ms", "must be at least 1"));
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
            transforms,
            restart_max_attempts,
            restart_backoff: std::time::Duration::from_millis(backoff_ms),
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

/// Reads `transforms=a,b` and each `transforms.<alias>.type` plus its settings, and the predicates
/// (`predicates=p`, `predicates.p.type`, `transforms.<alias>.predicate`, `transforms.<alias>.negate`).
fn transform_specs(settings: &Settings) -> Result<Vec<TransformSpec>, ConfigError> {
    let names = settings.non_blank("predicates").map(super::split_list).unwrap_or_default();
    let mut predicates: Vec<PredicateSpec> = Vec::with_capacity(names.len());
    for name in names {
        if predicates.iter().any(|p| p.name == name) {
            return Err(ConfigError::invalid("predicates", format!("predicate '{name}' is listed twice")));
        }
        let prefix = format!("predicates.{name}.");
        let own = settings.with_prefix(&prefix);
        let reference = own
            .non_blank("type")
            .ok_or_else(|| ConfigError::missing(format!("{prefix}type"), "the predicate's plugin name (or class)"))?
            .to_string();
        let config = own.0.iter().filter(|(k, _)| *k != "type").map(|(k, v)| (k.clone(), v.clone())).collect();
        predicates.push(PredicateSpec { name, reference, config, negate: false });
    }
    let aliases = settings.non_blank("transforms").map(super::split_list).unwrap_or_default();
    let mut specs: Vec<TransformSpec> = Vec::with_capacity(aliases.len());
    for alias in aliases {
        if specs.iter().any(|s| s.alias == alias) {
            return Err(ConfigError::invalid("transforms", format!("alias '{alias}' is listed twice")));
        }
        let prefix = format!("transforms.{alias}.");
        let own = settings.with_prefix(&prefix);
        let reference = own
            .non_blank("type")
            .ok_or_else(|| {
                ConfigError::missing(format!("{prefix}type"), "the transform's plugin name (or class alias)")
            })?
            .to_string();
        let negate = match own.non_blank("negate") {
            None => None,
            Some(v) if v.trim().eq_ignore_ascii_case("true") => Some(true),
            Some(v) if v.trim().eq_ignore_ascii_case("false") => Some(false),
            Some(v) => {
                return Err(ConfigError::invalid(
                    format!("{prefix}negate"),
                    format!("'{v}' is not a boolean (true or false)"),
                ));
            }
        };
        let predicate = match own.non_blank("predicate") {
            None if negate.is_some() => {
                return Err(ConfigError::invalid(
                    format!("{prefix}negate"),
                    format!("has no effect without {prefix}predicate; set the predicate or remove the key"),
                ));
            }
            None => None,
            Some(name) => {
                let name = name.trim();
                let found = predicates.iter().find(|p| p.name == name).ok_or_else(|| {
                    ConfigError::invalid(
                        format!("{prefix}predicate"),
                        format!(
                            "predicate '{name}' is not defined: list it in 'predicates' and set predicates.{name}.type"
                        ),
                    )
                })?;
                Some(PredicateSpec { negate: negate.unwrap_or(false), ..found.clone() })
            }
        };
        let config = own
            .0
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "type" | "predicate" | "negate"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        specs.push(TransformSpec { alias, reference, config, predicate });
    }
    Ok(specs)
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
    fn transforms_are_read_in_order_with_their_settings() {
        let c = config(&[
            ("name", "s"),
            ("connector.class", "x"),
            ("transforms", "b, a"),
            ("transforms.a.type", "field-edit@0.1.0"),
            ("transforms.a.renames", "x:y"),
            ("transforms.b.type", "keep"),
        ])
        .unwrap();
        let got: Vec<(&str, &str, usize)> =
            c.transforms.iter().map(|t| (t.alias.as_str(), t.reference.as_str(), t.config.len())).collect();
        assert_eq!(got, vec![("b", "keep", 0), ("a", "field-edit@0.1.0", 1)]);
        assert_eq!(c.transforms[1].config, vec![("renames".to_string(), "x:y".to_string())]);
        assert!(c.unknown_key_warnings(&[], &[]).is_empty());
        for (pairs, needle) in [
            (vec![("transforms", "a")], "transforms.a.type"),
            (vec![("transforms", "a,a"), ("transforms.a.type", "k")], "listed twice"),
            (
                vec![("transforms", "a"), ("transforms.a.type", "k"), ("transforms.a.predicate", "p")],
                "predicate 'p' is not defined",
            ),
            (
                vec![("transforms", "a"), ("transforms.a.type", "k"), ("transforms.a.negate", "true")],
                "transforms.a.negate",
            ),
            (
                vec![
                    ("transforms", "a"),
                    ("transforms.a.type", "k"),
                    ("transforms.a.predicate", "p"),
                    ("transforms.a.negate", "yes"),
                    ("predicates", "p"),
                    ("predicates.p.type", "q"),
                ],
                "'yes' is not a boolean",
            ),
            (vec![("predicates", "p")], "predicates.p.type"),
            (vec![("predicates", "p,p"), ("predicates.p.type", "q")], "listed twice"),
        ] {
            let mut all = vec![("name", "s"), ("connector.class", "x")];
            all.extend(pairs);
            let err = config(&all).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn predicates_attach_to_their_transforms() {
        let c = config(&[
            ("name", "s"),
            ("connector.class", "x"),
            ("transforms", "drop,tag"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "tomb"),
            ("transforms.tag.type", "InsertField$Value"),
            ("transforms.tag.static.field", "f"),
            ("transforms.tag.predicate", "orders"),
            ("transforms.tag.negate", "true"),
            ("predicates", "tomb,orders"),
            ("predicates.tomb.type", "RecordIsTombstone"),
            ("predicates.orders.type", "TopicNameMatches"),
            ("predicates.orders.pattern", "orders.*"),
        ])
        .unwrap();
        let p = c.transforms[0].predicate.as_ref().unwrap();
        assert_eq!((p.name.as_str(), p.reference.as_str(), p.negate), ("tomb", "RecordIsTombstone", false));
        let p = c.transforms[1].predicate.as_ref().unwrap();
        assert_eq!((p.name.as_str(), p.negate), ("orders", true));
        assert_eq!(p.config, vec![("pattern".to_string(), "orders.*".to_string())]);
        assert_eq!(c.transforms[1].config, vec![("static.field".to_string(), "f".to_string())]);
        assert!(c.unknown_key_warnings(&[], &[]).is_empty());
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
