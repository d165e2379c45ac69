//! Developer tool used by the Makefile's demo and by benchmarks: produce the sample IoT workload,
//! run CQL and print the rows, wait for a row count. Reads service locations like the tests do.

use std::time::Duration;

use clap::{Parser, Subcommand};
use scylla::value::{CqlValue, Row};
use spillway_tests::{Services, count_rows, create_keyspace, execute, iot, poll_until};

/// The same allocator as `spillway`, so the ceiling in `bench-sink` is measured alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "spillway-dev", about = "Development helper for the Spillway demo and tests")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a keyspace and the IoT readings table in it.
    CreateIotTable {
        /// Keyspace.
        #[arg(long)]
        keyspace: String,
        /// Table name.
        #[arg(long, default_value = "readings")]
        table: String,
    },
    /// Create a topic.
    CreateTopic {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Partitions.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
    },
    /// Produce IoT sensor readings (JSON, keyed by sensor) to a topic.
    ProduceIot {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// How many readings.
        #[arg(long, default_value_t = 5000)]
        count: u64,
        /// Index of the first reading.
        #[arg(long, default_value_t = 0)]
        start: u64,
    },
    /// Wait until a table holds at least COUNT rows.
    WaitRows {
        /// `keyspace.table`.
        #[arg(long)]
        table: String,
        /// Row count to wait for.
        #[arg(long)]
        count: i64,
        /// Seconds before giving up.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Benchmark the sink: Spillway next to the raw ceiling, same services, one run (Markdown out).
    BenchSink {
        /// Events in the pre-filled topic.
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Topic partitions.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// The sink's tasks.max.
        #[arg(long, default_value_t = 2)]
        tasks: u32,
        /// Requests in flight for the ceiling.
        #[arg(long, default_value_t = 1024)]
        concurrency: usize,
        /// The spillway binary to measure.
        #[arg(long, default_value = "target/release/spillway")]
        spillway: std::path::PathBuf,
        /// Rounds of Spillway, ceiling, ceiling, Spillway; medians are reported.
        #[arg(long, default_value_t = 2)]
        rounds: u32,
        /// Another spillway binary (e.g. a build of main) measured in the same rounds, next to
        /// `--spillway`: Spillway, baseline, ceiling, ceiling, baseline, Spillway.
        #[arg(long)]
        baseline: Option<std::path::PathBuf>,
        /// Pin Cassandra alone to the last CPU and everything else (Kafka, the writers) to the
        /// others, as when Cassandra has its own machines.
        #[arg(long)]
        isolate_cassandra: bool,
    },
    /// The source draining a bucketed table of `count` rows to Kafka, next to the raw ceiling (a
    /// scylla-driver program reading and producing the same rows), A-B-B-A rounds (Markdown out).
    BenchSource {
        /// Rows in the table (filled once, kept in keyspace bench_source).
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Buckets the ceiling reads at once (the source's default parallelism).
        #[arg(long, default_value_t = 8)]
        parallelism: usize,
        /// The spillway binary to measure.
        #[arg(long, default_value = "target/release/spillway")]
        spillway: std::path::PathBuf,
        /// Rounds of (Spillway, ceiling, ceiling, Spillway); medians are reported.
        #[arg(long, default_value_t = 1)]
        rounds: u32,
    },
    /// Footprint: an idle worker's start time to `/health` 200 and RSS, Spillway next to Kafka
    /// Connect (standalone, no connector, same worker settings), alternating runs (Markdown out).
    BenchFootprint {
        /// Runs of each worker; medians are reported.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Seconds each worker idles after `/health` answered 200 before its memory is read.
        #[arg(long, default_value_t = 10.0)]
        settle_secs: f64,
        /// The spillway binary to measure.
        #[arg(long, default_value = "target/release/spillway")]
        spillway: std::path::PathBuf,
        /// The java launcher that runs Connect.
        #[arg(long, default_value = "java")]
        java: std::path::PathBuf,
        /// Connect's runtime classpath (`tests/services/services.sh jars connect`); default
        /// `<run dir>/jars/connect`.
        #[arg(long)]
        connect_jars: Option<std::path::PathBuf>,
        /// Extra JVM options for Connect, space-separated (default none: the JVM's defaults).
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        connect_jvm_opts: String,
    },
    /// Failover: three `spillway worker` processes run a sink under load; each run kills one
    /// with SIGKILL and times how long until its task is RUNNING on a survivor (Markdown out).
    BenchFailover {
        /// Kills (each followed by the worker's return).
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// The spillway binary to run.
        #[arg(long, default_value = "target/release/spillway")]
        spillway: std::path::PathBuf,
    },
    /// Wait until a consumer group committed COUNT offsets in total on a topic.
    WaitCommitted {
        /// Consumer group (a sink's is `connect-<name>`).
        #[arg(long)]
        group: String,
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Partitions of the topic.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// Offsets to wait for.
        #[arg(long)]
        count: i64,
        /// Seconds before giving up.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Run one CQL statement and print the rows as a table.
    Cql {
        /// The statement.
        statement: String,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let services = Services::from_env();
    match cli.command {
        Command::CreateIotTable { keyspace, table } => {
            let session = services.cassandra().await;
            create_keyspace(&session, &keyspace).await;
            execute(&session, &iot::TABLE_DDL.replace("{table}", &format!("{keyspace}.{table}"))).await;
            println!("created {keyspace}.{table}");
        }
        Command::CreateTopic { topic, partitions } => {
            services.create_topic(&topic, partitions).await;
            println!("created topic {topic} ({partitions} partitions)");
        }
        Command::ProduceIot { topic, count, start } => {
            let n = services.produce(&topic, (start..start + count).map(iot::record)).await;
            println!("produced {n} readings to {topic}");
        }
        Command::WaitRows { table, count, timeout } => {
            let session = services.cassandra().await;
            let started = std::time::Instant::now();
            poll_until(Duration::from_secs(timeout), &format!("{count} rows in {table}"), || async {
                (count_rows(&session, &table).await >= count).then_some(())
            })
            .await;
            println!("{table} has {count} rows ({:.1}s)", started.elapsed().as_secs_f64());
        }
        Command::BenchSink { count, partitions, tasks, concurrency, spillway, rounds, baseline, isolate_cassandra } => {
            let builds = (spillway.as_path(), baseline.as_deref());
            let placement = if isolate_cassandra {
                spillway_tests::bench::Placement::IsolatedCassandra
            } else {
                spillway_tests::bench::Placement::Shared
            };
            spillway_tests::bench::run(&services, builds, count, partitions, tasks, concurrency, rounds, placement)
                .await;
        }
        Command::BenchSource { count, parallelism, spillway, rounds } => {
            spillway_tests::bench_source::run(&services, &spillway, count, parallelism, rounds).await;
        }
        Command::BenchFailover { runs, spillway } => {
            let binary = std::path::absolute(&spillway).unwrap_or(spillway);
            spillway_tests::cluster::bench_failover(&services, binary, runs.max(1)).await;
        }
        Command::BenchFootprint { runs, settle_secs, spillway, java, connect_jars, connect_jvm_opts } => {
            let run_dir = spillway_tests::run_dir();
            let jars = connect_jars.unwrap_or_else(|| run_dir.join("jars/connect"));
            let options = spillway_tests::footprint::Options {
                runs,
                settle: Duration::from_secs_f64(settle_secs.max(0.0)),
                spillway: std::path::absolute(&spillway).unwrap_or(spillway),
                java,
                connect_jars: std::fs::canonicalize(&jars).unwrap_or(jars),
                connect_jvm_opts: connect_jvm_opts.split_whitespace().map(str::to_string).collect(),
                kafka_bootstrap: services.kafka_bootstrap.clone(),
                dir: run_dir.join("footprint"),
            };
            // Blocking by design (processes, /proc, a poll loop): off the async runtime's threads.
            let result = tokio::task::spawn_blocking(move || spillway_tests::footprint::run(&options)).await;
            if let Err(e) = result.expect("footprint benchmark thread") {
                eprintln!("spillway-dev: bench-footprint: {e}");
                std::process::exit(1);
            }
        }
        Command::WaitCommitted { group, topic, partitions, count, timeout } => {
            let started = std::time::Instant::now();
            poll_until(Duration::from_secs(timeout), &format!("{count} offsets committed by {group}"), || async {
                (services.committed_total(&group, &topic, partitions) >= count).then_some(())
            })
            .await;
            println!("{group} committed {count} offsets of {topic} ({:.1}s)", started.elapsed().as_secs_f64());
        }
        Command::Cql { statement } => {
            let session = services.cassandra().await;
            let result = session.query_unpaged(statement.as_str(), &[]).await.unwrap_or_else(|e| {
                eprintln!("spillway-dev: `{statement}`: {e}");
                std::process::exit(1)
            });
            if let Ok(rows) = result.into_rows_result() {
                let header: Vec<String> = rows.column_specs().iter().map(|c| c.name().to_string()).collect();
                let body: Vec<Vec<String>> = rows
                    .rows::<Row>()
                    .expect("untyped rows")
                    .map(|r| r.expect("row").columns.iter().map(|c| c.as_ref().map_or("null".into(), show)).collect())
                    .collect();
                print_table(&header, &body);
            }
        }
    }
}

fn show(v: &CqlValue) -> String {
    match v {
        CqlValue::Text(s) | CqlValue::Ascii(s) => s.clone(),
        CqlValue::Int(i) => i.to_string(),
        CqlValue::BigInt(i) => i.to_string(),
        CqlValue::SmallInt(i) => i.to_string(),
        CqlValue::TinyInt(i) => i.to_string(),
        CqlValue::Double(d) => d.to_string(),
        CqlValue::Float(f) => f.to_string(),
        CqlValue::Boolean(b) => b.to_string(),
        CqlValue::Uuid(u) => u.to_string(),
        CqlValue::Timestamp(t) => chrono_like(t.0),
        other => format!("{other:?}"),
    }
}

/// Epoch milliseconds as `YYYY-MM-DD hh:mm:ss.mmmZ` (civil-from-days, no extra dependency).
fn chrono_like(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

fn print_table(header: &[String], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect::<Vec<_>>()
            .join("|")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header));
    println!("{}", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    for r in rows {
        println!("{}", line(r));
    }
    println!("\n({} rows)", rows.len());
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_print_in_utc() {
        assert_eq!(super::chrono_like(0), "1970-01-01 00:00:00.000Z");
        assert_eq!(super::chrono_like(spillway_tests::iot::START_MS + 1_500), "2026-01-01 00:00:01.500Z");
        assert_eq!(super::chrono_like(-1), "1969-12-31 23:59:59.999Z");
    }
}
