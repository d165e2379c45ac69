//! Kafka Connect's predicate `RecordIsTombstone`: true for records whose value is null. As
//! Connect sees values through JsonConverter, that is null bytes, the JSON text `null`, and an
//! envelope `{"schema": …, "payload": null}`; a typed null value too. Any other value, JSON or
//! not, is not a tombstone.
//!
//! A predicate is a plugin of the transform world: `apply` answers `Keep` when the predicate
//! MATCHES the record and `Drop` when it does not. The host runs it to decide which records the
//! transform it guards (`transforms.<alias>.predicate`, `negate`) applies to; the record itself
//! is never changed.

use connect_std::{Form, Subject};
use spillway_plugin_sdk::*;

struct RecordIsTombstone;

impl Plugin for RecordIsTombstone {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.predicates.RecordIsTombstone", "0.1.0")
            .alias("RecordIsTombstone")
            .doc("A predicate which is true for records which are tombstones (i.e. have null value). As a plugin: Keep means the predicate matches the record, Drop that it does not.")
    }

    fn configure(_config: &Config) -> Result<Self, String> {
        Ok(Self)
    }
}

/// Whether `bytes` may hold `"payload"` (only then is an envelope worth parsing).
fn mentions_payload(bytes: &[u8]) -> bool {
    bytes.windows(9).any(|w| w == b"\"payload\"")
}

fn is_tombstone(value: &Data<'_>) -> bool {
    match value {
        Data::Null => true,
        Data::Typed(t) => t.value().is_ok_and(|v| v.is_null()),
        Data::Bytes(b) if b.trim_ascii() == b"null" => true,
        Data::Bytes(b) if b.trim_ascii_start().starts_with(b"{") && mentions_payload(b) => {
            // Bytes that are not JSON are a value, not a tombstone.
            matches!(Subject::read(value), Ok(Some(s)) if s.form == Form::Envelope && s.value.is_null())
        }
        Data::Bytes(_) => false,
    }
}

impl Transform for RecordIsTombstone {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        Ok(if is_tombstone(&record.value()) { Outcome::Keep } else { Outcome::Drop })
    }
}

export_transform!(RecordIsTombstone);
