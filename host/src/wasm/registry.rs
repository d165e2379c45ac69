//! Plugins found in `plugin.path`: discovered at start, watched afterwards. A new or replaced file
//! is loaded off the hot path and used from the next batch on; a broken file is reported and
//! leaves every running plugin (including the previous good version of that file) alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use tracing::{error, info, warn};

use super::plugin::Plugin;
use super::pool::PluginThreads;
use super::runtime::Runtime;
use super::{WasmSettings, World};

/// How often `plugin.path` is checked for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug)]
struct FileState {
    stamp: (Option<SystemTime>, u64),
    loaded: Option<Arc<Plugin>>,
    error: Option<String>,
}

/// A plugin file's state, for `GET /plugins` and the CLI.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// `name@version` of the plugin in use from this file, if any.
    pub plugin: Option<String>,
    /// Why the file's current content is not in use.
    pub error: Option<String>,
}

/// The plugins of this worker.
pub struct Registry {
    runtime: Arc<Runtime>,
    threads: PluginThreads,
    files: RwLock<BTreeMap<PathBuf, FileState>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("generation", &self.generation()).finish_non_exhaustive()
    }
}

impl Registry {
    /// Starts the runtime, loads every plugin in `plugin.path` and starts watching it.
    pub fn open(settings: &WasmSettings) -> Result<Arc<Self>, String> {
        let runtime = Runtime::new(settings.clone())?;
        let threads = PluginThreads::new(settings.threads)?;
        let registry = Arc::new(Self { runtime, threads, files: RwLock::default(), generation: AtomicU64::new(0) });
        for dir in &settings.plugin_path {
            if !dir.is_dir() {
                warn!(dir = %dir.display(), "plugin.path entry is not a directory (yet); it is watched anyway");
            }
        }
        registry.scan();
        registry.watch(WATCH_INTERVAL);
        Ok(registry)
    }

    /// The engine.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The threads plugin code runs on.
    pub fn threads(&self) -> &PluginThreads {
        &self.threads
    }

    /// Grows by one on every change of the set of plugins in use.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn candidates(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for dir in &self.runtime.settings().plugin_path {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    // Kafka Connect style: one directory per plugin.
                    if let Ok(inner) = std::fs::read_dir(&path) {
                        found.extend(inner.flatten().map(|e| e.path()).filter(|p| is_wasm(p)));
                    }
                } else if is_wasm(&path) {
                    found.push(path);
                }
            }
        }
        found.sort();
        found
    }

    /// Loads new and changed files, forgets removed ones. Returns whether anything changed.
    pub fn scan(&self) -> bool {
        let paths = self.candidates();
        let mut changed = false;
        let stamps: Vec<(PathBuf, (Option<SystemTime>, u64))> = paths
            .into_iter()
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, (m.modified().ok(), m.len()))))
            .collect();
        let stale: Vec<(PathBuf, (Option<SystemTime>, u64))> = {
            let files = self.files.read().unwrap_or_else(|p| p.into_inner());
            stamps.iter().filter(|(p, s)| files.get(p).is_none_or(|f| f.stamp != *s)).cloned().collect()
        };
        for (path, stamp) in stale {
            let loaded = Plugin::load(&self.runtime, &path);
            let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
            let entry = files.entry(path.clone()).or_insert(FileState { stamp, loaded: None, error: None });
            entry.stamp = stamp;
            match loaded {
                Ok(plugin) => {
                    info!(plugin = %plugin.id(), kind = %plugin.world, file = %path.display(), "plugin registered");
                    entry.loaded = Some(Arc::new(plugin));
                    entry.error = None;
                    changed = true;
                }
                Err(e) => {
                    error!(file = %path.display(), error = %e, "plugin file rejected; plugins in use are not affected");
                    entry.error = Some(e);
                }
            }
        }
        {
            let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
            let before = files.len();
            files.retain(|p, _| stamps.iter().any(|(s, _)| s == p));
            if files.len() != before {
                info!(removed = before - files.len(), "plugin files removed from plugin.path");
                changed = true;
            }
        }
        if changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        changed
    }

    /// Re-scans every `interval` on a background thread for as long as the registry lives.
    fn watch(self: &Arc<Self>, interval: Duration) {
        let weak: Weak<Self> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("plugin-watch".into()).spawn(move || {
            loop {
                std::thread::sleep(interval);
                match weak.upgrade() {
                    Some(registry) => {
                        registry.scan();
                    }
                    None => return,
                }
            }
        });
        if let Err(e) = spawned {
            error!(error = %e, "cannot watch plugin.path; new plugins need a restart");
        }
    }

    /// Every plugin in use.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        files.values().filter_map(|f| f.loaded.clone()).collect()
    }

    /// Every plugin file with its state.
    pub fn files(&self) -> Vec<FileReport> {
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        files
            .iter()
            .map(|(path, f)| FileReport {
                path: path.clone(),
                plugin: f.loaded.as_ref().map(|p| p.id()),
                error: f.error.clone(),
            })
            .collect()
    }

    /// The plugin `reference` names: `name` (the newest version) or `name@version`; a name may be
    /// one of the plugin's aliases. `world` is the kind the caller needs.
    pub fn resolve(&self, reference: &str, world: World) -> Result<Arc<Plugin>, String> {
        let (name, version) = match reference.trim().split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (reference.trim(), None),
        };
        let plugins = self.plugins();
        let mut matching: Vec<&Arc<Plugin>> = plugins
            .iter()
            .filter(|p| p.descriptor.name == name || p.descriptor.aliases.iter().any(|a| a == name))
            .filter(|p| version.is_none_or(|v| p.descriptor.version == v))
            .collect();
        matching.sort_by_key(|p| semver(&p.descriptor.version));
        let Some(found) = matching.last() else {
            let mut available: Vec<String> = plugins.iter().filter(|p| p.world == world).map(|p| p.id()).collect();
            available.sort();
            let dirs: Vec<String> =
                self.runtime.settings().plugin_path.iter().map(|d| d.display().to_string()).collect();
            return Err(format!(
                "no {world} plugin '{reference}' in plugin.path ({}); available: {}",
                if dirs.is_empty() { "not set".to_string() } else { dirs.join(", ") },
                if available.is_empty() { "none".to_string() } else { available.join(", ") }
            ));
        };
        if found.world != world {
            return Err(format!("'{reference}' is a {} plugin ({}), not a {world}", found.world, found.id()));
        }
        Ok((*found).clone())
    }
}

fn is_wasm(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "wasm")
}

fn semver(v: &str) -> (u64, u64, u64) {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}
