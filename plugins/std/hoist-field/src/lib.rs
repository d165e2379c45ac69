//! Kafka Connect's `HoistField$Key` / `HoistField$Value`: wraps the whole key or value in a struct
//! with the single field `field` — a JSON object `{field: value}` schemaless, or a struct whose
//! schema has one field carrying the original schema (JsonConverter's envelope or typed values).
//!
//! Tombstones: Connect's `HoistField.apply` has no null check, and a null key/value (JsonConverter
//! reads null bytes as no schema and no value) takes the schemaless path, so it is hoisted too:
//! a tombstone becomes `{field: null}` (plain JSON, since a null record carries no schema). We do
//! the same, to be faithful; filter tombstones first (the `RecordIsTombstone` predicate) to keep
//! them as deletes.

use connect_std::connect_data::schema_as_entry;
use connect_std::{Side, Subject};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };

struct HoistField {
    field: String,
}

impl Plugin for HoistField {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.HoistField${side}"), "0.1.0")
            .alias(&format!("HoistField${side}"))
            .doc(&format!(
                "Wrap the record {} using the specified field name in a Struct when schema present, or a Map in the case of schemaless data.",
                side.to_lowercase()
            ))
            .param(
                Param::string("field")
                    .required()
                    .doc("Field name for the single field that will be created in the resulting Struct or Map."),
            )
    }

    fn configure(config: &Config) -> Result<Self, String> {
        Ok(Self { field: config.required("field")?.to_string() })
    }
}

impl Transform for HoistField {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(subject) = Subject::read(&SIDE.data(record))? else {
            let hoisted = Value::Struct(vec![(self.field.clone(), Value::Null)]);
            return Ok(SIDE.replace(record, Payload::json(&hoisted)));
        };
        let Subject { value, schema, form } = subject;
        // SchemaBuilder.struct().field(field, schema): a required, unnamed struct.
        let schema = schema.map(|schema| {
            let mut s = Value::object();
            s.insert("type", "struct");
            s.insert("optional", false);
            s.insert("fields", Value::List(vec![schema_as_entry(&self.field, &schema)]));
            s
        });
        let value = Value::Struct(vec![(self.field.clone(), value)]);
        Ok(SIDE.replace(record, Subject { value, schema, form }.into_payload()))
    }
}

export_transform!(HoistField);
