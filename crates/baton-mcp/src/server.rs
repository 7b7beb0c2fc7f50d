//! [`BatonMcp`]: the MCP server's tools and its `ServerHandler`. Each tool validates its
//! arguments, does its store work on a blocking thread (one [`Store`] per call: opening is
//! cheap and a `Store` is not `Sync`), and answers with JSON text plus the same value as
//! structured content. Every failure is an `is_error: true` result (see `error.rs`).

use baton_core::now_ms;
use std::path::PathBuf;
use std::sync::Arc;

use baton_store::Store;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde_json::Value;

use crate::actions::Actions;
use crate::args::Parameters;
use crate::error::ToolFailure;
use crate::ops;
use crate::params::{
    DispatchParams, MemoryKeyParams, MemoryListParams, MemorySearchParams, MemoryStoreParams,
    WorkerIdParams, WorkerLogsParams, WorkerSpawnParams,
};

/// What an agent reads on connecting: what Baton is and which tool to use when.
pub const INSTRUCTIONS: &str = "\
Baton is a local-first orchestrator for AI coding work: it runs coding subtasks on cheap local \
models and headless agent workers, supervises them, and keeps a shared memory for the workers \
of a project. Use it like this:
- Before a task, `memory_search` the `patterns` namespace for what worked before (use hits \
scoring above 0.7); after it, `memory_store` what worked under a `pattern-…` key in `patterns` \
with `upsert: true`. Hand results to the coordinator in the `results` namespace.
- `memory_get` reads one entry by key, `memory_list` browses, `memory_delete` forgets.
- `dispatch` sends one self-contained coding subtask (with context files) to a model profile \
and returns the reply and its token usage; prefer it to doing bulk implementation yourself.
- `worker_spawn` starts a long-running headless agent or command under supervision; follow \
it with `worker_status` and `worker_logs`, and get the whole picture with `swarm_status`.";

/// The Baton MCP server: tools over the project's store and the binary's [`Actions`].
#[derive(Clone)]
pub struct BatonMcp {
    store_path: PathBuf,
    actions: Arc<dyn Actions>,
    tool_router: ToolRouter<BatonMcp>,
}

impl std::fmt::Debug for BatonMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatonMcp")
            .field("store_path", &self.store_path)
            .finish_non_exhaustive()
    }
}

/// A successful reply: the value as pretty JSON text (what most agents read) and, when it
/// is an object, as structured content too.
fn json_result(value: Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    if value.is_object() {
        result.structured_content = Some(value);
    }
    result
}

fn into_result(outcome: Result<Value, ToolFailure>) -> CallToolResult {
    match outcome {
        Ok(value) => json_result(value),
        Err(failure) => {
            tracing::debug!(message = %failure.message, "tool call failed");
            failure.into_result()
        }
    }
}

impl BatonMcp {
    /// A server over the database at `store_path` (opened per call, created if missing).
    pub fn new(store_path: impl Into<PathBuf>, actions: Arc<dyn Actions>) -> BatonMcp {
        BatonMcp {
            store_path: store_path.into(),
            actions,
            tool_router: Self::tool_router(),
        }
    }

    /// The database this server opens.
    pub fn store_path(&self) -> &std::path::Path {
        &self.store_path
    }

    /// Runs `op` against a freshly opened store on a blocking thread.
    async fn with_store<F>(&self, op: F) -> CallToolResult
    where
        F: FnOnce(&Store, i64) -> Result<Value, ToolFailure> + Send + 'static,
    {
        let path = self.store_path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let store = Store::open(&path)?;
            op(&store, now_ms())
        })
        .await;
        into_result(joined.unwrap_or_else(|error| Err(panicked(&error))))
    }
}

fn panicked(error: &tokio::task::JoinError) -> ToolFailure {
    tracing::error!(%error, "an MCP tool task failed");
    ToolFailure::invalid(format!("the tool failed inside baton: {error}"))
        .with_hint("this is a bug in baton; please report it")
}

