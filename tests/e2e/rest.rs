//! The REST API driving a real sink: create over REST, pause (nothing consumed) and resume, stop,
//! read, move and reset its offsets, topics, delete; failed tasks restarted by hand and by the
//! worker itself.

use serde_json::{Value, json};
use spillway::config::Settings;
use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, count_rows, execute, iot, poll_until, unique_name};

use crate::common::{DEADLINE, rest_json, setup, sink, worker};

/// Sends `method path` with an optional JSON body; returns the status and the JSON body (or null).
async fn send(standalone: &Standalone, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://{}{path}", standalone.rest_addr());
    let mut request = reqwest::Client::new().request(method.clone(), &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
}

fn config_json(settings: &Settings) -> Value {
    json!(settings.0)
}

async fn wait_state(standalone: &Standalone, name: &str, connector: &str, tasks: &str) -> Value {
    let what = format!("{name}: connector {connector}, tasks {tasks}");
    poll_until(DEADLINE, &what, || async {
        let s = rest_json(standalone, &format!("/connectors/{name}/status")).await;
        let tasks_ok = s["tasks"].as_array().is_some_and(|ts| !ts.is_empty() && ts.iter().all(|t| t["state"] == tasks));
        (s["connector"]["state"] == connector && tasks_ok).then_some(s)
    })
    .await
}

fn offsets_total(offsets: &Value) -> i64 {
    offsets["offsets"].as_array().expect("offsets").iter().map(|o| o["offset"]["kafka_offset"].as_i64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_creates_pauses_resumes_stops_and_moves_offsets() {
    use reqwest::Method;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    let table = format!("{keyspace}.readings");
    let standalone = Standalone::start(worker(&services), vec![]).await.expect("starts with no connector");
    let name = unique_name("rest");
    let config = config_json(&sink(&services, &name, &topic, &keyspace, "readings", &[("tasks.max", "2")]));

    let (code, info) =
        send(&standalone, Method::POST, "/connectors", Some(json!({"name": name, "config": config}))).await;
    assert_eq!(code, 201, "{info}");
    assert_eq!(info["tasks"].as_array().unwrap().len(), 2);
    services.produce(&topic, (0..1000).map(iot::record)).await;
    poll_until(DEADLINE, "1000 rows", || async { (count_rows(&session, &table).await == 1000).then_some(()) }).await;

    // Paused: the tasks keep running but read nothing.
    assert_eq!(send(&standalone, Method::PUT, &format!("/connectors/{name}/pause"), None).await.0, 202);
    wait_state(&standalone, &name, "PAUSED", "PAUSED").await;
    let read_before = records_read(&standalone, &name).await;
    services.produce(&topic, (1000..2000).map(iot::record)).await;
    // Another consumer reads every record: they were there to be fetched.
    assert_eq!(services.consume(&topic, 2000, DEADLINE).await.len(), 2000);
    assert_eq!(count_rows(&session, &table).await, 1000, "a paused connector wrote rows");
    assert_eq!(records_read(&standalone, &name).await, read_before, "a paused connector read records");

    assert_eq!(send(&standalone, Method::PUT, &format!("/connectors/{name}/resume"), None).await.0, 202);
    wait_state(&standalone, &name, "RUNNING", "RUNNING").await;
    poll_until(DEADLINE, "2000 rows", || async { (count_rows(&session, &table).await == 2000).then_some(()) }).await;
    let (code, topics) = send(&standalone, Method::GET, &format!("/connectors/{name}/topics"), None).await;
    assert_eq!((code, topics[&name]["topics"].clone()), (200, json!([topic])));

    // Stopped: no tasks, offsets committed up to the end, and open to change.
    poll_until(DEADLINE, "2000 offsets committed", || async {
        (services.committed_total(&format!("connect-{name}"), &topic, 2) == 2000).then_some(())
    })
    .await;
    assert_eq!(send(&standalone, Method::PUT, &format!("/connectors/{name}/stop"), None).await.0, 204);
    let status = rest_json(&standalone, &format!("/connectors/{name}/status")).await;
    assert_eq!((status["connector"]["state"].clone(), status["tasks"].clone()), (json!("STOPPED"), json!([])));
    let (code, offsets) = send(&standalone, Method::GET, &format!("/connectors/{name}/offsets"), None).await;
    assert_eq!((code, offsets_total(&offsets)), (200, 2000), "{offsets}");
    assert_eq!(offsets["offsets"][0]["partition"], json!({"kafka_topic": topic, "kafka_partition": 0}));

    let rewind = json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]});
    let (code, body) = send(&standalone, Method::PATCH, &format!("/connectors/{name}/offsets"), Some(rewind)).await;
    assert_eq!(
        (code, body["message"].clone()),
        (200, json!("The offsets for this connector have been altered successfully"))
    );
    let (_, offsets) = send(&standalone, Method::GET, &format!("/connectors/{name}/offsets"), None).await;
    let p0 = offsets["offsets"].as_array().unwrap().iter().find(|o| o["partition"]["kafka_partition"] == 0).unwrap();
    assert_eq!(p0["offset"]["kafka_offset"], 0, "{offsets}");

    // Resumed, the rewound partition is read again: the offsets come back to the end, rows unchanged.
    assert_eq!(send(&standalone, Method::PUT, &format!("/connectors/{name}/resume"), None).await.0, 202);
    poll_until(DEADLINE, "offsets back at 2000", || async {
        (services.committed_total(&format!("connect-{name}"), &topic, 2) == 2000).then_some(())
    })
    .await;
    assert_eq!(count_rows(&session, &table).await, 2000);

    assert_eq!(send(&standalone, Method::PUT, &format!("/connectors/{name}/stop"), None).await.0, 204);
    let (code, body) = send(&standalone, Method::DELETE, &format!("/connectors/{name}/offsets"), None).await;
    assert_eq!(
        (code, body["message"].clone()),
        (200, json!("The offsets for this connector have been reset successfully"))
    );
    let (_, offsets) = send(&standalone, Method::GET, &format!("/connectors/{name}/offsets"), None).await;
    assert_eq!(offsets, json!({"offsets": []}));

    assert_eq!(send(&standalone, Method::DELETE, &format!("/connectors/{name}"), None).await.0, 204);
    assert_eq!(send(&standalone, Method::GET, &format!("/connectors/{name}"), None).await.0, 404);
    standalone.stop().await;
}

