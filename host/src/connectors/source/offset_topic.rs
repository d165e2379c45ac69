//! Source offsets in a Kafka topic, in Kafka Connect's layout (key `["<connector>", {partition}]`,
//! value `{offset}`, JSON; a compacted topic, `connect-offsets` by default). Exactly-once sources
//! write their offsets here inside the transaction that carries their records, so both become
//! visible together or not at all. Blocking: call from a blocking thread.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;

use crate::config::WorkerConfig;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Creates the offsets topic (compacted, Connect's 25 partitions) unless it exists; a topic that
/// exists without `cleanup.policy=compact` is an error saying so (its offsets would be deleted).
pub async fn ensure(worker: &WorkerConfig, topic: &str, replication_factor: i32) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> =
        crate::kafka::client_config(worker).create().map_err(|e| format!("cannot create a Kafka admin client: {e}"))?;
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let new = NewTopic::new(topic, 25, TopicReplication::Fixed(replication_factor)).set("cleanup.policy", "compact");
    for result in admin.create_topics(&[new], &options).await.map_err(|e| format!("creating {topic}: {e}"))? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(format!(
                    "creating the offsets topic {topic} (offset.storage.replication.factor={replication_factor}): {code}"
                ));
            }
        }
    }
    let resource = rdkafka::admin::ResourceSpecifier::Topic(topic);
    let configs =
        admin.describe_configs([&resource], &options).await.map_err(|e| format!("describing {topic}: {e}"))?;
    for config in configs.into_iter().flatten() {
        let policy = config.get("cleanup.policy").and_then(|e| e.value.clone()).unwrap_or_default();
        if !policy.split(',').any(|p| p.trim() == "compact") {
            return Err(format!(
                "the offsets topic {topic} has cleanup.policy={policy}: it must be compact, or old offsets are deleted (kafka-configs.sh --alter --entity-type topics --entity-name {topic} --add-config cleanup.policy=compact)"
            ));
        }
    }
    Ok(())
}

/// Writes offsets outside any transaction (`None` removes one): `PATCH`/`DELETE …/offsets` of a
/// stopped connector.
pub async fn write(
    worker: &WorkerConfig,
    topic: &str,
    connector: &str,
    changes: &[(Value, Option<Value>)],
) -> Result<(), String> {
    let producer: rdkafka::producer::FutureProducer = crate::kafka::client_config(worker)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .create()
        .map_err(|e| format!("cannot create a Kafka producer: {e}"))?;
    for (partition, offset) in changes {
        let key = super::offsets::key(connector, partition);
        let value = offset.as_ref().map(|o| serde_json::to_vec(o).expect("JSON values serialize"));
        let mut record = rdkafka::producer::FutureRecord::<Vec<u8>, Vec<u8>>::to(topic).key(&key);
        if let Some(v) = value.as_ref() {
            record = record.payload(v);
        }
        producer.send(record, TIMEOUT).await.map_err(|(e, _)| format!("writing to {topic}: {e}"))?;
    }
    Ok(())
}

/// The committed offsets of `connector` in the topic: every record up to the end, transactions
/// committed only (`read_committed`), the last value of each key (a null value removes it).
pub fn read(worker: &WorkerConfig, topic: &str, connector: &str) -> Result<HashMap<Vec<u8>, Value>, String> {
    let mut config = crate::kafka::client_config(worker);
    config
        .set("group.id", format!("spillway-offsets-reader-{connector}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        // With read_committed, a partition's end is its last stable offset: past it is only
        // what open transactions wrote.
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer = config.create().map_err(|e| format!("cannot create a Kafka consumer: {e}"))?;
    let metadata =
        consumer.fetch_metadata(Some(topic), TIMEOUT).map_err(|e| format!("reading {topic}'s metadata: {e}"))?;
    let partitions: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    let mut pending = std::collections::HashSet::new();
    let mut list = TopicPartitionList::new();
    for p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, *p, TIMEOUT).map_err(|e| format!("reading {topic}: {e}"))?;
        if high > low {
            pending.insert(*p);
            list.add_partition_offset(topic, *p, Offset::Beginning).map_err(|e| e.to_string())?;
        }
    }
    let mut offsets = HashMap::new();
    if pending.is_empty() {
        return Ok(offsets);
    }
    consumer.assign(&list).map_err(|e| format!("reading {topic}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(format!("reading {topic} did not reach its end within 120 s (a transaction left open?)"));
        }
        let message = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
                continue;
            }
            Some(Err(e)) => return Err(format!("reading {topic}: {e}")),
            Some(Ok(m)) => m,
        };
        let Some(key) = message.key() else { continue };
        let Ok(Value::Array(parts)) = serde_json::from_slice::<Value>(key) else { continue };
        if parts.first().and_then(Value::as_str) != Some(connector) {
            continue;
        }
        match message.payload().map(serde_json::from_slice::<Value>) {
            Some(Ok(value)) => {
                offsets.insert(key.to_vec(), value);
            }
            _ => {
                offsets.remove(key);
            }
        }
    }
    Ok(offsets)
}
