//! A plugin's way to speak: `host.log`, its stdout and stderr (line-buffered, tagged with the
//! plugin's name, rate-limited so a chatty or hostile plugin cannot flood the host's log) and its
//! counters.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tracing::{debug, error, info, trace, warn};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::bindings::host::Level;

/// Lines per second a plugin may log; the rest are counted and reported as dropped.
const LINES_PER_SECOND: f64 = 50.0;
/// Longest line kept (the rest is cut).
const MAX_LINE: usize = 4096;

#[derive(Debug)]
struct Budget {
    tokens: f64,
    last: Instant,
    dropped: u64,
}

/// Where one plugin instance's output goes.
#[derive(Debug)]
pub struct GuestOutput {
    plugin: Arc<str>,
    budget: Mutex<Budget>,
    counters: Mutex<BTreeMap<String, u64>>,
}

impl GuestOutput {
    /// Output of `plugin`.
    pub fn new(plugin: &str) -> Self {
        Self {
            plugin: Arc::from(plugin),
            budget: Mutex::new(Budget { tokens: LINES_PER_SECOND, last: Instant::now(), dropped: 0 }),
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    fn admit(&self) -> Option<u64> {
        let mut b = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * LINES_PER_SECOND).min(LINES_PER_SECOND);
        b.last = now;
        if b.tokens < 1.0 {
            b.dropped += 1;
            return None;
        }
        b.tokens -= 1.0;
        Some(std::mem::take(&mut b.dropped))
    }

    /// Logs one message of the plugin, if its budget allows.
    pub fn log(&self, level: Level, message: &str) {
        let Some(dropped) = self.admit() else { return };
        let message = cut(message);
        let plugin = &*self.plugin;
        if dropped > 0 {
            warn!(plugin, dropped, "plugin log lines dropped (rate limit)");
        }
        match level {
            Level::Trace => trace!(plugin, "{message}"),
            Level::Debug => debug!(plugin, "{message}"),
            Level::Info => info!(plugin, "{message}"),
            Level::Warn => warn!(plugin, "{message}"),
            Level::Error => error!(plugin, "{message}"),
        }
    }

    /// Adds to a counter of the plugin.
    pub fn count(&self, name: &str, delta: u64) {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let c = counters.entry(cut(name).to_string()).or_default();
        *c = c.saturating_add(delta);
    }

    /// The plugin's counters.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The guest's stdout, logged at info.
    pub fn stdout(self: &Arc<Self>) -> Stdio {
        Stdio { output: self.clone(), level: Level::Info }
    }

    /// The guest's stderr, logged at warn.
    pub fn stderr(self: &Arc<Self>) -> Stdio {
        Stdio { output: self.clone(), level: Level::Warn }
    }
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_LINE {
        return s;
    }
    let mut end = MAX_LINE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A guest stdout or stderr stream.
#[derive(Debug, Clone)]
pub struct Stdio {
    output: Arc<GuestOutput>,
    level: Level,
}

impl IsTerminal for Stdio {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Stdio {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter { stdio: self.clone(), pending: Vec::new() })
    }
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter { stdio: self.clone(), pending: Vec::new() })
    }
}

/// Collects bytes into lines and logs each complete line.
struct LineWriter {
    stdio: Stdio,
    pending: Vec<u8>,
}

impl LineWriter {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        while let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=at).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if self.pending.len() > MAX_LINE {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
    fn emit(&self, line: &[u8]) {
        self.stdio.output.log(self.stdio.level, &String::from_utf8_lossy(line));
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
