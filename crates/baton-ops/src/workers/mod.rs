//! Supervised workers: headless agent CLIs and commands (and, in `servers`, model servers)
//! started under a detached supervisor each, queued while their slots are taken, watched by
//! PID plus start time, stopped with the kill ladder, remediated when they fail.
//!
//! Parts: this file ([`WorkerView`], the one shape every front end prints of a worker, and
//! [`find`]); `spec.rs` (a spec from a request and the templates); `agent.rs` (an agent
//! CLI's settings derived from its kind's backend, its MCP connection); `agent_output.rs`
//! (its final message and usage read back); `queue.rs` (records, slots,
//! lost supervisors, remediation); `control.rs` (spawn, ps, status, kill, wait); `logs.rs`;
//! `supervise.rs` (the supervisor role itself).

mod agent;
mod agent_output;
mod control;
mod logs;
mod queue;
mod spec;
mod supervise;

use baton_core::{WorkerRecord, WorkerRole, WorkerStatus};
use baton_store::Store;
use serde::Serialize;

pub use agent::{AgentScope, KindTarget, kind_target};
pub use agent_output::{AgentReport, report};
pub use control::{
    Cycle, KillOutcome, KillResponse, Killed, StatusResponse, SwarmStatus, WaitChain, WaitRequest,
    WaitResponse, kill, ps, spawn, status, stop, swarm, wait, wait_ended,
};
pub use logs::{LogTail, follow_file, show, tail};
pub(crate) use queue::new_record;
pub use queue::{promote, reconcile, tmux_session};
pub use spec::SpawnRequest;
pub(crate) use spec::server as server_spec;
pub use supervise::{Supervised, supervise};

use crate::OpsError;

/// A worker as every front end shows it: `ps --json`, `spawn --json`, `wait --json`, the MCP
/// worker tools and, later, the web API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerView {
    pub id: String,
    pub name: String,
    pub kind: Option<String>,
    pub role: WorkerRole,
    pub status: WorkerStatus,
    /// Why it is in its status (how it ended, why it was stopped).
    pub why: Option<String>,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub age_ms: i64,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    /// The worker this one remediates.
    pub remediation_of: Option<String>,
    pub restarts: u32,
    pub log_path: String,
    /// The log's last line without its timestamp; `None` without a log.
    pub last_log_line: Option<String>,
    pub command: Vec<String>,
    pub cwd: String,
}

impl WorkerView {
    /// The view of `record` at `now_ms` (reads the last line of its log).
    pub fn of(record: &WorkerRecord, now_ms: i64) -> WorkerView {
        WorkerView {
            id: record.id.clone(),
            name: record.spec.name.clone(),
            kind: record.spec.kind.clone(),
            role: record.spec.role,
            status: record.status,
            why: record.why.clone(),
            pid: record.pid,
            exit_code: record.exit_code,
            age_ms: now_ms - record.created_at_ms,
            created_at_ms: record.created_at_ms,
            started_at_ms: record.started_at_ms,
            ended_at_ms: record.ended_at_ms,
            remediation_of: record.spec.remediation_of.clone(),
            restarts: record.restarts,
            log_path: record.log_path.clone(),
            last_log_line: logs::last_line(&record.log_path),
            command: record.spec.command.clone(),
            cwd: record.spec.cwd.clone(),
        }
    }
}

/// Looks a worker up by id, id prefix or name (the newest of that name).
pub fn find(store: &Store, key: &str) -> Result<WorkerRecord, OpsError> {
    if key.trim().is_empty() {
        return Err(OpsError::invalid(
            "the worker id must not be empty",
            "give a worker's id, the start of it, or its name",
        ));
    }
    store
        .worker(key)?
        .ok_or_else(|| OpsError::UnknownWorker { key: key.into() })
}
