//! The Cassandra sink: Kafka records → Cassandra rows, at least once.
//!
//! `config` validates the connector's keys (pure), `mapping` binds records to prepared statements
//! against the live table schema, `task` runs poll → convert → map → write → commit.

pub mod config;
pub mod kcql;
pub mod mapping;
pub mod task;

pub use config::SinkConfig;
pub use task::SinkTask;
