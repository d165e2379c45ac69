//! The worker's own settings (`worker.properties`), under Kafka Connect's key names.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::security::{is_kafka_security_key, kafka_client_settings};
use super::{ConfigError, Settings};
use crate::pipeline::convert::ConverterConfig;
use crate::rest::security::{HTTPS_INERT_KEYS, HTTPS_KEYS, HTTPS_PREFIX, RestSecurity};

/// Keys the worker uses. `consumer.*`, `producer.*` and the converters' own `*.converter.*` keys are
/// passed through, `ssl.*` and `sasl.*` are Kafka client security (checked with librdkafka), and
/// `listeners.https.` takes the keys of [`HTTPS_KEYS`]; anything else is reported as unknown (never
/// silently ignored).
pub const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "listeners",
    "rest.port",
    "rest.host.name",
    "rest.basic.auth.users.file",
    "rest.extension.classes",
    "security.protocol",
    "offset.flush.interval.ms",
    "offset.storage.file.filename",
    "offset.storage.topic",
    "offset.storage.replication.factor",
    "exactly.once.source.support",
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
    ("offset.flush.timeout.ms", "has no effect: a stopping task waits for its in-flight writes instead"),
    ("header.converter", "has no effect: header values are read as UTF-8 text, as JSON when they parse as JSON"),
];
/// Keys of distributed mode (`spillway worker`); a standalone worker reports each as having no
/// effect.
pub const DISTRIBUTED_KEYS: &[&str] = &[
    "group.id",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "config.storage.topic",
    "config.storage.replication.factor",
    "offset.storage.partitions",
    "status.storage.topic",
    "status.storage.replication.factor",
    "status.storage.partitions",
    "plugin.storage.topic",
    "session.timeout.ms",
    "heartbeat.interval.ms",
];
const PASS_THROUGH_PREFIXES: &[&str] =
    &["consumer.", "producer.", "key.converter.", "value.converter.", "header.converter.", "ssl.", "sasl."];

/// Typed worker configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Kafka bootstrap servers (`bootstrap.servers`).
    pub bootstrap_servers: String,
    /// Cluster name in distributed mode (`group.id`).
    pub group_id: Option<String>,
    /// Where the REST API listens (`listeners`, or the legacy `rest.host.name`/`rest.port`); whether
    /// it speaks HTTPS is in `rest_security`.
    pub listeners: Vec<SocketAddr>,
    /// Who may use the REST API: HTTPS (`listeners=https://…`, `listeners.https.ssl.*`) and basic
    /// auth (`rest.basic.auth.users.file`). Serve with [`crate::rest::security::serve`].
    pub rest_security: Arc<RestSecurity>,
    /// librdkafka settings every Kafka client of the worker starts from: the top-level
    /// `security.protocol`, `ssl.*` and `sasl.*` keys in librdkafka's terms
    /// (see [`kafka_client_settings`]). [`crate::kafka::client_config`] applies them.
    pub kafka_client: Settings,
    /// How often sink tasks commit their acknowledged offsets (`offset.flush.interval.ms`).
    pub offset_flush_interval: Duration,
    /// Default key converter (`key.converter` + `key.converter.*`).
    pub key_converter: ConverterConfig,
    /// Default value converter (`value.converter` + `value.converter.*`).
    pub value_converter: ConverterConfig,
    /// Standalone source offsets file (`offset.storage.file.filename`).
    pub offset_storage_file: Option<PathBuf>,
    /// The offsets topic of exactly-once sources (`offset.storage.topic`).
    pub offset_storage_topic: String,
    /// Its replication factor when created (`offset.storage.replication.factor`).
    pub offset_storage_replication_factor: i32,
    /// Whether sources that request exactly-once get it (`exactly.once.source.support=enabled`).
    pub exactly_once_source: bool,
    /// librdkafka settings for every consumer: `kafka_client` overridden by `consumer.*` (prefix
    /// removed, Java security keys translated).
    pub consumer: Settings,
    /// librdkafka settings for every producer: `kafka_client` overridden by `producer.*` (prefix
    /// removed, Java security keys translated).
    pub producer: Settings,
    /// The plugin runtime: `plugin.path` and the sandbox's limits (`wasm.*`).
    pub wasm: crate::wasm::WasmSettings,
    /// Distributed mode's settings (`spillway worker`); `None` for a standalone worker.
    pub cluster: Option<ClusterSettings>,
    /// Non-fatal findings (unknown keys) for the caller to log.
    pub warnings: Vec<String>,
}

