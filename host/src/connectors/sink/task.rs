//! A sink task: poll → convert → map → write → commit, at least once.
//!
//! Writes are pipelined: up to `max_concurrent_requests` records are in flight while polling goes on,
//! so one slow request never stalls the rest. Offsets advance only through [`Watermarks`]: a record
//! is acknowledged when Cassandra acknowledged all of its rows (or the error policy took it), and a
//! partition's offset is committed only up to its lowest unacknowledged record.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use scylla::client::session::Session;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::config::{SinkConfig, WritePolicy};
use super::mapping::{BoundRow, TableWriter};
use crate::cassandra::{self, CassandraError};
use crate::config::{ConfigError, ConnectorConfig, ErrorTolerance, WorkerConfig};
use crate::kafka::offsets::{TopicPartition, Watermarks};
use crate::kafka::sink_consumer_config;
use crate::pipeline::convert::Converter;
use crate::pipeline::record::SinkRecord;

/// Why a sink task stopped with an error (shown as the task's trace).
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Configuration rejected.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// Cassandra could not be used (connect, schema, prepare).
    #[error("Cassandra: {0}")]
    Cassandra(#[from] CassandraError),
    /// Kafka could not be used.
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A record could not be converted or mapped and `errors.tolerance=none`.
    #[error("record {coordinates} could not be processed (errors.tolerance=none): {reason}")]
    BadRecord {
        /// `topic-partition@offset`.
        coordinates: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Cassandra rejected a write for good and the error policy says fail.
    #[error("writing record {coordinates} failed: {reason}")]
    WriteFailed {
        /// `topic-partition@offset`.
        coordinates: String,
        /// Cassandra's answer.
        reason: String,
    },
}

/// The outcome of one record's writes.
enum WriteResult {
    Done,
    Failed { target: String, error: CassandraError },
    Cancelled,
}

struct Outcome {
    topic: String,
    partition: i32,
    offset: i64,
    result: WriteResult,
}

/// How long a stopping task waits for its in-flight writes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

type WriteFuture = Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>;

/// Commits what the watermarks allow for partitions being revoked, then forgets them: their
/// records still in flight will be redelivered to the partition's next owner.
struct SinkContext {
    watermarks: Arc<Mutex<Watermarks>>,
    task: String,
}

impl ClientContext for SinkContext {}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else { return };
        let mut w = lock(&self.watermarks);
        let revoked: Vec<TopicPartition> =
            revoked.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
        let offsets: Vec<_> = w.committable().into_iter().filter(|(tp, _)| revoked.contains(tp)).collect();
        if !offsets.is_empty() {
            match consumer.commit(&to_list(&offsets), CommitMode::Sync) {
                Ok(()) => debug!(task = %self.task, ?offsets, "committed before revocation"),
                Err(error) => {
                    warn!(task = %self.task, %error, "commit before revocation failed; the records will be redelivered")
                }
            }
        }
        for (topic, partition) in &revoked {
            w.forget(topic, *partition);
        }
        info!(task = %self.task, partitions = ?revoked, "partitions revoked");
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            let partitions: Vec<_> =
                assigned.elements().iter().map(|e| format!("{}-{}", e.topic(), e.partition())).collect();
            info!(task = %self.task, ?partitions, "partitions assigned");
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(error) = result {
            warn!(task = %self.task, %error, "offset commit failed; it will be repeated");
            lock(&self.watermarks).reset_committed();
        }
    }
}

fn lock(w: &Mutex<Watermarks>) -> std::sync::MutexGuard<'_, Watermarks> {
    w.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn to_list(offsets: &[(TopicPartition, i64)]) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        // Offsets come from records we read, so they are valid; add_partition_offset cannot fail for them.
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*offset));
    }
    list
}

/// Everything a sink task needs; `run` does the work.
#[derive(Debug)]
pub struct SinkTask {
    /// `<connector>-<task id>`, for logs.
    pub name: String,
    connector: ConnectorConfig,
    config: SinkConfig,
    worker: Arc<WorkerConfig>,
    value_converter: Converter,
}

impl SinkTask {
    /// Validates and assembles a task (pure; connections open in `run`).
    pub fn new(worker: Arc<WorkerConfig>, connector: ConnectorConfig, task_id: u32) -> Result<Self, ConfigError> {
        let config = SinkConfig::from_connector(&connector)?;
        let converter_config = connector.value_converter.as_ref().unwrap_or(&worker.value_converter);
        let value_converter = Converter::build(converter_config, "value.converter")?;
        Ok(Self { name: format!("{}-{task_id}", connector.name), connector, config, worker, value_converter })
    }

