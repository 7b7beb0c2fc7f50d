//! `baton resume RUN`: a run whose coordinator stopped (Ctrl-C, SIGTERM, kill -9, a crash) or
//! that failed on an error of its own (a server down) continues at the first step not
//! recorded as done. Its spec and plan come back from its
//! events; a subtask is done when its `subtask.ended` says so or when a commit on the branch
//! carries its `Baton-Subtask` trailer (made but not yet recorded when the process died), so
//! that no committed subtask is redone and none is lost. Files the stopped run wrote but did
//! not commit are put back to the branch first: the subtask that wrote them is redone.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

use baton_core::Event;
use baton_core::event::{RunResumed, SubtaskOutcome};
use baton_core::plan::{Plan, Spec};
use baton_core::run::RunStatus;
use baton_core::ticket::Ticket;
use baton_ops::{OpsError, Project};

use crate::ctx::Ctx;
use crate::record::{Progress, Recorder};
use crate::run::{ReviewMode, RunSummary, carry_on};
use crate::{PipelineError, git, roles};

/// Resumes run `key`; see the module documentation.
pub async fn resume(
    project: &Project,
    key: &str,
    review: ReviewMode,
    progress: &dyn Progress,
) -> Result<RunSummary, PipelineError> {
    // A failed run (a server down, the disk full) is taken up again once the cause is gone.
    let allowed = [
        RunStatus::Running,
        RunStatus::Interrupted,
        RunStatus::Failed,
    ];
    let (ctx, done) = reopen(project, key, &allowed, progress).await?;
    crate::publish::alongside(&ctx.recorder, carry_on(&ctx, review, &done)).await
}

