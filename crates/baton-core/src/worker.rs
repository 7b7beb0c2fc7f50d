//! Workers: headless agent CLIs and model servers that Baton starts, supervises and records.
//! A [`WorkerSpec`] is what to run and under which rules (decided at spawn time and stored);
//! a [`WorkerRecord`] is a spec plus where it stands now.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a worker stands (DESIGN.md section 6).
/// Ordered as declared (queued first), which is how counts by status are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    /// Waiting for a free slot (`--max-parallel`).
    Queued,
    /// A slot is taken and its supervisor is starting the process.
    Starting,
    Running,
    /// Exited 0 and its checkpoints hold.
    Succeeded,
    /// Exited non-zero, could not start, or a checkpoint does not hold.
    Failed,
    /// Ran past its wall deadline (`--timeout`).
    TimedOut,
    /// Went silent past its idle deadline (`--idle-timeout`), or outlived `wait --max-cycles`.
    Hung,
    /// Stopped on request (`baton kill`).
    Killed,
    /// Its supervisor died (kill -9, reboot); found out by PID plus process start time.
    Lost,
}

impl WorkerStatus {
    pub const ALL: [WorkerStatus; 9] = [
        WorkerStatus::Queued,
        WorkerStatus::Starting,
        WorkerStatus::Running,
        WorkerStatus::Succeeded,
        WorkerStatus::Failed,
        WorkerStatus::TimedOut,
        WorkerStatus::Hung,
        WorkerStatus::Killed,
        WorkerStatus::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::Queued => "queued",
            WorkerStatus::Starting => "starting",
            WorkerStatus::Running => "running",
            WorkerStatus::Succeeded => "succeeded",
            WorkerStatus::Failed => "failed",
            WorkerStatus::TimedOut => "timed_out",
            WorkerStatus::Hung => "hung",
            WorkerStatus::Killed => "killed",
            WorkerStatus::Lost => "lost",
        }
    }

    /// Whether the worker has ended (it will not change again).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            WorkerStatus::Queued | WorkerStatus::Starting | WorkerStatus::Running
        )
    }

    /// Whether an ended worker calls for remediation.
    pub fn wants_remediation(self) -> bool {
        matches!(
            self,
            WorkerStatus::Failed | WorkerStatus::TimedOut | WorkerStatus::Hung
        )
    }
}

impl fmt::Display for WorkerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkerStatus {
    type Err = crate::route::UnknownName;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        WorkerStatus::ALL.into_iter().find(|status| status.as_str() == value).ok_or_else(|| {
            crate::route::UnknownName {
                what: "worker status",
                value: value.into(),
                expected: "queued, starting, running, succeeded, failed, timed_out, hung, killed, lost",
            }
        })
    }
}

/// What a supervisor does when its child exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Agent workers: run once.
    #[default]
    Never,
    /// Restart after a non-zero exit or a failed health probe (model servers).
    OnFailure,
    /// Restart after any exit, until stopped.
    Always,
}

/// Whether a worker is an agent doing a task, a long-running model server, or the
/// coordinator of a detached run (which starts agents itself, so takes no agent slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WorkerRole {
    #[default]
    Agent,
    Server,
    Coordinator,
}

/// What to run and under which rules. Stored as decided at spawn time. Holds no secret:
/// `env_pass` names variables whose values the supervisor takes from its own environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub name: String,
    /// The `[workers.KIND]` template it came from, if any.
    pub kind: Option<String>,
    pub role: WorkerRole,
    /// The command line, `{prompt}` already substituted.
    pub command: Vec<String>,
    /// Absolute working directory.
    pub cwd: String,
    /// The task, when the worker has one (also given to the child as `BATON_PROMPT`).
    pub prompt: Option<String>,
    /// Variables set for the child (non-secret values from the kind template).
    pub env_set: Vec<(String, String)>,
    /// Variables passed through from the supervisor's environment beyond the allow-list.
    pub env_pass: Vec<String>,
    /// Variables set from another of the supervisor's variables, `(name, from)`: a backend's
    /// API key handed to a CLI under the name it reads, without the key ever being stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<(String, String)>,
    pub timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    /// Between SIGTERM to the group and SIGKILL.
    pub grace_ms: u64,
    /// Files (globs, relative to `cwd`) that must exist when the worker ends.
    pub expect: Vec<String>,
    /// The expected files must say PASS and not FAIL.
    pub expect_pass: bool,
    /// A shell command run in `cwd` once the worker exited 0 and its checkpoints hold; the
    /// worker succeeds only if it exits 0 too (an agent CLI's exit code proves nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Remediation workers still allowed after this one.
    pub remediate: u32,
    pub remediation_of: Option<String>,
    /// Most workers running at once when this one is started.
    pub max_parallel: u32,
    /// Log size cap: the head and the tail are kept.
    pub log_cap_bytes: u64,
    /// Run the supervisor inside a detached tmux session named after the worker.
    pub tmux: bool,
    pub restart: RestartPolicy,
    /// Health URL of a model server (200 means up).
    pub health_url: Option<String>,
}

/// A worker and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    pub id: String,
    pub spec: WorkerSpec,
    pub status: WorkerStatus,
    /// Why it is in this status (a deadline, an exit code, a missing checkpoint file).
    pub why: Option<String>,
    pub pid: Option<u32>,
    pub pgid: Option<u32>,
    /// Start time of `pid` (clock ticks since boot, /proc/PID/stat field 22): with the PID,
    /// the identity of the process, safe against PID reuse.
    pub process_start: Option<u64>,
    pub supervisor_pid: Option<u32>,
    pub supervisor_start: Option<u64>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub log_path: String,
    pub restarts: u32,
}

impl WorkerSpec {
    /// An agent worker running `command` in `cwd`, with no deadline, checkpoint, remediation
    /// or template: the base that `baton spawn` and tests fill in.
    pub fn new(name: impl Into<String>, command: Vec<String>, cwd: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: None,
            role: WorkerRole::Agent,
            command,
            cwd: cwd.into(),
            prompt: None,
            env_set: Vec::new(),
            env_pass: Vec::new(),
            env_from: Vec::new(),
            timeout_ms: None,
            idle_timeout_ms: None,
            grace_ms: 5000,
            expect: Vec::new(),
            expect_pass: false,
            check: None,
            remediate: 0,
            remediation_of: None,
            max_parallel: 4,
            log_cap_bytes: 10 * 1024 * 1024,
            tmux: false,
            restart: RestartPolicy::Never,
            health_url: None,
        }
    }
}

impl WorkerRecord {
    /// A worker waiting for a slot, as `baton spawn` records it.
    pub fn queued(
        id: impl Into<String>,
        spec: WorkerSpec,
        log_path: impl Into<String>,
        created_at_ms: i64,
    ) -> Self {
        Self {
            id: id.into(),
            spec,
            status: WorkerStatus::Queued,
            why: None,
            pid: None,
            pgid: None,
            process_start: None,
            supervisor_pid: None,
            supervisor_start: None,
            created_at_ms,
            started_at_ms: None,
            ended_at_ms: None,
            exit_code: None,
            log_path: log_path.into(),
            restarts: 0,
        }
    }
}
