//! `baton rollback RUN`: the run's worktree and branch removed from the repository, the
//! user's working tree untouched; the run folder and the trail stay, and the event keeps the
//! branch's last commit so the work can be brought back while git keeps it. A branch that was
//! merged is not rolled back by deleting it: that needs a revert on the branch it went into.

use std::path::Path;

use baton_core::Event;
use baton_core::event::RunRolledBack;
use baton_core::run::RunStatus;
use baton_ops::{OpsError, Project};
use serde::Serialize;

use crate::{PipelineError, git};

/// What a rollback did: the one shape `baton rollback --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackResponse {
    pub run_id: String,
    pub branch: String,
    pub branch_tip: Option<String>,
    pub worktree_removed: bool,
    pub branch_deleted: bool,
}

/// Rolls back run `key`; a run still `running` needs `force` (its coordinator may be alive).
pub async fn rollback(
    project: &Project,
    key: &str,
    force: bool,
) -> Result<RollbackResponse, PipelineError> {
    let store = project.store()?;
    let run = store.run(key)?.ok_or_else(|| {
        PipelineError::Ops(OpsError::from(baton_store::StoreError::UnknownRun {
            id: key.to_string(),
        }))
    })?;
    drop(store);
    if run.status == RunStatus::Running && !force {
        return Err(PipelineError::StillRunning { id: run.id });
    }
    let repo = Path::new(&run.repo);
    let tip = git::git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{}", run.branch),
        ],
    )
    .await
    .ok()
    .map(|sha| sha.trim().to_string())
    .filter(|sha| !sha.is_empty());
    if let Some(tip) = &tip {
        let merged = tip != &run.base_commit
            && git::git(repo, &["merge-base", "--is-ancestor", tip, "HEAD"])
                .await
                .is_ok();
        if merged {
            return Err(PipelineError::Merged {
                id: run.id.clone(),
                range: format!("{}..{}", &run.base_commit, tip),
            });
        }
    }
    // Nothing of the run may keep running in a worktree about to go.
    baton_exec::proc::kill_groups_with_env(crate::verify::GATE_ENV, &run.id);
    let worktree = Path::new(&run.worktree);
    let worktree_removed = if worktree.exists() {
        let path = worktree.to_string_lossy();
        git::git(repo, &["worktree", "remove", "--force", &path]).await?;
        true
    } else {
        // Gone by hand: forget git's record of it too.
        git::git(repo, &["worktree", "prune"]).await?;
        false
    };
    let branch_deleted = if tip.is_some() {
        git::git(repo, &["branch", "-D", &run.branch]).await?;
        true
    } else {
        false
    };
    project.store()?.append_event(
        &run.id,
        &Event::RunRolledBack(RunRolledBack {
            branch_tip: tip.clone(),
            worktree_removed,
            branch_deleted,
        }),
    )?;
    Ok(RollbackResponse {
        run_id: run.id,
        branch: run.branch,
        branch_tip: tip,
        worktree_removed,
        branch_deleted,
    })
}