    /// Runs until `shutdown` (then drains in-flight writes and commits) or a fatal error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), TaskError> {
        let Some(session) = connect_with_retry(&self.config, &self.name, &shutdown).await? else { return Ok(()) };
        let session = Arc::new(session);
        let mut writers: HashMap<String, Vec<Arc<TableWriter>>> = HashMap::new();
        for st in &self.config.statements {
            let writer =
                TableWriter::prepare(&session, &self.config.keyspace, st, self.config.connection.consistency).await?;
            info!(task = %self.name, topic = %st.topic, table = %writer.target, "mapping ready");
            writers.entry(st.topic.clone()).or_default().push(Arc::new(writer));
        }

        let watermarks = Arc::new(Mutex::new(Watermarks::default()));
        let context = SinkContext { watermarks: watermarks.clone(), task: self.name.clone() };
        let overrides = self.connector.settings.with_prefix("consumer.override.");
        let consumer: StreamConsumer<SinkContext> =
            sink_consumer_config(&self.worker, &self.connector.name, &overrides, &self.name)?
                .set_log_level(RDKafkaLogLevel::Warning)
                .create_with_context(context)?;
        let topics: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        info!(task = %self.name, ?topics, "sink task started");

        let mut in_flight: FuturesUnordered<WriteFuture> = FuturesUnordered::new();
        let mut flush = tokio::time::interval(self.worker.offset_flush_interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break Ok(()),
                Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Err(e) = self.settle(outcome, &watermarks) { break Err(e) }
                }
                _ = flush.tick() => self.commit(&consumer, &watermarks, CommitMode::Async),
                message = consumer.recv(), if in_flight.len() < self.config.max_concurrent_requests => {
                    let record = SinkRecord::from_message(&message?);
                    let (topic, partition, offset) = (record.topic.clone(), record.partition, record.offset);
                    lock(&watermarks).track(&topic, partition, offset);
                    match self.process(record, &writers, &session, &shutdown) {
                        Ok(Some(write)) => in_flight.push(write),
                        // Skipped by errors.tolerance=all (and logged): done with it.
                        Ok(None) => lock(&watermarks).ack(&topic, partition, offset),
                        Err(e) => break Err(e),
                    }
                }
            }
        };
        // Let in-flight writes finish (on shutdown they stop retrying at once), so that the final
        // commit covers every record that made it; on failure, bounded by a deadline.
        let drain = async {
            while let Some(outcome) = in_flight.next().await {
                if let Err(e) = self.settle(outcome, &watermarks) {
                    warn!(task = %self.name, error = %e, "write failed while stopping; it will be redelivered");
                }
            }
        };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            warn!(task = %self.name, "in-flight writes did not finish in time; they will be redelivered");
        }
        self.commit(&consumer, &watermarks, CommitMode::Sync);
        info!(task = %self.name, ok = result.is_ok(), "sink task stopped");
        result
    }

    /// Converts and binds one record; returns its write, or `None` when the error policy skipped it.
    fn process(
        &self,
        record: SinkRecord,
        writers: &HashMap<String, Vec<Arc<TableWriter>>>,
        session: &Arc<Session>,
        shutdown: &CancellationToken,
    ) -> Result<Option<WriteFuture>, TaskError> {
        let rows = self.bind(&record, writers);
        let rows = match rows {
            Ok(rows) => rows,
            Err(reason) => return self.reject(&record, reason).map(|()| None),
        };
        let (session, policy, shutdown) = (session.clone(), self.config.write_policy, shutdown.clone());
        let (topic, partition, offset) = (record.topic, record.partition, record.offset);
        Ok(Some(Box::pin(async move {
            let writes =
                rows.into_iter().map(|(writer, row)| {
                    let (session, shutdown) = (session.clone(), shutdown.clone());
                    async move {
                        (writer.target.clone(), write_with_retry(&session, &writer, &row, policy, &shutdown).await)
                    }
                });
            let mut result = WriteResult::Done;
            for (target, r) in futures::future::join_all(writes).await {
                match r {
                    Ok(true) => {}
                    Ok(false) => result = WriteResult::Cancelled,
                    Err(error) => result = WriteResult::Failed { target, error },
                }
            }
            Outcome { topic, partition, offset, result }
        })))
    }

    fn bind(
        &self,
        record: &SinkRecord,
        writers: &HashMap<String, Vec<Arc<TableWriter>>>,
    ) -> Result<Vec<(Arc<TableWriter>, BoundRow)>, String> {
        let value =
            self.value_converter.to_value(record.value.as_deref()).map_err(|e| e.to_string())?.ok_or_else(|| {
                "the record value is null (a tombstone) and deletes are not enabled for this sink".to_string()
            })?;
        let micros = record.timestamp_ms.filter(|t| *t >= 0).map_or_else(now_micros, |ms| ms.saturating_mul(1000));
        let targets = writers.get(&record.topic).map(Vec::as_slice).unwrap_or_default();
        targets.iter().map(|w| w.bind(&value, micros).map(|row| (w.clone(), row))).collect()
    }

    /// Applies `errors.tolerance` to a record that could not be converted or mapped.
    fn reject(&self, record: &SinkRecord, reason: String) -> Result<(), TaskError> {
        let coordinates = record.coordinates();
        match self.connector.error_tolerance {
            ErrorTolerance::None => Err(TaskError::BadRecord { coordinates, reason }),
            ErrorTolerance::All => {
                if self.connector.errors_log_include_messages {
                    let value = record.value.as_deref().map(String::from_utf8_lossy);
                    warn!(task = %self.name, record = %coordinates, %reason, ?value, "record skipped (errors.tolerance=all)");
                } else {
                    warn!(task = %self.name, record = %coordinates, %reason, "record skipped (errors.tolerance=all)");
                }
                Ok(())
            }
        }
    }

    /// Records a finished write in the watermarks, or fails the task per the write policy.
    fn settle(&self, outcome: Outcome, watermarks: &Mutex<Watermarks>) -> Result<(), TaskError> {
        let coordinates = format!("{}-{}@{}", outcome.topic, outcome.partition, outcome.offset);
        match outcome.result {
            WriteResult::Done => {}
            WriteResult::Cancelled => return Ok(()),
            WriteResult::Failed { target, error } => match self.config.write_policy {
                WritePolicy::Noop => {
                    warn!(task = %self.name, record = %coordinates, %target, %error, "write rejected; record skipped (connect.cassandra.error.policy=NOOP)")
                }
                WritePolicy::Throw | WritePolicy::Retry { .. } => {
                    return Err(TaskError::WriteFailed { coordinates, reason: format!("{target}: {error}") });
                }
            },
        }
        lock(watermarks).ack(&outcome.topic, outcome.partition, outcome.offset);
        Ok(())
    }

    fn commit(&self, consumer: &StreamConsumer<SinkContext>, watermarks: &Mutex<Watermarks>, mode: CommitMode) {
        let offsets = {
            let mut w = lock(watermarks);
            let offsets = w.committable();
            w.mark_committed(&offsets);
            offsets
        };
        if offsets.is_empty() {
            return;
        }
        match consumer.commit(&to_list(&offsets), mode) {
            Ok(()) => debug!(task = %self.name, ?offsets, "offsets committed"),
            Err(error) => {
                warn!(task = %self.name, %error, "offset commit failed; it will be repeated");
                lock(watermarks).reset_committed();
            }
        }
    }
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Connects, retrying with backoff while Cassandra is unreachable. `None` when shut down first.
async fn connect_with_retry(
    config: &SinkConfig,
    task: &str,
    shutdown: &CancellationToken,
) -> Result<Option<Session>, CassandraError> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match cassandra::connect(&config.connection).await {
            Ok(session) => return Ok(Some(session)),
            Err(error) if error.is_retryable() => {
                warn!(task, %error, retry_in_ms = backoff.as_millis() as u64, "Cassandra unreachable; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(None),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Executes one row. Transient errors are retried with exponential backoff until shutdown
/// (`Ok(false)`); permanent ones are retried only under `WritePolicy::Retry`.
async fn write_with_retry(
    session: &Session,
    writer: &TableWriter,
    row: &BoundRow,
    policy: WritePolicy,
    shutdown: &CancellationToken,
) -> Result<bool, CassandraError> {
    let mut backoff = Duration::from_millis(50);
    let mut permanent_failures = 0u32;
    loop {
        let error = match session.execute_unpaged(writer.statement(), row).await {
            Ok(_) => return Ok(true),
            Err(e) => CassandraError::from(e),
        };
        let pause = if error.is_retryable() {
            let pause = backoff;
            backoff = (backoff * 2).min(Duration::from_secs(10));
            debug!(table = %writer.target, %error, retry_in_ms = pause.as_millis() as u64, "transient write error; retrying");
            pause
        } else {
            match policy {
                WritePolicy::Retry { max_retries, interval } if permanent_failures < max_retries => {
                    permanent_failures += 1;
                    error!(table = %writer.target, %error, attempt = permanent_failures, max_retries, "write rejected; retrying (connect.cassandra.error.policy=RETRY)");
                    interval
                }
                _ => return Err(error),
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(false),
            () = tokio::time::sleep(pause) => {}
        }
    }
}
