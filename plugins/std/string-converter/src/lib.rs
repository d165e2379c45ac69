//! Kafka Connect's `org.apache.kafka.connect.storage.StringConverter`: bytes ↔ a string (UTF-8).

use spillway_plugin_sdk::*;

struct StringConverter;

impl Plugin for StringConverter {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.storage.StringConverter", "0.1.0")
            .alias("StringConverter")
            .doc("Kafka Connect's string converter: UTF-8 bytes to a string and back; other values are written as their text.")
            .param(Param::string("converter.encoding").default("UTF-8").doc("The character encoding; UTF-8 is the one supported."))
            .param(Param::string("converter.type").default("").doc("key, value or header (accepted for compatibility)."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        match config.get_or("converter.encoding", "UTF-8").trim().to_ascii_uppercase().as_str() {
            "UTF-8" | "UTF8" => Ok(Self),
            other => Err(format!("converter.encoding: '{other}' is not supported; UTF-8 is")),
        }
    }
}

impl Converter for StringConverter {
    fn to_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        match input {
            Data::Null => Ok(Payload::Null),
            Data::Typed(t) => Ok(Payload::typed(Value::Text(
                t.value()?.as_str().map(str::to_string).unwrap_or_else(|| t.value().unwrap_or_default().to_string()),
            ))),
            Data::Bytes(b) => std::str::from_utf8(b)
                .map(|s| Payload::Typed { value: Value::Text(s.to_string()), schema: Some(optional_string()) })
                .map_err(|e| Error::new(format!("Failed to deserialize string: the bytes are not UTF-8 ({e})"))),
        }
    }

    fn from_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        match input {
            Data::Null => Ok(Payload::Null),
            Data::Bytes(b) => Ok(Payload::Bytes(b.to_vec())),
            Data::Typed(t) => Ok(Payload::Bytes(match t.value()? {
                Value::Null => return Ok(Payload::Null),
                Value::Text(s) => s.into_bytes(),
                other => other.to_json(),
            })),
        }
    }
}

fn optional_string() -> Value {
    let mut s = Value::object();
    s.insert("type", "string");
    s.insert("optional", true);
    s
}

export_converter!(StringConverter);
