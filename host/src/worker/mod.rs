//! Connector and task lifecycle: validate every connector, start its tasks, report their states,
//! stop them gracefully.

pub mod standalone;
pub mod status;

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{ConfigError, ConnectorConfig, Settings, WorkerConfig};
use crate::connectors::ConnectorKind;
use crate::connectors::sink::SinkTask;
use crate::connectors::sink::config::{SINK_PREFIXES, all_keys};
use crate::wasm::Registry;
use status::{State, StatusBoard};

/// A connector ready to run: its validated config and its tasks.
#[derive(Debug)]
pub struct PlannedConnector {
    config: ConnectorConfig,
    kind: ConnectorKind,
    tasks: Vec<SinkTask>,
}

impl PlannedConnector {
    /// Connector name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// Validates a connector's settings and builds its tasks. Pure: nothing is opened yet.
/// `static_membership`: tasks never move between processes (standalone), see `SinkTask::new`.
pub fn plan_connector(
    worker: &Arc<WorkerConfig>,
    registry: &Arc<Registry>,
    settings: Settings,
    static_membership: bool,
) -> Result<PlannedConnector, ConfigError> {
    let config = ConnectorConfig::from_settings(settings)?;
    let kind = ConnectorKind::from_class(&config.class)?;
    match kind {
        ConnectorKind::CassandraSink => {
            let inert = crate::connectors::sink::datastax::inert_warnings(&config.settings)
                .into_iter()
                .map(|w| format!("connector '{}': {w}", config.name));
            for warning in config.unknown_key_warnings(&all_keys(), SINK_PREFIXES).into_iter().chain(inert) {
                warn!("{warning}");
            }
            let tasks = (0..config.tasks_max)
                .map(|id| SinkTask::new(worker.clone(), config.clone(), id, static_membership, registry.clone()))
                .collect::<Result<_, _>>()?;
            Ok(PlannedConnector { config, kind, tasks })
        }
        ConnectorKind::CassandraSource => Err(ConfigError::invalid(
            "connector.class",
            format!("'{}' (the Cassandra source) is not available in this version of Spillway", config.class),
        )),
    }
}

/// Starts a planned connector's tasks on `tasks`, reporting states on `board`.
pub fn start_connector(
    planned: PlannedConnector,
    board: &Arc<StatusBoard>,
    tasks: &mut JoinSet<()>,
    shutdown: &CancellationToken,
) {
    let name = planned.config.name.clone();
    board.add_connector(&name, planned.kind.type_name(), planned.config.settings.0.clone(), planned.tasks.len() as u32);
    info!(connector = %name, tasks = planned.tasks.len(), "starting connector");
    for (id, task) in planned.tasks.into_iter().enumerate() {
        let (board, name, shutdown) = (board.clone(), name.clone(), shutdown.child_token());
        let id = id as u32;
        tasks.spawn(async move {
            board.set_task(&name, id, State::Running, None);
            match task.run(shutdown).await {
                Ok(()) => board.set_task(&name, id, State::Unassigned, None),
                Err(e) => {
                    error!(connector = %name, task = id, error = %e, "task failed");
                    board.set_task(&name, id, State::Failed, Some(e.to_string()));
                }
            }
        });
    }
}
