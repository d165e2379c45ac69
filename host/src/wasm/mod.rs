//! The Wasm plugin runtime: converters, transforms and mappers as WebAssembly components
//! (`wit/plugin.wit`), sandboxed, hot-loaded from `plugin.path`, run on their own threads.
//!
//! - [`runtime`]: one engine (pooling allocator, epoch deadlines), the compile cache, the sandbox.
//! - [`plugin`]: a loaded plugin, its self-description, config validation, instances.
//! - [`registry`]: discovers and watches `plugin.path`; resolves `name` / `name@version`.
//! - [`chain`]: a connector's transform chain, with fault isolation by bisection.
//! - [`arena`]: host records ↔ the contract's flat batches.

pub mod arena;
pub mod bindings;
pub mod chain;
pub mod converter;
pub mod plugin;
pub mod pool;
pub mod registry;
pub mod registry_client;
pub mod runtime;
pub mod stdio;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{ConfigError, Settings};

pub use plugin::{Descriptor, Instance, Param, Plugin};
pub use registry::Registry;
pub use runtime::Runtime;

/// The sandbox's limits and where plugins live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmSettings {
    /// Directories scanned and watched for `.wasm` files (`plugin.path`).
    pub plugin_path: Vec<PathBuf>,
    /// Linear memory cap per plugin instance (`wasm.memory.max.bytes`).
    pub memory_max_bytes: usize,
    /// CPU deadline of one call into a plugin (`wasm.call.timeout.ms`).
    pub call_timeout: Duration,
    /// Largest accepted `.wasm` file (`wasm.module.max.bytes`).
    pub module_max_bytes: usize,
    /// Host-owned directory of compiled native code (`wasm.cache.dir`).
    pub cache_dir: PathBuf,
    /// Threads that run plugin code (`wasm.threads`); guest code never runs on tokio's threads.
    pub threads: usize,
    /// Instances the pooling allocator reserves room for.
    pub max_instances: u32,
}

impl Default for WasmSettings {
    fn default() -> Self {
        Self {
            plugin_path: Vec::new(),
            memory_max_bytes: 64 << 20,
            call_timeout: Duration::from_millis(5_000),
            module_max_bytes: 64 << 20,
            cache_dir: runtime::default_cache_dir(),
            threads: 2,
            max_instances: 256,
        }
    }
}

impl WasmSettings {
    /// Reads the worker's `plugin.path` and `wasm.*` settings.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let d = Self::default();
        let positive = |key: &str, default: u64| -> Result<u64, ConfigError> {
            let v: u64 = s.parse_or(key, default)?;
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
            Ok(v)
        };
        Ok(Self {
            plugin_path: s
                .non_blank("plugin.path")
                .map(|p| crate::config::split_list(p).into_iter().map(PathBuf::from).collect())
                .unwrap_or_default(),
            memory_max_bytes: positive("wasm.memory.max.bytes", d.memory_max_bytes as u64)? as usize,
            call_timeout: Duration::from_millis(positive("wasm.call.timeout.ms", 5_000)?),
            module_max_bytes: positive("wasm.module.max.bytes", d.module_max_bytes as u64)? as usize,
            cache_dir: s.non_blank("wasm.cache.dir").map(PathBuf::from).unwrap_or(d.cache_dir),
            threads: positive("wasm.threads", d.threads as u64)? as usize,
            max_instances: d.max_instances,
        })
    }
}

/// The world a plugin implements, i.e. its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// Bytes ↔ typed values.
    Converter,
    /// Single-message transform.
    Transform,
    /// Kafka record → Cassandra mutations.
    SinkMapper,
    /// Cassandra row → Kafka records.
    SourceMapper,
}

impl World {
    /// Every world.
    pub const ALL: [World; 4] = [World::Converter, World::Transform, World::SinkMapper, World::SourceMapper];

    /// The world's name in `wit/plugin.wit`.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Converter => "converter",
            World::Transform => "transform",
            World::SinkMapper => "sink-mapper",
            World::SourceMapper => "source-mapper",
        }
    }

    /// The interface the world exports besides `plugin`.
    pub fn interface(self) -> &'static str {
        match self {
            World::Converter => "conversion",
            World::Transform => "transformer",
            World::SinkMapper => "sink-mapping",
            World::SourceMapper => "source-mapping",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The guest SDK's `Value` (JSON reader and writer included), compiled natively: its unit tests run
/// with the host's, and the sink indexes JSON records with its reader ([`crate::pipeline::json`]).
#[path = "../../../plugins/sdk/rust/src/value.rs"]
#[allow(dead_code, missing_debug_implementations, unreachable_pub)]
pub(crate) mod sdk_value;
