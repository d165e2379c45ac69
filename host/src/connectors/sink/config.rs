//! Sink configuration: one of the two dialects (Lenses `connect.cassandra.*` + KCQL, or DataStax
//! `contactPoints` + `topic.<t>.<ks>.<table>.*`) plus error handling, batching and the dead letter
//! queue. Pure: the table schema is checked when the task starts, against the live cluster.

use std::time::Duration;

use super::model::TableMapping;
use super::{datastax, lenses};
use crate::cassandra::ConnectionSettings;
use crate::cassandra::tls::{Material, Pem, Store, TlsSettings};
use crate::config::{ConfigError, ConnectorConfig, ErrorTolerance, Settings, split_list};

/// The Lenses connection keys, shared by the sink and the source.
pub const CONNECTION_KEYS: &[&str] = &[
    "connect.cassandra.contact.points",
    "connect.cassandra.port",
    "connect.cassandra.username",
    "connect.cassandra.password",
    "connect.cassandra.ssl.enabled",
    "connect.cassandra.ssl.provider",
    "connect.cassandra.ssl.client.cert.auth",
    "connect.cassandra.trust.store.path",
    "connect.cassandra.trust.store.password",
    "connect.cassandra.trust.store.type",
    "connect.cassandra.key.store.path",
    "connect.cassandra.key.store.password",
    "connect.cassandra.key.store.type",
    "connect.cassandra.ssl.truststore.path",
    "connect.cassandra.ssl.truststore.password",
    "connect.cassandra.ssl.keystore.path",
    "connect.cassandra.ssl.keystore.password",
    "connect.cassandra.ssl.cipher.suites",
    "connect.cassandra.ssl.hostname.verification",
    "connect.cassandra.ssl.openssl.key.cert.chain",
    "connect.cassandra.ssl.openssl.private.key",
    "connect.cassandra.connect.timeout.ms",
];

/// The sink's own keys (both dialects), besides the common connector keys and the connection keys.
pub const SINK_KEYS: &[&str] = &[
    "connect.cassandra.error.policy",
    "connect.cassandra.max.retries",
    "connect.cassandra.retry.interval",
    "connect.cassandra.max.concurrent.requests",
    "connect.cassandra.max.batch.size",
    "connect.cassandra.max.batch.bytes",
    "connect.cassandra.max.pending.records",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.topic.replication.factor",
    "errors.deadletterqueue.context.headers.enable",
];
/// Key prefixes the sink reads.
pub const SINK_PREFIXES: &[&str] = &["topic."];

/// All keys the sink understands, for unknown-key warnings.
pub fn all_keys() -> Vec<&'static str> {
    CONNECTION_KEYS.iter().chain(SINK_KEYS).chain(lenses::KEYS).chain(datastax::KEYS).copied().collect()
}

/// What happens to a record whose write Cassandra rejects for good (transient failures are
/// retried and never get here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// The task fails, with the record and the reason in its trace.
    Fail,
    /// The record is skipped: logged, and sent to the dead letter queue when there is one.
    Skip,
    /// The write is tried again up to `max_retries` times, `interval` apart; then the task fails.
    Retry {
        /// Attempts after the first.
        max_retries: u32,
        /// Pause between attempts.
        interval: Duration,
    },
}

/// The dead letter queue (`errors.deadletterqueue.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    /// Topic.
    pub topic: String,
    /// Replication factor when the topic is created.
    pub replication_factor: i32,
    /// Whether to add Connect's `__connect.errors.*` headers.
    pub context_headers: bool,
}

