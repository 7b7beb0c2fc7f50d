//! One run of the pipeline (DESIGN.md section 8): a ticket taken to a reviewed, tested
//! branch written by the coder role's models, on top of `baton-ops`.
//!
//! Parts:
//! - `run.rs`: the phases in order ([`start`]), the verification fix loop with escalation,
//!   the review rejection loop, sign-off;
//! - `intake.rs`: ticket, given plan and their checks, the spec, the architect's plan;
//! - `fix.rs`: verification with its fix loop and escalation;
//! - `signoff.rs`: sign-off, `--merge`, the final status, the failure path;
//! - `agent.rs`: a subtask done by an agent CLI under a supervisor, in a worktree of its
//!   own, its owned changes committed as one dispatch, the rest refused;
//! - `agent_answer.rs`: the architect's plan or the reviewer's verdict asked of an agent CLI
//!   (`[roles]` naming a worker kind), in a worktree of its own, its changes discarded;
//! - `implement.rs`: the scheduler (dependencies, parallelism, file ownership) and the edit
//!   job (dispatch, apply within the owned files, feedback, one commit per dispatch);
//! - `answer.rs`: structured answers (plan, verdict) asked against a schema, checked, asked
//!   again with their problems;
//! - `verify.rs`: the quality gates, configured or detected, their trimmed output and failure
//!   signature;
//! - `budget.rs`: cloud tokens, fix iterations and wall time, over all of a run's sessions;
//! - `git.rs`: repository, worktree, commits with trailers, diffs;
//! - `prompt.rs`: what each role is sent;
//! - `roles.rs`: `[roles]` resolved to profiles (or worker kinds), the escalation chain, the
//!   coder's capacity;
//! - `record.rs`: events to the store, `events.jsonl` and the caller's [`Progress`];
//! - `report.rs`: phase comments, `PR.md`, `report.md`;
//! - `publish/`: the trail published to GitHub, Linear and webhooks through the store's
//!   outbox ([`publish::publish`] retries what is pending);
//! - `query.rs`: runs read back ([`runs`], [`show`]);
//! - `status.rs`: one run at a glance for whoever drives it from outside ([`state`]);
//! - `detach.rs`: runs whose coordinator is a supervised process of its own
//!   ([`start_detached`], [`resume_detached`], [`review_detached`]);
//! - `resume.rs`: a stopped run continued where it stopped ([`resume`]);
//! - `review.rs`: an external reviewer's verdict ([`review`]);
//! - `rollback.rs`: a run's worktree and branch removed ([`rollback`]);
//! - `ctx.rs`: what the phases of one run share;
//! - `error.rs`: [`PipelineError`].

mod agent;
mod agent_answer;
mod answer;
mod budget;
mod ctx;
mod detach;
mod error;
mod fix;
pub mod git;
mod implement;
mod intake;
mod prompt;
pub mod publish;
mod query;
mod record;
mod report;
mod resume;
mod review;
pub mod roles;
mod rollback;
mod run;
mod signoff;
mod status;
pub mod verify;

pub use detach::{
    DetachedRun, ReviewSent, RunStarted, Supplied, coordinator_name, dry_run, resume_detached,
    review_detached, start_detached,
};
pub use error::PipelineError;
pub use query::{RunView, runs, show};
pub use record::{Progress, Quiet, mark_interrupted};
pub use resume::resume;
pub use review::{Decision, review};
pub use rollback::{RollbackResponse, rollback};
pub use run::{ReviewMode, RunRequest, RunSummary, check_run_id, start};
pub use status::{
    Coordinator, RunDigest, RunState, SubtaskState, SubtaskStatus, TokenSplit, state,
};

/// `1 subtask`, `3 subtasks`.
pub(crate) fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}
