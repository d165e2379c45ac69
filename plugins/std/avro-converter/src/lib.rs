//! Confluent's `io.confluent.connect.avro.AvroConverter`: the Confluent wire format (magic byte 0,
//! a 4-byte big-endian schema id, then Avro binary) ↔ typed values with Connect schemas. Schemas
//! come from the registry at `schema.registry.url` through the host's schema-registry import
//! (cached per id); writing registers the value's schema under the subject of the naming strategy.

mod codec;
mod schema;

use std::collections::HashMap;

use schema::{Avro, from_connect, to_connect};
use spillway_plugin_sdk::*;

/// How subjects are named (`key.subject.name.strategy` / `value.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// `<topic>-key` / `<topic>-value`.
    Topic,
    /// The record's full name.
    Record,
    /// `<topic>-<record full name>`.
    TopicRecord,
}

fn strategy(config: &Config, key: &str) -> Result<Strategy, String> {
    let value = config.get_or(key, "io.confluent.kafka.serializers.subject.TopicNameStrategy");
    match value.rsplit('.').next().unwrap_or_default() {
        "TopicNameStrategy" => Ok(Strategy::Topic),
        "RecordNameStrategy" => Ok(Strategy::Record),
        "TopicRecordNameStrategy" => Ok(Strategy::TopicRecord),
        _ => Err(format!(
            "{key}: '{value}' is not one of TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy"
        )),
    }
}

struct AvroConverter {
    key_strategy: Strategy,
    value_strategy: Strategy,
    auto_register: bool,
    /// Schema id → the parsed schema and its Connect schema.
    by_id: HashMap<u32, (Avro, Value)>,
    /// (subject, Avro schema text) → id.
    registered: HashMap<(String, String), u32>,
}

impl Plugin for AvroConverter {
    fn describe() -> Descriptor {
        Descriptor::new("io.confluent.connect.avro.AvroConverter", "0.1.0")
            .alias("AvroConverter")
            .doc("Confluent's Avro converter: the Confluent wire format (magic byte, schema id, Avro binary) to typed values with Connect schemas, and back, through a schema registry.")
            .param(Param::string("schema.registry.url").required().doc("The schema registry's base URL (Confluent's REST API: Confluent Schema Registry, Karapace, Apicurio's ccompat API)."))
            .param(Param::boolean("auto.register.schemas").default("true").doc("Register the schema of written values under their subject."))
            .param(Param::string("key.subject.name.strategy").default("io.confluent.kafka.serializers.subject.TopicNameStrategy").doc("TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."))
            .param(Param::string("value.subject.name.strategy").default("io.confluent.kafka.serializers.subject.TopicNameStrategy").doc("TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."))
            .param(Param::boolean("enhanced.avro.schema.support").default("false").doc("Accepted for compatibility: enum and named types are always kept."))
            .param(Param::boolean("connect.meta.data").default("true").doc("Accepted for compatibility."))
            .param(Param::int("schemas.cache.config").default("1000").doc("Accepted for compatibility: schemas are cached per id for the plugin's life."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let url = config.required("schema.registry.url")?;
        if !url.trim().starts_with("http://") {
            return Err(format!("schema.registry.url: '{url}' must be an http:// URL"));
        }
        Ok(Self {
            key_strategy: strategy(config, "key.subject.name.strategy")?,
            value_strategy: strategy(config, "value.subject.name.strategy")?,
            auto_register: config.bool_or("auto.register.schemas", true)?,
            by_id: HashMap::new(),
            registered: HashMap::new(),
        })
    }
}

impl AvroConverter {
    fn schema(&mut self, id: u32) -> Result<&(Avro, Value), Error> {
        match self.by_id.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                let found = schema_registry::schema_by_id(id).map_err(|e| Error {
                    message: format!("schema {id} could not be fetched: {e}"),
                    retryable: true,
                })?;
                if !found.schema_type.eq_ignore_ascii_case("AVRO") {
                    return Err(Error::new(format!("schema {id} is a {} schema, not Avro", found.schema_type)));
                }
                let avro = schema::parse(&found.definition).map_err(|e| Error::new(format!("schema {id}: {e}")))?;
                let connect = to_connect(&avro, false);
                Ok(e.insert((avro, connect)))
            }
        }
    }