/// A stopped run made ready to go on: checked against `allowed`, its worktree back at its
/// branch, its `run.resumed` event recorded, its status `running`. The context and the
/// subtasks that are done.
pub(crate) async fn reopen<'a>(
    project: &'a Project,
    key: &str,
    allowed: &[RunStatus],
    progress: &'a dyn Progress,
) -> Result<(Ctx<'a>, HashSet<String>), PipelineError> {
    let store = project.store()?;
    let mut run = store.run(key)?.ok_or_else(|| {
        PipelineError::Ops(OpsError::from(baton_store::StoreError::UnknownRun {
            id: key.to_string(),
        }))
    })?;
    if !allowed.contains(&run.status) {
        return Err(PipelineError::NotResumable {
            id: run.id,
            status: run.status,
        });
    }
    let events = store.events_of(&run.id)?;
    drop(store);
    let mut spec: Option<Spec> = None;
    let mut plan: Option<Plan> = None;
    let mut recorded: BTreeSet<String> = BTreeSet::new();
    let mut dispatches = 0u32;
    for row in &events {
        match &row.event {
            Event::RunSpec(drawn) => spec = Some(drawn.spec.clone()),
            Event::RunPlan(made) => plan = Some(made.plan.clone()),
            Event::SubtaskEnded(ended) if ended.outcome == SubtaskOutcome::Done => {
                recorded.insert(ended.subtask.clone());
            }
            Event::SubtaskDispatched(dispatched) => {
                dispatches = dispatches.max(dispatched.dispatch)
            }
            _ => {}
        }
    }
    let (Some(spec), Some(plan)) = (spec, plan) else {
        // Stopped before its plan was recorded: nothing was implemented, so nothing is lost.
        return Err(PipelineError::NotResumable {
            id: run.id,
            status: run.status,
        });
    };
    let repo = PathBuf::from(&run.repo);
    let worktree = PathBuf::from(&run.worktree);
    if !worktree.exists() {
        let path = worktree.to_string_lossy();
        git::git(&repo, &["worktree", "prune"]).await?;
        git::git(&repo, &["worktree", "add", "--quiet", &path, &run.branch]).await?;
    }
    // Gates the stopped coordinator left running (it could not stop them from a kill -9).
    let stopped = baton_exec::proc::kill_groups_with_env(crate::verify::GATE_ENV, &run.id);
    if !stopped.is_empty() {
        tracing::info!(run = %run.id, groups = ?stopped, "stopped the gates a killed run left running");
    }
    let agents = crate::agent::stop_leftovers(project, &repo, &run).await?;
    if !agents.is_empty() {
        tracing::info!(run = %run.id, workers = ?agents, "stopped the agent workers a killed run left running");
    }
    let discarded = discard_uncommitted(&worktree).await?;
    // Commits the stopped run made: their trailers name subtask and dispatch.
    let range = format!("{}..HEAD", run.base_commit);
    let log = git::git(&worktree, &["log", "--format=%(trailers:key=Baton-Subtask,valueonly,separator=%x2C)|%(trailers:key=Baton-Dispatch,valueonly,separator=%x2C)", &range]).await?;
    let mut committed: BTreeSet<String> = BTreeSet::new();
    for line in log.lines() {
        let (subtask, dispatch) = line.split_once('|').unwrap_or((line, ""));
        let subtask = subtask.trim();
        if !subtask.is_empty() {
            committed.insert(subtask.to_string());
        }
        if let Ok(number) = dispatch.trim().parse::<u32>() {
            dispatches = dispatches.max(number);
        }
    }
    let in_plan: HashSet<&str> = plan.subtasks.iter().map(|s| s.id.as_str()).collect();
    let found_by_trailers: Vec<String> = committed
        .iter()
        .filter(|id| in_plan.contains(id.as_str()) && !recorded.contains(*id))
        .cloned()
        .collect();
    let done: HashSet<String> = recorded
        .iter()
        .chain(found_by_trailers.iter())
        .cloned()
        .collect();
    let folder = repo.join(".baton").join("runs").join(&run.id);
    let recorder = Recorder::open(project, &run.id, &folder, progress)?;
    let mut done_list: Vec<String> = done.iter().cloned().collect();
    done_list.sort();
    project
        .store()?
        .set_run_status(&run.id, RunStatus::Running, None)?;
    recorder.record(Event::RunResumed(RunResumed {
        from: run.status,
        done: done_list,
        found_by_trailers: found_by_trailers.clone(),
        discarded,
    }))?;
    for id in &found_by_trailers {
        recorder.record(Event::SubtaskEnded(baton_core::event::SubtaskEnded {
            subtask: id.clone(),
            outcome: SubtaskOutcome::Done,
            why: Some("found committed on the branch by its trailers".into()),
        }))?;
    }
    run.status = RunStatus::Running;
    run.why = None;
    let settings = project.settings()?;
    let roles = roles::resolve(&settings, project.env())?;
    let ticket = Ticket {
        id: run.ticket_id.clone(),
        title: run.title.clone(),
        body: String::new(),
        acceptance: spec.acceptance.clone(),
        scope: spec.scope.clone(),
        constraints: spec.constraints.clone(),
    };
    let ctx = Ctx {
        project,
        wt: project.at(worktree.clone())?,
        worktree,
        folder,
        run,
        ticket,
        spec,
        plan,
        roles,
        settings,
        recorder,
        dispatches: AtomicU32::new(dispatches),
        git_lock: tokio::sync::Mutex::new(()),
        identity: tokio::sync::OnceCell::new(),
        budget: crate::budget::Budget::from_events(&events),
        merge: events.iter().find_map(|row| match &row.event {
            Event::RunStarted(started) if started.merge => started.base_branch.clone(),
            _ => None,
        }),
    };
    Ok((ctx, done))
}

/// Puts the worktree back to its branch's last commit; the paths that differed.
async fn discard_uncommitted(worktree: &Path) -> Result<Vec<String>, PipelineError> {
    let status = git::git(
        worktree,
        &["status", "--porcelain", "--untracked-files=all"],
    )
    .await?;
    let paths: Vec<String> = status
        .lines()
        .filter_map(|line| line.get(3..))
        .map(str::to_string)
        .collect();
    if !paths.is_empty() {
        git::git(worktree, &["reset", "--quiet", "--hard", "HEAD"]).await?;
        git::git(worktree, &["clean", "--quiet", "-fd"]).await?;
    }
    Ok(paths)
}
