//! Kafka Connect's `TimestampRouter`: sends each record to a topic named after its topic and its
//! timestamp — `topic.format` with `${topic}` and `${timestamp}` replaced, the timestamp written
//! with `timestamp.format` (a Java `SimpleDateFormat` pattern, in UTC). Key, value and headers are
//! unchanged. A record without a timestamp fails, in Connect's words.
//!
//! The pattern is checked when the transform is configured (Connect only builds its
//! `SimpleDateFormat` for the first record); the letters supported are those of
//! `connect_std::format`.

use connect_std::connect_data::invalid_config;
use connect_std::format::Pattern;
use spillway_plugin_sdk::*;

struct TimestampRouter {
    topic_format: String,
    timestamp_format: Pattern,
}

impl Plugin for TimestampRouter {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.TimestampRouter", "0.1.0")
            .alias("TimestampRouter")
            .doc("Update the record's topic field as a function of the original topic value and the record timestamp. This is mainly useful for sink connectors, since the topic field is often used to determine the equivalent entity name in the destination system (e.g. database table or search index name).")
            .param(Param::string("topic.format").default("${topic}-${timestamp}").doc("Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively."))
            .param(Param::string("timestamp.format").default("yyyyMMdd").doc("Format string for the timestamp that is compatible with java.text.SimpleDateFormat (UTC)."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let pattern = config.get_or("timestamp.format", "yyyyMMdd");
        let timestamp_format =
            Pattern::compile(pattern).map_err(|e| invalid_config("timestamp.format", pattern, &e))?;
        Ok(Self { topic_format: config.get_or("topic.format", "${topic}-${timestamp}").to_string(), timestamp_format })
    }
}

impl Transform for TimestampRouter {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(ms) = record.timestamp() else {
            return Err(Error::new(format!(
                "Timestamp missing on record: ConnectRecord{{topic='{}', kafkaPartition={}, kafkaOffset={}, timestamp=null}}",
                record.topic(),
                record.partition(),
                record.offset()
            )));
        };
        // As Connect does: `${topic}` first, then `${timestamp}` in the result.
        let topic = self
            .topic_format
            .replace("${topic}", record.topic())
            .replace("${timestamp}", &self.timestamp_format.format(ms));
        if topic == record.topic() {
            return Ok(Outcome::Keep);
        }
        Ok(Outcome::one(record.to_output().with_topic(topic)))
    }
}

export_transform!(TimestampRouter);
