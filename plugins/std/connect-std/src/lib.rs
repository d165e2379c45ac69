//! What Kafka Connect's built-in transforms share, for the plugins of `plugins/std/`: the value (or
//! key) a transform acts on, with its schema when it has one, and the schema edits they make.
//!
//! A value arrives as JSON bytes (schemaless, or in JsonConverter's `{"schema", "payload"}`
//! envelope, which is then read as a value with a schema) or typed from the host (with an optional
//! schema). It leaves in the form it came in.

use spillway_plugin_sdk::{Data, Error, Outcome, Payload, RawObject, RawValue, Record, Value};

pub mod format;
pub mod java_regex;

/// Which part of the record a `$Key` / `$Value` transform acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The record key (`…$Key`).
    Key,
    /// The record value (`…$Value`).
    Value,
}

impl Side {
    /// `Key` or `Value`, as in the class names.
    pub fn name(self) -> &'static str {
        match self {
            Side::Key => "Key",
            Side::Value => "Value",
        }
    }

    /// The record's key or value.
    pub fn data<'a>(self, record: &Record<'a>) -> Data<'a> {
        match self {
            Side::Key => record.key(),
            Side::Value => record.value(),
        }
    }

    /// The record with this side replaced.
    pub fn replace(self, record: &Record<'_>, payload: Payload) -> Outcome {
        match self {
            Side::Value => Outcome::Value(payload),
            Side::Key => Outcome::one(record.to_output().with_key(payload)),
        }
    }
}

/// How a subject was encoded, so it leaves the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Plain JSON bytes.
    Json,
    /// JsonConverter's `{"schema": …, "payload": …}` envelope.
    Envelope,
    /// A typed value from the host.
    Typed,
}

/// A value with its schema (Kafka Connect's JSON schema shape), as a transform sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// The value.
    pub value: Value,
    /// Its schema, when it has one.
    pub schema: Option<Value>,
    /// How it came in.
    pub form: Form,
}

impl Subject {
    /// Reads a key or value; `None` for null (a tombstone, a null key).
    pub fn read(data: &Data<'_>) -> Result<Option<Subject>, Error> {
        match data {
            Data::Null => Ok(None),
            Data::Typed(t) => Ok(Some(Subject {
                value: t.value().map_err(Error::new)?,
                schema: t.schema().map_err(Error::new)?,
                form: Form::Typed,
            })),
            Data::Bytes(bytes) => {
                let value = Value::from_json(bytes).map_err(|e| Error::new(format!("not JSON: {e}")))?;
                Ok(Some(match value {
                    Value::Struct(fields) if is_envelope(&fields) => {
                        let mut fields = fields.into_iter();
                        let (mut schema, mut payload) = (Value::Null, Value::Null);
                        for (name, v) in fields.by_ref() {
                            if name == "schema" {
                                schema = v;
                            } else {
                                payload = v;
                            }
                        }
                        Subject { value: payload, schema: Some(schema), form: Form::Envelope }
                    }
                    value => Subject { value, schema: None, form: Form::Json },
                }))
            }
        }
    }

    /// A new subject in the same form as this one.
    pub fn with(&self, value: Value, schema: Option<Value>) -> Subject {
        Subject { value, schema, form: self.form }
    }

    /// Encodes it the way it came in.
    pub fn into_payload(self) -> Payload {
        match self.form {
            Form::Typed => Payload::Typed { value: self.value, schema: self.schema },
            Form::Json => Payload::Bytes(self.value.to_json()),
            Form::Envelope => {
                let schema = self.schema.unwrap_or(Value::Null);
                Payload::Bytes(Value::Struct(vec![("schema".into(), schema), ("payload".into(), self.value)]).to_json())
            }
        }
    }

    /// The struct's fields, or an error in Connect's words naming the transform's purpose.
    pub fn require_struct(&self, purpose: &str) -> Result<(), Error> {
        match (&self.value, &self.schema) {
            (Value::Struct(_), _) => Ok(()),
            (other, None) => Err(Error::new(format!(
                "Only Map objects supported in absence of schema for [{purpose}], found: {}",
                other.kind()
            ))),
            (other, Some(_)) => {
                Err(Error::new(format!("Only Struct objects supported for [{purpose}], found: {}", other.kind())))
            }
        }
    }
}

