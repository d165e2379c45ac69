//! `make bench-footprint`: an idle worker's footprint, Spillway next to Kafka Connect (run from the
//! Maven Central jars of `tests/services/connect`), measured the same way in one run.
//!
//! Each run starts the worker in standalone mode with the same `worker.properties` and no
//! connector, and measures:
//! - start time: from just before the process is spawned until `GET /health` answers 200 (polled
//!   every 20 ms; Connect answers 503 until its startup has completed);
//! - after a settle period of idling: `VmRSS` (the RSS after settle), the largest `VmRSS` sampled
//!   every 200 ms over the settle period (peak RSS), `VmHWM` (the kernel's high-water mark since the
//!   process started, startup included), anonymous memory (`RssAnon`) and the thread count;
//! - CPU seconds (user + system) used until `/health` answered 200.
//!
//! Then the process gets SIGTERM (SIGKILL after 30 s). Each run waits for a quiet machine first (the
//! start time is CPU-bound: a build elsewhere would be billed to it), and a run during whose start
//! other processes used more than a quarter core on average is measured again (up to twice). The two alternate (S C, C S, S C, …) so that
//! a drift of the machine over the session hits both alike; medians are reported.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How often `/health` is polled while a worker starts.
const HEALTH_POLL: Duration = Duration::from_millis(20);
/// How long a worker may take to answer `/health` with 200.
const HEALTH_DEADLINE: Duration = Duration::from_secs(120);
/// How often memory is sampled while the worker idles.
const RSS_SAMPLE: Duration = Duration::from_millis(200);
/// How long a worker may take to exit after SIGTERM before it gets SIGKILL.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// What to measure and with what.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs of each worker.
    pub runs: u32,
    /// Idle time after `/health` answered 200, before memory is read.
    pub settle: Duration,
    /// The `spillway` binary.
    pub spillway: PathBuf,
    /// The `java` launcher for Connect.
    pub java: PathBuf,
    /// The folder with Connect's runtime classpath (`services.sh jars connect`).
    pub connect_jars: PathBuf,
    /// Extra JVM options for Connect (none by default: the JVM's own defaults).
    pub connect_jvm_opts: Vec<String>,
    /// Kafka's bootstrap servers (both workers read `bootstrap.servers`).
    pub kafka_bootstrap: String,
    /// Where each run's worker.properties, offsets file and log go.
    pub dir: PathBuf,
}

/// The two workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    /// `spillway standalone worker.properties`.
    Spillway,
    /// `java -cp <jars>/* org.apache.kafka.connect.cli.ConnectStandalone worker.properties`.
    Connect,
}

impl Worker {
    fn slug(self) -> &'static str {
        match self {
            Worker::Spillway => "spillway",
            Worker::Connect => "connect",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which worker.
    pub worker: Worker,
    /// From spawn to the first `/health` 200.
    pub start: Duration,
    /// CPU seconds (user + system) used until then.
    pub start_cpu_seconds: f64,
    /// `VmRSS` at the end of the settle period (bytes).
    pub rss: u64,
    /// `RssAnon` at the end of the settle period (bytes).
    pub rss_anon: u64,
    /// The largest `VmRSS` sampled over the settle period (bytes).
    pub peak_rss: u64,
    /// `VmHWM` at the end of the settle period: the peak since the process started (bytes).
    pub hwm: u64,
    /// Threads at the end of the settle period.
    pub threads: u64,
    /// From SIGTERM to exit.
    pub stop: Duration,
    /// Whether it needed SIGKILL.
    pub killed: bool,
    /// Cores the rest of the machine kept busy in the second before the run.
    pub busy_before: f64,
    /// CPU seconds other processes used while the worker started (machine minus worker).
    pub others_cpu_during_start: f64,
}

impl Sample {
    /// Whether other processes used enough CPU during the start to distort it (more than the
    /// quiet threshold on average, with 50 ms of slack for the clock-tick granularity).
    pub fn disturbed(&self) -> bool {
        self.others_cpu_during_start > 0.05 + QUIET_CORES * self.start.as_secs_f64()
    }
}

/// How busy the machine may be (cores, everything but idle and iowait) before a run starts: the
/// start time is CPU-bound, so another process's build or test must not be billed to a worker.
const QUIET_CORES: f64 = 0.25;
/// How long to wait for a quiet machine before measuring anyway (with a warning).
const QUIET_DEADLINE: Duration = Duration::from_secs(300);

/// Busy jiffies of the whole machine so far, from the first line of `/proc/stat`.
fn busy_jiffies() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    total - idle
}

