//! A connector's transforms (`transforms=a,b`, `transforms.a.type=<plugin>[@version]`), applied in
//! order to each batch. A trap, a deadline or a memory overrun costs only the batch in flight: the
//! step re-instantiates its plugin and bisects the batch until it has the offending records, which
//! go to the error policy; every other record goes on. A replaced plugin file takes effect at the
//! next batch.

use std::sync::Arc;

use tracing::{info, warn};

use super::World;
use super::arena::{self, StepOutcome};
use super::plugin::{Instance, Plugin};
use super::registry::Registry;
use crate::config::ConfigError;
use crate::pipeline::record::SinkRecord;

/// A step's plugin and its validated settings (defaults filled in).
pub type ResolvedStep = (Arc<Plugin>, Vec<(String, String)>);

/// One configured transform, as written in the connector config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSpec {
    /// Its alias in `transforms=`.
    pub alias: String,
    /// `transforms.<alias>.type`: a plugin name or `name@version`.
    pub reference: String,
    /// `transforms.<alias>.*` without `type` (prefix removed).
    pub config: Vec<(String, String)>,
}

/// Why a record did not get through a transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformFailure {
    /// The step's alias.
    pub alias: String,
    /// `name@version` of the plugin.
    pub plugin: String,
    /// What happened.
    pub message: String,
}

/// A step: a plugin instance and what it needs to be rebuilt.
struct Step {
    spec: TransformSpec,
    plugin: Arc<Plugin>,
    config: Vec<(String, String)>,
    instance: Option<Instance>,
    /// Calls made and instances created, for tests and logs.
    calls: u64,
    instantiations: u64,
}

/// The transforms of one task.
pub struct TransformChain {
    registry: Arc<Registry>,
    generation: u64,
    steps: Vec<Step>,
    task: String,
}

impl std::fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps: Vec<String> = self.steps.iter().map(|s| format!("{}={}", s.spec.alias, s.plugin.id())).collect();
        f.debug_struct("TransformChain").field("task", &self.task).field("steps", &steps).finish()
    }
}

/// Resolves every step's plugin and validates its settings against the self-description and the
/// plugin's own `configure`.
pub fn resolve(registry: &Registry, specs: &[TransformSpec]) -> Result<Vec<ResolvedStep>, ConfigError> {
    specs
        .iter()
        .map(|spec| {
            let key = format!("transforms.{}.type", spec.alias);
            let plugin =
                registry.resolve(&spec.reference, World::Transform).map_err(|e| ConfigError::invalid(&key, e))?;
            let config = plugin
                .validate(&format!("transforms.{}.", spec.alias), &spec.config)
                .map_err(|e| ConfigError::invalid(&key, e))?;
            // The plugin's own checks run in configure(): try it once, so a bad setting is a
            // config error now rather than failed records later.
            Instance::new(&plugin, &config).map_err(|e| ConfigError::invalid(&key, e))?;
            Ok((plugin, config))
        })
        .collect()
}

