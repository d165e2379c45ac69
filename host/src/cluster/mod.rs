//! Distributed mode: workers of one `group.id` form a cluster, coordinated through Kafka alone.
//!
//! - **State** lives in compacted topics: connector configs, target states, the leader's claims
//!   and assignments, and restart requests in the single-partition config topic (its order is the
//!   cluster's history); task states in the status topic; source offsets in the offsets topic.
//!   Every worker reads both topics from the beginning and keeps the same [`View`].
//! - **Membership and leadership** come from Kafka's group coordinator: every worker is a member
//!   of the consumer group `group.id` on the config topic, known by its REST address as client id.
//!   The member assigned the topic's one partition is the leader. It appends a claim, whose offset
//!   is its epoch, and then assignments carrying that epoch; a worker applies an assignment only
//!   when its epoch is the latest claim's, so a deposed leader's late writes change nothing.
//! - **Writes** from REST on any worker are appended to the config topic and answered once this
//!   worker's reader has applied them, so a GET after a POST on the same worker sees the change.
//! - **Each worker** runs the tasks the assignment gives it ([`Herder::reconcile_cluster`]) and
//!   reports their states to the status topic, where every other worker reads them.

pub mod assign;
pub mod records;
pub mod topics;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::records::{Assignment, ConfigRecord, TaskStatusRecord};
use crate::config::{ClusterSettings, ConnectorConfig, WorkerConfig};
use crate::connectors::{ConnectorKind, Task};
use crate::wasm::Registry;
use crate::worker::herder::{Herder, Target};

const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a REST write waits for this worker to apply it.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the leader checks membership and demand, and workers publish task states.
const TICK: Duration = Duration::from_millis(500);

/// What every worker knows of the cluster, read from the config and status topics.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Connector configurations.
    pub connectors: BTreeMap<String, BTreeMap<String, String>>,
    /// Target states (a connector without one runs).
    pub targets: BTreeMap<String, Target>,
    /// The latest leader claim: its offset (the epoch) and the worker.
    pub claim: Option<(i64, String)>,
    /// The assignment in force.
    pub assignment: Assignment,
    /// The offset of the next config record to read: everything before it is in this view.
    pub position: i64,
    /// Restart requests read since this worker started, not yet carried out.
    pub restarts: Vec<(String, Vec<u32>)>,
    /// Task states as each worker reported them: (connector, task) → worker → status.
    pub statuses: HashMap<(String, u32), BTreeMap<String, TaskStatusRecord>>,
    /// Each connector's active topics, as the workers running its tasks reported them.
    pub topics: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The active-topic records by key: (connector, topic).
    topic_keys: HashMap<Vec<u8>, (String, String)>,
    /// Topic resets read since this worker started, not yet carried out.
    pub topic_resets: Vec<String>,
}

impl View {
    /// The connector's target state.
    pub fn target(&self, name: &str) -> Target {
        self.targets.get(name).copied().unwrap_or(Target::Running)
    }

    fn apply(&mut self, offset: i64, record: ConfigRecord, live_from: i64) {
        match record {
            ConfigRecord::Connector { name, settings: Some(s) } => {
                self.connectors.insert(name, s);
            }
            ConfigRecord::Connector { name, settings: None } => {
                self.connectors.remove(&name);
            }
            ConfigRecord::Target { name, target: Some(t) } => {
                self.targets.insert(name, t);
            }
            ConfigRecord::Target { name, target: None } => {
                self.targets.remove(&name);
            }
            ConfigRecord::Leader { worker_id } => {
                info!(leader = %worker_id, epoch = offset, "leader claim");
                self.claim = Some((offset, worker_id));
            }
            ConfigRecord::Assignment(a) => {
                if self.claim.as_ref().map(|c| c.0) == Some(a.epoch) {
                    self.assignment = a;
                } else {
                    debug!(epoch = a.epoch, "an assignment of a deposed leader is ignored");
                }
            }
            ConfigRecord::Restart { name, tasks } => {
                // Requests older than this worker were carried out (or not) by their workers then.
                if offset >= live_from {
                    self.restarts.push((name, tasks));
                }
            }
            ConfigRecord::ResetTopics { name } => {
                if offset >= live_from {
                    self.topic_resets.push(name);
                }
            }
            ConfigRecord::Other => {}
        }
        self.position = offset + 1;
    }
}

