//! Kafka clients: consumer construction from worker and connector settings, and the per-partition
//! offset watermarks that decide what may be committed.

pub mod admin;
pub mod dlq;
pub mod offsets;

use rdkafka::ClientConfig;

use crate::config::{ConfigError, Settings, WorkerConfig};

/// The consumer group of a sink connector, as Kafka Connect names it (so lag tools keep working).
pub fn sink_group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

/// Consumer defaults, prefetch limits and the session timeout; overridable with `consumer.*` / `consumer.override.*`. librdkafka's
/// defaults prefetch up to 100,000 messages and 64 MiB per consumer, and pause a full queue for a
/// second; a few MiB with a short pause keep a sink task fed at full speed with a fraction of the
/// memory (measured: 150 → 60 MiB peak RSS, and faster).
const PREFETCH_DEFAULTS: &[(&str, &str)] = &[
    ("queued.max.messages.kbytes", "4096"),
    ("queued.min.messages", "10000"),
    ("fetch.max.bytes", "2097152"),
    ("fetch.queue.backoff.ms", "5"),
    // A task of a worker that died is noticed within 10 s (librdkafka's default is 45 s), so a
    // restarted worker gets its partitions back quickly.
    ("session.timeout.ms", "10000"),
    // A rebalance reaches a member with its next heartbeat: at librdkafka's 3 s, the first task of a
    // connector consumed every partition alone for 3 s before the second one got its share.
    ("heartbeat.interval.ms", "1000"),
];

/// A client configuration with the worker's bootstrap servers and Kafka client security
/// (`security.protocol`, `ssl.*`, `sasl.*`): where every Kafka client the worker creates starts.
pub fn client_config(worker: &WorkerConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &worker.bootstrap_servers);
    for (key, value) in &worker.kafka_client.0 {
        config.set(key, value);
    }
    config
}

/// librdkafka settings for a sink task's consumer: the worker's client security and `consumer.*`,
/// then the connector's `consumer.override.*` (Java security keys translated), with the settings
/// the delivery guarantee depends on forced last.
///
/// Members are dynamic: a stopped task leaves its group at once (a static member would stay until
/// its session times out, and block offset changes meanwhile).
pub fn sink_consumer_config(
    worker: &WorkerConfig,
    connector: &str,
    overrides: &Settings,
    client_id: &str,
) -> Result<ClientConfig, ConfigError> {
    let overrides =
        crate::config::security::kafka_client_settings(&[("consumer.override.", overrides)], false, &mut Vec::new())?;
    let overrides = &overrides;
    let mut config = client_config(worker);
    config.set("group.id", sink_group_id(connector)).set("client.id", client_id).set("auto.offset.reset", "earliest");
    for (key, value) in PREFETCH_DEFAULTS {
        config.set(*key, *value);
    }
    for (key, value) in worker.consumer.0.iter().chain(overrides.0.iter()) {
        config.set(key, value);
    }
    for forced in ["enable.auto.commit", "enable.auto.offset.store"] {
        if overrides.get(forced).or(worker.consumer.get(forced)).is_some_and(|v| v != "false") {
            return Err(ConfigError::invalid(
                format!("consumer.{forced}"),
                "Spillway commits offsets itself, only after Cassandra acknowledged the writes; remove this setting",
            ));
        }
    }
    config.set("enable.auto.commit", "false").set("enable.auto.offset.store", "false");
    Ok(config)
}