/// A validated sink configuration.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Where Cassandra is.
    pub connection: ConnectionSettings,
    /// Topic → table mappings.
    pub mappings: Vec<TableMapping>,
    /// Topics to consume (`topics`).
    pub topics: Vec<String>,
    /// Records that cannot be converted or mapped (`errors.tolerance`).
    pub bad_records: ErrorTolerance,
    /// Writes Cassandra rejects.
    pub rejected_writes: WritePolicy,
    /// How long transient write errors are retried (`errors.retry.timeout`); `None` = until they succeed.
    pub retry_timeout: Option<Duration>,
    /// Longest pause between transient retries (`errors.retry.delay.max.ms`).
    pub retry_delay_max: Duration,
    /// Skipped records go here.
    pub dead_letter_queue: Option<DeadLetterQueue>,
    /// Requests (statements or batches) in flight per task.
    pub max_concurrent_requests: usize,
    /// Statements per UNLOGGED batch (one partition per batch).
    pub max_batch_statements: usize,
    /// Approximate bound-value bytes per batch (keep under Cassandra's `batch_size_fail_threshold`).
    pub max_batch_bytes: usize,
    /// Records read and not yet done, per task: polling pauses above it (bounds memory).
    pub max_pending_records: usize,
}

impl SinkConfig {
    /// Validates the sink keys of a connector config.
    pub fn from_connector(c: &ConnectorConfig) -> Result<Self, ConfigError> {
        let s = &c.settings;
        if s.non_blank("topics.regex").is_some() {
            return Err(ConfigError::invalid(
                "topics.regex",
                "is not supported by this version of the sink; list the topics in 'topics'",
            ));
        }
        let topics = split_list(s.required("topics", "the comma-separated topics to consume")?);
        let (is_lenses, is_datastax) = (lenses::is_used(s), datastax::is_used(s));
        let mappings = match (is_lenses, is_datastax) {
            (true, true) => {
                return Err(ConfigError::invalid(
                    "connect.cassandra.kcql",
                    "the config mixes the Lenses dialect (connect.cassandra.kcql) and the DataStax one (topic.*.mapping, contactPoints); use one",
                ));
            }
            (true, false) => lenses::mappings(s, &topics)?,
            (false, true) => datastax::mappings(s, &topics)?,
            (false, false) => {
                return Err(ConfigError::missing(
                    "connect.cassandra.kcql",
                    "a mapping is required: connect.cassandra.kcql (Lenses) or topic.<topic>.<keyspace>.<table>.mapping (DataStax)",
                ));
            }
        };
        let connection = if is_datastax { datastax_connection(s)? } else { lenses_connection(s)? };
        if connection.contact_points.is_empty() {
            return Err(ConfigError::invalid("contact points", "the list is empty"));
        }
        let ignore_errors = match s.non_blank("ignoreErrors").map(str::to_ascii_lowercase).as_deref() {
            None | Some("none") => None,
            Some("all") => Some(true),
            Some("driver") => Some(false),
            Some(other) => {
                return Err(ConfigError::invalid(
                    "ignoreErrors",
                    format!("'{other}' is not one of: None, All, Driver"),
                ));
            }
        };
        let bad_records = if ignore_errors == Some(true) { ErrorTolerance::All } else { c.error_tolerance };
        let rejected_writes =
            match s.non_blank("connect.cassandra.error.policy").map(str::to_ascii_uppercase).as_deref() {
                Some("THROW") => WritePolicy::Fail,
                Some("NOOP") => WritePolicy::Skip,
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
                None if ignore_errors.is_some() => WritePolicy::Skip,
                None => match c.error_tolerance {
                    ErrorTolerance::None => WritePolicy::Fail,
                    ErrorTolerance::All => WritePolicy::Skip,
                },
            };
        let retry_timeout = match s.parse_or::<i64>("errors.retry.timeout", -1)? {
            -1 => None,
            ms if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            ms => {
                return Err(ConfigError::invalid(
                    "errors.retry.timeout",
                    format!("{ms}: must be -1 (no limit) or a number of milliseconds"),
                ));
            }
        };
        let retry_delay_max = Duration::from_millis(s.parse_or("errors.retry.delay.max.ms", 2_000)?.max(1));
        let dead_letter_queue = s
            .non_blank("errors.deadletterqueue.topic.name")
            .map(|topic| -> Result<_, ConfigError> {
                if topics.iter().any(|t| t == topic) {
                    return Err(ConfigError::invalid(
                        "errors.deadletterqueue.topic.name",
                        "must not be one of the topics the sink reads",
                    ));
                }
                Ok(DeadLetterQueue {
                    topic: topic.to_string(),
                    replication_factor: s.parse_or("errors.deadletterqueue.topic.replication.factor", 3)?,
                    context_headers: s.bool_or("errors.deadletterqueue.context.headers.enable", false)?,
                })
            })
            .transpose()?;
        let max_concurrent_requests = positive(
            s,
            if s.get("maxConcurrentRequests").is_some() {
                "maxConcurrentRequests"
            } else {
                "connect.cassandra.max.concurrent.requests"
            },
            512,
        )?;
        let batch_key = if s.get("maxNumberOfRecordsInBatch").is_some() {
            "maxNumberOfRecordsInBatch"
        } else {
            "connect.cassandra.max.batch.size"
        };
        let max_batch_statements = positive(s, batch_key, 32)?;
        let max_batch_bytes = positive(s, "connect.cassandra.max.batch.bytes", 40 * 1024)?;
        let max_pending_records = positive(s, "connect.cassandra.max.pending.records", 8192)?;
        Ok(Self {
            connection,
            mappings,
            topics,
            bad_records,
            rejected_writes,
            retry_timeout,
            retry_delay_max,
            dead_letter_queue,
            max_concurrent_requests,
            max_batch_statements,
            max_batch_bytes,
            max_pending_records,
        })
    }

