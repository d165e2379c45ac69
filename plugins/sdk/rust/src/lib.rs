//! Write Spillway plugins in Rust.
//!
//! A transform is a type with a declaration of its parameters and a function over one record:
//!
//! ```ignore
//! use spillway_plugin_sdk::*;
//!
//! struct AddSource { value: String }
//!
//! impl Plugin for AddSource {
//!     fn describe() -> Descriptor {
//!         Descriptor::new("add-source", "0.1.0")
//!             .doc("Adds a `source` field to JSON values.")
//!             .param(Param::string("source").required().doc("The value of the field."))
//!     }
//!     fn configure(config: &Config) -> Result<Self, String> {
//!         Ok(Self { value: config.required("source")?.to_string() })
//!     }
//! }
//!
//! impl Transform for AddSource {
//!     fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
//!         let mut value = record.value().to_value()?;
//!         value.insert("source", self.value.as_str());
//!         Ok(Outcome::Value(Payload::json(&value)))
//!     }
//! }
//!
//! export_transform!(AddSource);
//! ```
//!
//! Enable exactly one of the features `transform`, `converter`, `sink-mapper`, `source-mapper`:
//! it selects the world (`wit/plugin.wit`) the component implements.

#[doc(hidden)]
pub mod arena;
mod raw;
mod value;

pub use raw::{RawField, RawObject, RawValue};
pub use value::{Value, base64};

#[cfg(any(
    all(feature = "transform", feature = "converter"),
    all(feature = "transform", feature = "sink-mapper"),
    all(feature = "transform", feature = "source-mapper"),
    all(feature = "converter", feature = "sink-mapper"),
    all(feature = "converter", feature = "source-mapper"),
    all(feature = "sink-mapper", feature = "source-mapper"),
))]
compile_error!("enable exactly one world feature of spillway-plugin-sdk (build plugins one package at a time)");

/// Generated bindings of the selected world.
#[doc(hidden)]
pub mod bindings {
    #[cfg(feature = "transform")]
    wit_bindgen::generate!({ world: "transform", path: "wit", pub_export_macro: true,
        export_macro_name: "__export_world", default_bindings_module: "spillway_plugin_sdk::bindings" });
    #[cfg(feature = "converter")]
    wit_bindgen::generate!({ world: "converter", path: "wit", pub_export_macro: true,
        export_macro_name: "__export_world", default_bindings_module: "spillway_plugin_sdk::bindings" });
    #[cfg(feature = "sink-mapper")]
    wit_bindgen::generate!({ world: "sink-mapper", path: "wit", pub_export_macro: true,
        export_macro_name: "__export_world", default_bindings_module: "spillway_plugin_sdk::bindings" });
    #[cfg(feature = "source-mapper")]
    wit_bindgen::generate!({ world: "source-mapper", path: "wit", pub_export_macro: true,
        export_macro_name: "__export_world", default_bindings_module: "spillway_plugin_sdk::bindings" });
}

#[cfg(any(feature = "transform", feature = "converter", feature = "sink-mapper", feature = "source-mapper"))]
mod guest;
#[cfg(any(feature = "transform", feature = "converter", feature = "sink-mapper", feature = "source-mapper"))]
pub use guest::*;

/// A parameter's type (Kafka Connect's ConfigDef types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Text.
    String,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// Floating point.
    Double,
    /// `true` / `false`.
    Boolean,
    /// Comma-separated list.
    List,
    /// Secret text (never logged).
    Password,
    /// A class (plugin) name.
    Class,
}

/// One parameter of a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Key, as written in the connector config after the plugin's prefix.
    pub name: String,
    /// Type.
    pub kind: ParamType,
    /// Default, as it would be written in a properties file.
    pub default: Option<String>,
    /// Whether the key must be set.
    pub required: bool,
    /// What it does.
    pub doc: String,
}

impl Param {
    fn new(name: &str, kind: ParamType) -> Self {
        Self { name: name.to_string(), kind, default: None, required: false, doc: String::new() }
    }
    /// A text parameter.
    pub fn string(name: &str) -> Self {
        Self::new(name, ParamType::String)
    }
    /// A 32-bit integer parameter.
    pub fn int(name: &str) -> Self {
        Self::new(name, ParamType::Int)
    }
    /// A 64-bit integer parameter.
    pub fn long(name: &str) -> Self {
        Self::new(name, ParamType::Long)
    }
    /// A floating-point parameter.
    pub fn double(name: &str) -> Self {
        Self::new(name, ParamType::Double)
    }
    /// A boolean parameter.
    pub fn boolean(name: &str) -> Self {
        Self::new(name, ParamType::Boolean)
    }
    /// A comma-separated list parameter.
    pub fn list(name: &str) -> Self {
        Self::new(name, ParamType::List)
    }
    /// A secret parameter.
    pub fn password(name: &str) -> Self {
        Self::new(name, ParamType::Password)
    }
    /// Must be set.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Its default.
    pub fn default(mut self, value: impl ToString) -> Self {
        self.default = Some(value.to_string());
        self
    }
    /// Its documentation.
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = doc.to_string();
        self
    }
}

