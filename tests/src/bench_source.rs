//! `make bench-source`: Spillway's source draining a bucketed table to Kafka, next to the raw
//! ceiling (a scylla-driver program reading the same rows at full speed and producing them), on
//! the same services in one run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::value::{CqlTimestamp, CqlValue, Row};

use crate::bench::{Measurement, median, process_usage, wait_until_quiet};
use crate::{Services, count_rows, create_keyspace, execute, iot, poll_until, unique_name};

const KEYSPACE: &str = "bench_source";
/// Rows per hourly bucket.
const PER_BUCKET: u64 = 5_000;
/// The first bucket: 2024-01-01T00:00Z.
const START_MS: i64 = 1_704_067_200_000;

fn bucket(i: u64) -> String {
    let ts = ts_of(i);
    spillway::connectors::source::slice::format_time(ts)[..13].replace([' ', '-'], "")
}

fn ts_of(i: u64) -> i64 {
    START_MS + (i / PER_BUCKET) as i64 * 3_600_000 + (i % PER_BUCKET) as i64 * (3_600_000 / PER_BUCKET as i64)
}

fn buckets(count: u64) -> Vec<String> {
    (0..count.div_ceil(PER_BUCKET)).map(|b| bucket(b * PER_BUCKET)).collect()
}

/// The table `bench_source.events_<count>`, filled once (kept between runs).
async fn table(session: &Session, count: u64) -> String {
    create_keyspace(session, KEYSPACE).await;
    let table = format!("{KEYSPACE}.events_{count}");
    execute(
        session,
        &format!(
            "CREATE TABLE IF NOT EXISTS {table} (bucket text, ts timestamp, reading_id uuid, sensor_id text, site text, \
             kind text, temperature double, humidity double, pressure double, battery int, firmware text, \
             PRIMARY KEY ((bucket), ts, reading_id))"
        ),
    )
    .await;
    let mut have = 0;
    for b in buckets(count) {
        have += count_rows(session, &format!("{table} WHERE bucket = '{b}'")).await;
    }
    if have == count as i64 {
        eprintln!("{table} already holds {count} rows");
        return table;
    }
    let started = Instant::now();
    let insert = session
        .prepare(format!(
            "INSERT INTO {table} (bucket, ts, reading_id, sensor_id, site, kind, temperature, humidity, pressure, battery, firmware) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .await
        .expect("prepare");
    let chunks: Vec<Vec<u64>> = (0..count).collect::<Vec<_>>().chunks(32).map(<[u64]>::to_vec).collect();
    let mut writes = futures::stream::iter(chunks)
        .map(|chunk| {
            let insert = insert.clone();
            async move {
                let mut batch = Batch::new(BatchType::Unlogged);
                let mut values = Vec::new();
                for i in chunk {
                    batch.append_statement(insert.clone());
                    let r = iot::reading(i);
                    let s = |k: &str| r[k].as_str().expect("string").to_string();
                    let f = |k: &str| r[k].as_f64().expect("number");
                    values.push((
                        bucket(i),
                        CqlTimestamp(ts_of(i)),
                        uuid::Uuid::parse_str(r["reading_id"].as_str().expect("id")).expect("uuid"),
                        s("sensor_id"),
                        s("site"),
                        s("kind"),
                        f("temperature"),
                        f("humidity"),
                        f("pressure"),
                        r["battery"].as_i64().expect("battery") as i32,
                        s("firmware"),
                    ));
                }
                session.batch(&batch, values).await.map(|_| ())
            }
        })
        .buffer_unordered(64);
    while let Some(r) = writes.next().await {
        r.expect("insert");
    }
    eprintln!("inserted {count} rows into {table} in {:.1}s", started.elapsed().as_secs_f64());
    table
}

/// The raw ceiling: every bucket read at full speed (`parallelism` at once, pages of 5,000), each
/// row written as a JSON object and produced (idempotent, acks=all) until Kafka acknowledged all.
async fn ceiling(services: &Services, session: &Session, table: &str, count: u64, parallelism: usize) -> Measurement {
    let topic = unique_name("bench_source_ceiling");
    services.create_topic(&topic, 4).await;
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &services.kafka_bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "10000")
        .create()
        .expect("producer");
    let mut select = session
        .prepare(format!(
            "SELECT bucket, ts, reading_id, sensor_id, site, kind, temperature, humidity, pressure, battery, firmware FROM {table} WHERE bucket = ?"
        ))
        .await
        .expect("prepare");
    select.set_page_size(5_000);
    let names = [
        "bucket",
        "ts",
        "reading_id",
        "sensor_id",
        "site",
        "kind",
        "temperature",
        "humidity",
        "pressure",
        "battery",
        "firmware",
    ];
    let (cpu0, _) = process_usage(std::process::id());
    let started = Instant::now();
    let select = &select;
    let mut rows = futures::stream::iter(buckets(count))
        .map(|b| async move {
            session.execute_iter(select.clone(), (b,)).await.expect("query").rows_stream::<Row>().expect("rows")
        })
        .buffer_unordered(parallelism)
        .flatten_unordered(parallelism);
    let mut n = 0u64;
    while let Some(row) = rows.next().await {
        let row = row.expect("row");
        let mut object = serde_json::Map::new();
        for (name, v) in names.iter().zip(&row.columns) {
            let value = match v {
                Some(CqlValue::Text(s)) => serde_json::Value::String(s.clone()),
                Some(CqlValue::Timestamp(t)) => serde_json::json!(t.0),
                Some(CqlValue::Uuid(u)) => serde_json::Value::String(u.to_string()),
                Some(CqlValue::Double(d)) => serde_json::json!(d),
                Some(CqlValue::Int(i)) => serde_json::json!(i),
                _ => serde_json::Value::Null,
            };
            object.insert((*name).to_string(), value);
        }
        let payload = serde_json::Value::Object(object).to_string();
        let mut record = BaseRecord::<(), String>::to(&topic).payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        n += 1;
    }
    tokio::task::block_in_place(|| producer.flush(Duration::from_secs(120))).expect("every record acknowledged");
    let wall = started.elapsed();
    let (cpu1, peak_rss) = process_usage(std::process::id());
    assert_eq!(n, count, "the ceiling read every row");
    assert_eq!(services.end_offsets(&topic, 4), count as i64, "the ceiling produced every row");
    Measurement {
        name: format!("ceiling: scylla reads {parallelism} buckets at once + rdkafka produces"),
        rows: count,
        wall,
        cpu_seconds: cpu1 - cpu0,
        peak_rss,
        first_write: None,
        cassandra_cpu_seconds: 0.0,
        kafka_cpu_seconds: 0.0,
    }
}

/// Runs `spillway standalone` with a BUCKETTIMESERIES source until the topic holds every row.
async fn spillway_source(services: &Services, binary: &Path, dir: &Path, count: u64) -> Measurement {
    std::fs::create_dir_all(dir).expect("bench dir");
    let name = unique_name("bench_source");
    let topic = unique_name("bench_source");
    services.create_topic(&topic, 4).await;
    let table = format!("events_{count}");
    std::fs::write(
        dir.join("worker.properties"),
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:0\noffset.flush.interval.ms=1000\n\
             offset.storage.file.filename={}\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false\n",
            services.kafka_bootstrap,
            dir.join(format!("{name}.offsets")).display()
        ),
    )
    .expect("worker file");
    std::fs::write(
        dir.join("connector.properties"),
        format!(
            "name={name}\nconnector.class=CassandraSource\nconnect.cassandra.contact.points={}\nconnect.cassandra.port={}\n\
             connect.cassandra.key.space={KEYSPACE}\n\
             connect.cassandra.kcql=INSERT INTO {topic} SELECT * FROM {table} PK ts INCREMENTALMODE=BUCKETTIMESERIES\n\
             connect.cassandra.initial.offset=2024-01-01 00:00:00.000Z\n\
             connect.cassandra.bucket.timeseries.mode=HOUR\nconnect.cassandra.bucket.timeseries.format=yyyyMMddHH\n\
             connect.cassandra.mapping.collection.to.json=true\n",
            services.cassandra_address(),
            services.cassandra_port()
        ),
    )
    .expect("connector file");
    let started = Instant::now();
    let mut child = crate::spawn_standalone(binary, dir);
    poll_until(Duration::from_secs(1800), "every row in Kafka", || async {
        (services.end_offsets(&topic, 4) >= count as i64).then_some(())
    })
    .await;
    let wall = started.elapsed();
    let (cpu_seconds, peak_rss) = process_usage(child.id());
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    assert_eq!(services.end_offsets(&topic, 4), count as i64, "every row exactly once");
    Measurement {
        name: "Spillway source (BUCKETTIMESERIES)".into(),
        rows: count,
        wall,
        cpu_seconds,
        peak_rss,
        first_write: None,
        cassandra_cpu_seconds: 0.0,
        kafka_cpu_seconds: 0.0,
    }
}

