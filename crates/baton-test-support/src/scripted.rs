//! The running scripted server: [`ScriptedServer`] for async tests, [`BlockingScriptedServer`]
//! (its own runtime on its own thread) for sync tests that run the `baton` binary, and
//! [`RecordedRequest`], what either saw.
//!
//! The server binds `127.0.0.1:0`, serves with axum until it is shut down (explicitly or on
//! drop), and then closes every connection, hung ones included.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::respond::wait_for_shutdown;
use crate::routes::{self, Shared};
use crate::script::{Reply, Script};

/// How long `shutdown` lets open connections finish before it stops waiting for them. Replies
/// end themselves on shutdown, so only a client that stalls mid-request is cut off by this.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Worker threads of a blocking server's own runtime: one to accept, one to spare, plenty for
/// a test's handful of requests.
const BLOCKING_WORKER_THREADS: usize = 2;

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// In arrival order; names are lower case.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, `Null` when it is empty or not JSON.
    pub body: serde_json::Value,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether this was a chat request (one that consumed a reply).
    pub fn is_chat(&self) -> bool {
        self.method == "POST"
            && matches!(
                self.path.as_str(),
                "/v1/chat/completions" | "/chat/completions" | "/v1/messages" | "/v1/responses"
            )
    }
}

/// Why a [`Reply::Loop`] stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopEnd {
    /// The client went away (closed or reset the connection) before the end.
    ClientLeft,
    /// It ran to its end: the request's `max_tokens` chunks (only the head for a loop
    /// without a cycle), then the finish.
    Finished,
    /// The server shut down first.
    Shutdown,
}

/// What became of one [`Reply::Loop`] stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopReport {
    /// Content chunks (tokens) handed to the connection.
    pub chunks_sent: u64,
    /// The `max_tokens` the stream would have stopped at.
    pub max_tokens: u64,
    pub ended: LoopEnd,
}

/// What both server kinds need to answer their accessors.
#[derive(Debug, Clone)]
struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Handle {
    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A scripted OpenAI/Anthropic-compatible server on a tokio runtime. Shuts down when dropped.
#[derive(Debug)]
pub struct ScriptedServer {
    handle: Handle,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ScriptedServer {
    /// Binds `127.0.0.1:0` and starts serving `script` on the current runtime.
    pub async fn start(script: Script) -> anyhow::Result<ScriptedServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("failed to bind the scripted server to 127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .context("failed to read the scripted server's address")?;
        let shared = Arc::new(Shared::new(script));
        let app = routes::router(Arc::clone(&shared));
        // Small SSE writes would otherwise wait on Nagle + delayed ACK (~40 ms), which is
        // exactly the latency benchmarks measure.
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let mut stop = shared.subscribe_shutdown();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { wait_for_shutdown(&mut stop).await })
                .await
        });
        Ok(ScriptedServer {
            handle: Handle { addr, shared },
            task: Some(task),
        })
    }

    /// Starts a server on its own runtime thread, for tests without a runtime.
    pub fn start_blocking(script: Script) -> anyhow::Result<BlockingScriptedServer> {
        BlockingScriptedServer::start(script)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// [`base_url`](Self::base_url) + `/v1`, what OpenAI clients take as their base.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr
    }

    /// Every request received so far, in order (empty if the script turned recording off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.handle.shared.requests()
    }

    /// How many requests arrived so far, counted even when recording is off.
    pub fn request_count(&self) -> usize {
        self.handle.shared.request_count()
    }

    /// Returns once at least `count` requests have arrived (and been recorded): the way to
    /// know a hanging request reached the server without sleeping.
    pub async fn wait_for_requests(&self, count: usize) {
        self.handle.shared.wait_for_requests(count).await;
    }

    /// Chat requests being served right now.
    pub fn in_flight(&self) -> usize {
        self.handle.shared.in_flight()
    }

    /// The highest number of chat requests served at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.handle.shared.max_in_flight()
    }

    /// What became of each [`Reply::Loop`] stream that has ended, in the order they ended.
    pub fn loop_reports(&self) -> Vec<LoopReport> {
        self.handle.shared.loop_reports()
    }

    /// Returns once at least `count` loop streams have ended: after a client cut one, the
    /// server notices at its next write, a chunk's delay later.
    pub async fn wait_for_loop_reports(&self, count: usize) -> Vec<LoopReport> {
        self.handle.shared.wait_for_loop_reports(count).await
    }

    /// Returns once the number of chat requests in flight satisfies `until` (checked now and
    /// at every change), e.g. `|n| n == 0` after a client went away, or `|n| n >= 2`.
    pub async fn wait_for_in_flight(&self, until: impl FnMut(usize) -> bool) {
        self.handle.shared.wait_for_in_flight(until).await;
    }

    /// Changes what `GET /health` answers from now on.
    pub fn set_health(&self, healthy: bool) {
        self.handle.shared.set_health(healthy);
    }

    /// Queues one more reply behind those not yet consumed.
    pub fn push_reply(&self, reply: Reply) {
        self.handle.shared.push_reply(reply);
    }

    /// Stops accepting, ends every open reply (hung ones by dropping their connection) and
    /// waits for the server task, at most five seconds.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.handle.shared.request_shutdown();
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(joined) => joined
                .context("scripted server task failed")?
                .context("scripted server failed"),
            Err(_elapsed) => {
                task.abort();
                anyhow::bail!(
                    "scripted server did not finish within {SHUTDOWN_GRACE:?} of shutdown"
                )
            }
        }
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        // The task finishes by itself on the runtime once replies see the signal.
        self.handle.shared.request_shutdown();
    }
}