/// Cores the machine keeps busy over the next second.
fn machine_busy() -> f64 {
    let before = busy_jiffies();
    std::thread::sleep(Duration::from_secs(1));
    (busy_jiffies() - before) as f64 / 100.0 // USER_HZ = 100
}

/// Waits until the machine is quiet (under [`QUIET_CORES`] over a second); returns how busy it
/// was when the run started.
fn wait_until_quiet() -> f64 {
    let deadline = Instant::now() + QUIET_DEADLINE;
    let mut warned = false;
    loop {
        let busy = machine_busy();
        if busy < QUIET_CORES {
            return busy;
        }
        if !warned {
            eprintln!("waiting for the machine to be quiet ({busy:.2} cores busy; another build or test?)");
            warned = true;
        }
        if Instant::now() > deadline {
            eprintln!("the machine is still busy ({busy:.2} cores) after {QUIET_DEADLINE:?}; measuring anyway");
            return busy;
        }
    }
}

/// A child process killed (SIGKILL) and reaped if the measurement stops early (a panic, an error):
/// nothing is left running.
struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 free right now (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port on 127.0.0.1")
}

/// The status code of `GET /health`, or `None` when nothing answers (yet).
fn health_status(port: u16) -> Option<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    // The status line is all we need: "HTTP/1.1 200 OK".
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    std::str::from_utf8(&head).ok()?.split_whitespace().nth(1)?.parse().ok()
}

/// Memory and threads of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
struct ProcStatus {
    rss: u64,
    rss_anon: u64,
    hwm: u64,
    threads: u64,
}

fn proc_status(pid: u32) -> ProcStatus {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim_start_matches(':').trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    ProcStatus {
        rss: field("VmRSS") * 1024,
        rss_anon: field("RssAnon") * 1024,
        hwm: field("VmHWM") * 1024,
        threads: field("Threads"),
    }
}

/// The last lines of a log, for an error message.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The log4j2 configuration Connect runs with (INFO to the console, like the release's).
fn connect_log4j2() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("services/conf/connect-log4j2.properties")
}

/// The same worker settings for both: Kafka, a loopback listener, a standalone offsets file and
/// Connect's JSON converters. No `plugin.path` (Connect reads an empty element as the working
/// directory and scans it), no connector.
fn worker_properties(options: &Options, dir: &Path, port: u16) -> String {
    format!(
        "bootstrap.servers={}\nlisteners=http://127.0.0.1:{port}\noffset.storage.file.filename={}\n\
         key.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\n",
        options.kafka_bootstrap,
        dir.join("standalone.offsets").display()
    )
}

fn command(options: &Options, worker: Worker, worker_file: &Path) -> Command {
    match worker {
        Worker::Spillway => {
            let mut c = Command::new(&options.spillway);
            c.arg("standalone").arg(worker_file);
            c
        }
        Worker::Connect => {
            let mut c = Command::new(&options.java);
            c.arg("-cp")
                .arg(format!("{}/*", options.connect_jars.display()))
                .arg(format!("-Dlog4j2.configurationFile={}", connect_log4j2().display()))
                .args(&options.connect_jvm_opts)
                .arg("org.apache.kafka.connect.cli.ConnectStandalone")
                .arg(worker_file);
            c
        }
    }
}