/// The settings of a distributed worker: its cluster, the internal topics, how fast a dead worker
/// is noticed, and the address the others know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The cluster's name, the Kafka consumer group its workers join (`group.id`).
    pub group_id: String,
    /// Connector configs, target states, assignments (`config.storage.topic`, one partition).
    pub config_topic: String,
    /// `config.storage.replication.factor`.
    pub config_replication_factor: i32,
    /// Task states (`status.storage.topic`).
    pub status_topic: String,
    /// `status.storage.replication.factor`.
    pub status_replication_factor: i32,
    /// `status.storage.partitions`.
    pub status_partitions: i32,
    /// `offset.storage.partitions` (the offsets topic is `offset_storage_topic`).
    pub offset_partitions: i32,
    /// Plugins uploaded with `PUT /plugins/{name}`, for every worker (`plugin.storage.topic`).
    pub plugin_topic: String,
    /// A worker silent this long has left the cluster (`session.timeout.ms`).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// The host the other workers and clients reach this one's REST API at
    /// (`rest.advertised.host.name`; default: the listener's).
    pub advertised_host: Option<String>,
    /// Its port (`rest.advertised.port`; default: the listener's bound port).
    pub advertised_port: Option<u16>,
}

impl ClusterSettings {
    fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let group_id = s
            .non_blank("group.id")
            .ok_or_else(|| ConfigError::missing("group.id", "a distributed worker joins the cluster of this name"))?;
        let positive = |key: &str, default: i64| -> Result<i64, ConfigError> {
            let value: i64 = s.parse_or(key, default)?;
            if value < 1 {
                return Err(ConfigError::invalid(key, format!("{value} is not a positive number")));
            }
            Ok(value)
        };
        let session_ms = positive("session.timeout.ms", 10_000)?;
        let heartbeat_ms = positive("heartbeat.interval.ms", 1_000)?;
        if heartbeat_ms >= session_ms {
            return Err(ConfigError::invalid(
                "heartbeat.interval.ms",
                format!("{heartbeat_ms} must be lower than session.timeout.ms ({session_ms})"),
            ));
        }
        Ok(Self {
            group_id: group_id.to_string(),
            config_topic: s.non_blank("config.storage.topic").unwrap_or("connect-configs").to_string(),
            config_replication_factor: positive("config.storage.replication.factor", 3)? as i32,
            status_topic: s.non_blank("status.storage.topic").unwrap_or("connect-status").to_string(),
            status_replication_factor: positive("status.storage.replication.factor", 3)? as i32,
            status_partitions: positive("status.storage.partitions", 5)? as i32,
            offset_partitions: positive("offset.storage.partitions", 25)? as i32,
            plugin_topic: s.non_blank("plugin.storage.topic").unwrap_or("spillway-plugins").to_string(),
            session_timeout: Duration::from_millis(session_ms as u64),
            heartbeat_interval: Duration::from_millis(heartbeat_ms as u64),
            advertised_host: s.non_blank("rest.advertised.host.name").map(str::to_string),
            advertised_port: match s.non_blank("rest.advertised.port") {
                None => None,
                Some(_) => Some(s.parse_or("rest.advertised.port", 0u16)?),
            },
        })
    }
}

