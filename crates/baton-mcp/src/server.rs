//! [`BatonMcp`]: the MCP server's tools and its `ServerHandler`. Each tool checks its
//! arguments and calls `baton-ops` (see `tools.rs`) or `baton-pipeline` (the run tools, see
//! `runs.rs`); it answers with the action's typed
//! response as JSON text plus the same value as structured content. Every failure is an
//! `is_error: true` result (see `error.rs`).

use std::sync::Arc;

use baton_ops::Project;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;

use crate::args::Parameters;
use crate::error::ToolFailure;
use crate::params::{
    DispatchParams, MemoryKeyParams, MemoryListParams, MemorySearchParams, MemoryStoreParams,
    RunListParams, RunResumeParams, RunReviewParams, RunStartParams, RunStatusParams,
    WorkerIdParams, WorkerLogsParams, WorkerSpawnParams,
};
use crate::{runs, tools};

/// What an agent reads on connecting: what Baton is and which tool to use when.
pub const INSTRUCTIONS: &str = "\
Baton is a local-first orchestrator for AI coding work: it runs coding subtasks on cheap local \
models and headless agent workers, supervises them, and keeps a shared memory for the workers \
of a project. Use it like this:
- Hand multi-file coding work with a ticket and acceptance criteria to `run_start` (with your \
plan if you have one, and `review: \"external\"` to review it yourself). The run goes on in a \
process of its own; poll `run_status` until it is `awaiting_review`, read the change, and give \
your verdict with `run_review`. `run_list` finds runs; `run_resume` continues a stopped one.
- Before a task, `memory_search` the `patterns` namespace for what worked before (use hits \
scoring above 0.7); after it, `memory_store` what worked under a `pattern-…` key in `patterns` \
with `upsert: true`. Hand results to the coordinator in the `results` namespace.
- `memory_get` reads one entry by key, `memory_list` browses, `memory_delete` forgets.
- `dispatch` sends one self-contained coding subtask (with context files) to a model profile \
and returns the reply and its token usage; prefer it to doing bulk implementation yourself.
- `worker_spawn` starts a long-running headless agent or command under supervision; follow \
it with `worker_status` and `worker_logs`, and get the whole picture with `swarm_status`.";

/// The Baton MCP server: tools over one project's actions.
#[derive(Clone)]
pub struct BatonMcp {
    project: Arc<Project>,
    tool_router: ToolRouter<BatonMcp>,
}

impl std::fmt::Debug for BatonMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatonMcp")
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

/// A tool's outcome as its result: the value as pretty JSON text (what most agents read)
/// and, when it is an object, as structured content too; a failure as an error result.
fn into_result<T: Serialize>(outcome: Result<T, ToolFailure>) -> CallToolResult {
    let value = outcome.and_then(|value| {
        serde_json::to_value(&value).map_err(|error| {
            ToolFailure::invalid(format!("cannot encode the reply as JSON: {error}"))
                .with_hint("this is a bug in baton; please report it")
        })
    });
    match value {
        Ok(value) => {
            let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            if value.is_object() {
                result.structured_content = Some(value);
            }
            result
        }
        Err(failure) => {
            tracing::debug!(message = %failure.message, "tool call failed");
            failure.into_result()
        }
    }
}

impl BatonMcp {
    /// A server over `project`: its store, configuration and workers.
    pub fn new(project: Arc<Project>) -> BatonMcp {
        BatonMcp {
            project,
            tool_router: Self::tool_router(),
        }
    }

