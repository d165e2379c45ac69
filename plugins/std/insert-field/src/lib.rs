//! Kafka Connect's `InsertField$Key` / `InsertField$Value`: inserts the record's topic, partition,
//! offset or timestamp, or a static text, as fields of a struct (a JSON object, or a struct with
//! its schema). Tombstones pass unchanged. `name!` makes a field required in the schema, `name?`
//! (or a bare name) optional.

use connect_std::{
    Form, Side, Subject, edited_struct_schema, field_schema, field_spec, plain_object, schema_field_name,
};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };

/// A field to insert: its name and whether it is optional, its value, its schema type and logical name.
type Insert<'a> = (&'a (String, bool), Value, &'static str, Option<&'static str>);

/// The transform; `fused-steps` runs it through [`InsertField::apply_raw`].
pub struct InsertField {
    topic: Option<(String, bool)>,
    partition: Option<(String, bool)>,
    offset: Option<(String, bool)>,
    timestamp: Option<(String, bool)>,
    static_field: Option<((String, bool), String)>,
}

fn spec(config: &Config, key: &str) -> Option<(String, bool)> {
    Some(config.get_or(key, "").trim()).filter(|s| !s.is_empty()).map(field_spec)
}

impl Plugin for InsertField {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.InsertField${side}"), "0.1.0")
            .alias(&format!("InsertField${side}"))
            .doc(&format!(
                "Insert field(s) using attributes from the record metadata or a configured static value, into the record {}.",
                side.to_lowercase()
            ))
            .param(Param::string("topic.field").default("").doc("Field name for the topic; suffix with ! to make it required, ? optional (the default)."))
            .param(Param::string("partition.field").default("").doc("Field name for the Kafka partition (int32)."))
            .param(Param::string("offset.field").default("").doc("Field name for the Kafka offset (int64)."))
            .param(Param::string("timestamp.field").default("").doc("Field name for the record timestamp (a Timestamp; epoch milliseconds in schemaless JSON)."))
            .param(Param::string("static.field").default("").doc("Field name for a static text value."))
            .param(Param::string("static.value").default("").doc("The static text value."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let static_field = spec(config, "static.field");
        let static_value = config.get_or("static.value", "").to_string();
        if static_field.is_some() == static_value.is_empty() {
            return Err("'static.field' and 'static.value' go together: set both or neither".into());
        }
        let this = Self {
            topic: spec(config, "topic.field"),
            partition: spec(config, "partition.field"),
            offset: spec(config, "offset.field"),
            timestamp: spec(config, "timestamp.field"),
            static_field: static_field.map(|f| (f, static_value)),
        };
        if this.topic.is_none()
            && this.partition.is_none()
            && this.offset.is_none()
            && this.timestamp.is_none()
            && this.static_field.is_none()
        {
            return Err(
                "set at least one of topic.field, partition.field, offset.field, timestamp.field, static.field".into(),
            );
        }
        Ok(this)
    }
}

impl InsertField {
    /// The fields to insert into this record (timestamps typed when the value is).
    fn inserts(&self, record: &Record<'_>, typed: bool) -> Result<Vec<Insert<'_>>, Error> {
        let mut inserts: Vec<Insert<'_>> = Vec::new();
        if let Some(f) = &self.topic {
            inserts.push((f, Value::Text(record.topic().to_string()), "string", None));
        }
        if let Some(f) = &self.partition {
            inserts.push((f, Value::Int32(record.partition()), "int32", None));
        }
        if let Some(f) = &self.offset {
            inserts.push((f, Value::Int64(record.offset()), "int64", None));
        }
        if let Some(f) = &self.timestamp {
            let value = match record.timestamp() {
                None => Value::Null,
                Some(ms) if typed => Value::Timestamp(ms),
                Some(ms) => Value::Int64(ms),
            };
            inserts.push((f, value, "int64", Some("org.apache.kafka.connect.data.Timestamp")));
        }
        if let Some((f, text)) = &self.static_field {
            inserts.push((f, Value::Text(text.clone()), "string", None));
        }
        for ((name, optional), v, _, _) in &inserts {
            if v.is_null() && !optional {
                return Err(Error::new(format!("field '{name}' is required but the record has no value for it")));
            }
        }
        Ok(inserts)
    }

    /// The edit on a plain JSON object, its values left as written.
    pub fn apply_raw(&self, object: &mut RawObject<'_>, record: &Record<'_>) -> Result<(), Error> {
        for ((name, _), v, _, _) in self.inserts(record, false)? {
            object.set(name, v);
        }
        Ok(())
    }
}

impl Transform for InsertField {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let data = SIDE.data(record);
        if let Some(mut object) = plain_object(&data) {
            self.apply_raw(&mut object, record)?;
            return Ok(SIDE.replace(record, Payload::Bytes(object.to_json())));
        }
        let Some(subject) = Subject::read(&data)? else { return Ok(Outcome::Keep) };
        subject.require_struct("field insertion")?;
        let inserts = self.inserts(record, subject.form == Form::Typed)?;
        let mut value = subject.value.clone();
        for ((name, _), v, _, _) in &inserts {
            value.insert(name.as_str(), v.clone());
        }
        let schema = subject.schema.as_ref().map(|schema| {
            let mut fields: Vec<Value> = schema
                .get("fields")
                .map(|f| match f {
                    Value::List(items) => items.clone(),
                    _ => Vec::new(),
                })
                .unwrap_or_default();
            for ((name, optional), _, typ, logical) in &inserts {
                fields.retain(|f| schema_field_name(f) != Some(name.as_str()));
                fields.push(field_schema(name, typ, *optional, *logical));
            }
            edited_struct_schema(schema, fields)
        });
        let out = subject.with(value, schema).into_payload();
        Ok(SIDE.replace(record, out))
    }
}

#[cfg(any(feature = "key", feature = "value"))]
export_transform!(InsertField);
