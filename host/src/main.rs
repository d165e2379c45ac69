//! The `spillway` binary: parses arguments and wires the library together; nothing else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use spillway::cli;
use spillway::config::{Settings, WorkerConfig, read_settings_file};
use spillway::telemetry::{self, LogFormat};
use spillway::worker::{distributed, standalone};
use tokio_util::sync::CancellationToken;

/// mimalloc: the pipeline allocates per record; glibc's allocator spent a third of the CPU there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Kafka ↔ Cassandra connector host speaking Kafka Connect's REST API and configuration.
#[derive(Debug, Parser)]
#[command(name = "spillway", version)]
struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One process, no cluster: connectors from files (.properties or Connect JSON) and over REST.
    Standalone {
        /// The worker's settings (Kafka Connect's keys).
        worker: PathBuf,
        /// Connector configurations (optional: connectors can be created over REST too).
        connectors: Vec<PathBuf>,
    },
    /// A worker of the cluster named by `group.id`: connectors over REST on any worker, their
    /// tasks spread over the live workers.
    Worker {
        /// The worker's settings (Kafka Connect's keys; `group.id` required).
        worker: PathBuf,
    },
    /// Write, check and try Wasm plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Talk to a running worker's REST API: list, create, update, pause, restart connectors, …
    Ctl(spillway::ctl::CtlArgs),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Creates a plugin project from a template that builds as is.
    New {
        /// Plugin name (lowercase letters, digits, '-').
        name: String,
        /// Language of the template.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to create it.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Validates a .wasm file against the contract and prints its self-description.
    Check {
        /// The plugin file.
        file: PathBuf,
        /// Settings to validate (key=value, repeatable).
        #[arg(long = "config")]
        config: Vec<String>,
    },
    /// Runs a plugin over JSON-lines input (records; rows for source mappers); with --expect,
    /// exits non-zero on a mismatch.
    Test {
        /// The plugin file.
        file: PathBuf,
        /// Settings (key=value, repeatable).
        #[arg(long = "config")]
        config: Vec<String>,
        /// Input records, one JSON object per line.
        #[arg(long)]
        input: PathBuf,
        /// Expected output lines.
        #[arg(long)]
        expect: Option<PathBuf>,
    },
}

/// Exit code for bad configuration or arguments (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Command::Standalone { worker, connectors } => run_standalone(&worker, &connectors),
        Command::Worker { worker } => run_distributed(&worker),
        Command::Ctl(args) => spillway::ctl::main(args),
        Command::Plugin(command) => match run_plugin(command) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("spillway: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
    }
}

fn run_plugin(command: PluginCommand) -> Result<ExitCode, String> {
    match command {
        PluginCommand::New { name, lang, dir } => {
            let root = cli::plugin_new(&name, &lang, &dir)?;
            println!("created {} — build it with: cd {} && cargo build --release", root.display(), root.display());
        }
        PluginCommand::Check { file, config } => {
            print!("{}", cli::plugin_check(&file, &cli::parse_config(&config)?)?);
        }
        PluginCommand::Test { file, config, input, expect } => {
            let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
            let lines = cli::plugin_test(&file, cli::parse_config(&config)?, &read(&input)?)?;
            for line in &lines {
                println!("{line}");
            }
            if let Some(expect) = expect {
                let diffs = cli::compare(&lines, &read(&expect)?)?;
                if !diffs.is_empty() {
                    for d in &diffs {
                        eprintln!("mismatch: {d}");
                    }
                    return Ok(ExitCode::FAILURE);
                }
                eprintln!("all {} output lines match {}", lines.len(), expect.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_distributed(worker_file: &std::path::Path) -> ExitCode {
    let worker = match read_settings_file(worker_file).and_then(|s| WorkerConfig::distributed(&s)) {
        Ok(worker) => worker,
        Err(e) => {
            eprintln!("spillway: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    run_until_signal(|shutdown| distributed::run(worker, shutdown))
}

/// Runs a worker on a new async runtime until SIGINT/SIGTERM; a start error is one line on stderr.
fn run_until_signal<F, Fut>(worker: F) -> ExitCode
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), standalone::StartError>>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("spillway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        match worker(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("spillway: {e}");
                match e {
                    standalone::StartError::Listen { .. } | standalone::StartError::Cluster(_) => ExitCode::FAILURE,
                    _ => ExitCode::from(EXIT_CONFIG),
                }
            }
        }
    })
}

fn run_standalone(worker_file: &std::path::Path, connector_files: &[PathBuf]) -> ExitCode {
    let loaded = read_settings_file(worker_file).and_then(|s| WorkerConfig::from_settings(&s)).and_then(|w| {
        Ok((w, connector_files.iter().map(|f| read_settings_file(f)).collect::<Result<Vec<Settings>, _>>()?))
    });
    let (worker, connectors) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("spillway: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    run_until_signal(|shutdown| standalone::run(worker, connectors, shutdown))
}

/// SIGINT or SIGTERM → graceful stop (in-flight writes drain, offsets commit).
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping (signal received)");
    shutdown.cancel();
}
