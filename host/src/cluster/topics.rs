//! The cluster's internal topics: created at start when missing (compacted, with the configured
//! partitions and replication), checked when they exist. A topic with settings that would lose
//! the cluster's state is refused with what is wrong and how to fix it.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::config::{ClusterSettings, WorkerConfig};

const TIMEOUT: Duration = Duration::from_secs(30);

/// One internal topic and the keys that configure it.
#[derive(Debug)]
struct Internal<'a> {
    topic: &'a str,
    what: &'a str,
    partitions: i32,
    replication: i32,
    topic_key: &'a str,
    /// `None`: a topic that must have exactly one partition.
    partitions_key: Option<&'a str>,
    replication_key: &'a str,
    /// Topic settings beyond compaction.
    extra: Vec<(&'a str, String)>,
}

/// Creates or checks the config, status and offsets topics.
pub async fn ensure(worker: &WorkerConfig, cluster: &ClusterSettings) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> =
        crate::kafka::client_config(worker).create().map_err(|e| format!("cannot create a Kafka admin client: {e}"))?;
    let topics = [
        Internal {
            topic: &cluster.config_topic,
            what: "config",
            partitions: 1,
            replication: cluster.config_replication_factor,
            topic_key: "config.storage.topic",
            partitions_key: None,
            replication_key: "config.storage.replication.factor",
            extra: Vec::new(),
        },
        Internal {
            topic: &cluster.status_topic,
            what: "status",
            partitions: cluster.status_partitions,
            replication: cluster.status_replication_factor,
            topic_key: "status.storage.topic",
            partitions_key: Some("status.storage.partitions"),
            replication_key: "status.storage.replication.factor",
            extra: Vec::new(),
        },
        Internal {
            topic: &worker.offset_storage_topic,
            what: "offsets",
            partitions: cluster.offset_partitions,
            replication: worker.offset_storage_replication_factor,
            topic_key: "offset.storage.topic",
            partitions_key: Some("offset.storage.partitions"),
            replication_key: "offset.storage.replication.factor",
            extra: Vec::new(),
        },
        Internal {
            topic: &cluster.plugin_topic,
            what: "plugins",
            partitions: 1,
            replication: cluster.config_replication_factor,
            topic_key: "plugin.storage.topic",
            partitions_key: None,
            replication_key: "config.storage.replication.factor",
            // A whole .wasm file is one record.
            extra: vec![("max.message.bytes", plugin_record_max_bytes(worker).to_string())],
        },
    ];
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            let new = NewTopic::new(t.topic, t.partitions, TopicReplication::Fixed(t.replication));
            t.extra.iter().fold(new.set("cleanup.policy", "compact"), |new, (k, v)| new.set(k, v))
        })
        .collect();
    let results =
        admin.create_topics(&new, &options).await.map_err(|e| format!("creating the internal topics: {e}"))?;
    let mut existing = Vec::new();
    for (t, result) in topics.iter().zip(results) {
        match result {
            Ok(_) => tracing::info!(topic = t.topic, partitions = t.partitions, "created the {} topic", t.what),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => existing.push(t),
            Err((_, code)) => {
                let partitions = t.partitions_key.map(|k| format!(", {k}={}", t.partitions)).unwrap_or_default();
                return Err(format!(
                    "cannot create the {} topic '{}' ({}={}{partitions}): {code}",
                    t.what, t.topic, t.replication_key, t.replication
                ));
            }
        }
    }
    // What this worker just created is right; what was there is checked.
    for t in existing {
        check(&admin, &options, t).await?;
    }
    Ok(())
}

/// The largest plugin record: the largest accepted module and room for the record around it.
pub fn plugin_record_max_bytes(worker: &WorkerConfig) -> usize {
    worker.wasm.module_max_bytes.saturating_add(1 << 20).min(i32::MAX as usize)
}

async fn check(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    t: &Internal<'_>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let resource = ResourceSpecifier::Topic(t.topic);
    let configs =
        admin.describe_configs([&resource], options).await.map_err(|e| format!("describing {}: {e}", t.topic))?;
    for config in configs.into_iter().flatten() {
        let policy = config.get("cleanup.policy").and_then(|e| e.value.clone()).unwrap_or_default();
        if !policy.split(',').any(|p| p.trim() == "compact") {
            problems.push(format!(
                "it has cleanup.policy={policy} and must be compact, or the cluster's state is deleted with old segments (fix: kafka-configs.sh --alter --entity-type topics --entity-name {} --add-config cleanup.policy=compact)",
                t.topic
            ));
        }
    }
    if t.partitions_key.is_none() {
        let metadata =
            admin.inner().fetch_metadata(Some(t.topic), TIMEOUT).map_err(|e| format!("reading {}: {e}", t.topic))?;
        let partitions = metadata.topics().first().map_or(0, |m| m.partitions().len());
        if partitions != 1 {
            problems.push(format!(
                "it has {partitions} partitions and must have exactly 1, as its order is the cluster's history (create one with kafka-topics.sh --create --topic <name> --partitions 1 --config cleanup.policy=compact and name it in {})",
                t.topic_key
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!("the {} topic '{}' ({}) cannot be used: {}", t.what, t.topic, t.topic_key, problems.join("; ")))
}
