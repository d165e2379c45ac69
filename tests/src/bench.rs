//! `make bench-sink`: Spillway's sink next to the raw ceiling (a scylla-driver program writing the
//! same rows at full concurrency), on the same services in one run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use scylla::client::session::Session;
use scylla::value::CqlTimestamp;

use crate::{Services, count_rows, create_keyspace, execute, iot, poll_every, poll_until, unique_name};

/// CPU seconds (user + system) and peak RSS (bytes) of a process, from `/proc`.
pub fn process_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    let cpu = (ticks(11) + ticks(12)) / 100.0; // utime, stime in clock ticks (USER_HZ = 100)
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    (cpu, peak_kib * 1024)
}

/// The PID of a service started by `make up` (`cassandra`, `kafka`), when known.
fn service_pid(service: &str) -> Option<u32> {
    std::fs::read_to_string(crate::run_dir().join(service).join("pid")).ok().and_then(|p| p.trim().parse().ok())
}

/// CPU seconds used so far by the Cassandra started by `make up` (0 when its PID is unknown).
fn cassandra_cpu() -> f64 {
    service_pid("cassandra").map_or(0.0, |pid| process_usage(pid).0)
}

/// CPU seconds used so far by the Kafka broker started by `make up` (0 when its PID is unknown).
fn kafka_cpu() -> f64 {
    service_pid("kafka").map_or(0.0, |pid| process_usage(pid).0)
}

/// Where the benchmark's processes may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Every process on every CPU: the writer, Kafka and Cassandra compete for the machine.
    Shared,
    /// Cassandra alone on the last CPU; the writer (ceiling or Spillway), Kafka and this process on
    /// the others — as in production, where Cassandra has its own machines. What is left to compare
    /// is how hard each writer drives Cassandra, not what its own CPU takes away from it.
    IsolatedCassandra,
}

/// Pins processes to CPUs for [`Placement::IsolatedCassandra`] and gives every CPU back when dropped.
struct Pinning {
    pids: Vec<u32>,
    all: String,
}

impl Pinning {
    fn apply(placement: Placement) -> Option<Self> {
        if placement == Placement::Shared {
            return None;
        }
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert!(cpus >= 2, "isolating Cassandra needs at least 2 CPUs (this machine has {cpus})");
        let cassandra = service_pid("cassandra").expect("Cassandra's PID (started by `make up`)");
        let kafka = service_pid("kafka").expect("Kafka's PID (started by `make up`)");
        let all = format!("0-{}", cpus - 1);
        let others = if cpus == 2 { "0".to_string() } else { format!("0-{}", cpus - 2) };
        let pinning = Self { pids: vec![cassandra, kafka, std::process::id()], all };
        // `-a`: every thread of the process (a JVM's threads each have their own mask); children
        // started later (Spillway) inherit this process's mask.
        taskset(&(cpus - 1).to_string(), cassandra);
        taskset(&others, kafka);
        taskset(&others, std::process::id());
        eprintln!("Cassandra pinned to CPU {}; Kafka, the writers and this process to CPUs {others}", cpus - 1);
        Some(pinning)
    }
}

impl Drop for Pinning {
    fn drop(&mut self) {
        for &pid in &self.pids {
            taskset(&self.all, pid);
        }
    }
}

fn taskset(cpus: &str, pid: u32) {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("taskset (util-linux)");
    assert!(status.success(), "taskset -a -p -c {cpus} {pid} failed");
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What ran.
    pub name: String,
    /// Rows written.
    pub rows: u64,
    /// Wall time from start to the last row acknowledged.
    pub wall: Duration,
    /// CPU seconds used by the writer process.
    pub cpu_seconds: f64,
    /// Peak resident memory of the writer process.
    pub peak_rss: u64,
    /// From start to the first row visible in Cassandra.
    pub first_write: Option<Duration>,
    /// CPU seconds Cassandra used meanwhile.
    pub cassandra_cpu_seconds: f64,
    /// CPU seconds the Kafka broker used meanwhile (serving the sink's fetches; ~0 for the ceiling).
    pub kafka_cpu_seconds: f64,
}

