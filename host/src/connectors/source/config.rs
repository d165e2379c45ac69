//! Source configuration: Lenses' `connect.cassandra.*` keys and source KCQL, validated without
//! touching the cluster (the table schema is checked when a task starts).

use std::time::Duration;

use super::kcql::{self, Mode, SourceStatement};
use super::slice::{BucketUnit, Buckets, LENSES_EPOCH, parse_time};
use crate::cassandra::{ConnectionSettings, parse_consistency};
use crate::config::{ConfigError, ConnectorConfig, Settings, WorkerConfig};
use crate::pipeline::convert::{Converter, ConverterConfig};
use scylla::frame::types::Consistency;

/// The source's own keys, besides the common connector keys and the connection keys it shares
/// with the sink (`connect.cassandra.contact.points`, `port`, credentials, TLS).
pub const SOURCE_KEYS: &[&str] = &[
    "connect.cassandra.kcql",
    "connect.cassandra.key.space",
    "connect.cassandra.consistency.level",
    "connect.cassandra.initial.offset",
    "connect.cassandra.import.poll.interval",
    "connect.cassandra.slice.duration",
    "connect.cassandra.time.slice.ms",
    "connect.cassandra.slice.delay.ms",
    "connect.cassandra.task.buffer.size",
    "connect.cassandra.batch.size",
    "connect.cassandra.fetch.size",
    "connect.cassandra.bucket.timeseries.mode",
    "connect.cassandra.bucket.timeseries.format",
    "connect.cassandra.bucket.timeseries.field.name",
    "connect.cassandra.mapping.collection.to.json",
    "connect.cassandra.import.allow.filtering",
    "connect.cassandra.assigned.tables",
    "connect.cassandra.source.parallelism",
    "connect.cassandra.source.token.ranges",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "offsets.storage.topic",
];

/// Exactly-once delivery: a table's records and its offset in one Kafka transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactlyOnce {
    /// The offsets topic (Connect's layout).
    pub topic: String,
    /// Its replication factor when created.
    pub replication_factor: i32,
    /// `transaction.boundary=interval`: commit at the first slice end after this long (and when
    /// caught up); `None` (`poll`): after every slice.
    pub interval: Option<Duration>,
}

/// How one table is read and what its records look like.
#[derive(Debug, Clone)]
pub struct TableSource {
    /// The KCQL statement.
    pub statement: SourceStatement,
    /// `INCREMENTALMODE`.
    pub mode: Mode,
    /// The column slices are tracked by (`PK`; none in TOKEN mode).
    pub pk: Option<String>,
}

/// The value converter's form, for what a source record's value and key become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// JsonConverter: with `schemas.enable`, Connect's `{"schema", "payload"}` envelope.
    Json {
        /// Whether the envelope is written.
        schemas: bool,
    },
    /// StringConverter: text.
    String,
    /// ByteArrayConverter: the text's bytes (for string values only).
    Bytes,
}

/// A validated source configuration.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Where Cassandra is.
    pub connection: ConnectionSettings,
    /// The keyspace of every table (`connect.cassandra.key.space`).
    pub keyspace: String,
    /// One per KCQL statement.
    pub tables: Vec<TableSource>,
    /// Read consistency.
    pub consistency: Option<Consistency>,
    /// Where a table without a stored offset starts (ms since the epoch, UTC).
    pub initial_offset: i64,
    /// The wait between slices once caught up (`import.poll.interval`).
    pub poll_interval: Duration,
    /// Slice width, ms (`slice.duration`).
    pub slice_ms: i64,
    /// How far behind now a slice ends, ms (`slice.delay.ms`): rows written late by up to this
    /// much are still read.
    pub delay_ms: i64,
    /// Records a task may have on their way to Kafka (`task.buffer.size`).
    pub buffer_size: usize,
    /// Driver page size (`fetch.size`).
    pub fetch_size: i32,
    /// Concurrent queries per table (buckets or token ranges read at once).
    pub parallelism: usize,
    /// Token ranges of a TOKEN snapshot.
    pub token_ranges: u32,
    /// Buckets of a BUCKETTIMESERIES table, and the bucket column.
    pub buckets: Option<(Buckets, String)>,
    /// Collections as JSON text (Lenses' `mapping.collection.to.json`, default true).
    pub collections_as_json: bool,
    /// Record values.
    pub value_output: Output,
    /// Record keys (WITHKEY).
    pub key_output: Output,
    /// Records and offsets in one transaction, when on.
    pub exactly_once: Option<ExactlyOnce>,
}