impl WorkerConfig {
    /// Validates worker settings. Opens no connection; reads the key and trust stores and the REST
    /// users file the settings name, so their errors show now, naming the key.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        Self::parse(s, false)
    }

    /// Validates the settings of a distributed worker (`spillway worker`): `group.id` is required
    /// and the cluster keys take effect.
    pub fn distributed(s: &Settings) -> Result<Self, ConfigError> {
        Self::parse(s, true)
    }

    fn parse(s: &Settings, distributed: bool) -> Result<Self, ConfigError> {
        let cluster = if distributed { Some(ClusterSettings::from_settings(s)?) } else { None };
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
        let rest_security = RestSecurity::from_settings(s)?;
        let https_keys: Vec<String> =
            HTTPS_KEYS.iter().chain(HTTPS_INERT_KEYS).map(|k| format!("{HTTPS_PREFIX}{k}")).collect();
        let inert: Vec<&str> = INERT_KEYS.iter().map(|(k, _)| *k).collect();
        let known: Vec<&str> = KNOWN_KEYS
            .iter()
            .copied()
            .chain(inert)
            .chain(DISTRIBUTED_KEYS.iter().copied())
            .chain(https_keys.iter().map(String::as_str))
            .collect();
        let mut warnings: Vec<String> = INERT_KEYS
            .iter()
            .filter(|(k, _)| s.get(k).is_some())
            .map(|(k, why)| format!("worker setting '{k}' {why}"))
            .collect();
        if !distributed {
            warnings.extend(DISTRIBUTED_KEYS.iter().filter(|k| s.get(k).is_some()).map(|k| {
                format!(
                    "worker setting '{k}' is for distributed mode (spillway worker); a standalone worker has no cluster"
                )
            }));
        }
        for key in s.0.keys().filter(|k| k.starts_with(HTTPS_PREFIX)) {
            if !rest_security.is_https() {
                warnings.push(format!("worker setting '{key}' has no effect: no listener is https"));
            } else if HTTPS_INERT_KEYS.iter().any(|inert| key.strip_prefix(HTTPS_PREFIX) == Some(inert)) {
                warnings.push(format!("worker setting '{key}' is Java-specific and has no effect"));
            }
        }
        warnings.extend(
            s.unknown_keys(&known, PASS_THROUGH_PREFIXES)
                .into_iter()
                .map(|k| format!("unknown worker setting '{k}' is ignored")),
        );
        // Every client gets the top-level security keys; `consumer.*`/`producer.*` override them
        // (Connect gives the top-level ones to its own clients only, so files repeat them per prefix).
        let security = Settings(
            s.0.iter().filter(|(k, _)| is_kafka_security_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        let kafka_client = kafka_client_settings(&[("", &security)], true, &mut warnings)?;
        let consumer =
            kafka_client_settings(&[("", &security), ("consumer.", &s.with_prefix("consumer."))], true, &mut warnings)?;
        let producer =
            kafka_client_settings(&[("", &security), ("producer.", &s.with_prefix("producer."))], true, &mut warnings)?;
        let mut seen = std::collections::HashSet::new();
        warnings.retain(|w| seen.insert(w.clone()));
        Ok(Self {
            bootstrap_servers,
            group_id: s.non_blank("group.id").map(str::to_string),
            listeners,
            rest_security: Arc::new(rest_security),
            kafka_client,
            offset_flush_interval: Duration::from_millis(flush_ms),
            key_converter: ConverterConfig::from_settings(s, "key.converter")?,
            value_converter: ConverterConfig::from_settings(s, "value.converter")?,
            offset_storage_file: s.non_blank("offset.storage.file.filename").map(PathBuf::from),
            offset_storage_topic: s.non_blank("offset.storage.topic").unwrap_or("connect-offsets").to_string(),
            offset_storage_replication_factor: s.parse_or("offset.storage.replication.factor", 3)?,
            exactly_once_source: match s
                .non_blank("exactly.once.source.support")
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("disabled" | "preparing") => false,
                Some("enabled") => true,
                Some(other) => {
                    return Err(ConfigError::invalid(
                        "exactly.once.source.support",
                        format!("'{other}' is not one of: disabled, preparing, enabled"),
                    ));
                }
            },
            consumer,
            producer,
            wasm: crate::wasm::WasmSettings::from_settings(s)?,
            cluster,
            warnings,
        })
    }
}

