//! Connectors: the Cassandra sink and source, under Spillway's names and the names existing
//! Lenses and DataStax configurations use.

pub mod sink;

use crate::config::ConfigError;

/// The connector implementations this host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorKind {
    /// Kafka → Cassandra.
    CassandraSink,
    /// Cassandra → Kafka.
    CassandraSource,
}

/// `connector.class` values of the Cassandra sink (Spillway's, Lenses' and DataStax's names).
pub const SINK_CLASSES: &[&str] = &[
    "spillway.CassandraSink",
    "CassandraSink",
    "io.lenses.streamreactor.connect.cassandra.sink.CassandraSinkConnector",
    "io.lenses.streamreactor.connect.cassandra.CassandraSinkConnector",
    "com.datamountaineer.streamreactor.connect.cassandra.sink.CassandraSinkConnector",
    "com.datastax.oss.kafka.sink.CassandraSinkConnector",
    "com.datastax.kafkaconnector.DseSinkConnector",
];
const SOURCE_CLASSES: &[&str] = &[
    "spillway.CassandraSource",
    "CassandraSource",
    "io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector",
    "com.datamountaineer.streamreactor.connect.cassandra.source.CassandraSourceConnector",
];

impl ConnectorKind {
    /// Resolves `connector.class` (any accepted alias).
    pub fn from_class(class: &str) -> Result<Self, ConfigError> {
        let class = class.trim();
        if SINK_CLASSES.contains(&class) {
            Ok(Self::CassandraSink)
        } else if SOURCE_CLASSES.contains(&class) {
            Ok(Self::CassandraSource)
        } else {
            Err(ConfigError::invalid(
                "connector.class",
                format!(
                    "unknown connector class '{class}'; available: spillway.CassandraSink (also under its Lenses and DataStax class names)"
                ),
            ))
        }
    }

    /// Connect's type string (`sink` / `source`).
    pub fn type_name(self) -> &'static str {
        match self {
            Self::CassandraSink => "sink",
            Self::CassandraSource => "source",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        for class in SINK_CLASSES {
            assert_eq!(ConnectorKind::from_class(class).unwrap(), ConnectorKind::CassandraSink);
        }
        assert_eq!(
            ConnectorKind::from_class("io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector")
                .unwrap(),
            ConnectorKind::CassandraSource
        );
        let err = ConnectorKind::from_class("FileStreamSink").unwrap_err().to_string();
        assert!(err.contains("connector.class") && err.contains("FileStreamSink"), "{err}");
    }
}