fn exactly_once(s: &Settings, worker: &WorkerConfig) -> Result<Option<ExactlyOnce>, ConfigError> {
    let on = match s.non_blank("exactly.once.support").map(str::to_ascii_lowercase).as_deref() {
        // A distributed worker keeps source offsets in the offsets topic, written in the
        // transaction that carries the records: a task that moves to another worker resumes there.
        None | Some("requested") => worker.exactly_once_source || worker.cluster.is_some(),
        Some("required") => true,
        Some(other) => {
            return Err(ConfigError::invalid(
                "exactly.once.support",
                format!("'{other}' is not requested or required"),
            ));
        }
    };
    if !on {
        return Ok(None);
    }
    let interval = match s.non_blank("transaction.boundary").map(str::to_ascii_lowercase).as_deref() {
        None | Some("poll") => None,
        Some("interval") => Some(match s.non_blank("transaction.boundary.interval.ms") {
            None => worker.offset_flush_interval,
            Some(_) => Duration::from_millis(positive(s, "transaction.boundary.interval.ms", 1u64)?),
        }),
        Some("connector") => {
            return Err(ConfigError::invalid(
                "transaction.boundary",
                "'connector' needs a connector that defines its own transactions; the Cassandra source commits per slice: use poll or interval",
            ));
        }
        Some(other) => {
            return Err(ConfigError::invalid("transaction.boundary", format!("'{other}' is not poll or interval")));
        }
    };
    Ok(Some(ExactlyOnce {
        topic: s.non_blank("offsets.storage.topic").unwrap_or(&worker.offset_storage_topic).to_string(),
        replication_factor: worker.offset_storage_replication_factor,
        interval,
    }))
}

