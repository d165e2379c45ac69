//! TLS to Cassandra in both dialects, with the trust stores `make up` made (JKS, PKCS#12, PEM): rows
//! arrive over TLS, and a node certificate the trust store does not vouch for fails the task with
//! the reason, instead of being retried forever or falling back to plain text.

use spillway::worker::standalone::Standalone;
use spillway_tests::{Services, count_rows, iot, poll_until, run_dir, unique_name};

use crate::common::{DEADLINE, datastax_sink, rest_json, setup, sink, wait_for_commits, worker};

fn tls_file(name: &str) -> String {
    let path = run_dir().join("tls").join(name);
    assert!(path.exists(), "{} is made by `make up`", path.display());
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenses_sink_writes_over_tls_with_a_jks_trust_store() {
    const N: u64 = 500;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    services.produce(&topic, (0..N).map(iot::record)).await;
    let name = unique_name("tls-lenses");
    let truststore = tls_file("truststore.jks");
    let connector = sink(
        &services,
        &name,
        &topic,
        &keyspace,
        "readings",
        &[
            ("connect.cassandra.ssl.enabled", "true"),
            ("connect.cassandra.trust.store.path", &truststore),
            ("connect.cassandra.trust.store.password", "changeit"),
            ("connect.cassandra.trust.store.type", "JKS"),
        ],
    );
    let standalone = Standalone::start(worker(&services), vec![connector]).await.expect("starts");
    wait_for_commits(&services, &standalone, &name, &topic, 1, N as i64).await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, N as i64);
    standalone.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datastax_sink_over_tls_checks_the_node_certificate() {
    const N: u64 = 300;
    let services = Services::from_env();
    let (topic, keyspace, session) = setup(&services, 1).await;
    services.produce(&topic, (0..N).map(iot::record)).await;
    let mapping_key = format!("topic.{topic}.{keyspace}.readings.mapping");
    let mapping = "sensor_id=value.sensor_id, ts=value.ts, temperature=value.temperature";
    let (trusted, untrusted) = (tls_file("truststore.p12"), tls_file("other.pem"));
    let good = unique_name("tls-datastax");
    let with_store = |name: &str, store: &str| {
        datastax_sink(
            &services,
            name,
            &topic,
            &[
                (&mapping_key, mapping),
                ("ssl.provider", "JDK"),
                ("ssl.truststore.path", store),
                ("ssl.truststore.password", "changeit"),
                ("ssl.hostnameValidation", "true"),
            ],
        )
    };
    let bad = unique_name("tls-untrusted");
    let standalone =
        Standalone::start(worker(&services), vec![with_store(&good, &trusted), with_store(&bad, &untrusted)])
            .await
            .expect("starts");
    wait_for_commits(&services, &standalone, &good, &topic, 1, N as i64).await;
    assert_eq!(count_rows(&session, &format!("{keyspace}.readings")).await, N as i64);
    let trace = poll_until(DEADLINE, "the untrusted connector's task to fail", || async {
        let status = rest_json(&standalone, &format!("/connectors/{bad}/status")).await;
        let task = &status["tasks"][0];
        (task["state"] == "FAILED").then(|| task["trace"].as_str().unwrap_or_default().to_string())
    })
    .await;
    assert!(trace.contains("certificate"), "the trace names the certificate problem: {trace}");
    standalone.stop().await;
}
