//! Converters: record bytes → a typed value, under Kafka Connect's converter class names.
//!
//! Connect's `JsonConverter` (with or without the `{"schema","payload"}` envelope), `StringConverter`
//! and `ByteArrayConverter` are built in: the sink reads only the fields it maps, straight from the
//! bytes. The same classes exist as Wasm plugins in `plugins/std/` (for `spillway plugin test`, other
//! hosts, and as the reference the built-ins are checked against). Any other class is a converter
//! plugin (e.g. `io.confluent.connect.avro.AvroConverter`), run by `wasm::converter` ahead of the
//! transforms; what it leaves is JSON, read here as [`Converter::Plugin`].

use base64::Engine as _;
use serde_json::Value;

use super::json::Doc;
use crate::config::{ConfigError, Settings};

/// Connect's JSON converter class.
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Connect's string converter class.
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
/// Connect's byte array converter class.
pub const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

/// A converter as configured: its class and its own settings (`<prefix>.*`, prefix removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConverterConfig {
    /// Class name as given.
    pub class: String,
    /// The converter's own settings, e.g. `schemas.enable`.
    pub settings: Settings,
}

impl ConverterConfig {
    /// Reads `<prefix>` and `<prefix>.*` (e.g. `value.converter`, `value.converter.schemas.enable`).
    /// The default class is Connect's `JsonConverter`. Validates by building the converter.
    pub fn from_settings(s: &Settings, prefix: &str) -> Result<Self, ConfigError> {
        let config = Self {
            class: s.non_blank(prefix).unwrap_or(JSON_CONVERTER).to_string(),
            settings: s.with_prefix(&format!("{prefix}.")),
        };
        Converter::build(&config, prefix)?;
        Ok(config)
    }
}

/// A ready converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// JSON; with `schemas.enable=true` the bytes must be Connect's `{"schema", "payload"}` envelope.
    Json {
        /// Whether the envelope is expected.
        schemas_enable: bool,
    },
    /// UTF-8 text, as a string value.
    String,
    /// The bytes as they are (a BYTES value: base64 text in JSON, a `blob` in Cassandra).
    ByteArray,
    /// A converter plugin already turned the bytes into JSON (an envelope when it had a schema).
    Plugin,
}

/// A record's bytes could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConversionError(pub String);

impl Converter {
    /// Builds the converter named by `config`; `key` names the setting in errors. A class that is
    /// not built in is [`Converter::Plugin`]: the task resolves it in the plugin registry.
    pub fn build(config: &ConverterConfig, key: &str) -> Result<Self, ConfigError> {
        match config.class.as_str() {
            JSON_CONVERTER | "JsonConverter" => {
                let schemas_enable = config.settings.bool_or("schemas.enable", true).map_err(|_| {
                    ConfigError::invalid(format!("{key}.schemas.enable"), "is not a boolean (true or false)")
                })?;
                Ok(Self::Json { schemas_enable })
            }
            STRING_CONVERTER | "StringConverter" => Ok(Self::String),
            BYTE_ARRAY_CONVERTER | "ByteArrayConverter" => Ok(Self::ByteArray),
            _ => Ok(Self::Plugin),
        }
    }