fn positive<T>(s: &Settings, key: &str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + Default + Copy,
    T::Err: std::fmt::Display,
{
    let v: T = s.parse_or(key, default)?;
    if v <= T::default() {
        return Err(ConfigError::invalid(key, "must be positive"));
    }
    Ok(v)
}

fn output(c: &ConverterConfig, key: &str) -> Result<Output, ConfigError> {
    match Converter::build(c, key)? {
        Converter::Json { schemas_enable } => Ok(Output::Json { schemas: schemas_enable }),
        Converter::String => Ok(Output::String),
        Converter::ByteArray => Ok(Output::Bytes),
        Converter::Plugin => Err(ConfigError::invalid(
            key,
            format!(
                "'{}' is a converter plugin; the Cassandra source writes with JsonConverter, StringConverter or ByteArrayConverter in this version",
                c.class
            ),
        )),
    }
}

impl SourceConfig {
    /// Validates the source keys of a connector config.
    pub fn from_connector(c: &ConnectorConfig, worker: &WorkerConfig) -> Result<Self, ConfigError> {
        let s = &c.settings;
        let keyspace = s.required("connect.cassandra.key.space", "the keyspace of the tables to read")?.to_string();
        let kcql = s.required(
            "connect.cassandra.kcql",
            "e.g. INSERT INTO topic SELECT * FROM table PK ts INCREMENTALMODE=TIMESTAMP",
        )?;
        let statements = kcql::parse(kcql).map_err(|e| ConfigError::invalid("connect.cassandra.kcql", e))?;
        let mut tables = Vec::new();
        for st in statements {
            let Some(mode) = st.mode else {
                return Err(ConfigError::invalid(
                    "connect.cassandra.kcql",
                    format!(
                        "the statement for table '{}' has no INCREMENTALMODE; say how to read it: TIMESTAMP or TIMEUUID (PK <column>), BUCKETTIMESERIES (PK <clustering column>) or TOKEN (a snapshot)",
                        st.table
                    ),
                ));
            };
            if mode != Mode::Token && st.pk.is_none() {
                return Err(ConfigError::invalid(
                    "connect.cassandra.kcql",
                    format!(
                        "INCREMENTALMODE={} needs PK <column> naming the {} column of table '{}' that slices follow",
                        mode.as_str(),
                        if mode == Mode::TimeUuid { "timeuuid" } else { "time" },
                        st.table
                    ),
                ));
            }
            if tables.iter().any(|t: &TableSource| t.statement.table == st.table) {
                return Err(ConfigError::invalid(
                    "connect.cassandra.kcql",
                    format!("table '{}' is read by two statements", st.table),
                ));
            }
            let pk = st.pk.clone();
            tables.push(TableSource { statement: st, mode, pk });
        }
        let buckets = if tables.iter().any(|t| t.mode == Mode::BucketTimeSeries) {
            let unit_text = s.required(
                "connect.cassandra.bucket.timeseries.mode",
                "DAY, HOUR, MINUTE or SECOND: the width of a bucket",
            )?;
            let unit = BucketUnit::parse(unit_text).ok_or_else(|| {
                ConfigError::invalid(
                    "connect.cassandra.bucket.timeseries.mode",
                    format!("'{unit_text}' is not DAY, HOUR, MINUTE or SECOND"),
                )
            })?;
            let format = s.required(
                "connect.cassandra.bucket.timeseries.format",
                "how bucket names are written, e.g. yyyy-MM-dd",
            )?;
            let buckets = Buckets::new(unit, format)
                .map_err(|e| ConfigError::invalid("connect.cassandra.bucket.timeseries.format", e))?;
            let field = s.non_blank("connect.cassandra.bucket.timeseries.field.name").unwrap_or("bucket").to_string();
            Some((buckets, field))
        } else {
            None
        };
        let initial_text = s.non_blank("connect.cassandra.initial.offset").unwrap_or(LENSES_EPOCH);
        let initial_offset =
            parse_time(initial_text).map_err(|e| ConfigError::invalid("connect.cassandra.initial.offset", e))?;
        let slice_key = if s.get("connect.cassandra.slice.duration").is_none()
            && s.get("connect.cassandra.time.slice.ms").is_some()
        {
            "connect.cassandra.time.slice.ms"
        } else {
            "connect.cassandra.slice.duration"
        };
        let slice_ms: i64 = positive(s, slice_key, 10_000)?;
        let delay_ms: i64 = s.parse_or("connect.cassandra.slice.delay.ms", 30_000)?;
        if delay_ms < 0 {
            return Err(ConfigError::invalid("connect.cassandra.slice.delay.ms", "must not be negative"));
        }
        let consistency = s
            .non_blank("connect.cassandra.consistency.level")
            .map(|v| parse_consistency("connect.cassandra.consistency.level", v))
            .transpose()?;
        let connection = crate::connectors::sink::config::lenses_connection(s)?;
        if connection.contact_points.is_empty() {
            return Err(ConfigError::invalid("connect.cassandra.contact.points", "the list is empty"));
        }
        let value_output = output(c.value_converter.as_ref().unwrap_or(&worker.value_converter), "value.converter")?;
        let key_output = output(c.key_converter.as_ref().unwrap_or(&worker.key_converter), "key.converter")?;
        if value_output == Output::Bytes && tables.iter().any(|t| !t.statement.json && !t.statement.unwrap) {
            return Err(ConfigError::invalid(
                "value.converter",
                "ByteArrayConverter cannot write a row (a Connect struct); use JsonConverter or StringConverter, or WITHUNWRAP / WITHFORMAT JSON for text values",
            ));
        }
        Ok(Self {
            connection,
            keyspace,
            tables,
            consistency,
            initial_offset,
            poll_interval: Duration::from_millis(positive(s, "connect.cassandra.import.poll.interval", 1_000u64)?),
            slice_ms,
            delay_ms,
            buffer_size: positive(s, "connect.cassandra.task.buffer.size", 10_000usize)?,
            fetch_size: positive(s, "connect.cassandra.fetch.size", 5_000i32)?,
            parallelism: positive(s, "connect.cassandra.source.parallelism", 8usize)?,
            token_ranges: positive(s, "connect.cassandra.source.token.ranges", 64u32)?,
            buckets,
            collections_as_json: s.bool_or("connect.cassandra.mapping.collection.to.json", true)?,
            value_output,
            key_output,
            exactly_once: exactly_once(s, worker)?,
        })
    }

    /// How many tasks run: one table each at most, up to `tasks.max`.
    pub fn task_count(&self, tasks_max: u32) -> u32 {
        tasks_max.min(self.tables.len() as u32).max(1)
    }

    /// The tables task `id` of `count` reads (spread round-robin).
    pub fn tables_of(&self, id: u32, count: u32) -> Vec<TableSource> {
        self.tables.iter().enumerate().filter(|(i, _)| *i as u32 % count == id).map(|(_, t)| t.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(extra: &[(&str, &str)]) -> ConnectorConfig {
        let mut s = Settings::from_pairs(&[
            ("name", "src"),
            ("connector.class", "io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector"),
            ("connect.cassandra.key.space", "ks"),
            ("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM orders PK created INCREMENTALMODE=TIMESTAMP"),
        ]);
        for (k, v) in extra {
            s.0.insert(k.to_string(), v.to_string());
        }
        ConnectorConfig::from_settings(s).unwrap()
    }

    fn worker() -> WorkerConfig {
        WorkerConfig::from_settings(&Settings::from_pairs(&[("bootstrap.servers", "127.0.0.1:9092")])).unwrap()
    }

    #[test]
    fn lenses_defaults() {
        let c = SourceConfig::from_connector(&connector(&[]), &worker()).unwrap();
        assert_eq!(c.keyspace, "ks");
        assert_eq!(c.initial_offset, parse_time(LENSES_EPOCH).unwrap());
        assert_eq!((c.slice_ms, c.delay_ms, c.buffer_size, c.fetch_size), (10_000, 30_000, 10_000, 5_000));
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        assert!(c.collections_as_json);
        assert_eq!(c.value_output, Output::Json { schemas: true });
        assert_eq!(c.tables[0].pk.as_deref(), Some("created"));
    }

    #[test]
    fn exactly_once_when_required_or_requested_of_a_worker_that_enables_it() {
        assert_eq!(SourceConfig::from_connector(&connector(&[]), &worker()).unwrap().exactly_once, None);
        let required = connector(&[("exactly.once.support", "required"), ("offsets.storage.topic", "my-offsets")]);
        let eos = SourceConfig::from_connector(&required, &worker()).unwrap().exactly_once.unwrap();
        assert_eq!((eos.topic.as_str(), eos.replication_factor, eos.interval), ("my-offsets", 3, None));
        let enabled = WorkerConfig::from_settings(&Settings::from_pairs(&[
            ("exactly.once.source.support", "enabled"),
            ("offset.storage.replication.factor", "1"),
        ]))
        .unwrap();
        let interval = connector(&[("transaction.boundary", "interval"), ("transaction.boundary.interval.ms", "250")]);
        let eos = SourceConfig::from_connector(&interval, &enabled).unwrap().exactly_once.unwrap();
        assert_eq!((eos.topic.as_str(), eos.replication_factor), ("connect-offsets", 1));
        assert_eq!(eos.interval, Some(Duration::from_millis(250)));
    }

    #[test]
    fn tables_spread_over_tasks() {
        let kcql = "INSERT INTO a SELECT * FROM t1 PK ts INCREMENTALMODE=TIMESTAMP; INSERT INTO b SELECT * FROM t2 PK ts INCREMENTALMODE=TIMESTAMP; INSERT INTO c SELECT * FROM t3 INCREMENTALMODE=TOKEN";
        let c = SourceConfig::from_connector(&connector(&[("connect.cassandra.kcql", kcql)]), &worker()).unwrap();
        assert_eq!(c.task_count(2), 2);
        assert_eq!(c.task_count(8), 3);
        let names = |id| c.tables_of(id, 2).into_iter().map(|t| t.statement.table).collect::<Vec<_>>();
        assert_eq!(names(0), ["t1", "t3"]);
        assert_eq!(names(1), ["t2"]);
    }

    #[test]
    fn errors_name_the_key_and_the_reason() {
        for (extra, key, reason) in [
            (
                vec![("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM orders PK created")],
                "connect.cassandra.kcql",
                "no INCREMENTALMODE",
            ),
            (
                vec![("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM orders PK created INCREMENTALMODE=INT")],
                "connect.cassandra.kcql",
                "INCREMENTALMODE=INT is not a mode",
            ),
            (
                vec![("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM orders INCREMENTALMODE=TIMEUUID")],
                "connect.cassandra.kcql",
                "needs PK",
            ),
            (
                vec![(
                    "connect.cassandra.kcql",
                    "INSERT INTO t SELECT * FROM o PK ts INCREMENTALMODE=BUCKETTIMESERIES",
                )],
                "connect.cassandra.bucket.timeseries.mode",
                "DAY, HOUR",
            ),
            (
                vec![
                    ("connect.cassandra.kcql", "INSERT INTO t SELECT * FROM o PK ts INCREMENTALMODE=BUCKETTIMESERIES"),
                    ("connect.cassandra.bucket.timeseries.mode", "WEEK"),
                ],
                "connect.cassandra.bucket.timeseries.mode",
                "'WEEK'",
            ),
            (
                vec![("connect.cassandra.initial.offset", "last tuesday")],
                "connect.cassandra.initial.offset",
                "not a time",
            ),
            (vec![("connect.cassandra.slice.duration", "0")], "connect.cassandra.slice.duration", "positive"),
            (vec![("connect.cassandra.slice.delay.ms", "-1")], "connect.cassandra.slice.delay.ms", "negative"),
            (
                vec![("value.converter", "org.apache.kafka.connect.converters.ByteArrayConverter")],
                "value.converter",
                "cannot write a row",
            ),
            (
                vec![("value.converter", "io.confluent.connect.avro.AvroConverter")],
                "value.converter",
                "converter plugin",
            ),
            (vec![("connect.cassandra.consistency.level", "MOST")], "connect.cassandra.consistency.level", "MOST"),
            (vec![("exactly.once.support", "always")], "exactly.once.support", "'always'"),
            (
                vec![("exactly.once.support", "required"), ("transaction.boundary", "connector")],
                "transaction.boundary",
                "poll or interval",
            ),
        ] {
            let err = SourceConfig::from_connector(&connector(&extra), &worker()).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(reason), "{extra:?}: {err}");
        }
        let mut s = connector(&[]).settings;
        s.0.remove("connect.cassandra.key.space");
        let err = SourceConfig::from_connector(&ConnectorConfig::from_settings(s).unwrap(), &worker())
            .unwrap_err()
            .to_string();
        assert!(err.contains("connect.cassandra.key.space"), "{err}");
    }
}