/// This worker's membership in the Kafka group: whether it holds the config topic's partition
/// (it leads), a counter of rebalances, and the live members as the coordinator lists them.
#[derive(Debug, Default)]
struct Membership {
    leads: AtomicBool,
    rebalances: AtomicU64,
    members: Mutex<Option<Vec<String>>>,
}

struct MembershipContext {
    membership: Arc<Membership>,
    topic: String,
}

impl ClientContext for MembershipContext {}

impl ConsumerContext for MembershipContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let leads = match rebalance {
            Rebalance::Assign(list) => list.elements().iter().any(|e| e.topic() == self.topic && e.partition() == 0),
            Rebalance::Revoke(_) => false,
            Rebalance::Error(e) => {
                warn!(error = %e, "cluster membership: rebalance error");
                return;
            }
        };
        self.membership.leads.store(leads, Ordering::SeqCst);
        self.membership.rebalances.fetch_add(1, Ordering::SeqCst);
    }
}

/// A running worker's link to its cluster.
pub struct Cluster {
    worker_id: String,
    settings: ClusterSettings,
    producer: FutureProducer,
    view: Mutex<View>,
    changed: Notify,
    applied: watch::Sender<i64>,
    membership: Arc<Membership>,
    /// The thread holding the group membership; joined on [`Self::leave`].
    member: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The (connector, topic) pairs this worker reported as active.
    published_topics: Mutex<std::collections::HashSet<(String, String)>>,
    /// Plugins uploaded to the cluster: written here by the plugin topic's reader.
    plugin_dir: PathBuf,
    plugin_producer: FutureProducer,
    /// The offset of the next plugin record to read: everything before it is loaded here.
    plugins_read: watch::Sender<i64>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("worker_id", &self.worker_id).field("group", &self.settings.group_id).finish()
    }
}