impl TransformChain {
    /// A chain for `task` (a name for logs).
    pub fn new(registry: Arc<Registry>, specs: &[TransformSpec], task: &str) -> Result<Self, ConfigError> {
        let generation = registry.generation();
        let steps = resolve(&registry, specs)?
            .into_iter()
            .zip(specs)
            .map(|((plugin, config), spec)| Step {
                spec: spec.clone(),
                plugin,
                config,
                instance: None,
                calls: 0,
                instantiations: 0,
            })
            .collect();
        Ok(Self { registry, generation, steps, task: task.to_string() })
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// `(alias, plugin id, calls, instantiations)` per step.
    pub fn stats(&self) -> Vec<(String, String, u64, u64)> {
        self.steps.iter().map(|s| (s.spec.alias.clone(), s.plugin.id(), s.calls, s.instantiations)).collect()
    }

    /// Picks up replaced plugin files (between batches only).
    fn refresh(&mut self) {
        let generation = self.registry.generation();
        if generation == self.generation {
            return;
        }
        self.generation = generation;
        for step in &mut self.steps {
            let newest = match self.registry.resolve(&step.spec.reference, World::Transform) {
                Ok(p) => p,
                Err(e) => {
                    warn!(task = %self.task, transform = %step.spec.alias, error = %e, "plugin gone from plugin.path; the loaded version stays in use");
                    continue;
                }
            };
            if Arc::ptr_eq(&newest, &step.plugin) {
                continue;
            }
            match newest.validate(&format!("transforms.{}.", step.spec.alias), &step.spec.config) {
                Ok(config) => {
                    info!(task = %self.task, transform = %step.spec.alias, from = %step.plugin.id(), to = %newest.id(), "plugin replaced; in use from this batch on");
                    step.plugin = newest;
                    step.config = config;
                    step.instance = None;
                }
                Err(e) => {
                    warn!(task = %self.task, transform = %step.spec.alias, candidate = %newest.id(), error = %e, "replacement plugin does not accept this connector's settings; the previous version stays in use");
                }
            }
        }
    }

    /// Runs `records` through every step (blocking: call it on a plugin thread). Returns, per
    /// input record in order, its output records or why it failed.
    pub fn apply(&mut self, records: Vec<SinkRecord>) -> Vec<Result<Vec<SinkRecord>, TransformFailure>> {
        self.refresh();
        let mut results: Vec<Result<Vec<SinkRecord>, TransformFailure>> =
            (0..records.len()).map(|_| Ok(Vec::new())).collect();
        // Records in flight, each with the index of the input it descends from.
        let mut current: Vec<(usize, SinkRecord)> = records.into_iter().enumerate().collect();
        for step in &mut self.steps {
            if current.is_empty() {
                break;
            }
            let (origins, batch): (Vec<usize>, Vec<SinkRecord>) = current.into_iter().unzip();
            let outcomes = step.run_isolated(&batch);
            current = Vec::with_capacity(batch.len());
            for (origin, outcome) in origins.into_iter().zip(outcomes) {
                if results[origin].is_err() {
                    continue;
                }
                match outcome {
                    Ok(outputs) => current.extend(outputs.into_iter().map(|r| (origin, r))),
                    Err(message) => {
                        results[origin] =
                            Err(TransformFailure { alias: step.spec.alias.clone(), plugin: step.plugin.id(), message })
                    }
                }
            }
        }
        for (origin, record) in current {
            if let Ok(outputs) = &mut results[origin] {
                outputs.push(record);
            }
        }
        results
    }
}

impl Step {
    /// Runs the batch; on a trap, re-instantiates and bisects down to the offending records.
    fn run_isolated(&mut self, records: &[SinkRecord]) -> Vec<StepOutcome> {
        match self.call(records) {
            Ok(outcomes) => outcomes,
            Err(Fatal::Instantiate(e)) => records.iter().map(|_| Err(e.clone())).collect(),
            Err(Fatal::Trap(e)) if records.len() == 1 => vec![Err(e)],
            Err(Fatal::Trap(_)) => {
                let (left, right) = records.split_at(records.len() / 2);
                let mut outcomes = self.run_isolated(left);
                outcomes.extend(self.run_isolated(right));
                outcomes
            }
        }
    }

    fn call(&mut self, records: &[SinkRecord]) -> Result<Vec<StepOutcome>, Fatal> {
        if self.instance.is_none() {
            self.instantiations += 1;
            self.instance = Some(Instance::new(&self.plugin, &self.config).map_err(Fatal::Instantiate)?);
        }
        let instance = self.instance.as_mut().expect("instantiated above");
        self.calls += 1;
        let batch = arena::batch(records, self.plugin.descriptor.wants_typed);
        let answer = instance.transform(&batch).map_err(|e| {
            self.instance = None;
            Fatal::Trap(e.to_string())
        })?;
        arena::outcomes(records, answer).map_err(|e| {
            // A plugin that breaks the contract is treated like one that traps.
            self.instance = None;
            Fatal::Trap(format!("plugin {} broke the contract: {e}", self.plugin.id()))
        })
    }
}

enum Fatal {
    Instantiate(String),
    Trap(String),
}
