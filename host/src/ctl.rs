//! `spillway ctl`: a command-line client for a running worker's REST API (Kafka Connect's, plus
//! Spillway's `/plugins`).
//!
//! Each subcommand sends one request and prints the answer as an aligned table, or with `--json` as
//! the server's own JSON. The exit code tells a script what happened without parsing any output
//! ([`EXIT_CODES`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::config::{Settings, properties, read_settings_file, settings_from_json};

/// The exit codes, shown at the end of `spillway ctl --help` (and in `docs/ctl.md`).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the request failed: connection refused, timeout, TLS, or a server error (5xx)
  2  bad usage, or an input file that cannot be read or is invalid
  3  not found (HTTP 404)
  4  conflict (HTTP 409): the connector already exists, or the cluster is rebalancing (retry)
  5  rejected (any other 4xx, e.g. 400 for an invalid configuration; the server's message is printed)
  6  validate found errors in the configuration";

/// Waiting for a TCP (and TLS) connection longer than this means the worker is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than Connect's own 90 s request timeout, so a slow worker answers with its own message.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(100);

/// `spillway ctl`'s arguments: the connection options and one subcommand.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct CtlArgs {
    /// The worker's REST address.
    #[arg(long, env = "SPILLWAY_URL", default_value = "http://localhost:8083", global = true)]
    pub url: String,
    /// Print the server's JSON response bodies (pretty) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// User name for HTTP basic authentication.
    #[arg(long, env = "SPILLWAY_USER", global = true)]
    pub user: Option<String>,
    /// Password for HTTP basic authentication (needs --user).
    #[arg(long, env = "SPILLWAY_PASSWORD", hide_env_values = true, global = true, requires = "user")]
    pub password: Option<String>,
    /// PEM file of CA certificates to trust for https, besides the system's.
    #[arg(long, value_name = "FILE", global = true)]
    pub cacert: Option<PathBuf>,
    /// Do not verify the server's TLS certificate.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// The subcommands: one REST request each.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// List the connectors: type, state, tasks running, worker.
    Ps,
    /// Print a connector's configuration as .properties (--json: Connect's JSON map).
    Get {
        /// Connector name.
        name: String,
    },
    /// Create a connector from FILE (exit 4 if it exists).
    ///
    /// FILE is .properties, or (ending in .json) Connect's JSON {"name", "config"} or a flat JSON
    /// map, or '-' for stdin; the connector's name is its `name` key.
    Create {
        /// Connector configuration file.
        file: PathBuf,
    },
    /// Create the connector in FILE, or update its configuration if it exists.
    Run {
        /// Connector configuration file (as for create).
        file: PathBuf,
    },
    /// Delete a connector.
    Rm {
        /// Connector name.
        name: String,
    },
    /// Show the state of a connector and its tasks, with the first line of each failure's trace.
    Status {
        /// Connector name.
        name: String,
    },
    /// Pause a connector and its tasks.
    Pause {
        /// Connector name.
        name: String,
    },
    /// Resume a paused or stopped connector.
    Resume {
        /// Connector name.
        name: String,
    },
    /// Stop a connector: its tasks shut down (needed before changing its offsets).
    Stop {
        /// Connector name.
        name: String,
    },
    /// Restart a connector and, with --include-tasks, its tasks.
    Restart {
        /// Connector name.
        name: String,
        /// Restart the tasks too.
        #[arg(long)]
        include_tasks: bool,
        /// Restart only the instances that have failed.
        #[arg(long)]
        only_failed: bool,
    },
    /// Print each task's configuration.
    Tasks {
        /// Connector name.
        name: String,
    },
    /// Restart one task.
    TaskRestart {
        /// Connector name.
        name: String,
        /// Task number.
        id: u32,
    },
    /// Show a connector's committed offsets, or change them (the connector must be stopped).
    ///
    /// --reset deletes them all; --set FILE applies the offsets in FILE.
    Offsets {
        /// Connector name.
        name: String,
        /// Delete all the connector's offsets.
        #[arg(long, conflicts_with = "set")]
        reset: bool,
        /// JSON file {"offsets": [{"partition": {…}, "offset": {…}}, …]} to apply; an offset of null
        /// resets that partition.
        #[arg(long, value_name = "FILE")]
        set: Option<PathBuf>,
    },
    /// List the plugins: connectors, converters, transformations and predicates.
    Plugins {
        /// List the Wasm plugin files instead (Spillway's GET /plugins): kind, version, path.
        #[arg(long)]
        wasm: bool,
    },
    /// Check a connector configuration file without creating anything; exit 6 if it has errors.
    Validate {
        /// Connector configuration file (as for create); needs `connector.class`.
        file: PathBuf,
    },
}

/// Why a `spillway ctl` command failed; [`CtlError::exit_code`] maps it to the documented code.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// No usable answer: connection refused, timeout, TLS failure, or a body that is not JSON.
    #[error("{0}")]
    Request(String),
    /// Bad arguments, or an input file that cannot be read or is invalid.
    #[error("{0}")]
    Input(String),
    /// The server answered with an error status; `message` is its `message` field.
    #[error("{message} (HTTP {status})")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// `validate` found errors; they were printed on stdout.
    #[error("the configuration has {0} error(s)")]
    Invalid(u64),
}

impl CtlError {
    /// The process exit code, as listed in [`EXIT_CODES`].
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Request(_) => 1,
            Self::Input(_) => 2,
            Self::Http { status: 404, .. } => 3,
            Self::Http { status: 409, .. } => 4,
            Self::Http { status: 400..=499, .. } => 5,
            Self::Http { .. } => 1,
            Self::Invalid(_) => 6,
        }
    }
}