/// The whole side-by-side run; prints a Markdown table.
pub async fn run(services: &Services, binary: &Path, count: u64, parallelism: usize, rounds: u32) {
    let session = services.cassandra().await;
    let table = table(&session, count).await;
    let dir = crate::run_dir().join("bench-source");
    // Warm-up (not reported): the first read of a table pulls it into the page cache.
    wait_until_quiet().await;
    let warm = ceiling(services, &session, &table, count, parallelism).await;
    eprintln!("warm-up: {:.0} rows/s (not reported)", warm.rate());
    // A-B-B-A rounds, as bench-sink.
    let (mut sources, mut ceilings) = (Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        for (i, spillway_first) in [true, false].into_iter().enumerate() {
            let mut pair = Vec::new();
            for spillway in [spillway_first, !spillway_first] {
                wait_until_quiet().await;
                if spillway {
                    let m = spillway_source(services, binary, &dir.join(format!("round{round}-{i}")), count).await;
                    eprintln!("spillway: {:.0} rows/s", m.rate());
                    sources.push(m);
                } else {
                    let m = ceiling(services, &session, &table, count, parallelism).await;
                    eprintln!("ceiling: {:.0} rows/s", m.rate());
                    pair.push(m);
                }
            }
            ceilings.extend(pair);
        }
    }
    let (source, best) = (median(&sources), median(&ceilings));
    println!("| run | rows | wall (s) | rows/s | vs ceiling | CPU s / M rows | peak RSS (MiB) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for m in ceilings.iter().chain([&best]).chain(&sources).chain([&source]) {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} % | {:.1} | {:.0} |",
            m.name,
            m.rows,
            m.wall.as_secs_f64(),
            m.rate(),
            100.0 * m.rate() / best.rate(),
            m.cpu_per_million(),
            m.peak_rss as f64 / (1024.0 * 1024.0)
        );
    }
    println!(
        "\nSpillway's source: {:.0} rows/s = {:.0} % of the ceiling ({:.0} rows/s), {:.2}x its CPU per row; Lenses' reported ~315 rows/s is {:.0}x slower",
        source.rate(),
        100.0 * source.rate() / best.rate(),
        best.rate(),
        source.cpu_per_million() / best.cpu_per_million(),
        source.rate() / 315.0
    );
}
