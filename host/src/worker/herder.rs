//! The herder: the one owner of this worker's connectors. REST and the startup files go through it
//! to create, reconfigure, pause, resume, stop, restart and delete connectors; it starts and stops
//! their tasks, restarts failed ones with backoff, and keeps the status board true.
//!
//! In distributed mode a change is validated here and appended to the cluster's config topic
//! instead; every worker's herder then reconciles with what the topic says
//! ([`Herder::reconcile_cluster`]), running the tasks the leader assigned to it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::status::{State, StatusBoard, TaskStatus};
use crate::cluster::records::ConfigRecord;
use crate::cluster::{Cluster, View};
use crate::config::{ConfigError, ConnectorConfig, Settings, WorkerConfig};
use crate::connectors::sink::config::{SINK_PREFIXES, all_keys};
use crate::connectors::{ConnectorKind, Task, TaskControl, TaskReport};
use crate::kafka::offsets::TopicPartition;
use crate::wasm::Registry;
use crate::wasm::pool::off_runtime;

/// How long stopping a task may take before it is aborted (its uncommitted records are redelivered).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest wait between automatic restarts.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(60);

/// What a connector should be doing (Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Tasks run.
    Running,
    /// Tasks keep their partitions but consume nothing.
    Paused,
    /// No tasks.
    Stopped,
}

impl Target {
    /// Parses `initial_state` of `POST /connectors`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RUNNING" => Some(Self::Running),
            "PAUSED" => Some(Self::Paused),
            "STOPPED" => Some(Self::Stopped),
            _ => None,
        }
    }

    fn state(self) -> State {
        match self {
            Self::Running => State::Running,
            Self::Paused => State::Paused,
            Self::Stopped => State::Stopped,
        }
    }
}

/// Why an operation was refused; REST turns each into Connect's status code.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    /// No such connector or task (404).
    #[error("{0}")]
    NotFound(String),
    /// The connector exists already (409).
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// The request cannot be honoured as given (400).
    #[error("{0}")]
    BadRequest(String),
    /// The configuration is invalid (400, with Connect's wording).
    #[error(
        "Connector configuration is invalid and contains the following 1 error(s):\n{0}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`"
    )]
    Invalid(ConfigError),
    /// Something outside the request failed (500).
    #[error("{0}")]
    Internal(String),
}

/// The result of validating a configuration: every key given, and the error of the one that is
/// wrong (validation stops at the first problem, as each key's meaning can depend on others).
#[derive(Debug)]
pub struct Validation {
    /// The connector type (`sink` / `source`), when the class is known.
    pub kind: Option<ConnectorKind>,
    /// The first problem found.
    pub error: Option<ConfigError>,
}

/// Where a source connector's offsets live.
enum SourceStore {
    /// The worker's offset file.
    File(Arc<crate::connectors::source::offsets::OffsetFile>),
    /// The offsets topic (exactly-once sources).
    Topic(String),
}

