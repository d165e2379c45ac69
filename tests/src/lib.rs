//! Test harness for end-to-end tests against the real Kafka and Cassandra started by `make up`.
//!
//! Each test gets its own topic and keyspace ([`unique_name`]), produces with a real producer, and
//! waits for results by polling with a deadline ([`poll_until`]), never by sleeping a fixed time.

pub mod bench;
pub mod bench_source;
pub mod cluster;
pub mod footprint;
pub mod iot;

use std::collections::BTreeMap;
use std::future::Future;

use futures::StreamExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

/// A record to produce.
#[derive(Debug, Clone, Default)]
pub struct TestRecord {
    /// Key (`None`: null key).
    pub key: Option<Vec<u8>>,
    /// Value (`None`: a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Record timestamp (ms); `None`: the producer's clock.
    pub timestamp_ms: Option<i64>,
}

impl TestRecord {
    /// A record with a string key and a JSON value.
    pub fn json(key: &str, value: &serde_json::Value) -> Self {
        Self {
            key: Some(key.as_bytes().to_vec()),
            value: Some(serde_json::to_vec(value).expect("JSON")),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, key: &str, value: &str) -> Self {
        self.headers.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the record timestamp.
    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }
}

impl From<(Option<String>, Option<Vec<u8>>)> for TestRecord {
    fn from((key, value): (Option<String>, Option<Vec<u8>>)) -> Self {
        Self { key: key.map(String::into_bytes), value, ..Self::default() }
    }
}

/// Where the services are: `KAFKA_BOOTSTRAP` / `CASSANDRA_HOSTS` / `SCHEMA_REGISTRY_URL` from the
/// environment, else from `.run/services.env` (written by `make up`).
#[derive(Debug, Clone)]
pub struct Services {
    /// Kafka bootstrap servers.
    pub kafka_bootstrap: String,
    /// Cassandra `host:port`.
    pub cassandra_host: String,
    /// The schema registry's base URL (Confluent's REST API).
    pub schema_registry_url: String,
}

impl Services {
    /// Reads the service locations; panics with instructions when the services were not started.
    pub fn from_env() -> Self {
        let file = run_dir().join("services.env");
        let from_file: BTreeMap<String, String> = std::fs::read_to_string(&file)
            .map(|text| {
                text.lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let get = |key: &str| {
            std::env::var(key).ok().or_else(|| from_file.get(key).cloned()).unwrap_or_else(|| {
                panic!("{key} is not set and {} does not name it: start the services with `make up`", file.display())
            })
        };
        let cassandra = get("CASSANDRA_HOSTS");
        Self {
            kafka_bootstrap: get("KAFKA_BOOTSTRAP"),
            cassandra_host: cassandra.split(',').next().unwrap_or_default().to_string(),
            schema_registry_url: get("SCHEMA_REGISTRY_URL"),
        }
    }

    /// Cassandra port (from `host:port`).
    pub fn cassandra_port(&self) -> u16 {
        self.cassandra_host.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(9042)
    }

    /// Cassandra host without the port.
    pub fn cassandra_address(&self) -> &str {
        self.cassandra_host.rsplit_once(':').map_or(self.cassandra_host.as_str(), |(h, _)| h)
    }

    /// A new session.
    pub async fn cassandra(&self) -> Session {
        SessionBuilder::new()
            .known_node(&self.cassandra_host)
            .build()
            .await
            .unwrap_or_else(|e| panic!("cannot connect to Cassandra at {}: {e}", self.cassandra_host))
    }

    /// Creates a topic and waits until it is usable.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &self.kafka_bootstrap).create().expect("admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let results = admin
            .create_topics(&[topic], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))))
            .await
            .expect("create_topics request");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
        }
    }

    /// Produces records (in order) and waits for every acknowledgement.
    pub async fn produce<R: Into<TestRecord>>(&self, topic: &str, records: impl IntoIterator<Item = R>) -> usize {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.kafka_bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        let sends = records.into_iter().map(|record| {
            let record: TestRecord = record.into();
            let producer = producer.clone();
            let topic = topic.to_string();
            async move {
                let mut headers = OwnedHeaders::new();
                for (k, v) in &record.headers {
                    headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
                }
                let mut out: FutureRecord<'_, Vec<u8>, Vec<u8>> = FutureRecord::to(&topic).headers(headers);
                if let Some(k) = record.key.as_ref() {
                    out = out.key(k);
                }
                if let Some(v) = record.value.as_ref() {
                    out = out.payload(v);
                }
                if let Some(ts) = record.timestamp_ms {
                    out = out.timestamp(ts);
                }
                producer.send(out, Duration::from_secs(30)).await.map_err(|(e, _)| e)
            }
        });
        // Bounded concurrency keeps memory flat for millions of records; order is kept per partition
        // by the idempotent producer.
        let mut acks = futures::stream::iter(sends).buffered(10_000);
        let mut count = 0;
        while let Some(result) = acks.next().await {
            result.expect("Kafka acknowledged the record");
            count += 1;
        }
        count
    }

    /// Reads a topic from the beginning until `count` records arrived (or panics after `deadline`).
    pub async fn consume(&self, topic: &str, count: usize, deadline: Duration) -> Vec<OwnedMessage> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.kafka_bootstrap)
            .set("group.id", unique_name("reader"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut out = Vec::new();
        let start = Instant::now();
        while out.len() < count {
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_else(|| {
                panic!("timed out after {deadline:?} reading {topic}: {} of {count} records", out.len())
            });
            if let Ok(message) = tokio::time::timeout(left, consumer.recv()).await {
                out.push(message.expect("consume").detach());
            }
        }
        out
    }

    /// Whether `group` is stable with members (its consumers joined and got their partitions).
    pub fn group_members(&self, group: &str) -> bool {
        let consumer: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &self.kafka_bootstrap).create().expect("consumer");
        consumer
            .fetch_group_list(Some(group), Duration::from_secs(10))
            .is_ok_and(|list| list.groups().iter().any(|g| g.state() == "Stable" && !g.members().is_empty()))
    }

    /// How many records the topic's partitions hold (the sum of their high watermarks).
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> i64 {
        let consumer: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &self.kafka_bootstrap).create().expect("consumer");
        (0..partitions)
            .map(|p| consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks").1)
            .sum()
    }

    /// The sum of committed offsets of `group` over the topic's partitions (0 for uncommitted ones).
    pub fn committed_total(&self, group: &str, topic: &str, partitions: i32) -> i64 {
        Self::committed_sum(&self.offsets_reader(group), topic, partitions)
    }

    /// A consumer that only reads `group`'s committed offsets (joins nothing), for
    /// [`Services::committed_sum`] in a loop.
    pub fn offsets_reader(&self, group: &str) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.kafka_bootstrap)
            .set("group.id", group)
            .create()
            .expect("consumer")
    }

    /// The sum of the committed offsets of `topic`'s partitions, read with `consumer`.
    pub fn committed_sum(consumer: &BaseConsumer, topic: &str, partitions: i32) -> i64 {
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(topic, p);
        }
        let committed = consumer.committed_offsets(list, Duration::from_secs(10)).expect("committed offsets");
        committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum()
    }
}

