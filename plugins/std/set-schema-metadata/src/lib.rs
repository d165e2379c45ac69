//! Kafka Connect's `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the `name` and / or
//! `version` of the key or value schema (JsonConverter's envelope, or typed values with a schema);
//! the value is unchanged, except that null struct fields read their schema defaults unless
//! `replace.null.with.default=false` (Connect rebuilds the Struct with `Struct.get`).
//!
//! A schema is required: schemaless JSON, and a tombstone (which JsonConverter reads as no schema
//! and no value), are per-record errors in Connect's words ("Schema required for [updating schema
//! metadata]"), as in Connect.

use connect_std::connect_data::{connect_type, field_value, schema_entries};
use connect_std::{Side, Subject};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };

struct SetSchemaMetadata {
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
}

impl Plugin for SetSchemaMetadata {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.SetSchemaMetadata${side}"), "0.1.0")
            .alias(&format!("SetSchemaMetadata${side}"))
            .doc(&format!("Set the schema name, version or both on the record's {} schema.", side.to_lowercase()))
            .param(Param::string("schema.name").doc("Schema name to set."))
            .param(Param::int("schema.version").doc("Schema version to set."))
            .param(Param::boolean("replace.null.with.default").default(true).doc(
                "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
            ))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let name = config.get("schema.name").map(str::to_string);
        let version = match config.get("schema.version").map(str::trim) {
            None => None,
            Some(v) => Some(v.parse::<i32>().map_err(|_| {
                format!("Invalid value {v} for configuration schema.version: Not a number of type INT")
            })?),
        };
        if name.is_none() && version.is_none() {
            return Err("Neither schema name nor version configured".into());
        }
        let replace_null_with_default = config.bool_or("replace.null.with.default", true)?;
        Ok(Self { name, version, replace_null_with_default })
    }
}

impl Transform for SetSchemaMetadata {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let subject = Subject::read(&SIDE.data(record))?;
        let Some(Subject { value, schema: Some(mut schema), form }) = subject else {
            return Err(Error::new("Schema required for [updating schema metadata]"));
        };
        if let Some(name) = &self.name {
            schema.insert("name", name.as_str());
        }
        if let Some(version) = self.version {
            schema.insert("version", Value::Int64(version.into()));
        }
        // updateSchemaIn: a Struct is copied field by field into one of the new schema.
        let value = match value {
            Value::Struct(_) if connect_type(&schema) == "struct" => Value::Struct(
                schema_entries(&schema)
                    .iter()
                    .map(|entry| {
                        let name = entry.get("field").and_then(Value::as_str).unwrap_or_default().to_string();
                        (name, field_value(&value, entry, self.replace_null_with_default))
                    })
                    .collect(),
            ),
            other => other,
        };
        Ok(SIDE.replace(record, Subject { value, schema: Some(schema), form }.into_payload()))
    }
}

export_transform!(SetSchemaMetadata);
