//! Distributed mode against real Kafka and Cassandra: `spillway worker` processes of one cluster
//! on one machine (different REST ports), killed and restarted as a real deployment would see.
//! Each test has its own cluster (`group.id`, internal topics), so they do not disturb each other;
//! they run one at a time to keep the two cores' load fair.

use std::time::{Duration, Instant};

use serde_json::json;
use spillway_tests::cluster::{Cluster, DEADLINE, get, iot_setup, send, sink, spread};
use spillway_tests::{Services, count_rows, iot, poll_until, spillway_binary, unique_name};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_a_sink_follow_rest_from_any_worker_and_survive_the_leaders_death() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let services = Services::from_env();
    let name = unique_name("spread");
    let (topic, keyspace, session) = iot_setup(&services, 3).await;
    let table = format!("{keyspace}.readings");
    let mut cluster = Cluster::new(&services, &name, spillway_binary());
    cluster.start_workers(3).await;
    let all: Vec<String> = (0..3).map(|i| cluster.worker_id(i)).collect();

    // Created on worker 0, seen there at once, and on the others.
    let (code, _) = send(
        reqwest::Method::POST,
        &format!("{}/connectors", cluster.url(0)),
        Some(sink(&services, &name, &topic, &keyspace, 3)),
    )
    .await;
    assert_eq!(code, 201);
    let (code, info) = get(&format!("{}/connectors/{name}", cluster.url(0))).await;
    assert_eq!((code, info["config"]["tasks.max"].as_str()), (200, Some("3")), "{info}");
    let (code, _) = send(
        reqwest::Method::POST,
        &format!("{}/connectors", cluster.url(2)),
        Some(sink(&services, &name, &topic, &keyspace, 3)),
    )
    .await;
    assert_eq!(code, 409, "the name is taken, whichever worker is asked");

    // One task on each worker once all three have joined, as every worker reports it.
    spread(&cluster, &name, &all).await;
    cluster.tasks_in(2, &name, 3, "RUNNING", &all).await;

    // A plugin uploaded to one worker is loaded by every worker; removed on another, it is gone
    // from all.
    let wasm = std::fs::read(spillway_tests::plugin_dist().join("keep.wasm")).expect("keep.wasm");
    let response = reqwest::Client::new()
        .put(format!("{}/plugins/cluster-keep", cluster.url(0)))
        .body(wasm)
        .send()
        .await
        .expect("PUT /plugins");
    assert_eq!(response.status().as_u16(), 201, "{:?}", response.text().await);
    for via in [1, 2] {
        let url = format!("{}/plugins/cluster-keep", cluster.url(via));
        poll_until(DEADLINE, &format!("the uploaded plugin on worker {via}"), || async {
            (get(&url).await.0 == 200).then_some(())
        })
        .await;
    }
    let (code, _) = send(reqwest::Method::DELETE, &format!("{}/plugins/cluster-keep", cluster.url(2)), None).await;
    assert_eq!(code, 204);
    let url = format!("{}/plugins/cluster-keep", cluster.url(0));
    poll_until(DEADLINE, "the plugin removed from worker 0", || async { (get(&url).await.0 == 404).then_some(()) })
        .await;

    // Pause on one worker pauses the tasks on all; resume on another resumes them.
    let (code, _) = send(reqwest::Method::PUT, &format!("{}/connectors/{name}/pause", cluster.url(1)), None).await;
    assert_eq!(code, 202);
    cluster.tasks_in(0, &name, 3, "PAUSED", &all).await;
    let (code, _) = send(reqwest::Method::PUT, &format!("{}/connectors/{name}/resume", cluster.url(2)), None).await;
    assert_eq!(code, 202);
    cluster.tasks_in(0, &name, 3, "RUNNING", &all).await;

    const N: i64 = 30_000;
    services.produce(&topic, (0..N as u64 / 3).map(iot::record)).await;
    poll_until(DEADLINE, "the first third of the rows", || async {
        (count_rows(&session, &table).await == N / 3).then_some(())
    })
    .await;
    // The topics its tasks consumed, wherever they run, from any worker; a reset on one clears it
    // on all.
    let topics = |i: usize| format!("{}/connectors/{name}/topics", cluster.url(i));
    let active = json!({ name.as_str(): { "topics": [topic.as_str()] } });
    poll_until(DEADLINE, "the active topic, asking worker 2", || async {
        (get(&topics(2)).await.1 == active).then_some(())
    })
    .await;
    let (code, _) = send(reqwest::Method::PUT, &format!("{}/reset", topics(1)), None).await;
    assert_eq!(code, 202);
    let none = json!({ name.as_str(): { "topics": [] } });
    poll_until(DEADLINE, "no active topic after the reset, asking worker 0", || async {
        (get(&topics(0)).await.1 == none).then_some(())
    })
    .await;

    // Load, then the leader (the first worker, which claimed first) dies mid-stream.
    services.produce(&topic, (N as u64 / 3..2 * N as u64 / 3).map(iot::record)).await;
    poll_until(DEADLINE, "rows flowing", || async {
        (count_rows(&session, &table).await > N / 3 + 1_000).then_some(())
    })
    .await;
    let leader = 0;
    cluster.kill(leader);
    let killed = Instant::now();
    services.produce(&topic, (2 * N as u64 / 3..N as u64).map(iot::record)).await;
    let survivors: Vec<String> = vec![all[1].clone(), all[2].clone()];
    cluster.tasks_in(1, &name, 3, "RUNNING", &survivors).await;
    let failover = killed.elapsed();
    poll_until(DEADLINE, "every row after the failover", || async {
        (count_rows(&session, &table).await == N).then_some(())
    })
    .await;
    println!(
        "failover: the dead leader's task RUNNING on a survivor {:.1} s after kill -9; all {N} rows {:.1} s after",
        failover.as_secs_f64(),
        killed.elapsed().as_secs_f64()
    );
    // A new leader serves the survivors: changes still go through, from either of them.
    let (code, _) = send(reqwest::Method::DELETE, &format!("{}/connectors/{name}", cluster.url(2)), None).await;
    assert_eq!(code, 204);
    let (code, _) = get(&format!("{}/connectors/{name}", cluster.url(2))).await;
    assert_eq!(code, 404, "deleted, as the worker that was asked sees at once");
    poll_until(DEADLINE, "the delete on the other survivor", || async {
        (get(&format!("{}/connectors/{name}", cluster.url(1))).await.0 == 404).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let services = Services::from_env();
    let name = unique_name("rolling");
    let (topic, keyspace, session) = iot_setup(&services, 4).await;
    let table = format!("{keyspace}.readings");
    let mut cluster = Cluster::new(&services, &name, spillway_binary());
    cluster.start_workers(3).await;
    let (code, _) = send(
        reqwest::Method::POST,
        &format!("{}/connectors", cluster.url(1)),
        Some(sink(&services, &name, &topic, &keyspace, 3)),
    )
    .await;
    assert_eq!(code, 201);
    cluster.tasks_in(0, &name, 3, "RUNNING", &[]).await;

    const BATCH: u64 = 5_000;
    let mut produced = 0;
    for i in 0..3 {
        services.produce(&topic, (produced..produced + BATCH).map(iot::record)).await;
        produced += BATCH;
        let port = cluster.stop(i);
        let log = std::fs::read_to_string(cluster.dir.join(format!("worker-{i}.log"))).expect("worker log");
        assert_eq!(log.matches("left the cluster").count(), 1, "a stopped worker leaves the group before it exits");
        // Records keep arriving while the worker is away.
        services.produce(&topic, (produced..produced + BATCH).map(iot::record)).await;
        produced += BATCH;
        cluster.restart(i, port);
        cluster.wait_ready(i).await;
        let via = (i + 1) % 3;
        cluster.tasks_in(via, &name, 3, "RUNNING", &[]).await;
    }
    poll_until(DEADLINE, "every row after the rolling restart", || async {
        (count_rows(&session, &table).await == produced as i64).then_some(())
    })
    .await;
    let group = format!("connect-{name}");
    poll_until(DEADLINE, "every offset committed", || async {
        (services.committed_total(&group, &topic, 4) == produced as i64).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_topic_with_two_partitions_is_refused_with_the_reason() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let services = Services::from_env();
    let name = unique_name("badtopic");
    services.create_topic(&format!("{name}-configs"), 2).await;
    let mut cluster = Cluster::new(&services, &name, spillway_binary());
    cluster.start(0);
    let mut child = cluster.take(0);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < DEADLINE, "the worker should refuse to start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(cluster.dir.join("worker-0.log")).expect("log");
    assert!(log.contains(&format!("'{name}-configs'")) && log.contains("must have exactly 1"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_task_whose_worker_dies_resumes_on_another_from_its_committed_offset() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const N: i32 = 30_000;
    let services = Services::from_env();
    let name = unique_name("source-failover");
    let keyspace = unique_name("ks");
    let start = spillway_tests::fill_bucketed_events(&services, &keyspace, N).await;
    let topic = unique_name("events");
    services.create_topic(&topic, 2).await;
    let mut cluster = Cluster::new(&services, &name, spillway_binary());
    cluster.settings.push(("key.converter".into(), "org.apache.kafka.connect.storage.StringConverter".into()));
    cluster.start_workers(2).await;
    let connector = json!({
        "name": name,
        "config": {
            "connector.class": "io.lenses.streamreactor.connect.cassandra.source.CassandraSourceConnector",
            "connect.cassandra.contact.points": services.cassandra_address(),
            "connect.cassandra.port": services.cassandra_port().to_string(),
            "connect.cassandra.key.space": keyspace,
            "connect.cassandra.kcql": format!("INSERT INTO {topic} SELECT * FROM events PK ts INCREMENTALMODE=BUCKETTIMESERIES WITHKEY(id)"),
            "connect.cassandra.initial.offset": spillway::connectors::source::slice::format_time(start),
            // Slices as wide as ten rows: every boundary falls on a row, so the resumed task
            // must skip the boundary rows the dead one produced.
            "connect.cassandra.slice.duration": "3600",
            "connect.cassandra.fetch.size": "100",
            "connect.cassandra.bucket.timeseries.mode": "HOUR",
            "connect.cassandra.bucket.timeseries.format": "yyyyMMddHH",
        }
    });
    let (code, body) = send(reqwest::Method::POST, &format!("{}/connectors", cluster.url(0)), Some(connector)).await;
    assert_eq!(code, 201, "{body}");
    let owner = cluster.tasks_in(0, &name, 1, "RUNNING", &[]).await.remove(0);
    let victim = (0..2).find(|i| cluster.worker_id(*i) == owner).expect("the task runs on a worker of the cluster");
    let survivor = 1 - victim;
    poll_until(DEADLINE, "some records produced before the kill", || async {
        (services.end_offsets(&topic, 2) >= 3_000).then_some(())
    })
    .await;
    cluster.kill(victim);
    let killed = Instant::now();
    let at_kill = services.end_offsets(&topic, 2);
    assert!(at_kill < i64::from(N), "the kill came before the end ({at_kill} records): make the table bigger");
    cluster.tasks_in(survivor, &name, 1, "RUNNING", &[cluster.worker_id(survivor)]).await;
    println!("source failover: its task RUNNING on the survivor {:.1} s after kill -9", killed.elapsed().as_secs_f64());
    poll_until(DEADLINE, "every row in Kafka after the failover", || async {
        let ids: std::collections::HashSet<i32> =
            spillway_tests::committed_records(&services, &topic, 2).iter().map(spillway_tests::id_of).collect();
        (ids.len() == N as usize).then_some(())
    })
    .await;
    // Offsets and records travel in one transaction: the survivor resumed exactly where the dead
    // worker's last committed transaction ended, so nothing was read twice either.
    let (code, _) =
        send(reqwest::Method::PUT, &format!("{}/connectors/{name}/stop", cluster.url(survivor)), None).await;
    assert_eq!(code, 204);
    poll_until(DEADLINE, "the stopped connector's offsets", || async {
        let (code, body) = get(&format!("{}/connectors/{name}/offsets", cluster.url(survivor))).await;
        (code == 200 && body["offsets"].as_array().is_some_and(|o| !o.is_empty())).then_some(())
    })
    .await;
    let mut ids: Vec<i32> =
        spillway_tests::committed_records(&services, &topic, 2).iter().map(spillway_tests::id_of).collect();
    ids.sort_unstable();
    let twice: Vec<i32> = ids.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    assert!(twice.is_empty(), "{} rows twice, e.g. {:?}", twice.len(), &twice[..twice.len().min(20)]);
    assert_eq!(ids.len(), N as usize, "every row once");
}
