//! A loaded plugin (compiled, checked against the contract, described) and its instances.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Component;

use super::World;
use super::bindings::{converter, sink_mapper, source_mapper, transform, types};
use super::registry_client::SchemaRegistryClient;
use super::runtime::{Runtime, State, Ticking};

/// Kafka Connect's ConfigDef type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ParamType {
    /// Text.
    String,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// Floating point.
    Double,
    /// true / false.
    Boolean,
    /// Comma-separated list.
    List,
    /// Secret.
    Password,
    /// Class name.
    Class,
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Param {
    /// Key.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Default, as written in a properties file.
    pub default: Option<String>,
    /// Whether it must be set.
    pub required: bool,
    /// What it does.
    pub documentation: String,
}

/// A plugin's self-description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Descriptor {
    /// Registry name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// The kind it says it is.
    #[serde(skip)]
    pub kind: World,
    /// What it does.
    pub documentation: String,
    /// Other names it answers to.
    pub aliases: Vec<String>,
    /// Parameters.
    pub params: Vec<Param>,
    /// Whether it wants keys and values typed.
    pub wants_typed: bool,
}

macro_rules! descriptor_from {
    ($fn_name:ident, $world:ident) => {
        fn $fn_name(d: super::bindings::$world::exports::spillway::plugin::plugin::Descriptor) -> Descriptor {
            use super::bindings::$world::exports::spillway::plugin::plugin as p;
            Descriptor {
                name: d.name,
                version: d.version,
                kind: match d.kind {
                    p::Kind::Converter => World::Converter,
                    p::Kind::Transform => World::Transform,
                    p::Kind::SinkMapper => World::SinkMapper,
                    p::Kind::SourceMapper => World::SourceMapper,
                },
                documentation: d.documentation,
                aliases: d.aliases,
                params: d
                    .params
                    .into_iter()
                    .map(|x| Param {
                        name: x.name,
                        kind: match x.type_ {
                            p::ParamType::String => ParamType::String,
                            p::ParamType::Int => ParamType::Int,
                            p::ParamType::Long => ParamType::Long,
                            p::ParamType::Double => ParamType::Double,
                            p::ParamType::Boolean => ParamType::Boolean,
                            p::ParamType::List => ParamType::List,
                            p::ParamType::Password => ParamType::Password,
                            p::ParamType::Class => ParamType::Class,
                        },
                        default: x.default,
                        required: x.required,
                        documentation: x.documentation,
                    })
                    .collect(),
                wants_typed: d.wants_typed,
            }
        }
    };
}
descriptor_from!(from_transform, transform);
descriptor_from!(from_converter, converter);
descriptor_from!(from_sink_mapper, sink_mapper);
descriptor_from!(from_source_mapper, source_mapper);

/// The type-checked, ready-to-instantiate form of a component.
enum Pre {
    Transform(transform::TransformPre<State>),
    Converter(converter::ConverterPre<State>),
    SinkMapper(sink_mapper::SinkMapperPre<State>),
    SourceMapper(source_mapper::SourceMapperPre<State>),
}

/// An instance's exports.
enum Bound {
    Transform(transform::Transform),
    Converter(converter::Converter),
    SinkMapper(sink_mapper::SinkMapper),
    SourceMapper(source_mapper::SourceMapper),
}

/// A registered plugin.
pub struct Plugin {
    /// What it says of itself.
    pub descriptor: Descriptor,
    /// The world it implements.
    pub world: World,
    /// Where it was loaded from.
    pub path: PathBuf,
    /// sha256 of the file.
    pub hash: String,
    runtime: Arc<Runtime>,
    pre: Pre,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.descriptor.name)
            .field("version", &self.descriptor.version)
            .field("world", &self.world)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Why a call into a plugin did not return: the instance is unusable afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The CPU deadline passed.
    #[error("plugin {plugin} ran past its CPU deadline of {ms} ms (wasm.call.timeout.ms) and was stopped")]
    Deadline {
        /// `name@version`.
        plugin: String,
        /// The deadline.
        ms: u64,
    },
    /// The memory cap was reached.
    #[error("plugin {plugin} exceeded its memory cap of {bytes} bytes (wasm.memory.max.bytes) and was stopped")]
    Memory {
        /// `name@version`.
        plugin: String,
        /// The cap.
        bytes: usize,
    },
    /// Any other trap (a panic, an abort, unreachable code, a broken contract).
    #[error("plugin {plugin} trapped: {reason}")]
    Trap {
        /// `name@version`.
        plugin: String,
        /// The trap, first line.
        reason: String,
    },
}

