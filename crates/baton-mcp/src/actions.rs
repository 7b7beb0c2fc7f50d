//! What the MCP server asks of the `baton` binary: starting a worker and dispatching a
//! subtask. Both need the resolved config, the router and the supervisor, which live above
//! this crate (DESIGN.md section 3), so the binary implements [`Actions`] and hands it in.

use std::future::Future;
use std::pin::Pin;

use baton_store::{MemoryQuery, Store};

use crate::params::{DispatchParams, WorkerSpawnParams};

/// The future [`Actions::dispatch`] returns.
pub type DispatchFuture = Pin<Box<dyn Future<Output = Result<serde_json::Value, String>> + Send>>;

/// Worker and model actions, implemented by the `baton` binary (and by test doubles).
///
/// Errors are user-facing messages, already carrying their `hint:` line if any; the server
/// returns them to the agent as tool errors (`is_error: true`).
pub trait Actions: Send + Sync + 'static {
    /// Starts a worker; returns its record as JSON (id, name, status, log path…). Called on
    /// a blocking thread, so it may open the store and spawn the supervisor.
    fn spawn_worker(&self, params: WorkerSpawnParams) -> Result<serde_json::Value, String>;

    /// Dispatches one subtask; returns `{reply, backend, model, route, usage, latency_ms…}`.
    fn dispatch(&self, params: DispatchParams) -> DispatchFuture;

    /// After an entry is stored: records its embedding when hybrid ranking is configured and
    /// returns what to report (`{model, dim}` or `{model, error}`); `None` when it is not.
    /// Called on a blocking thread.
    fn embed_stored(
        &self,
        _store: &Store,
        _namespace: &str,
        _key: &str,
        _value: &str,
    ) -> Option<serde_json::Value> {
        None
    }

    /// Ranks a search with embeddings when hybrid ranking is configured (the reply then says
    /// so per hit); `None` for the plain text search. Called on a blocking thread.
    fn hybrid_search(
        &self,
        _store: &Store,
        _query: &MemoryQuery,
        _now_ms: i64,
    ) -> Option<Result<serde_json::Value, String>> {
        None
    }
}