/// One run of one worker: start, wait for `/health` 200, idle, read memory, stop.
pub fn measure(options: &Options, worker: Worker, run: u32) -> Result<Sample, String> {
    let busy_before = wait_until_quiet();
    let dir = options.dir.join(format!("{}-{run}", worker.slug()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let port = free_port();
    let worker_file = dir.join("worker.properties");
    std::fs::write(&worker_file, worker_properties(options, &dir, port)).map_err(|e| e.to_string())?;
    let log_path = dir.join(format!("{}.log", worker.slug()));
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut cmd = command(options, worker, &worker_file);
    cmd.current_dir(&dir).stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log);

    let machine0 = busy_jiffies();
    let started = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("starting {:?}: {e}", cmd.get_program()))?;
    let mut running = Running { child };
    let pid = running.child.id();
    let failed = |why: String| {
        format!("{} {why}; last lines of {}:\n{}", worker.slug(), log_path.display(), tail(&log_path, 30))
    };
    let start = loop {
        if let Some(200) = health_status(port) {
            break started.elapsed();
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(failed(format!("exited ({status}) before /health answered 200")));
        }
        if started.elapsed() > HEALTH_DEADLINE {
            return Err(failed(format!("did not answer /health with 200 within {HEALTH_DEADLINE:?}")));
        }
        std::thread::sleep(HEALTH_POLL);
    };
    let start_cpu_seconds = crate::bench::process_usage(pid).0;
    let others_cpu_during_start = ((busy_jiffies() - machine0) as f64 / 100.0 - start_cpu_seconds).max(0.0);

    let settle_end = Instant::now() + options.settle;
    let mut peak_rss = proc_status(pid).rss;
    while Instant::now() < settle_end {
        std::thread::sleep(RSS_SAMPLE.min(settle_end.saturating_duration_since(Instant::now())));
        peak_rss = peak_rss.max(proc_status(pid).rss);
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(failed(format!("exited ({status}) while idling")));
        }
    }
    let last = proc_status(pid);
    peak_rss = peak_rss.max(last.rss);

    let stopping = Instant::now();
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let mut killed = false;
    loop {
        if let Ok(Some(_)) = running.child.try_wait() {
            break;
        }
        if stopping.elapsed() > STOP_DEADLINE {
            let _ = running.child.kill();
            let _ = running.child.wait();
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stop = stopping.elapsed();
    Ok(Sample {
        worker,
        start,
        start_cpu_seconds,
        rss: last.rss,
        rss_anon: last.rss_anon,
        peak_rss,
        hwm: last.hwm,
        threads: last.threads,
        stop,
        killed,
        busy_before,
        others_cpu_during_start,
    })
}

/// The median of some values (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    (values[(n - 1) / 2] + values[n / 2]) / 2.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `java -version`, the launcher's real path and the flags the JVM picks by default on this machine.
fn java_description(options: &Options) -> Vec<String> {
    let mut out = Vec::new();
    let resolved = if options.java.components().count() > 1 {
        Some(options.java.clone())
    } else {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(&options.java)).find(|p| p.is_file()))
    };
    let real = resolved.as_ref().and_then(|p| std::fs::canonicalize(p).ok());
    out.push(format!(
        "java: {} → {}",
        resolved.as_ref().map_or_else(|| options.java.display().to_string(), |p| p.display().to_string()),
        real.map_or_else(|| "?".into(), |p| p.display().to_string())
    ));
    match Command::new(&options.java).arg("-version").output() {
        Ok(o) => out.extend(String::from_utf8_lossy(&o.stderr).lines().map(|l| format!("  {l}"))),
        Err(e) => out.push(format!("  `java -version` failed: {e}")),
    }
    // What "the JVM's defaults" are here: heap sizes and collector chosen ergonomically.
    let mut flags = Command::new(&options.java);
    flags.args(&options.connect_jvm_opts).args(["-XX:+PrintFlagsFinal", "-version"]);
    if let Ok(o) = flags.output() {
        let text = String::from_utf8_lossy(&o.stdout);
        let value = |name: &str| {
            text.lines().find_map(|l| {
                let mut parts = l.split_whitespace();
                let (_type, flag, _eq, value) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                (flag == name).then(|| value.to_string())
            })
        };
        let bytes = |name: &str| {
            value(name).and_then(|v| v.parse::<u64>().ok()).map_or("?".into(), |b| format!("{:.0} MiB", mib(b)))
        };
        let gc = ["UseG1GC", "UseSerialGC", "UseParallelGC", "UseZGC", "UseShenandoahGC"]
            .into_iter()
            .find(|f| value(f).as_deref() == Some("true"))
            .unwrap_or("?");
        out.push(format!(
            "  JVM ergonomics with the options below: {gc}, InitialHeapSize {}, MaxHeapSize {}",
            bytes("InitialHeapSize"),
            bytes("MaxHeapSize")
        ));
    }
    out.push(format!(
        "  Connect's JVM options: {}",
        if options.connect_jvm_opts.is_empty() {
            "none (the JVM's defaults)".to_string()
        } else {
            options.connect_jvm_opts.join(" ")
        }
    ));
    for var in ["JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS"] {
        if let Some(v) = std::env::var_os(var) {
            out.push(format!("  warning: {var}={} is set and applies to Connect", v.to_string_lossy()));
        }
    }
    out
}

