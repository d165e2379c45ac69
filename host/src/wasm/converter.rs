//! Converters that are Wasm plugins (`key.converter` / `value.converter` naming a converter-world
//! plugin, e.g. Confluent's `io.confluent.connect.avro.AvroConverter` from `plugins/std/`). They run
//! on the plugin threads ahead of the transforms: a key or value in the converter's format becomes
//! JSON — JsonConverter's `{"schema", "payload"}` envelope when the converter gave a schema — which
//! is what the transforms and the sink read next. A trap costs only the batch in flight: the
//! converter is re-instantiated and the batch bisected down to the offending records, which go to
//! the error policy.

use std::sync::Arc;

use serde_json::{Value, json};

use super::World;
use super::arena;
use super::bindings::converter::exports::spillway::plugin::conversion::{Converted, Part};
use super::bindings::types::Data;
use super::plugin::{Instance, Plugin};
use super::registry::Registry;
use crate::config::ConfigError;
use crate::pipeline::record::SinkRecord;

/// Which part of a record a converter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConverterPart {
    /// `key.converter`.
    Key,
    /// `value.converter`.
    Value,
}

impl ConverterPart {
    /// The setting that names the converter.
    pub fn setting(self) -> &'static str {
        match self {
            ConverterPart::Key => "key.converter",
            ConverterPart::Value => "value.converter",
        }
    }
}

/// A converter plugin as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConverterSpec {
    /// Key or value.
    pub part: ConverterPart,
    /// The class (or plugin name) given.
    pub reference: String,
    /// `<part>.converter.*` (prefix removed).
    pub config: Vec<(String, String)>,
}

/// Resolves the plugin and checks its settings (self-description, then its own `configure`).
pub fn resolve(registry: &Registry, spec: &ConverterSpec) -> Result<super::chain::ResolvedStep, ConfigError> {
    let key = spec.part.setting();
    let plugin = registry.resolve(&spec.reference, World::Converter).map_err(|e| {
        ConfigError::invalid(
            key,
            format!(
                "converter '{}' is not built in (JsonConverter, StringConverter, ByteArrayConverter) \
                 and no converter plugin answers to it: {e}",
                spec.reference
            ),
        )
    })?;
    let config = plugin.validate(&format!("{key}."), &spec.config).map_err(|e| ConfigError::invalid(key, e))?;
    Instance::new(&plugin, &config).map_err(|e| ConfigError::invalid(key, e))?;
    Ok((plugin, config))
}

/// A converter plugin of one task.
pub struct ConverterStep {
    spec: ConverterSpec,
    plugin: Arc<Plugin>,
    config: Vec<(String, String)>,
    instance: Option<Instance>,
}

impl std::fmt::Debug for ConverterStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConverterStep").field("part", &self.spec.part).field("plugin", &self.plugin.id()).finish()
    }
}

/// One record's converted bytes (`None`: null), or why it failed.
type ConvertedBytes = Result<Option<Vec<u8>>, String>;

enum Fatal {
    Instantiate(String),
    Trap(String),
}

impl ConverterStep {
    /// Resolves and checks the converter.
    pub fn new(registry: &Registry, spec: &ConverterSpec) -> Result<Self, ConfigError> {
        let (plugin, config) = resolve(registry, spec)?;
        Ok(Self { spec: spec.clone(), plugin, config, instance: None })
    }

    /// `name@version` of the plugin.
    pub fn plugin_id(&self) -> String {
        self.plugin.id()
    }

    /// Which part it converts.
    pub fn part(&self) -> ConverterPart {
        self.spec.part
    }

    /// Converts the key or value of every record in place (to JSON); per record, why it failed.
    pub fn run(&mut self, records: &mut [SinkRecord]) -> Vec<Result<(), String>> {
        let converted = self.run_isolated(records);
        records
            .iter_mut()
            .zip(converted)
            .map(|(record, result)| {
                let bytes = result?;
                match self.spec.part {
                    ConverterPart::Key => record.key = bytes,
                    ConverterPart::Value => record.value = bytes,
                }
                Ok(())
            })
            .collect()
    }

    fn run_isolated(&mut self, records: &[SinkRecord]) -> Vec<ConvertedBytes> {
        match self.call(records) {
            Ok(results) => results,
            Err(Fatal::Instantiate(e)) => records.iter().map(|_| Err(e.clone())).collect(),
            Err(Fatal::Trap(e)) if records.len() <= 1 => records.iter().map(|_| Err(e.clone())).collect(),
            Err(Fatal::Trap(_)) => {
                let (left, right) = records.split_at(records.len() / 2);
                let mut results = self.run_isolated(left);
                results.extend(self.run_isolated(right));
                results
            }
        }
    }

    fn call(&mut self, records: &[SinkRecord]) -> Result<Vec<ConvertedBytes>, Fatal> {
        if self.instance.is_none() {
            self.instance = Some(Instance::new(&self.plugin, &self.config).map_err(Fatal::Instantiate)?);
        }
        let instance = self.instance.as_mut().expect("instantiated above");
        let part = match self.spec.part {
            ConverterPart::Key => Part::Key,
            ConverterPart::Value => Part::Value,
        };
        let answer = instance.convert(true, part, &arena::batch(records, false)).map_err(|e| {
            self.instance = None;
            Fatal::Trap(e.to_string())
        })?;
        if answer.results.len() != records.len() {
            self.instance = None;
            return Err(Fatal::Trap(format!(
                "plugin {} broke the contract: {} results for {} records",
                self.plugin.id(),
                answer.results.len(),
                records.len()
            )));
        }
        Ok(answer
            .results
            .iter()
            .map(|converted| match converted {
                Converted::Fail(e) => Err(e.message.clone()),
                Converted::Ok(data) => as_json(&answer.output, data),
            })
            .collect())
    }
}

/// Converted data as the JSON the rest of the pipeline reads: a typed value with a schema in
/// JsonConverter's envelope, one without as plain JSON, bytes as they are.
fn as_json(output: &super::bindings::types::Arena, data: &Data) -> Result<Option<Vec<u8>>, String> {
    match *data {
        Data::Typed(t) => {
            let payload = arena::to_json(output, t.root, 0)?;
            let value = match t.schema {
                Some(schema) => json!({"schema": arena::to_json(output, schema, 0)?, "payload": payload}),
                None => payload,
            };
            Ok(Some(serde_json::to_vec(&value).map_err(|e| e.to_string())?))
        }
        ref other => arena::data_bytes(output, other),
    }
}

/// Reads what a converter plugin left: the payload of an envelope, or the JSON value itself.
pub fn read_converted(bytes: &[u8]) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("malformed JSON: {e}"))?;
    Ok(match value {
        Value::Object(mut o) if o.len() == 2 && o.get("schema").is_some_and(Value::is_object) => {
            o.remove("payload").unwrap_or(Value::Null)
        }
        other => other,
    })
}