async fn records_read(standalone: &Standalone, name: &str) -> u64 {
    let url = format!("http://{}/metrics", standalone.rest_addr());
    let text = reqwest::get(&url).await.expect("metrics").text().await.expect("text");
    let prefix = format!("spillway_task_records_read_total{{connector=\"{name}\",");
    text.lines().filter(|l| l.starts_with(&prefix)).map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap()).sum()
}

/// A task that fails because its table is missing: with `task.restart.max.attempts=0` it stays
/// FAILED until restarted over REST; by default the worker restarts it itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_tasks_restart_by_hand_and_by_themselves() {
    use reqwest::Method;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    services.produce(&topic, (0..100).map(iot::record)).await;
    let standalone = Standalone::start(worker(&services), vec![]).await.expect("starts");
    let (manual, automatic) = (unique_name("manual"), unique_name("auto"));
    for (name, table, extra) in [
        (&manual, "late_a", vec![("task.restart.max.attempts", "0")]),
        (&automatic, "late_b", vec![("task.restart.max.attempts", "100"), ("task.restart.backoff.ms", "200")]),
    ] {
        let config = config_json(&sink(&services, name, &topic, &keyspace, table, &extra));
        let (code, body) = send(&standalone, Method::PUT, &format!("/connectors/{name}/config"), Some(config)).await;
        assert_eq!(code, 201, "{body}");
    }
    let failed = wait_state(&standalone, &manual, "RUNNING", "FAILED").await;
    let trace = failed["tasks"][0]["trace"].as_str().unwrap();
    assert!(trace.contains("late_a"), "the trace names the missing table: {trace}");
    poll_until(DEADLINE, "the automatic restart announced", || async {
        let s = rest_json(&standalone, &format!("/connectors/{automatic}/status")).await;
        s["tasks"][0]["trace"].as_str().is_some_and(|t| t.contains("restarting automatically")).then_some(())
    })
    .await;

    for table in ["late_a", "late_b"] {
        execute(&session, &iot::TABLE_DDL.replace("{table}", &format!("{keyspace}.{table}"))).await;
    }
    poll_until(DEADLINE, "the automatic restart writes the rows", || async {
        (count_rows(&session, &format!("{keyspace}.late_b")).await == 100).then_some(())
    })
    .await;
    assert_eq!(rest_json(&standalone, &format!("/connectors/{manual}/status")).await["tasks"][0]["state"], "FAILED");

    let (code, body) = send(
        &standalone,
        Method::POST,
        &format!("/connectors/{manual}/restart?includeTasks=true&onlyFailed=true"),
        None,
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING");
    poll_until(DEADLINE, "the restarted task writes the rows", || async {
        (count_rows(&session, &format!("{keyspace}.late_a")).await == 100).then_some(())
    })
    .await;
    wait_state(&standalone, &manual, "RUNNING", "RUNNING").await;
    standalone.stop().await;
}

/// Created PAUSED, a connector's tasks join the group but its partitions, assigned during the
/// pause, are never read until it is resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_paused_reads_nothing_until_resumed() {
    use reqwest::Method;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 2).await;
    let table = format!("{keyspace}.readings");
    services.produce(&topic, (0..200).map(iot::record)).await;
    let standalone = Standalone::start(worker(&services), vec![]).await.expect("starts");
    let name = unique_name("paused");
    let config = config_json(&sink(&services, &name, &topic, &keyspace, "readings", &[]));
    let body = json!({"name": name, "config": config, "initial_state": "PAUSED"});
    assert_eq!(send(&standalone, Method::POST, "/connectors", Some(body)).await.0, 201);
    wait_state(&standalone, &name, "PAUSED", "PAUSED").await;
    // Its consumer joined the group and got the partitions (the group has it as a member) …
    poll_until(DEADLINE, "the paused task's consumer in its group", || async {
        services.group_members(&format!("connect-{name}")).then_some(())
    })
    .await;
    // … and another consumer reads every record, so they were there to fetch.
    assert_eq!(services.consume(&topic, 200, DEADLINE).await.len(), 200);
    assert_eq!(records_read(&standalone, &name).await, 0, "a connector created PAUSED read records");
    assert_eq!(count_rows(&session, &table).await, 0);

    assert_eq!(send(&standalone, Method::PUT, &format!("/connectors/{name}/resume"), None).await.0, 202);
    poll_until(DEADLINE, "200 rows after resume", || async {
        (count_rows(&session, &table).await == 200).then_some(())
    })
    .await;
    standalone.stop().await;
}
