//! Sink configuration in the Lenses dialect (`connect.cassandra.*` + KCQL). Pure validation.

use std::time::Duration;

use super::kcql::{self, SinkStatement};
use crate::cassandra::{ConnectionSettings, parse_consistency};
use crate::config::{ConfigError, ConnectorConfig, split_list};

/// The sink's own keys (besides the common connector keys).
pub const SINK_KEYS: &[&str] = &[
    "connect.cassandra.contact.points",
    "connect.cassandra.port",
    "connect.cassandra.key.space",
    "connect.cassandra.username",
    "connect.cassandra.password",
    "connect.cassandra.consistency.level",
    "connect.cassandra.kcql",
    "connect.cassandra.error.policy",
    "connect.cassandra.max.retries",
    "connect.cassandra.retry.interval",
    "connect.cassandra.connect.timeout.ms",
    "connect.cassandra.max.concurrent.requests",
];

/// What to do when Cassandra rejects a write for good (Lenses' `connect.cassandra.error.policy`).
/// Transient failures (timeouts, unavailable, overloaded) are always retried and never reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// Fail the task (default).
    Throw,
    /// Log the record with the reason and go on.
    Noop,
    /// Try again up to `max_retries` times, `interval` apart, then fail the task.
    Retry {
        /// Attempts after the first.
        max_retries: u32,
        /// Pause between attempts.
        interval: Duration,
    },
}

/// A validated sink configuration.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Where Cassandra is.
    pub connection: ConnectionSettings,
    /// Default keyspace of the KCQL targets.
    pub keyspace: String,
    /// The KCQL statements.
    pub statements: Vec<SinkStatement>,
    /// Topics to consume (`topics`).
    pub topics: Vec<String>,
    /// Permanent write failure handling.
    pub write_policy: WritePolicy,
    /// Upper bound on concurrent write requests per task.
    pub max_concurrent_requests: usize,
}

impl SinkConfig {
    /// Validates the sink keys of a connector config. Pure: the table schema is checked when the
    /// task starts (`mapping`), against the live cluster.
    pub fn from_connector(c: &ConnectorConfig) -> Result<Self, ConfigError> {
        let s = &c.settings;
        if s.non_blank("topics.regex").is_some() {
            return Err(ConfigError::invalid(
                "topics.regex",
                "is not supported by this version of the sink; list the topics in 'topics'",
            ));
        }
        let topics = split_list(s.required("topics", "the comma-separated topics to consume")?);
        let keyspace = s.required("connect.cassandra.key.space", "the keyspace of the target tables")?.to_string();
        let kcql_text = s.required("connect.cassandra.kcql", "e.g. INSERT INTO my_table SELECT * FROM my_topic")?;
        let statements = kcql::parse(kcql_text).map_err(|e| ConfigError::invalid("connect.cassandra.kcql", e))?;
        for st in &statements {
            if !topics.contains(&st.topic) {
                return Err(ConfigError::invalid(
                    "connect.cassandra.kcql",
                    format!("reads topic '{}', which is not in 'topics' ({})", st.topic, topics.join(",")),
                ));
            }
        }
        if let Some(orphan) = topics.iter().find(|t| !statements.iter().any(|st| &st.topic == *t)) {
            return Err(ConfigError::invalid(
                "topics",
                format!(
                    "topic '{orphan}' has no KCQL statement in connect.cassandra.kcql, so its records would have nowhere to go"
                ),
            ));
        }
        let credentials = match (s.non_blank("connect.cassandra.username"), s.non_blank("connect.cassandra.password")) {
            (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
            _ => None,
        };
        let consistency = s
            .non_blank("connect.cassandra.consistency.level")
            .map(|v| parse_consistency("connect.cassandra.consistency.level", v))
            .transpose()?;
        let connection = ConnectionSettings {
            contact_points: split_list(s.non_blank("connect.cassandra.contact.points").unwrap_or("localhost")),
            port: s.parse_or("connect.cassandra.port", 9042)?,
            credentials,
            consistency,
            connect_timeout: Duration::from_millis(s.parse_or("connect.cassandra.connect.timeout.ms", 5000)?),
        };
        if connection.contact_points.is_empty() {
            return Err(ConfigError::invalid("connect.cassandra.contact.points", "the list is empty"));
        }
        let write_policy = match s.non_blank("connect.cassandra.error.policy").map(str::to_ascii_uppercase).as_deref() {
            None | Some("THROW") => WritePolicy::Throw,
            Some("NOOP") => WritePolicy::Noop,
            Some("RETRY") => WritePolicy::Retry {
                max_retries: s.parse_or("connect.cassandra.max.retries", 20)?,
                interval: Duration::from_millis(s.parse_or("connect.cassandra.retry.interval", 60_000)?),
            },
            Some(other) => {
                return Err(ConfigError::invalid(
                    "connect.cassandra.error.policy",
                    format!("'{other}' is not one of: NOOP, THROW, RETRY"),
                ));
            }
        };
        let max_concurrent_requests: usize = s.parse_or("connect.cassandra.max.concurrent.requests", 512)?;
        if max_concurrent_requests == 0 {
            return Err(ConfigError::invalid("connect.cassandra.max.concurrent.requests", "must be at least 1"));
        }
        Ok(Self { connection, keyspace, statements, topics, write_policy, max_concurrent_requests })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn connector(extra: &[(&str, &str)]) -> ConnectorConfig {
        let mut pairs = vec![
            ("name", "s"),
            ("connector.class", "CassandraSink"),
            ("topics", "readings"),
            ("connect.cassandra.key.space", "ks"),
            ("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM readings"),
        ];
        pairs.extend_from_slice(extra);
        let settings = Settings(pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        ConnectorConfig::from_settings(settings).unwrap()
    }

    #[test]
    fn defaults() {
        let c = SinkConfig::from_connector(&connector(&[])).unwrap();
        assert_eq!(c.connection.contact_points, vec!["localhost"]);
        assert_eq!(c.connection.port, 9042);
        assert_eq!(c.write_policy, WritePolicy::Throw);
        assert_eq!(c.statements[0].table, "t");
        assert!(connector(&[]).unknown_key_warnings(SINK_KEYS, &[]).is_empty());
    }

    #[test]
    fn retry_policy() {
        let c = SinkConfig::from_connector(&connector(&[
            ("connect.cassandra.error.policy", "retry"),
            ("connect.cassandra.max.retries", "3"),
            ("connect.cassandra.retry.interval", "10"),
        ]))
        .unwrap();
        assert_eq!(c.write_policy, WritePolicy::Retry { max_retries: 3, interval: Duration::from_millis(10) });
    }

    #[test]
    fn errors_name_the_key() {
        for (extra, needle) in [
            (vec![("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM other")], "not in 'topics'"),
            (vec![("topics", "readings,extra")], "'extra' has no KCQL"),
            (vec![("connect.cassandra.kcql", "SELECT")], "connect.cassandra.kcql"),
            (vec![("connect.cassandra.port", "x")], "connect.cassandra.port"),
            (vec![("connect.cassandra.error.policy", "IGNORE")], "connect.cassandra.error.policy"),
            (vec![("connect.cassandra.consistency.level", "SOME")], "connect.cassandra.consistency.level"),
            (vec![("topics.regex", "r.*")], "topics.regex"),
            (vec![("connect.cassandra.key.space", " ")], "connect.cassandra.key.space"),
        ] {
            let err = SinkConfig::from_connector(&connector(&extra)).unwrap_err().to_string();
            assert!(err.contains(needle), "{extra:?}: {err}");
        }
    }
}
