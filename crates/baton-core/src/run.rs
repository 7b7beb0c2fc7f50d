//! A run of the pipeline as the store and the front ends see it: its status, its phases and
//! its row ([`RunRecord`]). What a run is made of (ticket, spec, plan, verdict) lives in
//! `ticket.rs` and `plan.rs`; what happened during it, in the `run.*`, `subtask.*`,
//! `verify.*` and `review.*` events of `event.rs`.

use serde::{Deserialize, Serialize};

/// Where a run stands. Every status but `running` and `awaiting_review` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Stopped for `baton review RUN --approve | --reject` (`--review external`).
    AwaitingReview,
    /// The reviewer approved: the branch is ready.
    Approved,
    /// The reviewer still rejected after the last review round.
    Rejected,
    /// Build, tests or lint still failed after the fix iterations and escalations.
    VerifyFailed,
    /// A budget (cloud tokens, iterations, wall time) ran out.
    BudgetExhausted,
    /// Stopped by a signal or Ctrl-C; `baton resume RUN` continues it.
    Interrupted,
    /// An error that is none of the above (git, the store, a plan no model could fix).
    Failed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Running,
        RunStatus::AwaitingReview,
        RunStatus::Approved,
        RunStatus::Rejected,
        RunStatus::VerifyFailed,
        RunStatus::BudgetExhausted,
        RunStatus::Interrupted,
        RunStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::AwaitingReview => "awaiting_review",
            RunStatus::Approved => "approved",
            RunStatus::Rejected => "rejected",
            RunStatus::VerifyFailed => "verify_failed",
            RunStatus::BudgetExhausted => "budget_exhausted",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether nothing more happens to the run by itself.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Running | RunStatus::AwaitingReview)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The phases of a run, in order (the workflow's five, with verification split out of
/// implementation because it has its own loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Requirements,
    Architecture,
    Implementation,
    Verification,
    Review,
    Signoff,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Requirements,
        Phase::Architecture,
        Phase::Implementation,
        Phase::Verification,
        Phase::Review,
        Phase::Signoff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Requirements => "requirements",
            Phase::Architecture => "architecture",
            Phase::Implementation => "implementation",
            Phase::Verification => "verification",
            Phase::Review => "review",
            Phase::Signoff => "signoff",
        }
    }

    /// The heading of its phase comment.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Requirements => "Requirements",
            Phase::Architecture => "Architecture",
            Phase::Implementation => "Implementation",
            Phase::Verification => "Verification",
            Phase::Review => "Review",
            Phase::Signoff => "Sign-off",
        }
    }

    /// 1-based position, for file names and headings (`02-architecture.md`).
    pub fn number(self) -> usize {
        Phase::ALL.iter().position(|p| *p == self).unwrap_or(0) + 1
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the store's `runs` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `YYYYMMDD-HHMMSS-xxxx`: sortable, short enough for a branch name.
    pub id: String,
    /// The ticket's id (`ticket` in JSON, the name other tools read it by).
    #[serde(rename = "ticket")]
    pub ticket_id: String,
    pub title: String,
    /// The ticket file as given (absolute).
    pub ticket_path: String,
    pub status: RunStatus,
    /// Why it ended as it did, or what it waits for.
    pub why: Option<String>,
    /// The repository's top directory.
    pub repo: String,
    /// The commit the branch starts from.
    pub base_commit: String,
    /// `baton/RUN`.
    pub branch: String,
    /// `.baton/worktrees/RUN` under the repository, absolute.
    pub worktree: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}
