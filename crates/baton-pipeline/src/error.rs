//! The pipeline's errors: what stops a run from starting or going on, each naming the thing
//! and saying what to do (hints name no CLI flag: the front end words those).

use std::path::PathBuf;

use baton_ops::{ErrorKind, OpsError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read the ticket {}: {source}", path.display())]
    ReadTicket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ticket {}: {message}", path.display())]
    BadTicket { path: PathBuf, message: String },
    #[error("cannot read the plan {}: {source}", path.display())]
    ReadPlan {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plan {}: {message}", path.display())]
    BadPlan { path: PathBuf, message: String },
    #[error("{} is not inside a git repository", path.display())]
    NotARepository { path: PathBuf },
    #[error("the repository {} has no commit to start a run from", repo.display())]
    NoCommits { repo: PathBuf },
    #[error("{command} failed: {message}")]
    Git { command: String, message: String },
    #[error("the orchestrator gave no valid spec in {attempts} answers: {problems}")]
    NoValidSpec { attempts: u32, problems: String },
    #[error("the architect gave no valid plan in {attempts} answers: {problems}")]
    NoValidPlan { attempts: u32, problems: String },
    #[error("the reviewer gave no valid verdict in {attempts} answers: {problems}")]
    NoValidVerdict { attempts: u32, problems: String },
    #[error("role `{role}` names profile `{profile}`, which is not configured")]
    UnknownRoleProfile { role: &'static str, profile: String },
    #[error("role `reviewer` names worker kind `{kind}`, which is not read-only")]
    ReviewerNotReadOnly { kind: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "run `{id}` is {status}: only an interrupted run, or one whose process died while running, can be resumed"
    )]
    NotResumable {
        id: String,
        status: baton_core::run::RunStatus,
    },
    #[error("run `{id}` is {status}, not awaiting a review")]
    NotAwaitingReview {
        id: String,
        status: baton_core::run::RunStatus,
    },
    #[error("a rejection needs notes: what must change")]
    EmptyRejection,
    #[error("budget exhausted: {why}")]
    BudgetExhausted { why: String },
    #[error("run `{id}` is still running")]
    StillRunning { id: String },
    #[error("run `{id}` was merged, and reverting {range} failed: {message}")]
    RevertFailed {
        id: String,
        range: String,
        message: String,
    },
    #[error("run id `{id}` cannot be used: {why}")]
    BadRunId { id: String, why: &'static str },
    #[error("run id `{id}` is taken by another run")]
    RunIdTaken { id: String },
    /// A detached coordinator ended before it recorded what it was started for.
    #[error("run `{run}` {what}: its process (worker `{worker}`) ended {ended}")]
    DetachedEnded {
        run: String,
        /// What did not happen: `did not start`, `was not resumed`, `was not reviewed`.
        what: &'static str,
        worker: String,
        /// Its status and why, then what the end of its log says (its own error, else its
        /// last lines): `failed (exited with code 4); its log ends: cannot connect to …`.
        ended: String,
        /// The hint its error came with.
        cause_hint: Option<String>,
    },
    #[error(
        "run `{id}` is not recorded yet: its process (worker `{worker}`) is still preparing it"
    )]
    RunPending { id: String, worker: String },
    #[error("run `{id}` is still driven by its process (worker `{worker}`)")]
    StillDriven { id: String, worker: String },
    #[error("publishing target `{given}` cannot be used: {why}")]
    BadPublishTarget { given: String, why: String },
    #[error("the {tracker} ticket {id} cannot be read: {message}")]
    Tracker {
        tracker: &'static str,
        id: String,
        message: String,
        /// What to check on that tracker.
        check: &'static str,
    },
    #[error("run `{id}` publishes nowhere")]
    NothingToPublish { id: String },
    #[error(transparent)]
    Ops(#[from] OpsError),
}

impl From<baton_store::StoreError> for PipelineError {
    fn from(error: baton_store::StoreError) -> Self {
        PipelineError::Ops(OpsError::from(error))
    }
}

impl PipelineError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PipelineError::ReadTicket { .. } => {
                Some("give the path of a markdown ticket (TICKET.md)".into())
            }
            PipelineError::BadTicket { .. } => {
                Some("fix the ticket's front matter: `---`, `id: …`, `title: …`, `---`".into())
            }
            PipelineError::ReadPlan { .. } => {
                Some("give the path of a plan in JSON (.json) or TOML (.toml)".into())
            }
            PipelineError::BadPlan { .. } => Some(
                "a plan has summary, decisions, interfaces and subtasks (id, title, what, kind, files, context, constraints, acceptance, depends_on); fix the places named".into(),
            ),
            PipelineError::NotARepository { .. } => Some(
                "a run works on a branch of a git repository: run it inside one (or `git init` and commit first)".into(),
            ),
            PipelineError::NoCommits { .. } => {
                Some("commit something first: the run's branch starts from HEAD".into())
            }
            PipelineError::Git { .. } => Some(
                "the run's branch and worktree are kept; see `git worktree list` in the repository".into(),
            ),
            PipelineError::NoValidSpec { .. } => Some(
                "list the acceptance criteria in the ticket (## Acceptance criteria), or give the orchestrator a larger model (roles.orchestrator)".into(),
            ),
            PipelineError::NoValidPlan { .. } => Some(
                "give the architect a larger model (roles.architect), or write the plan and pass it as the run's plan".into(),
            ),
            PipelineError::NoValidVerdict { .. } => {
                Some("give the reviewer a larger model (roles.reviewer), or review the run yourself".into())
            }
            PipelineError::UnknownRoleProfile { .. } => {
                Some("name a profile of [profiles] in [roles] (the architect and the reviewer may also name a worker kind of [workers]), or leave it empty".into())
            }
            PipelineError::ReviewerNotReadOnly { .. } => Some(
                "a reviewer changes nothing: name a read-only kind (`codex-review`, `claude-review`, `aider-review`, `goose-review`) or set `read_only = true` in its [workers.KIND]".into(),
            ),
            PipelineError::Write { .. } => {
                Some("check the permissions and free space of the repository's .baton/".into())
            }
            PipelineError::NotResumable { .. } => Some(
                "start a new run of the ticket; `baton show RUN` shows how this one ended".into(),
            ),
            PipelineError::NotAwaitingReview { .. } => Some(
                "only a run started with an external review stops for one; `baton show RUN` shows its status".into(),
            ),
            PipelineError::EmptyRejection => {
                Some("say what must change, for example: handle an empty list".into())
            }
            PipelineError::BudgetExhausted { .. } => Some(
                "raise the budget and resume the run, or take it from here by hand".into(),
            ),
            PipelineError::StillRunning { .. } => Some(
                "wait for it to end, or, if its process is gone (killed), roll it back by force".into(),
            ),
            PipelineError::RevertFailed { range, .. } => Some(format!(
                "later commits change the same lines; revert it by hand on the branch it went into: `git revert {range}`"
            )),
            PipelineError::BadRunId { .. } => Some(
                "leave the id out (Baton makes one), or give one such as 20261203-101500-abcd".into(),
            ),
            PipelineError::RunIdTaken { .. } => {
                Some("leave the id out (Baton makes one), or give an id not used yet".into())
            }
            PipelineError::DetachedEnded {
                worker, cause_hint, ..
            } => Some(match cause_hint {
                Some(hint) => format!("{hint}; the whole log is in `baton logs {worker}`"),
                None => format!(
                    "fix what the log says and try again; the whole log is in `baton logs {worker}`"
                ),
            }),
            PipelineError::RunPending { .. } => Some(
                "ask again in a moment: the run is recorded once its spec is drawn up".into(),
            ),
            PipelineError::StillDriven { worker, .. } => Some(format!(
                "wait for it to end, or stop it first (`baton kill {worker}`)"
            )),
            PipelineError::BadPublishTarget { .. } => Some(
                "the targets are github, linear and webhook=URL; a Linear issue is named for the run or is the ticket's id (ENG-12)".into(),
            ),
            PipelineError::Tracker { check, .. } => Some((*check).to_string()),
            PipelineError::NothingToPublish { .. } => Some(
                "a run publishes to the targets it began with; start a run with targets to publish it".into(),
            ),
            PipelineError::Ops(error) => Some(error.hint()),
        }
    }

    /// The kind of failure, which decides the CLI's exit code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::ReadTicket { .. }
            | PipelineError::BadTicket { .. }
            | PipelineError::ReadPlan { .. }
            | PipelineError::BadPlan { .. }
            | PipelineError::NotARepository { .. }
            | PipelineError::NoCommits { .. }
            | PipelineError::StillRunning { .. }
            | PipelineError::NotResumable { .. }
            | PipelineError::NotAwaitingReview { .. }
            | PipelineError::EmptyRejection
            | PipelineError::RevertFailed { .. }
            | PipelineError::BadRunId { .. }
            | PipelineError::RunIdTaken { .. }
            | PipelineError::DetachedEnded { .. }
            | PipelineError::RunPending { .. }
            | PipelineError::StillDriven { .. } => ErrorKind::Input,
            PipelineError::UnknownRoleProfile { .. }
            | PipelineError::ReviewerNotReadOnly { .. }
            | PipelineError::BadPublishTarget { .. } => ErrorKind::Config,
            PipelineError::Tracker { .. } => ErrorKind::Unreachable,
            PipelineError::NothingToPublish { .. } => ErrorKind::Input,
            PipelineError::Ops(error) => error.kind(),
            PipelineError::Git { .. }
            | PipelineError::NoValidPlan { .. }
            | PipelineError::NoValidSpec { .. }
            | PipelineError::NoValidVerdict { .. }
            | PipelineError::Write { .. }
            | PipelineError::BudgetExhausted { .. } => ErrorKind::Internal,
        }
    }
}
