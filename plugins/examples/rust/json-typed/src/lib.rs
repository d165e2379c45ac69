//! A converter: JSON text ↔ typed values (objects become structs, field order kept).
use spillway_plugin_sdk::*;

struct JsonTyped;

impl Plugin for JsonTyped {
    fn describe() -> Descriptor {
        Descriptor::new("json-typed", "0.1.0").doc("JSON text to typed values and back.")
    }
    fn configure(_: &Config) -> Result<Self, String> {
        Ok(JsonTyped)
    }
}

impl Converter for JsonTyped {
    fn to_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        match input {
            Data::Null => Ok(Payload::Null),
            Data::Bytes(b) => Value::from_json(b).map(Payload::typed).map_err(Error::new),
            Data::Typed(t) => Ok(Payload::typed(t.value()?)),
        }
    }
    fn from_typed(&mut self, _: Part, _: &Record<'_>, _: Option<&str>, input: &Data<'_>) -> Result<Payload, Error> {
        match input {
            Data::Null => Ok(Payload::Null),
            Data::Bytes(b) => Ok(Payload::Bytes(b.to_vec())),
            Data::Typed(t) => Ok(Payload::json(&t.value()?)),
        }
    }
}

export_converter!(JsonTyped);
