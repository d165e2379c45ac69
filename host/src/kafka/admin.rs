//! A sink connector's consumer group offsets, read and changed the way Connect's offsets endpoints
//! do (`GET/PATCH/DELETE /connectors/{c}/offsets`). Blocking: call from a blocking thread.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::offsets::TopicPartition;
use super::sink_group_id;
use crate::config::WorkerConfig;

/// How long a change waits for the group to empty (members of a just-stopped connector leaving).
const EMPTY_GROUP_WAIT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

fn client_config(worker: &WorkerConfig, connector: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &worker.bootstrap_servers)
        .set("group.id", sink_group_id(connector))
        .set("enable.auto.commit", "false");
    for (key, value) in &worker.consumer.0 {
        if !matches!(key.as_str(), "enable.auto.commit" | "group.id" | "group.instance.id") {
            config.set(key, value);
        }
    }
    config
}

fn consumer(worker: &WorkerConfig, connector: &str) -> Result<BaseConsumer, String> {
    client_config(worker, connector).create().map_err(|e| format!("cannot create a Kafka consumer: {e}"))
}

/// The committed offset of every partition of `topics` that has one, sorted.
pub fn committed(
    worker: &WorkerConfig,
    connector: &str,
    topics: &[String],
) -> Result<Vec<(TopicPartition, i64)>, String> {
    let consumer = consumer(worker, connector)?;
    let metadata = consumer
        .fetch_metadata(None, REQUEST_TIMEOUT)
        .map_err(|e| format!("cannot read the topics from Kafka: {e}"))?;
    let mut list = TopicPartitionList::new();
    for topic in metadata.topics().iter().filter(|t| topics.iter().any(|name| name == t.name())) {
        for partition in topic.partitions() {
            list.add_partition(topic.name(), partition.id());
        }
    }
    if list.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer
        .committed_offsets(list, REQUEST_TIMEOUT)
        .map_err(|e| format!("cannot read the committed offsets of group {}: {e}", sink_group_id(connector)))?;
    let mut out: Vec<(TopicPartition, i64)> = committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(n) => Some(((e.topic().to_string(), e.partition()), n)),
            _ => None,
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Sets (`Some`) or removes (`None`) committed offsets. The group must have no members (the
/// connector is stopped); members that are still leaving are waited for.
pub fn alter(
    worker: &WorkerConfig,
    connector: &str,
    topics: &[String],
    changes: &[(TopicPartition, Option<i64>)],
) -> Result<(), String> {
    let mut target: Vec<(TopicPartition, i64)> = Vec::new();
    if changes.iter().any(|(_, o)| o.is_none()) {
        // Kafka removes one partition's offset only through an admin call librdkafka's Rust
        // binding lacks: delete the group's offsets and commit back the ones that stay.
        target = committed(worker, connector, topics)?;
        target.retain(|(tp, _)| !changes.iter().any(|(c, _)| c == tp));
        delete_group(worker, connector)?;
    }
    for (tp, offset) in changes {
        if let Some(offset) = offset {
            target.retain(|(t, _)| t != tp);
            target.push((tp.clone(), *offset));
        }
    }
    if target.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in &target {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| format!("offset {offset} for {topic}-{partition}: {e}"))?;
    }
    let consumer = consumer(worker, connector)?;
    retry_while_busy(connector, || consumer.commit(&list, CommitMode::Sync))
}

/// Deletes the group and with it every committed offset (`DELETE /connectors/{c}/offsets`).
/// A group that does not exist has nothing to reset: success.
pub fn delete_group(worker: &WorkerConfig, connector: &str) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(worker, connector).create().map_err(|e| format!("cannot create a Kafka admin client: {e}"))?;
    let group = sink_group_id(connector);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let options = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
    retry_while_busy(connector, || {
        let results = runtime.block_on(admin.delete_groups(&[group.as_str()], &options))?;
        match results.into_iter().next() {
            Some(Err((_, RDKafkaErrorCode::GroupIdNotFound))) | Some(Ok(_)) | None => Ok(()),
            Some(Err((_, code))) => Err(KafkaError::AdminOp(code)),
        }
    })
}

/// Runs `op` until it succeeds, or fails for a reason other than the group still having members.
fn retry_while_busy(connector: &str, mut op: impl FnMut() -> Result<(), KafkaError>) -> Result<(), String> {
    let deadline = Instant::now() + EMPTY_GROUP_WAIT;
    let mut delay = Duration::from_millis(100);
    loop {
        let error = match op() {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let busy = matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::NonEmptyGroup
                    | RDKafkaErrorCode::UnknownMemberId
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::RebalanceInProgress
                    | RDKafkaErrorCode::CoordinatorLoadInProgress
                    | RDKafkaErrorCode::NotCoordinator
            )
        );
        if !busy || Instant::now() + delay > deadline {
            let why = if busy { " (the group still has members: are the connector's tasks stopped?)" } else { "" };
            return Err(format!(
                "Kafka refused to change the offsets of group {}: {error}{why}",
                sink_group_id(connector)
            ));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
