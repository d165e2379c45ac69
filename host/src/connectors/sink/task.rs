//! A sink task: poll → convert → map → batch → write → commit, at least once.
//!
//! Records are converted and bound as they are polled; their statements queue per partition in the
//! [`Batcher`], which keeps one UNLOGGED batch per partition in flight (offset order per partition)
//! and up to `max_concurrent_requests` batches overall, while polling goes on. Offsets advance only
//! through [`Watermarks`]: a record is done when Cassandra acknowledged all of its statements, or the
//! error policy took it (for the dead letter queue: when Kafka acknowledged it).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rustc_hash::FxHashMap;
use scylla::client::session::Session;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::batcher::{Batcher, Slot};
use super::config::{SinkConfig, WritePolicy};
use super::pending::BySeq;
use super::writer::{BoundStatement, RecordView, TableWriter};
use crate::cassandra::{self, CassandraError};
use crate::config::{ConfigError, ConnectorConfig, ErrorTolerance, WorkerConfig};
use crate::connectors::{TaskControl, TaskReport};
use crate::kafka::dlq::{DeadLetterQueue, Failure, Stage};
use crate::kafka::offsets::{TopicPartition, Watermarks};
use crate::kafka::sink_consumer_config;
use crate::pipeline::convert::{Converter, ConverterConfig};
use crate::pipeline::record::SinkRecord;
use crate::wasm::Registry;
use crate::wasm::chain::{self, TransformChain, TransformFailure};
use crate::wasm::converter::{self, ConverterPart, ConverterSpec, ConverterStep};

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
    /// Transient errors outlasted `errors.retry.timeout`.
    #[error("Cassandra kept failing for longer than errors.retry.timeout ({timeout:?}): {reason}")]
    RetriesExhausted {
        /// The configured limit.
        timeout: Duration,
        /// The last error.
        reason: String,
    },
    /// The plugin threads failed (a host bug, never a plugin's misbehaviour).
    #[error("running the transforms failed: {reason}")]
    Transform {
        /// What happened.
        reason: String,
    },
    /// Kafka did not take a source record (the producer gave up on it).
    #[error("Kafka: {0}")]
    Delivery(String),
    /// Source offsets could not be stored.
    #[error("{0}")]
    Offsets(String),
    /// The dead letter queue did not take a record.
    #[error("writing record {coordinates} to the dead letter queue failed: {reason}")]
    DeadLetterQueue {
        /// `topic-partition@offset`.
        coordinates: String,
        /// Kafka's answer.
        reason: String,
    },
}

impl TaskError {
    /// Whether the cause may pass by itself (Cassandra or Kafka unreachable, retries outlasted),
    /// so restarting the task can help; a bad record, a rejected write or a bad setting cannot.
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            Self::Cassandra(_)
                | Self::Kafka(_)
                | Self::RetriesExhausted { .. }
                | Self::DeadLetterQueue { .. }
                | Self::Delivery(_)
                | Self::Offsets(_)
        )
    }
}

/// How a write ended badly.
#[derive(Debug)]
enum WriteFailure {
    /// Shutdown interrupted the retries: the record stays pending (redelivered later).
    Cancelled,
    /// Cassandra rejected it for good.
    Rejected(CassandraError),
    /// Transient errors outlasted `errors.retry.timeout`.
    Exhausted(CassandraError),
}

/// A statement in the batcher: the record it belongs to and the bound statement.
#[derive(Debug)]
struct Item {
    seq: u64,
    statement: BoundStatement,
}

struct BatchOutcome {
    /// The writer (table) and the batcher's slot of the partition written.
    table: usize,
    slot: Slot,
    results: Vec<(u64, Result<(), WriteFailure>)>,
}

/// A record between poll and commit. Thousands are in flight per task, in a ring that moves them
/// as it grows and as they leave, so it is kept small (48 bytes): the coordinates, and the record
/// itself only when a rejected write may send it to the error policy.
struct Pending {
    topic: Arc<str>,
    partition: i32,
    /// Statements not written yet.
    remaining: u32,
    offset: i64,
    /// The whole record, kept when the error policy may need it (`WritePolicy::Skip`).
    record: Option<Box<SinkRecord>>,
    /// The first rejection of one of its statements: the table and Cassandra's answer.
    failure: Option<Box<(String, CassandraError)>>,
}

// Moved in and out of the ring once per record: keep it at six words.
const _: () = assert!(std::mem::size_of::<Pending>() <= 48);