impl Plugin {
    /// Loads a `.wasm` file: size cap, compile (or cache), contract check, self-description.
    pub fn load(runtime: &Arc<Runtime>, path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::from_bytes(runtime, path, &bytes)
    }

    /// Like [`Plugin::load`], from bytes already read.
    pub fn from_bytes(runtime: &Arc<Runtime>, path: &Path, bytes: &[u8]) -> Result<Self, String> {
        let origin = path.display().to_string();
        let (component, world, hash) = runtime.compile(&origin, bytes)?;
        let pre = prepare(runtime, &component, world).map_err(|e| format!("{origin}: {e}"))?;
        let mut plugin = Self {
            descriptor: Descriptor {
                name: String::new(),
                version: String::new(),
                kind: world,
                documentation: String::new(),
                aliases: Vec::new(),
                params: Vec::new(),
                wants_typed: false,
            },
            world,
            path: path.to_path_buf(),
            hash,
            runtime: runtime.clone(),
            pre,
        };
        let _ticking = runtime.ticking();
        let (mut store, bound) = plugin.instantiate(None).map_err(|e| format!("{origin}: {e}"))?;
        store.set_epoch_deadline(runtime.deadline_ticks());
        let described = match &bound {
            Bound::Transform(b) => b.spillway_plugin_plugin().call_describe(&mut store).map(from_transform),
            Bound::Converter(b) => b.spillway_plugin_plugin().call_describe(&mut store).map(from_converter),
            Bound::SinkMapper(b) => b.spillway_plugin_plugin().call_describe(&mut store).map(from_sink_mapper),
            Bound::SourceMapper(b) => b.spillway_plugin_plugin().call_describe(&mut store).map(from_source_mapper),
        };
        let descriptor = described.map_err(|e| format!("{origin}: describe() failed: {}", first_line(&e)))?;
        check_descriptor(&descriptor, world).map_err(|e| format!("{origin}: {e}"))?;
        plugin.descriptor = descriptor;
        Ok(plugin)
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.descriptor.name, self.descriptor.version)
    }

    fn instantiate(&self, registry: Option<Arc<SchemaRegistryClient>>) -> Result<(Store<State>, Bound), String> {
        let name = if self.descriptor.name.is_empty() { self.path.display().to_string() } else { self.id() };
        let mut store = self.runtime.store(&name, registry);
        let bound = match &self.pre {
            Pre::Transform(p) => p.instantiate(&mut store).map(Bound::Transform),
            Pre::Converter(p) => p.instantiate(&mut store).map(Bound::Converter),
            Pre::SinkMapper(p) => p.instantiate(&mut store).map(Bound::SinkMapper),
            Pre::SourceMapper(p) => p.instantiate(&mut store).map(Bound::SourceMapper),
        }
        .map_err(|e| format!("cannot instantiate: {}", first_line(&e)))?;
        Ok((store, bound))
    }

    /// Checks settings against the declared parameters: unknown keys, missing required keys and
    /// badly typed values are errors naming the key; defaults are filled in. `prefix` is how the
    /// keys are written in the connector config (e.g. `transforms.edit.`), for messages.
    pub fn validate(&self, prefix: &str, given: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
        let params = &self.descriptor.params;
        let mut problems = Vec::new();
        for (key, _) in given {
            if !params.iter().any(|p| &p.name == key) && key != "schema.registry.url" {
                let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                problems.push(format!(
                    "{prefix}{key}: {} has no such setting (it has: {})",
                    self.id(),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ));
            }
        }
        let mut config: Vec<(String, String)> = given.to_vec();
        for p in params {
            let value = given.iter().rev().find(|(k, _)| *k == p.name).map(|(_, v)| v.as_str());
            match value {
                None if p.required && p.default.is_none() => {
                    problems.push(format!("{prefix}{}: required by {} ({})", p.name, self.id(), p.documentation));
                }
                None => {
                    if let Some(d) = &p.default {
                        config.push((p.name.clone(), d.clone()));
                    }
                }
                Some(v) => {
                    if let Err(why) = check_type(p.kind, v) {
                        problems.push(format!("{prefix}{}: '{v}' {why}", p.name));
                    }
                }
            }
        }
        if problems.is_empty() { Ok(config) } else { Err(problems.join("; ")) }
    }
}

