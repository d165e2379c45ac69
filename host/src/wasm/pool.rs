//! The threads that run plugin code. Guest code never runs on tokio's threads: a long call (up to
//! its CPU deadline) must not stall the reactor.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A small fixed pool of named threads fed by a channel.
#[derive(Debug, Clone)]
pub struct PluginThreads {
    jobs: Sender<Job>,
}

impl PluginThreads {
    /// Starts `threads` threads.
    pub fn new(threads: usize) -> Result<Self, String> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("wasm-{i}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| format!("cannot start a plugin thread: {e}"))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a plugin thread and waits for it without blocking the async runtime.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(f));
            let _ = tx.send(result);
        });
        self.jobs.send(job).map_err(|_| "the plugin threads are gone".to_string())?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("host error while running a plugin: {what}"))
            }
            Err(_) => Err("the plugin thread stopped".to_string()),
        }
    }
}

/// Runs `f` on a thread of its own and waits for it without blocking the async runtime: for one-off
/// work that runs guest code (loading plugins, validating connectors).
pub async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("plugin-setup".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    rx.await.map_err(|_| "the plugin setup thread panicked".to_string())
}