    /// Whether any mapping may read the record key of a record (tombstone or not), so the key
    /// converter runs for it; keys nobody reads are never converted.
    pub fn needs_key(&self, tombstone: bool) -> bool {
        self.mappings.iter().any(|m| m.needs_key(tombstone))
    }

    /// Whether any mapping reads a record header (DataStax `header.<name>`).
    pub fn reads_headers(&self) -> bool {
        self.mappings.iter().any(TableMapping::reads_headers)
    }
}

fn positive(s: &Settings, key: &str, default: usize) -> Result<usize, ConfigError> {
    let v: usize = s.parse_or(key, default)?;
    if v == 0 {
        return Err(ConfigError::invalid(key, "must be at least 1"));
    }
    Ok(v)
}

/// The names one dialect gives the TLS settings.
struct TlsKeys {
    truststore: &'static [(&'static str, &'static str)],
    keystore: &'static [(&'static str, &'static str)],
    store_types: &'static [&'static str],
    cert_chain: &'static str,
    private_key: &'static str,
    hostname_verification: &'static str,
    cipher_suites: &'static str,
}

/// Reads the TLS settings (paths and passwords; the first key of a pair that is set wins) and
/// opens every store now, so that a wrong path or password is a config error naming its key.
fn tls_settings(s: &Settings, keys: &TlsKeys) -> Result<TlsSettings, ConfigError> {
    let store = |pairs: &[(&str, &str)]| -> Result<Option<Store>, ConfigError> {
        let Some((key, password_key)) = pairs.iter().find(|(k, _)| s.non_blank(k).is_some()) else { return Ok(None) };
        Ok(Some(Store {
            key: key.to_string(),
            material: Material::parse(key, s.non_blank(key).expect("set"))?,
            password: s.get(password_key).map(str::to_string),
        }))
    };
    let pem = |key: &str| -> Result<Option<Pem>, ConfigError> {
        s.non_blank(key).map(|v| Ok(Pem { key: key.to_string(), material: Material::parse(key, v)? })).transpose()
    };
    for key in keys.store_types {
        if let Some(t) = s.non_blank(key)
            && !["JKS", "PKCS12", "PEM"].contains(&t.to_ascii_uppercase().as_str())
        {
            return Err(ConfigError::invalid(*key, format!("'{t}' is not a store type (JKS, PKCS12 or PEM)")));
        }
    }
    let settings = TlsSettings {
        truststore: store(keys.truststore)?,
        keystore: store(keys.keystore)?,
        cert_chain: pem(keys.cert_chain)?,
        private_key: pem(keys.private_key)?,
        hostname_verification: s.bool_or(keys.hostname_verification, true)?,
        cipher_suites: s
            .non_blank(keys.cipher_suites)
            .map(|v| (keys.cipher_suites.to_string(), split_list(v.trim_matches(|c| c == '[' || c == ']')))),
    };
    settings.connector()?;
    Ok(settings)
}

