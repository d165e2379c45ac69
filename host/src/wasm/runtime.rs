//! The engine every plugin shares: compilation (cached on disk per content hash), the sandbox
//! (deny-by-default WASI, memory cap, CPU deadline) and the host's imports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::{debug, info, warn};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{host, schema_registry, transform, types};
use super::registry_client::SchemaRegistryClient;
use super::stdio::GuestOutput;
use super::{WasmSettings, World};

/// How often the epoch advances: the granularity of the CPU deadline.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Interfaces a plugin may import. Everything of WASI p2 is linked, but with a context that grants
/// nothing (no preopened directories, no environment, every socket address denied).
const ALLOWED_IMPORTS: &[&str] =
    &["spillway:plugin/", "wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/", "wasi:sockets/"];

/// Per-store state: the WASI context (which grants nothing), limits and the host imports' state.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    plugin: Arc<str>,
    logs: Arc<GuestOutput>,
    registry: Option<Arc<SchemaRegistryClient>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

impl State {
    /// Whether the last trap was the memory cap.
    pub fn memory_exceeded(&self) -> bool {
        self.limiter.exceeded
    }

    /// The plugin's counters (`host.counter-add`).
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.logs.counters()
    }
}

/// Caps a store's linear memory at `wasm.memory.max.bytes`, and remembers that it did.
#[derive(Debug)]
struct Limiter {
    max_bytes: usize,
    exceeded: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "memory would grow to {desired} bytes, over the cap of {} bytes (wasm.memory.max.bytes)",
                self.max_bytes
            )));
        }
        Ok(true)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for State {}

impl host::Host for State {
    fn log(&mut self, level: host::Level, message: String) {
        self.logs.log(level, &message);
    }
    fn counter_add(&mut self, name: String, delta: u64) {
        self.logs.count(&name, delta);
    }
}

impl schema_registry::Host for State {
    fn schema_by_id(&mut self, id: u32) -> Result<schema_registry::Schema, String> {
        let client = self.registry.as_ref().ok_or(NO_REGISTRY)?;
        let (schema_type, definition) = client.schema_by_id(id)?;
        Ok(schema_registry::Schema { id, schema_type, definition })
    }
    fn register(&mut self, subject: String, schema_type: String, definition: String) -> Result<u32, String> {
        self.registry.as_ref().ok_or(NO_REGISTRY)?.register(&subject, &schema_type, &definition)
    }
}

const NO_REGISTRY: &str = "no schema registry is configured: set schema.registry.url in the plugin's settings";