/// `http://host:port` or `https://host:port`; an empty host means every interface, as in Connect.
/// The scheme is [`RestSecurity`]'s business.
fn parse_listener(key: &str, listener: &str) -> Result<SocketAddr, ConfigError> {
    let Some((scheme, rest)) = listener.split_once("://") else {
        return Err(ConfigError::invalid(key, format!("'{listener}' is not of the form http://host:port")));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(ConfigError::invalid(key, format!("'{listener}': a listener is http:// or https://")));
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
                "worker setting 'group.id' is for distributed mode (spillway worker); a standalone worker has no cluster",
                "unknown worker setting 'typo.key' is ignored"
            ]
        );
        assert!(w.cluster.is_none());
        let legacy = WorkerConfig::from_settings(&settings("rest.host.name=127.0.0.1\nrest.port=9999\n")).unwrap();
        assert_eq!(legacy.listeners, vec!["127.0.0.1:9999".parse().unwrap()]);
    }

    #[test]
    fn a_distributed_worker_needs_a_group_and_reads_the_cluster_keys() {
        let missing = WorkerConfig::distributed(&settings("bootstrap.servers=k:9092\n")).unwrap_err();
        assert!(missing.to_string().contains("group.id"), "{missing}");
        let w = WorkerConfig::distributed(&settings(
            "group.id=g\nconfig.storage.topic=cfg\nsession.timeout.ms=6000\nrest.advertised.host.name=w1\nrest.advertised.port=9000\n",
        ))
        .unwrap();
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
        let cluster = w.cluster.unwrap();
        assert_eq!((cluster.group_id.as_str(), cluster.config_topic.as_str()), ("g", "cfg"));
        assert_eq!((cluster.status_topic.as_str(), cluster.status_partitions), ("connect-status", 5));
        assert_eq!(cluster.session_timeout, Duration::from_secs(6));
        assert_eq!((cluster.advertised_host.as_deref(), cluster.advertised_port), (Some("w1"), Some(9000)));
        let slow_heartbeat = WorkerConfig::distributed(&settings("group.id=g\nheartbeat.interval.ms=20000\n"));
        assert!(slow_heartbeat.unwrap_err().to_string().contains("heartbeat.interval.ms"));
    }

    #[test]
    fn https_listeners_and_basic_auth_build_the_rest_security() {
        let dir = std::env::temp_dir().join(format!("spillway-worker-https-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, cert) = crate::cassandra::tls::tests::self_signed("localhost");
        let mut pem = key.private_key_to_pem_pkcs8().unwrap();
        pem.extend(cert.to_pem().unwrap());
        std::fs::write(dir.join("rest.pem"), pem).unwrap();
        std::fs::write(dir.join("users"), "admin: secret\n").unwrap();
        let w = WorkerConfig::from_settings(&settings(&format!(
            "listeners=https://127.0.0.1:18443\n\
             listeners.https.ssl.keystore.location={dir}/rest.pem\n\
             listeners.https.ssl.keystore.type=PEM\n\
             listeners.https.ssl.client.auth=none\n\
             listeners.https.ssl.protocol=TLSv1.3\n\
             listeners.https.ssl.nonsense=1\n\
             rest.basic.auth.users.file={dir}/users\n\
             rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension\n",
            dir = dir.display()
        )))
        .unwrap();
        assert_eq!(w.listeners, vec!["127.0.0.1:18443".parse().unwrap()]);
        assert!(w.rest_security.is_https() && w.rest_security.requires_credentials());
        assert_eq!(
            w.warnings,
            vec![
                "worker setting 'listeners.https.ssl.protocol' is Java-specific and has no effect",
                "unknown worker setting 'listeners.https.ssl.nonsense' is ignored",
            ]
        );
        let plain = WorkerConfig::from_settings(&settings("listeners.https.ssl.keystore.location=/x\n")).unwrap();
        assert!(!plain.rest_security.is_https() && !plain.rest_security.requires_credentials());
        assert_eq!(
            plain.warnings,
            vec!["worker setting 'listeners.https.ssl.keystore.location' has no effect: no listener is https"]
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn kafka_client_security_reaches_every_client() {
        let w = WorkerConfig::from_settings(&settings(
            "security.protocol=SASL_PLAINTEXT\n\
             sasl.mechanism=SCRAM-SHA-256\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n  username=\"connect\" password=\"connect-secret\";\n\
             consumer.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"reader\" password=\"r\";\n\
             consumer.ssl.provider=SunJSSE\n",
        ))
        .unwrap();
        assert_eq!(w.kafka_client.get("security.protocol"), Some("sasl_plaintext"));
        assert_eq!(w.kafka_client.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
        assert_eq!(w.kafka_client.get("sasl.username"), Some("connect"));
        assert_eq!(w.kafka_client.get("sasl.password"), Some("connect-secret"));
        assert_eq!(w.producer.get("sasl.username"), Some("connect"), "producers get the top-level keys");
        assert_eq!(w.consumer.get("sasl.username"), Some("reader"), "consumer.* overrides them");
        assert_eq!(w.consumer.get("security.protocol"), Some("sasl_plaintext"));
        assert!(w.consumer.get("sasl.jaas.config").is_none() && w.consumer.get("ssl.provider").is_none());
        assert_eq!(w.warnings, vec!["Kafka client setting 'consumer.ssl.provider' is Java-specific"]);
        assert!(!format!("{w:?}").contains("connect-secret"), "no password in Debug output");
        let config = crate::kafka::client_config(&w);
        assert_eq!(config.get("sasl.username"), Some("connect"));
        assert_eq!(config.get("bootstrap.servers"), Some("localhost:9092"));
        let consumer = crate::kafka::sink_consumer_config(
            &w,
            "c",
            &Settings::from_pairs(&[(
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"own\" password=\"o\";",
            )]),
            "c-0",
        )
        .unwrap();
        assert_eq!(consumer.get("sasl.username"), Some("own"), "a connector's consumer.override.* wins");
    }

    #[test]
    fn kafka_client_security_mistakes_name_the_key() {
        for (text, needle) in [
            ("security.protocol=SASL_SSL\nsasl.jaas.config=x required a=b;", "'sasl.jaas.config'"),
            ("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN", "'sasl.jaas.config'"),
            ("consumer.security.protocol=SASL_SSL\nconsumer.sasl.mechanism=PLAIN", "'consumer.sasl.jaas.config'"),
            ("security.protocol=SASL_SSL", "'sasl.mechanism'"),
            ("security.protocol=SSL\nssl.truststore.location=/nonexistent/ts.jks", "'ssl.truststore.location'"),
            ("producer.security.protocol=bogus", "'producer.security.protocol'"),
        ] {
            let err = WorkerConfig::from_settings(&settings(text)).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, needle) in [
            ("listeners=127.0.0.1:8083", "listeners"),
            ("listeners=http://127.0.0.1:x", "bad port"),
            ("listeners=ftp://a:1", "http:// or https://"),
            ("offset.flush.interval.ms=0", "offset.flush.interval.ms"),
            ("offset.flush.interval.ms=soon", "offset.flush.interval.ms"),
        ] {
            let err = WorkerConfig::from_settings(&settings(text)).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