/// Runs `tests/services/services.sh` with `args` (e.g. `["stop", "cassandra"]`, `["up"]`), panicking
/// with its output when it fails.
pub fn services_script(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("services/services.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .args(args)
        .env("SPILLWAY_RUN_DIR", run_dir())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "services.sh {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `spillway` binary next to the test executable (`target/<profile>/spillway`), built by
/// `make test` before the tests run.
pub fn spillway_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let binary = dir.join("spillway");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p spillway` (make test does)",
        binary.display()
    );
    binary
}

/// Starts `spillway standalone <dir>/worker.properties <dir>/connector.properties`, its log
/// appended to `<dir>/spillway.log`.
pub fn spawn_standalone(binary: &std::path::Path, dir: &std::path::Path) -> std::process::Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("spillway.log")).expect("log file");
    std::process::Command::new(binary)
        .arg("standalone")
        .arg(dir.join("worker.properties"))
        .arg(dir.join("connector.properties"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()))
}

/// The plugins built by `plugins/build.sh` (`make plugins`; `make test` builds them first).
pub fn plugin_dist() -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist");
    assert!(
        dist.join("keep.wasm").exists(),
        "{} has no plugins: build them with `make plugins` (make test does)",
        dist.display()
    );
    dist
}

/// The git-ignored folder with the services' state (`SPILLWAY_RUN_DIR`, else `<repo>/.run`).
pub fn run_dir() -> PathBuf {
    std::env::var_os("SPILLWAY_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.run"))
}

/// A name unique to this test run, valid as a Kafka topic and a CQL keyspace (lower case, ≤ 48).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{:x}", std::process::id(), nanos % 0xffffff)
}

/// Creates a keyspace (replication factor 1).
pub async fn create_keyspace(session: &Session, keyspace: &str) {
    session
        .query_unpaged(
            format!("CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("creating keyspace {keyspace}: {e}"));
}

/// Runs a statement, panicking with the statement on error.
pub async fn execute(session: &Session, cql: &str) {
    session.query_unpaged(cql, &[]).await.unwrap_or_else(|e| panic!("`{cql}`: {e}"));
}

/// `SELECT count(*)` of a table.
pub async fn count_rows(session: &Session, table: &str) -> i64 {
    let result = session
        .query_unpaged(format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap_or_else(|e| panic!("counting {table}: {e}"))
        .into_rows_result()
        .expect("rows");
    result.single_row::<(i64,)>().expect("one count").0
}

/// Polls `probe` every 100 ms until it returns `Some`, or panics after `deadline` naming `what`.
pub async fn poll_until<T, F, Fut>(deadline: Duration, what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_every(Duration::from_millis(100), deadline, what, probe).await
}

/// [`poll_until`] with another pause between probes (benchmarks: a finer end time).
pub async fn poll_every<T, F, Fut>(pause: Duration, deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(pause).await;
    }
}

/// The key of a record a source produced with `WITHKEY(id)` (StringConverter), as a number.
pub fn id_of(m: &OwnedMessage) -> i32 {
    use rdkafka::Message;
    std::str::from_utf8(m.key().expect("key")).expect("text").parse().expect("id")
}

/// Every record of `topic` a `read_committed` consumer sees, up to each partition's last stable
/// offset (what open transactions wrote is not there yet).
pub fn committed_records(services: &Services, topic: &str, partitions: i32) -> Vec<OwnedMessage> {
    use rdkafka::error::KafkaError;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &services.kafka_bootstrap)
        .set("group.id", unique_name("committed-reader"))
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning).expect("partition");
    }
    consumer.assign(&list).expect("assign");
    let (mut out, mut at_end, started) = (Vec::new(), std::collections::HashSet::new(), Instant::now());
    while at_end.len() < partitions as usize {
        assert!(started.elapsed() < Duration::from_secs(180), "reading {topic} to its end timed out");
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(m) => out.push(m.expect("consume").detach()),
        }
    }
    out
}

/// Creates `keyspace.events (bucket, ts, id, body)`, bucketed by hour, and fills it with `n`
/// events 360 ms apart, starting on the hour about seven hours ago; returns that start (ms).
pub async fn fill_bucketed_events(services: &Services, keyspace: &str, n: i32) -> i64 {
    let session = services.cassandra().await;
    create_keyspace(&session, keyspace).await;
    execute(&session, &format!("CREATE TABLE {keyspace}.events (bucket text, ts timestamp, id int, body text, PRIMARY KEY ((bucket), ts, id))")).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let start = (now - 7 * 3_600_000) / 3_600_000 * 3_600_000;
    let ts_of = |i: i32| start + i64::from(i) * 360;
    let bucket_of = |ts: i64| spillway::connectors::source::slice::format_time(ts)[..13].replace([' ', '-'], "");
    let insert = session
        .prepare(format!("INSERT INTO {keyspace}.events (bucket, ts, id, body) VALUES (?, ?, ?, ?)"))
        .await
        .expect("prepare");
    let mut writes = futures::stream::iter(0..n)
        .map(|i| {
            let (session, insert) = (&session, &insert);
            let ts = ts_of(i);
            async move {
                session
                    .execute_unpaged(insert, (bucket_of(ts), scylla::value::CqlTimestamp(ts), i, format!("event {i}")))
                    .await
            }
        })
        .buffer_unordered(256);
    while let Some(r) = writes.next().await {
        r.expect("insert");
    }
    start
}
