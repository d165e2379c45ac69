//! A source task: its tables read slice by slice (or, in TOKEN mode, range by range), every row
//! produced to Kafka, and a slice's offset stored only once Kafka acknowledged every row of it
//! and of every slice before it.
//!
//! A slice is the closed window `[from, to]` of the tracking column. The next one starts at `to`
//! again (inclusive): rows exactly at the boundary that the previous slice already produced are
//! recognised by primary key and skipped, so equal timestamps are never lost. The stored offset
//! carries those keys too (`spillway.boundary`, beside Connect's `{"<col>": "<time>"}`), so a
//! restarted task — here or on another worker — skips them as well: an exactly-once source
//! produces no boundary row twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, BoxStream, StreamExt};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue, Row};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::config::{Output, SourceConfig, TableSource};
use super::kcql::Mode;
use super::offsets::OffsetFile;
use super::row::{CqlType, RowShape, Udts};
use super::slice::{format_time, next_window, parse_time};
use crate::cassandra::{self, CassandraError, quote_identifier, table_columns};
use crate::config::{ConfigError, ConnectorConfig, WorkerConfig};
use crate::connectors::sink::task::{TaskError, connect_with_retry};
use crate::connectors::{TaskControl, TaskReport};

/// The source partition of a table, in Lenses' layout.
pub fn source_partition(table: &str) -> Value {
    json!({ "connect.cassandra.assigned.tables": table })
}

/// The most buckets one slice of a bucketed table spans (empty slices widen up to this).
const MAX_BUCKETS_PER_SLICE: i64 = 1_000;
/// The longest pause between retries of a failed read.
const MAX_READ_BACKOFF: Duration = Duration::from_secs(10);

/// Slices of one table on their way to Kafka: rows not yet acknowledged per slice, and the offset
/// of the newest slice whose rows, and all earlier slices' rows, Kafka acknowledged.
#[derive(Debug, Default)]
struct SliceBook {
    /// slice id → (its offset, rows unacknowledged + 1 until it is sealed).
    open: BTreeMap<u64, (Value, u64)>,
    /// The offset that may be stored.
    done: Option<Value>,
    /// A delivery Kafka gave up on.
    failure: Option<String>,
}

impl SliceBook {
    fn open(&mut self, slice: u64, offset: Value) {
        self.open.entry(slice).or_insert((offset, 1));
    }

    fn add(&mut self, slice: u64) {
        if let Some(s) = self.open.get_mut(&slice) {
            s.1 += 1;
        }
    }

    /// The slice was read whole: its offset is `offset` (now that its boundary is known), and
    /// the read itself no longer holds it open.
    fn seal(&mut self, slice: u64, offset: Value) {
        if let Some(s) = self.open.get_mut(&slice) {
            s.0 = offset;
        }
        self.settle(slice);
    }

    fn settle(&mut self, slice: u64) {
        if let Some(s) = self.open.get_mut(&slice) {
            s.1 = s.1.saturating_sub(1);
        }
        while let Some(entry) = self.open.first_entry() {
            if entry.get().1 != 0 {
                break;
            }
            self.done = Some(entry.remove().0);
        }
    }
}

type Book = Arc<Mutex<SliceBook>>;

fn lock_book(b: &Book) -> std::sync::MutexGuard<'_, SliceBook> {
    b.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which slice a produced row belongs to.
#[derive(Debug)]
struct Ack {
    book: Book,
    slice: u64,
}

/// The producer's context: settles each delivery in its slice's book.
#[derive(Debug, Default)]
struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Box<Ack>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Box<Ack>) {
        let mut b = lock_book(&ack.book);
        match result {
            Ok(_) => b.settle(ack.slice),
            Err((e, m)) => {
                b.failure.get_or_insert_with(|| format!("producing to {} failed: {e}", m.topic()));
            }
        }
    }
}

/// Everything a source task needs; `run` does the work.
#[derive(Debug)]
pub struct SourceTask {
    /// `<connector>-<task id>`, for logs.
    pub name: String,
    connector: ConnectorConfig,
    config: SourceConfig,
    tables: Vec<TableSource>,
    worker: Arc<WorkerConfig>,
    /// The offset file (none when exactly once: the offsets then live in the offsets topic).
    offsets: Option<Arc<OffsetFile>>,
}

/// One table, ready to read.
struct Table {
    source: TableSource,
    /// `ks.table`, for messages and the struct schema's name.
    target: String,
    partition: Value,
    /// Columns selected, in order (what the query returns).
    columns: Vec<(String, CqlType)>,
    /// Indexes into `columns`: what the value holds, the key, the primary key, the tracking column.
    output: Vec<usize>,
    key: Vec<usize>,
    primary: Vec<usize>,
    tracking: Option<usize>,
    statement: PreparedStatement,
    /// `{"schema":…,"payload":` for the enveloped struct value.
    envelope_prefix: String,
    /// How its rows become Connect data.
    shape: RowShape,
}

impl SourceTask {
    /// Validates and assembles task `id` of `count` (pure; connections open in `run`).
    pub fn new(
        worker: Arc<WorkerConfig>,
        connector: ConnectorConfig,
        id: u32,
        count: u32,
    ) -> Result<Self, ConfigError> {
        let config = SourceConfig::from_connector(&connector, &worker)?;
        let offsets = if config.exactly_once.is_some() {
            None
        } else {
            let path = worker.offset_storage_file.clone().ok_or_else(|| {
                ConfigError::missing(
                    "offset.storage.file.filename",
                    "a standalone worker keeps source offsets in this file (worker setting)",
                )
            })?;
            Some(OffsetFile::open(&path).map_err(|e| ConfigError::invalid("offset.storage.file.filename", e))?)
        };
        let tables = config.tables_of(id, count);
        Ok(Self { name: format!("{}-{id}", connector.name), connector, config, tables, worker, offsets })
    }

