//! The dead letter queue: records the error policy skips are produced to a topic, with Connect's
//! `__connect.errors.*` headers when asked. A record counts as done only once Kafka acknowledged it.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::config::{Settings, WorkerConfig};
use crate::pipeline::record::SinkRecord;

/// Where in the pipeline a record failed (Connect's `__connect.errors.stage` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The key converter.
    KeyConverter,
    /// The value converter.
    ValueConverter,
    /// A single-message transform.
    Transformation,
    /// Mapping or writing (Connect's sink `put`).
    TaskPut,
}

impl Stage {
    /// Connect's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyConverter => "KEY_CONVERTER",
            Self::ValueConverter => "VALUE_CONVERTER",
            Self::Transformation => "TRANSFORMATION",
            Self::TaskPut => "TASK_PUT",
        }
    }
}

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Pipeline stage.
    pub stage: Stage,
    /// The class that failed (converter or connector class).
    pub class_name: String,
    /// The kind of error.
    pub exception_class: String,
    /// The reason.
    pub message: String,
}

/// A producer to the dead letter queue topic.
pub struct DeadLetterQueue {
    producer: FutureProducer,
    topic: String,
    context_headers: bool,
    connector: String,
    task_id: u32,
}

impl std::fmt::Debug for DeadLetterQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterQueue").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl DeadLetterQueue {
    /// Creates the topic when it does not exist, and the producer.
    pub async fn open(
        worker: &WorkerConfig,
        overrides: &Settings,
        topic: &str,
        replication_factor: i32,
        context_headers: bool,
        connector: &str,
        task_id: u32,
    ) -> Result<Self, KafkaError> {
        let overrides = crate::config::security::kafka_client_settings(
            &[("producer.override.", overrides)],
            false,
            &mut Vec::new(),
        )
        .map_err(|e| KafkaError::ClientCreation(e.to_string()))?;
        let mut config = super::client_config(worker);
        for (k, v) in worker.producer.0.iter().chain(overrides.0.iter()) {
            config.set(k, v);
        }
        // Nothing skipped may be lost: wait for all replicas, no duplicates on retry.
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("client.id", format!("{connector}-{task_id}-dlq"));
        let admin: AdminClient<DefaultClientContext> = config.create()?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let created = admin
            .create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(replication_factor))], &options)
            .await?;
        for result in created {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(KafkaError::AdminOp(code)),
            }
        }
        Ok(Self {
            producer: config.create()?,
            topic: topic.to_string(),
            context_headers,
            connector: connector.to_string(),
            task_id,
        })
    }

    /// Produces the record (its key, value and headers as read) plus the error context; resolves
    /// when Kafka acknowledged it.
    pub fn send(
        &self,
        record: &SinkRecord,
        failure: &Failure,
    ) -> impl std::future::Future<Output = Result<(), KafkaError>> + Send + 'static {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len() + 10);
        for (key, value) in &record.headers {
            headers = headers.insert(Header { key, value: value.as_deref() });
        }
        if self.context_headers {
            let (partition, offset, task) =
                (record.partition.to_string(), record.offset.to_string(), self.task_id.to_string());
            for (key, value) in [
                ("__connect.errors.topic", &*record.topic),
                ("__connect.errors.partition", &partition),
                ("__connect.errors.offset", &offset),
                ("__connect.errors.connector.name", &self.connector),
                ("__connect.errors.task.id", &task),
                ("__connect.errors.stage", failure.stage.as_str()),
                ("__connect.errors.class.name", &failure.class_name),
                ("__connect.errors.exception.class.name", &failure.exception_class),
                ("__connect.errors.exception.message", &failure.message),
                ("__connect.errors.exception.stacktrace", &failure.message),
            ] {
                headers = headers.insert(Header { key, value: Some(value.as_bytes()) });
            }
        }
        let (producer, topic) = (self.producer.clone(), self.topic.clone());
        let (key, value, timestamp) = (record.key.clone(), record.value.clone(), record.timestamp_ms);
        async move {
            let mut out: FutureRecord<'_, Vec<u8>, Vec<u8>> = FutureRecord::to(&topic).headers(headers);
            if let Some(k) = key.as_ref() {
                out = out.key(k);
            }
            if let Some(v) = value.as_ref() {
                out = out.payload(v);
            }
            if let Some(ts) = timestamp {
                out = out.timestamp(ts);
            }
            producer.send(out, Duration::from_secs(60)).await.map(|_| ()).map_err(|(e, _)| e)
        }
    }
}
