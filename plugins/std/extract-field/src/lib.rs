//! Kafka Connect's `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of
//! its fields (and, with a schema, the field's schema). `field.syntax.version=V2` (KIP-821) reads
//! `field` as a dotted path into nested structs, with backtick pairs around names holding dots.
//!
//! As in Connect: null (a tombstone) passes through; schemaless, a missing field extracts null (the
//! record then carries a null key/value); with a schema, a field the schema lacks is an error
//! ("Unknown field: …"). A null field reads its schema default unless
//! `replace.null.with.default=false`.

use connect_std::connect_data::{connect_type, entry_schema, field_path, field_syntax_v2, field_value, schema_entry};
use connect_std::{Side, Subject};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };
const PURPOSE: &str = "field extraction";
const NESTED: &str = "nested field access";

struct ExtractField {
    path: String,
    steps: Vec<String>,
    replace_null_with_default: bool,
}

impl Plugin for ExtractField {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.ExtractField${side}"), "0.1.0")
            .alias(&format!("ExtractField${side}"))
            .doc(&format!(
                "Extract the specified field from a Struct when schema present, or a Map in the case of schemaless data, in the record {}. Any null values are passed through unmodified.",
                side.to_lowercase()
            ))
            .param(Param::string("field").required().doc("Field name to extract."))
            .param(Param::string("field.syntax.version").default("V1").doc(
                "Defines the version of the syntax to access fields. If set to `V1`, then the field paths are limited to access the elements at the root level of the struct or map. If set to `V2`, the syntax will support accessing nested elements. To access nested elements, dotted notation is used. If dots are already included in the field name, then backtick pairs can be used to wrap field names containing dots. E.g. to access the subfield `baz` from a field named \"foo.bar\" in a struct/map the following format can be used to access its elements: \"`foo.bar`.baz\".",
            ))
            .param(Param::boolean("replace.null.with.default").default(true).doc(
                "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
            ))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let path = config.required("field")?.to_string();
        let mut steps = field_path(&path, field_syntax_v2(config)?)?;
        if steps.is_empty() {
            // An empty V2 path: Connect fails on its (missing) last step; read it as the field "".
            steps.push(String::new());
        }
        let replace_null_with_default = config.bool_or("replace.null.with.default", true)?;
        Ok(Self { path, steps, replace_null_with_default })
    }
}

fn not_map(purpose: &str, v: &Value) -> Error {
    Error::new(format!("Only Map objects supported in absence of schema for [{purpose}], found: {}", v.kind()))
}

fn not_struct(purpose: &str, found: &str) -> Error {
    Error::new(format!("Only Struct objects supported for [{purpose}], found: {found}"))
}

impl ExtractField {
    /// `SingleFieldPath.valueFrom(Map)`: a null (or missing) step extracts null, any other non-map is an error.
    fn schemaless(&self, value: &Value) -> Result<Value, Error> {
        let Some((last, parents)) = self.steps.split_last() else { return Ok(Value::Null) };
        let mut current = value;
        for step in parents {
            match current.get(step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(next @ Value::Struct(_)) => current = next,
                Some(other) => return Err(not_map(NESTED, other)),
            }
        }
        Ok(current.get(last).cloned().unwrap_or(Value::Null))
    }

    /// `SingleFieldPath.fieldFrom(Schema)`: the field's entry, `None` when a step is missing.
    fn field_entry<'a>(&self, schema: &'a Value) -> Result<Option<&'a Value>, Error> {
        let mut current = schema;
        for (i, step) in self.steps.iter().enumerate() {
            if connect_type(current) != "struct" {
                return Err(Error::new("Cannot look up fields on non-struct type"));
            }
            match schema_entry(current, step) {
                Some(entry) if i + 1 == self.steps.len() => return Ok(Some(entry)),
                Some(entry) => current = entry,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// `SingleFieldPath.valueFrom(Struct)`, walking the schema alongside the value.
    fn with_schema(&self, value: &Value, schema: &Value) -> Result<Value, Error> {
        let (mut current, mut current_schema) = (value.clone(), schema);
        for (i, step) in self.steps.iter().enumerate() {
            let Some(entry) = schema_entry(current_schema, step) else { return Ok(Value::Null) };
            let v = field_value(&current, entry, self.replace_null_with_default);
            if i + 1 == self.steps.len() {
                return Ok(v);
            }
            match v {
                Value::Null => return Ok(Value::Null),
                Value::Struct(_) if connect_type(entry) == "struct" => {
                    current = v;
                    current_schema = entry;
                }
                _ => return Err(not_struct(NESTED, connect_type(entry))),
            }
        }
        Ok(Value::Null)
    }
}

impl Transform for ExtractField {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(subject) = Subject::read(&SIDE.data(record))? else { return Ok(Outcome::Keep) };
        let out = match &subject.schema {
            None => {
                let value = match &subject.value {
                    Value::Null => Value::Null,
                    v @ Value::Struct(_) => self.schemaless(v)?,
                    other => return Err(not_map(PURPOSE, other)),
                };
                // No schema and a null value is a null record key/value (a tombstone for values).
                if value.is_null() { Payload::Null } else { subject.with(value, None).into_payload() }
            }
            Some(schema) => {
                if !subject.value.is_null()
                    && (connect_type(schema) != "struct" || !matches!(subject.value, Value::Struct(_)))
                {
                    return Err(not_struct(PURPOSE, connect_type(schema)));
                }
                let Some(entry) = self.field_entry(schema)? else {
                    return Err(Error::new(format!("Unknown field: {}", self.path)));
                };
                let value =
                    if subject.value.is_null() { Value::Null } else { self.with_schema(&subject.value, schema)? };
                subject.with(value, Some(entry_schema(entry))).into_payload()
            }
        };
        Ok(SIDE.replace(record, out))
    }
}

export_transform!(ExtractField);