/// Plain JSON object bytes, read without building their values: the fast path of transforms that
/// edit top-level fields and copy the rest through ([`RawObject`]). `None` for anything else —
/// null, a typed value, JsonConverter's envelope, JSON that is not an object or not valid — which
/// takes the general path through [`Subject`] (where errors are worded).
pub fn plain_object<'a>(data: &Data<'a>) -> Option<RawObject<'a>> {
    let Data::Bytes(bytes) = data else { return None };
    let object = RawObject::parse(bytes).ok()??;
    let envelope = object.fields().len() == 2
        && object.field("payload").is_some()
        && object.field("schema").is_some_and(|f| matches!(f.value, RawValue::Json([b'{', ..])));
    (!envelope).then_some(object)
}

fn is_envelope(fields: &[(String, Value)]) -> bool {
    fields.len() == 2
        && fields.iter().any(|(n, _)| n == "payload")
        && fields.iter().any(|(n, v)| n == "schema" && matches!(v, Value::Struct(_)))
}

/// A schema's `fields` list (for a struct schema).
pub fn schema_fields_mut(schema: &mut Value) -> Option<&mut Vec<Value>> {
    match schema.get_mut("fields") {
        Some(Value::List(fields)) => Some(fields),
        _ => None,
    }
}

/// The `field` name of an entry of a struct schema's `fields`.
pub fn schema_field_name(field: &Value) -> Option<&str> {
    field.get("field").and_then(Value::as_str)
}

/// A field entry for a struct schema: `{"type", "optional", "field"}`, plus a logical `name`.
pub fn field_schema(name: &str, typ: &str, optional: bool, logical: Option<&str>) -> Value {
    let mut s = Value::object();
    s.insert("type", typ);
    s.insert("optional", optional);
    if let Some(logical) = logical {
        s.insert("name", logical);
        s.insert("version", Value::Int64(1));
    }
    s.insert("field", name);
    s
}

/// A struct schema with new fields: the `name` and `version` of the old one are dropped, as
/// Connect's transforms do when they build a new schema.
pub fn edited_struct_schema(schema: &Value, fields: Vec<Value>) -> Value {
    let mut out = Value::object();
    out.insert("type", "struct");
    out.insert("fields", Value::List(fields));
    let optional = schema.get("optional").and_then(Value::as_bool).unwrap_or(false);
    out.insert("optional", optional);
    out
}

/// A `name!` (required) or `name?` (optional, the default) field spec, as InsertField takes them.
pub fn field_spec(spec: &str) -> (String, bool) {
    if let Some(name) = spec.strip_suffix('!') {
        (name.to_string(), false)
    } else if let Some(name) = spec.strip_suffix('?') {
        (name.to_string(), true)
    } else {
        (spec.to_string(), true)
    }
}

/// Connect's schema and `Struct` semantics over JSON-shaped schemas, and KIP-821 field paths.
/// Connect's data model (the `connect-data` crate), under the name the transforms use.
pub use connect_data;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_read_as_values_with_schemas_and_written_back() {
        let json = br#"{"schema":{"type":"struct","fields":[]},"payload":{"a":1}}"#;
        let s = Subject::read(&Data::Bytes(json)).unwrap().unwrap();
        assert_eq!(s.form, Form::Envelope);
        assert_eq!(s.value.get("a"), Some(&Value::Int64(1)));
        assert_eq!(s.into_payload(), Payload::Bytes(json.to_vec()));
        let plain = Subject::read(&Data::Bytes(br#"{"schema":"x","payload":1}"#)).unwrap().unwrap();
        assert_eq!(plain.form, Form::Json, "a schema that is not a struct is just a field");
    }

    #[test]
    fn only_plain_json_objects_take_the_fast_path() {
        let plain = plain_object(&Data::Bytes(br#"{"schema":"x","payload":1}"#)).expect("an object");
        assert_eq!(plain.fields().len(), 2);
        for other in [&br#"{"schema":{"type":"struct","fields":[]},"payload":{"a":1}}"#[..], b"[1]", b"12", b"{\"a\":"]
        {
            assert_eq!(plain_object(&Data::Bytes(other)), None, "{}", String::from_utf8_lossy(other));
        }
        assert_eq!(plain_object(&Data::Null), None);
    }

    #[test]
    fn field_specs_mark_required_and_optional() {
        assert_eq!(field_spec("a!"), ("a".into(), false));
        assert_eq!(field_spec("a?"), ("a".into(), true));
        assert_eq!(field_spec("a"), ("a".into(), true));
    }
}