    fn subject(&self, part: Part, topic: &str, avro: &Value) -> String {
        let strategy = if part == Part::Key { self.key_strategy } else { self.value_strategy };
        let suffix = if part == Part::Key { "key" } else { "value" };
        let record_name = || {
            let name = avro.get("name").and_then(Value::as_str).unwrap_or("ConnectDefault");
            match avro.get("namespace").and_then(Value::as_str) {
                Some(ns) => format!("{ns}.{name}"),
                None => name.to_string(),
            }
        };
        match strategy {
            Strategy::Topic => format!("{topic}-{suffix}"),
            Strategy::Record => record_name(),
            Strategy::TopicRecord => format!("{topic}-{}", record_name()),
        }
    }
}

impl Converter for AvroConverter {
    fn to_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        let bytes = match input {
            Data::Null => return Ok(Payload::Null),
            Data::Typed(t) => return Ok(Payload::Typed { value: t.value()?, schema: t.schema()? }),
            Data::Bytes(b) => *b,
        };
        let (magic, rest) = bytes.split_first().ok_or_else(|| Error::new("Unknown magic byte!: the data is empty"))?;
        if *magic != 0 || rest.len() < 4 {
            return Err(Error::new(format!(
                "Unknown magic byte!: the data does not start with the Confluent wire format (byte 0 is {magic}, {} bytes in all)",
                bytes.len()
            )));
        }
        let id = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let (avro, connect) = self.schema(id)?.clone();
        let mut reader = codec::Reader { bytes: &rest[4..], at: 0 };
        let value = reader.value(&avro, 0).map_err(|e| Error::new(format!("Avro data of schema {id}: {e}")))?;
        if reader.at != reader.bytes.len() {
            return Err(Error::new(format!(
                "Avro data of schema {id}: {} bytes left over after the value",
                reader.bytes.len() - reader.at
            )));
        }
        Ok(Payload::Typed { value, schema: Some(connect) })
    }

    fn from_typed(
        &mut self,
        part: Part,
        record: &Record<'_>,
        _: Option<&str>,
        input: &Data<'_>,
    ) -> Result<Payload, Error> {
        let (value, schema) = match input {
            Data::Null => return Ok(Payload::Null),
            Data::Bytes(_) => {
                return Err(Error::new(
                    "AvroConverter needs a value with a schema; these are raw bytes (convert them with a converter that keeps schemas first)",
                ));
            }
            Data::Typed(t) => (t.value()?, t.schema()?),
        };
        if value.is_null() {
            return Ok(Payload::Null);
        }
        let schema = schema.ok_or_else(|| {
            Error::new("AvroConverter needs a value with a schema; this one is schemaless (e.g. JsonConverter with schemas.enable=false)")
        })?;
        let avro_json = from_connect(&schema, &mut 0).map_err(Error::new)?;
        let text = String::from_utf8_lossy(&avro_json.to_json()).into_owned();
        let subject = self.subject(part, record.topic(), &avro_json);
        let id = match self.registered.get(&(subject.clone(), text.clone())) {
            Some(id) => *id,
            None if !self.auto_register => {
                return Err(Error::new(format!(
                    "the schema is not registered under subject '{subject}' and auto.register.schemas=false"
                )));
            }
            None => {
                let id = schema_registry::register(&subject, "AVRO", &text).map_err(|e| Error {
                    message: format!("registering the schema under subject '{subject}' failed: {e}"),
                    retryable: true,
                })?;
                self.registered.insert((subject, text), id);
                id
            }
        };
        let mut out = Vec::with_capacity(64);
        out.push(0);
        out.extend_from_slice(&id.to_be_bytes());
        codec::write(&mut out, &value, &schema, 0).map_err(Error::new)?;
        Ok(Payload::Bytes(out))
    }
}

export_converter!(AvroConverter);