    /// Reads bytes as a lazily parsed document (the sink's path: only mapped fields are parsed).
    /// `None` (a null record value, or a null envelope payload) stays `None`.
    pub fn to_doc<'a>(&self, bytes: Option<&'a [u8]>) -> Result<Option<Doc<'a>>, ConversionError> {
        let Some(bytes) = bytes else { return Ok(None) };
        match self {
            Self::String | Self::ByteArray => self.to_value(Some(bytes)).map(|v| v.map(Doc::Value)),
            Self::Plugin => {
                let doc = Doc::parse(bytes).map_err(|e| ConversionError(format!("converter output: {e}")))?;
                let payload = match &doc {
                    Doc::Object(fields)
                        if fields.len() == 2 && fields.iter().any(|(k, v)| k == "schema" && v.starts_with('{')) =>
                    {
                        fields.iter().find(|(k, _)| k == "payload").map(|(_, v)| *v)
                    }
                    _ => None,
                };
                match payload {
                    None => Ok(Some(doc)),
                    Some("null") => Ok(None),
                    Some(p) => {
                        Doc::from_raw(p).map(Some).map_err(|e| ConversionError(format!("converter output: {e}")))
                    }
                }
            }
            Self::Json { schemas_enable: false } => {
                Doc::parse(bytes).map(Some).map_err(|e| ConversionError(format!("JsonConverter: {e}")))
            }
            Self::Json { schemas_enable: true } => {
                let envelope = Doc::parse(bytes).map_err(|e| ConversionError(format!("JsonConverter: {e}")))?;
                let payload = match &envelope {
                    Doc::Object(fields) if fields.iter().any(|(k, _)| k == "schema") => {
                        fields.iter().rev().find(|(k, _)| k == "payload").map(|(_, v)| *v)
                    }
                    _ => None,
                };
                let payload = payload.ok_or_else(|| {
                    ConversionError(
                        "JsonConverter with schemas.enable=true expects {\"schema\": …, \"payload\": …}; \
                         set value.converter.schemas.enable=false to read plain JSON"
                            .into(),
                    )
                })?;
                if payload == "null" {
                    return Ok(None);
                }
                Doc::from_raw(payload).map(Some).map_err(|e| ConversionError(format!("JsonConverter: {e}")))
            }
        }
    }

    /// Converts bytes into a value. `None` (a null record value) stays `None`.
    pub fn to_value(&self, bytes: Option<&[u8]>) -> Result<Option<Value>, ConversionError> {
        let Some(bytes) = bytes else { return Ok(None) };
        match self {
            Self::ByteArray => Ok(Some(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)))),
            Self::Plugin => crate::wasm::converter::read_converted(bytes)
                .map(|v| Some(v).filter(|v| !v.is_null()))
                .map_err(|e| ConversionError(format!("converter output: {e}"))),
            Self::String => std::str::from_utf8(bytes)
                .map(|s| Some(Value::String(s.to_string())))
                .map_err(|e| ConversionError(format!("StringConverter: the bytes are not UTF-8: {e}"))),
            Self::Json { schemas_enable } => {
                let value: Value = serde_json::from_slice(bytes)
                    .map_err(|e| ConversionError(format!("JsonConverter: malformed JSON: {e}")))?;
                if !schemas_enable {
                    return Ok(Some(value));
                }
                match value {
                    Value::Object(mut envelope)
                        if envelope.contains_key("schema") && envelope.contains_key("payload") =>
                    {
                        Ok(envelope.remove("payload").filter(|p| !p.is_null()))
                    }
                    _ => Err(ConversionError(
                        "JsonConverter with schemas.enable=true expects {\"schema\": …, \"payload\": …}; \
                         set value.converter.schemas.enable=false to read plain JSON"
                            .into(),
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(class: &str, pairs: &[(&str, &str)]) -> ConverterConfig {
        ConverterConfig { class: class.into(), settings: Settings::from_pairs(pairs) }
    }

    #[test]
    fn json_plain_and_envelope() {
        let plain =
            Converter::build(&config(JSON_CONVERTER, &[("schemas.enable", "false")]), "value.converter").unwrap();
        assert_eq!(plain.to_value(Some(br#"{"a":1}"#)).unwrap(), Some(json!({"a": 1})));
        assert_eq!(plain.to_value(None).unwrap(), None);
        assert!(plain.to_value(Some(b"{")).unwrap_err().0.contains("malformed JSON"));

        let envelope = Converter::build(&config("JsonConverter", &[]), "value.converter").unwrap();
        let bytes = br#"{"schema":{"type":"struct"},"payload":{"a":2}}"#;
        assert_eq!(envelope.to_value(Some(bytes)).unwrap(), Some(json!({"a": 2})));
        let err = envelope.to_value(Some(br#"{"a":1}"#)).unwrap_err().0;
        assert!(err.contains("schemas.enable=false"), "{err}");
    }

    #[test]
    fn docs_match_values() {
        let plain = Converter::Json { schemas_enable: false };
        let doc = plain.to_doc(Some(br#"{"a":1}"#)).unwrap().unwrap();
        assert_eq!(doc.to_value().unwrap(), json!({"a": 1}));
        assert!(plain.to_doc(Some(b"{")).unwrap_err().0.contains("malformed JSON"));
        let envelope = Converter::Json { schemas_enable: true };
        let doc = envelope.to_doc(Some(br#"{"schema":{"type":"struct"},"payload":{"a":2}}"#)).unwrap().unwrap();
        assert_eq!(doc.to_value().unwrap(), json!({"a": 2}));
        assert!(envelope.to_doc(Some(br#"{"schema":null,"payload":null}"#)).unwrap().is_none());
        assert!(envelope.to_doc(Some(br#"{"a":1}"#)).unwrap_err().0.contains("schemas.enable=false"));
        assert_eq!(Converter::String.to_doc(Some(b"k")).unwrap().unwrap().to_value().unwrap(), json!("k"));
    }

    #[test]
    fn plugin_output_is_read_with_or_without_an_envelope() {
        let p = Converter::Plugin;
        let envelope = br#"{"schema":{"type":"struct"},"payload":{"a":2}}"#;
        assert_eq!(p.to_value(Some(envelope)).unwrap(), Some(json!({"a": 2})));
        assert_eq!(p.to_doc(Some(envelope)).unwrap().unwrap().to_value().unwrap(), json!({"a": 2}));
        assert_eq!(p.to_value(Some(br#"{"a":1}"#)).unwrap(), Some(json!({"a": 1})));
        assert_eq!(p.to_doc(Some(br#"{"a":1}"#)).unwrap().unwrap().to_value().unwrap(), json!({"a": 1}));
        assert!(p.to_doc(Some(br#"{"schema":{},"payload":null}"#)).unwrap().is_none());
    }

    #[test]
    fn string_and_unknown() {
        let s = Converter::build(&config(STRING_CONVERTER, &[]), "key.converter").unwrap();
        assert_eq!(s.to_value(Some(b"k1")).unwrap(), Some(json!("k1")));
        assert!(s.to_value(Some(&[0xff])).unwrap_err().0.contains("UTF-8"));
        assert_eq!(Converter::build(&config("com.acme.Fancy", &[]), "value.converter").unwrap(), Converter::Plugin);
        let bytes = Converter::build(&config(BYTE_ARRAY_CONVERTER, &[]), "value.converter").unwrap();
        assert_eq!(bytes.to_value(Some(&[1, 2])).unwrap(), Some(json!("AQI=")));
        let err = Converter::build(&config(JSON_CONVERTER, &[("schemas.enable", "maybe")]), "value.converter")
            .unwrap_err()
            .to_string();
        assert!(err.contains("value.converter.schemas.enable"), "{err}");
    }
}
