//! Standalone mode: one process, connectors from files, REST for inspection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::status::StatusBoard;
use super::{plan_connector, start_connector};
use crate::config::{ConfigError, Settings, WorkerConfig};
use crate::rest::{self, RestState};
use crate::wasm::Registry;
use crate::wasm::pool::off_runtime;

/// Why standalone mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A connector or worker setting is invalid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The plugin runtime could not start.
    #[error("plugin runtime: {0}")]
    Plugins(String),
    /// Two connector files use the same name.
    #[error("two connectors are named '{0}'; connector names must be unique")]
    DuplicateName(String),
    /// The REST listener could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The listener address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running standalone worker.
#[derive(Debug)]
pub struct Standalone {
    rest_addr: SocketAddr,
    registry: Arc<Registry>,
    board: Arc<StatusBoard>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Standalone {
    /// Validates every connector (nothing runs unless all are valid), opens REST, starts the tasks.
    pub async fn start(worker: WorkerConfig, connectors: Vec<Settings>) -> Result<Self, StartError> {
        for warning in &worker.warnings {
            warn!("{warning}");
        }
        let worker = Arc::new(worker);
        // Loading plugins and checking transforms runs guest code (describe, configure): off the
        // async runtime's threads.
        let planning = worker.clone();
        let (registry, planned) = off_runtime(move || -> Result<_, StartError> {
            let registry = Registry::open(&planning.wasm).map_err(StartError::Plugins)?;
            let mut planned: Vec<super::PlannedConnector> = Vec::new();
            for settings in connectors {
                let p = plan_connector(&planning, &registry, settings, true)?;
                if planned.iter().any(|q| q.name() == p.name()) {
                    return Err(StartError::DuplicateName(p.name().to_string()));
                }
                planned.push(p);
            }
            Ok((registry, planned))
        })
        .await
        .map_err(StartError::Plugins)??;
        let addr = worker.listeners[0];
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
        let rest_addr = listener.local_addr().map_err(|source| StartError::Listen { addr, source })?;
        let board = Arc::new(StatusBoard::default());
        let shutdown = CancellationToken::new();
        let state = RestState::new(board.clone(), rest_addr.to_string(), registry.clone())
            .lookup_kafka_cluster_id(&worker.bootstrap_servers);
        let rest_shutdown = shutdown.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            if let Err(error) =
                axum::serve(listener, rest::router(state)).with_graceful_shutdown(rest_shutdown.cancelled_owned()).await
            {
                warn!(%error, "REST server stopped");
            }
        });
        info!(rest = %rest_addr, "standalone worker started");
        for p in planned {
            start_connector(p, &board, &mut tasks, &shutdown);
        }
        Ok(Self { rest_addr, registry, board, shutdown, tasks })
    }

    /// Where REST listens.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// The worker's plugins.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Connector and task states.
    pub fn board(&self) -> &Arc<StatusBoard> {
        &self.board
    }

    /// Stops every task (draining in-flight writes and committing) and the REST server.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let drained =
            tokio::time::timeout(Duration::from_secs(60), async { while self.tasks.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            warn!("tasks did not stop within 60 s; aborting them (uncommitted records will be redelivered)");
            self.tasks.abort_all();
        }
        info!("standalone worker stopped");
    }
}

/// Runs standalone mode until `shutdown` fires.
pub async fn run(
    worker: WorkerConfig,
    connectors: Vec<Settings>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let standalone = Standalone::start(worker, connectors).await?;
    shutdown.cancelled().await;
    standalone.stop().await;
    Ok(())
}
