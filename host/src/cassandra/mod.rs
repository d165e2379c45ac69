//! Cassandra access: sessions, table schema, JSON → CQL values, and error classification.

pub mod row;
pub mod tls;
pub mod values;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::frame::types::Consistency;

use crate::config::ConfigError;

/// How to reach the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSettings {
    /// Contact points (host names or addresses).
    pub contact_points: Vec<String>,
    /// Native protocol port.
    pub port: u16,
    /// The local datacenter, preferred by load balancing (DataStax `loadBalancing.localDc`).
    pub local_dc: Option<String>,
    /// Credentials, used only when both are set (as the peers do).
    pub credentials: Option<(String, String)>,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// TLS, when enabled.
    pub tls: Option<tls::TlsSettings>,
}

/// A Cassandra error, classified: retryable ones are retried with backoff and never count as bad
/// records; permanent ones go to the error policy (or fail the task).
#[derive(Debug, thiserror::Error)]
pub enum CassandraError {
    /// The TLS settings cannot be used (a store became unreadable since the connector started).
    #[error("TLS to Cassandra: {0}")]
    Tls(String),
    /// Connecting failed.
    #[error("cannot connect to Cassandra at {contact_points}: {source}")]
    Connect {
        /// Where we tried.
        contact_points: String,
        /// Why it failed.
        source: Box<scylla::errors::NewSessionError>,
    },
    /// A request failed.
    #[error("{0}")]
    Execution(Box<ExecutionError>),
    /// Preparing a statement failed.
    #[error("cannot prepare `{statement}`: {source}")]
    Prepare {
        /// The CQL.
        statement: String,
        /// The driver's error.
        source: Box<scylla::errors::PrepareError>,
    },
    /// The schema is not what the configuration needs.
    #[error("{0}")]
    Schema(String),
    /// Reading rows failed for a reason retrying cannot fix (a page that does not type check).
    #[error("reading rows: {0}")]
    Read(String),
}

impl From<scylla::errors::PagerExecutionError> for CassandraError {
    fn from(e: scylla::errors::PagerExecutionError) -> Self {
        use scylla::errors::{NextPageError, PagerExecutionError};
        match e {
            PagerExecutionError::NextPageError(NextPageError::RequestFailure(r)) => r.into_execution_error().into(),
            other => Self::Read(other.to_string()),
        }
    }
}

impl From<scylla::errors::NextRowError> for CassandraError {
    fn from(e: scylla::errors::NextRowError) -> Self {
        use scylla::errors::{NextPageError, NextRowError};
        match e {
            NextRowError::NextPageError(NextPageError::RequestFailure(r)) => r.into_execution_error().into(),
            other => Self::Read(other.to_string()),
        }
    }
}

impl From<ExecutionError> for CassandraError {
    fn from(e: ExecutionError) -> Self {
        Self::Execution(Box::new(e))
    }
}

impl CassandraError {
    /// Whether retrying the same request later can succeed (node down, timeout, overload).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { source, .. } => !tls_refused(source.as_ref()),
            Self::Execution(e) => execution_is_retryable(e),
            Self::Prepare { .. } | Self::Schema(_) | Self::Tls(_) | Self::Read(_) => false,
        }
    }
}

/// A TLS handshake refused by either side (an untrusted certificate, a name mismatch, a node that
/// does not speak TLS, no common cipher): trying again cannot help until the configuration changes.
fn tls_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    const REFUSALS: [&str; 4] =
        ["certificate verify failed", "tlsv1 alert", "wrong version number", "handshake failure"];
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if REFUSALS.iter().any(|r| text.contains(r)) {
            return true;
        }
        current = e.source();
    }
    false
}