/// A plugin's self-description, read by the host when the file is registered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Descriptor {
    /// Registry name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// What it does.
    pub doc: String,
    /// Other names (e.g. Kafka Connect class names).
    pub aliases: Vec<String>,
    /// Parameters.
    pub params: Vec<Param>,
    /// Whether keys and values should arrive typed.
    pub wants_typed: bool,
}

impl Descriptor {
    /// A plugin called `name`, version `version`.
    pub fn new(name: &str, version: &str) -> Self {
        Self { name: name.to_string(), version: version.to_string(), ..Self::default() }
    }
    /// Documentation.
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = doc.to_string();
        self
    }
    /// Another name the plugin answers to.
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_string());
        self
    }
    /// A parameter.
    pub fn param(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }
    /// Ask for typed keys and values.
    pub fn wants_typed(mut self) -> Self {
        self.wants_typed = true;
        self
    }
}

/// The plugin's settings (already checked by the host against the declared parameters; defaults
/// filled in).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config(pub Vec<(String, String)>);

impl Config {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// The value of `key`, which must be set.
    pub fn required(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| format!("'{key}' is required"))
    }
    /// The value of `key`, or `default`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }
    /// A boolean.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(format!("'{key}' must be true or false, not '{v}'")),
        }
    }
    /// An integer.
    pub fn i64_or(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("'{key}' must be an integer, not '{v}'")),
        }
    }
    /// A comma-separated list (empty entries dropped).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }
}

/// Why a record could not be processed: it goes to the connector's error policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What and why.
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

impl Error {
    /// A permanent error.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}
impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

/// An owned key, value or header value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Payload {
    /// Null (a tombstone value, a null key).
    #[default]
    Null,
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A typed value with an optional schema (in Kafka Connect's JSON schema shape).
    Typed {
        /// The value.
        value: Value,
        /// Its schema.
        schema: Option<Value>,
    },
}

impl Payload {
    /// `value` rendered as JSON bytes.
    pub fn json(value: &Value) -> Self {
        Payload::Bytes(value.to_json())
    }
    /// A typed value without a schema.
    pub fn typed(value: Value) -> Self {
        Payload::Typed { value, schema: None }
    }
}

/// A record a plugin emits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    /// Topic.
    pub topic: String,
    /// Partition; -1 lets the producer choose.
    pub partition: i32,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// Key.
    pub key: Payload,
    /// Value.
    pub value: Payload,
    /// Headers, in order.
    pub headers: Vec<(String, Payload)>,
}

impl Output {
    /// The same record with another value.
    pub fn with_value(mut self, value: Payload) -> Self {
        self.value = value;
        self
    }
    /// The same record with another key.
    pub fn with_key(mut self, key: Payload) -> Self {
        self.key = key;
        self
    }
    /// The same record on another topic.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = topic.into();
        self
    }
}

/// What a transform does with one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Pass it on unchanged (nothing is copied back to the host).
    Keep,
    /// Filter it out.
    Drop,
    /// Replace it with these records (0..n).
    Replace(Vec<Output>),
    /// The same record with this value (topic, key, headers and timestamp are copied over without
    /// an allocation: the fast path of field-level transforms).
    Value(Payload),
}

impl Outcome {
    /// Replace the record with one record.
    pub fn one(output: Output) -> Self {
        Outcome::Replace(vec![output])
    }
}

/// A Cassandra write a sink mapper asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// `None`: the connector's keyspace.
    pub keyspace: Option<String>,
    /// Table.
    pub table: String,
    /// Upsert or delete.
    pub operation: Operation,
    /// Columns and values (for a delete: the primary key).
    pub cells: Vec<(String, Value)>,
    /// Time to live.
    pub ttl_seconds: Option<u32>,
    /// Write timestamp.
    pub write_timestamp_micros: Option<i64>,
}

/// A mutation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// INSERT (an upsert in Cassandra).
    Upsert,
    /// DELETE by primary key.
    Delete,
}

/// A Cassandra row a source mapper turns into records.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Keyspace.
    pub keyspace: String,
    /// Table.
    pub table: String,
    /// Columns and values.
    pub cells: Vec<(String, Value)>,
    /// Newest write time of the row's cells, when known.
    pub write_time_micros: Option<i64>,
}

impl Row {
    /// The value of `column`.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.cells.iter().find(|(c, _)| c == column).map(|(_, v)| v)
    }
}

/// Which part of a record a converter works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The key.
    Key,
    /// The value.
    Value,
    /// A header value.
    Header,
}

/// A plugin: its self-description and how it is configured.
pub trait Plugin: Sized + 'static {
    /// Name, version, documentation and parameters.
    fn describe() -> Descriptor;
    /// Builds the plugin from its settings.
    fn configure(config: &Config) -> Result<Self, String>;
}
