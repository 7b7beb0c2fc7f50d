//! The audit trail's events (DESIGN.md section 2): every state change Baton records, as one
//! [`Event`] with a typed payload. A row of the store's `events` table holds an event as its
//! kind (`worker.ended`), its payload's version and the payload as JSON; the store writes an
//! `&Event` and reads one back typed, and so do the `events.jsonl` mirror and the live stream.
//!
//! Versions: every payload is at version 1. A payload whose shape changes gets a new version
//! and [`Event::decode`] keeps reading the old one, so a database written by an older baton
//! reads back whole. A kind this baton does not know (a row written by hand or by a tool) is
//! kept as [`Event::Other`], never dropped.

use serde::{Deserialize, Serialize};

use crate::ledger::EditRecord;
use crate::plan::{Plan, Spec, Verdict};
use crate::route::Locality;
use crate::run::{Phase, RunStatus};
use crate::worker::{WorkerRole, WorkerStatus};

/// A worker recorded (`worker.queued`, or `worker.created` for one recorded in another state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCreated {
    pub status: WorkerStatus,
    pub why: Option<String>,
    pub name: String,
    pub kind: Option<String>,
    pub role: WorkerRole,
    pub max_parallel: u32,
    pub remediation_of: Option<String>,
}

/// A queued worker took a free slot (`worker.starting`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStarting {
    pub status: WorkerStatus,
    pub from: WorkerStatus,
    /// Agents starting or running when it took its slot.
    pub agents_busy: i64,
}

/// A supervisor wrote itself down (`worker.supervised`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSupervised {
    pub status: WorkerStatus,
    pub from: WorkerStatus,
    pub supervisor_pid: u32,
    pub supervisor_start: u64,
}

/// The worker's process started (`worker.started`), or started again (`worker.restarted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStarted {
    pub status: WorkerStatus,
    pub from: WorkerStatus,
    pub pid: u32,
    pub pgid: u32,
    pub process_start: u64,
    pub started_at_ms: i64,
    pub restarts: u32,
}

/// The worker's process ended and its supervisor restarts it (`worker.restarting`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRestarting {
    /// The status it left; absent in rows of early versions that did not record it.
    #[serde(default)]
    pub from: Option<WorkerStatus>,
    pub why: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Restarts so far, this one included.
    #[serde(default)]
    pub restarts: Option<u32>,
}

/// A model server's health check passed (`worker.ready`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReady {}

/// The worker ended (`worker.ended`), or its supervisor was found gone (`worker.lost`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerEnded {
    pub status: WorkerStatus,
    pub from: WorkerStatus,
    pub why: Option<String>,
    /// Absent for a worker that never ran a process (killed while queued, lost).
    #[serde(default)]
    pub exit_code: Option<i32>,
    pub ended_at_ms: i64,
}

/// How a file an edit touched changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    Created,
    Modified,
    Deleted,
}

/// One file a reply changed (or would change, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTouched {
    pub path: String,
    pub status: FileStatus,
    pub insertions: usize,
    pub deletions: usize,
    /// Whether the change is on disk.
    pub written: bool,
}

/// A reply handed to the applier (`edit.applied`): its edits ledger row and the files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditApplied {
    #[serde(flatten)]
    pub record: EditRecord,
    pub files: Vec<FileTouched>,
}

/// A memory entry written (`memory.stored`, `memory.updated`). The value itself is not in the
/// trail: its length and SHA-256 are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryWritten {
    pub namespace: String,
    pub key: String,
    pub value_len: usize,
    /// `sha256:` and the hex digest.
    pub value_sha256: String,
    pub is_json: bool,
    pub tags: Vec<String>,
    pub expires_at_ms: Option<i64>,
    /// For an update: whether the value changed, and whether that cleared its embedding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_changed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_cleared: Option<bool>,
}

/// A memory entry's vector recorded (`memory.embedded`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEmbedded {
    pub namespace: String,
    pub key: String,
    pub model: String,
    pub dim: usize,
}

/// Why a memory entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteReason {
    Deleted,
    Expired,
}

/// A memory entry deleted or expired (`memory.deleted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryDeleted {
    pub namespace: String,
    pub key: String,
    pub reason: DeleteReason,
    pub expires_at_ms: Option<i64>,
}