fn execution_is_retryable(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_) | ExecutionError::RequestTimeout(_) => true,
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::DbError(db, _) => matches!(
                db,
                DbError::Unavailable { .. }
                    | DbError::Overloaded
                    | DbError::IsBootstrapping
                    | DbError::ReadTimeout { .. }
                    | DbError::WriteTimeout { .. }
                    | DbError::ServerError
                    | DbError::TruncateError
                    | DbError::RateLimitReached { .. }
            ),
            RequestAttemptError::BrokenConnectionError(_) | RequestAttemptError::UnableToAllocStreamId => true,
            _ => false,
        },
        _ => false,
    }
}

/// Parses a consistency level name as the peers spell it (`LOCAL_QUORUM`, `quorum`, …).
pub fn parse_consistency(key: &str, value: &str) -> Result<Consistency, ConfigError> {
    Ok(match value.trim().to_ascii_uppercase().as_str() {
        "ANY" => Consistency::Any,
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "EACH_QUORUM" => Consistency::EachQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        other => {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "'{other}' is not a consistency level (ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE)"
                ),
            ));
        }
    })
}

/// Opens a session (token- and shard-aware by default).
pub async fn connect(settings: &ConnectionSettings) -> Result<Session, CassandraError> {
    let nodes: Vec<String> = settings
        .contact_points
        .iter()
        .map(|host| {
            if host.contains(':') && !host.starts_with('[') {
                host.clone()
            } else {
                format!("{host}:{}", settings.port)
            }
        })
        .collect();
    // Only what routing needs (keyspaces, their replication, the token ring): Spillway reads the
    // columns of the tables it uses from `system_schema` itself, and a full schema (every table,
    // column and type of the cluster, fetched again after each schema change) would cost every
    // session's start, and Cassandra, for nothing.
    let mut builder = SessionBuilder::new()
        .known_nodes(&nodes)
        .connection_timeout(settings.connect_timeout)
        .fetch_full_schema_metadata(false);
    if let Some((user, password)) = &settings.credentials {
        builder = builder.user(user, password);
    }
    if let Some(tls) = &settings.tls {
        // Checked when the connector was configured; the files are read again here (a rotated
        // certificate is picked up by the next session).
        let connector = tls.connector().map_err(|e| CassandraError::Tls(e.to_string()))?;
        builder = builder.tls_context(Some(connector));
    }
    if let Some(dc) = &settings.local_dc {
        let policy = scylla::policies::load_balancing::DefaultPolicy::builder()
            .prefer_datacenter(dc.clone())
            .token_aware(true)
            .build();
        let profile =
            scylla::client::execution_profile::ExecutionProfile::builder().load_balancing_policy(policy).build();
        builder = builder.default_execution_profile_handle(profile.into_handle());
    }
    builder
        .build()
        .await
        .map_err(|source| CassandraError::Connect { contact_points: nodes.join(","), source: Box::new(source) })
}

/// A session in use: its settings, the runtime its connections run on, and the session.
type InUse = (ConnectionSettings, tokio::runtime::Id, Weak<Session>);

/// Sessions in use in this process, by their settings and runtime.
static SESSIONS: Mutex<Vec<InUse>> = Mutex::new(Vec::new());

fn session_in_use(
    sessions: &[InUse],
    settings: &ConnectionSettings,
    runtime: tokio::runtime::Id,
) -> Option<Arc<Session>> {
    sessions.iter().filter(|(s, r, _)| s == settings && *r == runtime).find_map(|(_, _, session)| session.upgrade())
}

/// A session for `settings`, shared by every task of this process that connects with the same
/// settings (the tasks of a connector, as the DataStax connector shares one per connector): one
/// connection pool, whose connections carry all their requests, coalesced. It closes when the last
/// task holding it lets go; a new one (with TLS files read again) opens for the next task.
///
/// Only tasks on the same tokio runtime share: a session's connections are tasks of the runtime
/// that opened it and end with it (a worker has one runtime; a test process has one per test).
pub async fn shared_session(settings: &ConnectionSettings) -> Result<Arc<Session>, CassandraError> {
    let lock = || SESSIONS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = tokio::runtime::Handle::current().id();
    if let Some(session) = session_in_use(&lock(), settings, runtime) {
        return Ok(session);
    }
    let session = Arc::new(connect(settings).await?);
    let mut sessions = lock();
    sessions.retain(|(_, _, s)| s.strong_count() > 0);
    // Another task may have connected meanwhile: use theirs, drop this one.
    if let Some(theirs) = session_in_use(&sessions, settings, runtime) {
        return Ok(theirs);
    }
    sessions.push((settings.clone(), runtime, Arc::downgrade(&session)));
    Ok(session)
}

