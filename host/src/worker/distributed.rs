//! Distributed mode (`spillway worker`): a worker of the cluster named by `group.id`. Connectors
//! are created over REST on any worker and run wherever the cluster's leader assigns their tasks
//! (see [`crate::cluster`]).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::herder::Herder;
use super::standalone::StartError;
use super::status::StatusBoard;
use crate::cluster::Cluster;
use crate::config::WorkerConfig;
use crate::rest::RestState;

/// A running distributed worker.
#[derive(Debug)]
pub struct Distributed {
    rest_addr: SocketAddr,
    herder: Arc<Herder>,
    cluster: Arc<Cluster>,
    shutdown: CancellationToken,
    rest: JoinSet<()>,
}

impl Distributed {
    /// Opens REST, checks the internal topics, joins the cluster and starts running its share.
    pub async fn start(worker: WorkerConfig) -> Result<Self, StartError> {
        for warning in &worker.warnings {
            warn!("{warning}");
        }
        let cluster_settings = worker.cluster.clone().ok_or_else(|| {
            StartError::Config(crate::config::ConfigError::missing("group.id", "the cluster this worker joins"))
        })?;
        // The plugins uploaded to the cluster are loaded from a directory of this worker's own,
        // filled from the plugin topic.
        let mut worker = worker;
        let plugins = crate::cluster::plugin_dir(&worker);
        let _ = std::fs::remove_dir_all(&plugins);
        std::fs::create_dir_all(&plugins)
            .map_err(|e| StartError::Plugins(format!("cannot create {}: {e}", plugins.display())))?;
        worker.wasm.plugin_path.push(plugins);
        let worker = Arc::new(worker);
        let registry = super::standalone::open_registry(&worker).await?;
        let shutdown = CancellationToken::new();
        let herder = Herder::new(worker.clone(), registry, Arc::new(StatusBoard::default()), shutdown.child_token());
        let (listener, rest_addr) = super::standalone::bind(&worker).await?;
        let host = match cluster_settings.advertised_host {
            Some(host) => host,
            None if rest_addr.ip().is_unspecified() => {
                let host = local_hostname();
                warn!(%host, "listening on every interface: this worker is known to the cluster as '{host}' (set rest.advertised.host.name)");
                host
            }
            None => rest_addr.ip().to_string(),
        };
        let worker_id = format!("{host}:{}", cluster_settings.advertised_port.unwrap_or(rest_addr.port()));
        let cluster = Cluster::join(worker.clone(), herder.clone(), worker_id.clone(), shutdown.child_token())
            .await
            .map_err(StartError::Cluster)?;
        let state = RestState::new(herder.clone(), worker_id.clone()).lookup_kafka_cluster_id(&worker);
        let rest = super::standalone::serve(listener, state, &worker, &shutdown);
        let scheme = if worker.rest_security.is_https() { "https" } else { "http" };
        info!(rest = %format!("{scheme}://{rest_addr}"), %worker_id, group = %cluster_settings.group_id, "distributed worker started");
        Ok(Self { rest_addr, herder, cluster, shutdown, rest })
    }

    /// Where REST listens.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// The connectors.
    pub fn herder(&self) -> &Arc<Herder> {
        &self.herder
    }

    /// The cluster link.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Stops this worker's tasks (draining and committing), leaves the cluster (its tasks move at
    /// once) and stops REST.
    pub async fn stop(mut self) {
        self.herder.shutdown().await;
        self.cluster.leave().await;
        self.shutdown.cancel();
        while self.rest.join_next().await.is_some() {}
        info!("distributed worker stopped");
    }
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Runs a distributed worker until `shutdown` fires.
pub async fn run(worker: WorkerConfig, shutdown: CancellationToken) -> Result<(), StartError> {
    let distributed = Distributed::start(worker).await?;
    shutdown.cancelled().await;
    distributed.stop().await;
    Ok(())
}