/// A [`ScriptedServer`] that runs on a runtime of its own, on its own thread, so that sync
/// tests (which run the real `baton` binary with `std::process::Command`) can use it. Shuts
/// down, and joins its thread, when dropped.
#[derive(Debug)]
pub struct BlockingScriptedServer {
    handle: Handle,
    thread: Option<thread::JoinHandle<anyhow::Result<()>>>,
}

impl BlockingScriptedServer {
    /// Starts the runtime thread and the server on it; returns once the server listens.
    pub fn start(script: Script) -> anyhow::Result<BlockingScriptedServer> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<Handle>>();
        let thread = thread::Builder::new()
            .name("scripted-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(BLOCKING_WORKER_THREADS)
                    .enable_all()
                    .build()
                    .context("failed to build the scripted server's runtime");
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return Ok(());
                    }
                };
                runtime.block_on(async move {
                    let server = match ScriptedServer::start(script).await {
                        Ok(server) => server,
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return Ok(());
                        }
                    };
                    let mut stop = server.handle.shared.subscribe_shutdown();
                    if ready_tx.send(Ok(server.handle.clone())).is_err() {
                        // The caller is gone; nobody will ever stop us, so stop now.
                        return server.shutdown().await;
                    }
                    wait_for_shutdown(&mut stop).await;
                    server.shutdown().await
                })
                // Dropping the runtime here drops any connection task still left.
            })
            .context("failed to spawn the scripted server thread")?;
        let handle = ready_rx
            .recv()
            .context("the scripted server thread ended before it started serving")??;
        Ok(BlockingScriptedServer {
            handle,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// [`base_url`](Self::base_url) + `/v1`.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.handle.shared.requests()
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.handle.shared.request_count()
    }

    /// Chat requests being served right now.
    pub fn in_flight(&self) -> usize {
        self.handle.shared.in_flight()
    }

    /// The highest number of chat requests served at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.handle.shared.max_in_flight()
    }

    /// What became of each [`Reply::Loop`] stream that has ended.
    pub fn loop_reports(&self) -> Vec<LoopReport> {
        self.handle.shared.loop_reports()
    }

    /// Changes what `GET /health` answers from now on.
    pub fn set_health(&self, healthy: bool) {
        self.handle.shared.set_health(healthy);
    }

    /// Queues one more reply behind those not yet consumed.
    pub fn push_reply(&self, reply: Reply) {
        self.handle.shared.push_reply(reply);
    }

    /// Shuts the server down and joins its thread.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        self.handle.shared.request_shutdown();
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        match thread.join() {
            Ok(result) => result,
            Err(_panic) => anyhow::bail!("the scripted server thread panicked"),
        }
    }
}

impl Drop for BlockingScriptedServer {
    fn drop(&mut self) {
        // Nothing to report to in drop; `shutdown()` returns the same error for callers
        // that want it.
        let _ = self.stop();
    }
}
