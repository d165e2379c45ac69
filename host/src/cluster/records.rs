//! The records of the config and status topics.
//!
//! Connector configs and target states use Kafka Connect's keys and shapes (`connector-<name>` →
//! `{"properties": {…}}`, `target-state-<name>` → `{"state": …, "state.v2": …}`), and task states
//! Connect's status records (`status-task-<name>-<id>` → `{"state", "trace", "worker_id",
//! "generation"}`), so tools that read those topics keep working. Leadership, assignments and
//! restart requests are Spillway's own records (`spillway-*` keys) in the same, totally ordered,
//! config topic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::worker::herder::Target;
use crate::worker::status::State;

const CONNECTOR: &str = "connector-";
const TARGET: &str = "target-state-";
const LEADER: &str = "spillway-leader";
const ASSIGNMENT: &str = "spillway-assignment";
const RESTART: &str = "spillway-restart-";
const TASK_STATUS: &str = "status-task-";
const TOPIC: &str = "topic-";
const RESET_TOPICS: &str = "spillway-reset-topics-";

/// Which worker runs what, as the leader decided it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The offset of the leader's claim in the config topic: an assignment is in force only while
    /// its epoch is the latest claim's, so a deposed leader's late writes are ignored.
    pub epoch: i64,
    /// The worker that wrote it.
    pub leader: String,
    /// The worker answering for each connector.
    pub connectors: BTreeMap<String, String>,
    /// Each connector's tasks: the worker of task `i` at index `i`.
    pub tasks: BTreeMap<String, Vec<String>>,
}

impl Assignment {
    /// The ids of `connector`'s tasks that `worker` runs.
    pub fn owned(&self, connector: &str, worker: &str) -> Vec<u32> {
        self.tasks
            .get(connector)
            .map(|ws| ws.iter().enumerate().filter(|(_, w)| *w == worker).map(|(i, _)| i as u32).collect())
            .unwrap_or_default()
    }

    /// The worker of one task.
    pub fn owner(&self, connector: &str, task: u32) -> Option<&str> {
        self.tasks.get(connector).and_then(|ws| ws.get(task as usize)).map(String::as_str)
    }

    /// The same decisions (who runs what), whoever wrote them.
    pub fn same_as(&self, other: &Self) -> bool {
        self.connectors == other.connectors && self.tasks == other.tasks
    }
}

/// One record of the config topic.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    /// A connector's configuration; `None`: deleted.
    Connector { name: String, settings: Option<BTreeMap<String, String>> },
    /// A connector's target state; `None`: deleted.
    Target { name: String, target: Option<Target> },
    /// A worker claims leadership; the record's offset is its epoch.
    Leader { worker_id: String },
    /// The leader's assignment.
    Assignment(Assignment),
    /// Restart these tasks of a connector (wherever they run).
    Restart { name: String, tasks: Vec<u32> },
    /// Forget the connector's active topics (every worker, for its own tasks).
    ResetTopics { name: String },
    /// A key this version does not use (Connect's `task-*` and `commit-*`, say): skipped.
    Other,
}