    /// Runs until `control.stop` (then waits for Kafka's acknowledgements and stores the offsets)
    /// or a fatal error; reads nothing while `control.paused`.
    pub async fn run(self, control: TaskControl) -> Result<(), TaskError> {
        let Some(session) = connect_with_retry(&self.config.connection, &self.name, &control.stop).await? else {
            return Ok(());
        };
        let mut tables = Vec::new();
        for source in &self.tables {
            tables.push(self.prepare(&session, source).await?);
        }
        // One producer for the task; exactly once, a transactional one per table, claimed before
        // the offsets are read (claiming aborts what a dead run left open).
        let mut producers = Vec::new();
        if self.config.exactly_once.is_some() {
            for table in &tables {
                producers.push(self.transactional_producer(table).await?);
            }
        } else {
            producers.push(Arc::new(self.producer(None)?));
        }
        let stored = self.stored_offsets(&tables).await?;
        info!(task = %self.name, tables = ?tables.iter().map(|t| t.target.as_str()).collect::<Vec<_>>(), exactly_once = self.config.exactly_once.is_some(), "source task started");
        let readers = tables.iter().zip(stored).enumerate().map(|(i, (table, stored))| {
            let producer = &producers[i.min(producers.len() - 1)];
            self.read_table(&session, producer, table, stored, &control)
        });
        let result = futures::future::try_join_all(readers).await.map(|_| ());
        // Whatever was produced gets its acknowledgement (or its failure) before the last store.
        for producer in producers {
            let flushed = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30))).await;
            if let Ok(Err(e)) = &flushed {
                warn!(task = %self.name, error = %e, "not every record was acknowledged before stopping; its slice will be read again");
            }
        }
        result
    }

    /// Each table's stored offset: from the offsets topic (exactly once, committed transactions
    /// only) or the offset file.
    async fn stored_offsets(&self, tables: &[Table]) -> Result<Vec<Option<Value>>, TaskError> {
        let name = &self.connector.name;
        let Some(eos) = &self.config.exactly_once else {
            let file = self.offsets.as_ref().expect("an offset file unless exactly once");
            return Ok(tables.iter().map(|t| file.get(name, &t.partition)).collect());
        };
        super::offset_topic::ensure(&self.worker, &eos.topic, eos.replication_factor)
            .await
            .map_err(TaskError::Offsets)?;
        let (worker, topic, owned) = (self.worker.clone(), eos.topic.clone(), name.clone());
        let stored = tokio::task::spawn_blocking(move || super::offset_topic::read(&worker, &topic, &owned))
            .await
            .map_err(|e| TaskError::Offsets(format!("reading the offsets topic: {e}")))?
            .map_err(TaskError::Offsets)?;
        Ok(tables.iter().map(|t| stored.get(&super::offsets::key(name, &t.partition)).cloned()).collect())
    }

    /// A table's transactional producer, its `transactional.id` claimed (which fences and aborts
    /// the transaction of a previous run of it that died).
    async fn transactional_producer(&self, table: &Table) -> Result<Arc<ThreadedProducer<AckContext>>, TaskError> {
        let id = format!("spillway-{}-{}", self.connector.name, table.source.statement.table);
        let producer = Arc::new(self.producer(Some(&id))?);
        let init = producer.clone();
        tokio::task::spawn_blocking(move || init.init_transactions(Duration::from_secs(60)))
            .await
            .map_err(|e| TaskError::Offsets(format!("starting transactions: {e}")))??;
        Ok(producer)
    }

    fn producer(&self, transactional_id: Option<&str>) -> Result<ThreadedProducer<AckContext>, TaskError> {
        let overrides = crate::config::security::kafka_client_settings(
            &[("producer.override.", &self.connector.settings.with_prefix("producer.override."))],
            false,
            &mut Vec::new(),
        )?;
        let mut config = crate::kafka::client_config(&self.worker);
        config
            .set("client.id", &self.name)
            .set("linger.ms", "5")
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", self.config.buffer_size.to_string());
        for (k, v) in self.worker.producer.0.iter().chain(overrides.0.iter()) {
            config.set(k, v);
        }
        // No row may be lost or doubled by the producer itself.
        config.set("acks", "all").set("enable.idempotence", "true");
        if let Some(id) = transactional_id {
            config.set("transactional.id", id);
        }
        Ok(config.set_log_level(RDKafkaLogLevel::Warning).create_with_context(AckContext)?)
    }

    /// Reads the table's schema, checks the statement against it, prepares the query.
    async fn prepare(&self, session: &Session, source: &TableSource) -> Result<Table, TaskError> {
        let (ks, st) = (&self.config.keyspace, &source.statement);
        let target = format!("{ks}.{}", st.table);
        let schema = table_columns(session, ks, &st.table).await?;
        let find = |name: &str, what: &str| -> Result<usize, CassandraError> {
            schema.iter().position(|c| c.name == name).ok_or_else(|| {
                CassandraError::Schema(format!(
                    "{what} '{name}' is not a column of {target} (columns: {})",
                    names(&schema)
                ))
            })
        };
        let mut wanted: Vec<usize> = if st.columns.is_empty() {
            (0..schema.len()).collect()
        } else {
            st.columns.iter().map(|c| find(c, "selected column")).collect::<Result<_, _>>()?
        };
        for c in &st.ignore {
            find(c, "IGNORE column")?;
        }
        let output_names: Vec<String> =
            wanted.iter().map(|i| schema[*i].name.clone()).filter(|n| !st.ignore.contains(n)).collect();
        let add = |i: usize, wanted: &mut Vec<usize>| {
            if !wanted.contains(&i) {
                wanted.push(i);
            }
        };
        let primary_schema: Vec<usize> = (0..schema.len()).filter(|i| schema[*i].is_primary_key()).collect();
        for i in &primary_schema {
            add(*i, &mut wanted);
        }
        let mut key_schema = Vec::new();
        for c in &st.key_columns {
            let i = find(c, "WITHKEY column")?;
            add(i, &mut wanted);
            key_schema.push(i);
        }
        let tracking_schema = source.pk.as_deref().map(|pk| find(pk, "PK column")).transpose()?;
        let mut timeuuid = false;
        if let Some(i) = tracking_schema {
            let c = &schema[i];
            timeuuid = c.cql_type == "timeuuid";
            let expected = match source.mode {
                Mode::Timestamp => c.cql_type == "timestamp",
                Mode::TimeUuid => timeuuid,
                _ => c.cql_type == "timestamp" || timeuuid,
            };
            if !expected {
                return Err(CassandraError::Schema(format!(
                    "PK column '{}' of {target} is a {}; INCREMENTALMODE={} needs a {}",
                    c.name,
                    c.cql_type,
                    source.mode.as_str(),
                    if source.mode == Mode::TimeUuid { "timeuuid" } else { "timestamp (or timeuuid)" }
                ))
                .into());
            }
        }
        let columns: Vec<(String, CqlType)> = wanted
            .iter()
            .map(|i| {
                let c = &schema[*i];
                CqlType::parse(&c.cql_type).map(|t| (c.name.clone(), t)).map_err(CassandraError::Schema)
            })
            .collect::<Result<_, _>>()?;
        let at = |i: usize| wanted.iter().position(|w| *w == i).expect("selected");
        let partition_keys: Vec<&str> =
            schema.iter().filter(|c| c.is_partition_key()).map(|c| c.name.as_str()).collect();
        let select = columns.iter().map(|(n, _)| quote_identifier(n)).collect::<Vec<_>>().join(", ");
        let table = format!("{}.{}", quote_identifier(ks), quote_identifier(&st.table));
        let bound = |op: &str| if timeuuid { format!("{op}Timeuuid(?)") } else { "?".to_string() };
        let cql = match source.mode {
            Mode::Timestamp | Mode::TimeUuid => {
                let pk = quote_identifier(source.pk.as_deref().expect("checked"));
                warn!(
                    task = %self.name, table = %target,
                    "INCREMENTALMODE={} reads every slice with ALLOW FILTERING: each query scans the whole table; a table partitioned by time bucket (BUCKETTIMESERIES) is read without it",
                    source.mode.as_str()
                );
                format!(
                    "SELECT {select} FROM {table} WHERE {pk} >= {} AND {pk} <= {} ALLOW FILTERING",
                    bound("min"),
                    bound("max")
                )
            }
            Mode::BucketTimeSeries => {
                let (_, field) = self.config.buckets.as_ref().expect("checked with the config");
                let pk = source.pk.as_deref().expect("checked");
                if partition_keys != [field.as_str()] {
                    return Err(CassandraError::Schema(format!(
                        "BUCKETTIMESERIES reads {target} one bucket at a time: its partition key must be the bucket column '{field}' (connect.cassandra.bucket.timeseries.field.name) alone, not ({})",
                        partition_keys.join(", ")
                    ))
                    .into());
                }
                let first_clustering = schema.iter().find(|c| c.kind == "clustering").map(|c| c.name.as_str());
                if first_clustering != Some(pk) {
                    return Err(CassandraError::Schema(format!(
                        "BUCKETTIMESERIES slices {target} by PK '{pk}', which must be its first clustering column"
                    ))
                    .into());
                }
                let (field, pk) = (quote_identifier(field), quote_identifier(pk));
                format!(
                    "SELECT {select} FROM {table} WHERE {field} = ? AND {pk} >= {} AND {pk} <= {}",
                    bound("min"),
                    bound("max")
                )
            }
            Mode::Token => {
                let keys = partition_keys.iter().map(|k| quote_identifier(k)).collect::<Vec<_>>().join(", ");
                format!("SELECT {select} FROM {table} WHERE token({keys}) >= ? AND token({keys}) <= ?")
            }
        };
        let mut statement = session
            .prepare(cql.as_str())
            .await
            .map_err(|e| CassandraError::Prepare { statement: cql.clone(), source: Box::new(e) })?;
        statement.set_page_size(self.config.fetch_size);
        if let Some(c) = self.config.consistency {
            statement.set_consistency(c);
        }
        let output: Vec<usize> =
            output_names.iter().map(|n| columns.iter().position(|(c, _)| c == n).expect("selected")).collect();
        let shape = self.shape(session).await?;
        let struct_columns: Vec<(String, CqlType)> = output.iter().map(|i| columns[*i].clone()).collect();
        let schema_json = shape.struct_schema(&target, &struct_columns);
        Ok(Table {
            partition: source_partition(&st.table),
            envelope_prefix: format!("{{\"schema\":{schema_json},\"payload\":"),
            primary: primary_schema.iter().map(|i| at(*i)).collect(),
            key: key_schema.iter().map(|i| at(*i)).collect(),
            tracking: tracking_schema.map(at),
            output,
            columns,
            statement,
            source: source.clone(),
            target,
            shape,
        })
    }

    /// How rows become Connect data, with the keyspace's user-defined types.
    async fn shape(&self, session: &Session) -> Result<RowShape, CassandraError> {
        let rows = session
            .query_unpaged(
                "SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = ?",
                (&self.config.keyspace,),
            )
            .await?
            .into_rows_result()
            .map_err(|e| CassandraError::Schema(format!("reading the user-defined types: {e}")))?;
        let mut udts = Udts::new();
        for row in rows
            .rows::<(String, Vec<String>, Vec<String>)>()
            .map_err(|e| CassandraError::Schema(format!("reading the user-defined types: {e}")))?
        {
            let (name, fields, types) =
                row.map_err(|e| CassandraError::Schema(format!("reading the user-defined types: {e}")))?;
            let types: Vec<CqlType> =
                types.iter().map(|t| CqlType::parse(t)).collect::<Result<_, _>>().map_err(CassandraError::Schema)?;
            udts.insert(name, fields.into_iter().zip(types).collect());
        }
        Ok(RowShape { collections_as_json: self.config.collections_as_json, udts })
    }

    /// Reads one table until stopped (TOKEN: until its snapshot is complete, then waits).
    async fn read_table(
        &self,
        session: &Arc<Session>,
        producer: &Arc<ThreadedProducer<AckContext>>,
        table: &Table,
        stored: Option<Value>,
        control: &TaskControl,
    ) -> Result<(), TaskError> {
        let shape = &table.shape;
        let book: Book = Arc::default();
        let txn = self.config.exactly_once.as_ref().map(|e| Transaction {
            producer: producer.clone(),
            topic: e.topic.clone(),
            interval: e.interval,
            open_since: None,
        });
        let mut store = Committer { task: self, table, saved: None, last: Instant::now(), txn };
        let result = if table.source.mode == Mode::Token {
            self.snapshot(session, producer, table, shape, &book, &mut store, stored, control).await
        } else {
            self.slices(session, producer, table, shape, &book, &mut store, stored, control).await
        };
        if store.txn.is_some() {
            // Exactly once: what is not committed is aborted, and read again next time.
            store.abort().await;
            return result;
        }
        // Stopping: wait (bounded) for the acknowledgements of what was produced, then store.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lock_book(&book).open.values().all(|(_, n)| *n <= 1) && Instant::now() < deadline && result.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        store.save(&book, true)?;
        result
    }

    /// The time modes: slice after slice, forever.
    #[allow(clippy::too_many_arguments)]
    async fn slices(
        &self,
        session: &Arc<Session>,
        producer: &ThreadedProducer<AckContext>,
        table: &Table,
        shape: &RowShape,
        book: &Book,
        store: &mut Committer<'_>,
        stored: Option<Value>,
        control: &TaskControl,
    ) -> Result<(), TaskError> {
        let pk = table.source.pk.as_deref().expect("time modes have a PK");
        let mut from = match stored.as_ref().and_then(|o| o.get(pk)) {
            Some(Value::String(text)) => parse_time(text).map_err(|e| {
                TaskError::Config(ConfigError::invalid(
                    "offset.storage.file.filename",
                    format!("the stored offset of {}: {e}", table.target),
                ))
            })?,
            _ => self.config.initial_offset,
        };
        info!(task = %self.name, table = %table.target, from = %format_time(from), "reading slices");
        let max_width = match (&self.config.buckets, table.source.mode) {
            (Some((b, _)), Mode::BucketTimeSeries) => b.unit.millis() * MAX_BUCKETS_PER_SLICE,
            _ => i64::MAX / 4,
        };
        let mut width = self.config.slice_ms.min(max_width);
        let mut boundary: HashSet<String> = stored_boundary(stored.as_ref());
        let mut slice_id = 0u64;
        loop {
            if let Some(f) = lock_book(book).failure.take() {
                return Err(TaskError::Delivery(f));
            }
            store.save(book, false)?;
            if !wait_while_paused(control).await {
                return Ok(());
            }
            let now = chrono::Utc::now().timestamp_millis();
            let Some((lo, hi)) = next_window(from, width, now, self.config.delay_ms) else {
                if !pause_for(control, self.config.poll_interval).await {
                    return Ok(());
                }
                continue;
            };
            lock_book(book).open(slice_id, time_offset(pk, hi));
            store.begin()?;
            let mut backoff = Duration::from_millis(200);
            let (produced, next_boundary) = loop {
                match self
                    .read_window(session, producer, table, shape, book, slice_id, lo, hi, &boundary, control)
                    .await
                {
                    Ok(Some(done)) => break done,
                    Ok(None) => return Ok(()), // stopped mid-slice: it is read again next time
                    Err(TaskError::Cassandra(e)) if e.is_retryable() => {
                        warn!(task = %self.name, table = %table.target, error = %e, retry_in_ms = backoff.as_millis() as u64, "reading a slice failed; reading it again");
                        if !pause_for(control, backoff).await {
                            return Ok(());
                        }
                        backoff = (backoff * 2).min(MAX_READ_BACKOFF);
                    }
                    Err(e) => return Err(e),
                }
            };
            // Sealed: every row of the slice was handed to Kafka.
            let offset = boundary_offset(pk, hi, &next_boundary);
            lock_book(book).seal(slice_id, offset.clone());
            slice_id += 1;
            TaskReport::add(&control.report.records_read, produced);
            boundary = next_boundary;
            from = hi;
            width = next_width(width, produced, self.config.slice_ms, max_width, self.rows_per_slice());
            let caught_up = hi >= chrono::Utc::now().timestamp_millis() - self.config.delay_ms;
            store.sealed(&offset, caught_up).await?;
            if caught_up && !pause_for(control, self.config.poll_interval).await {
                return Ok(());
            }
        }
    }

    /// About how many rows a slice should hold: a page for each query in flight.
    fn rows_per_slice(&self) -> u64 {
        self.config.fetch_size as u64 * self.config.parallelism as u64
    }

    /// Reads `[lo, hi]` and produces its rows (but those of `skip` at `lo`); returns the count
    /// and the primary keys of the rows at `hi`. `None` when stopped first.
    #[allow(clippy::too_many_arguments)]
    async fn read_window(
        &self,
        session: &Arc<Session>,
        producer: &ThreadedProducer<AckContext>,
        table: &Table,
        shape: &RowShape,
        book: &Book,
        slice: u64,
        lo: i64,
        hi: i64,
        skip: &HashSet<String>,
        control: &TaskControl,
    ) -> Result<Option<(u64, HashSet<String>)>, TaskError> {
        let (from, to) = (CqlTimestamp(lo), CqlTimestamp(hi));
        let mut rows: BoxStream<'_, Result<Row, CassandraError>> = match &self.config.buckets {
            Some((buckets, _)) if table.source.mode == Mode::BucketTimeSeries => {
                let names = buckets.covering(lo, hi);
                let statement = &table.statement;
                stream::iter(names)
                    .map(move |b| rows_of(session, statement, (b, from, to)))
                    .flatten_unordered(self.config.parallelism)
                    .boxed()
            }
            _ => rows_of(session, &table.statement, (from, to)),
        };
        let mut produced = 0u64;
        let mut at_hi = HashSet::new();
        loop {
            let row = tokio::select! {
                biased;
                () = control.stop.cancelled() => return Ok(None),
                row = rows.next() => row,
            };
            let Some(row) = row else { break };
            let row = row?;
            let ts = table.tracking.and_then(|i| row.columns[i].as_ref()).and_then(time_of).unwrap_or(lo);
            if ts == lo || ts == hi {
                let key = primary_key(table, &row);
                if ts == lo && skip.contains(&key) {
                    continue;
                }
                if ts == hi {
                    at_hi.insert(key);
                }
            }
            self.produce(producer, table, shape, &row, book, slice, &control.stop).await?;
            produced += 1;
        }
        Ok(Some((produced, at_hi)))
    }

    /// TOKEN mode: the ring split into ranges read in parallel, each range a slice; the offset
    /// is the end of the completed ranges, so a restart goes on from there.
    #[allow(clippy::too_many_arguments)]
    async fn snapshot(
        &self,
        session: &Arc<Session>,
        producer: &ThreadedProducer<AckContext>,
        table: &Table,
        shape: &RowShape,
        book: &Book,
        store: &mut Committer<'_>,
        stored: Option<Value>,
        control: &TaskControl,
    ) -> Result<(), TaskError> {
        if stored.as_ref().and_then(|o| o.get("snapshot")).is_some_and(|v| v == "complete") {
            info!(task = %self.name, table = %table.target, "snapshot already complete (delete the connector's offsets to take another)");
            control.stop.cancelled().await;
            return Ok(());
        }
        let done_through: Option<i64> =
            stored.as_ref().and_then(|o| o.get("token")).and_then(Value::as_str).and_then(|t| t.parse().ok());
        let ranges = token_ranges(self.config.token_ranges, done_through);
        info!(task = %self.name, table = %table.target, ranges = ranges.len(), "taking a snapshot");
        let last = ranges.len().saturating_sub(1);
        let mut range_offsets = Vec::new();
        for (i, (_, hi)) in ranges.iter().enumerate() {
            let mut offset = json!({ "token": hi.to_string() });
            if i == last {
                offset["snapshot"] = json!("complete");
            }
            lock_book(book).open(i as u64, offset.clone());
            range_offsets.push(offset);
        }
        // Exactly once, ranges are read one after the other: each is one transaction.
        let parallelism = if self.config.exactly_once.is_some() { 1 } else { self.config.parallelism };
        let statement = &table.statement;
        let mut events = stream::iter(ranges.into_iter().enumerate())
            .map(|(i, (lo, hi))| {
                rows_of(session, statement, (lo, hi))
                    .map(move |r| r.map(|row| (i, Some(row))))
                    .chain(stream::once(async move { Ok((i, None)) }))
                    .boxed()
            })
            .flatten_unordered(parallelism);
        loop {
            if let Some(f) = lock_book(book).failure.take() {
                return Err(TaskError::Delivery(f));
            }
            store.save(book, false)?;
            store.begin()?;
            if !wait_while_paused(control).await {
                return Ok(());
            }
            let event = tokio::select! {
                biased;
                () = control.stop.cancelled() => return Ok(()),
                e = events.next() => e,
            };
            match event {
                None => break,
                Some(Err(e)) => return Err(e.into()),
                Some(Ok((i, None))) => {
                    lock_book(book).settle(i as u64);
                    store.sealed(&range_offsets[i], false).await?;
                }
                Some(Ok((i, Some(row)))) => {
                    self.produce(producer, table, shape, &row, book, i as u64, &control.stop).await?;
                    TaskReport::add(&control.report.records_read, 1);
                }
            }
        }
        info!(task = %self.name, table = %table.target, "snapshot read; waiting for Kafka's acknowledgements");
        while !lock_book(book).open.is_empty() {
            if let Some(f) = lock_book(book).failure.take() {
                return Err(TaskError::Delivery(f));
            }
            if !pause_for(control, Duration::from_millis(50)).await {
                return Ok(());
            }
        }
        store.save(book, true)?;
        info!(task = %self.name, table = %table.target, "snapshot complete");
        control.stop.cancelled().await;
        Ok(())
    }

    /// Produces one row into its slice; waits while the producer's queue is full.
    #[allow(clippy::too_many_arguments)]
    async fn produce(
        &self,
        producer: &ThreadedProducer<AckContext>,
        table: &Table,
        shape: &RowShape,
        row: &Row,
        book: &Book,
        slice: u64,
        stop: &CancellationToken,
    ) -> Result<(), TaskError> {
        let (key, value) = self.record(table, shape, row);
        lock_book(book).add(slice);
        let mut ack = Box::new(Ack { book: book.clone(), slice });
        loop {
            let mut record = BaseRecord::with_opaque_to(&table.source.statement.topic, ack).payload(value.as_bytes());
            if let Some(k) = &key {
                record = record.key(k.as_bytes());
            }
            match producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    ack = r.delivery_opaque;
                    if stop.is_cancelled() {
                        return Ok(()); // its slice stays unsealed: read again next time
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// A row's record key and value, as the converters write them.
    fn record(&self, table: &Table, shape: &RowShape, row: &Row) -> (Option<String>, String) {
        let st = &table.source.statement;
        let text = |i: usize| match shape.value(&table.columns[i].1, row.columns[i].as_ref(), false) {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let key = (!table.key.is_empty()).then(|| {
            let joined = table.key.iter().map(|i| text(*i)).collect::<Vec<_>>().join(&st.key_delimiter);
            string_output(self.config.key_output, &joined)
        });
        let object = |enveloped: bool| {
            let mut m = serde_json::Map::with_capacity(table.output.len());
            for i in &table.output {
                let (name, t) = &table.columns[*i];
                m.insert(name.clone(), shape.value(t, row.columns[*i].as_ref(), enveloped));
            }
            Value::Object(m)
        };
        let value = if st.json {
            string_output(self.config.value_output, &object(false).to_string())
        } else if st.unwrap {
            let joined = table.output.iter().map(|i| text(*i)).collect::<Vec<_>>().join(",");
            string_output(self.config.value_output, &joined)
        } else {
            match self.config.value_output {
                Output::Json { schemas: true } => format!("{}{}}}", table.envelope_prefix, object(true)),
                Output::Json { schemas: false } => object(false).to_string(),
                Output::String | Output::Bytes => struct_text(&table.columns, &table.output, row, shape),
            }
        };
        (key, value)
    }
}

/// A string value as a converter writes it.
fn string_output(output: Output, text: &str) -> String {
    match output {
        Output::Json { schemas: true } => {
            json!({"schema": {"type": "string", "optional": false}, "payload": text}).to_string()
        }
        Output::Json { schemas: false } => Value::String(text.to_string()).to_string(),
        Output::String | Output::Bytes => text.to_string(),
    }
}

/// Connect's `Struct.toString()`: `Struct{a=1,b=x}` (null fields left out).
fn struct_text(columns: &[(String, CqlType)], output: &[usize], row: &Row, shape: &RowShape) -> String {
    let fields: Vec<String> = output
        .iter()
        .filter_map(|i| {
            let v = shape.value(&columns[*i].1, row.columns[*i].as_ref(), false);
            let text = match v {
                Value::Null => return None,
                Value::String(s) => s,
                other => other.to_string(),
            };
            Some(format!("{}={text}", columns[*i].0))
        })
        .collect();
    format!("Struct{{{}}}", fields.join(","))
}

/// The rows of one query, page by page.
fn rows_of<'a, V: scylla::serialize::row::SerializeRow + Send + 'a>(
    session: &'a Session,
    statement: &'a PreparedStatement,
    values: V,
) -> BoxStream<'a, Result<Row, CassandraError>> {
    stream::once(async move {
        let pager = session.execute_iter(statement.clone(), values).await.map_err(CassandraError::from)?;
        pager.rows_stream::<Row>().map_err(|e| CassandraError::Read(e.to_string()))
    })
    .map(|r| match r {
        Ok(rows) => rows.map(|r| r.map_err(CassandraError::from)).left_stream(),
        Err(e) => stream::once(async move { Err(e) }).right_stream(),
    })
    .flatten()
    .boxed()
}

/// The next slice's width: twice as wide after a slice with fewer rows than `target` (an empty
/// stretch, or sparse rows, is crossed quickly), back towards `slice.duration` after one with more
/// than four times as many; never narrower than `slice.duration` nor wider than `max`.
fn next_width(width: i64, rows: u64, slice: i64, max: i64, target: u64) -> i64 {
    let next = if rows < target {
        width.saturating_mul(2)
    } else if rows > target.saturating_mul(4) {
        width / 2
    } else {
        width
    };
    next.clamp(slice.min(max), max)
}

/// The time of a tracking column value, ms since the epoch.
fn time_of(v: &CqlValue) -> Option<i64> {
    match v {
        CqlValue::Timestamp(t) => Some(t.0),
        CqlValue::Timeuuid(u) => {
            let b = u.as_bytes();
            let low = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            let mid = u64::from(u16::from_be_bytes([b[4], b[5]]));
            let high = u64::from(u16::from_be_bytes([b[6], b[7]]) & 0x0fff);
            let ticks = (high << 48) | (mid << 32) | low; // 100 ns since 1582-10-15
            Some(((ticks as i64) - 0x01B2_1DD2_1381_4000) / 10_000)
        }
        _ => None,
    }
}

fn primary_key(table: &Table, row: &Row) -> String {
    let parts: Vec<String> =
        table.primary.iter().map(|i| row.columns[*i].as_ref().map(|v| v.to_string()).unwrap_or_default()).collect();
    parts.join("\u{1f}")
}

/// The Murmur3 ring in `n` ranges `[lo, hi]`, leaving out what ends at or before `done_through`.
fn token_ranges(n: u32, done_through: Option<i64>) -> Vec<(i64, i64)> {
    let n = i128::from(n.max(1));
    let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
    let step = (max - min + 1) / n;
    (0..n)
        .map(|i| {
            let lo = min + i * step;
            let hi = if i == n - 1 { max } else { lo + step - 1 };
            (lo as i64, hi as i64)
        })
        .filter(|(_, hi)| done_through.is_none_or(|d| *hi > d))
        .map(|(lo, hi)| (done_through.map_or(lo, |d| lo.max(d.saturating_add(1))), hi))
        .collect()
}

fn names(columns: &[cassandra::Column]) -> String {
    columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// Waits while paused; false when stopped.
async fn wait_while_paused(control: &TaskControl) -> bool {
    let mut paused = control.paused.clone();
    while *paused.borrow_and_update() {
        tokio::select! {
            () = control.stop.cancelled() => return false,
            changed = paused.changed() => if changed.is_err() { return false },
        }
    }
    !control.stop.is_cancelled()
}

/// Sleeps; false when stopped first.
async fn pause_for(control: &TaskControl, d: Duration) -> bool {
    tokio::select! {
        () = control.stop.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

/// Where a table's offsets go: the offset file, every `offset.flush.interval.ms` (and when
/// stopping), once Kafka acknowledged every row below them; or, exactly once, the offsets topic, in
/// the transaction that carries the rows.
struct Committer<'a> {
    task: &'a SourceTask,
    table: &'a Table,
    saved: Option<Value>,
    last: Instant,
    txn: Option<Transaction>,
}

/// A table's transactions (exactly once).
struct Transaction {
    producer: Arc<ThreadedProducer<AckContext>>,
    topic: String,
    /// `transaction.boundary=interval`.
    interval: Option<Duration>,
    open_since: Option<Instant>,
}

impl Committer<'_> {
    /// Stores the acknowledged offset in the file when the flush interval passed (`now`: at once).
    fn save(&mut self, book: &Book, now: bool) -> Result<(), TaskError> {
        let Some(file) = self.task.offsets.as_ref().filter(|_| self.txn.is_none()) else { return Ok(()) };
        if !now && self.last.elapsed() < self.task.worker.offset_flush_interval {
            return Ok(());
        }
        self.last = Instant::now();
        let done = book_done(book);
        if done.is_none() || done == self.saved {
            return Ok(());
        }
        file.put(&self.task.connector.name, &[(self.table.partition.clone(), done.clone())])
            .map_err(TaskError::Offsets)?;
        self.saved = done;
        Ok(())
    }

    /// Exactly once: opens a transaction unless one is open.
    fn begin(&mut self) -> Result<(), TaskError> {
        if let Some(t) = self.txn.as_mut().filter(|t| t.open_since.is_none()) {
            t.producer.begin_transaction()?;
            t.open_since = Some(Instant::now());
        }
        Ok(())
    }

    /// A slice was sealed with `offset`: exactly once, the offset joins the transaction, which
    /// commits when the boundary says so (every slice, or past the interval, or caught up).
    async fn sealed(&mut self, offset: &Value, caught_up: bool) -> Result<(), TaskError> {
        let Some(t) = self.txn.as_mut() else { return Ok(()) };
        let Some(since) = t.open_since else { return Ok(()) };
        if !caught_up && t.interval.is_some_and(|i| since.elapsed() < i) {
            return Ok(());
        }
        let key = super::offsets::key(&self.task.connector.name, &self.table.partition);
        let value = serde_json::to_vec(offset).expect("JSON values serialize");
        let mut ack = Box::new(Ack { book: Arc::default(), slice: 0 });
        loop {
            let record = BaseRecord::with_opaque_to(&t.topic, ack).key(&key).payload(&value);
            match t.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    ack = r.delivery_opaque;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        let producer = t.producer.clone();
        tokio::task::spawn_blocking(move || producer.commit_transaction(Duration::from_secs(60)))
            .await
            .map_err(|e| TaskError::Offsets(format!("committing a transaction: {e}")))??;
        t.open_since = None;
        self.saved = Some(offset.clone());
        Ok(())
    }

    /// Exactly once: aborts the open transaction (its rows are read again next time).
    async fn abort(&mut self) {
        if let Some(t) = self.txn.as_mut().filter(|t| t.open_since.is_some()) {
            t.open_since = None;
            let producer = t.producer.clone();
            let aborted =
                tokio::task::spawn_blocking(move || producer.abort_transaction(Duration::from_secs(30))).await;
            if let Ok(Err(e)) = aborted {
                warn!(task = %self.task.name, table = %self.table.target, error = %e, "aborting the open transaction failed; a later run fences it");
            }
        }
    }
}

/// A time mode's offset: `{"<pk>": "yyyy-MM-dd HH:mm:ss.SSSZ"}`, as Lenses stores it.
fn time_offset(pk: &str, ms: i64) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(pk.to_string(), Value::String(format_time(ms)));
    Value::Object(m)
}

/// Beside the tracking column's time, the offset names the rows exactly at it that were produced.
const BOUNDARY_KEY: &str = "spillway.boundary";

/// A time offset that also names the primary keys of the rows produced at that time.
fn boundary_offset(pk: &str, ms: i64, boundary: &HashSet<String>) -> Value {
    let mut offset = time_offset(pk, ms);
    if !boundary.is_empty() {
        let mut keys: Vec<&String> = boundary.iter().collect();
        keys.sort();
        offset[BOUNDARY_KEY] = serde_json::json!(keys);
    }
    offset
}

/// The boundary rows a stored offset names (none in an offset Lenses wrote).
fn stored_boundary(stored: Option<&Value>) -> HashSet<String> {
    stored
        .and_then(|o| o.get(BOUNDARY_KEY))
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn book_done(b: &Book) -> Option<Value> {
    lock_book(b).done.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_is_done_when_it_and_every_earlier_one_is_acknowledged() {
        let mut b = SliceBook::default();
        b.open(0, json!("a"));
        b.open(1, json!("b"));
        b.add(0);
        b.add(1);
        b.settle(1); // slice 1's row acknowledged first
        b.settle(1); // slice 1 sealed
        assert_eq!(b.done, None, "slice 0 is still open");
        b.settle(0); // sealed
        assert_eq!(b.done, None, "slice 0's row is unacknowledged");
        b.settle(0);
        assert_eq!(b.done, Some(json!("b")));
        assert!(b.open.is_empty());
    }

    #[test]
    fn the_stored_offset_names_the_boundary_rows_a_restart_skips() {
        let keys: HashSet<String> = ["b\u{1f}2".to_string(), "a\u{1f}1".to_string()].into();
        let offset = boundary_offset("ts", 0, &keys);
        assert_eq!(offset["ts"], "1970-01-01 00:00:00.000Z");
        assert_eq!(offset[BOUNDARY_KEY], json!(["a\u{1f}1", "b\u{1f}2"]));
        assert_eq!(stored_boundary(Some(&offset)), keys);
        assert_eq!(boundary_offset("ts", 0, &HashSet::new()), json!({"ts": "1970-01-01 00:00:00.000Z"}));
        assert!(stored_boundary(Some(&json!({"ts": "2024-01-01 00:00:00.000Z"}))).is_empty(), "Lenses' offsets");
        let mut book = SliceBook::default();
        book.open(0, json!("before the read"));
        book.seal(0, json!("with its boundary"));
        assert_eq!(book.done, Some(json!("with its boundary")));
    }

    #[test]
    fn slices_widen_over_sparse_rows_and_narrow_over_dense_ones() {
        assert_eq!(next_width(10, 0, 10, 1_000, 100), 20);
        assert_eq!(next_width(640, 99, 10, 1_000, 100), 1_000, "capped");
        assert_eq!(next_width(40, 250, 10, 1_000, 100), 40, "about right");
        assert_eq!(next_width(40, 401, 10, 1_000, 100), 20);
        assert_eq!(next_width(10, 10_000, 10, 1_000, 100), 10, "never below slice.duration");
    }

    #[test]
    fn timeuuids_give_their_millisecond() {
        // 2024-05-01T10:00:00.123Z as a version 1 UUID.
        let ms = 1_714_557_600_123_i64;
        let ticks = (ms as u64) * 10_000 + 0x01B2_1DD2_1381_4000;
        let mut bytes = [0u8; 16];
        bytes[0..4].copy_from_slice(&((ticks & 0xffff_ffff) as u32).to_be_bytes());
        bytes[4..6].copy_from_slice(&(((ticks >> 32) & 0xffff) as u16).to_be_bytes());
        bytes[6..8].copy_from_slice(&((((ticks >> 48) & 0x0fff) as u16) | 0x1000).to_be_bytes());
        let u = scylla::value::CqlTimeuuid::from(uuid::Uuid::from_bytes(bytes));
        assert_eq!(time_of(&CqlValue::Timeuuid(u)), Some(ms));
    }

    #[test]
    fn token_ranges_cover_the_ring_and_resume() {
        let r = token_ranges(4, None);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].0, i64::MIN);
        assert_eq!(r[3].1, i64::MAX);
        for w in r.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
        let resumed = token_ranges(4, Some(r[1].1));
        assert_eq!(resumed, r[2..].to_vec());
        let mid = token_ranges(4, Some(r[1].0 + 10));
        assert_eq!(mid[0], (r[1].0 + 11, r[1].1));
    }

    #[test]
    fn records_as_each_converter_writes_them() {
        assert_eq!(string_output(Output::String, "a,b"), "a,b");
        assert_eq!(string_output(Output::Json { schemas: false }, "a\"b"), "\"a\\\"b\"");
        let enveloped: Value = serde_json::from_str(&string_output(Output::Json { schemas: true }, "x")).unwrap();
        assert_eq!(enveloped, json!({"schema": {"type": "string", "optional": false}, "payload": "x"}));
        let columns =
            vec![("id".to_string(), CqlType::Native("int".into())), ("s".into(), CqlType::Native("text".into()))];
        let row = Row { columns: vec![Some(CqlValue::Int(1)), None] };
        assert_eq!(struct_text(&columns, &[0, 1], &row, &RowShape::default()), "Struct{id=1}");
    }
}