impl Pending {
    /// Tracks `record`, keeping it whole only when `keep`.
    fn new(record: SinkRecord, remaining: u32, keep: bool) -> Self {
        let (partition, offset) = (record.partition, record.offset);
        if keep {
            let topic = record.topic.clone();
            Self { topic, partition, remaining, offset, record: Some(Box::new(record)), failure: None }
        } else {
            Self { topic: record.topic, partition, remaining, offset, record: None, failure: None }
        }
    }

    /// The record for the error policy: the one kept, or its coordinates (all a failing task
    /// reports).
    fn into_record(self) -> SinkRecord {
        match self.record {
            Some(record) => *record,
            None => SinkRecord {
                topic: self.topic,
                partition: self.partition,
                offset: self.offset,
                timestamp_ms: None,
                key: None,
                value: None,
                headers: Vec::new(),
            },
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;
/// A record on its way to the dead letter queue, and Kafka's answer.
type DlqSend = BoxFuture<(SinkRecord, Result<(), KafkaError>)>;

/// How long a stopping task waits for its in-flight and queued writes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages taken from the consumer per wake-up without waiting.
const POLL_BURST: usize = 1000;
/// Requests in flight below which partial batches are sent rather than left to fill.
const BUSY_REQUESTS: usize = 4;

/// Commits what the watermarks allow for partitions being revoked, then forgets them: their
/// records still in flight will be redelivered to the partition's next owner.
struct SinkContext {
    watermarks: Arc<Mutex<Watermarks>>,
    task: String,
    /// The task is paused: partitions assigned now start paused too.
    paused: std::sync::atomic::AtomicBool,
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

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            if self.paused.load(std::sync::atomic::Ordering::Acquire)
                && let Err(error) = consumer.pause(assigned)
            {
                warn!(task = %self.task, %error, "pausing newly assigned partitions failed");
            }
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
        // Offsets come from records we read, so they are valid.
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*offset));
    }
    list
}

/// Everything a sink task needs; `run` does the work.
#[derive(Debug)]
pub struct SinkTask {
    /// `<connector>-<task id>`, for logs.
    pub name: String,
    task_id: u32,
    connector: ConnectorConfig,
    config: SinkConfig,
    worker: Arc<WorkerConfig>,
    key_converter: Option<(Converter, String)>,
    value_converter: (Converter, String),
    /// Converters that are plugins: they run with the transforms, on the plugin threads.
    plugin_converters: Vec<ConverterSpec>,
    registry: Arc<Registry>,
    /// Whether a mapping reads record headers.
    reads_headers: bool,
}

/// The state of a running task's loop.
struct Run {
    session: Arc<Session>,
    writers: Vec<Arc<TableWriter>>,
    by_topic: FxHashMap<String, Vec<usize>>,
    dlq: Option<Arc<DeadLetterQueue>>,
    watermarks: Arc<Mutex<Watermarks>>,
    pending: BySeq<Pending>,
    /// Records of a written batch to acknowledge (topic, partition, offset), reused.
    acked: Vec<(Arc<str>, i32, i64)>,
    /// Topic names, interned: records share them instead of allocating one each.
    topic_names: FxHashMap<Box<str>, Arc<str>>,
    next_seq: u64,
    batcher: Batcher<Item>,
    batches: FuturesUnordered<BoxFuture<BatchOutcome>>,
    dlq_sends: FuturesUnordered<DlqSend>,
    /// Statements Cassandra acknowledged.
    written: u64,
    /// Requests sent (single statements and batches).
    requests: u64,
    /// The connector's transforms, if any (taken out while they run on a plugin thread).
    transforms: Option<TransformChain>,
    /// Counters and topics for REST.
    report: Arc<TaskReport>,
    /// The statements of the record being accepted (writer, statement, its partition key in
    /// `keys`), reused from record to record.
    bound: Bound,
    keys: Vec<u8>,
}

/// A record's statements: (table writer, statement, its partition key's range in the key buffer).
type Bound = Vec<(usize, BoundStatement, std::ops::Range<usize>)>;

impl Run {
    /// Counts a consumed message and gives its topic's shared name.
    fn read(&mut self, message: &rdkafka::message::BorrowedMessage<'_>) -> Arc<str> {
        use rdkafka::Message;
        let name = message.topic();
        TaskReport::add(&self.report.records_read, 1);
        match self.topic_names.get(name) {
            Some(t) => t.clone(),
            None => {
                self.report.saw_topic(name);
                self.topic_names.entry(name.into()).or_insert_with(|| Arc::from(name)).clone()
            }
        }
    }