/// The machine: CPU model and count, memory, kernel.
fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("?", |v| v.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores ({model}), {:.1} GiB, Linux {}", mem_kib as f64 / (1024.0 * 1024.0), kernel.trim())
}

/// The Connect version, from the `connect-runtime-<v>.jar` on the classpath.
fn connect_version(jars: &Path) -> String {
    std::fs::read_dir(jars)
        .ok()
        .and_then(|entries| {
            entries.filter_map(Result::ok).find_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("connect-runtime-").and_then(|v| v.strip_suffix(".jar")).map(str::to_string)
            })
        })
        .unwrap_or_else(|| "?".into())
}

/// The whole side-by-side run; prints the machine, the JVM, every run and a Markdown summary.
pub fn run(options: &Options) -> Result<(), String> {
    if !options.spillway.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release -p spillway`",
            options.spillway.display()
        ));
    }
    let version = connect_version(&options.connect_jars);
    if version == "?" {
        return Err(format!(
            "no connect-runtime jar in {}: resolve them with `tests/services/services.sh jars connect`",
            options.connect_jars.display()
        ));
    }
    let spillway_version = Command::new(&options.spillway)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("machine: {}", machine_description());
    println!("spillway: {} ({})", options.spillway.display(), spillway_version);
    println!("Kafka Connect {version}: {}/* (ConnectStandalone)", options.connect_jars.display());
    for line in java_description(options) {
        println!("{line}");
    }
    println!(
        "{} runs each, alternating; settle {} s; Kafka at {}\n",
        options.runs,
        options.settle.as_secs_f64(),
        options.kafka_bootstrap
    );

    let mut samples: Vec<Sample> = Vec::new();
    for round in 0..options.runs.max(1) {
        let order =
            if round % 2 == 0 { [Worker::Spillway, Worker::Connect] } else { [Worker::Connect, Worker::Spillway] };
        for worker in order {
            // A run that another process disturbed (a build or test started meanwhile) is done
            // again, up to twice.
            let mut s = measure(options, worker, round + 1)?;
            for _ in 0..2 {
                if !s.disturbed() {
                    break;
                }
                eprintln!(
                    "run {} {}: other processes used {:.2} CPU s during the {:.2} s start; measuring again",
                    round + 1,
                    worker.slug(),
                    s.others_cpu_during_start,
                    s.start.as_secs_f64()
                );
                s = measure(options, worker, round + 1)?;
            }
            eprintln!(
                "run {} {:>8}: /health 200 after {:.3} s ({:.2} CPU s), RSS {:.1} MiB, peak {:.1} MiB, VmHWM {:.1} MiB, {} threads, stopped in {:.2} s{} (machine {:.2} cores busy before; others {:.2} CPU s during start{})",
                round + 1,
                worker.slug(),
                s.start.as_secs_f64(),
                s.start_cpu_seconds,
                mib(s.rss),
                mib(s.peak_rss),
                mib(s.hwm),
                s.threads,
                s.stop.as_secs_f64(),
                if s.killed { " (SIGKILL)" } else { "" },
                s.busy_before,
                s.others_cpu_during_start,
                if s.disturbed() { ", DISTURBED" } else { "" }
            );
            samples.push(s);
        }
    }

    println!(
        "| run | worker | start → /health 200 (s) | CPU to healthy (s) | RSS after settle (MiB) | anon (MiB) | peak RSS in settle (MiB) | VmHWM (MiB) | threads | SIGTERM → exit (s) | others' CPU during start (s) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut numbered: Vec<(usize, &Sample)> = Vec::new();
    for worker in [Worker::Spillway, Worker::Connect] {
        numbered.extend(samples.iter().filter(|s| s.worker == worker).enumerate().map(|(i, s)| (i + 1, s)));
    }
    for (i, s) in &numbered {
        println!(
            "| {i} | {} | {:.3} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.2}{} | {:.2}{} |",
            worker_name(s.worker, &version),
            s.start.as_secs_f64(),
            s.start_cpu_seconds,
            mib(s.rss),
            mib(s.rss_anon),
            mib(s.peak_rss),
            mib(s.hwm),
            s.threads,
            s.stop.as_secs_f64(),
            if s.killed { " (killed)" } else { "" },
            s.others_cpu_during_start,
            if s.disturbed() { " (disturbed)" } else { "" }
        );
    }

    let of = |worker: Worker, f: &dyn Fn(&Sample) -> f64| {
        median(samples.iter().filter(|s| s.worker == worker).map(f).collect())
    };
    type Metric<'a> = (&'a str, Box<dyn Fn(&Sample) -> f64>, fn(f64) -> String);
    let metrics: Vec<Metric> = vec![
        ("start → /health 200", Box::new(|s| s.start.as_secs_f64()), |v| format!("{v:.3} s")),
        ("CPU used until healthy", Box::new(|s| s.start_cpu_seconds), |v| format!("{v:.2} s")),
        ("RSS after settle", Box::new(|s| mib(s.rss)), |v| format!("{v:.1} MiB")),
        ("peak RSS (settle, sampled)", Box::new(|s| mib(s.peak_rss)), |v| format!("{v:.1} MiB")),
        ("VmHWM (peak since start)", Box::new(|s| mib(s.hwm)), |v| format!("{v:.1} MiB")),
        ("threads", Box::new(|s| s.threads as f64), |v| format!("{v:.0}")),
    ];
    println!("\nMedians of {} runs each:\n", options.runs.max(1));
    println!("| median | Spillway | Kafka Connect {version} | Connect / Spillway |");
    println!("|---|---:|---:|---:|");
    for (name, f, show) in &metrics {
        let (a, b) = (of(Worker::Spillway, f.as_ref()), of(Worker::Connect, f.as_ref()));
        println!("| {name} | {} | {} | {:.1}× |", show(a), show(b), b / a);
    }
    let ratio = |f: &dyn Fn(&Sample) -> f64| of(Worker::Connect, f) / of(Worker::Spillway, f);
    let start_ratio = ratio(&|s| s.start.as_secs_f64());
    let rss_ratio = ratio(&|s| s.rss as f64);
    let peak_ratio = ratio(&|s| s.peak_rss as f64);
    let verdict = |r: f64| if r >= 10.0 { "met" } else { "NOT met" };
    println!();
    println!(
        "target: RSS ≤ 1/10 of Connect's: {} (Connect/Spillway {rss_ratio:.1}× after settle, {peak_ratio:.1}× peak)",
        verdict(rss_ratio.min(peak_ratio))
    );
    println!("target: start time ≤ 1/10 of Connect's: {} (Connect/Spillway {start_ratio:.1}×)", verdict(start_ratio));
    Ok(())
}

fn worker_name(worker: Worker, connect_version: &str) -> String {
    match worker {
        Worker::Spillway => "Spillway".into(),
        Worker::Connect => format!("Kafka Connect {connect_version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn reads_this_process_status() {
        let s = proc_status(std::process::id());
        assert!(s.rss > 0 && s.hwm >= s.rss && s.rss_anon > 0 && s.threads >= 1, "{s:?}");
    }

    #[test]
    fn health_status_reads_the_status_line() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf).unwrap();
            conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").unwrap();
        });
        assert_eq!(health_status(port), Some(503));
        server.join().unwrap();
        assert_eq!(health_status(free_port()), None);
    }
}