/// A run began (`run.started`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub ticket_id: String,
    pub title: String,
    pub ticket_path: String,
    pub base_commit: String,
    pub branch: String,
    pub worktree: String,
    /// The branch checked out when the run began (`None` on a detached HEAD): where an
    /// approved run is fast-forwarded with `merge`.
    pub base_branch: Option<String>,
    /// Fast-forward `base_branch` to the run's branch once it is approved.
    pub merge: bool,
    /// Where the run's trail is published (none for a run that began before publishing).
    #[serde(default, skip_serializing_if = "crate::publish::PublishPlan::is_empty")]
    pub publish: crate::publish::PublishPlan,
}

/// An approved run's branch was fast-forwarded into its base branch (`run.merged`), or could
/// not be (`merged: false`, with why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMerged {
    pub into: String,
    pub commit: String,
    pub merged: bool,
    pub why: Option<String>,
}

/// The run's budgets (`run.budget`), kept for its resumes: spent amounts add up across them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunBudget {
    /// Cloud tokens (prompt and completion) the run's dispatches may spend.
    pub max_cloud_tokens: Option<u64>,
    /// Fix dispatches (verification and review fixes) the run may make.
    pub max_iterations: Option<u32>,
    /// Wall time the run may take, over all its sessions, in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// Whether a phase began or ended, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    Started,
    Done,
    Failed,
    Skipped,
}

/// A phase began or ended (`run.phase`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseChanged {
    pub phase: Phase,
    pub status: PhaseStatus,
    /// One line: what it came to.
    pub note: Option<String>,
}

/// Where a spec or a plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Taken from the ticket or the `--plan` file as written.
    Given,
    /// Drawn up by a role's model.
    Model,
    /// A plan of one subtask made from the ticket's scope, when the architect gave no valid
    /// plan.
    TicketScope,
}

/// The run's spec (`run.spec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecDrawn {
    pub spec: Spec,
    pub source: Source,
}

/// The run's plan, checked (`run.plan`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanMade {
    pub plan: Plan,
    pub source: Source,
    /// Answers the architect needed (each invalid one was sent back with its problems);
    /// 0 for a given plan.
    pub attempts: u32,
}

/// One dispatch of a subtask (or of a fix) and what applying its reply did
/// (`subtask.dispatched`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskDispatched {
    pub subtask: String,
    /// Counts every dispatch of the run, from 1 (the `dispatch N` of commit messages).
    pub dispatch: u32,
    /// Counts this subtask's tries at this step, from 1 (a refused edit is tried again).
    pub attempt: u32,
    pub request_id: String,
    pub profile: String,
    pub backend: String,
    pub model: String,
    pub locality: Locality,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    /// The reply parsed in the format asked for.
    pub well_formed: bool,
    /// Its edits were written.
    pub applied: bool,
    /// What went back to the model when they were not.
    pub feedback: Option<String>,
    pub files: Vec<String>,
    /// When an agent CLI did the work instead of one model reply: its worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<AgentWorked>,
}

/// An agent CLI's part in a dispatch: which worker, how it ended, what of its changes was
/// refused, what it said it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentWorked {
    /// The worker's id (`baton ps`, `baton logs`).
    pub id: String,
    /// The `[workers.KIND]` it ran as, or the command.
    pub kind: String,
    pub status: crate::WorkerStatus,
    pub why: Option<String>,
    /// Files it changed outside those the subtask owns: not taken.
    pub refused: Vec<String>,
    /// Its result, from the `results` memory or its final message.
    pub result: Option<String>,
}

/// A dispatch's changes committed on the run's branch (`subtask.committed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskCommitted {
    pub subtask: String,
    pub dispatch: u32,
    pub commit: String,
    pub message: String,
    pub files: Vec<String>,
}

/// How a subtask ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubtaskOutcome {
    Done,
    Failed,
}

/// A subtask is done with (`subtask.ended`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskEnded {
    pub subtask: String,
    pub outcome: SubtaskOutcome,
    pub why: Option<String>,
}

/// A quality gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    Build,
    Test,
    Lint,
}

impl Gate {
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Build => "build",
            Gate::Test => "test",
            Gate::Lint => "lint",
        }
    }
}

