//! A connector's transforms (`transforms=a,b`, `transforms.a.type=<plugin>[@version]`), applied in
//! order to each batch. A transform with a predicate (`transforms.a.predicate=p`,
//! `predicates.p.type=…`, `transforms.a.negate`) applies only to the records the predicate selects;
//! the others pass it unchanged. A predicate is a transform-world plugin that keeps a record it
//! matches and drops one it does not. A trap, a deadline or a memory overrun costs only the batch in flight: the
//! step re-instantiates its plugin and bisects the batch until it has the offending records, which
//! go to the error policy; every other record goes on. A replaced plugin file takes effect at the
//! next batch.
//!
//! Two or more consecutive predicate-free `$Value` field edits of Connect's (`ReplaceField`,
//! `InsertField`, `TimestampConverter` on a field) run as one call of `spillway.FusedSteps` when it
//! is on the plugin path: one crossing, one read and one write of the JSON instead of one per step.
//! A record it does not take (not a plain JSON object, or failed by a step) goes through the steps'
//! own plugins, so outcomes and errors are theirs.

use std::sync::Arc;

use tracing::{info, warn};

use super::World;
use super::arena::{self, StepOutcome};
use super::converter::ConverterStep;
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
    /// `transforms.<alias>.*` without `type`, `predicate` and `negate` (prefix removed).
    pub config: Vec<(String, String)>,
    /// `transforms.<alias>.predicate`, when set.
    pub predicate: Option<PredicateSpec>,
}

impl TransformSpec {
    /// A transform without a predicate.
    pub fn new(alias: impl Into<String>, reference: impl Into<String>, config: Vec<(String, String)>) -> Self {
        Self { alias: alias.into(), reference: reference.into(), config, predicate: None }
    }

    fn prefix(&self) -> String {
        format!("transforms.{}.", self.alias)
    }
}

/// A transform's predicate: `predicates.<name>.type` and its settings, and whether it is negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredicateSpec {
    /// Its name in `predicates=`.
    pub name: String,
    /// `predicates.<name>.type`: a plugin name or `name@version`.
    pub reference: String,
    /// `predicates.<name>.*` without `type` (prefix removed).
    pub config: Vec<(String, String)>,
    /// `transforms.<alias>.negate`: apply the transform where the predicate does not match.
    pub negate: bool,
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
    /// For messages and settings: `transforms.<alias>.` or `predicates.<name>.`.
    prefix: String,
    reference: String,
    given: Vec<(String, String)>,
    alias: String,
    plugin: Arc<Plugin>,
    config: Vec<(String, String)>,
    instance: Option<Instance>,
    /// Calls made and instances created, for tests and logs.
    calls: u64,
    instantiations: u64,
    /// The predicate that selects the records this step applies to, and whether it is negated.
    predicate: Option<(Box<Step>, bool)>,
}

/// The plugin that runs consecutive field edits in one call.
const FUSED: &str = "spillway.FusedSteps";

/// The plugins (`name@version`) `spillway.FusedSteps` stands in for.
const FUSABLE: [&str; 3] = [
    "org.apache.kafka.connect.transforms.ReplaceField$Value@0.1.0",
    "org.apache.kafka.connect.transforms.InsertField$Value@0.1.0",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value@0.1.0",
];

/// A run of consecutive steps that one `spillway.FusedSteps` call stands in for.
struct Fused {
    first: usize,
    len: usize,
    step: Step,
}

/// The transforms of one task.
pub struct TransformChain {
    registry: Arc<Registry>,
    generation: u64,
    /// Converter plugins (`key.converter` / `value.converter`), run before the transforms.
    converters: Vec<ConverterStep>,
    steps: Vec<Step>,
    /// Runs of `steps` that go through one call.
    fused: Vec<Fused>,
    task: String,
}

impl std::fmt::Debug for TransformChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps: Vec<String> = self.steps.iter().map(|s| format!("{}={}", s.alias, s.plugin.id())).collect();
        f.debug_struct("TransformChain").field("task", &self.task).field("steps", &steps).finish()
    }
}

