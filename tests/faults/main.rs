//! Fault tests against real Kafka and Cassandra: Cassandra stopped mid-stream, the worker killed
//! with SIGKILL mid-stream. They stop services other tests need, so they run one at a time, in
//! their own test binary (cargo runs test binaries one after another).

use std::process::Child;

use std::time::{Duration, Instant};

use spillway::config::{Settings, WorkerConfig};
use spillway::worker::standalone::Standalone;
use spillway_tests::{
    Services, committed_records, count_rows, create_keyspace, execute, fill_bucketed_events, id_of, iot, poll_until,
    run_dir, services_script, spawn_standalone, spillway_binary, unique_name,
};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const DEADLINE: Duration = Duration::from_secs(180);

/// (topic, keyspace, session, sink connector settings as `key=value` pairs)
async fn setup(
    services: &Services,
    name: &str,
) -> (String, String, scylla::client::session::Session, Vec<(String, String)>) {
    let topic = unique_name("faults");
    let keyspace = unique_name("ks");
    services.create_topic(&topic, 4).await;
    let session = services.cassandra().await;
    create_keyspace(&session, &keyspace).await;
    execute(&session, &iot::TABLE_DDL.replace("{table}", &format!("{keyspace}.readings"))).await;
    let connector = [
        ("name", name.to_string()),
        ("connector.class", "CassandraSink".to_string()),
        ("tasks.max", "2".to_string()),
        ("topics", topic.clone()),
        ("connect.cassandra.contact.points", services.cassandra_address().to_string()),
        ("connect.cassandra.port", services.cassandra_port().to_string()),
        ("connect.cassandra.key.space", keyspace.clone()),
        ("connect.cassandra.kcql", format!("INSERT INTO readings SELECT * FROM {topic}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    (topic, keyspace, session, connector)
}

fn worker_pairs(services: &Services) -> Vec<(String, String)> {
    [
        ("bootstrap.servers", services.kafka_bootstrap.as_str()),
        ("listeners", "http://127.0.0.1:0"),
        ("offset.flush.interval.ms", "200"),
        ("value.converter", "org.apache.kafka.connect.json.JsonConverter"),
        ("value.converter.schemas.enable", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Starts Cassandra again if a test stops while it is down.
struct RestartCassandraOnDrop;

impl Drop for RestartCassandraOnDrop {
    fn drop(&mut self) {
        services_script(&["up"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cassandra_down_for_20_seconds_mid_stream_loses_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let services = Services::from_env();
    let name = unique_name("cassandra-down");
    let (topic, keyspace, session, connector) = setup(&services, &name).await;
    let table = format!("{keyspace}.readings");
    let worker = WorkerConfig::from_settings(&Settings(worker_pairs(&services).into_iter().collect())).unwrap();
    let standalone = Standalone::start(worker, vec![Settings(connector.into_iter().collect())]).await.expect("starts");

    services.produce(&topic, (0..5_000).map(iot::record)).await;
    poll_until(DEADLINE, "the first 5,000 rows", || async {
        (count_rows(&session, &table).await == 5_000).then_some(())
    })
    .await;

    let restart = RestartCassandraOnDrop;
    services_script(&["stop", "cassandra"]);
    let down_since = Instant::now();
    // Records keep arriving while Cassandra is down; the sink must hold them, not skip them.
    services.produce(&topic, (5_000..10_000).map(iot::record)).await;
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(down_since.elapsed())).await; // the outage itself
    drop(restart); // `services.sh up`: Cassandra back, ready
    println!("Cassandra was down for {:.1}s", down_since.elapsed().as_secs_f64());
    services.produce(&topic, (10_000..15_000).map(iot::record)).await;

    let session = services.cassandra().await;
    let recovered = Instant::now();
    poll_until(DEADLINE, "all 15,000 rows after the outage", || async {
        (count_rows(&session, &table).await == 15_000).then_some(())
    })
    .await;
    println!("all rows present {:.1}s after Cassandra was back", recovered.elapsed().as_secs_f64());
    let group = format!("connect-{name}");
    poll_until(DEADLINE, "15,000 offsets committed", || async {
        (services.committed_total(&group, &topic, 4) == 15_000).then_some(())
    })
    .await;
    let status = standalone.board().connector(&name).expect("connector");
    assert!(status.tasks.values().all(|t| t.state == spillway::worker::status::State::Running), "{status:?}");
    standalone.stop().await;
}

/// A `spillway standalone` process with its config files under `.run/tests/<name>/`.
fn spawn_spillway(dir: &std::path::Path, worker: &[(String, String)], connector: &[(String, String)]) -> Child {
    std::fs::create_dir_all(dir).expect("test dir");
    let write = |file: &str, pairs: &[(String, String)]| {
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(dir.join(file), text).expect("config file");
    };
    write("worker.properties", worker);
    write("connector.properties", connector);
    spawn_standalone(&spillway_binary(), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_stream_then_restarted_every_row_is_present() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const N: i64 = 30_000;
    let services = Services::from_env();
    let name = unique_name("sigkill");
    let (topic, keyspace, session, connector) = setup(&services, &name).await;
    let table = format!("{keyspace}.readings");
    let dir = run_dir().join("tests").join(&name);
    let worker = worker_pairs(&services);

    services.produce(&topic, (0..20_000).map(iot::record)).await;
    let mut first = spawn_spillway(&dir, &worker, &connector);
    let written_before_kill = poll_until(DEADLINE, "some rows written before the kill", || async {
        let n = count_rows(&session, &table).await;
        (n >= 2_000).then_some(n)
    })
    .await;
    first.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix: no drain, no final commit
    first.wait().expect("reaped");
    println!("killed after {written_before_kill} rows (log: {})", dir.join("spillway.log").display());

    services.produce(&topic, (20_000..N as u64).map(iot::record)).await;
    let mut second = spawn_spillway(&dir, &worker, &connector);
    poll_until(DEADLINE, "every row after the restart", || async {
        (count_rows(&session, &table).await == N).then_some(())
    })
    .await;
    let group = format!("connect-{name}");
    poll_until(DEADLINE, "every offset committed", || async {
        (services.committed_total(&group, &topic, 4) == N).then_some(())
    })
    .await;
    second.kill().expect("stop");
    second.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_killed_with_sigkill_mid_stream_resumes_without_a_missing_row() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (records, n) = source_killed_mid_stream(false).await;
    let ids: std::collections::HashSet<i32> = records.iter().map(id_of).collect();
    assert!((0..n).all(|i| ids.contains(&i)), "a row is missing");
    println!(
        "every one of {n} rows arrived; {} duplicates from re-reading the slices in flight at the kill",
        records.len() - n as usize
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exactly_once_source_killed_with_sigkill_mid_stream_delivers_every_row_exactly_once() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (records, n) = source_killed_mid_stream(true).await;
    let mut ids: Vec<i32> = records.iter().map(id_of).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..n).collect::<Vec<_>>(), "read_committed: every row exactly once");
}

/// Fills a bucketed table, starts a source on it, kills the process with SIGKILL after some
/// records, starts it again until every row arrived, then stops it gracefully. Returns what a
/// `read_committed` consumer then reads, and the row count.
async fn source_killed_mid_stream(exactly_once: bool) -> (Vec<rdkafka::message::OwnedMessage>, i32) {
    const N: i32 = 60_000;
    let services = Services::from_env();
    let name = unique_name(if exactly_once { "source-eos-sigkill" } else { "source-sigkill" });
    let keyspace = unique_name("ks");
    let start = fill_bucketed_events(&services, &keyspace, N).await;
    let topic = unique_name("events");
    services.create_topic(&topic, 2).await;
    let dir = run_dir().join("tests").join(&name);
    let mut worker = worker_pairs(&services);
    worker.push(("offset.storage.file.filename".into(), dir.join("offsets.dat").display().to_string()));
    worker.push(("offset.storage.replication.factor".into(), "1".into()));
    worker.push(("key.converter".into(), "org.apache.kafka.connect.storage.StringConverter".into()));
    let mut connector: Vec<(String, String)> = [
        ("name", name.clone()),
        ("connector.class", "CassandraSource".to_string()),
        ("connect.cassandra.contact.points", services.cassandra_address().to_string()),
        ("connect.cassandra.port", services.cassandra_port().to_string()),
        ("connect.cassandra.key.space", keyspace.clone()),
        (
            "connect.cassandra.kcql",
            format!("INSERT INTO {topic} SELECT * FROM events PK ts INCREMENTALMODE=BUCKETTIMESERIES WITHKEY(id)"),
        ),
        ("connect.cassandra.initial.offset", spillway::connectors::source::slice::format_time(start)),
        ("connect.cassandra.slice.duration", "20000".to_string()),
        ("connect.cassandra.fetch.size", "100".to_string()),
        ("connect.cassandra.bucket.timeseries.mode", "HOUR".to_string()),
        ("connect.cassandra.bucket.timeseries.format", "yyyyMMddHH".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if exactly_once {
        connector.push(("exactly.once.support".into(), "required".into()));
        connector.push(("offsets.storage.topic".into(), unique_name("offsets")));
    }

    let mut first = spawn_spillway(&dir, &worker, &connector);
    let before_kill = poll_until(DEADLINE, "some records produced before the kill", || async {
        let n = services.end_offsets(&topic, 2);
        (n >= 5_000).then_some(n)
    })
    .await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let at_kill = services.end_offsets(&topic, 2);
    println!("killed after {before_kill} records ({at_kill} in the topic)");
    assert!(at_kill < i64::from(N), "the kill came before the end ({at_kill} records): make the table bigger");

    let mut second = spawn_spillway(&dir, &worker, &connector);
    poll_until(DEADLINE, "every row in Kafka after the restart", || async {
        let messages = committed_records(&services, &topic, 2);
        let ids: std::collections::HashSet<i32> = messages.iter().map(id_of).collect();
        (ids.len() == N as usize).then_some(())
    })
    .await;
    // A graceful stop ends (or aborts) the open transaction, so a read_committed consumer can read
    // to the end.
    let _ = std::process::Command::new("kill").arg("-TERM").arg(second.id().to_string()).status();
    second.wait().expect("reaped");
    (committed_records(&services, &topic, 2), N)
}
