//! Kafka Connect's `org.apache.kafka.connect.json.JsonConverter`: JSON bytes ↔ typed values. With
//! `schemas.enable=true` (the default) the bytes are the `{"schema": …, "payload": …}` envelope and
//! the payload is typed by the schema (logical Date, Time, Timestamp and Decimal included); with
//! `false` they are plain JSON, typed as parsed (objects become structs, integers int64).

use connect_data::{from_json, to_json_value};
use spillway_plugin_sdk::*;

const ENVELOPE_REQUIRED: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

struct JsonConverter {
    schemas_enable: bool,
    numeric_decimals: bool,
}

impl Plugin for JsonConverter {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.json.JsonConverter", "0.1.0")
            .alias("JsonConverter")
            .doc("Kafka Connect's JSON converter: JSON bytes to typed values and back, with or without the {\"schema\", \"payload\"} envelope.")
            .param(Param::boolean("schemas.enable").default("true").doc("Include the schema with each record: the {\"schema\", \"payload\"} envelope."))
            .param(Param::int("schemas.cache.size").default("1000").doc("Schemas kept converted (accepted for compatibility; schemas are read per record)."))
            .param(Param::string("decimal.format").default("BASE64").doc("How decimals are written: BASE64 (of the unscaled bytes) or NUMERIC."))
            .param(Param::boolean("replace.null.with.default").default("true").doc("A null field with a default takes the default."))
            .param(Param::string("converter.type").default("").doc("key, value or header (set by the host; accepted for compatibility)."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let numeric_decimals = match config.get_or("decimal.format", "BASE64").trim().to_ascii_uppercase().as_str() {
            "BASE64" => false,
            "NUMERIC" => true,
            other => return Err(format!("decimal.format: '{other}' is not one of BASE64, NUMERIC")),
        };
        match config.get_or("converter.type", "").trim() {
            "" | "key" | "value" | "header" => {}
            other => return Err(format!("converter.type: '{other}' is not one of key, value, header")),
        }
        Ok(Self { schemas_enable: config.bool_or("schemas.enable", true)?, numeric_decimals })
    }
}

impl Converter for JsonConverter {
    fn to_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        let bytes = match input {
            Data::Null => return Ok(Payload::Null),
            Data::Typed(t) => return Ok(Payload::Typed { value: t.value()?, schema: t.schema()? }),
            Data::Bytes(b) => b,
        };
        let value = Value::from_json(bytes).map_err(|e| {
            Error::new(format!("Converting byte[] to Kafka Connect data failed due to serialization error: {e}"))
        })?;
        if !self.schemas_enable {
            return Ok(Payload::typed(value));
        }
        let Value::Struct(fields) = value else { return Err(Error::new(ENVELOPE_REQUIRED)) };
        if fields.len() != 2
            || !fields.iter().any(|(n, _)| n == "schema")
            || !fields.iter().any(|(n, _)| n == "payload")
        {
            return Err(Error::new(ENVELOPE_REQUIRED));
        }
        let (mut schema, mut payload) = (Value::Null, Value::Null);
        for (name, v) in fields {
            if name == "schema" {
                schema = v;
            } else {
                payload = v;
            }
        }
        match schema {
            Value::Null if payload.is_null() => Ok(Payload::Null),
            Value::Null => Ok(Payload::typed(payload)),
            Value::Struct(_) => {
                let value = from_json(payload, &schema, "").map_err(Error::new)?;
                Ok(Payload::Typed { value, schema: Some(schema) })
            }
            other => Err(Error::new(format!("the envelope's schema must be an object, found {}", other.kind()))),
        }
    }

    fn from_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        let (value, schema) = match input {
            Data::Null => return Ok(Payload::Null),
            Data::Bytes(b) => return Ok(Payload::Bytes(b.to_vec())),
            Data::Typed(t) => (t.value()?, t.schema()?),
        };
        let payload = to_json_value(&value, self.numeric_decimals);
        if !self.schemas_enable {
            return Ok(Payload::json(&payload));
        }
        let envelope =
            Value::Struct(vec![("schema".into(), schema.unwrap_or(Value::Null)), ("payload".into(), payload)]);
        Ok(Payload::json(&envelope))
    }
}

export_converter!(JsonConverter);