impl Measurement {
    /// Rows per second.
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.wall.as_secs_f64()
    }

    /// Rows per second from the first row written to the last one acknowledged: the rate without
    /// the writer's start (process, connections, consumer group), which the ceiling's time excludes.
    pub fn steady_rate(&self) -> f64 {
        let start = self.first_write.unwrap_or_default().min(self.wall);
        self.rows as f64 / (self.wall - start).as_secs_f64()
    }

    /// CPU seconds per million rows.
    pub fn cpu_per_million(&self) -> f64 {
        self.cpu_seconds * 1_000_000.0 / self.rows as f64
    }
}

/// How the ceiling writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeilingMode {
    /// One prepared insert per row, write time from the server.
    SingleRows,
    /// UNLOGGED batches of 32 rows of one partition, write time from the server.
    Batches,
    /// The same batches, each row with its own `USING TIMESTAMP` (what the sink writes: the record
    /// timestamp), so Cassandra stores exactly the same cells as from the sink.
    BatchesWithWriteTimes,
    /// As `BatchesWithWriteTimes`, but batches are sent in the order they fill when the rows are
    /// taken in the topic's order, as a streaming writer (the sink) must: the requests in flight
    /// span every partition. The others send all of a partition's batches one after another, so the
    /// requests in flight hit one or two partitions at a time.
    BatchesWithWriteTimesInArrivalOrder,
}

