//! Connector and task states as Kafka Connect names them, kept by the worker and read by REST.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// Connect's connector/task states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not yet started.
    Unassigned,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Stopped.
    Stopped,
    /// Failed; see the trace.
    Failed,
    /// Being restarted.
    Restarting,
}

/// One task's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// State.
    pub state: State,
    /// Why it failed.
    pub trace: Option<String>,
    /// The worker running it, when that is another worker of the cluster (`None`: this one).
    pub worker_id: Option<String>,
}

impl TaskStatus {
    fn new(state: State, trace: Option<String>) -> Self {
        Self { state, trace, worker_id: None }
    }
}

/// One connector's state and its tasks'.
#[derive(Debug, Clone)]
pub struct ConnectorStatus {
    /// `sink` or `source`.
    pub kind: &'static str,
    /// Connector state.
    pub state: State,
    /// Why the connector failed.
    pub trace: Option<String>,
    /// The connector's configuration as given.
    pub config: BTreeMap<String, String>,
    /// Tasks by id.
    pub tasks: BTreeMap<u32, TaskStatus>,
    /// The worker answering for the connector, when that is another worker (`None`: this one).
    pub worker_id: Option<String>,
}

/// Every connector's status in this worker.
#[derive(Debug, Default)]
pub struct StatusBoard {
    connectors: RwLock<BTreeMap<String, ConnectorStatus>>,
}

impl StatusBoard {
    /// Registers (or re-registers) a connector in `state` with `tasks` unassigned tasks.
    pub fn add_connector(&self, name: &str, kind: &'static str, config: BTreeMap<String, String>, tasks: u32) {
        let tasks = (0..tasks).map(|id| (id, TaskStatus::new(State::Unassigned, None))).collect();
        let status = ConnectorStatus { kind, state: State::Running, trace: None, config, tasks, worker_id: None };
        self.write().insert(name.to_string(), status);
    }

    /// Forgets a connector.
    pub fn remove_connector(&self, name: &str) {
        self.write().remove(name);
    }

    /// Sets a connector's own state.
    pub fn set_connector(&self, name: &str, state: State, trace: Option<String>) {
        if let Some(c) = self.write().get_mut(name) {
            c.state = state;
            c.trace = trace;
        }
    }

    /// Replaces a connector's configuration (as shown by GET).
    pub fn set_config(&self, name: &str, config: BTreeMap<String, String>) {
        if let Some(c) = self.write().get_mut(name) {
            c.config = config;
        }
    }

    /// Replaces the task list with `tasks` unassigned tasks (0 when stopped).
    pub fn reset_tasks(&self, name: &str, tasks: u32) {
        if let Some(c) = self.write().get_mut(name) {
            c.tasks = (0..tasks).map(|id| (id, TaskStatus::new(State::Unassigned, None))).collect();
        }
    }

    /// Sets the state of a task this worker runs.
    pub fn set_task(&self, connector: &str, task: u32, state: State, trace: Option<String>) {
        if let Some(c) = self.write().get_mut(connector) {
            c.tasks.insert(task, TaskStatus::new(state, trace));
        }
    }

    /// Sets a task's status as another worker of the cluster reported it (or, with `worker_id`
    /// `None`, as this one did).
    pub fn set_task_status(&self, connector: &str, task: u32, status: TaskStatus) {
        if let Some(c) = self.write().get_mut(connector) {
            c.tasks.insert(task, status);
        }
    }

    /// Names the worker that answers for the connector (`None`: this one).
    pub fn set_connector_worker(&self, name: &str, worker_id: Option<String>) {
        if let Some(c) = self.write().get_mut(name) {
            c.worker_id = worker_id;
        }
    }

    /// One task's status.
    pub fn task(&self, connector: &str, task: u32) -> Option<TaskStatus> {
        self.read().get(connector).and_then(|c| c.tasks.get(&task).cloned())
    }

    /// Moves every task in one of `from` to `to` (pause and resume leave failed tasks failed).
    pub fn move_tasks(&self, connector: &str, from: &[State], to: State) {
        if let Some(c) = self.write().get_mut(connector) {
            for t in c.tasks.values_mut().filter(|t| from.contains(&t.state)) {
                (t.state, t.trace) = (to, None);
            }
        }
    }

    /// A copy of one connector's status.
    pub fn connector(&self, name: &str) -> Option<ConnectorStatus> {
        self.read().get(name).cloned()
    }

    /// Connector names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// A copy of every connector's status.
    pub fn all(&self) -> BTreeMap<String, ConnectorStatus> {
        self.read().clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ConnectorStatus>> {
        self.connectors.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ConnectorStatus>> {
        self.connectors.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_start_unassigned_and_move() {
        let board = StatusBoard::default();
        board.add_connector("c", "sink", BTreeMap::new(), 2);
        board.set_task("c", 1, State::Failed, Some("boom".into()));
        let c = board.connector("c").unwrap();
        assert_eq!(c.tasks[&0].state, State::Unassigned);
        assert_eq!(c.tasks[&1], TaskStatus::new(State::Failed, Some("boom".into())));
        assert_eq!(board.names(), vec!["c"]);
        assert!(board.connector("d").is_none());
        assert_eq!(serde_json::to_string(&State::Running).unwrap(), "\"RUNNING\"");
    }
}
