//! Kafka Connect's `org.apache.kafka.connect.converters.ByteArrayConverter`: the bytes as they are
//! (a BYTES value).

use spillway_plugin_sdk::*;

struct ByteArrayConverter;

impl Plugin for ByteArrayConverter {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.converters.ByteArrayConverter", "0.1.0")
            .alias("ByteArrayConverter")
            .doc("Kafka Connect's pass-through converter: the bytes as a BYTES value, and back.")
            .param(
                Param::string("converter.type").default("").doc("key, value or header (accepted for compatibility)."),
            )
    }

    fn configure(_: &Config) -> Result<Self, String> {
        Ok(Self)
    }
}

impl Converter for ByteArrayConverter {
    fn to_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        match input {
            Data::Null => Ok(Payload::Null),
            Data::Typed(t) => Ok(Payload::Typed { value: t.value()?, schema: t.schema()? }),
            Data::Bytes(b) => {
                let mut schema = Value::object();
                schema.insert("type", "bytes");
                schema.insert("optional", true);
                Ok(Payload::Typed { value: Value::Bytes(b.to_vec()), schema: Some(schema) })
            }
        }
    }

    fn from_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        match input {
            Data::Null => Ok(Payload::Null),
            Data::Bytes(b) => Ok(Payload::Bytes(b.to_vec())),
            Data::Typed(t) => match t.value()? {
                Value::Null => Ok(Payload::Null),
                Value::Bytes(b) => Ok(Payload::Bytes(b)),
                other => Err(Error::new(format!(
                    "ByteArrayConverter is not compatible with objects of type {}",
                    other.kind()
                ))),
            },
        }
    }
}

export_converter!(ByteArrayConverter);