/// The raw ceiling: prepared inserts of the same rows, `concurrency` requests in flight.
/// Runs in this process; CPU and RSS are this process's.
pub async fn ceiling(session: &Session, table: &str, count: u64, concurrency: usize, mode: CeilingMode) -> Measurement {
    type Row = (String, CqlTimestamp, uuid::Uuid, String, String, f64, f64, f64, i32, String);
    let rows: Vec<Row> = (0..count)
        .map(|i| {
            let r = iot::reading(i);
            let s = |k: &str| r[k].as_str().expect("string").to_string();
            let f = |k: &str| r[k].as_f64().expect("number");
            (
                s("sensor_id"),
                CqlTimestamp(r["ts"].as_i64().expect("ts")),
                uuid::Uuid::parse_str(r["reading_id"].as_str().expect("id")).expect("uuid"),
                s("site"),
                s("kind"),
                f("temperature"),
                f("humidity"),
                f("pressure"),
                r["battery"].as_i64().expect("battery") as i32,
                s("firmware"),
            )
        })
        .collect();
    let columns = "sensor_id, ts, reading_id, site, kind, temperature, humidity, pressure, battery, firmware";
    let measured = match mode {
        CeilingMode::BatchesWithWriteTimes | CeilingMode::BatchesWithWriteTimesInArrivalOrder => {
            // The reading's own time, in µs, distinct per row (as record timestamps are).
            let rows: Vec<_> = rows
                .into_iter()
                .map(|r| {
                    let micros = r.1.0 * 1000;
                    (r.0.clone(), (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, micros))
                })
                .collect();
            let cql =
                format!("INSERT INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?");
            let arrival = mode == CeilingMode::BatchesWithWriteTimesInArrivalOrder;
            write_all(session, &cql, &rows, 32, concurrency, arrival).await
        }
        _ => {
            let rows: Vec<_> = rows.into_iter().map(|r| (r.0.clone(), r)).collect();
            let cql = format!("INSERT INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            let batch = if mode == CeilingMode::SingleRows { 1 } else { 32 };
            write_all(session, &cql, &rows, batch, concurrency, false).await
        }
    };
    let how = match mode {
        CeilingMode::SingleRows => "single-row inserts",
        CeilingMode::Batches => "UNLOGGED batches of 32 per partition",
        CeilingMode::BatchesWithWriteTimes => "UNLOGGED batches of 32 per partition, per-row write times like the sink",
        CeilingMode::BatchesWithWriteTimesInArrivalOrder => {
            "UNLOGGED batches of 32 per partition, per-row write times like the sink, sent in the topic's order"
        }
    };
    Measurement { name: format!("raw ceiling: scylla driver, {how}, {concurrency} in flight"), rows: count, ..measured }
}

/// Writes `(partition, row)` pairs in chunks of `batch` rows of one partition, `concurrency`
/// requests in flight; measures this process and Cassandra. The chunks go partition after partition,
/// or, with `arrival`, in the order they fill as the rows are taken in order.
async fn write_all<R>(
    session: &Session,
    cql: &str,
    rows: &[(String, R)],
    batch: usize,
    concurrency: usize,
    arrival: bool,
) -> Measurement
where
    R: scylla::serialize::row::SerializeRow + Sync,
{
    let mut insert = session.prepare(cql).await.expect("prepare");
    insert.set_is_idempotent(true);
    // Rows grouped by partition (sensor), in chunks of `batch`.
    let chunks: Vec<Vec<&R>> = if arrival {
        let (mut open, mut chunks) = (std::collections::HashMap::<&str, Vec<&R>>::new(), Vec::new());
        for (key, row) in rows {
            let filling = open.entry(key.as_str()).or_default();
            filling.push(row);
            if filling.len() == batch.max(1) {
                chunks.push(std::mem::take(filling));
            }
        }
        chunks.extend(open.into_values().filter(|c| !c.is_empty()));
        chunks
    } else {
        let mut by_sensor: std::collections::BTreeMap<&str, Vec<&R>> = std::collections::BTreeMap::new();
        for (key, row) in rows {
            by_sensor.entry(key.as_str()).or_default().push(row);
        }
        by_sensor.values().flat_map(|rs| rs.chunks(batch.max(1)).map(<[&R]>::to_vec)).collect()
    };
    let mut template = scylla::statement::batch::Batch::new(scylla::statement::batch::BatchType::Unlogged);
    template.set_is_idempotent(true);
    let (cpu0, _) = process_usage(std::process::id());
    let (cassandra0, kafka0) = (cassandra_cpu(), kafka_cpu());
    let started = Instant::now();
    let requests = chunks.iter().map(|chunk| {
        let insert = &insert;
        let mut b = template.clone();
        for _ in chunk.iter() {
            b.append_statement(insert.clone());
        }
        async move {
            // A writer retries timeouts, as the sink does; a few attempts, then give up.
            let mut attempt = 0;
            loop {
                let result = if chunk.len() == 1 {
                    session.execute_unpaged(insert, chunk[0]).await.map(|_| ())
                } else {
                    session.batch(&b, chunk).await.map(|_| ())
                };
                attempt += 1;
                match result {
                    Err(_) if attempt < 10 => tokio::time::sleep(Duration::from_millis(100)).await,
                    other => return other,
                }
            }
        }
    });
    let mut writes = futures::stream::iter(requests).buffer_unordered(concurrency);
    let mut first_write = None;
    while let Some(result) = writes.next().await {
        result.expect("ceiling write");
        first_write.get_or_insert_with(|| started.elapsed());
    }
    let wall = started.elapsed();
    let (cpu1, peak_rss) = process_usage(std::process::id());
    Measurement {
        name: String::new(),
        rows: rows.len() as u64,
        wall,
        cpu_seconds: cpu1 - cpu0,
        peak_rss,
        first_write,
        cassandra_cpu_seconds: cassandra_cpu() - cassandra0,
        kafka_cpu_seconds: kafka_cpu() - kafka0,
    }
}

/// How often a Spillway run is probed for its first row and its committed offsets.
const PROBE: Duration = Duration::from_millis(20);

/// Runs `spillway standalone` on a pre-filled topic until every offset is committed.
#[allow(clippy::too_many_arguments)]
pub async fn spillway_sink(
    services: &Services,
    binary: &Path,
    dir: &Path,
    session: &Session,
    topic: &str,
    partitions: i32,
    keyspace: &str,
    table: &str,
    count: u64,
    tasks: u32,
) -> Measurement {
    std::fs::create_dir_all(dir).expect("bench dir");
    let name = unique_name("bench");
    std::fs::write(
        dir.join("worker.properties"),
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:0\noffset.flush.interval.ms=250\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false\n",
            services.kafka_bootstrap
        ),
    )
    .expect("worker file");
    std::fs::write(
        dir.join("connector.properties"),
        format!(
            "name={name}\nconnector.class=CassandraSink\ntasks.max={tasks}\ntopics={topic}\n\
             connect.cassandra.contact.points={}\nconnect.cassandra.port={}\nconnect.cassandra.key.space={keyspace}\n\
             connect.cassandra.kcql=INSERT INTO {table} SELECT * FROM {topic}\n",
            services.cassandra_address(),
            services.cassandra_port()
        ),
    )
    .expect("sink file");
    let (cassandra0, kafka0) = (cassandra_cpu(), kafka_cpu());
    let started = Instant::now();
    let mut child = crate::spawn_standalone(binary, dir);
    let qualified = format!("{keyspace}.{table}");
    // Probed every 20 ms (the ceiling is timed exactly): the first row, then the committed offsets,
    // read by one consumer rather than one per probe.
    let first_write = poll_every(PROBE, Duration::from_secs(120), "the first row", || async {
        let some = session
            .query_unpaged(format!("SELECT sensor_id FROM {qualified} LIMIT 1"), &[])
            .await
            .ok()?
            .into_rows_result()
            .ok()?
            .rows_num()
            > 0;
        some.then(|| started.elapsed())
    })
    .await;
    let offsets = services.offsets_reader(&format!("connect-{name}"));
    poll_every(PROBE, Duration::from_secs(1800), "every offset committed", || async {
        (Services::committed_sum(&offsets, topic, partitions) == count as i64).then_some(())
    })
    .await;
    let wall = started.elapsed();
    let (cpu_seconds, peak_rss) = process_usage(child.id());
    let cassandra_cpu_seconds = cassandra_cpu() - cassandra0;
    let kafka_cpu_seconds = kafka_cpu() - kafka0;
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    // Every row is there: counted per sensor partition (a count(*) over the whole table is a full
    // scan Cassandra should not be asked for).
    let mut total = 0;
    for sensor in 0..iot::SENSORS {
        total += count_rows(session, &format!("{qualified} WHERE sensor_id = 'sensor-{sensor:03}'")).await;
    }
    assert_eq!(total, count as i64, "every row written");
    Measurement {
        name: format!("Spillway sink (tasks.max={tasks})"),
        rows: count,
        wall,
        cpu_seconds,
        peak_rss,
        first_write: Some(first_write),
        cassandra_cpu_seconds,
        kafka_cpu_seconds,
    }
}

