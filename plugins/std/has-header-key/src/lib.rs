//! Kafka Connect's predicate `HasHeaderKey`: true for records with at least one header called
//! `name` (whatever its value, null included).
//!
//! A predicate is a plugin of the transform world: `apply` answers `Keep` when the predicate
//! MATCHES the record and `Drop` when it does not. The host runs it to decide which records the
//! transform it guards (`transforms.<alias>.predicate`, `negate`) applies to; the record itself
//! is never changed.

use spillway_plugin_sdk::*;

struct HasHeaderKey {
    name: String,
}

impl Plugin for HasHeaderKey {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.predicates.HasHeaderKey", "0.1.0")
            .alias("HasHeaderKey")
            .doc("A predicate which is true for records with at least one header with the configured name. As a plugin: Keep means the predicate matches the record, Drop that it does not.")
            .param(Param::string("name").required().doc("The header name."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let name = config.required("name")?;
        if name.is_empty() {
            return Err(format!("Invalid value {name} for configuration name: String must be non-empty"));
        }
        Ok(Self { name: name.to_string() })
    }
}

impl Transform for HasHeaderKey {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        Ok(if record.headers().any(|(k, _)| k == self.name) { Outcome::Keep } else { Outcome::Drop })
    }
}

export_transform!(HasHeaderKey);
