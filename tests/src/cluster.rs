//! A cluster of `spillway worker` processes on this machine (each on its own REST port) sharing a
//! fresh `group.id` and internal topics, for the cluster tests and the failover benchmark.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Services, iot, poll_until, run_dir};

/// How long any one wait of the harness may take.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Worker processes of one cluster; killed when dropped.
#[derive(Debug)]
pub struct Cluster {
    /// Config files and logs (`worker-<i>.properties`, `worker-<i>.log`).
    pub dir: PathBuf,
    /// The workers' settings (each adds its own `listeners`).
    pub settings: Vec<(String, String)>,
    binary: PathBuf,
    workers: Vec<Option<(u16, Child)>>,
}

impl Cluster {
    /// A cluster named `name` (its group and topic prefix) of `binary` workers, none started yet.
    pub fn new(services: &Services, name: &str, binary: PathBuf) -> Self {
        let dir = run_dir().join("tests").join(name);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let settings = [
            ("bootstrap.servers", services.kafka_bootstrap.clone()),
            ("group.id", name.to_string()),
            ("config.storage.topic", format!("{name}-configs")),
            ("status.storage.topic", format!("{name}-status")),
            ("offset.storage.topic", format!("{name}-offsets")),
            ("plugin.storage.topic", format!("{name}-plugins")),
            ("config.storage.replication.factor", "1".into()),
            ("status.storage.replication.factor", "1".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("offset.storage.partitions", "5".into()),
            ("offset.flush.interval.ms", "200".into()),
            ("value.converter", "org.apache.kafka.connect.json.JsonConverter".into()),
            ("value.converter.schemas.enable", "false".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self { dir, settings, binary, workers: Vec::new() }
    }

    /// Starts `n` workers and waits until each answers REST.
    pub async fn start_workers(&mut self, n: usize) {
        for i in 0..n {
            self.start(i);
        }
        for i in 0..n {
            self.wait_ready(i).await;
        }
    }

    /// Starts worker `i` (a new one when `i` is the count), on its old port when it had one.
    pub fn start(&mut self, i: usize) {
        let port = self.workers.get(i).and_then(|w| w.as_ref().map(|(p, _)| *p)).unwrap_or_else(free_port);
        self.start_on(i, port);
    }

    fn start_on(&mut self, i: usize, port: u16) {
        let file = self.dir.join(format!("worker-{i}.properties"));
        let mut text: String = self.settings.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        text.push_str(&format!("listeners=http://127.0.0.1:{port}\n"));
        std::fs::write(&file, text).expect("worker file");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("worker-{i}.log")))
            .expect("log file");
        let child = std::process::Command::new(&self.binary)
            .arg("worker")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        if i == self.workers.len() {
            self.workers.push(Some((port, child)));
        } else {
            self.workers[i] = Some((port, child));
        }
    }

    /// Worker `i`'s REST base URL.
    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.port(i))
    }

    fn port(&self, i: usize) -> u16 {
        self.workers[i].as_ref().map(|(p, _)| *p).expect("a running worker")
    }

    /// Worker `i`'s id, as statuses name it.
    pub fn worker_id(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.port(i))
    }

    /// SIGKILL: no drain, no commit, no goodbye to the group. Returns its port, to start it again.
    pub fn kill(&mut self, i: usize) -> u16 {
        let (port, mut child) = self.workers[i].take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        port
    }

    /// Starts worker `i` again after [`Self::kill`] or [`Self::stop`] on `port`.
    pub fn restart(&mut self, i: usize, port: u16) {
        self.start_on(i, port);
    }

    /// SIGTERM and wait: a graceful stop. Returns its port.
    pub fn stop(&mut self, i: usize) -> u16 {
        let (port, mut child) = self.workers[i].take().expect("running");
        let status = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "SIGTERM");
        let stopped = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            assert!(stopped.elapsed() < DEADLINE, "worker {i} did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        port
    }

    /// Takes worker `i`'s process out of the cluster's care (the caller waits for it).
    pub fn take(&mut self, i: usize) -> Child {
        self.workers[i].take().expect("started").1
    }

    /// Waits until worker `i` answers REST; fails at once, with its log, if it exited instead.
    pub async fn wait_ready(&mut self, i: usize) {
        let url = format!("{}/connectors", self.url(i));
        let started = Instant::now();
        loop {
            if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some((_, child)) = self.workers[i].as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = std::fs::read_to_string(self.dir.join(format!("worker-{i}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!("worker {i} exited ({status}) before its REST API answered; its log ends:\n{}", tail.join("\n"));
            }
            assert!(started.elapsed() < DEADLINE, "timed out after {DEADLINE:?} waiting for worker {i}'s REST API");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The connector's task workers, once it has `count` tasks all in `state` (and, with `on`
    /// not empty, each on one of those workers), asking worker `via`.
    pub async fn tasks_in(&self, via: usize, name: &str, count: usize, state: &str, on: &[String]) -> Vec<String> {
        let url = format!("{}/connectors/{name}/status", self.url(via));
        poll_until(DEADLINE, &format!("{count} tasks of {name} {state} (asking worker {via})"), || async {
            let (code, status) = get(&url).await;
            let tasks = status["tasks"].as_array().filter(|_| code == 200)?;
            let ok = tasks.len() == count
                && tasks
                    .iter()
                    .all(|t| t["state"] == state && (on.is_empty() || on.iter().any(|w| t["worker_id"] == w.as_str())));
            ok.then(|| tasks.iter().map(|t| t["worker_id"].as_str().unwrap_or_default().to_string()).collect())
        })
        .await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, mut child) in self.workers.iter_mut().filter_map(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// `GET url`: (status, JSON body or null).
pub async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A request with an optional JSON body: (status, JSON body or null).
pub async fn send(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A Lenses sink connector (Connect's create body) for `topic` → `keyspace.readings`.
pub fn sink(services: &Services, name: &str, topic: &str, keyspace: &str, tasks: u32) -> Value {
    json!({
        "name": name,
        "config": {
            "connector.class": "io.lenses.streamreactor.connect.cassandra.sink.CassandraSinkConnector",
            "tasks.max": tasks.to_string(),
            "topics": topic,
            "connect.cassandra.contact.points": services.cassandra_address(),
            "connect.cassandra.port": services.cassandra_port().to_string(),
            "connect.cassandra.key.space": keyspace,
            "connect.cassandra.kcql": format!("INSERT INTO readings SELECT * FROM {topic}"),
        }
    })
}

/// A fresh topic of `partitions` and a keyspace with the IoT readings table:
/// (topic, keyspace, session).
pub async fn iot_setup(services: &Services, partitions: i32) -> (String, String, scylla::client::session::Session) {
    let topic = crate::unique_name("cluster");
    let keyspace = crate::unique_name("ks");
    services.create_topic(&topic, partitions).await;
    let session = services.cassandra().await;
    crate::create_keyspace(&session, &keyspace).await;
    crate::execute(&session, &iot::TABLE_DDL.replace("{table}", &format!("{keyspace}.readings"))).await;
    (topic, keyspace, session)
}

/// `make bench-failover`: three workers run a sink (3 tasks) under load; each run kills a worker
/// with SIGKILL and measures the time until its task is RUNNING on a survivor, and until every
/// produced row is in Cassandra; the worker then comes back and the tasks spread again. Prints a
/// Markdown table with each run and the median.
pub async fn bench_failover(services: &Services, binary: PathBuf, runs: u32) {
    let name = crate::unique_name("failover");
    let (topic, keyspace, session) = iot_setup(services, 3).await;
    let table = format!("{keyspace}.readings");
    let mut cluster = Cluster::new(services, &name, binary);
    cluster.start_workers(3).await;
    let (code, body) = send(
        reqwest::Method::POST,
        &format!("{}/connectors", cluster.url(0)),
        Some(sink(services, &name, &topic, &keyspace, 3)),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let mut produced = 0u64;
    let mut rows = Vec::new();
    println!("| run | killed | task RUNNING elsewhere | every row in Cassandra |\n|---:|---|---:|---:|");
    for run in 0..runs as usize {
        let all: Vec<String> = (0..3).map(|i| cluster.worker_id(i)).collect();
        spread(&cluster, &name, &all).await;
        services.produce(&topic, (produced..produced + 10_000).map(iot::record)).await;
        produced += 10_000;
        let victim = run % 3;
        let port = cluster.kill(victim);
        let killed = Instant::now();
        services.produce(&topic, (produced..produced + 10_000).map(iot::record)).await;
        produced += 10_000;
        let survivors: Vec<String> = (0..3).filter(|i| *i != victim).map(|i| cluster.worker_id(i)).collect();
        cluster.tasks_in((victim + 1) % 3, &name, 3, "RUNNING", &survivors).await;
        let running = killed.elapsed();
        poll_until(DEADLINE, "every row after the failover", || async {
            (crate::count_rows(&session, &table).await == produced as i64).then_some(())
        })
        .await;
        let complete = killed.elapsed();
        println!(
            "| {} | worker {victim} | {:.1} s | {:.1} s |",
            run + 1,
            running.as_secs_f64(),
            complete.as_secs_f64()
        );
        rows.push((running, complete));
        cluster.restart(victim, port);
        cluster.wait_ready(victim).await;
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let running = median(rows.iter().map(|r| r.0).collect());
    let complete = median(rows.iter().map(|r| r.1).collect());
    println!("| median | | {:.1} s | {:.1} s |", running.as_secs_f64(), complete.as_secs_f64());
}

/// Waits until each of `all` runs one of the connector's three tasks.
pub async fn spread(cluster: &Cluster, name: &str, all: &[String]) {
    let url = format!("{}/connectors/{name}/status", cluster.url(0));
    poll_until(DEADLINE, "one RUNNING task per worker", || async {
        let (_, status) = get(&url).await;
        let tasks = status["tasks"].as_array()?;
        let mut on: Vec<&str> =
            tasks.iter().filter(|t| t["state"] == "RUNNING").filter_map(|t| t["worker_id"].as_str()).collect();
        on.sort_unstable();
        on.dedup();
        (on.len() == all.len() && on.iter().all(|w| all.iter().any(|a| a == w))).then_some(())
    })
    .await;
}
