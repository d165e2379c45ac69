//! Standalone mode: one process, connectors from files and over REST (kept in memory, as in
//! Connect's standalone mode).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::herder::{Herder, HerderError, Target};
use super::status::StatusBoard;
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
    /// The worker could not join its cluster (distributed mode).
    #[error("cluster: {0}")]
    Cluster(String),
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
    herder: Arc<Herder>,
    shutdown: CancellationToken,
    rest: JoinSet<()>,
}

impl Standalone {
    /// Validates every connector file (nothing runs unless all are valid), opens REST, starts them.
    pub async fn start(worker: WorkerConfig, connectors: Vec<Settings>) -> Result<Self, StartError> {
        for warning in &worker.warnings {
            warn!("{warning}");
        }
        let worker = Arc::new(worker);
        let registry = open_registry(&worker).await?;
        let board = Arc::new(StatusBoard::default());
        let shutdown = CancellationToken::new();
        let herder = Herder::new(worker.clone(), registry.clone(), board, shutdown.child_token());
        let mut names: Vec<&str> = Vec::new();
        for settings in &connectors {
            if let Some(e) = herder.validate(settings.clone()).await.error {
                return Err(StartError::Config(e));
            }
            let name = settings.get("name").unwrap_or_default();
            if names.contains(&name) {
                return Err(StartError::DuplicateName(name.to_string()));
            }
            names.push(name);
        }
        let (listener, rest_addr) = bind(&worker).await?;
        let state = RestState::new(herder.clone(), rest_addr.to_string()).lookup_kafka_cluster_id(&worker);
        let rest = serve(listener, state, &worker, &shutdown);
        let scheme = if worker.rest_security.is_https() { "https" } else { "http" };
        info!(rest = %format!("{scheme}://{rest_addr}"), auth = worker.rest_security.requires_credentials(), "standalone worker started");
        for settings in connectors {
            match herder.create(settings, Target::Running).await {
                Ok(()) => {}
                Err(HerderError::Invalid(e)) => return Err(StartError::Config(e)),
                Err(e) => return Err(StartError::Plugins(e.to_string())),
            }
        }
        Ok(Self { rest_addr, herder, shutdown, rest })
    }

    /// Where REST listens.
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest_addr
    }

    /// The worker's plugins.
    pub fn registry(&self) -> &Arc<Registry> {
        self.herder.registry()
    }

    /// Connector and task states.
    pub fn board(&self) -> &Arc<StatusBoard> {
        self.herder.board()
    }

    /// The connectors.
    pub fn herder(&self) -> &Arc<Herder> {
        &self.herder
    }

    /// Stops every task (draining in-flight writes and committing) and the REST server.
    pub async fn stop(mut self) {
        self.herder.shutdown().await;
        self.shutdown.cancel();
        while self.rest.join_next().await.is_some() {}
        info!("standalone worker stopped");
    }
}

/// Opens the worker's plugin registry. Loading plugins runs guest code: off the async runtime's
/// threads.
pub(super) async fn open_registry(worker: &WorkerConfig) -> Result<Arc<Registry>, StartError> {
    let wasm = worker.wasm.clone();
    off_runtime(move || Registry::open(&wasm)).await.map_err(StartError::Plugins)?.map_err(StartError::Plugins)
}

/// Opens the worker's REST listener: (listener, the address it is bound to).
pub(super) async fn bind(worker: &WorkerConfig) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let addr = worker.listeners[0];
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Listen { addr, source })?;
    Ok((listener, bound))
}

/// Serves the REST API on `listener` (with the worker's TLS and basic auth) until `shutdown`.
pub(super) fn serve(
    listener: tokio::net::TcpListener,
    state: RestState,
    worker: &WorkerConfig,
    shutdown: &CancellationToken,
) -> JoinSet<()> {
    let (rest_shutdown, security) = (shutdown.clone(), worker.rest_security.clone());
    let mut rest = JoinSet::new();
    rest.spawn(async move {
        if let Err(error) = rest::security::serve(listener, rest::router(state), &security, rest_shutdown).await {
            warn!(%error, "REST server stopped");
        }
    });
    rest
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
