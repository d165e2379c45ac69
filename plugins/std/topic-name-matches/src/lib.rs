//! Kafka Connect's predicate `TopicNameMatches`: true for records whose whole topic name matches
//! `pattern` (a Java regular expression, `Matcher.matches()`; see `connect_std::java_regex` for
//! what of Java's syntax is supported).
//!
//! A predicate is a plugin of the transform world: `apply` answers `Keep` when the predicate
//! MATCHES the record and `Drop` when it does not. The host runs it to decide which records the
//! transform it guards (`transforms.<alias>.predicate`, `negate`) applies to; the record itself
//! is never changed.

use connect_std::connect_data::invalid_config;
use connect_std::java_regex::JavaRegex;
use spillway_plugin_sdk::*;

struct TopicNameMatches {
    pattern: JavaRegex,
}

impl Plugin for TopicNameMatches {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "0.1.0")
            .alias("TopicNameMatches")
            .doc("A predicate which is true for records with a topic name that matches the configured regular expression. As a plugin: Keep means the predicate matches the record, Drop that it does not.")
            .param(
                Param::string("pattern")
                    .required()
                    .doc("A Java regular expression for matching against the name of a record's topic."),
            )
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let pattern = config.required("pattern")?;
        if pattern.is_empty() {
            return Err(invalid_config("pattern", pattern, "String must be non-empty"));
        }
        let pattern = JavaRegex::compile(pattern)
            .map_err(|e| invalid_config("pattern", pattern, &format!("Invalid regex: {e}")))?;
        Ok(Self { pattern })
    }
}

impl Transform for TopicNameMatches {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        Ok(if self.pattern.matches(record.topic()) { Outcome::Keep } else { Outcome::Drop })
    }
}

export_transform!(TopicNameMatches);