impl Cluster {
    /// Joins the cluster: checks the internal topics, reads the config topic to its end, joins the
    /// group, and starts the loops that run this worker's share. `worker_id` is this worker's name in
    /// the cluster: the address clients reach its REST API at.
    pub async fn join(
        worker: Arc<WorkerConfig>,
        herder: Arc<Herder>,
        worker_id: String,
        stop: CancellationToken,
    ) -> Result<Arc<Self>, String> {
        let settings = worker.cluster.clone().ok_or("a distributed worker needs group.id")?;
        topics::ensure(&worker, &settings).await?;
        let producer: FutureProducer = crate::kafka::client_config(&worker)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()
            .map_err(|e| format!("cannot create a Kafka producer: {e}"))?;
        let plugin_producer: FutureProducer = crate::kafka::client_config(&worker)
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("message.max.bytes", topics::plugin_record_max_bytes(&worker).to_string())
            .create()
            .map_err(|e| format!("cannot create a Kafka producer: {e}"))?;
        let cluster = Arc::new(Self {
            worker_id,
            settings,
            producer,
            view: Mutex::default(),
            changed: Notify::new(),
            applied: watch::channel(0).0,
            membership: Arc::default(),
            member: Mutex::default(),
            published_topics: Mutex::default(),
            plugin_dir: plugin_dir(&worker),
            plugin_producer,
            plugins_read: watch::channel(0).0,
            stop,
        });
        let plugins_end = cluster.read_plugin_topic(&worker, herder.registry().clone()).await?;
        let end = cluster.read_config_topic(&worker).await?;
        cluster.read_status_topic(&worker)?;
        // The cluster's plugins are loaded before any connector that may use them starts.
        cluster.wait_plugins(plugins_end).await?;
        // Everything the cluster has decided so far is in the view before this worker joins.
        let caught_up = Instant::now() + KAFKA_TIMEOUT;
        while cluster.lock().position < end {
            if Instant::now() > caught_up {
                return Err(format!(
                    "could not read the config topic '{}' to its end ({end}) within {KAFKA_TIMEOUT:?}",
                    cluster.settings.config_topic
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        herder.attach(cluster.clone());
        cluster.join_group(&worker)?;
        tokio::spawn(cluster.clone().reconcile_loop(herder.clone()));
        tokio::spawn(cluster.clone().lead(worker.clone()));
        tokio::spawn(cluster.clone().publish_statuses(herder));
        info!(worker_id = %cluster.worker_id, group = %cluster.settings.group_id, connectors = cluster.lock().connectors.len(), "joined the cluster");
        Ok(cluster)
    }

    /// This worker's id (`host:port` of its REST API).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// A copy of the cluster's state as this worker knows it.
    pub fn view(&self) -> View {
        self.lock().clone()
    }

    /// The worker that leads, as the latest claim says.
    pub fn leader(&self) -> Option<String> {
        self.lock().claim.as_ref().map(|c| c.1.clone())
    }

    fn lock(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends records to the config topic in order and waits until this worker applied them.
    pub async fn submit(&self, records: &[ConfigRecord]) -> Result<(), String> {
        let mut last = -1;
        for record in records {
            last = self.append(record).await?;
        }
        self.wait_applied(last + 1).await
    }

    async fn append(&self, record: &ConfigRecord) -> Result<i64, String> {
        let (key, value) = record.encode();
        let topic = &self.settings.config_topic;
        let mut out = FutureRecord::<String, Vec<u8>>::to(topic).key(&key).partition(0);
        if let Some(v) = value.as_ref() {
            out = out.payload(v);
        }
        let delivery =
            self.producer.send(out, KAFKA_TIMEOUT).await.map_err(|(e, _)| format!("writing to {topic}: {e}"))?;
        Ok(delivery.offset)
    }

    /// Waits until every config record before `offset` is applied to this worker's connectors.
    async fn wait_applied(&self, offset: i64) -> Result<(), String> {
        let mut applied = self.applied.subscribe();
        let wait = applied.wait_for(|at| *at >= offset);
        match tokio::time::timeout(APPLY_TIMEOUT, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!(
                "this worker did not apply the config topic up to offset {offset} within {APPLY_TIMEOUT:?}"
            )),
        }
    }

    /// Waits until this worker has applied everything written to the config topic so far, so a
    /// decision (does this connector exist?) is made on the latest state.
    pub async fn catch_up(&self) -> Result<(), String> {
        let (producer, topic) = (self.producer.clone(), self.settings.config_topic.clone());
        let end = tokio::task::spawn_blocking(move || end_offset(producer.client(), &topic))
            .await
            .map_err(|e| e.to_string())??;
        self.wait_applied(end).await
    }

    /// Starts the config topic's reader; returns the end offset it found at start.
    async fn read_config_topic(self: &Arc<Self>, worker: &WorkerConfig) -> Result<i64, String> {
        let topic = self.settings.config_topic.clone();
        let consumer = reader(worker, &format!("{}-config-reader", self.settings.group_id))?;
        let (consumer, end) = from_the_beginning(consumer, topic).await?;
        let cluster = self.clone();
        std::thread::Builder::new()
            .name("cluster-config".into())
            .spawn(move || {
                while !cluster.stop.is_cancelled() {
                    let Some(message) = consumer.poll(Duration::from_millis(200)) else { continue };
                    let message = match message {
                        Ok(m) => m,
                        Err(e) => {
                            warn!(error = %e, "reading the config topic");
                            continue;
                        }
                    };
                    let offset = message.offset();
                    let record = message.key().map(|k| ConfigRecord::decode(k, message.payload()));
                    let mut view = cluster.lock();
                    match record {
                        Some(Ok(record)) => view.apply(offset, record, end),
                        Some(Err(e)) => {
                            warn!(offset, error = %e, "a config record is skipped");
                            view.position = offset + 1;
                        }
                        None => view.position = offset + 1,
                    }
                    drop(view);
                    cluster.changed.notify_one();
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(end)
    }

    /// Stores a plugin in the cluster (`None`: removes it) and waits until this worker loaded
    /// (or unloaded) it; every other worker does the same as it reads the record.
    pub async fn put_plugin(&self, name: &str, wasm: Option<&[u8]>) -> Result<(), String> {
        let topic = &self.settings.plugin_topic;
        let mut record = FutureRecord::<str, [u8]>::to(topic).key(name).partition(0);
        if let Some(bytes) = wasm {
            record = record.payload(bytes);
        }
        let delivery = self
            .plugin_producer
            .send(record, KAFKA_TIMEOUT)
            .await
            .map_err(|(e, _)| format!("storing plugin {name} in {topic}: {e}"))?;
        self.wait_plugins(delivery.offset + 1).await
    }

    /// Where this worker keeps the cluster's plugins (a directory of its `plugin.path`).
    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
    }

    async fn wait_plugins(&self, offset: i64) -> Result<(), String> {
        let mut read = self.plugins_read.subscribe();
        match tokio::time::timeout(APPLY_TIMEOUT, read.wait_for(|at| *at >= offset)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!(
                "this worker did not load the plugins of {} up to offset {offset} within {APPLY_TIMEOUT:?}",
                self.settings.plugin_topic
            )),
        }
    }

    /// Starts the plugin topic's reader: each record becomes `<name>.wasm` in [`Self::plugin_dir`]
    /// (a tombstone removes it) and the registry loads it. Returns the end offset found at start.
    async fn read_plugin_topic(
        self: &Arc<Self>,
        worker: &WorkerConfig,
        registry: Arc<Registry>,
    ) -> Result<i64, String> {
        let topic = self.settings.plugin_topic.clone();
        let consumer: BaseConsumer = crate::kafka::client_config(worker)
            .set("group.id", format!("{}-plugin-reader", self.settings.group_id))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "receive.message.max.bytes",
                (topics::plugin_record_max_bytes(worker) + (8 << 20)).max(100_000_000).to_string(),
            )
            .create()
            .map_err(|e| format!("cannot create a Kafka consumer: {e}"))?;
        let (consumer, end) = from_the_beginning(consumer, topic).await?;
        let cluster = self.clone();
        std::thread::Builder::new()
            .name("cluster-plugins".into())
            .spawn(move || {
                while !cluster.stop.is_cancelled() {
                    let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else { continue };
                    let name = message.key().and_then(|k| std::str::from_utf8(k).ok()).unwrap_or_default();
                    if let Err(e) = cluster.store_plugin(name, message.payload()) {
                        warn!(plugin = name, error = %e, "a plugin of the cluster is skipped");
                    }
                    registry.scan();
                    cluster.plugins_read.send_replace(message.offset() + 1);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(end)
    }

    fn store_plugin(&self, name: &str, wasm: Option<&[u8]>) -> Result<(), String> {
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
            return Err(format!("'{}' is not a plugin name", name.escape_debug()));
        }
        let path = self.plugin_dir.join(format!("{name}.wasm"));
        match wasm {
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", path.display())),
                _ => Ok(()),
            },
            Some(bytes) => {
                let temp = self.plugin_dir.join(format!(".{name}.wasm.part"));
                std::fs::write(&temp, bytes).map_err(|e| format!("{}: {e}", temp.display()))?;
                std::fs::rename(&temp, &path).map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }

    /// Starts the status topic's reader.
    fn read_status_topic(self: &Arc<Self>, worker: &WorkerConfig) -> Result<(), String> {
        let topic = self.settings.status_topic.clone();
        let consumer = reader(worker, &format!("{}-status-reader", self.settings.group_id))?;
        // An existing topic keeps its own partition count, whatever status.storage.partitions says.
        let partitions = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(5))
            .ok()
            .and_then(|m| m.topics().first().map(|t| t.partitions().len() as i32))
            .filter(|n| *n > 0)
            .unwrap_or(self.settings.status_partitions);
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(&topic, p, Offset::Beginning).map_err(|e| e.to_string())?;
        }
        consumer.assign(&list).map_err(|e| format!("reading {topic}: {e}"))?;
        let cluster = self.clone();
        std::thread::Builder::new()
            .name("cluster-status".into())
            .spawn(move || {
                while !cluster.stop.is_cancelled() {
                    let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else { continue };
                    let Some(key) = message.key() else { continue };
                    let mut view = cluster.lock();
                    if let Some((task, status)) = records::decode_task_status(key, message.payload()) {
                        view.statuses.entry(task).or_default().insert(status.worker_id.clone(), status);
                    } else if let Some(topic) = message.payload().and_then(|v| records::decode_topic(key, v)) {
                        view.topics.entry(topic.0.clone()).or_default().insert(topic.1.clone());
                        view.topic_keys.insert(key.to_vec(), topic);
                    } else if message.payload().is_none()
                        && let Some((connector, topic)) = view.topic_keys.remove(key)
                    {
                        view.topics.entry(connector).or_default().remove(&topic);
                    }
                    drop(view);
                    cluster.changed.notify_one();
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Joins the Kafka group `group.id`: membership for the leader to count, leadership for the
    /// member holding the config topic's partition.
    fn join_group(self: &Arc<Self>, worker: &WorkerConfig) -> Result<(), String> {
        let mut config = crate::kafka::client_config(worker);
        config
            .set("group.id", &self.settings.group_id)
            .set("client.id", &self.worker_id)
            .set("session.timeout.ms", self.settings.session_timeout.as_millis().to_string())
            .set("heartbeat.interval.ms", self.settings.heartbeat_interval.as_millis().to_string())
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest");
        let context =
            MembershipContext { membership: self.membership.clone(), topic: self.settings.config_topic.clone() };
        let consumer: BaseConsumer<MembershipContext> =
            config.create_with_context(context).map_err(|e| format!("cannot join the group: {e}"))?;
        consumer
            .subscribe(&[self.settings.config_topic.as_str()])
            .map_err(|e| format!("cannot join the group {}: {e}", self.settings.group_id))?;
        let cluster = self.clone();
        let member = std::thread::Builder::new()
            .name("cluster-member".into())
            .spawn(move || {
                let mut listed = Instant::now() - Duration::from_secs(60);
                while !cluster.stop.is_cancelled() {
                    // Polling keeps the membership; the records themselves are read elsewhere.
                    let _ = consumer.poll(Duration::from_millis(100));
                    if listed.elapsed() < TICK {
                        continue;
                    }
                    listed = Instant::now();
                    let group = &cluster.settings.group_id;
                    let members = consumer.fetch_group_list(Some(group), Duration::from_secs(5)).map(|list| {
                        let mut ids: Vec<String> = list
                            .groups()
                            .iter()
                            .flat_map(|g| g.members().iter().map(|m| m.client_id().to_string()))
                            .collect();
                        ids.sort();
                        ids.dedup();
                        ids
                    });
                    match members {
                        Ok(ids) => *lock_members(&cluster.membership) = Some(ids),
                        Err(e) => debug!(error = %e, "listing the group's members"),
                    }
                }
                // Dropping the consumer leaves the group at once: the leader reassigns this
                // worker's tasks without waiting for the session to time out.
                drop(consumer);
                info!("left the cluster");
            })
            .map_err(|e| e.to_string())?;
        *self.member.lock().unwrap_or_else(PoisonError::into_inner) = Some(member);
        Ok(())
    }

    /// Stops following the cluster and leaves the group, waiting until the coordinator was told,
    /// so the leader moves this worker's tasks at once (call after they stopped).
    pub async fn leave(&self) {
        self.stop.cancel();
        let member = self.member.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(member) = member {
            let _ = tokio::task::spawn_blocking(move || member.join()).await;
        }
    }

    /// Applies the view to this worker's connectors whenever it changes (and every tick, for
    /// other workers' task states), then marks it applied.
    async fn reconcile_loop(self: Arc<Self>, herder: Arc<Herder>) {
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = self.changed.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
            let view = {
                let mut view = self.lock();
                let copy = view.clone();
                view.restarts.clear();
                view.topic_resets.clear();
                copy
            };
            herder.reconcile_cluster(&view, &self.worker_id).await;
            for name in &view.topic_resets {
                herder.reset_local_topics(name).await;
                self.forget_topics(name).await;
            }
            self.applied.send_replace(view.position);
        }
    }

    /// While this worker holds the config topic's partition: claims leadership, then keeps the
    /// assignment balanced over the live members and the connectors' demand.
    async fn lead(self: Arc<Self>, worker: Arc<WorkerConfig>) {
        let mut claimed: Option<(u64, i64)> = None; // (rebalance, epoch)
        let mut written: Option<Assignment> = None;
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(TICK) => {}
            }
            if !self.membership.leads.load(Ordering::SeqCst) {
                claimed = None;
                continue;
            }
            let rebalance = self.membership.rebalances.load(Ordering::SeqCst);
            if claimed.is_none_or(|(r, _)| r != rebalance) {
                match self.append(&ConfigRecord::Leader { worker_id: self.worker_id.clone() }).await {
                    Ok(epoch) => {
                        info!(epoch, "this worker leads the cluster");
                        claimed = Some((rebalance, epoch));
                        written = None;
                    }
                    Err(e) => {
                        warn!(error = %e, "claiming leadership");
                        continue;
                    }
                }
            }
            let Some((_, epoch)) = claimed else { continue };
            let view = self.view();
            if view.claim.as_ref().map(|c| c.0) != Some(epoch) {
                continue; // the claim is not read back yet, or a later one superseded it
            }
            let Some(members) = lock_members(&self.membership).clone().filter(|m| !m.is_empty()) else { continue };
            let demands: Vec<assign::Demand> = view
                .connectors
                .iter()
                .map(|(name, settings)| assign::Demand {
                    name: name.clone(),
                    tasks: if view.target(name) == Target::Stopped { 0 } else { task_count(&worker, settings) },
                })
                .collect();
            let next = assign::balance(&members, &demands, &view.assignment, &self.worker_id, epoch);
            let in_force = view.assignment.epoch == epoch && next.same_as(&view.assignment);
            if in_force || written.as_ref().is_some_and(|w| w.same_as(&next)) {
                continue;
            }
            info!(workers = members.len(), connectors = demands.len(), "assigning tasks");
            match self.append(&ConfigRecord::Assignment(next.clone())).await {
                Ok(_) => written = Some(next),
                Err(e) => warn!(error = %e, "writing the assignment"),
            }
        }
    }

    /// Forgets a connector's active topics everywhere: its records leave the status topic, and
    /// every worker forgets what its own tasks consumed.
    pub async fn reset_topics(&self, name: &str) -> Result<(), String> {
        let topics = self.lock().topics.get(name).cloned().unwrap_or_default();
        for topic in topics {
            let key = records::topic_key(&topic, name);
            let out = FutureRecord::<String, [u8]>::to(&self.settings.status_topic).key(&key);
            self.producer.send(out, KAFKA_TIMEOUT).await.map_err(|(e, _)| format!("resetting {topic}: {e}"))?;
        }
        self.submit(&[ConfigRecord::ResetTopics { name: name.to_string() }]).await
    }

    /// Removes the active-topic records this worker wrote for `name` (one it wrote just before the
    /// reset reached it would otherwise outlive the reset).
    async fn forget_topics(&self, name: &str) {
        let mine: Vec<(String, String)> = {
            let mut published = lock_set(&self.published_topics);
            let mine = published.iter().filter(|(c, _)| c == name).cloned().collect();
            published.retain(|(c, _)| c != name);
            mine
        };
        for (connector, topic) in mine {
            let key = records::topic_key(&topic, &connector);
            let out = FutureRecord::<String, [u8]>::to(&self.settings.status_topic).key(&key);
            if let Err((e, _)) = self.producer.send(out, KAFKA_TIMEOUT).await {
                warn!(error = %e, "removing an active topic");
            }
        }
    }

    /// Reports the topics this worker's tasks consumed, once each (Connect's topic tracking).
    async fn publish_topics(&self, herder: &Herder) {
        for (name, id, report) in herder.reports().await {
            for topic in report.topics() {
                let pair = (name.clone(), topic);
                if lock_set(&self.published_topics).contains(&pair) {
                    continue;
                }
                let (key, value) = records::topic_record(&pair.1, &name, id, chrono::Utc::now().timestamp_millis());
                let out = FutureRecord::to(&self.settings.status_topic).key(&key).payload(&value);
                match self.producer.send(out, KAFKA_TIMEOUT).await {
                    Ok(_) => {
                        lock_set(&self.published_topics).insert(pair);
                    }
                    Err((e, _)) => warn!(error = %e, "reporting an active topic"),
                }
            }
        }
    }

    /// Reports the states of this worker's tasks to the status topic as they change.
    async fn publish_statuses(self: Arc<Self>, herder: Arc<Herder>) {
        let mut published: HashMap<(String, u32), TaskStatusRecord> = HashMap::new();
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(TICK / 2) => {}
            }
            self.publish_topics(&herder).await;
            let generation = self.lock().assignment.epoch;
            for (name, id) in herder.local_tasks().await {
                let Some(status) = herder.board().task(&name, id).filter(|s| s.worker_id.is_none()) else { continue };
                let record = TaskStatusRecord {
                    state: status.state,
                    trace: status.trace,
                    worker_id: self.worker_id.clone(),
                    generation,
                };
                let key = (name, id);
                if published.get(&key).is_some_and(|p| p.state == record.state && p.trace == record.trace) {
                    continue;
                }
                let value = serde_json::to_vec(&record).expect("JSON values serialize");
                let status_key = records::task_status_key(&key.0, key.1);
                let out = FutureRecord::to(&self.settings.status_topic).key(&status_key).payload(&value);
                match self.producer.send(out, KAFKA_TIMEOUT).await {
                    Ok(_) => {
                        published.insert(key, record);
                    }
                    Err((e, _)) => warn!(error = %e, "reporting a task state"),
                }
            }
        }
    }
}

fn lock_set<T>(set: &Mutex<std::collections::HashSet<T>>) -> MutexGuard<'_, std::collections::HashSet<T>> {
    set.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock_members(membership: &Membership) -> MutexGuard<'_, Option<Vec<String>>> {
    membership.members.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where a worker keeps the plugins of its cluster: a directory of its own under the compile
/// cache, emptied at start (the plugin topic fills it again).
pub fn plugin_dir(worker: &WorkerConfig) -> PathBuf {
    let group = worker.cluster.as_ref().map_or("", |c| c.group_id.as_str());
    let safe: String =
        group.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    worker.wasm.cache_dir.join("cluster-plugins").join(safe)
}

/// The end offset of partition 0 of `topic`. Errors that pass (a topic just created whose leader
/// is not known yet, a broker restarting) are retried for [`KAFKA_TIMEOUT`].
fn end_offset<C: rdkafka::ClientContext>(client: &rdkafka::client::Client<C>, topic: &str) -> Result<i64, String> {
    let deadline = Instant::now() + KAFKA_TIMEOUT;
    loop {
        match client.fetch_watermarks(topic, 0, Duration::from_secs(5)) {
            Ok((_, end)) => return Ok(end),
            Err(e) if Instant::now() < deadline => {
                debug!(topic, error = %e, "reading the end of a topic; trying again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(format!("reading the end of {topic}: {e}")),
        }
    }
}

/// Assigns partition 0 of `topic` from its beginning; returns the consumer and the end offset
/// the partition had.
async fn from_the_beginning(consumer: BaseConsumer, topic: String) -> Result<(BaseConsumer, i64), String> {
    tokio::task::spawn_blocking(move || {
        let end = end_offset(consumer.client(), &topic)?;
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&topic, 0, Offset::Beginning).map_err(|e| e.to_string())?;
        consumer.assign(&list).map_err(|e| format!("reading {topic}: {e}"))?;
        Ok((consumer, end))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// A consumer that reads a topic by assignment (no group membership, nothing committed).
fn reader(worker: &WorkerConfig, group: &str) -> Result<BaseConsumer, String> {
    crate::kafka::client_config(worker)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .map_err(|e| format!("cannot create a Kafka consumer: {e}"))
}

/// How many tasks a connector runs (0 when its configuration does not validate: it runs none).
fn task_count(worker: &WorkerConfig, settings: &BTreeMap<String, String>) -> u32 {
    let count = ConnectorConfig::from_settings(crate::config::Settings(settings.clone())).and_then(|config| {
        let kind = ConnectorKind::from_class(&config.class)?;
        Task::count(worker, &config, kind)
    });
    count.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(epoch: i64, worker: &str) -> ConfigRecord {
        let mut a = Assignment { epoch, leader: worker.into(), ..Assignment::default() };
        a.tasks.insert("c".into(), vec![worker.into()]);
        ConfigRecord::Assignment(a)
    }

    #[test]
    fn a_deposed_leaders_late_assignment_changes_nothing() {
        let mut view = View::default();
        view.apply(3, ConfigRecord::Leader { worker_id: "a".into() }, 0);
        view.apply(4, assignment(3, "a"), 0);
        assert_eq!(view.assignment.owner("c", 0), Some("a"));
        view.apply(7, ConfigRecord::Leader { worker_id: "b".into() }, 0);
        view.apply(8, assignment(3, "z"), 0); // a, deposed, writes late
        assert_eq!(view.assignment.owner("c", 0), Some("a"), "the late write is ignored");
        view.apply(9, assignment(7, "b"), 0);
        assert_eq!((view.assignment.owner("c", 0), view.claim.as_ref().map(|c| c.0)), (Some("b"), Some(7)));
        assert_eq!(view.position, 10);
    }

    #[test]
    fn configs_targets_and_restarts_build_the_view() {
        let mut view = View::default();
        let settings: BTreeMap<String, String> = [("name".to_string(), "c".to_string())].into();
        view.apply(0, ConfigRecord::Connector { name: "c".into(), settings: Some(settings) }, 2);
        assert_eq!(view.target("c"), Target::Running, "no target state: running");
        view.apply(1, ConfigRecord::Restart { name: "c".into(), tasks: vec![0] }, 2);
        view.apply(2, ConfigRecord::Target { name: "c".into(), target: Some(Target::Paused) }, 2);
        view.apply(3, ConfigRecord::Restart { name: "c".into(), tasks: vec![1] }, 2);
        assert_eq!(view.target("c"), Target::Paused);
        assert_eq!(view.restarts, vec![("c".to_string(), vec![1])], "requests older than the worker are history");
        view.apply(4, ConfigRecord::Connector { name: "c".into(), settings: None }, 2);
        assert!(view.connectors.is_empty());
    }
}