/// Resolves every step's plugin (and its predicate's) and validates its settings against the
/// self-description and the plugin's own `configure`.
pub fn resolve(registry: &Registry, specs: &[TransformSpec]) -> Result<Vec<ResolvedStep>, ConfigError> {
    specs
        .iter()
        .map(|spec| {
            if let Some(p) = &spec.predicate {
                resolve_one(registry, &format!("predicates.{}.", p.name), &p.reference, &p.config)?;
            }
            resolve_one(registry, &spec.prefix(), &spec.reference, &spec.config)
        })
        .collect()
}

fn resolve_one(
    registry: &Registry,
    prefix: &str,
    reference: &str,
    given: &[(String, String)],
) -> Result<ResolvedStep, ConfigError> {
    let key = format!("{prefix}type");
    let plugin = registry.resolve(reference, World::Transform).map_err(|e| ConfigError::invalid(&key, e))?;
    let config = plugin.validate(prefix, given).map_err(|e| ConfigError::invalid(&key, e))?;
    // The plugin's own checks run in configure(): try it once, so a bad setting is a config error
    // now rather than failed records later.
    Instance::new(&plugin, &config).map_err(|e| ConfigError::invalid(&key, e))?;
    Ok((plugin, config))
}

impl Step {
    fn new(prefix: String, alias: String, reference: &str, given: &[(String, String)], resolved: ResolvedStep) -> Self {
        let (plugin, config) = resolved;
        Step {
            prefix,
            reference: reference.to_string(),
            given: given.to_vec(),
            alias,
            plugin,
            config,
            instance: None,
            calls: 0,
            instantiations: 0,
            predicate: None,
        }
    }
}

impl TransformChain {
    /// A chain for `task` (a name for logs).
    pub fn new(registry: Arc<Registry>, specs: &[TransformSpec], task: &str) -> Result<Self, ConfigError> {
        let generation = registry.generation();
        let mut steps = Vec::with_capacity(specs.len());
        for spec in specs {
            let resolved = resolve_one(&registry, &spec.prefix(), &spec.reference, &spec.config)?;
            let mut step = Step::new(spec.prefix(), spec.alias.clone(), &spec.reference, &spec.config, resolved);
            if let Some(p) = &spec.predicate {
                let prefix = format!("predicates.{}.", p.name);
                let resolved = resolve_one(&registry, &prefix, &p.reference, &p.config)?;
                let predicate = Step::new(
                    prefix,
                    format!("{} (predicate {})", spec.alias, p.name),
                    &p.reference,
                    &p.config,
                    resolved,
                );
                step.predicate = Some((Box::new(predicate), p.negate));
            }
            steps.push(step);
        }
        let mut chain =
            Self { registry, generation, converters: Vec::new(), steps, fused: Vec::new(), task: task.to_string() };
        chain.fuse();
        Ok(chain)
    }

    /// Finds the runs of steps `spillway.FusedSteps` can stand in for (none when it is not on the
    /// plugin path, or does not accept a run's settings).
    fn fuse(&mut self) {
        self.fused.clear();
        let Ok(plugin) = self.registry.resolve(FUSED, World::Transform) else { return };
        let fusable = |s: &Step| s.predicate.is_none() && FUSABLE.contains(&s.plugin.id().as_str());
        let mut first = 0;
        while first < self.steps.len() {
            let len = self.steps[first..].iter().take_while(|s| fusable(s)).count();
            if len >= 2 {
                let run = &self.steps[first..first + len];
                let mut config =
                    vec![("steps".to_string(), (0..len).map(|k| format!("s{k}")).collect::<Vec<_>>().join(","))];
                for (k, step) in run.iter().enumerate() {
                    config.push((format!("s{k}.type"), step.plugin.descriptor.name.clone()));
                    config.extend(step.config.iter().map(|(key, v)| (format!("s{k}.{key}"), v.clone())));
                }
                let alias = run.iter().map(|s| s.alias.as_str()).collect::<Vec<_>>().join("+");
                match Instance::new(&plugin, &config) {
                    Ok(_) => {
                        info!(task = %self.task, transforms = %alias, "these steps run as one call of {FUSED}");
                        let step = Step::new(
                            format!("transforms.{alias}."),
                            alias,
                            FUSED,
                            &config,
                            (plugin.clone(), config.clone()),
                        );
                        self.fused.push(Fused { first, len, step });
                    }
                    Err(e) => {
                        info!(task = %self.task, transforms = %alias, reason = %e, "these steps run one by one");
                    }
                }
            }
            first += len.max(1);
        }
    }

