//! Kafka Connect's `ValueToKey`: replaces the record key with a struct of `fields` copied from the
//! value (its schema built from the value's schema when it has one). The value is unchanged. The
//! key leaves in the value's form (JSON, JsonConverter's envelope, or typed).
//!
//! As in Connect: schemaless, a missing field is null in the key; with a schema, it is an error
//! ("Field does not exist: …"). Connect requires a Map / Struct value, so a tombstone is a
//! per-record error ("… found: null"), not passed through (filter tombstones first with the
//! `RecordIsTombstone` predicate).

use connect_std::Subject;
use connect_std::connect_data::{connect_type, field_value, invalid_config, schema_entry};
use spillway_plugin_sdk::*;

const PURPOSE: &str = "copying fields from value to key";

struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

impl Plugin for ValueToKey {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.ValueToKey", "0.1.0")
            .alias("ValueToKey")
            .doc("Replace the record key with a new key formed from a subset of fields in the record value.")
            .param(Param::list("fields").required().doc("Field names on the record value to extract as the record key."))
            .param(Param::boolean("replace.null.with.default").default(true).doc(
                "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
            ))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let fields = config.list("fields");
        if fields.is_empty() {
            return Err(invalid_config("fields", "[]", "Empty list"));
        }
        let replace_null_with_default = config.bool_or("replace.null.with.default", true)?;
        Ok(Self { fields, replace_null_with_default })
    }
}

impl Transform for ValueToKey {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(subject) = Subject::read(&record.value())? else {
            return Err(Error::new(format!(
                "Only Map objects supported in absence of schema for [{PURPOSE}], found: null"
            )));
        };
        let key = match &subject.schema {
            None => {
                subject.require_struct(PURPOSE)?;
                let fields = self
                    .fields
                    .iter()
                    .map(|f| (f.clone(), subject.value.get(f).cloned().unwrap_or(Value::Null)))
                    .collect();
                subject.with(Value::Struct(fields), None)
            }
            Some(schema) => {
                if connect_type(schema) != "struct" || !matches!(subject.value, Value::Struct(_)) {
                    let found = if subject.value.is_null() { "null" } else { connect_type(schema) };
                    return Err(Error::new(format!("Only Struct objects supported for [{PURPOSE}], found: {found}")));
                }
                let mut entries = Vec::with_capacity(self.fields.len());
                let mut fields = Vec::with_capacity(self.fields.len());
                for f in &self.fields {
                    let Some(entry) = schema_entry(schema, f) else {
                        return Err(Error::new(format!("Field does not exist: {f}")));
                    };
                    fields.push((f.clone(), field_value(&subject.value, entry, self.replace_null_with_default)));
                    entries.push(entry.clone());
                }
                // SchemaBuilder.struct() with the value's field schemas: a required, unnamed struct.
                let mut key_schema = Value::object();
                key_schema.insert("type", "struct");
                key_schema.insert("optional", false);
                key_schema.insert("fields", Value::List(entries));
                subject.with(Value::Struct(fields), Some(key_schema))
            }
        };
        Ok(Outcome::one(record.to_output().with_key(key.into_payload())))
    }
}

export_transform!(ValueToKey);
