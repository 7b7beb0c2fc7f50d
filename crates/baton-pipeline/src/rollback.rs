//! `baton rollback RUN`: the run's worktree and branch removed from the repository, the
//! user's working tree untouched; the run folder and the trail stay, and the event keeps the
//! branch's last commit so the work can be brought back while git keeps it. A run that was
//! merged is reverted instead, on a branch of its own (`baton/RUN-revert`), never on the
//! user's checked-out branch.

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
    /// For a merged run: the branch holding the revert commits, and its tip.
    pub revert_branch: Option<String>,
    pub revert_commit: Option<String>,
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
            return revert_merged(project, &run, tip).await;
        }
    }
    // Nothing of the run may keep running in a worktree about to go.
    baton_exec::proc::kill_groups_with_env(crate::verify::GATE_ENV, &run.id);
    crate::agent::stop_leftovers(project, repo, &run).await?;
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
            revert_branch: None,
            revert_commit: None,
        }),
    )?;
    Ok(RollbackResponse {
        run_id: run.id,
        branch: run.branch,
        branch_tip: tip,
        worktree_removed,
        branch_deleted,
        revert_branch: None,
        revert_commit: None,
    })
}

/// A run merged into the checked-out branch: its commits reverted on a branch of their own,
/// `baton/RUN-revert`, made in a worktree of its own, so that the user's tree and branch are
/// not touched; merging it (a fast-forward) undoes the run. The run's branch stays (merged
/// work is history now); its worktree goes.
async fn revert_merged(
    project: &Project,
    run: &baton_core::run::RunRecord,
    tip: &str,
) -> Result<RollbackResponse, PipelineError> {
    let repo = Path::new(&run.repo);
    let head = git::git(repo, &["rev-parse", "HEAD"])
        .await?
        .trim()
        .to_string();
    let revert_branch = format!("{}-revert", run.branch);
    let scratch = repo
        .join(".baton")
        .join("worktrees")
        .join(format!("{}-revert", run.id));
    let scratch_path = scratch.to_string_lossy().into_owned();
    git::git(
        repo,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            &revert_branch,
            &scratch_path,
            &head,
        ],
    )
    .await?;
    let identity = git::identity(&scratch).await;
    let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
    let range = format!("{}..{tip}", run.base_commit);
    args.extend([
        "-c",
        "maintenance.auto=false",
        "revert",
        "--no-edit",
        &range,
    ]);
    let reverted = git::git(&scratch, &args).await;
    let commit = git::git(&scratch, &["rev-parse", "HEAD"]).await;
    // The scratch worktree goes either way; a failed revert leaves no branch behind.
    git::git(repo, &["worktree", "remove", "--force", &scratch_path]).await?;
    let commit = match (reverted, commit) {
        (Ok(_), Ok(commit)) => commit.trim().to_string(),
        (Err(error), _) | (_, Err(error)) => {
            git::git(repo, &["branch", "-D", &revert_branch]).await?;
            return Err(PipelineError::RevertFailed {
                id: run.id.clone(),
                range,
                message: error.to_string(),
            });
        }
    };
    let worktree = Path::new(&run.worktree);
    let worktree_removed = worktree.exists();
    if worktree_removed {
        let path = worktree.to_string_lossy();
        git::git(repo, &["worktree", "remove", "--force", &path]).await?;
    }
    project.store()?.append_event(
        &run.id,
        &Event::RunRolledBack(RunRolledBack {
            branch_tip: Some(tip.to_string()),
            worktree_removed,
            branch_deleted: false,
            revert_branch: Some(revert_branch.clone()),
            revert_commit: Some(commit.clone()),
        }),
    )?;
    Ok(RollbackResponse {
        run_id: run.id.clone(),
        branch: run.branch.clone(),
        branch_tip: Some(tip.to_string()),
        worktree_removed,
        branch_deleted: false,
        revert_branch: Some(revert_branch),
        revert_commit: Some(commit),
    })
}