/// The median run of several of the same thing, by wall time (the mean of the middle two for an
/// even count); peak RSS is the largest of all.
pub(crate) fn median(runs: &[Measurement]) -> Measurement {
    let mut sorted: Vec<&Measurement> = runs.iter().collect();
    sorted.sort_by_key(|m| m.wall);
    let (a, b) = (sorted[(sorted.len() - 1) / 2], sorted[sorted.len() / 2]);
    let avg = |x: f64, y: f64| (x + y) / 2.0;
    Measurement {
        name: format!("{} (median of {})", a.name, runs.len()),
        rows: a.rows,
        wall: (a.wall + b.wall) / 2,
        cpu_seconds: avg(a.cpu_seconds, b.cpu_seconds),
        peak_rss: runs.iter().map(|m| m.peak_rss).max().unwrap_or(0),
        first_write: a.first_write.zip(b.first_write).map(|(x, y)| (x + y) / 2),
        cassandra_cpu_seconds: avg(a.cassandra_cpu_seconds, b.cassandra_cpu_seconds),
        kafka_cpu_seconds: avg(a.kafka_cpu_seconds, b.kafka_cpu_seconds),
    }
}

/// Gives each run the same start: a fresh, empty table, and no compaction left over from the run
/// before (they would steal the CPU the next run needs).
async fn fresh_table(session: &Session, table: &str) {
    execute(session, &format!("DROP TABLE IF EXISTS {table}")).await;
    execute(session, &iot::TABLE_DDL.replace("{table}", table)).await;
    poll_until(Duration::from_secs(600), "compactions to finish", || async {
        let tasks = session
            .query_unpaged("SELECT task_id FROM system_views.sstable_tasks", &[])
            .await
            .ok()?
            .into_rows_result()
            .ok()?;
        (tasks.rows_num() == 0).then_some(())
    })
    .await;
    wait_until_quiet().await;
}

