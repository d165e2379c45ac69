//! Kafka Connect's `Filter`: drops every record it is applied to. It is meant to be used with a
//! predicate (`transforms.<alias>.predicate`, optionally `negate`), which the host evaluates to
//! decide which records reach the transform.

use spillway_plugin_sdk::*;

struct Filter;

impl Plugin for Filter {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.Filter", "0.1.0")
            .alias("Filter")
            .doc("Drops all records, filtering them from subsequent transformations in the chain. This is intended to be used conditionally to filter out records matching (or not matching) a particular Predicate.")
    }

    fn configure(_config: &Config) -> Result<Self, String> {
        Ok(Self)
    }
}

impl Transform for Filter {
    fn apply(&mut self, _record: &Record<'_>) -> Result<Outcome, Error> {
        Ok(Outcome::Drop)
    }
}

export_transform!(Filter);