    /// Runs these converter plugins over each batch before the transforms.
    pub fn with_converters(mut self, converters: Vec<ConverterStep>) -> Self {
        self.converters = converters;
        self
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.converters.is_empty()
    }

    /// `(alias, plugin id, calls, instantiations)` per step, then per fused run of steps (its alias
    /// is theirs joined by `+`).
    pub fn stats(&self) -> Vec<(String, String, u64, u64)> {
        self.steps
            .iter()
            .chain(self.fused.iter().map(|f| &f.step))
            .map(|s| (s.alias.clone(), s.plugin.id(), s.calls, s.instantiations))
            .collect()
    }

    /// Picks up replaced plugin files (between batches only).
    fn refresh(&mut self) {
        let generation = self.registry.generation();
        if generation == self.generation {
            return;
        }
        self.generation = generation;
        for step in &mut self.steps {
            step.refresh(&self.registry, &self.task);
            if let Some((predicate, _)) = &mut step.predicate {
                predicate.refresh(&self.registry, &self.task);
            }
        }
        self.fuse();
    }

    /// Runs `records` through every step (blocking: call it on a plugin thread). Returns, per
    /// input record in order, its output records or why it failed.
    pub fn apply(&mut self, records: Vec<SinkRecord>) -> Vec<Result<Vec<SinkRecord>, TransformFailure>> {
        self.refresh();
        let mut results: Vec<Result<Vec<SinkRecord>, TransformFailure>> =
            (0..records.len()).map(|_| Ok(Vec::new())).collect();
        let mut records = records;
        for converter in &mut self.converters {
            for (i, converted) in converter.run(&mut records).into_iter().enumerate() {
                if let (Err(message), Ok(_)) = (converted, &results[i]) {
                    let alias = converter.part().setting().to_string();
                    results[i] = Err(TransformFailure { alias, plugin: converter.plugin_id(), message });
                }
            }
        }
        // Records in flight, each with the index of the input it descends from.
        let mut current: Vec<(usize, SinkRecord)> =
            records.into_iter().enumerate().filter(|(i, _)| results[*i].is_ok()).collect();
        let mut at = 0;
        while at < self.steps.len() && !current.is_empty() {
            let Some(fused) = self.fused.iter_mut().find(|f| f.first == at) else {
                current = run_step(&mut self.steps[at], current, &mut results);
                at += 1;
                continue;
            };
            let (origins, batch): (Vec<usize>, Vec<SinkRecord>) = current.into_iter().unzip();
            let outcomes = fused.step.run_isolated(&batch);
            current = Vec::with_capacity(outcomes.len());
            // What the fused call did not take goes through the steps one by one.
            let mut one_by_one = Vec::new();
            for ((origin, record), outcome) in origins.into_iter().zip(batch).zip(outcomes) {
                match outcome {
                    Ok(outputs) => current.extend(outputs.into_iter().map(|r| (origin, r))),
                    Err(_) => one_by_one.push((origin, record)),
                }
            }
            for step in &mut self.steps[at..at + fused.len] {
                if one_by_one.is_empty() {
                    break;
                }
                one_by_one = run_step(step, one_by_one, &mut results);
            }
            current.extend(one_by_one);
            at += fused.len;
        }
        for (origin, record) in current {
            if let Ok(outputs) = &mut results[origin] {
                outputs.push(record);
            }
        }
        results
    }
}