/// The shared engine, linker and compile cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<State>,
    settings: WasmSettings,
    ticker: Arc<Ticker>,
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while plugin code may run (a call, an
/// instantiation), and sleeps otherwise: an idle worker, or a pipeline without plugins, is not woken
/// 200 times a second for nothing.
struct Ticker {
    engine: Engine,
    /// Calls into plugins under way.
    calls: AtomicUsize,
    stop: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

impl Ticker {
    fn run(&self) {
        while !self.stop.load(Ordering::Acquire) {
            if self.calls.load(Ordering::Acquire) == 0 {
                // An unpark between the check and here makes this return at once.
                std::thread::park();
                continue;
            }
            std::thread::sleep(EPOCH_TICK);
            self.engine.increment_epoch();
        }
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

/// Keeps the epoch advancing while it lives: held across every entry into plugin code.
#[must_use = "the epoch stops advancing when this is dropped"]
pub(crate) struct Ticking(Arc<Ticker>);

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::Release);
        self.ticker.wake();
    }
}

impl Runtime {
    /// Builds the engine (pooling allocator, epoch interruption) and starts the epoch ticker.
    pub fn new(settings: WasmSettings) -> Result<Arc<Self>, String> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // `SPILLWAY_WASM_PERFMAP=1` names plugin code for `perf` (docs/development.md).
        if std::env::var_os("SPILLWAY_WASM_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(settings.max_instances)
            .total_core_instances(settings.max_instances * 2)
            .total_memories(settings.max_instances * 2)
            .total_tables(settings.max_instances * 2)
            .max_memory_size(settings.memory_max_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| format!("cannot start the Wasm engine: {e:#}"))?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("cannot link WASI: {e:#}"))?;
        transform::Transform::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| format!("cannot link the host imports: {e:#}"))?;
        std::fs::create_dir_all(&settings.cache_dir)
            .map_err(|e| format!("wasm.cache.dir: cannot create '{}': {e}", settings.cache_dir.display()))?;
        let ticker = Arc::new(Ticker {
            engine: engine.clone(),
            calls: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
        });
        let running = ticker.clone();
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || running.run())
            .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
        // A call that starts before this still gets its ticks: the thread checks the count
        // before it first parks.
        let _ = ticker.thread.set(thread.thread().clone());
        Ok(Arc::new(Self { engine, linker, settings, ticker }))
    }

    /// The sandbox settings.
    pub fn settings(&self) -> &WasmSettings {
        &self.settings
    }

    pub(crate) fn linker(&self) -> &Linker<State> {
        &self.linker
    }

    /// Compiles `bytes` (or loads the cached native code for them) and checks the component's
    /// imports and exports. Returns the component, its world and its content hash.
    pub fn compile(&self, origin: &str, bytes: &[u8]) -> Result<(Component, World, String), String> {
        let max = self.settings.module_max_bytes;
        if bytes.len() > max {
            return Err(format!(
                "{origin}: {} bytes, over the cap of {max} bytes (wasm.module.max.bytes)",
                bytes.len()
            ));
        }
        let hash = hex(&Sha256::digest(bytes));
        let component = self.cached_component(origin, bytes, &hash)?;
        let world = self.check_contract(origin, &component)?;
        Ok((component, world, hash))
    }

    fn cached_component(&self, origin: &str, bytes: &[u8], hash: &str) -> Result<Component, String> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let path = self.settings.cache_dir.join(format!("{hash}-{:016x}.cwasm", h.finish()));
        if path.exists() {
            match deserialize(&self.engine, &path) {
                Ok(c) => {
                    debug!(plugin = origin, cache = %path.display(), "loaded compiled plugin from the cache");
                    return Ok(c);
                }
                Err(e) => {
                    warn!(plugin = origin, cache = %path.display(), error = %e, "cache entry unusable; compiling again")
                }
            }
        }
        let started = Instant::now();
        let native = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| format!("{origin}: not a valid WebAssembly component: {}", first_line(&format!("{e:#}"))))?;
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        let written = std::fs::write(&tmp, &native).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            warn!(plugin = origin, cache = %path.display(), error = %e, "cannot write the compile cache");
        }
        info!(plugin = origin, ms = started.elapsed().as_millis() as u64, "compiled plugin");
        deserialize(&self.engine, &path)
            .or_else(|_| Component::new(&self.engine, bytes).map_err(|e| format!("{origin}: {e:#}")))
    }

    /// Imports must be WASI p2 or ours; exports must be `plugin` plus one world's interface.
    fn check_contract(&self, origin: &str, component: &Component) -> Result<World, String> {
        let ty = component.component_type();
        let denied: Vec<String> = ty
            .imports(&self.engine)
            .map(|(name, _)| name.to_string())
            .filter(|name| !ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p)))
            .collect();
        if !denied.is_empty() {
            return Err(format!(
                "{origin}: imports {} which the sandbox does not provide (allowed: spillway:plugin, and WASI p2 cli, io, clocks, random, filesystem, sockets — all without access)",
                denied.join(", ")
            ));
        }
        let exports: Vec<String> = ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let has = |interface: &str| exports.iter().any(|e| e.starts_with(&format!("spillway:plugin/{interface}@0.1")));
        let worlds: Vec<World> = World::ALL.into_iter().filter(|w| has(w.interface())).collect();
        let missing_plugin = !has("plugin");
        match (missing_plugin, worlds.as_slice()) {
            (false, [world]) => Ok(*world),
            _ => {
                let mut missing = Vec::new();
                if missing_plugin {
                    missing.push("spillway:plugin/plugin@0.1.0 (describe, configure)".to_string());
                }
                if worlds.is_empty() {
                    missing.push(
                        "one of spillway:plugin/transformer, /conversion, /sink-mapping, /source-mapping @0.1.0"
                            .to_string(),
                    );
                }
                let found = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
                if missing.is_empty() {
                    return Err(format!(
                        "{origin}: exports more than one plugin world ({found}); a plugin is exactly one"
                    ));
                }
                Err(format!(
                    "{origin}: not a Spillway plugin: it does not export {}; it exports {found}. Build it against wit/plugin.wit (world transform, converter, sink-mapper or source-mapper)",
                    missing.join(" nor ")
                ))
            }
        }
    }

    /// A fresh store for one instance of `plugin`, granting nothing.
    pub(crate) fn store(&self, plugin: &str, registry: Option<Arc<SchemaRegistryClient>>) -> Store<State> {
        let logs = Arc::new(GuestOutput::new(plugin));
        let wasi = WasiCtxBuilder::new()
            .stdout(logs.stdout())
            .stderr(logs.stderr())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        let state = State {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter { max_bytes: self.settings.memory_max_bytes, exceeded: false },
            plugin: Arc::from(plugin),
            logs,
            registry,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(self.deadline_ticks());
        store
    }

    /// Makes the epoch advance until the guard is dropped: take it before entering plugin code.
    pub(crate) fn ticking(&self) -> Ticking {
        if self.ticker.calls.fetch_add(1, Ordering::AcqRel) == 0 {
            self.ticker.wake();
        }
        Ticking(self.ticker.clone())
    }

    /// The CPU deadline of one call, in epoch ticks.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.settings.call_timeout.as_millis() as u64).div_ceil(EPOCH_TICK.as_millis() as u64) + 1
    }
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> Result<Component, String> {
    // SAFETY: the file is native code this process compiled with this engine's settings and wrote to
    // the host-owned cache directory (`wasm.cache.dir`), never a user-supplied file; its name
    // carries the engine's compatibility hash, and wasmtime checks the header again.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The default compile cache: `$XDG_CACHE_HOME/spillway/wasm`, else `~/.cache/spillway/wasm`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("spillway")
        .join("wasm")
}