/// Has Cassandra's JVM collect its garbage now (`jcmd <pid> GC.run`, a full collection). A run fills
/// the heap with memtables that a dropped table leaves behind as garbage; collected later, during the
/// next run, they were billed to it: G1 pauses of 0.5–1.7 s mid-run, and Cassandra's CPU per row
/// swinging from 13 to 23 s per million rows for the same writer (2026-12-04).
fn collect_cassandra_garbage() {
    let Some(pid) = service_pid("cassandra") else { return };
    let done = Command::new("jcmd")
        .args([pid.to_string().as_str(), "GC.run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !done.as_ref().is_ok_and(std::process::ExitStatus::success) {
        eprintln!("`jcmd {pid} GC.run` failed ({done:?}): Cassandra's heap is measured as it is");
    }
}

/// Collects Cassandra's garbage, then waits (up to a minute) until Cassandra uses less than a tenth
/// of a core over a second: memtable flushes, garbage collection and the JIT of the run before must
/// not be billed to the next one.
pub(crate) async fn wait_until_quiet() {
    collect_cassandra_garbage();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = cassandra_cpu();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let used = cassandra_cpu() - before;
        if used < 0.1 {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("Cassandra still busy ({used:.2} cores) after a minute; measuring anyway");
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
/// The whole side-by-side run of `binary` (and of a `baseline` build, when given, in the same rounds);
/// prints a Markdown table.
pub async fn run(
    services: &Services,
    (binary, baseline): (&Path, Option<&Path>),
    count: u64,
    partitions: i32,
    tasks: u32,
    concurrency: usize,
    rounds: u32,
    placement: Placement,
) {
    let session = services.cassandra().await;
    let keyspace = "bench";
    create_keyspace(&session, keyspace).await;
    let topic = unique_name("bench");
    services.create_topic(&topic, partitions).await;
    let produced_at = Instant::now();
    services.produce(&topic, (0..count).map(iot::record)).await;
    eprintln!(
        "produced {count} events to {topic} ({partitions} partitions) in {:.1}s",
        produced_at.elapsed().as_secs_f64()
    );

    let _pinning = Pinning::apply(placement);
    // A-B-B-A: Spillway, batched ceiling, batched ceiling, Spillway. Cassandra gets slower as data
    // accumulates over a session; this order cancels that drift out of the comparison.
    let dir = crate::run_dir().join("bench");
    let table = format!("{keyspace}.readings_ceiling");
    let spillway_run = |round: u32, binary: PathBuf| {
        let (dir, session, topic) = (dir.join(format!("round{round}")), &session, topic.as_str());
        async move {
            let binary = binary.as_path();
            fresh_table(session, &format!("{keyspace}.readings_spillway")).await;
            let m = spillway_sink(
                services,
                binary,
                &dir,
                session,
                topic,
                partitions,
                keyspace,
                "readings_spillway",
                count,
                tasks,
            )
            .await;
            eprintln!("spillway: {:.0} rows/s", m.rate());
            m
        }
    };
    let batched_run = || async {
        fresh_table(&session, &table).await;
        let m = ceiling(&session, &table, count, concurrency / 8, CeilingMode::BatchesWithWriteTimes).await;
        eprintln!("ceiling, batched, per-row write times: {:.0} rows/s", m.rate());
        m
    };
    // Warm up first, unreported: a full ceiling run, then a full Spillway run. A JVM is slower for
    // its first million or so writes, and the first run of each writer paid for its own cold start:
    // with only a 300 k-row ceiling warm-up, the first measured run — always Spillway's — was the
    // slowest of every session (Cassandra spent 20–27 CPU s per million rows there against 14–17
    // in every later run, whoever wrote).
    fresh_table(&session, &table).await;
    let warm = ceiling(&session, &table, count, concurrency / 8, CeilingMode::BatchesWithWriteTimes).await;
    eprintln!("warm-up, ceiling: {:.0} rows/s (not reported)", warm.rate());
    let warm = spillway_run(0, binary.to_path_buf()).await;
    eprintln!("warm-up, spillway: {:.0} rows/s (not reported)", warm.rate());
    // With a baseline build: Spillway, baseline, ceiling, ceiling, baseline, Spillway.
    let baseline_run = |round: u32| {
        let run = baseline.map(|b| spillway_run(100 + round, b.to_path_buf()));
        async move {
            let mut m = run?.await;
            m.name = format!("baseline {} ({})", m.name, baseline.expect("given").display());
            Some(m)
        }
    };
    let (mut sinks, mut ceilings, mut baselines) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        sinks.push(spillway_run(2 * round + 1, binary.to_path_buf()).await);
        baselines.extend(baseline_run(2 * round + 1).await);
        ceilings.push(batched_run().await);
        ceilings.push(batched_run().await);
        baselines.extend(baseline_run(2 * round + 2).await);
        sinks.push(spillway_run(2 * round + 2, binary.to_path_buf()).await);
    }
    fresh_table(&session, &table).await;
    let single = ceiling(&session, &table, count, concurrency, CeilingMode::SingleRows).await;
    eprintln!("ceiling, single rows: {:.0} rows/s", single.rate());
    fresh_table(&session, &table).await;
    let server_times = ceiling(&session, &table, count, concurrency / 8, CeilingMode::Batches).await;
    eprintln!("ceiling, batched, server write times: {:.0} rows/s", server_times.rate());
    fresh_table(&session, &table).await;
    let arrival =
        ceiling(&session, &table, count, concurrency / 8, CeilingMode::BatchesWithWriteTimesInArrivalOrder).await;
    eprintln!("ceiling, batched, in the topic's order: {:.0} rows/s", arrival.rate());
    let batched = median(&ceilings);
    let sink = median(&sinks);
    let baseline = (!baselines.is_empty()).then(|| median(&baselines));
    // The like-for-like ceiling: the same cells (same write times) as the sink stores.
    let best = batched.clone();

    println!(
        "| run | rows | wall (s) | rows/s | vs ceiling (same cells) | first write (s) | rows/s after it | vs ceiling after it | writer CPU s / M rows | Cassandra CPU s / M rows | Kafka CPU s / M rows | writer peak RSS (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let rows = [&single, &server_times, &arrival]
        .into_iter()
        .chain(&ceilings)
        .chain([&batched])
        .chain(&baselines)
        .chain(&baseline)
        .chain(&sinks)
        .chain([&sink]);
    for m in rows {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} % | {} | {:.0} | {:.0} % | {:.1} | {:.1} | {:.1} | {:.0} |",
            m.name,
            m.rows,
            m.wall.as_secs_f64(),
            m.rate(),
            100.0 * m.rate() / best.rate(),
            m.first_write.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64())),
            m.steady_rate(),
            100.0 * m.steady_rate() / best.steady_rate(),
            m.cpu_per_million(),
            m.cassandra_cpu_seconds * 1_000_000.0 / m.rows as f64,
            m.kafka_cpu_seconds * 1_000_000.0 / m.rows as f64,
            m.peak_rss as f64 / (1024.0 * 1024.0),
        );
    }
}