fn check_type(kind: ParamType, v: &str) -> Result<(), &'static str> {
    let v = v.trim();
    let ok = match kind {
        ParamType::Int => v.parse::<i32>().is_ok(),
        ParamType::Long => v.parse::<i64>().is_ok(),
        ParamType::Double => v.parse::<f64>().is_ok(),
        ParamType::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ParamType::String | ParamType::List | ParamType::Password | ParamType::Class => true,
    };
    if ok {
        Ok(())
    } else {
        Err(match kind {
            ParamType::Int => "is not a 32-bit integer",
            ParamType::Long => "is not an integer",
            ParamType::Double => "is not a number",
            _ => "is not true or false",
        })
    }
}

fn check_descriptor(d: &Descriptor, world: World) -> Result<(), String> {
    if d.kind != world {
        return Err(format!("describes itself as a {} but implements the {world} world", d.kind));
    }
    let valid_name =
        !d.name.is_empty() && d.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '$'));
    if !valid_name {
        return Err(format!("plugin name '{}' must be non-empty ASCII letters, digits, '-', '_', '.' or '$'", d.name));
    }
    let semver = d.version.split('.').count() == 3 && d.version.split('.').all(|p| p.parse::<u64>().is_ok());
    if !semver {
        return Err(format!("version '{}' of {} is not a semantic version like 1.2.3", d.version, d.name));
    }
    Ok(())
}

fn prepare(runtime: &Runtime, component: &Component, world: World) -> Result<Pre, String> {
    let pre = runtime.linker().instantiate_pre(component).map_err(|e| first_line(&e))?;
    let typed = match world {
        World::Transform => transform::TransformPre::new(pre).map(Pre::Transform),
        World::Converter => converter::ConverterPre::new(pre).map(Pre::Converter),
        World::SinkMapper => sink_mapper::SinkMapperPre::new(pre).map(Pre::SinkMapper),
        World::SourceMapper => source_mapper::SourceMapperPre::new(pre).map(Pre::SourceMapper),
    };
    typed.map_err(|e| format!("does not match the {world} world of spillway:plugin@0.1.0: {}", first_line(&e)))
}

fn first_line(e: &impl std::fmt::Display) -> String {
    let s = format!("{e:#}");
    s.lines().next().unwrap_or_default().to_string()
}

/// A configured instance of a plugin. After a [`CallError`] it must be dropped.
pub struct Instance {
    plugin: Arc<Plugin>,
    store: Store<State>,
    bound: Bound,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("plugin", &self.plugin.id()).finish_non_exhaustive()
    }
}