/// A step's outcome for one record: its outputs, or (alias, plugin id, why) it failed.
type Selected = Result<Vec<SinkRecord>, (String, String, String)>;

/// Runs the records in flight (each with the index of the input it descends from) through one step;
/// a record that fails has its failure put in `results`.
fn run_step(
    step: &mut Step,
    current: Vec<(usize, SinkRecord)>,
    results: &mut [Result<Vec<SinkRecord>, TransformFailure>],
) -> Vec<(usize, SinkRecord)> {
    let (origins, batch): (Vec<usize>, Vec<SinkRecord>) = current.into_iter().unzip();
    let outcomes = step.run_selected(batch);
    let mut next = Vec::with_capacity(outcomes.len());
    for (origin, outcome) in origins.into_iter().zip(outcomes) {
        if results[origin].is_err() {
            continue;
        }
        match outcome {
            Ok(outputs) => next.extend(outputs.into_iter().map(|r| (origin, r))),
            Err((alias, plugin, message)) => results[origin] = Err(TransformFailure { alias, plugin, message }),
        }
    }
    next
}

impl Step {
    /// Picks up a replaced plugin file.
    fn refresh(&mut self, registry: &Registry, task: &str) {
        let newest = match registry.resolve(&self.reference, World::Transform) {
            Ok(p) => p,
            Err(e) => {
                warn!(task = %task, transform = %self.alias, error = %e, "plugin gone from plugin.path; the loaded version stays in use");
                return;
            }
        };
        if Arc::ptr_eq(&newest, &self.plugin) {
            return;
        }
        match newest.validate(&self.prefix, &self.given) {
            Ok(config) => {
                info!(task = %task, transform = %self.alias, from = %self.plugin.id(), to = %newest.id(), "plugin replaced; in use from this batch on");
                self.plugin = newest;
                self.config = config;
                self.instance = None;
            }
            Err(e) => {
                warn!(task = %task, transform = %self.alias, candidate = %newest.id(), error = %e, "replacement plugin does not accept this connector's settings; the previous version stays in use");
            }
        }
    }

    /// Runs the step over the records its predicate selects (all of them without one); the others
    /// pass unchanged. A record the predicate fails on fails here.
    fn run_selected(&mut self, batch: Vec<SinkRecord>) -> Vec<Selected> {
        let failure = |step: &Step, message: String| Err((step.alias.clone(), step.plugin.id(), message));
        let Some((predicate, negate)) = &mut self.predicate else {
            let outcomes = self.run_isolated(&batch);
            return outcomes.into_iter().map(|o| o.or_else(|m| failure(self, m))).collect();
        };
        let negate = *negate;
        // Ok(true): the transform applies (a match, or no match when negated); Ok(false): the record
        // passes unchanged; Err: the predicate failed on it.
        let selected: Vec<Result<bool, String>> =
            predicate.run_isolated(&batch).into_iter().map(|o| o.map(|kept| kept.is_empty() == negate)).collect();
        let mut results: Vec<Option<Selected>> = Vec::with_capacity(batch.len());
        let mut chosen = Vec::new();
        let mut chosen_at = Vec::new();
        for (i, (record, selected)) in batch.into_iter().zip(&selected).enumerate() {
            match selected {
                Ok(true) => {
                    chosen_at.push(i);
                    chosen.push(record);
                    results.push(None);
                }
                Ok(false) => results.push(Some(Ok(vec![record]))),
                Err(m) => results.push(Some(failure(predicate, m.clone()))),
            }
        }
        if !chosen.is_empty() {
            for (i, outcome) in chosen_at.into_iter().zip(self.run_isolated(&chosen)) {
                results[i] = Some(outcome.or_else(|m| failure(self, m)));
            }
        }
        results.into_iter().map(|r| r.expect("every record has an outcome")).collect()
    }

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