/// One quality gate ran in the worktree (`verify.ran`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRan {
    /// 0 for the first verification, then one more per fix.
    pub iteration: u32,
    pub gate: Gate,
    pub command: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// The trimmed output that a fix is sent (failing tests and first errors).
    pub output: String,
}

/// The fix loop moved to the next profile of the chain (`run.escalated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalated {
    pub from: String,
    pub to: String,
    pub why: String,
}

/// A reviewer's verdict (`review.verdict`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewVerdict {
    pub round: u32,
    pub verdict: Verdict,
    /// The profile or `external` (a person or the driving agent).
    pub reviewer: String,
    pub request_id: Option<String>,
}

/// A stopped run was taken up again (`run.resumed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResumed {
    /// The status it had: `interrupted`, `failed`, or `running` for a coordinator that was
    /// killed.
    pub from: RunStatus,
    /// Subtasks not redone: recorded as done, or found committed by their trailers.
    pub done: Vec<String>,
    /// Of those, the ones whose commit was made but not recorded.
    pub found_by_trailers: Vec<String>,
    /// Files the stopped run had written without committing them, put back to the branch.
    pub discarded: Vec<String>,
}

/// A run's worktree and branch were removed (`run.rolled_back`); its folder and trail stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRolledBack {
    /// The commit the branch pointed at, so that the work can be brought back
    /// (`git branch baton/RUN SHA`) for as long as git keeps it.
    pub branch_tip: Option<String>,
    pub worktree_removed: bool,
    pub branch_deleted: bool,
    /// A merged run is reverted instead: the branch holding the revert commits and its tip.
    pub revert_branch: Option<String>,
    pub revert_commit: Option<String>,
}

/// A publication of a run's trail was delivered (`publish.sent`), or an attempt failed
/// (`publish.failed`, with why; it stays in the outbox for `baton publish RUN`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub target: crate::publish::Target,
    /// The publication's key in the run's outbox (what makes a retry post nothing twice).
    pub key: String,
    /// What it does: `pr.open`, `push`, `comment`, `state`, `event`, ...
    pub action: String,
    /// Attempts so far, this one included.
    pub attempt: u32,
    /// Where it can be seen (a pull request's or a comment's URL), when the target says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Why the attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A run ended, or stopped to wait (`run.ended`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEnded {
    pub status: RunStatus,
    pub why: Option<String>,
}

/// Declares [`Event`] with one variant per kind, and its kind names, versions, encoding and
/// decoding, from one table, so a new kind cannot be half added.
macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $kind:literal, v $version:literal;)*) => {
        /// One recorded state change; see the module documentation.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($(#[$doc])* $variant($payload),)*
            /// A kind this baton does not write, kept as it was found.
            Other {
                kind: String,
                version: u32,
                data: serde_json::Value,
            },
        }

        impl Event {
            /// Every kind this baton writes, for documentation and tests.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The kind, as the `kind` column holds it: `worker.ended`.
            pub fn kind(&self) -> &str {
                match self {
                    $(Event::$variant(_) => $kind,)*
                    Event::Other { kind, .. } => kind,
                }
            }

            /// The version of the payload's shape.
            pub fn version(&self) -> u32 {
                match self {
                    $(Event::$variant(_) => $version,)*
                    Event::Other { version, .. } => *version,
                }
            }

            /// The payload as JSON, as the `data` column holds it.
            pub fn data(&self) -> Result<serde_json::Value, serde_json::Error> {
                match self {
                    $(Event::$variant(payload) => serde_json::to_value(payload),)*
                    Event::Other { data, .. } => Ok(data.clone()),
                }
            }

            /// The event a row holds. A known kind whose payload does not match its version's
            /// shape is an error; an unknown kind is [`Event::Other`].
            pub fn decode(
                kind: &str,
                version: u32,
                data: serde_json::Value,
            ) -> Result<Event, DecodeError> {
                match (kind, version) {
                    $(($kind, $version) => serde_json::from_value(data)
                        .map(Event::$variant)
                        .map_err(|source| DecodeError::Payload { kind: $kind, version, source }),)*
                    $(($kind, _) => Err(DecodeError::Version { kind: $kind, version }),)*
                    _ => Ok(Event::Other { kind: kind.to_string(), version, data }),
                }
            }
        }
    };
}

