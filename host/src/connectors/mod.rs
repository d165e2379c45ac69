//! Connectors: the Cassandra sink and source, under Spillway's names and the names existing
//! Lenses and DataStax configurations use.

pub mod sink;
pub mod source;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, ConnectorConfig, WorkerConfig};
use crate::wasm::Registry;
pub use sink::task::TaskError;

/// What the worker tells a running task (stop, pause) and what the task reports back (counters,
/// the topics it consumed). Cloned into every run of one task; the report outlives restarts.
#[derive(Debug, Clone)]
pub struct TaskControl {
    /// Stop: finish what is in flight, commit, return.
    pub stop: CancellationToken,
    /// While true the task consumes nothing; its partitions stay assigned.
    pub paused: watch::Receiver<bool>,
    /// Counters and topics, read by REST.
    pub report: Arc<TaskReport>,
}

impl TaskControl {
    /// A control for a task that runs until `stop`, never paused (tests, tools).
    pub fn until(stop: CancellationToken) -> Self {
        let (_, paused) = watch::channel(false);
        Self { stop, paused, report: Arc::default() }
    }
}

/// A task's counters since its connector started, and the topics it consumed (Connect's
/// `/connectors/{c}/topics`).
#[derive(Debug, Default)]
pub struct TaskReport {
    /// Records polled from Kafka.
    pub records_read: AtomicU64,
    /// Statements Cassandra acknowledged.
    pub statements_written: AtomicU64,
    /// Records that failed and were skipped (dead letter queue or log).
    pub records_skipped: AtomicU64,
    /// Times the task failed.
    pub failures: AtomicU64,
    topics: Mutex<BTreeSet<String>>,
}

impl TaskReport {
    /// Counts `n` on `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Notes a topic the task consumed from.
    pub fn saw_topic(&self, topic: &str) {
        let mut topics = self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !topics.contains(topic) {
            topics.insert(topic.to_string());
        }
    }

    /// The topics consumed since the last reset.
    pub fn topics(&self) -> BTreeSet<String> {
        self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Forgets the topics (`PUT /connectors/{c}/topics/reset`).
    pub fn reset_topics(&self) {
        self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

/// A task of either connector, ready to run.
#[derive(Debug)]
pub enum Task {
    /// Kafka → Cassandra.
    Sink(sink::SinkTask),
    /// Cassandra → Kafka.
    Source(source::SourceTask),
}

impl Task {
    /// How many tasks the connector runs: `tasks.max` for the sink, one table each at most for
    /// the source.
    pub fn count(worker: &WorkerConfig, config: &ConnectorConfig, kind: ConnectorKind) -> Result<u32, ConfigError> {
        Ok(match kind {
            ConnectorKind::CassandraSink => config.tasks_max,
            ConnectorKind::CassandraSource => {
                source::SourceConfig::from_connector(config, worker)?.task_count(config.tasks_max)
            }
        })
    }

    /// Validates and assembles task `id` of `count` (pure: connections open when it runs; a sink's
    /// plugins are resolved, which runs guest code: call off the async runtime).
    pub fn new(
        worker: Arc<WorkerConfig>,
        config: ConnectorConfig,
        kind: ConnectorKind,
        id: u32,
        count: u32,
        registry: Arc<Registry>,
    ) -> Result<Self, ConfigError> {
        Ok(match kind {
            ConnectorKind::CassandraSink => Self::Sink(sink::SinkTask::new(worker, config, id, registry)?),
            ConnectorKind::CassandraSource => Self::Source(source::SourceTask::new(worker, config, id, count)?),
        })
    }

    /// Runs until stopped or failed.
    pub async fn run(self, control: TaskControl) -> Result<(), TaskError> {
        match self {
            Self::Sink(t) => t.run(control).await,
            Self::Source(t) => t.run(control).await,
        }
    }
}

/// The connector implementations this host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// Kafka → Cassandra.
    CassandraSink,
    /// Cassandra → Kafka.
    CassandraSource,
}

/// `connector.class` values of the Cassandra sink (Spillway's, Lenses' and DataStax's names).
pub const SINK_CLASSES: &[&str] = &[
    "spillway.CassandraSink",
    "CassandraSink",
    "io.lenses.streamreactor.connect.cassandra.sink.CassandraSinkConnector",
    "io.lenses.streamreactor.connect.cassandra.CassandraSinkConnector",
    "com.datamountaineer.streamreactor.connect.cassandra.sink.CassandraSinkConnector",
    "com.datastax.oss.kafka.sink.CassandraSinkConnector",
    "com.datastax.kafkaconnector.DseSinkConnector",
];
/// `connector.class` values of the Cassandra source (Spillway's and Lenses' names).
pub const SOURCE_CLASSES: &[&str] = &[
    "spillway.CassandraSource",
    "CassandraSource",
    "io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector",
    "com.datamountaineer.streamreactor.connect.cassandra.source.CassandraSourceConnector",
];

impl ConnectorKind {
    /// Resolves `connector.class` (any accepted alias).
    pub fn from_class(class: &str) -> Result<Self, ConfigError> {
        let class = class.trim();
        if SINK_CLASSES.contains(&class) {
            Ok(Self::CassandraSink)
        } else if SOURCE_CLASSES.contains(&class) {
            Ok(Self::CassandraSource)
        } else {
            Err(ConfigError::invalid(
                "connector.class",
                format!(
                    "unknown connector class '{class}'; available: spillway.CassandraSink (also under its Lenses and DataStax class names) and spillway.CassandraSource (also under its Lenses class name)"
                ),
            ))
        }
    }

    /// Connect's type string (`sink` / `source`).
    pub fn type_name(self) -> &'static str {
        match self {
            Self::CassandraSink => "sink",
            Self::CassandraSource => "source",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        for class in SINK_CLASSES {
            assert_eq!(ConnectorKind::from_class(class).unwrap(), ConnectorKind::CassandraSink);
        }
        assert_eq!(
            ConnectorKind::from_class("io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector")
                .unwrap(),
            ConnectorKind::CassandraSource
        );
        let err = ConnectorKind::from_class("FileStreamSink").unwrap_err().to_string();
        assert!(err.contains("connector.class") && err.contains("FileStreamSink"), "{err}");
    }
}
