//! The Cassandra sink: Kafka records → Cassandra rows, at least once.
//!
//! `config` validates the connector's keys (pure) in either dialect (`lenses`, `datastax`), both
//! compiling into the `model`; `writer` binds records to prepared statements against the live table
//! schema; `batcher` groups them per partition; `task` runs poll → convert → map → write → commit.

pub mod batcher;
pub mod config;
pub mod datastax;
pub mod kcql;
pub mod lenses;
pub mod model;
pub mod pending;
pub mod task;
pub mod writer;

pub use config::SinkConfig;
pub use task::SinkTask;

/// Every key the sink reads, in both dialects (for `GET /connector-plugins/{class}/config`).
pub fn config_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = crate::config::connector::COMMON_KEYS
        .iter()
        .chain(config::CONNECTION_KEYS)
        .chain(config::SINK_KEYS)
        .chain(lenses::KEYS)
        .chain(datastax::KEYS)
        .copied()
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}