/// Runs `spillway ctl`: prints the result on stdout, errors as `spillway ctl: …` on stderr.
pub fn main(args: CtlArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("spillway ctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = String::new();
    let result = runtime.block_on(run(&args, &mut out));
    // A closed pipe (`spillway ctl ps | head -1`) is not worth a panic.
    let _ = std::io::stdout().write_all(out.as_bytes());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spillway ctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs one command, appending what it prints to `out` (also when it then fails, as `validate` does).
pub async fn run(args: &CtlArgs, out: &mut String) -> Result<(), CtlError> {
    let client = Client::new(args)?;
    let json = args.json;
    match &args.command {
        CtlCommand::Ps => {
            let body = client.send(Method::GET, &["connectors"], &[("expand", "status")], None).await?.body;
            print(out, json, &body, || connectors_table(&body))
        }
        CtlCommand::Get { name } => {
            let body = client.send(Method::GET, &["connectors", name, "config"], &[], None).await?.body;
            print(out, json, &body, || Ok(properties_text(&body)))
        }
        CtlCommand::Create { file } => {
            let (name, settings) = read_connector(file)?;
            let body = json!({"name": name, "config": settings.0});
            let reply = client.send(Method::POST, &["connectors"], &[], Some(&body)).await?;
            print(out, json, &reply.body, || Ok(format!("created connector {name}\n")))
        }
        CtlCommand::Run { file } => {
            let (name, settings) = read_connector(file)?;
            let body = json!(settings.0);
            let reply = client.send(Method::PUT, &["connectors", &name, "config"], &[], Some(&body)).await?;
            let verb = if reply.status == StatusCode::CREATED { "created" } else { "updated" };
            print(out, json, &reply.body, || Ok(format!("{verb} connector {name}\n")))
        }
        CtlCommand::Rm { name } => {
            let reply = client.send(Method::DELETE, &["connectors", name], &[], None).await?;
            print(out, json, &reply.body, || Ok(format!("deleted connector {name}\n")))
        }
        CtlCommand::Status { name } => {
            let body = client.send(Method::GET, &["connectors", name, "status"], &[], None).await?.body;
            print(out, json, &body, || status_table(&body))
        }
        CtlCommand::Pause { name } => state_change(&client, out, json, name, "pause", "pausing").await,
        CtlCommand::Resume { name } => state_change(&client, out, json, name, "resume", "resuming").await,
        CtlCommand::Stop { name } => state_change(&client, out, json, name, "stop", "stopping").await,
        CtlCommand::Restart { name, include_tasks, only_failed } => {
            let query = [("includeTasks", bool_text(*include_tasks)), ("onlyFailed", bool_text(*only_failed))];
            let reply = client.send(Method::POST, &["connectors", name, "restart"], &query, None).await?;
            // 202 carries the instances being restarted; 204 (connector only) carries nothing.
            print(out, json, &reply.body, || match &reply.body {
                Value::Null => Ok(format!("restarting connector {name}\n")),
                body => status_table(body),
            })
        }
        CtlCommand::Tasks { name } => {
            let body = client.send(Method::GET, &["connectors", name, "tasks"], &[], None).await?.body;
            print(out, json, &body, || tasks_text(name, &body))
        }
        CtlCommand::TaskRestart { name, id } => {
            let path = ["connectors", name, "tasks", &id.to_string(), "restart"];
            let reply = client.send(Method::POST, &path, &[], None).await?;
            print(out, json, &reply.body, || Ok(format!("restarting task {id} of connector {name}\n")))
        }
        CtlCommand::Offsets { name, reset, set } => {
            let path = ["connectors", name, "offsets"];
            let reply = match (reset, set) {
                (true, _) => client.send(Method::DELETE, &path, &[], None).await?,
                (false, Some(file)) => client.send(Method::PATCH, &path, &[], Some(&read_offsets(file)?)).await?,
                (false, None) => {
                    let body = client.send(Method::GET, &path, &[], None).await?.body;
                    return print(out, json, &body, || offsets_table(&body));
                }
            };
            let message = reply.body["message"].as_str().unwrap_or("done").to_string();
            print(out, json, &reply.body, || Ok(format!("{message}\n")))
        }
        CtlCommand::Plugins { wasm: false } => {
            let query = [("connectorsOnly", "false")];
            let body = client.send(Method::GET, &["connector-plugins"], &query, None).await?.body;
            print(out, json, &body, || plugins_table(&body))
        }
        CtlCommand::Plugins { wasm: true } => {
            let body = client.send(Method::GET, &["plugins"], &[], None).await?.body;
            print(out, json, &body, || wasm_plugins_table(&body))
        }
        CtlCommand::Validate { file } => {
            let (_, settings) = read_connector_settings(file)?;
            let class = settings.get("connector.class").map(str::to_string).ok_or_else(|| {
                CtlError::Input(format!("{}: no 'connector.class' setting, which validate needs", file.display()))
            })?;
            let path = ["connector-plugins", &class, "config", "validate"];
            let body = client.send(Method::PUT, &path, &[], Some(&json!(settings.0))).await?.body;
            print(out, json, &body, || validation_text(&body))?;
            match body["error_count"].as_u64() {
                Some(0) => Ok(()),
                Some(n) => Err(CtlError::Invalid(n)),
                None => Err(unexpected("validate", &body)),
            }
        }
    }
}

/// `pause`, `resume`, `stop`: a PUT with no body; the change happens asynchronously.
async fn state_change(
    client: &Client,
    out: &mut String,
    json: bool,
    name: &str,
    action: &str,
    doing: &str,
) -> Result<(), CtlError> {
    let reply = client.send(Method::PUT, &["connectors", name, action], &[], None).await?;
    print(out, json, &reply.body, || Ok(format!("{doing} connector {name}\n")))
}

/// Appends the server's JSON (pretty) with `--json`, else the readable rendering.
fn print(
    out: &mut String,
    json: bool,
    body: &Value,
    readable: impl FnOnce() -> Result<String, CtlError>,
) -> Result<(), CtlError> {
    if !json {
        out.push_str(&readable()?);
    } else if !body.is_null() {
        // Serializing a Value cannot fail.
        out.push_str(&serde_json::to_string_pretty(body).unwrap_or_default());
        out.push('\n');
    }
    Ok(())
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// The HTTP side: base URL, TLS and auth settings, and Connect's error shape.
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<(String, Option<String>)>,
}

/// A successful answer; `body` is `Null` when the server sent none (202, 204).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: Value,
}

impl Client {
    fn new(args: &CtlArgs) -> Result<Self, CtlError> {
        let base = Url::parse(&args.url).map_err(|e| CtlError::Input(format!("--url {}: {e}", args.url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(CtlError::Input(format!("--url {}: expected http://host:port or https://host:port", args.url)));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .danger_accept_invalid_certs(args.insecure);
        if let Some(path) = &args.cacert {
            let input_error = |reason: String| CtlError::Input(format!("--cacert {}: {reason}", path.display()));
            let pem = std::fs::read(path).map_err(|e| input_error(e.to_string()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| input_error(causes(&e)))?;
            if certificates.is_empty() {
                return Err(input_error("no PEM certificate in the file".into()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| CtlError::Request(format!("cannot set up HTTP: {}", causes(&e))))?;
        Ok(Self { http, base, auth: args.user.clone().map(|user| (user, args.password.clone())) })
    }

    /// The URL of `path`'s segments (each percent-encoded: a connector name may hold any character)
    /// under the base URL.
    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url.set_query(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, CtlError> {
        let url = self.url(path, query);
        let mut request = self.http.request(method.clone(), url.clone()).header("accept", "application/json");
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, password.as_ref());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let failed = |e: reqwest::Error| CtlError::Request(format!("{method} {url}: {}", failure(&e)));
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        if !status.is_success() {
            return Err(CtlError::Http { status: status.as_u16(), message: error_message(status, &text) });
        }
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| CtlError::Request(format!("{method} {url}: the answer is not JSON ({e})")))?
        };
        Ok(Reply { status, body })
    }
}

/// The server's `message`, else the body's first line (a proxy's page), else the status' reason.
fn error_message(status: StatusCode, text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|v| v["message"].as_str().map(str::to_string));
    let first_line = text.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(200).collect());
    from_json.or(first_line).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string())
}

/// Why a request got no answer, in the words of the innermost cause (reqwest's outer messages
/// repeat the URL and say "error sending request").
fn failure(error: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = error;
    while let Some(source) = root.source() {
        root = source;
    }
    if error.is_timeout() {
        format!("timed out ({root})")
    } else if error.is_connect() && root.to_string().contains("certificate verify failed") {
        format!("cannot connect: {root} (trust the server's CA with --cacert FILE)")
    } else if error.is_connect() {
        format!("cannot connect: {root}")
    } else {
        causes(error)
    }
}

/// An error and its causes, `a: b: c`.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

fn unexpected(what: &str, body: &Value) -> CtlError {
    let mut shown = body.to_string();
    if shown.len() > 200 {
        shown = format!("{}…", shown.chars().take(200).collect::<String>());
    }
    CtlError::Request(format!("unexpected answer to {what}: {shown}"))
}

/// A connector file's settings and its name (the `name` key, which create and run need).
fn read_connector(path: &Path) -> Result<(String, Settings), CtlError> {
    let (name, settings) = read_connector_settings(path)?;
    let name = name.ok_or_else(|| CtlError::Input(format!("{}: no 'name' setting", path.display())))?;
    Ok((name, settings))
}

/// Reads `.properties` or JSON (by the `.json` extension, as `spillway standalone` does; from
/// stdin, by a leading `{`).
fn read_connector_settings(path: &Path) -> Result<(Option<String>, Settings), CtlError> {
    let settings = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| CtlError::Input(format!("stdin: {e}")))?;
        let parsed = if text.trim_start().starts_with('{') {
            settings_from_json(&text)
        } else {
            properties::parse(&text).map(Settings).map_err(|e| e.to_string())
        };
        parsed.map_err(|e| CtlError::Input(format!("stdin: {e}")))?
    } else {
        read_settings_file(path).map_err(|e| CtlError::Input(e.to_string()))?
    };
    let name = settings.get("name").map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    Ok((name, settings))
}

/// The body of `offsets --set`: `{"offsets": [...]}` as `offsets --json` prints it.
fn read_offsets(path: &Path) -> Result<Value, CtlError> {
    let input_error = |reason: String| CtlError::Input(format!("{}: {reason}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| input_error(e.to_string()))?;
    let body: Value = serde_json::from_str(&text).map_err(|e| input_error(format!("malformed JSON: {e}")))?;
    if !body["offsets"].is_array() {
        return Err(input_error(r#"expected {"offsets": [{"partition": {…}, "offset": {…}}, …]}"#.into()));
    }
    Ok(body)
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A JSON string field, or `-` when absent.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `ps`: `GET /connectors?expand=status`, one row per connector.
fn connectors_table(body: &Value) -> Result<String, CtlError> {
    let Value::Object(connectors) = body else {
        return Err(unexpected("GET /connectors?expand=status", body));
    };
    if connectors.is_empty() {
        return Ok("no connectors\n".into());
    }
    let mut rows: Vec<Vec<String>> = connectors
        .iter()
        .map(|(name, entry)| {
            let status = &entry["status"];
            vec![
                name.clone(),
                text(&status["type"]),
                text(&status["connector"]["state"]),
                tasks_summary(&status["tasks"]),
                text(&status["connector"]["worker_id"]),
            ]
        })
        .collect();
    rows.sort();
    Ok(table(&["NAME", "TYPE", "STATE", "TASKS", "WORKER"], &rows))
}

/// `2/2 RUNNING`, `1/2 RUNNING, 1 FAILED`, or `-` with no tasks.
fn tasks_summary(tasks: &Value) -> String {
    let tasks = tasks.as_array().map(Vec::as_slice).unwrap_or_default();
    if tasks.is_empty() {
        return "-".into();
    }
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for task in tasks {
        *counts.entry(text(&task["state"])).or_default() += 1;
    }
    let running = counts.remove("RUNNING").unwrap_or(0);
    let mut summary = format!("{running}/{} RUNNING", tasks.len());
    for (state, count) in counts {
        summary.push_str(&format!(", {count} {state}"));
    }
    summary
}

/// `status` (and `restart`'s 202): the connector and each task, with the first line of a trace.
fn status_table(body: &Value) -> Result<String, CtlError> {
    let Some(name) = body["name"].as_str() else {
        return Err(unexpected("status", body));
    };
    let row = |instance: String, status: &Value| {
        vec![instance, text(&status["state"]), text(&status["worker_id"]), first_line(&status["trace"])]
    };
    let mut rows = vec![row("connector".into(), &body["connector"])];
    for task in body["tasks"].as_array().into_iter().flatten() {
        rows.push(row(format!("task {}", text(&task["id"])), task));
    }
    Ok(format!("{name} ({})\n{}", text(&body["type"]), table(&["INSTANCE", "STATE", "WORKER", "TRACE"], &rows)))
}

/// A trace's first non-blank line (the exception and its message), or nothing.
fn first_line(trace: &Value) -> String {
    let line = trace.as_str().and_then(|t| t.lines().find(|l| !l.trim().is_empty()));
    line.unwrap_or_default().trim().to_string()
}

/// `get`: the flat config map as `.properties` lines, sorted, escaped so the parser reads them back.
fn properties_text(body: &Value) -> String {
    let mut entries: Vec<(&String, String)> = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    entries.sort();
    entries.iter().map(|(k, v)| format!("{}={}\n", escape_property(k, true), escape_property(v, false))).collect()
}

/// Escapes as `java.util.Properties.store` does what our parser would otherwise read differently.
fn escape_property(text: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0c' => out.push_str("\\f"),
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '=' | ':' if is_key => out.push_str(&format!("\\{c}")),
            '#' | '!' if is_key && i == 0 => out.push_str(&format!("\\{c}")),
            c => out.push(c),
        }
    }
    out
}

/// `tasks`: each task's number and configuration.
fn tasks_text(name: &str, body: &Value) -> Result<String, CtlError> {
    let Some(tasks) = body.as_array() else {
        return Err(unexpected("tasks", body));
    };
    if tasks.is_empty() {
        return Ok(format!("connector {name} has no tasks\n"));
    }
    let blocks: Vec<String> = tasks
        .iter()
        .map(|task| {
            let config = properties_text(&task["config"]);
            let indented: String = config.lines().map(|l| format!("  {l}\n")).collect();
            format!("task {}\n{indented}", text(&task["id"]["task"]))
        })
        .collect();
    Ok(blocks.join("\n"))
}

/// `offsets`: a sink's as TOPIC PARTITION OFFSET, a source's (connector-defined) as compact JSON.
fn offsets_table(body: &Value) -> Result<String, CtlError> {
    let Some(offsets) = body["offsets"].as_array() else {
        return Err(unexpected("offsets", body));
    };
    if offsets.is_empty() {
        return Ok("no committed offsets\n".into());
    }
    let is_sink = offsets.iter().all(|o| o["partition"]["kafka_topic"].is_string());
    let mut rows: Vec<Vec<String>> = offsets
        .iter()
        .map(|o| {
            let (partition, offset) = (&o["partition"], &o["offset"]);
            if is_sink {
                vec![
                    text(&partition["kafka_topic"]),
                    text(&partition["kafka_partition"]),
                    text(&offset["kafka_offset"]),
                ]
            } else {
                vec![partition.to_string(), offset.to_string()]
            }
        })
        .collect();
    if is_sink {
        // Numeric order within a topic: partition 10 after 9.
        rows.sort_by_key(|r| (r[0].clone(), r[1].parse::<i64>().unwrap_or(i64::MAX)));
        Ok(table(&["TOPIC", "PARTITION", "OFFSET"], &rows))
    } else {
        Ok(table(&["PARTITION", "OFFSET"], &rows))
    }
}

/// `plugins`: `GET /connector-plugins?connectorsOnly=false`.
fn plugins_table(body: &Value) -> Result<String, CtlError> {
    let Some(plugins) = body.as_array() else {
        return Err(unexpected("GET /connector-plugins", body));
    };
    let rows: Vec<Vec<String>> =
        plugins.iter().map(|p| vec![text(&p["class"]), text(&p["type"]), text(&p["version"])]).collect();
    Ok(table(&["CLASS", "TYPE", "VERSION"], &rows))
}

/// `plugins --wasm`: Spillway's `GET /plugins`, then the files that were rejected, with why.
fn wasm_plugins_table(body: &Value) -> Result<String, CtlError> {
    let Some(plugins) = body["plugins"].as_array() else {
        return Err(unexpected("GET /plugins", body));
    };
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| vec![text(&p["name"]), text(&p["kind"]), text(&p["version"]), text(&p["path"])])
        .collect();
    let mut out = table(&["NAME", "KIND", "VERSION", "PATH"], &rows);
    for file in body["files"].as_array().into_iter().flatten().filter(|f| !f["error"].is_null()) {
        out.push_str(&format!("rejected {}: {}\n", text(&file["path"]), text(&file["error"])));
    }
    Ok(out)
}

/// `validate`: the error count, then each field's errors.
fn validation_text(body: &Value) -> Result<String, CtlError> {
    let Some(count) = body["error_count"].as_u64() else {
        return Err(unexpected("validate", body));
    };
    let mut out = format!("{}: {count} error(s)\n", text(&body["name"]));
    for config in body["configs"].as_array().into_iter().flatten() {
        let value = &config["value"];
        for error in value["errors"].as_array().into_iter().flatten() {
            out.push_str(&format!("  {}: {}\n", text(&value["name"]), text(error)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::http::{HeaderMap, Method as AxumMethod, Uri};
    use clap::Parser;

    use super::*;

    /// A request the fake worker received.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        query: Option<String>,
        body: String,
        auth: Option<String>,
    }

    impl Seen {
        /// `METHOD /path?query`.
        fn line(&self) -> String {
            let query = self.query.as_ref().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{} {}{query}", self.method, self.path)
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap()
        }
    }

    type Answer = fn(&Seen) -> (u16, String);

    /// A fake worker on 127.0.0.1:0 that records every request and answers with `answer`.
    struct Fake {
        url: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Fake {
        async fn start(answer: Answer) -> Self {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let record = seen.clone();
            let app = Router::new().fallback(move |method: AxumMethod, uri: Uri, headers: HeaderMap, body: String| {
                let record = record.clone();
                async move {
                    let auth = headers.get("authorization").map(|h| h.to_str().unwrap().to_string());
                    let seen = Seen {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().map(str::to_string),
                        body,
                        auth,
                    };
                    let (status, body) = answer(&seen);
                    record.lock().unwrap().push(seen);
                    let status = axum::http::StatusCode::from_u16(status).unwrap();
                    (status, [("content-type", "application/json")], body)
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Self { url, seen }
        }

        /// The only request received.
        fn request(&self) -> Seen {
            let seen = self.seen.lock().unwrap();
            assert_eq!(seen.len(), 1, "{seen:?}");
            seen[0].clone()
        }

        async fn ctl(&self, args: &[&str]) -> (Result<(), CtlError>, String) {
            ctl(&self.url, args).await
        }
    }

    /// As `main.rs` nests it: `spillway ctl …`.
    #[derive(Debug, Parser)]
    enum TestCli {
        Ctl(CtlArgs),
    }

    async fn ctl(url: &str, args: &[&str]) -> (Result<(), CtlError>, String) {
        let argv = ["spillway", "ctl", "--url", url].into_iter().chain(args.iter().copied());
        let TestCli::Ctl(args) = TestCli::try_parse_from(argv).unwrap();
        let mut out = String::new();
        let result = run(&args, &mut out).await;
        (result, out)
    }

    fn ok(body: &str) -> (u16, String) {
        (200, body.to_string())
    }

    fn error(status: u16, message: &str) -> (u16, String) {
        (status, json!({"error_code": status, "message": message}).to_string())
    }

    /// A file in a fresh temporary directory, which goes away with it.
    #[derive(Debug)]
    struct TempFile(PathBuf);

    impl std::ops::Deref for TempFile {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn temp_file(name: &str, content: &str) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("spillway-ctl-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        TempFile(path)
    }

    fn status_body(name: &str) -> Value {
        json!({"name": name, "type": "sink",
            "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
            "tasks": [
                {"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"},
                {"id": 1, "state": "FAILED", "worker_id": "127.0.0.1:8083",
                 "trace": "org.apache.kafka.connect.errors.ConnectException: boom\n\tat Foo.bar(Foo.java:1)\n"}]})
    }

    #[tokio::test]
    async fn ps_lists_connectors_with_task_counts() {
        let fake = Fake::start(|_| {
            let mut healthy = status_body("a-sink");
            healthy["tasks"][1] = json!({"id": 1, "state": "RUNNING", "worker_id": "127.0.0.1:8083"});
            ok(&json!({"b-sink": {"status": status_body("b-sink")}, "a-sink": {"status": healthy},
                "idle": {"status": {"name": "idle", "type": "sink", "tasks": [],
                    "connector": {"state": "STOPPED", "worker_id": "10.0.0.2:8083"}}}})
            .to_string())
        })
        .await;
        let (result, out) = fake.ctl(&["ps"]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "GET /connectors?expand=status");
        assert_eq!(
            out,
            "\
NAME    TYPE  STATE    TASKS                  WORKER
a-sink  sink  RUNNING  2/2 RUNNING            127.0.0.1:8083
b-sink  sink  RUNNING  1/2 RUNNING, 1 FAILED  127.0.0.1:8083
idle    sink  STOPPED  -                      10.0.0.2:8083
"
        );
    }

    #[tokio::test]
    async fn ps_with_no_connectors_and_as_json() {
        let fake = Fake::start(|_| ok("{}")).await;
        assert_eq!(fake.ctl(&["ps"]).await.1, "no connectors\n");
        let fake = Fake::start(|_| ok(r#"{"a":{"status":{"name":"a"}}}"#)).await;
        let (result, out) = fake.ctl(&["ps", "--json"]).await;
        result.unwrap();
        assert_eq!(out, "{\n  \"a\": {\n    \"status\": {\n      \"name\": \"a\"\n    }\n  }\n}\n");
    }

    #[tokio::test]
    async fn get_prints_properties_that_read_back() {
        let config = json!({"name": "a", "topics": "t", "tasks.max": "2", "odd key": " lead\\ing\nline"});
        let fake = Fake::start(|_| {
            ok(&json!({"name": "a", "topics": "t", "tasks.max": "2", "odd key": " lead\\ing\nline"}).to_string())
        })
        .await;
        let (result, out) = fake.ctl(&["get", "a"]).await;
        result.unwrap();
        assert_eq!(fake.request().path, "/connectors/a/config");
        assert_eq!(out, "name=a\nodd\\ key=\\ lead\\\\ing\\nline\ntasks.max=2\ntopics=t\n");
        let back = properties::parse(&out).unwrap();
        assert_eq!(json!(back), config);
    }

    #[tokio::test]
    async fn create_posts_name_and_config_from_each_file_format() {
        let files = [
            temp_file("a.properties", "name=a\nconnector.class=C\ntasks.max=2\n"),
            temp_file("a.json", r#"{"name": "a", "config": {"connector.class": "C", "tasks.max": 2}}"#),
            temp_file("flat.json", r#"{"name": "a", "connector.class": "C", "tasks.max": "2"}"#),
        ];
        for file in files {
            let fake = Fake::start(|_| (201, r#"{"name":"a","config":{},"tasks":[],"type":"sink"}"#.into())).await;
            let (result, out) = fake.ctl(&["create", file.to_str().unwrap()]).await;
            result.unwrap();
            let seen = fake.request();
            assert_eq!(seen.line(), "POST /connectors");
            assert_eq!(
                seen.json(),
                json!({"name": "a", "config": {"name": "a", "connector.class": "C", "tasks.max": "2"}}),
                "{file:?}"
            );
            assert_eq!(out, "created connector a\n");
        }
    }

    #[tokio::test]
    async fn run_puts_the_flat_config_and_says_created_or_updated() {
        let file = temp_file("b.properties", "name=b\nconnector.class=C\n");
        let created = Fake::start(|_| (201, r#"{"name":"b"}"#.into())).await;
        let (result, out) = created.ctl(&["run", file.to_str().unwrap()]).await;
        result.unwrap();
        let seen = created.request();
        assert_eq!(seen.line(), "PUT /connectors/b/config");
        assert_eq!(seen.json(), json!({"name": "b", "connector.class": "C"}));
        assert_eq!(out, "created connector b\n");
        let updated = Fake::start(|_| ok(r#"{"name":"b"}"#)).await;
        assert_eq!(updated.ctl(&["run", file.to_str().unwrap()]).await.1, "updated connector b\n");
    }

    #[tokio::test]
    async fn simple_commands_send_the_right_request() {
        let cases: [(&[&str], &str, &str); 7] = [
            (&["rm", "a"], "DELETE /connectors/a", "deleted connector a\n"),
            (&["pause", "a"], "PUT /connectors/a/pause", "pausing connector a\n"),
            (&["resume", "a"], "PUT /connectors/a/resume", "resuming connector a\n"),
            (&["stop", "a"], "PUT /connectors/a/stop", "stopping connector a\n"),
            (
                &["restart", "a"],
                "POST /connectors/a/restart?includeTasks=false&onlyFailed=false",
                "restarting connector a\n",
            ),
            (&["task-restart", "a", "3"], "POST /connectors/a/tasks/3/restart", "restarting task 3 of connector a\n"),
            // Any character may be in a name: each path segment is percent-encoded.
            (&["rm", "a b/c?"], "DELETE /connectors/a%20b%2Fc%3F", "deleted connector a b/c?\n"),
        ];
        for (args, request, expected) in cases {
            let fake = Fake::start(|_| (204, String::new())).await;
            let (result, out) = fake.ctl(args).await;
            result.unwrap();
            assert_eq!(fake.request().line(), request);
            assert_eq!(out, expected);
            // Nothing to print as JSON when the server sends no body.
            let fake = Fake::start(|_| (202, String::new())).await;
            assert_eq!(fake.ctl(&[args, &["--json"]].concat()).await.1, "");
        }
    }

    #[tokio::test]
    async fn status_shows_connector_tasks_and_trace_first_line() {
        let fake = Fake::start(|_| ok(&status_body("a").to_string())).await;
        let (result, out) = fake.ctl(&["status", "a"]).await;
        result.unwrap();
        assert_eq!(fake.request().path, "/connectors/a/status");
        assert_eq!(
            out,
            "\
a (sink)
INSTANCE   STATE    WORKER          TRACE
connector  RUNNING  127.0.0.1:8083
task 0     RUNNING  127.0.0.1:8083
task 1     FAILED   127.0.0.1:8083  org.apache.kafka.connect.errors.ConnectException: boom
"
        );
    }

    #[tokio::test]
    async fn restart_with_tasks_prints_what_restarts() {
        let fake = Fake::start(|_| {
            (
                202,
                json!({"name": "a", "type": "sink", "connector": {"state": "RUNNING", "worker_id": "w"},
                    "tasks": [{"id": 1, "state": "RESTARTING", "worker_id": "w"}]})
                .to_string(),
            )
        })
        .await;
        let (result, out) = fake.ctl(&["restart", "a", "--include-tasks", "--only-failed"]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "POST /connectors/a/restart?includeTasks=true&onlyFailed=true");
        assert!(out.contains("task 1     RESTARTING  w"), "{out}");
    }

    #[tokio::test]
    async fn tasks_prints_each_tasks_config() {
        let fake = Fake::start(|_| {
            ok(&json!([{"id": {"connector": "a", "task": 0}, "config": {"task.class": "T", "topics": "t"}},
                {"id": {"connector": "a", "task": 1}, "config": {"task.class": "T"}}])
            .to_string())
        })
        .await;
        let (result, out) = fake.ctl(&["tasks", "a"]).await;
        result.unwrap();
        assert_eq!(fake.request().path, "/connectors/a/tasks");
        assert_eq!(out, "task 0\n  task.class=T\n  topics=t\n\ntask 1\n  task.class=T\n");
    }

    #[tokio::test]
    async fn offsets_get_reset_and_set() {
        let fake = Fake::start(|_| {
            let offset = |p: u32, o: u64| json!({"partition": {"kafka_topic": "t", "kafka_partition": p}, "offset": {"kafka_offset": o}});
            ok(&json!({"offsets": [offset(10, 7), offset(2, 1000)]}).to_string())
        })
        .await;
        let (result, out) = fake.ctl(&["offsets", "a"]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "GET /connectors/a/offsets");
        assert_eq!(out, "TOPIC  PARTITION  OFFSET\nt      2          1000\nt      10         7\n");

        let fake =
            Fake::start(|_| ok(r#"{"message":"The offsets for this connector have been reset successfully"}"#)).await;
        let (result, out) = fake.ctl(&["offsets", "a", "--reset"]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "DELETE /connectors/a/offsets");
        assert_eq!(out, "The offsets for this connector have been reset successfully\n");

        let body = json!({"offsets": [{"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": 5}}]});
        let file = temp_file("offsets.json", &body.to_string());
        let fake = Fake::start(|_| ok(r#"{"message":"altered"}"#)).await;
        let (result, out) = fake.ctl(&["offsets", "a", "--set", file.to_str().unwrap()]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "PATCH /connectors/a/offsets");
        assert_eq!(seen.json(), body);
        assert_eq!(out, "altered\n");

        let source = Fake::start(|_| ok(r#"{"offsets":[{"partition":{"file":"x"},"offset":{"pos":3}}]}"#)).await;
        assert_eq!(source.ctl(&["offsets", "a"]).await.1, "PARTITION     OFFSET\n{\"file\":\"x\"}  {\"pos\":3}\n");
    }

    #[tokio::test]
    async fn plugins_lists_classes_and_wasm_files() {
        let fake = Fake::start(|seen| match seen.path.as_str() {
            "/connector-plugins" => ok(r#"[{"class":"a.Sink","type":"sink","version":"0.1.0"},
                {"class":"org.apache.kafka.connect.transforms.Cast$Value","type":"transformation"}]"#),
            _ => ok(r#"{"plugins":[{"name":"cast","version":"1.0.0","kind":"transform","path":"/p/cast.wasm","sha256":"ab"}],
                "files":[{"path":"/p/cast.wasm","plugin":"cast@1.0.0","error":null},{"path":"/p/bad.wasm","error":"not a component"}]}"#),
        })
        .await;
        let (result, out) = fake.ctl(&["plugins"]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "GET /connector-plugins?connectorsOnly=false");
        assert_eq!(
            out,
            "\
CLASS                                           TYPE            VERSION
a.Sink                                          sink            0.1.0
org.apache.kafka.connect.transforms.Cast$Value  transformation  -
"
        );
        let (result, out) = fake.ctl(&["plugins", "--wasm"]).await;
        result.unwrap();
        assert_eq!(
            out,
            "NAME  KIND       VERSION  PATH\ncast  transform  1.0.0    /p/cast.wasm\nrejected /p/bad.wasm: not a component\n"
        );
    }

    #[tokio::test]
    async fn validate_prints_field_errors_and_exits_6() {
        let file = temp_file("v.properties", "name=v\nconnector.class=x.CassandraSink\ntopics=\n");
        let fake = Fake::start(|_| {
            ok(&json!({"name": "x.CassandraSink", "error_count": 2, "groups": ["Common"], "configs": [
                {"definition": {"name": "topics"}, "value": {"name": "topics", "value": "", "errors": ["Must configure one of topics or topics.regex"]}},
                {"definition": {"name": "tasks.max"}, "value": {"name": "tasks.max", "value": "1", "errors": []}},
                {"definition": {"name": "kcql"}, "value": {"name": "kcql", "value": null, "errors": ["Missing required configuration \"kcql\""]}}]})
            .to_string())
        })
        .await;
        let (result, out) = fake.ctl(&["validate", file.to_str().unwrap()]).await;
        let error = result.unwrap_err();
        assert_eq!(error.exit_code(), 6);
        assert_eq!(error.to_string(), "the configuration has 2 error(s)");
        let seen = fake.request();
        assert_eq!(seen.line(), "PUT /connector-plugins/x.CassandraSink/config/validate");
        assert_eq!(seen.json(), json!({"name": "v", "connector.class": "x.CassandraSink", "topics": ""}));
        assert_eq!(
            out,
            "x.CassandraSink: 2 error(s)\n  topics: Must configure one of topics or topics.regex\n  kcql: Missing required configuration \"kcql\"\n"
        );

        let valid = Fake::start(|_| ok(r#"{"name":"x.CassandraSink","error_count":0,"groups":[],"configs":[]}"#)).await;
        let (result, out) = valid.ctl(&["validate", file.to_str().unwrap()]).await;
        result.unwrap();
        assert_eq!(out, "x.CassandraSink: 0 error(s)\n");
    }

    #[tokio::test]
    async fn server_errors_map_to_exit_codes_with_the_servers_message() {
        let cases: [(Answer, u8, &str); 5] = [
            (|_| error(404, "Connector a not found"), 3, "Connector a not found (HTTP 404)"),
            (|_| error(409, "Connector a already exists"), 4, "Connector a already exists (HTTP 409)"),
            (
                |_| error(400, "Connector configuration is invalid and contains the following 1 error(s):\nbad"),
                5,
                "Connector configuration is invalid and contains the following 1 error(s):\nbad (HTTP 400)",
            ),
            (|_| error(500, "Request timed out"), 1, "Request timed out (HTTP 500)"),
            (|_| (502, "<html>Bad gateway</html>".into()), 1, "<html>Bad gateway</html> (HTTP 502)"),
        ];
        for (answer, code, message) in cases {
            let fake = Fake::start(answer).await;
            let error = fake.ctl(&["status", "a"]).await.0.unwrap_err();
            assert_eq!((error.exit_code(), error.to_string().as_str()), (code, message));
        }
    }

    #[tokio::test]
    async fn connection_refused_is_exit_1() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let error = ctl(&url, &["ps"]).await.0.unwrap_err();
        assert_eq!(error.exit_code(), 1);
        let message = error.to_string();
        assert!(message.starts_with(&format!("GET {url}/connectors?expand=status: ")), "{message}");
        assert!(message.contains("cannot connect: "), "{message}");
    }

    #[tokio::test]
    async fn bad_input_is_exit_2() {
        let fake = Fake::start(|_| ok("{}")).await;
        let no_name = temp_file("noname.properties", "connector.class=C\n");
        let malformed = temp_file("bad.json", "{\"name\": ");
        let not_offsets = temp_file("offsets.json", "[]");
        for args in [
            &["create", no_name.to_str().unwrap()][..],
            &["run", "/nonexistent/x.properties"],
            &["create", malformed.to_str().unwrap()],
            &["validate", temp_file("noclass.properties", "name=a\n").to_str().unwrap()],
            &["offsets", "a", "--set", not_offsets.to_str().unwrap()],
        ] {
            let error = fake.ctl(args).await.0.unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}: {error}");
        }
        assert!(fake.seen.lock().unwrap().is_empty(), "nothing is sent for bad input");
        let error = ctl("localhost:8083", &["ps"]).await.0.unwrap_err();
        assert_eq!(error.exit_code(), 2, "{error}");
    }

    /// A one-answer-per-connection HTTPS server with a fresh self-signed certificate for 127.0.0.1,
    /// which it also returns (PEM).
    fn https_server() -> (String, Vec<u8>) {
        use openssl::asn1::Asn1Time;
        use openssl::bn::BigNum;
        use openssl::ec::{EcGroup, EcKey};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        use openssl::ssl::{SslAcceptor, SslMethod};
        use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
        use openssl::x509::{X509Builder, X509NameBuilder};

        let key =
            PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap())
                .unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "127.0.0.1").unwrap();
        let name = name.build();
        let mut cert = X509Builder::new().unwrap();
        cert.set_version(2).unwrap();
        cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        cert.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
        let san = SubjectAlternativeName::new().ip("127.0.0.1").build(&cert.x509v3_context(None, None)).unwrap();
        cert.append_extension(san).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = cert.build();

        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor.set_private_key(&key).unwrap();
        acceptor.set_certificate(&cert).unwrap();
        let acceptor = acceptor.build();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Ok(mut tls) = acceptor.accept(stream) else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = tls.write_all(answer.as_bytes());
                let _ = tls.shutdown();
            }
        });
        (url, cert.to_pem().unwrap())
    }

    #[tokio::test]
    async fn https_needs_the_ca_or_insecure() {
        let (url, ca) = https_server();
        let error = ctl(&url, &["ps"]).await.0.unwrap_err();
        assert_eq!(error.exit_code(), 1);
        assert!(error.to_string().contains("--cacert"), "{error}");
        let ca = temp_file("ca.pem", std::str::from_utf8(&ca).unwrap());
        let (result, out) = ctl(&url, &["ps", "--cacert", ca.to_str().unwrap()]).await;
        result.unwrap();
        assert_eq!(out, "no connectors\n");
        let (result, out) = ctl(&url, &["ps", "--insecure"]).await;
        result.unwrap();
        assert_eq!(out, "no connectors\n");
    }

    #[tokio::test]
    async fn basic_auth_and_a_base_path() {
        let fake = Fake::start(|_| ok("{}")).await;
        let url = format!("{}/connect/", fake.url);
        let (result, _) = ctl(&url, &["ps", "--user", "admin", "--password", "secret"]).await;
        result.unwrap();
        let seen = fake.request();
        assert_eq!(seen.line(), "GET /connect/connectors?expand=status");
        // base64("admin:secret")
        assert_eq!(seen.auth.as_deref(), Some("Basic YWRtaW46c2VjcmV0"));
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = TestCli::try_parse_from(["spillway", "ctl", "--help"]).unwrap_err().to_string();
        assert!(help.contains("4  conflict (HTTP 409)"), "{help}");
        assert!(help.contains("[env: SPILLWAY_URL="), "{help}");
    }

    #[test]
    fn tables_align_and_trim() {
        let rows =
            vec![vec!["long-name".to_string(), "x".into(), String::new()], vec!["a".into(), "yy".into(), "z".into()]];
        assert_eq!(table(&["N", "V", "LAST"], &rows), "N          V   LAST\nlong-name  x\na          yy  z\n");
    }
}
