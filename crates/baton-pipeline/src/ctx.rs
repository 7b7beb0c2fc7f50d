//! What every phase of one run shares: the project (and its view from the worktree), the
//! run's row, ticket, spec and plan, the roles, the event recorder, the dispatch counter and
//! the lock that keeps git commands of concurrent subtasks apart.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use baton_config::Settings;
use baton_core::plan::{Plan, Spec};
use baton_core::run::RunRecord;
use baton_core::ticket::Ticket;
use baton_ops::Project;

use crate::record::Recorder;
use crate::roles::Roles;

pub(crate) struct Ctx<'a> {
    /// The project as the caller opened it (the store, memory, the settings).
    pub project: &'a Project,
    /// The same project seen from the worktree: dispatch context and edits resolve there.
    pub wt: Project,
    pub worktree: PathBuf,
    /// `.baton/runs/RUN/` in the repository.
    pub folder: PathBuf,
    pub run: RunRecord,
    pub ticket: Ticket,
    pub spec: Spec,
    pub plan: Plan,
    pub roles: Roles,
    pub settings: Arc<Settings>,
    pub recorder: Recorder<'a>,
    /// Dispatches made so far in the run (the `dispatch N` of commit messages).
    pub dispatches: AtomicU32,
    pub git_lock: tokio::sync::Mutex<()>,
    pub budget: crate::budget::Budget,
    /// The branch to fast-forward once approved (`--merge`).
    pub merge: Option<String>,
    /// The commit identity arguments, asked of git once (see `git::identity`).
    pub identity: tokio::sync::OnceCell<Vec<String>>,
}

impl Ctx<'_> {
    pub(crate) async fn identity(&self) -> &[String] {
        self.identity
            .get_or_init(|| crate::git::identity(&self.worktree))
            .await
    }
}