/// `ssl.provider` (DataStax) and `connect.cassandra.ssl.provider` (Lenses): None, JDK or OpenSSL.
/// Both JDK and OpenSSL mean TLS here, done with OpenSSL either way.
fn tls_provider(s: &Settings, key: &str) -> Result<Option<bool>, ConfigError> {
    match s.non_blank(key).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("none") => Ok(Some(false)),
        Some("jdk" | "openssl") => Ok(Some(true)),
        Some(other) => {
            Err(ConfigError::invalid(key, format!("'{other}' is not a TLS provider (None, JDK or OpenSSL)")))
        }
    }
}

pub(crate) fn lenses_connection(s: &Settings) -> Result<ConnectionSettings, ConfigError> {
    let provider = tls_provider(s, "connect.cassandra.ssl.provider")?;
    let tls = if s.bool_or("connect.cassandra.ssl.enabled", false)? && provider != Some(false) {
        Some(tls_settings(
            s,
            &TlsKeys {
                truststore: &[
                    ("connect.cassandra.ssl.truststore.path", "connect.cassandra.ssl.truststore.password"),
                    ("connect.cassandra.trust.store.path", "connect.cassandra.trust.store.password"),
                ],
                keystore: &[
                    ("connect.cassandra.ssl.keystore.path", "connect.cassandra.ssl.keystore.password"),
                    ("connect.cassandra.key.store.path", "connect.cassandra.key.store.password"),
                ],
                store_types: &["connect.cassandra.trust.store.type", "connect.cassandra.key.store.type"],
                cert_chain: "connect.cassandra.ssl.openssl.key.cert.chain",
                private_key: "connect.cassandra.ssl.openssl.private.key",
                hostname_verification: "connect.cassandra.ssl.hostname.verification",
                cipher_suites: "connect.cassandra.ssl.cipher.suites",
            },
        )?)
    } else {
        None
    };
    let credentials = match (s.non_blank("connect.cassandra.username"), s.non_blank("connect.cassandra.password")) {
        (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
        _ => None,
    };
    Ok(ConnectionSettings {
        contact_points: split_list(s.non_blank("connect.cassandra.contact.points").unwrap_or("localhost")),
        port: s.parse_or("connect.cassandra.port", 9042)?,
        local_dc: None,
        credentials,
        connect_timeout: Duration::from_millis(s.parse_or("connect.cassandra.connect.timeout.ms", 5000)?),
        tls,
    })
}

fn datastax_connection(s: &Settings) -> Result<ConnectionSettings, ConfigError> {
    let tls = match tls_provider(s, "ssl.provider")? {
        Some(true) => Some(tls_settings(
            s,
            &TlsKeys {
                truststore: &[("ssl.truststore.path", "ssl.truststore.password")],
                keystore: &[("ssl.keystore.path", "ssl.keystore.password")],
                store_types: &[],
                cert_chain: "ssl.openssl.keyCertChain",
                private_key: "ssl.openssl.privateKey",
                hostname_verification: "ssl.hostnameValidation",
                cipher_suites: "ssl.cipherSuites",
            },
        )?),
        _ => None,
    };
    let credentials = match s.non_blank("auth.provider").map(str::to_ascii_uppercase).as_deref() {
        None | Some("NONE") | Some("PLAIN") => match (s.non_blank("auth.username"), s.non_blank("auth.password")) {
            (Some(u), Some(p)) => Some((u.to_string(), p.to_string())),
            _ => None,
        },
        Some(other) => {
            return Err(ConfigError::invalid(
                "auth.provider",
                format!("'{other}' is not supported; use None or PLAIN"),
            ));
        }
    };
    let contact_points = split_list(s.non_blank("contactPoints").unwrap_or("localhost"));
    let local_dc = s.non_blank("loadBalancing.localDc").map(str::to_string);
    Ok(ConnectionSettings {
        contact_points,
        port: s.parse_or("port", 9042)?,
        local_dc,
        credentials,
        connect_timeout: Duration::from_secs(s.parse_or("queryExecutionTimeout", 30)?.min(30)),
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(pairs: &[(&str, &str)]) -> ConnectorConfig {
        let mut all = vec![("name", "s"), ("connector.class", "CassandraSink"), ("topics", "readings")];
        all.extend_from_slice(pairs);
        ConnectorConfig::from_settings(Settings(all.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
            .unwrap()
    }

    fn lenses(extra: &[(&str, &str)]) -> ConnectorConfig {
        let mut pairs = vec![
            ("connect.cassandra.key.space", "ks"),
            ("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM readings"),
        ];
        pairs.extend_from_slice(extra);
        connector(&pairs)
    }

    #[test]
    fn lenses_defaults() {
        let c = SinkConfig::from_connector(&lenses(&[])).unwrap();
        assert_eq!(c.connection.contact_points, vec!["localhost"]);
        assert_eq!(c.connection.port, 9042);
        assert_eq!(c.rejected_writes, WritePolicy::Fail);
        assert_eq!(c.bad_records, ErrorTolerance::None);
        assert_eq!(c.retry_timeout, None);
        assert_eq!((c.max_batch_statements, c.max_batch_bytes), (32, 40 * 1024));
        assert!(lenses(&[]).unknown_key_warnings(&all_keys(), SINK_PREFIXES).is_empty());
    }

    #[test]
    fn datastax_dialect() {
        let c = SinkConfig::from_connector(&connector(&[
            ("contactPoints", "127.0.0.1"),
            ("loadBalancing.localDc", "datacenter1"),
            ("port", "19042"),
            ("topic.readings.ks.t.mapping", "sensor_id=key, ts=value.ts"),
            ("maxNumberOfRecordsInBatch", "16"),
            ("ignoreErrors", "Driver"),
        ]))
        .unwrap();
        assert_eq!(c.connection.port, 19042);
        assert_eq!(c.connection.local_dc.as_deref(), Some("datacenter1"));
        assert_eq!(c.max_batch_statements, 16);
        assert_eq!(c.rejected_writes, WritePolicy::Skip);
        assert_eq!(c.bad_records, ErrorTolerance::None);
        assert!(c.needs_key(false));
        assert!(!c.reads_headers(), "no mapping reads a header");
    }

    #[test]
    fn a_header_read_by_a_column_or_the_ttl_is_noticed() {
        for mapping in ["id=key, origin=header.origin", "id=key, __ttl=header.ttl"] {
            let c = SinkConfig::from_connector(&connector(&[
                ("contactPoints", "127.0.0.1"),
                ("loadBalancing.localDc", "datacenter1"),
                ("topic.readings.ks.t.mapping", mapping),
            ]))
            .unwrap();
            assert!(c.reads_headers(), "{mapping}");
        }
    }

    #[test]
    fn policies_map_onto_connect_errors() {
        let c = SinkConfig::from_connector(&lenses(&[
            ("connect.cassandra.error.policy", "retry"),
            ("connect.cassandra.max.retries", "3"),
            ("connect.cassandra.retry.interval", "10"),
        ]))
        .unwrap();
        assert_eq!(c.rejected_writes, WritePolicy::Retry { max_retries: 3, interval: Duration::from_millis(10) });
        let c = SinkConfig::from_connector(&lenses(&[
            ("errors.tolerance", "all"),
            ("errors.deadletterqueue.topic.name", "dlq"),
        ]))
        .unwrap();
        assert_eq!(c.rejected_writes, WritePolicy::Skip);
        assert_eq!(
            c.dead_letter_queue,
            Some(DeadLetterQueue { topic: "dlq".into(), replication_factor: 3, context_headers: false })
        );
        let c = SinkConfig::from_connector(&lenses(&[("errors.retry.timeout", "30000")])).unwrap();
        assert_eq!(c.retry_timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn errors_name_the_key() {
        for (extra, needle) in [
            (vec![("connect.cassandra.port", "x")], "connect.cassandra.port"),
            (vec![("connect.cassandra.error.policy", "IGNORE")], "connect.cassandra.error.policy"),
            (vec![("topics.regex", "r.*")], "topics.regex"),
            (
                vec![("connect.cassandra.ssl.enabled", "true"), ("connect.cassandra.trust.store.path", "/nope.jks")],
                "connect.cassandra.trust.store.path': cannot read /nope.jks",
            ),
            (vec![("topic.readings.ks.t.mapping", "a=value.a")], "mixes the Lenses dialect"),
            (vec![("errors.deadletterqueue.topic.name", "readings")], "errors.deadletterqueue.topic.name"),
            (vec![("errors.retry.timeout", "-5")], "errors.retry.timeout"),
            (vec![("connect.cassandra.max.batch.size", "0")], "connect.cassandra.max.batch.size"),
        ] {
            let err = SinkConfig::from_connector(&lenses(&extra)).unwrap_err().to_string();
            assert!(err.contains(needle), "{extra:?}: {err}");
        }
        let err = SinkConfig::from_connector(&connector(&[])).unwrap_err().to_string();
        assert!(err.contains("a mapping is required"), "{err}");
        let err = SinkConfig::from_connector(&connector(&[
            ("contactPoints", "h"),
            ("topic.readings.ks.t.mapping", "a=value.a"),
            ("ssl.provider", "Netty"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("ssl.provider") && err.contains("not a TLS provider"), "{err}");
    }

    #[test]
    fn tls_in_both_dialects() {
        let dir = std::env::temp_dir().join(format!("spillway-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("ca.pem");
        std::fs::write(&pem, crate::cassandra::tls::tests::self_signed("ca").1.to_pem().unwrap()).unwrap();
        let c = SinkConfig::from_connector(&lenses(&[
            ("connect.cassandra.ssl.enabled", "true"),
            ("connect.cassandra.trust.store.path", pem.to_str().unwrap()),
            ("connect.cassandra.ssl.hostname.verification", "false"),
        ]))
        .unwrap();
        let tls = c.connection.tls.expect("TLS on");
        assert_eq!(tls.truststore.map(|t| t.key).as_deref(), Some("connect.cassandra.trust.store.path"));
        assert!(!tls.hostname_verification);
        assert!(SinkConfig::from_connector(&lenses(&[])).unwrap().connection.tls.is_none());
        let c = SinkConfig::from_connector(&connector(&[
            ("contactPoints", "h"),
            ("topic.readings.ks.t.mapping", "a=value.a"),
            ("ssl.provider", "JDK"),
            ("ssl.truststore.path", pem.to_str().unwrap()),
            ("ssl.cipherSuites", "[TLS_AES_128_GCM_SHA256]"),
        ]))
        .unwrap();
        let tls = c.connection.tls.expect("TLS on");
        assert!(tls.hostname_verification);
        assert_eq!(tls.cipher_suites.map(|c| c.1), Some(vec!["TLS_AES_128_GCM_SHA256".to_string()]));
        let err = SinkConfig::from_connector(&connector(&[
            ("contactPoints", "h"),
            ("topic.readings.ks.t.mapping", "a=value.a"),
            ("ssl.provider", "OpenSSL"),
            ("ssl.openssl.keyCertChain", pem.to_str().unwrap()),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("ssl.openssl.keyCertChain") && err.contains("set both"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