    /// Copies a message into a record, sharing the topic name.
    fn record(&mut self, message: &rdkafka::message::BorrowedMessage<'_>) -> SinkRecord {
        let topic = self.read(message);
        SinkRecord::from_message(message, topic)
    }
}

/// What binding reads of a record: borrowed from an owned record, or straight from a consumed
/// message's buffer.
struct RecordData<'a> {
    topic: &'a str,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [(String, Option<Vec<u8>>)],
    timestamp_ms: Option<i64>,
}

impl<'a> RecordData<'a> {
    fn of(record: &'a SinkRecord) -> Self {
        Self {
            topic: &record.topic,
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
            timestamp_ms: record.timestamp_ms,
        }
    }
}

impl SinkTask {
    /// Validates and assembles a task (pure; connections open in `run`).
    pub fn new(
        worker: Arc<WorkerConfig>,
        connector: ConnectorConfig,
        task_id: u32,
        registry: Arc<Registry>,
    ) -> Result<Self, ConfigError> {
        let config = SinkConfig::from_connector(&connector)?;
        chain::resolve(&registry, &connector.transforms)?;
        let mut plugin_converters = Vec::new();
        let mut build = |own: &Option<ConverterConfig>,
                         default: &ConverterConfig,
                         part: ConverterPart|
         -> Result<(Converter, String), ConfigError> {
            let c = own.as_ref().unwrap_or(default);
            let converter = Converter::build(c, part.setting())?;
            if converter == Converter::Plugin {
                let spec = ConverterSpec {
                    part,
                    reference: c.class.clone(),
                    config: c.settings.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                };
                converter::resolve(&registry, &spec)?;
                plugin_converters.push(spec);
            }
            Ok((converter, c.class.clone()))
        };
        let value_converter = build(&connector.value_converter, &worker.value_converter, ConverterPart::Value)?;
        let key_converter = if config.needs_key(true) {
            Some(build(&connector.key_converter, &worker.key_converter, ConverterPart::Key)?)
        } else {
            None
        };
        Ok(Self {
            reads_headers: config.reads_headers(),
            name: format!("{}-{task_id}", connector.name),
            task_id,
            connector,
            config,
            worker,
            key_converter,
            value_converter,
            plugin_converters,
            registry,
        })
    }