#[tool_router]
impl BatonMcp {
    #[tool(
        description = "Store a value in Baton's shared memory under a key. Use AFTER finishing a \
task: save what worked as a reusable pattern (namespace `patterns`, key `pattern-…`, \
`upsert: true`), or hand a result to the coordinator (namespace `results`). Without `upsert`, \
storing an existing key is an error."
    )]
    async fn memory_store(
        &self,
        Parameters(params): Parameters<MemoryStoreParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store({
                let actions = Arc::clone(&self.actions);
                move |store, now| ops::memory_store(store, &params, now, actions.as_ref())
            })
            .await)
    }

    #[tool(
        description = "Full-text search of Baton's shared memory, best matches first, scores \
normalized to 0..1. Use BEFORE starting a task to find patterns that worked before \
(`namespace: \"patterns\"`, `limit: 5`; trust hits scoring above 0.7). Searches all namespaces \
unless `namespace`/`namespaces` is given; the reply lists the namespaces searched, the ranking \
method and how many hits `min_score` dropped."
    )]
    async fn memory_search(
        &self,
        Parameters(params): Parameters<MemorySearchParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store({
                let actions = Arc::clone(&self.actions);
                move |store, now| ops::memory_search(store, &params, now, actions.as_ref())
            })
            .await)
    }

    #[tool(
        description = "Read one shared-memory entry by namespace (default `default`) and exact \
key. Use when you know the key, e.g. a result another worker stored; use `memory_search` when \
you don't."
    )]
    async fn memory_get(
        &self,
        Parameters(params): Parameters<MemoryKeyParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store(move |store, now| ops::memory_get(store, &params, now))
            .await)
    }

    #[tool(
        description = "List shared-memory entries, newest first, in one namespace or all, \
optionally by tag, with paging. Use to browse what is stored (e.g. every entry in `results`) \
when you have no search words."
    )]
    async fn memory_list(
        &self,
        Parameters(params): Parameters<MemoryListParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store(move |store, now| ops::memory_list(store, &params, now))
            .await)
    }

    #[tool(
        description = "Delete one shared-memory entry by namespace (default `default`) and key. \
Use to remove a pattern that turned out wrong or a result already consumed. Replies \
`deleted: false` when there was no such entry."
    )]
    async fn memory_delete(
        &self,
        Parameters(params): Parameters<MemoryKeyParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store(move |store, _now| ops::memory_delete(store, &params))
            .await)
    }

    #[tool(
        description = "Overview of the swarm from live state: every worker still queued or \
running plus those that ended in the last hour, each with status, age and last log line, and \
counts by status. Use as the coordinator to see who is busy, stuck or done. `runs` is always \
empty for now: pipeline runs are not recorded yet."
    )]
    async fn swarm_status(&self) -> Result<CallToolResult, ErrorData> {
        Ok(self.with_store(ops::swarm_status).await)
    }

    #[tool(
        description = "Start a supervised worker: a headless agent CLI from a config template \
(`kind` + `prompt`) or any `command`, with deadlines, expected outputs and remediation. Use for \
long-running or parallel work you don't want to wait on; returns its id at once. Follow up with \
`worker_status`, `worker_logs` or `swarm_status`."
    )]
    async fn worker_spawn(
        &self,
        Parameters(params): Parameters<WorkerSpawnParams>,
    ) -> Result<CallToolResult, ErrorData> {
        if params.kind.is_none() && params.command.as_ref().is_none_or(Vec::is_empty) {
            return Ok(ToolFailure::invalid(
                "give `kind` (an agent template, with `prompt`) or a non-empty `command`",
            )
            .into_result());
        }
        let actions = Arc::clone(&self.actions);
        let joined = tokio::task::spawn_blocking(move || actions.spawn_worker(params)).await;
        let outcome = match joined {
            Ok(outcome) => outcome.map_err(ToolFailure::from),
            Err(error) => Err(panicked(&error)),
        };
        Ok(into_result(outcome))
    }

    #[tool(
        description = "One worker in detail: status and why, pid, exit code, start and end \
times, log path, and the chain of remediation workers started after it. Use to decide whether \
to wait, read logs, or retry."
    )]
    async fn worker_status(
        &self,
        Parameters(params): Parameters<WorkerIdParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store(move |store, _now| ops::worker_status(store, &params))
            .await)
    }

    #[tool(
        description = "The last lines of a worker's log (default 50). Use to see what a worker \
is doing or why it failed or hung."
    )]
    async fn worker_logs(
        &self,
        Parameters(params): Parameters<WorkerLogsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .with_store(move |store, _now| ops::worker_logs(store, &params))
            .await)
    }

    #[tool(
        description = "Send one self-contained coding subtask to a model profile (local by \
default, cloud with `route: \"api\"`), with files as context, and get the reply with backend, \
model, route, token usage and latency. Use for implementation work that a cheaper model can do \
from a precise task statement; review the reply before applying it."
    )]
    async fn dispatch(
        &self,
        Parameters(params): Parameters<DispatchParams>,
    ) -> Result<CallToolResult, ErrorData> {
        if params.task.trim().is_empty() {
            return Ok(ToolFailure::invalid("`task` must not be empty").into_result());
        }
        if let Some(route) = params.route.as_deref()
            && !matches!(route, "auto" | "local" | "api")
        {
            return Ok(ToolFailure::invalid(format!(
                "`route` must be `auto`, `local` or `api`, got `{route}`"
            ))
            .into_result());
        }
        let outcome = self.actions.dispatch(params).await;
        Ok(into_result(outcome.map_err(ToolFailure::from)))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BatonMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("baton", env!("CARGO_PKG_VERSION"))
                    .with_title("Baton")
                    .with_description(
                        "Local-first orchestrator for AI coding work: shared memory, \
                         model dispatch and supervised workers",
                    ),
            )
            .with_instructions(INSTRUCTIONS)
    }
}