    /// The project this server acts on.
    pub fn project(&self) -> &Project {
        &self.project
    }
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
        Ok(into_result(
            tools::memory_store(&self.project, params).await,
        ))
    }

    #[tool(
        description = "Full-text search of Baton's shared memory, best matches first. Each hit's \
`score` (0..1) is absolute: how much of the query's words it holds, rarer words weighing more, \
stop words such as \"the\" or \"for\" ignored; 1.0 holds every word, and above 0.7 it holds more \
than half of the query's weight, in any search. Use BEFORE starting a task to find patterns that \
worked before (`namespace: \"patterns\"`, `limit: 5`, `min_score: 0.7`). Searches all namespaces \
unless `namespace`/`namespaces` is given; the reply lists the namespaces searched, the searched \
terms with their weights, the ignored words (`note` says when nothing was searched), the \
ranking method and how many hits `min_score` dropped."
    )]
    async fn memory_search(
        &self,
        Parameters(params): Parameters<MemorySearchParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(
            tools::memory_search(&self.project, params).await,
        ))
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
        Ok(into_result(tools::memory_get(&self.project, params).await))
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
        Ok(into_result(tools::memory_list(&self.project, params).await))
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
        Ok(into_result(
            tools::memory_delete(&self.project, params).await,
        ))
    }

    #[tool(
        description = "Overview of the swarm from live state: every worker still queued or \
running plus those that ended in the last hour, each with status, age and last log line, and \
counts by status. Use as the coordinator to see who is busy, stuck or done."
    )]
    async fn swarm_status(&self) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(tools::swarm_status(&self.project).await))
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
        Ok(into_result(
            tools::worker_spawn(&self.project, params).await,
        ))
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
        Ok(into_result(
            tools::worker_status(&self.project, params).await,
        ))
    }

    #[tool(
        description = "The last lines of a worker's log (default 50). Use to see what a worker \
is doing or why it failed or hung."
    )]
    async fn worker_logs(
        &self,
        Parameters(params): Parameters<WorkerLogsParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(tools::worker_logs(&self.project, params).await))
    }

    #[tool(
        description = "Hand a coding ticket to Baton: start a run of its pipeline \
(requirements, plan, implementation by local models with one commit per subtask on branch \
`baton/RUN` in a worktree of its own, the project's build and tests with fixes, review, \
sign-off). Give the ticket as Markdown (`ticket`, with a `## Acceptance criteria` list) or a \
file (`ticket_path`), and your plan (`plan` as JSON, or `plan_path`) to skip the architect. \
The run takes minutes to hours in a process of its own that outlives this connection: this \
returns at once with the run id, its worker and its log; a ticket or plan that does not check \
out is an error naming the problem. With `review: \"external\"` the run stops in \
`awaiting_review` for your `run_review`. Follow it with `run_status`. `dry_run: true` only \
checks the ticket and plan (or shows the architect's plan) and starts nothing."
    )]
    async fn run_start(
        &self,
        Parameters(params): Parameters<RunStartParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(runs::run_start(&self.project, params).await))
    }

    #[tool(
        description = "A run at a glance: its status and why, the phase it is in, each planned \
subtask with its status, dispatches and commits, the commits, the last review verdict, tokens \
spent locally and in the cloud, the reports written, whether its process is alive, and `next`: \
what to do now. Poll it after `run_start`, `run_review` or `run_resume` (every 10 to 30 \
seconds) until the status is `awaiting_review` (then `run_review`) or final (`approved`, \
`rejected`, `verify_failed`, `budget_exhausted`, `failed`, `interrupted`). `events: true` adds \
the run's full trail of events."
    )]
    async fn run_status(
        &self,
        Parameters(params): Parameters<RunStatusParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(runs::run_status(&self.project, params).await))
    }

    #[tool(
        description = "Give your verdict on a run waiting in `awaiting_review` (one started \
with `review: \"external\"`). Read the change first: `run_status` names its branch and \
worktree. `approve: true` signs the run off (its branch is then ready, and merged if the run \
was started with `merge`); `approve: false` with `notes` saying what must change sends them to \
the coder, runs the build and tests again, and the run waits for your next review. The run \
carries on in a process of its own: this returns once the verdict is recorded; follow it with \
`run_status`."
    )]
    async fn run_review(
        &self,
        Parameters(params): Parameters<RunReviewParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(runs::run_review(&self.project, params).await))
    }

    #[tool(
        description = "The project's runs, newest first (default 20): id, status and why, \
ticket, title, branch and worktree. Use to find a run's id or to see what ran and how it \
ended."
    )]
    async fn run_list(
        &self,
        Parameters(params): Parameters<RunListParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(runs::run_list(&self.project, params).await))
    }

    #[tool(
        description = "Continue a run that stopped where it stopped: one `interrupted`, one \
`failed` on an error of its own (a model server down), or one still `running` whose process \
is gone (`run_status` says so). Committed subtasks are not redone. Give `review: \
\"external\"` for a run started with an external review. It goes on in a process of its \
own: this returns at once; follow it with `run_status`."
    )]
    async fn run_resume(
        &self,
        Parameters(params): Parameters<RunResumeParams>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(into_result(runs::run_resume(&self.project, params).await))
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
        Ok(into_result(tools::dispatch(&self.project, params).await))
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
                        "Local-first orchestrator for AI coding work: runs of tickets \
                         on local models, shared memory, model dispatch and supervised \
                         workers",
                    ),
            )
            .with_instructions(INSTRUCTIONS)
    }
}