impl ConfigRecord {
    /// The record's key and value (`None`: a tombstone).
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let (key, value) = match self {
            Self::Connector { name, settings } => {
                (format!("{CONNECTOR}{name}"), settings.as_ref().map(|s| json!({ "properties": s })))
            }
            Self::Target { name, target } => {
                let state = |t: &Target| match t {
                    Target::Running => "STARTED",
                    Target::Paused => "PAUSED",
                    Target::Stopped => "STOPPED",
                };
                // Connect ≥ 3.5 writes `state.v2`; older readers know only STARTED and PAUSED.
                let value = target.as_ref().map(|t| {
                    let v1 = if *t == Target::Stopped { "PAUSED" } else { state(t) };
                    json!({"state": v1, "state.v2": state(t)})
                });
                (format!("{TARGET}{name}"), value)
            }
            Self::Leader { worker_id } => (LEADER.to_string(), Some(json!({ "worker_id": worker_id }))),
            Self::Assignment(a) => (ASSIGNMENT.to_string(), Some(json!(a))),
            Self::Restart { name, tasks } => (format!("{RESTART}{name}"), Some(json!({ "tasks": tasks }))),
            Self::ResetTopics { name } => (format!("{RESET_TOPICS}{name}"), Some(json!({}))),
            Self::Other => (String::new(), None),
        };
        (key, value.map(|v| serde_json::to_vec(&v).expect("JSON values serialize")))
    }

    /// Reads a record; an unreadable value is an error naming the key (the caller skips it).
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Self, String> {
        let key = std::str::from_utf8(key).map_err(|_| "a config record key is not UTF-8".to_string())?;
        let value: Option<Value> = match value {
            None => None,
            Some(bytes) => Some(serde_json::from_slice(bytes).map_err(|e| format!("config record '{key}': {e}"))?),
        };
        let bad = |why: &str| format!("config record '{key}': {why}");
        if let Some(name) = key.strip_prefix(CONNECTOR) {
            let settings = match value {
                None => None,
                Some(v) => {
                    let props = v.get("properties").and_then(Value::as_object).ok_or_else(|| bad("no properties"))?;
                    Some(
                        props
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                            .collect(),
                    )
                }
            };
            return Ok(Self::Connector { name: name.to_string(), settings });
        }
        if let Some(name) = key.strip_prefix(TARGET) {
            let target = match value {
                None => None,
                Some(v) => {
                    let state = v.get("state.v2").or_else(|| v.get("state")).and_then(Value::as_str).unwrap_or("");
                    Some(match state {
                        "STARTED" => Target::Running,
                        other => Target::parse(other).ok_or_else(|| bad(&format!("unknown state '{other}'")))?,
                    })
                }
            };
            return Ok(Self::Target { name: name.to_string(), target });
        }
        if key == LEADER {
            let worker_id = value.as_ref().and_then(|v| v["worker_id"].as_str()).ok_or_else(|| bad("no worker_id"))?;
            return Ok(Self::Leader { worker_id: worker_id.to_string() });
        }
        if key == ASSIGNMENT {
            let value = value.ok_or_else(|| bad("no value"))?;
            return serde_json::from_value(value).map(Self::Assignment).map_err(|e| bad(&e.to_string()));
        }
        if let Some(name) = key.strip_prefix(RESET_TOPICS) {
            return Ok(Self::ResetTopics { name: name.to_string() });
        }
        if let Some(name) = key.strip_prefix(RESTART) {
            let tasks = value
                .as_ref()
                .and_then(|v| v["tasks"].as_array())
                .map(|ts| ts.iter().filter_map(Value::as_u64).map(|t| t as u32).collect())
                .unwrap_or_default();
            return Ok(Self::Restart { name: name.to_string(), tasks });
        }
        Ok(Self::Other)
    }
}

/// A task's state as its worker reported it to the status topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatusRecord {
    /// Connect's state name.
    pub state: State,
    /// Why it failed.
    #[serde(default)]
    pub trace: Option<String>,
    /// The worker that runs it.
    pub worker_id: String,
    /// The assignment epoch it runs under.
    #[serde(default)]
    pub generation: i64,
}

/// The key of a task's status record.
pub fn task_status_key(connector: &str, task: u32) -> String {
    format!("{TASK_STATUS}{connector}-{task}")
}

/// A connector's active topic as Connect records it in the status topic:
/// `topic-<topic>-<connector>` → `{"topic": {"name", "connector", "task", "discoverTimestamp"}}`.
pub fn topic_record(topic: &str, connector: &str, task: u32, now_ms: i64) -> (String, Vec<u8>) {
    let value = json!({"topic": {"name": topic, "connector": connector, "task": format!("{connector}-{task}"), "discoverTimestamp": now_ms}});
    (format!("{TOPIC}{topic}-{connector}"), serde_json::to_vec(&value).expect("JSON values serialize"))
}

/// The key of an active-topic record.
pub fn topic_key(topic: &str, connector: &str) -> String {
    format!("{TOPIC}{topic}-{connector}")
}

