//! The record as it moves through a sink pipeline: Kafka coordinates, raw bytes, and the converted value.

use std::sync::Arc;

use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers};

/// One Kafka record, owned, with its coordinates. Bytes stay bytes until a converter reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// Topic it was read from (shared: every record of a topic points at one string).
    pub topic: Arc<str>,
    /// Partition it was read from.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Record timestamp in milliseconds since the epoch, when the record has one.
    pub timestamp_ms: Option<i64>,
    /// Raw key bytes (`None` for a null key).
    pub key: Option<Vec<u8>>,
    /// Raw value bytes (`None` for a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order; a header value may be null.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl SinkRecord {
    /// Copies a consumed message out of librdkafka's buffer; `topic` is the message's topic name,
    /// interned by the caller.
    pub fn from_message(message: &BorrowedMessage<'_>, topic: Arc<str>) -> Self {
        let headers = message
            .headers()
            .map(|hs| hs.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default();
        Self {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            timestamp_ms: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
        }
    }

    /// `topic-partition@offset`, the record's name in logs and errors.
    pub fn coordinates(&self) -> String {
        format!("{}-{}@{}", self.topic, self.partition, self.offset)
    }
}