/// A running task and the means to stop it.
#[derive(Debug)]
struct Slot {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// One connector as the herder keeps it.
#[derive(Debug)]
struct Entry {
    config: ConnectorConfig,
    kind: ConnectorKind,
    target: Target,
    paused: watch::Sender<bool>,
    slots: BTreeMap<u32, Slot>,
    reports: BTreeMap<u32, Arc<TaskReport>>,
}

/// This worker's connectors.
#[derive(Debug)]
pub struct Herder {
    worker: Arc<WorkerConfig>,
    registry: Arc<Registry>,
    board: Arc<StatusBoard>,
    shutdown: CancellationToken,
    connectors: Mutex<BTreeMap<String, Entry>>,
    /// Distributed mode: the cluster that decides what runs here.
    cluster: OnceLock<Arc<Cluster>>,
    /// Distributed mode: configurations from the config topic that do not validate here.
    rejected: std::sync::Mutex<BTreeMap<String, Settings>>,
}

/// A connector's validated configuration and its tasks.
type Planned = (ConnectorConfig, ConnectorKind, Vec<Task>);

/// Validates a connector's settings and builds its tasks (runs guest code: call off the runtime).
fn plan(worker: &Arc<WorkerConfig>, registry: &Arc<Registry>, settings: Settings) -> Result<Planned, ConfigError> {
    let config = ConnectorConfig::from_settings(settings)?;
    let kind = ConnectorKind::from_class(&config.class)?;
    let count = Task::count(worker, &config, kind)?;
    let tasks = (0..count)
        .map(|id| Task::new(worker.clone(), config.clone(), kind, id, count, registry.clone()))
        .collect::<Result<_, _>>()?;
    Ok((config, kind, tasks))
}

fn warn_unknown_keys(config: &ConnectorConfig, kind: ConnectorKind) {
    let warnings = match kind {
        ConnectorKind::CassandraSink => {
            let inert = crate::connectors::sink::datastax::inert_warnings(&config.settings)
                .into_iter()
                .map(|w| format!("connector '{}': {w}", config.name));
            config.unknown_key_warnings(&all_keys(), SINK_PREFIXES).into_iter().chain(inert).collect::<Vec<_>>()
        }
        ConnectorKind::CassandraSource => config.unknown_key_warnings(&crate::connectors::source::config_keys(), &[]),
    };
    for warning in warnings {
        warn!("{warning}");
    }
}

impl Herder {
    /// A herder with no connectors; `shutdown` stops everything.
    pub fn new(
        worker: Arc<WorkerConfig>,
        registry: Arc<Registry>,
        board: Arc<StatusBoard>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            worker,
            registry,
            board,
            shutdown,
            connectors: Mutex::default(),
            cluster: OnceLock::new(),
            rejected: std::sync::Mutex::default(),
        })
    }

    /// The status board this herder keeps.
    pub fn board(&self) -> &Arc<StatusBoard> {
        &self.board
    }

    /// The worker's plugins.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The worker's settings.
    pub fn worker(&self) -> &Arc<WorkerConfig> {
        &self.worker
    }

    async fn plan(&self, settings: Settings) -> Result<Planned, HerderError> {
        let (worker, registry) = (self.worker.clone(), self.registry.clone());
        off_runtime(move || plan(&worker, &registry, settings))
            .await
            .map_err(HerderError::Internal)?
            .map_err(HerderError::Invalid)
    }

    /// Validates a configuration without creating anything (`…/config/validate`).
    pub async fn validate(&self, settings: Settings) -> Validation {
        let kind = settings.get("connector.class").and_then(|c| ConnectorKind::from_class(c).ok());
        let error = match self.plan(settings).await {
            Ok(_) => None,
            Err(HerderError::Invalid(e)) => Some(e),
            Err(other) => Some(ConfigError::invalid("connector.class", other.to_string())),
        };
        Validation { kind, error }
    }

    /// Creates a connector and starts it in `target`. `AlreadyExists` if the name is taken.
    pub async fn create(&self, settings: Settings, target: Target) -> Result<(), HerderError> {
        let name = settings.get("name").unwrap_or_default().to_string();
        if let Some(cluster) = self.cluster.get() {
            catch_up(cluster).await?;
            if cluster.view().connectors.contains_key(&name) {
                return Err(HerderError::AlreadyExists(name));
            }
            self.plan(settings.clone()).await?;
            let records = [
                ConfigRecord::Target { name: name.clone(), target: Some(target) },
                ConfigRecord::Connector { name, settings: Some(settings.0) },
            ];
            return submit(cluster, &records).await;
        }
        if self.connectors.lock().await.contains_key(&name) {
            return Err(HerderError::AlreadyExists(name));
        }
        let planned = self.plan(settings).await?;
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(&name) {
            return Err(HerderError::AlreadyExists(name));
        }
        let entry = self.start(planned, target, BTreeMap::new());
        connectors.insert(name, entry);
        Ok(())
    }

    /// Creates the connector, or replaces its configuration and restarts its tasks with it.
    /// Returns whether it was created.
    pub async fn put_config(&self, settings: Settings) -> Result<bool, HerderError> {
        let name = settings.get("name").unwrap_or_default().to_string();
        if let Some(cluster) = self.cluster.get() {
            catch_up(cluster).await?;
            let created = !cluster.view().connectors.contains_key(&name);
            self.plan(settings.clone()).await?;
            let mut records = vec![ConfigRecord::Connector { name: name.clone(), settings: Some(settings.0) }];
            if created {
                records.insert(0, ConfigRecord::Target { name, target: Some(Target::Running) });
            }
            submit(cluster, &records).await?;
            return Ok(created);
        }
        let planned = self.plan(settings).await?;
        let mut connectors = self.connectors.lock().await;
        match connectors.remove(&name) {
            None => {
                let entry = self.start(planned, Target::Running, BTreeMap::new());
                connectors.insert(name, entry);
                Ok(true)
            }
            Some(old) => {
                let (target, reports) = (old.target, old.reports.clone());
                stop_slots(old.slots.into_values().collect()).await;
                info!(connector = %name, "configuration updated; tasks restarted");
                let entry = self.start(planned, target, reports);
                connectors.insert(name, entry);
                Ok(false)
            }
        }
    }

    /// The configuration as stored, for `PATCH …/config` to merge into.
    pub async fn config(&self, name: &str) -> Result<Settings, HerderError> {
        if let Some(cluster) = self.cluster.get() {
            return cluster.view().connectors.get(name).map(|s| Settings(s.clone())).ok_or_else(|| not_found(name));
        }
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry.config.settings.clone())
    }

    /// Starts a planned connector's tasks (none when stopped) and registers it on the board.
    fn start(&self, planned: Planned, target: Target, reports: BTreeMap<u32, Arc<TaskReport>>) -> Entry {
        self.start_owned(planned, target, reports, None)
    }

    /// [`Self::start`], running only the `owned` tasks (all when `None`).
    fn start_owned(
        &self,
        (config, kind, tasks): Planned,
        target: Target,
        mut reports: BTreeMap<u32, Arc<TaskReport>>,
        owned: Option<&BTreeSet<u32>>,
    ) -> Entry {
        warn_unknown_keys(&config, kind);
        let name = config.name.clone();
        let count = if target == Target::Stopped { 0 } else { tasks.len() as u32 };
        self.board.add_connector(&name, kind.type_name(), config.settings.0.clone(), count);
        self.board.set_connector(&name, target.state(), None);
        if target == Target::Paused {
            self.board.move_tasks(&name, &[State::Unassigned], State::Paused);
        }
        let (paused, _) = watch::channel(target == Target::Paused);
        let mut slots = BTreeMap::new();
        if target != Target::Stopped {
            for (id, task) in tasks.into_iter().enumerate() {
                let id = id as u32;
                if owned.is_some_and(|o| !o.contains(&id)) {
                    continue;
                }
                let report = reports.entry(id).or_default().clone();
                slots.insert(id, self.spawn_task(&config, kind, id, Some(task), &paused, report));
            }
        }
        info!(connector = %name, tasks = slots.len(), state = ?target, "connector started");
        Entry { config, kind, target, paused, slots, reports }
    }

    /// Runs one task under supervision: failures that may pass restart it with backoff, up to
    /// `task.restart.max.attempts` times in a row.
    fn spawn_task(
        &self,
        config: &ConnectorConfig,
        kind: ConnectorKind,
        id: u32,
        first: Option<Task>,
        paused: &watch::Sender<bool>,
        report: Arc<TaskReport>,
    ) -> Slot {
        let stop = self.shutdown.child_token();
        let control = TaskControl { stop: stop.clone(), paused: paused.subscribe(), report };
        let (worker, registry, board) = (self.worker.clone(), self.registry.clone(), self.board.clone());
        let config = config.clone();
        let handle = tokio::spawn(async move {
            let name = config.name.clone();
            let mut first = first;
            let mut attempt = 0;
            loop {
                let task = match first.take() {
                    Some(task) => task,
                    None => {
                        let (w, r, c) = (worker.clone(), registry.clone(), config.clone());
                        let build = move || {
                            let count = Task::count(&w, &c, kind)?;
                            Task::new(w, c, kind, id, count, r)
                        };
                        match off_runtime(build).await {
                            Ok(Ok(task)) => task,
                            Ok(Err(e)) => return board.set_task(&name, id, State::Failed, Some(e.to_string())),
                            Err(e) => return board.set_task(&name, id, State::Failed, Some(e)),
                        }
                    }
                };
                let state = if *control.paused.borrow() { State::Paused } else { State::Running };
                board.set_task(&name, id, state, None);
                let error = match task.run(control.clone()).await {
                    Ok(()) => return,
                    Err(e) => e,
                };
                TaskReport::add(&control.report.failures, 1);
                error!(connector = %name, task = id, error = %error, "task failed");
                if !error.may_pass() || attempt >= config.restart_max_attempts || control.stop.is_cancelled() {
                    return board.set_task(&name, id, State::Failed, Some(error.to_string()));
                }
                attempt += 1;
                let delay = config.restart_backoff.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_RESTART_BACKOFF);
                let note = format!(
                    "{error}\n(restarting automatically in {:.1} s: attempt {attempt} of {}, task.restart.max.attempts)",
                    delay.as_secs_f64(),
                    config.restart_max_attempts
                );
                board.set_task(&name, id, State::Failed, Some(note));
                tokio::select! {
                    () = control.stop.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                board.set_task(&name, id, State::Restarting, None);
            }
        });
        Slot { stop, handle }
    }

    /// Deletes a connector: its tasks stop and leave the consumer group (offsets stay committed).
    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        if let Some(cluster) = self.cluster.get() {
            self.require_in_cluster(cluster, name).await?;
            let records = [
                ConfigRecord::Connector { name: name.to_string(), settings: None },
                ConfigRecord::Target { name: name.to_string(), target: None },
            ];
            return submit(cluster, &records).await;
        }
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.remove(name).ok_or_else(|| not_found(name))?;
        stop_slots(entry.slots.into_values().collect()).await;
        self.board.remove_connector(name);
        info!(connector = %name, "connector deleted");
        Ok(())
    }

    /// Pauses a connector: its tasks keep their partitions and consume nothing. Idempotent.
    pub async fn pause(&self, name: &str) -> Result<(), HerderError> {
        if let Some(cluster) = self.cluster.get() {
            return self.set_target(cluster, name, Target::Paused).await;
        }
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.slots.is_empty() {
            // Stopped: as Connect, its tasks start again, paused.
            let (settings, reports) = (entry.config.settings.clone(), entry.reports.clone());
            drop(connectors);
            let planned = self.plan(settings).await?;
            let mut connectors = self.connectors.lock().await;
            let Some(entry) = connectors.get_mut(name) else { return Err(not_found(name)) };
            if entry.slots.is_empty() {
                *entry = self.start(planned, Target::Paused, reports);
            }
            return Ok(());
        }
        entry.target = Target::Paused;
        entry.paused.send_replace(true);
        self.board.set_connector(name, State::Paused, None);
        self.board.move_tasks(name, &[State::Running, State::Unassigned], State::Paused);
        info!(connector = %name, "connector paused");
        Ok(())
    }

    /// Resumes a paused or stopped connector. Idempotent.
    pub async fn resume(&self, name: &str) -> Result<(), HerderError> {
        if let Some(cluster) = self.cluster.get() {
            return self.set_target(cluster, name, Target::Running).await;
        }
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.slots.is_empty() {
            // Stopped (or paused while stopped): start the tasks again.
            let settings = entry.config.settings.clone();
            let reports = entry.reports.clone();
            drop(connectors);
            let planned = self.plan(settings).await?;
            let mut connectors = self.connectors.lock().await;
            let Some(entry) = connectors.get_mut(name) else { return Err(not_found(name)) };
            if !entry.slots.is_empty() {
                return Ok(()); // resumed concurrently
            }
            *entry = self.start(planned, Target::Running, reports);
            return Ok(());
        }
        entry.target = Target::Running;
        entry.paused.send_replace(false);
        self.board.set_connector(name, State::Running, None);
        self.board.move_tasks(name, &[State::Paused], State::Running);
        info!(connector = %name, "connector resumed");
        Ok(())
    }

    /// Stops a connector: its tasks finish what is in flight, commit and leave; it keeps its
    /// configuration and offsets, with no tasks, until resumed. Idempotent.
    pub async fn stop(&self, name: &str) -> Result<(), HerderError> {
        if let Some(cluster) = self.cluster.get() {
            return self.set_target(cluster, name, Target::Stopped).await;
        }
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        entry.target = Target::Stopped;
        let slots = std::mem::take(&mut entry.slots);
        stop_slots(slots.into_values().collect()).await;
        self.board.set_connector(name, State::Stopped, None);
        self.board.reset_tasks(name, 0);
        info!(connector = %name, "connector stopped");
        Ok(())
    }

    /// Restarts one task: it stops (draining) and starts again from the committed offsets.
    pub async fn restart_task(&self, name: &str, id: u32) -> Result<(), HerderError> {
        if let Some(cluster) = self.cluster.get() {
            self.require_in_cluster(cluster, name).await?;
            if self.board.task(name, id).is_none() {
                return Err(HerderError::NotFound(format!("Unknown task: {name}-{id}")));
            }
            return submit(cluster, &[ConfigRecord::Restart { name: name.to_string(), tasks: vec![id] }]).await;
        }
        self.restart_local_task(name, id).await
    }

    /// Restarts one of this worker's tasks.
    async fn restart_local_task(&self, name: &str, id: u32) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        let Some(slot) = entry.slots.remove(&id) else {
            return Err(HerderError::NotFound(format!("Unknown task: {name}-{id}")));
        };
        self.board.set_task(name, id, State::Restarting, None);
        stop_slots(vec![slot]).await;
        let report = entry.reports.entry(id).or_default().clone();
        let slot = self.spawn_task(&entry.config, entry.kind, id, None, &entry.paused, report);
        entry.slots.insert(id, slot);
        info!(connector = %name, task = id, "task restarted");
        Ok(())
    }

    /// Connect's `POST /connectors/{c}/restart`: the connector (its configuration is checked again)
    /// and, with `include_tasks`, its tasks; with `only_failed`, only what failed. Returns the task
    /// ids that will restart, after marking them (and the connector) RESTARTING on the board; the
    /// restart itself continues in the background.
    pub async fn restart(
        self: &Arc<Self>,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Vec<u32>, HerderError> {
        let status = self.board.connector(name).ok_or_else(|| not_found(name))?;
        let restart_connector = !only_failed || status.state == State::Failed;
        let ids: Vec<u32> = if include_tasks {
            status.tasks.iter().filter(|(_, t)| !only_failed || t.state == State::Failed).map(|(id, _)| *id).collect()
        } else {
            Vec::new()
        };
        if restart_connector {
            let settings = self.config(name).await?;
            if let Err(e) = ConnectorConfig::from_settings(settings) {
                self.board.set_connector(name, State::Failed, Some(e.to_string()));
                return Ok(ids);
            }
        }
        if let Some(cluster) = self.cluster.get() {
            if !ids.is_empty() {
                submit(cluster, &[ConfigRecord::Restart { name: name.to_string(), tasks: ids.clone() }]).await?;
            }
            return Ok(ids);
        }
        for id in &ids {
            self.board.set_task(name, *id, State::Restarting, None);
        }
        let (herder, name, tasks) = (self.clone(), name.to_string(), ids.clone());
        tokio::spawn(async move {
            for id in tasks {
                if let Err(e) = herder.restart_task(&name, id).await {
                    warn!(connector = %name, task = id, error = %e, "restart skipped");
                }
            }
        });
        Ok(ids)
    }

    /// The connector's committed offsets, Connect's sink form.
    pub async fn offsets(&self, name: &str) -> Result<Vec<(TopicPartition, i64)>, HerderError> {
        let topics = self.topics_of(name).await?;
        let (worker, name) = (self.worker.clone(), name.to_string());
        blocking(move || crate::kafka::admin::committed(&worker, &name, &topics)).await
    }

    /// Sets or removes committed offsets; the connector must be stopped, as in Connect.
    pub async fn alter_offsets(
        &self,
        name: &str,
        changes: Vec<(TopicPartition, Option<i64>)>,
    ) -> Result<(), HerderError> {
        let connectors = self.connectors.lock().await;
        self.require_stopped(&connectors, name)?;
        let topics = connectors[name].config.settings.get("topics").map(crate::config::split_list).unwrap_or_default();
        let (worker, owned) = (self.worker.clone(), name.to_string());
        let result = blocking(move || crate::kafka::admin::alter(&worker, &owned, &topics, &changes)).await;
        drop(connectors);
        result
    }

    /// Removes every committed offset; the connector must be stopped.
    pub async fn reset_offsets(&self, name: &str) -> Result<(), HerderError> {
        let connectors = self.connectors.lock().await;
        self.require_stopped(&connectors, name)?;
        let (worker, owned) = (self.worker.clone(), name.to_string());
        let result = blocking(move || crate::kafka::admin::delete_group(&worker, &owned)).await;
        drop(connectors);
        result
    }

    /// Where a source connector's offsets live: the offsets topic when it is exactly once, else
    /// the worker's offset file.
    fn source_store(&self, settings: Settings) -> Result<SourceStore, HerderError> {
        let config = ConnectorConfig::from_settings(settings).map_err(HerderError::Invalid)?;
        let source = crate::connectors::source::SourceConfig::from_connector(&config, &self.worker)
            .map_err(HerderError::Invalid)?;
        if let Some(eos) = source.exactly_once {
            return Ok(SourceStore::Topic(eos.topic));
        }
        let path = self.worker.offset_storage_file.as_ref().ok_or_else(|| {
            HerderError::BadRequest(
                "this worker has no offset.storage.file.filename: it keeps no source offsets".into(),
            )
        })?;
        Ok(SourceStore::File(
            crate::connectors::source::offsets::OffsetFile::open(path).map_err(HerderError::Internal)?,
        ))
    }

    /// A source connector's stored offsets: (source partition, source offset), Connect's layout.
    pub async fn source_offsets(&self, name: &str) -> Result<Vec<(serde_json::Value, serde_json::Value)>, HerderError> {
        match self.source_store(self.config(name).await?)? {
            SourceStore::File(file) => Ok(file.all(name)),
            SourceStore::Topic(topic) => {
                let (worker, owned) = (self.worker.clone(), name.to_string());
                let stored =
                    blocking(move || crate::connectors::source::offset_topic::read(&worker, &topic, &owned)).await?;
                let mut out: Vec<(serde_json::Value, serde_json::Value)> = stored
                    .into_iter()
                    .filter_map(|(key, offset)| {
                        let serde_json::Value::Array(mut parts) = serde_json::from_slice(&key).ok()? else {
                            return None;
                        };
                        Some((parts.pop()?, offset))
                    })
                    .collect();
                out.sort_by_key(|(p, _)| p.to_string());
                Ok(out)
            }
        }
    }

    /// Sets (or, with `None`, removes) a stopped source connector's offsets; with no changes,
    /// removes them all.
    pub async fn alter_source_offsets(
        &self,
        name: &str,
        changes: Option<Vec<(serde_json::Value, Option<serde_json::Value>)>>,
    ) -> Result<(), HerderError> {
        let store = {
            let connectors = self.connectors.lock().await;
            self.require_stopped(&connectors, name)?;
            self.source_store(connectors[name].config.settings.clone())?
        };
        let all = match changes {
            Some(c) => c,
            None => self.source_offsets(name).await?.into_iter().map(|(p, _)| (p, None)).collect(),
        };
        match store {
            SourceStore::File(file) => file.put(name, &all).map_err(HerderError::Internal),
            SourceStore::Topic(topic) => {
                crate::connectors::source::offset_topic::write(&self.worker, &topic, name, &all)
                    .await
                    .map_err(HerderError::Internal)
            }
        }
    }

    fn require_stopped(&self, connectors: &BTreeMap<String, Entry>, name: &str) -> Result<(), HerderError> {
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        if entry.target != Target::Stopped || !entry.slots.is_empty() {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(())
    }

    async fn topics_of(&self, name: &str) -> Result<Vec<String>, HerderError> {
        let settings = self.config(name).await?;
        Ok(settings.get("topics").map(crate::config::split_list).unwrap_or_default())
    }

    /// The topics the connector's tasks consumed since it was created or its topics were reset.
    pub async fn active_topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        let mut topics: Vec<String> = entry.reports.values().flat_map(|r| r.topics()).collect();
        if let Some(cluster) = self.cluster.get() {
            topics.extend(cluster.view().topics.get(name).into_iter().flatten().cloned());
        }
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    /// Forgets the active topics.
    pub async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError> {
        if let Some(cluster) = self.cluster.get() {
            self.require_in_cluster(cluster, name).await?;
            return cluster.reset_topics(name).await.map_err(HerderError::Internal);
        }
        if !self.connectors.lock().await.contains_key(name) {
            return Err(not_found(name));
        }
        self.reset_local_topics(name).await;
        Ok(())
    }

    /// Forgets what this worker's tasks of the connector consumed.
    pub async fn reset_local_topics(&self, name: &str) {
        let connectors = self.connectors.lock().await;
        if let Some(entry) = connectors.get(name) {
            entry.reports.values().for_each(|r| r.reset_topics());
        }
    }

    /// Every task's counters: (connector, task id, report).
    pub async fn reports(&self) -> Vec<(String, u32, Arc<TaskReport>)> {
        let connectors = self.connectors.lock().await;
        connectors
            .iter()
            .flat_map(|(name, e)| e.reports.iter().map(move |(id, r)| (name.clone(), *id, r.clone())))
            .collect()
    }

    /// Whether the connector is a sink or a source.
    pub async fn kind(&self, name: &str) -> Option<ConnectorKind> {
        self.connectors.lock().await.get(name).map(|e| e.kind)
    }

    /// Distributed mode: from now on, changes go through `cluster`, and what runs here is what
    /// its assignment says.
    pub fn attach(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The cluster, in distributed mode.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    async fn require_in_cluster(&self, cluster: &Cluster, name: &str) -> Result<(), HerderError> {
        catch_up(cluster).await?;
        if !cluster.view().connectors.contains_key(name) {
            return Err(not_found(name));
        }
        Ok(())
    }

    async fn set_target(&self, cluster: &Cluster, name: &str, target: Target) -> Result<(), HerderError> {
        self.require_in_cluster(cluster, name).await?;
        submit(cluster, &[ConfigRecord::Target { name: name.to_string(), target: Some(target) }]).await
    }

    /// The tasks running on this worker: (connector, task id).
    pub async fn local_tasks(&self) -> Vec<(String, u32)> {
        let connectors = self.connectors.lock().await;
        connectors.iter().flat_map(|(name, e)| e.slots.keys().map(move |id| (name.clone(), *id))).collect()
    }

    /// Distributed mode: makes this worker run what `view` assigns to `me`, shows the other
    /// workers' tasks as they report them, and carries out restart requests for its own tasks.
    pub async fn reconcile_cluster(&self, view: &View, me: &str) {
        if self.shutdown.is_cancelled() {
            return; // stopping: what runs here drains, nothing new starts
        }
        let mut names: BTreeSet<String> = view.connectors.keys().cloned().collect();
        names.extend(self.connectors.lock().await.keys().cloned());
        for name in &names {
            let desired = view.connectors.get(name).map(|settings| Desired {
                settings: Settings(settings.clone()),
                target: view.target(name),
                owned: view.assignment.owned(name, me).into_iter().collect(),
            });
            self.reconcile(name, desired).await;
            let Some(status) = self.board.connector(name) else { continue };
            for id in status.tasks.keys() {
                let Some(owner) = view.assignment.owner(name, *id).filter(|w| *w != me && !w.is_empty()) else {
                    continue;
                };
                let reported = view.statuses.get(&(name.clone(), *id)).and_then(|by| by.get(owner));
                let shown = TaskStatus {
                    state: match (reported.map(|r| r.state), view.target(name)) {
                        (Some(state), _) => state,
                        (None, Target::Paused) => State::Paused,
                        (None, _) => State::Unassigned,
                    },
                    trace: reported.and_then(|r| r.trace.clone()),
                    worker_id: Some(owner.to_string()),
                };
                self.board.set_task_status(name, *id, shown);
            }
            let answering = view.assignment.connectors.get(name).filter(|w| *w != me && !w.is_empty());
            self.board.set_connector_worker(name, answering.cloned());
        }
        for (name, ids) in &view.restarts {
            for id in ids {
                let local = self.connectors.lock().await.get(name).is_some_and(|e| e.slots.contains_key(id));
                if local && let Err(e) = self.restart_local_task(name, *id).await {
                    warn!(connector = %name, task = id, error = %e, "restart skipped");
                }
            }
        }
    }

    /// Makes one connector's local part match `desired` (`None`: it was deleted).
    async fn reconcile(&self, name: &str, desired: Option<Desired>) {
        let mut connectors = self.connectors.lock().await;
        let Some(desired) = desired else {
            lock_std(&self.rejected).remove(name);
            if let Some(entry) = connectors.remove(name) {
                stop_slots(entry.slots.into_values().collect()).await;
                info!(connector = %name, "connector deleted");
            }
            self.board.remove_connector(name);
            return;
        };
        let current = connectors.get(name).is_some_and(|e| e.config.settings == desired.settings);
        if !current {
            if lock_std(&self.rejected).get(name) == Some(&desired.settings) {
                return;
            }
            let old = connectors.remove(name);
            let reports = old.as_ref().map(|e| e.reports.clone()).unwrap_or_default();
            if let Some(old) = old {
                stop_slots(old.slots.into_values().collect()).await;
            }
            match self.plan(desired.settings.clone()).await {
                Ok(planned) => {
                    lock_std(&self.rejected).remove(name);
                    let entry = self.start_owned(planned, desired.target, reports, Some(&desired.owned));
                    connectors.insert(name.to_string(), entry);
                }
                Err(e) => {
                    error!(connector = %name, error = %e, "the connector's configuration does not validate on this worker");
                    let kind = desired.settings.get("connector.class").and_then(|c| ConnectorKind::from_class(c).ok());
                    let kind = kind.map_or("unknown", ConnectorKind::type_name);
                    self.board.add_connector(name, kind, desired.settings.0.clone(), 0);
                    self.board.set_connector(name, State::Failed, Some(e.to_string()));
                    lock_std(&self.rejected).insert(name.to_string(), desired.settings);
                }
            }
            return;
        }
        let entry = connectors.get_mut(name).expect("checked above");
        if entry.target != desired.target {
            if desired.target == Target::Stopped {
                stop_slots(std::mem::take(&mut entry.slots).into_values().collect()).await;
                self.board.reset_tasks(name, 0);
            } else if entry.target == Target::Stopped {
                let count = Task::count(&self.worker, &entry.config, entry.kind).unwrap_or(0);
                self.board.reset_tasks(name, count);
            }
            entry.paused.send_replace(desired.target == Target::Paused);
            match desired.target {
                Target::Paused => self.board.move_tasks(name, &[State::Running, State::Unassigned], State::Paused),
                Target::Running => self.board.move_tasks(name, &[State::Paused], State::Running),
                Target::Stopped => {}
            }
            self.board.set_connector(name, desired.target.state(), None);
            entry.target = desired.target;
            info!(connector = %name, state = ?desired.target, "target state");
        }
        if entry.target == Target::Stopped {
            return;
        }
        let leaving: Vec<u32> = entry.slots.keys().filter(|id| !desired.owned.contains(id)).copied().collect();
        let gone: Vec<Slot> = leaving.iter().filter_map(|id| entry.slots.remove(id)).collect();
        if !gone.is_empty() {
            info!(connector = %name, tasks = ?leaving, "tasks moved to other workers");
            stop_slots(gone).await;
        }
        for id in &desired.owned {
            if !entry.slots.contains_key(id) {
                let report = entry.reports.entry(*id).or_default().clone();
                let slot = self.spawn_task(&entry.config, entry.kind, *id, None, &entry.paused, report);
                entry.slots.insert(*id, slot);
                info!(connector = %name, task = id, "task assigned to this worker");
            }
        }
    }

    /// Stops every task (they drain, commit and leave their consumer groups).
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let mut connectors = self.connectors.lock().await;
        let slots: Vec<Slot> =
            connectors.values_mut().flat_map(|e| std::mem::take(&mut e.slots).into_values()).collect();
        stop_slots(slots).await;
    }
}

/// What the cluster wants of one connector on this worker.
#[derive(Debug)]
struct Desired {
    settings: Settings,
    target: Target,
    owned: BTreeSet<u32>,
}

async fn catch_up(cluster: &Cluster) -> Result<(), HerderError> {
    cluster.catch_up().await.map_err(HerderError::Internal)
}

async fn submit(cluster: &Cluster, records: &[ConfigRecord]) -> Result<(), HerderError> {
    cluster.submit(records).await.map_err(HerderError::Internal)
}

fn lock_std<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, HerderError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HerderError::Internal(format!("the Kafka request panicked: {e}")))?
        .map_err(HerderError::Internal)
}

/// Stops tasks and waits for them to drain (aborting any that outlast [`STOP_TIMEOUT`]).
async fn stop_slots(slots: Vec<Slot>) {
    for slot in &slots {
        slot.stop.cancel();
    }
    for slot in slots {
        let abort = slot.handle.abort_handle();
        if tokio::time::timeout(STOP_TIMEOUT, slot.handle).await.is_err() {
            warn!("a task did not stop within {STOP_TIMEOUT:?}; aborting it (uncommitted records will be redelivered)");
            abort.abort();
        }
    }
}