    /// Runs until `control.stop` (then drains in-flight writes and commits) or a fatal error;
    /// consumes nothing while `control.paused`.
    pub async fn run(self, control: TaskControl) -> Result<(), TaskError> {
        let TaskControl { stop: shutdown, mut paused, report } = control;
        let Some(session) = connect_with_retry(&self.config.connection, &self.name, &shutdown).await? else {
            return Ok(());
        };
        let (mut writers, mut by_topic) = (Vec::new(), FxHashMap::<String, Vec<usize>>::default());
        for mapping in &self.config.mappings {
            let writer = TableWriter::prepare(&session, mapping).await?;
            info!(task = %self.name, topic = %mapping.topic, table = %writer.target, "mapping ready");
            by_topic.entry(mapping.topic.clone()).or_default().push(writers.len());
            writers.push(Arc::new(writer));
        }
        let dlq = match &self.config.dead_letter_queue {
            None => None,
            Some(d) => Some(Arc::new(
                DeadLetterQueue::open(
                    &self.worker,
                    &self.connector.settings.with_prefix("producer.override."),
                    &d.topic,
                    d.replication_factor,
                    d.context_headers,
                    &self.connector.name,
                    self.task_id,
                )
                .await?,
            )),
        };
        let watermarks = Arc::new(Mutex::new(Watermarks::default()));
        let context = SinkContext {
            watermarks: watermarks.clone(),
            task: self.name.clone(),
            paused: (*paused.borrow_and_update()).into(),
        };
        let overrides = self.connector.settings.with_prefix("consumer.override.");
        let consumer: StreamConsumer<SinkContext> =
            sink_consumer_config(&self.worker, &self.connector.name, &overrides, &self.name)?
                .set_log_level(RDKafkaLogLevel::Warning)
                .create_with_context(context)?;
        let topics: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        info!(task = %self.name, ?topics, "sink task started");

        let mut run = Run {
            session,
            writers,
            by_topic,
            dlq,
            watermarks,
            pending: BySeq::default(),
            acked: Vec::new(),
            topic_names: FxHashMap::default(),
            next_seq: 0,
            batcher: Batcher::new(self.config.max_batch_statements, self.config.max_batch_bytes),
            batches: FuturesUnordered::new(),
            dlq_sends: FuturesUnordered::new(),
            written: 0,
            requests: 0,
            report,
            bound: Vec::new(),
            keys: Vec::new(),
            transforms: {
                let converters = self
                    .plugin_converters
                    .iter()
                    .map(|spec| ConverterStep::new(&self.registry, spec))
                    .collect::<Result<Vec<_>, _>>()?;
                let chain = TransformChain::new(self.registry.clone(), &self.connector.transforms, &self.name)?
                    .with_converters(converters);
                (!chain.is_empty()).then_some(chain)
            },
        };
        let max_pending = self.config.max_pending_records;
        let mut flush = tokio::time::interval(self.worker.offset_flush_interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One message stream for the task's life: `recv()` makes one per message, registering and
        // unregistering a waker slot under a mutex each time.
        let mut messages = consumer.stream();
        let result: Result<(), TaskError> = loop {
            self.send_ready(&mut run, &shutdown);
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break Ok(()),
                Some(outcome) = run.batches.next(), if !run.batches.is_empty() => {
                    if let Err(e) = self.settle_batch(&mut run, outcome) { break Err(e) }
                }
                Some((record, sent)) = run.dlq_sends.next(), if !run.dlq_sends.is_empty() => {
                    if let Err(e) = self.settle_dlq(&mut run, &record, sent) { break Err(e) }
                }
                _ = flush.tick() => self.commit(&consumer, &run.watermarks, CommitMode::Async),
                Ok(()) = paused.changed() => {
                    let now = *paused.borrow_and_update();
                    consumer.context().paused.store(now, std::sync::atomic::Ordering::Release);
                    self.pause_partitions(&consumer, now);
                }
                Some(message) = messages.next(), if run.pending.len() < max_pending => {
                    let first = match message { Ok(m) => m, Err(e) => break Err(e.into()) };
                    if run.transforms.is_some() {
                        // Transforms work on batches: collect what is already fetched, then run them.
                        let mut records = vec![run.record(&first)];
                        drop(first);
                        let mut burst = Ok(());
                        while records.len() < POLL_BURST.min(max_pending) {
                            let Some(Some(next)) = messages.next().now_or_never() else { break };
                            match next {
                                Ok(m) => records.push(run.record(&m)),
                                Err(e) => { burst = Err(e.into()); break }
                            }
                        }
                        let transformed = self.transform(&mut run, records).await;
                        if let Err(e) = transformed.and(burst) { break Err(e) }
                        continue;
                    }
                    if let Err(e) = self.accept_message(&mut run, &first) { break Err(e) }
                    drop(first);
                    // Take what else is already fetched, without waiting, so batches fill up.
                    let mut burst = Ok(());
                    for _ in 0..POLL_BURST {
                        if run.pending.len() >= max_pending { break }
                        let Some(Some(next)) = messages.next().now_or_never() else { break };
                        burst = match next {
                            Ok(m) => self.accept_message(&mut run, &m),
                            Err(e) => Err(e.into()),
                        };
                        if burst.is_err() { break }
                    }
                    if let Err(e) = burst { break Err(e) }
                }
            }
        };
        // Finish what was read: queued and in-flight writes and DLQ sends (bounded), then commit.
        let drain = async {
            loop {
                self.send_ready(&mut run, &shutdown);
                tokio::select! {
                    Some(outcome) = run.batches.next(), if !run.batches.is_empty() => {
                        if let Err(e) = self.settle_batch(&mut run, outcome) { warn!(task = %self.name, error = %e, "while stopping") }
                    }
                    Some((record, sent)) = run.dlq_sends.next(), if !run.dlq_sends.is_empty() => {
                        if let Err(e) = self.settle_dlq(&mut run, &record, sent) { warn!(task = %self.name, error = %e, "while stopping") }
                    }
                    else => break,
                }
            }
        };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            warn!(task = %self.name, "in-flight writes did not finish in time; they will be redelivered");
        }
        self.commit(&consumer, &run.watermarks, CommitMode::Sync);
        let per_request = run.written as f64 / run.requests.max(1) as f64;
        info!(task = %self.name, ok = result.is_ok(), statements_written = run.written, requests = run.requests, per_request, ring_slots = run.pending.capacity(), "sink task stopped");
        result
    }

    /// Pauses (or resumes) fetching for every assigned partition: a paused task keeps its
    /// partitions and its group membership (the consumer is still polled) but reads nothing.
    fn pause_partitions(&self, consumer: &StreamConsumer<SinkContext>, pause: bool) {
        let assignment = match consumer.assignment() {
            Ok(a) => a,
            Err(error) => return warn!(task = %self.name, %error, "cannot read the assignment to pause it"),
        };
        let result = if pause { consumer.pause(&assignment) } else { consumer.resume(&assignment) };
        match result {
            Ok(()) => debug!(task = %self.name, pause, partitions = assignment.count(), "fetching paused/resumed"),
            Err(error) => warn!(task = %self.name, %error, pause, "pausing/resuming the partitions failed"),
        }
    }

    /// Runs a batch of consumed records through the connector's transforms on a plugin thread,
    /// then accepts what came out (a record that failed in a transform goes to the error policy).
    async fn transform(&self, run: &mut Run, records: Vec<SinkRecord>) -> Result<(), TaskError> {
        let mut chain = run.transforms.take().expect("called only with transforms");
        let origins: Vec<SinkRecord> = records.clone();
        let answer = self.registry.threads().run(move || {
            let results = chain.apply(records);
            (chain, results)
        });
        let (chain, results) = answer.await.map_err(|reason| TaskError::Transform { reason })?;
        run.transforms = Some(chain);
        for (origin, result) in origins.into_iter().zip(results) {
            match result {
                Ok(outputs) => self.accept(run, origin, Some(outputs))?,
                Err(TransformFailure { alias, plugin, message }) => {
                    lock(&run.watermarks).track(&origin.topic, origin.partition, origin.offset);
                    let failure = match alias.as_str() {
                        "key.converter" | "value.converter" => Failure {
                            stage: if alias == "key.converter" { Stage::KeyConverter } else { Stage::ValueConverter },
                            class_name: plugin,
                            exception_class: "spillway.ConversionError".into(),
                            message: format!("{alias}: {message}"),
                        },
                        _ => Failure {
                            stage: Stage::Transformation,
                            class_name: plugin,
                            exception_class: "spillway.TransformError".into(),
                            message: format!("transform '{alias}': {message}"),
                        },
                    };
                    self.skip_or_fail(run, origin, failure, self.config.bad_records == ErrorTolerance::All)?;
                }
            }
        }
        Ok(())
    }

    /// Converts and binds one record — or, after transforms, the records it became — and queues
    /// the statements (or hands the record to the error policy). Its offset is done when all of
    /// them are written.
    fn accept(&self, run: &mut Run, record: SinkRecord, outputs: Option<Vec<SinkRecord>>) -> Result<(), TaskError> {
        let (mut bound, mut keys) = (std::mem::take(&mut run.bound), std::mem::take(&mut run.keys));
        bound.clear();
        keys.clear();
        let result = match &outputs {
            None => self.bind(run, &RecordData::of(&record), &mut bound, &mut keys),
            Some(outputs) => outputs.iter().try_for_each(|r| self.bind(run, &RecordData::of(r), &mut bound, &mut keys)),
        };
        self.queue(run, record, result, (bound, keys))
    }

    /// Accepts a consumed message. Its bytes are bound straight from the consumer's buffer, and
    /// only its coordinates kept while its statements are written, when nothing can need them
    /// later: a write Cassandra rejects then fails the task (which names the record by its
    /// coordinates) rather than sending the record to the error policy. A record that fails to
    /// bind is copied for the error policy while its message is still at hand. Otherwise, and
    /// for a message with headers when a mapping reads headers, the record is copied first.
    /// (librdkafka parses a message's headers, allocating a list even when there are none, only
    /// when asked.)
    fn accept_message(&self, run: &mut Run, message: &rdkafka::message::BorrowedMessage<'_>) -> Result<(), TaskError> {
        use rdkafka::Message;
        if self.config.rejected_writes == WritePolicy::Skip || (self.reads_headers && message.headers().is_some()) {
            let record = run.record(message);
            return self.accept(run, record, None);
        }
        let topic = run.read(message);
        let (mut bound, mut keys) = (std::mem::take(&mut run.bound), std::mem::take(&mut run.keys));
        bound.clear();
        keys.clear();
        let timestamp_ms = message.timestamp().to_millis();
        let data =
            RecordData { topic: &topic, key: message.key(), value: message.payload(), headers: &[], timestamp_ms };
        let result = self.bind(run, &data, &mut bound, &mut keys);
        let record = match result {
            Ok(()) => SinkRecord {
                topic,
                partition: message.partition(),
                offset: message.offset(),
                timestamp_ms,
                key: None,
                value: None,
                headers: Vec::new(),
            },
            Err(_) => SinkRecord::from_message(message, topic),
        };
        self.queue(run, record, result, (bound, keys))
    }

    /// Queues a bound record's statements (its offset is done when all of them are written), or
    /// hands it to the error policy when binding failed.
    fn queue(
        &self,
        run: &mut Run,
        record: SinkRecord,
        result: Result<(), Failure>,
        (mut bound, keys): (Bound, Vec<u8>),
    ) -> Result<(), TaskError> {
        lock(&run.watermarks).track(&record.topic, record.partition, record.offset);
        let seq = run.next_seq;
        run.next_seq += 1;
        if let Err(failure) = result {
            (run.bound, run.keys) = (bound, keys);
            return self.skip_or_fail(run, record, failure, self.config.bad_records == ErrorTolerance::All);
        }
        if bound.is_empty() {
            lock(&run.watermarks).ack(&record.topic, record.partition, record.offset);
        } else {
            let remaining = u32::try_from(bound.len()).expect("a record is written to fewer than 2^32 tables");
            let keep = self.config.rejected_writes == WritePolicy::Skip;
            run.pending.insert(seq, Pending::new(record, remaining, keep));
            for (writer, statement, key) in bound.drain(..) {
                let size = statement.size;
                run.batcher.push(writer, &keys[key], Item { seq, statement }, size);
            }
        }
        (run.bound, run.keys) = (bound, keys);
        Ok(())
    }

    /// Converts and binds one record for every table its topic is mapped to: appends the
    /// statements to `out`, their partition keys to `keys`.
    fn bind(&self, run: &Run, record: &RecordData<'_>, out: &mut Bound, keys: &mut Vec<u8>) -> Result<(), Failure> {
        let (converter, class) = &self.value_converter;
        let value = converter.to_doc(record.value).map_err(|e| Failure {
            stage: Stage::ValueConverter,
            class_name: class.clone(),
            exception_class: "spillway.ConversionError".into(),
            message: e.to_string(),
        })?;
        let key: Option<Value> = match &self.key_converter {
            Some((converter, class)) if self.config.needs_key(record.value.is_none()) => {
                converter.to_value(record.key).map_err(|e| Failure {
                    stage: Stage::KeyConverter,
                    class_name: class.clone(),
                    exception_class: "spillway.ConversionError".into(),
                    message: e.to_string(),
                })?
            }
            _ => None,
        };
        let view = RecordView {
            value: value.as_ref(),
            key: key.as_ref(),
            headers: record.headers,
            timestamp_ms: record.timestamp_ms,
        };
        let mapping_error = |message: String| Failure {
            stage: Stage::TaskPut,
            class_name: self.connector.class.clone(),
            exception_class: "spillway.MappingError".into(),
            message,
        };
        // A transform may route a record to a topic no mapping reads: never drop it silently.
        let targets = match run.by_topic.get(record.topic) {
            Some(targets) => targets.as_slice(),
            None if self.config.topics.iter().any(|t| t == record.topic) => &[],
            None => {
                return Err(mapping_error(format!(
                    "no mapping writes topic '{}' (a transform routed the record there)",
                    record.topic
                )));
            }
        };
        for &w in targets {
            let start = keys.len();
            let statement = run.writers[w].bind(&view, keys).map_err(mapping_error)?;
            out.push((w, statement, start..keys.len()));
        }
        Ok(())
    }

    /// A record that failed: skipped (to the dead letter queue when there is one, else logged) or
    /// the task fails.
    fn skip_or_fail(&self, run: &mut Run, record: SinkRecord, failure: Failure, skip: bool) -> Result<(), TaskError> {
        let coordinates = record.coordinates();
        if !skip {
            return Err(match failure.stage {
                Stage::TaskPut if failure.exception_class == "spillway.WriteRejected" => {
                    TaskError::WriteFailed { coordinates, reason: failure.message }
                }
                _ => TaskError::BadRecord { coordinates, reason: failure.message },
            });
        }
        let stage = failure.stage.as_str();
        if self.connector.errors_log_include_messages {
            let value = record.value.as_deref().map(String::from_utf8_lossy);
            warn!(task = %self.name, record = %coordinates, stage, reason = %failure.message, ?value, "record skipped");
        } else {
            warn!(task = %self.name, record = %coordinates, stage, reason = %failure.message, "record skipped");
        }
        TaskReport::add(&run.report.records_skipped, 1);
        match &run.dlq {
            Some(dlq) => {
                let send = dlq.send(&record, &failure);
                run.dlq_sends.push(Box::pin(async move { (record, send.await) }));
            }
            None => lock(&run.watermarks).ack(&record.topic, record.partition, record.offset),
        }
        Ok(())
    }

    fn settle_dlq(&self, run: &mut Run, record: &SinkRecord, sent: Result<(), KafkaError>) -> Result<(), TaskError> {
        match sent {
            Ok(()) => {
                lock(&run.watermarks).ack(&record.topic, record.partition, record.offset);
                Ok(())
            }
            Err(e) => Err(TaskError::DeadLetterQueue { coordinates: record.coordinates(), reason: e.to_string() }),
        }
    }

    /// Sends ready batches while fewer than `max_concurrent_requests` are in flight: full ones
    /// always; partial ones only when waiting for them to fill would leave Cassandra idle — it has
    /// fewer than [`BUSY_REQUESTS`] requests of this task — or the task is stopping, or when they
    /// waited too long: more than `max_pending_records` records were read after their first one.
    /// Not when the consumer is momentarily caught up or the pending-record cap is reached: the
    /// requests in flight are answered soon, their records make room, and more records fill the
    /// waiting batches. In the benchmark, statements per request (of 32): 29.9 before this rule,
    /// 30.6 with it, 31.9 with it and 8192 rather than 4096 pending records.
    fn send_ready(&self, run: &mut Run, shutdown: &CancellationToken) {
        let overdue_below = run.next_seq.saturating_sub(self.config.max_pending_records as u64);
        while run.batches.len() < self.config.max_concurrent_requests {
            let partial_ok = run.batches.len() < BUSY_REQUESTS || shutdown.is_cancelled();
            let next = if partial_ok {
                run.batcher.next_batch()
            } else {
                let overdue = |item: &Item| item.seq < overdue_below;
                run.batcher.next_full_batch().or_else(|| run.batcher.next_overdue_batch(overdue))
            };
            let Some((table, slot, items)) = next else { break };
            let writer = run.writers[table].clone();
            let (session, shutdown, config) = (run.session.clone(), shutdown.clone(), self.retry_settings());
            run.batches.push(Box::pin(write_batch(session, writer, (table, slot), items, config, shutdown)));
            run.requests += 1;
        }
    }

    fn retry_settings(&self) -> RetrySettings {
        RetrySettings {
            policy: self.config.rejected_writes,
            timeout: self.config.retry_timeout,
            delay_max: self.config.retry_delay_max,
        }
    }

    /// Counts finished statements; a record whose statements are all done is acknowledged, or
    /// handed to the error policy when one failed.
    fn settle_batch(&self, run: &mut Run, outcome: BatchOutcome) -> Result<(), TaskError> {
        run.batcher.done(outcome.slot);
        let ok = outcome.results.iter().filter(|(_, r)| r.is_ok()).count() as u64;
        TaskReport::add(&run.report.statements_written, ok);
        let mut acked = std::mem::take(&mut run.acked);
        let (mut failed, mut exhausted) = (Vec::new(), None);
        for (seq, result) in outcome.results {
            let Some(p) = run.pending.get_mut(seq) else { continue };
            match result {
                Ok(()) => run.written += 1,
                Err(WriteFailure::Cancelled) => continue,
                Err(WriteFailure::Exhausted(e)) => {
                    exhausted = Some(e);
                    break;
                }
                Err(WriteFailure::Rejected(e)) => {
                    if p.failure.is_none() {
                        p.failure = Some(Box::new((run.writers[outcome.table].target.clone(), e)));
                    }
                }
            }
            p.remaining -= 1;
            if p.remaining > 0 {
                continue;
            }
            let mut done = run.pending.remove(seq).expect("present");
            match done.failure.take() {
                None => acked.push((done.topic, done.partition, done.offset)),
                Some(rejected) => failed.push((done, *rejected)),
            }
        }
        // A batch holds one Cassandra partition, so its records mostly share a Kafka partition:
        // acknowledged by runs of one partition, under one lock.
        {
            let mut w = lock(&run.watermarks);
            for same in acked.chunk_by(|a, b| a.1 == b.1 && Arc::ptr_eq(&a.0, &b.0)) {
                w.ack_all(&same[0].0, same[0].1, same.iter().map(|a| a.2));
            }
        }
        acked.clear();
        run.acked = acked;
        if let Some(e) = exhausted {
            return Err(TaskError::RetriesExhausted {
                timeout: self.config.retry_timeout.unwrap_or_default(),
                reason: e.to_string(),
            });
        }
        for (done, (table, error)) in failed {
            let failure = Failure {
                stage: Stage::TaskPut,
                class_name: self.connector.class.clone(),
                exception_class: "spillway.WriteRejected".into(),
                message: format!("{table}: {error}"),
            };
            let skip = self.config.rejected_writes == WritePolicy::Skip;
            self.skip_or_fail(run, done.into_record(), failure, skip)?;
        }
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

/// Connects (to the session this process shares for these settings), retrying with backoff while
/// Cassandra is unreachable; `None` when `shutdown` came first.
pub(crate) async fn connect_with_retry(
    connection: &cassandra::ConnectionSettings,
    task: &str,
    shutdown: &CancellationToken,
) -> Result<Option<Arc<Session>>, CassandraError> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match cassandra::shared_session(connection).await {
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

#[derive(Debug, Clone, Copy)]
struct RetrySettings {
    policy: WritePolicy,
    timeout: Option<Duration>,
    delay_max: Duration,
}

/// Writes one partition's statements: alone, or as one UNLOGGED batch. When Cassandra rejects a
/// batch, its statements are retried one by one so that exactly the bad record(s) fail.
async fn write_batch(
    session: Arc<Session>,
    writer: Arc<TableWriter>,
    (table, slot): (usize, Slot),
    items: Vec<Item>,
    retry: RetrySettings,
    shutdown: CancellationToken,
) -> BatchOutcome {
    if items.len() == 1 {
        let item = &items[0];
        let result = execute_with_retry(retry, &shutdown, &writer.target, || {
            session
                .execute_unpaged(writer.statement(item.statement.kind), &item.statement.values)
                .map(|r| r.map(|_| ()).map_err(CassandraError::from))
        })
        .await;
        return BatchOutcome { table, slot, results: vec![(item.seq, result)] };
    }
    let batch = writer.batch(items.iter().map(|i| i.statement.kind));
    let values: Vec<_> = items.iter().map(|i| &i.statement.values).collect();
    // Into the CPU's caches together, before the driver serializes them one by one.
    std::hint::black_box(values.iter().fold(0, |acc, v| acc ^ v.touch()));
    let batch_retry = RetrySettings { policy: WritePolicy::Fail, ..retry };
    match execute_with_retry(batch_retry, &shutdown, &writer.target, || {
        session.batch(&batch, &values).map(|r| r.map(|_| ()).map_err(CassandraError::from))
    })
    .await
    {
        Ok(()) => BatchOutcome { table, slot, results: items.iter().map(|i| (i.seq, Ok(()))).collect() },
        Err(WriteFailure::Rejected(error)) => {
            debug!(table = %writer.target, %error, statements = items.len(), "batch rejected; isolating the bad statements");
            let mut results = Vec::with_capacity(items.len());
            for item in &items {
                let result = execute_with_retry(retry, &shutdown, &writer.target, || {
                    session
                        .execute_unpaged(writer.statement(item.statement.kind), &item.statement.values)
                        .map(|r| r.map(|_| ()).map_err(CassandraError::from))
                })
                .await;
                results.push((item.seq, result));
            }
            BatchOutcome { table, slot, results }
        }
        Err(other) => {
            let mut results = vec![(items[0].seq, Err(other))];
            results.extend(items[1..].iter().map(|i| (i.seq, Err(WriteFailure::Cancelled))));
            BatchOutcome { table, slot, results }
        }
    }
}

/// Runs `attempt` until it succeeds. Transient errors are retried with exponential backoff (capped
/// by `errors.retry.delay.max.ms`) until `errors.retry.timeout` or shutdown; permanent ones only under
/// `WritePolicy::Retry`.
async fn execute_with_retry<F, Fut>(
    retry: RetrySettings,
    shutdown: &CancellationToken,
    table: &str,
    mut attempt: F,
) -> Result<(), WriteFailure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), CassandraError>>,
{
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut rejections = 0u32;
    loop {
        let error = match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let pause = if error.is_retryable() {
            if retry.timeout.is_some_and(|t| started.elapsed() >= t) {
                return Err(WriteFailure::Exhausted(error));
            }
            let pause = backoff.min(retry.delay_max);
            backoff = (backoff * 2).min(retry.delay_max);
            debug!(table, %error, retry_in_ms = pause.as_millis() as u64, "transient write error; retrying");
            pause
        } else {
            match retry.policy {
                WritePolicy::Retry { max_retries, interval } if rejections < max_retries => {
                    rejections += 1;
                    error!(table, %error, attempt = rejections, max_retries, "write rejected; retrying (connect.cassandra.error.policy=RETRY)");
                    interval
                }
                _ => return Err(WriteFailure::Rejected(error)),
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Err(WriteFailure::Cancelled),
            () = tokio::time::sleep(pause) => {}
        }
    }
}