impl Instance {
    /// Instantiates `plugin` and configures it with `config` (already validated).
    pub fn new(plugin: &Arc<Plugin>, config: &[(String, String)]) -> Result<Self, String> {
        let registry = match config.iter().rev().find(|(k, _)| k == "schema.registry.url") {
            Some((_, url)) => Some(Arc::new(SchemaRegistryClient::new(url)?)),
            None => None,
        };
        let _ticking = plugin.runtime.ticking();
        let (store, bound) = plugin.instantiate(registry)?;
        let mut instance = Self { plugin: plugin.clone(), store, bound };
        instance.store.set_epoch_deadline(plugin.runtime.deadline_ticks());
        let config = &config.to_vec();
        let configured = match &instance.bound {
            Bound::Transform(b) => b.spillway_plugin_plugin().call_configure(&mut instance.store, config),
            Bound::Converter(b) => b.spillway_plugin_plugin().call_configure(&mut instance.store, config),
            Bound::SinkMapper(b) => b.spillway_plugin_plugin().call_configure(&mut instance.store, config),
            Bound::SourceMapper(b) => b.spillway_plugin_plugin().call_configure(&mut instance.store, config),
        };
        match configured {
            Ok(Ok(())) => Ok(instance),
            Ok(Err(message)) => Err(format!("{} refused its configuration: {message}", plugin.id())),
            Err(e) => Err(instance.classify(e).to_string()),
        }
    }

    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// The plugin's counters (`host.counter-add`).
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.store.data().counters()
    }

    /// Sets the deadline of the next call; the epoch advances while the guard lives.
    fn arm(&mut self) -> Ticking {
        let ticks = self.plugin.runtime.deadline_ticks();
        self.store.set_epoch_deadline(ticks);
        self.plugin.runtime.ticking()
    }

    fn classify(&self, e: wasmtime::Error) -> CallError {
        let plugin = self.plugin.id();
        let settings = self.plugin.runtime.settings();
        if self.store.data().memory_exceeded() {
            return CallError::Memory { plugin, bytes: settings.memory_max_bytes };
        }
        if matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
            return CallError::Deadline { plugin, ms: settings.call_timeout.as_millis() as u64 };
        }
        let reason = match e.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{:#}", e.root_cause()).lines().next().unwrap_or_default().to_string(),
        };
        CallError::Trap { plugin, reason }
    }

    /// Runs a transform over `batch`.
    pub fn transform(
        &mut self,
        batch: &types::Batch,
    ) -> Result<transform::exports::spillway::plugin::transformer::Transformed, CallError> {
        let _ticking = self.arm();
        let Bound::Transform(b) = &self.bound else { return Err(self.wrong_world(World::Transform)) };
        let result = b.spillway_plugin_transformer().call_transform(&mut self.store, batch);
        result.map_err(|e| self.classify(e))
    }

    /// Runs a converter over `batch`.
    pub fn convert(
        &mut self,
        to_typed: bool,
        part: converter::exports::spillway::plugin::conversion::Part,
        batch: &types::Batch,
    ) -> Result<converter::exports::spillway::plugin::conversion::Conversion, CallError> {
        let _ticking = self.arm();
        let Bound::Converter(b) = &self.bound else { return Err(self.wrong_world(World::Converter)) };
        let c = b.spillway_plugin_conversion();
        let result = if to_typed {
            c.call_to_typed(&mut self.store, part, batch)
        } else {
            c.call_from_typed(&mut self.store, part, batch)
        };
        result.map_err(|e| self.classify(e))
    }

    /// Runs a sink mapper over `batch`.
    pub fn map_records(
        &mut self,
        batch: &types::Batch,
    ) -> Result<sink_mapper::exports::spillway::plugin::sink_mapping::Mapping, CallError> {
        let _ticking = self.arm();
        let Bound::SinkMapper(b) = &self.bound else { return Err(self.wrong_world(World::SinkMapper)) };
        let result = b.spillway_plugin_sink_mapping().call_map_records(&mut self.store, batch);
        result.map_err(|e| self.classify(e))
    }

    /// Runs a source mapper over `rows`.
    pub fn map_rows(
        &mut self,
        rows: &source_mapper::exports::spillway::plugin::source_mapping::Rows,
    ) -> Result<source_mapper::exports::spillway::plugin::source_mapping::Mapping, CallError> {
        let _ticking = self.arm();
        let Bound::SourceMapper(b) = &self.bound else { return Err(self.wrong_world(World::SourceMapper)) };
        let result = b.spillway_plugin_source_mapping().call_map_rows(&mut self.store, rows);
        result.map_err(|e| self.classify(e))
    }

    fn wrong_world(&self, wanted: World) -> CallError {
        CallError::Trap {
            plugin: self.plugin.id(),
            reason: format!("is a {} plugin, used as a {wanted}", self.plugin.world),
        }
    }
}