/// Reads an active-topic record's value: (connector, topic).
pub fn decode_topic(key: &[u8], value: &[u8]) -> Option<(String, String)> {
    key.starts_with(TOPIC.as_bytes()).then_some(())?;
    let v: Value = serde_json::from_slice(value).ok()?;
    Some((v["topic"]["connector"].as_str()?.to_string(), v["topic"]["name"].as_str()?.to_string()))
}

/// Reads a status record: `((connector, task), status)` for a task's; `None` for any other key
/// (connector statuses, Connect's topic status records) or a tombstone.
pub fn decode_task_status(key: &[u8], value: Option<&[u8]>) -> Option<((String, u32), TaskStatusRecord)> {
    let key = std::str::from_utf8(key).ok()?.strip_prefix(TASK_STATUS)?;
    let (connector, task) = key.rsplit_once('-')?;
    let status = serde_json::from_slice(value?).ok()?;
    Some(((connector.to_string(), task.parse().ok()?), status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(record: ConfigRecord) {
        let (key, value) = record.encode();
        assert_eq!(ConfigRecord::decode(key.as_bytes(), value.as_deref()).unwrap(), record);
    }

    #[test]
    fn config_records_read_back_as_written() {
        let settings: BTreeMap<String, String> =
            [("name".into(), "c-1".into()), ("tasks.max".into(), "2".into())].into();
        round_trip(ConfigRecord::Connector { name: "c-1".into(), settings: Some(settings) });
        round_trip(ConfigRecord::Connector { name: "c-1".into(), settings: None });
        for target in [Target::Running, Target::Paused, Target::Stopped] {
            round_trip(ConfigRecord::Target { name: "c".into(), target: Some(target) });
        }
        round_trip(ConfigRecord::Leader { worker_id: "127.0.0.1:8083".into() });
        let mut a = Assignment { epoch: 7, leader: "w1".into(), ..Assignment::default() };
        a.tasks.insert("c".into(), vec!["w1".into(), "w2".into(), "w1".into()]);
        assert_eq!((a.owned("c", "w1"), a.owner("c", 1)), (vec![0, 2], Some("w2")));
        round_trip(ConfigRecord::Assignment(a));
        round_trip(ConfigRecord::Restart { name: "c".into(), tasks: vec![0, 3] });
        round_trip(ConfigRecord::ResetTopics { name: "c".into() });
    }

    #[test]
    fn connects_own_records_are_read() {
        let value = br#"{"properties":{"name":"c","tasks.max":2}}"#;
        let ConfigRecord::Connector { settings: Some(s), .. } =
            ConfigRecord::decode(b"connector-c", Some(value)).unwrap()
        else {
            panic!("a connector record")
        };
        assert_eq!(s["tasks.max"], "2");
        let paused = ConfigRecord::decode(b"target-state-c", Some(br#"{"state":"PAUSED"}"#)).unwrap();
        assert_eq!(paused, ConfigRecord::Target { name: "c".into(), target: Some(Target::Paused) });
        assert_eq!(ConfigRecord::decode(b"commit-c", Some(br#"{"tasks":2}"#)).unwrap(), ConfigRecord::Other);
        let broken = ConfigRecord::decode(b"target-state-c", Some(br#"{"state":"DANCING"}"#)).unwrap_err();
        assert!(broken.contains("DANCING"), "{broken}");
    }

    #[test]
    fn active_topics_are_connects_records() {
        let (key, value) = topic_record("orders-eu", "my-sink", 1, 5);
        assert_eq!(key, topic_key("orders-eu", "my-sink"));
        assert_eq!(decode_topic(key.as_bytes(), &value), Some(("my-sink".into(), "orders-eu".into())));
        assert_eq!(decode_topic(b"status-task-x-0", &value), None);
    }

    #[test]
    fn task_statuses_name_their_connector_and_task() {
        let record = TaskStatusRecord { state: State::Running, trace: None, worker_id: "w".into(), generation: 3 };
        let value = serde_json::to_vec(&record).unwrap();
        let key = task_status_key("my-sink", 12);
        assert_eq!(decode_task_status(key.as_bytes(), Some(&value)), Some((("my-sink".into(), 12), record)));
        assert_eq!(decode_task_status(b"status-connector-x", Some(&value)), None);
        assert_eq!(decode_task_status(key.as_bytes(), None), None);
    }
}