/// A table column as the schema describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// `partition_key`, `clustering`, `regular` or `static`.
    pub kind: String,
    /// CQL type text, e.g. `text`, `frozen<list<int>>`.
    pub cql_type: String,
}

impl Column {
    /// Whether the column is part of the primary key.
    pub fn is_primary_key(&self) -> bool {
        self.kind == "partition_key" || self.kind == "clustering"
    }

    /// Whether the column is part of the partition key.
    pub fn is_partition_key(&self) -> bool {
        self.kind == "partition_key"
    }
}

/// Reads a table's columns from `system_schema`; an absent table is a clear error.
pub async fn table_columns(session: &Session, keyspace: &str, table: &str) -> Result<Vec<Column>, CassandraError> {
    let rows = session
        .query_unpaged(
            "SELECT column_name, kind, position, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
            (keyspace, table),
        )
        .await?
        .into_rows_result()
        .map_err(|e| CassandraError::Schema(format!("reading the schema of {keyspace}.{table}: {e}")))?;
    let mut columns: Vec<(i32, Column)> = rows
        .rows::<(String, String, i32, String)>()
        .map_err(|e| CassandraError::Schema(format!("reading the schema of {keyspace}.{table}: {e}")))?
        .map(|row| row.map(|(name, kind, position, cql_type)| (position, Column { name, kind, cql_type })))
        .collect::<Result<_, _>>()
        .map_err(|e| CassandraError::Schema(format!("reading the schema of {keyspace}.{table}: {e}")))?;
    if columns.is_empty() {
        return Err(CassandraError::Schema(format!("table {keyspace}.{table} does not exist")));
    }
    // Partition key first, then clustering, each by position; the rest by name.
    let rank = |c: &Column| match c.kind.as_str() {
        "partition_key" => 0,
        "clustering" => 1,
        _ => 2,
    };
    columns.sort_by(|(pa, a), (pb, b)| (rank(a), *pa, &a.name).cmp(&(rank(b), *pb, &b.name)));
    Ok(columns.into_iter().map(|(_, c)| c).collect())
}

/// Quotes a CQL identifier when it is not a plain lower-case name.
pub fn quote_identifier(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistency_names() {
        assert_eq!(parse_consistency("k", "local_quorum").unwrap(), Consistency::LocalQuorum);
        let err = parse_consistency("connect.cassandra.consistency.level", "MOST").unwrap_err().to_string();
        assert!(err.contains("connect.cassandra.consistency.level") && err.contains("MOST"), "{err}");
    }

    #[test]
    fn identifiers() {
        assert_eq!(quote_identifier("sensor_id"), "sensor_id");
        assert_eq!(quote_identifier("SensorId"), "\"SensorId\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn classification() {
        assert!(CassandraError::from(ExecutionError::RequestTimeout(Duration::from_secs(1))).is_retryable());
        assert!(CassandraError::from(ExecutionError::EmptyPlan).is_retryable());
        let invalid = ExecutionError::LastAttemptError(RequestAttemptError::DbError(DbError::Invalid, "bad".into()));
        assert!(!CassandraError::from(invalid).is_retryable());
        let overloaded =
            ExecutionError::LastAttemptError(RequestAttemptError::DbError(DbError::Overloaded, "busy".into()));
        assert!(CassandraError::from(overloaded).is_retryable());
        assert!(!CassandraError::Schema("x".into()).is_retryable());
    }
}
