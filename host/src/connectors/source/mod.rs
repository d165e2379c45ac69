//! The Cassandra source: Cassandra rows → Kafka records, nothing lost.
//!
//! `kcql` parses Lenses' source statements, `config` validates the keys (pure), `slice` does the
//! time arithmetic (UTC), `row` turns CQL values into Connect data, `offsets` keeps offsets in
//! Connect's layout, and `task` reads slices (or token ranges), produces, and stores offsets once
//! Kafka acknowledged everything below them.

pub mod config;
pub mod kcql;
pub mod offset_topic;
pub mod offsets;
pub mod row;
pub mod slice;
pub mod task;

pub use config::SourceConfig;
pub use task::SourceTask;

/// Every key the source reads (for `GET /connector-plugins/{class}/config` and unknown-key warnings).
pub fn config_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = crate::config::connector::COMMON_KEYS
        .iter()
        .chain(config::SOURCE_KEYS)
        .chain(crate::connectors::sink::config::CONNECTION_KEYS)
        .copied()
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}