events! {
    WorkerQueued(WorkerCreated) = "worker.queued", v 1;
    WorkerCreated(WorkerCreated) = "worker.created", v 1;
    WorkerStarting(WorkerStarting) = "worker.starting", v 1;
    WorkerSupervised(WorkerSupervised) = "worker.supervised", v 1;
    WorkerStarted(WorkerStarted) = "worker.started", v 1;
    WorkerRestarted(WorkerStarted) = "worker.restarted", v 1;
    WorkerRestarting(WorkerRestarting) = "worker.restarting", v 1;
    WorkerReady(WorkerReady) = "worker.ready", v 1;
    WorkerEnded(WorkerEnded) = "worker.ended", v 1;
    WorkerLost(WorkerEnded) = "worker.lost", v 1;
    EditApplied(EditApplied) = "edit.applied", v 1;
    MemoryStored(MemoryWritten) = "memory.stored", v 1;
    MemoryUpdated(MemoryWritten) = "memory.updated", v 1;
    MemoryEmbedded(MemoryEmbedded) = "memory.embedded", v 1;
    MemoryDeleted(MemoryDeleted) = "memory.deleted", v 1;
    RunStarted(RunStarted) = "run.started", v 1;
    RunPhase(PhaseChanged) = "run.phase", v 1;
    RunBudgetSet(RunBudget) = "run.budget", v 1;
    RunSpec(SpecDrawn) = "run.spec", v 1;
    RunPlan(PlanMade) = "run.plan", v 1;
    SubtaskDispatched(SubtaskDispatched) = "subtask.dispatched", v 1;
    SubtaskCommitted(SubtaskCommitted) = "subtask.committed", v 1;
    SubtaskEnded(SubtaskEnded) = "subtask.ended", v 1;
    VerifyRan(VerifyRan) = "verify.ran", v 1;
    RunEscalated(Escalated) = "run.escalated", v 1;
    ReviewVerdict(ReviewVerdict) = "review.verdict", v 1;
    RunEnded(RunEnded) = "run.ended", v 1;
    RunRolledBack(RunRolledBack) = "run.rolled_back", v 1;
    RunMergedInto(RunMerged) = "run.merged", v 1;
    RunResumed(RunResumed) = "run.resumed", v 1;
    PublishSent(Published) = "publish.sent", v 1;
    PublishFailed(Published) = "publish.failed", v 1;
}

/// Why a row's event cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("event `{kind}` v{version} does not have the shape of its version")]
    Payload {
        kind: &'static str,
        version: u32,
        #[source]
        source: serde_json::Error,
    },
    #[error("event `{kind}` has version {version}, which this baton does not know")]
    Version { kind: &'static str, version: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_row_form() {
        let ended = Event::WorkerEnded(WorkerEnded {
            status: WorkerStatus::Failed,
            from: WorkerStatus::Running,
            why: Some("exit code 3".into()),
            exit_code: Some(3),
            ended_at_ms: 7,
        });
        let data = ended.data().unwrap();
        assert_eq!(
            data,
            serde_json::json!({"status": "failed", "from": "running", "why": "exit code 3", "exit_code": 3, "ended_at_ms": 7})
        );
        let back = Event::decode(ended.kind(), ended.version(), data).unwrap();
        assert_eq!(back, ended);
    }

    #[test]
    fn an_unknown_kind_is_kept_and_a_bad_payload_or_version_is_an_error() {
        let other = Event::decode("tracker.synced", 1, serde_json::json!({"ticket": "T-1.md"}));
        assert!(matches!(other, Ok(Event::Other { ref kind, .. }) if kind == "tracker.synced"));
        let bad = Event::decode("worker.ended", 1, serde_json::json!({"status": "nope"}));
        assert!(matches!(bad, Err(DecodeError::Payload { .. })));
        let newer = Event::decode("worker.ended", 9, serde_json::json!({}));
        assert!(matches!(newer, Err(DecodeError::Version { .. })));
    }

    #[test]
    fn kinds_are_unique() {
        let mut kinds = Event::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), Event::KINDS.len());
    }
}
