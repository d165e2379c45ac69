//! Kafka Connect's `HeaderFrom$Key` / `HeaderFrom$Value`: copies (`operation=copy`) or moves
//! (`operation=move`: removed from the key/value, and from its schema) the struct fields `fields`
//! into the headers `headers` (the lists pair up in order). Headers are added after the record's
//! existing ones, never replacing them.
//!
//! A header's value is the field's value as JSON text (what the JSON header converter reads); a
//! null or missing field gives a null header. With a schema, a null field with a default reads as
//! the default while `replace.null.with.default` is true (Connect's `Struct.get`), in the headers
//! and in the fields a move leaves; a field the schema does not have fails the record.
//!
//! As in Connect, a null key/value (a tombstone) fails (`Only Map objects supported in absence
//! of schema for [header copy], found: null`): guard the transform with the `RecordIsTombstone`
//! predicate and `negate=true` where tombstones occur.

use connect_std::connect_data::{field_value, invalid_config, schema_entries, schema_entry};
use connect_std::{Side, Subject, schema_field_name};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Move,
    Copy,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Move => "move",
            Operation::Copy => "copy",
        }
    }
}

struct HeaderFrom {
    /// (field, header) pairs.
    pairs: Vec<(String, String)>,
    operation: Operation,
    replace_null_with_default: bool,
}

impl Plugin for HeaderFrom {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.HeaderFrom${side}"), "0.1.0")
            .alias(&format!("HeaderFrom${side}"))
            .doc(&format!(
                "Moves or copies fields in the {} of a record into that record's headers. Corresponding elements of fields and headers together identify a field and the header it should be moved or copied to.",
                side.to_lowercase()
            ))
            .param(Param::list("fields").required().doc("Field names in the record whose values are to be copied or moved to headers."))
            .param(Param::list("headers").required().doc("Header names, in the same order as the field names listed in the fields configuration property."))
            .param(Param::string("operation").required().doc("Either move if the fields are to be moved to the headers (removed from the key/value), or copy if the fields are to be copied to the headers (retained in the key/value)."))
            .param(Param::boolean("replace.null.with.default").default("true").doc("Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let fields = config.list("fields");
        let headers = config.list("headers");
        for (key, list) in [("fields", &fields), ("headers", &headers)] {
            if list.is_empty() {
                return Err(invalid_config(key, "[]", "Empty list"));
            }
        }
        let operation = match config.required("operation")? {
            "move" => Operation::Move,
            "copy" => Operation::Copy,
            other => return Err(invalid_config("operation", other, "String must be one of: move, copy")),
        };
        if fields.len() != headers.len() {
            return Err("'fields' config must have the same number of elements as 'headers' config.".into());
        }
        Ok(Self {
            pairs: fields.into_iter().zip(headers).collect(),
            operation,
            replace_null_with_default: config.bool_or("replace.null.with.default", true)?,
        })
    }
}

impl HeaderFrom {
    fn moves(&self, field: &str) -> bool {
        self.operation == Operation::Move && self.pairs.iter().any(|(f, _)| f == field)
    }

    /// The key/value and schema a move leaves: the other fields; with a schema, Connect's moved
    /// schema (the old one's name, version, doc and parameters as `SchemaUtil.copySchemaBasics`
    /// copies them, the remaining fields, not optional) and its `Struct.get` values.
    fn remaining(&self, subject: &Subject) -> (Value, Option<Value>) {
        let Some(schema) = &subject.schema else {
            let fields = subject.value.fields().iter().filter(|(name, _)| !self.moves(name)).cloned().collect();
            return (Value::Struct(fields), None);
        };
        let entries: Vec<Value> = schema_entries(schema)
            .iter()
            .filter(|e| schema_field_name(e).is_none_or(|n| !self.moves(n)))
            .cloned()
            .collect();
        let fields = entries
            .iter()
            .map(|e| {
                let name = schema_field_name(e).unwrap_or_default().to_string();
                (name, field_value(&subject.value, e, self.replace_null_with_default))
            })
            .collect();
        let mut moved = Value::object();
        moved.insert("type", "struct");
        moved.insert("fields", Value::List(entries));
        moved.insert("optional", false);
        for key in ["name", "version", "doc", "parameters"] {
            if let Some(v) = schema.get(key).filter(|v| !v.is_null()) {
                moved.insert(key, v.clone());
            }
        }
        (Value::Struct(fields), Some(moved))
    }
}

impl Transform for HeaderFrom {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let purpose = format!("header {}", self.operation.name());
        let Some(subject) = Subject::read(&SIDE.data(record))? else {
            return Err(Error::new(format!(
                "Only Map objects supported in absence of schema for [{purpose}], found: null"
            )));
        };
        subject.require_struct(&purpose)?;
        let mut out = record.to_output();
        for (field, name) in &self.pairs {
            let value = match &subject.schema {
                None => subject.value.get(field).cloned().unwrap_or_default(),
                Some(schema) => {
                    let entry = schema_entry(schema, field)
                        .ok_or_else(|| Error::new(format!("{field} is not a valid field name")))?;
                    field_value(&subject.value, entry, self.replace_null_with_default)
                }
            };
            out.headers.push((name.clone(), if value.is_null() { Payload::Null } else { Payload::json(&value) }));
        }
        // A copy leaves the key/value as it is.
        if self.operation == Operation::Move {
            let (value, schema) = self.remaining(&subject);
            let payload = subject.with(value, schema).into_payload();
            match SIDE {
                Side::Key => out.key = payload,
                Side::Value => out.value = payload,
            }
        }
        Ok(Outcome::one(out))
    }
}

export_transform!(HeaderFrom);
