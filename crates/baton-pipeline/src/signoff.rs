//! Sign-off and the ends of a run: the pattern and the result in memory, the reports, the
//! fast-forward of `--merge`, the final status with its `run.ended` event; and the failure
//! path that ends a run on an error.

use std::path::Path;

use baton_core::event::{PhaseChanged, PhaseStatus};
use baton_core::plan::Verdict;
use baton_core::run::RunStatus;
use baton_core::{Event, Phase};
use baton_ops::memory::{MemoryValue, StoreRequest};

use crate::ctx::Ctx;
use crate::run::RunSummary;
use crate::{PipelineError, git, report};

/// Ends the run as `failed` with `error` and its hint as its why; failing to record that is
/// logged (the error itself is what the caller must hear).
pub(crate) fn record_failure(ctx: &Ctx<'_>, error: &PipelineError) {
    let why = match error.hint() {
        Some(hint) => format!("{error} (hint: {hint})"),
        None => error.to_string(),
    };
    let marked = ctx
        .project
        .store()
        .map_err(PipelineError::from)
        .and_then(|store| Ok(store.set_run_status(&ctx.run.id, RunStatus::Failed, Some(&why))?))
        .and_then(|()| ctx.recorder.mirror_latest());
    if let Err(also) = marked {
        tracing::warn!(run = %ctx.run.id, error = %also, "cannot mark the run failed");
    }
}

/// Sign-off: the pattern and result in memory, the reports, the final status.
pub(crate) async fn finish(
    ctx: &Ctx<'_>,
    status: RunStatus,
    why: Option<String>,
    verdict: Option<Verdict>,
) -> Result<RunSummary, PipelineError> {
    let signoff = |status: PhaseStatus, note: Option<String>| {
        Event::RunPhase(PhaseChanged {
            phase: Phase::Signoff,
            status,
            note,
        })
    };
    ctx.recorder.record(signoff(PhaseStatus::Started, None))?;
    let commits = git::commits_since(&ctx.worktree, &ctx.run.base_commit).await?;
    if status == RunStatus::Approved {
        let pattern = format!(
            "{}: {} subtasks ({}), approved; design: {}",
            ctx.ticket.title,
            ctx.plan.subtasks.len(),
            ctx.plan
                .subtasks
                .iter()
                .map(|subtask| subtask.title.clone())
                .collect::<Vec<_>>()
                .join("; "),
            ctx.plan.summary
        );
        remember(
            ctx,
            "patterns",
            &format!("pattern-{}", ctx.ticket.id),
            pattern,
        )
        .await;
    }
    let result = format!(
        "run {} of {}: {}{} ({} commits on {})",
        ctx.run.id,
        ctx.ticket.id,
        status,
        why.as_deref()
            .map(|why| format!(", {why}"))
            .unwrap_or_default(),
        commits.len(),
        ctx.run.branch
    );
    remember(ctx, "results", &format!("result-{}", ctx.run.id), result).await;
    let mut run = ctx.run.clone();
    run.status = status;
    run.why = why.clone();
    let pr = report::write_reports(ctx, &run, verdict.as_ref(), &commits).await?;
    ctx.recorder.record(signoff(
        if status == RunStatus::Approved {
            PhaseStatus::Done
        } else {
            PhaseStatus::Skipped
        },
        Some(status.to_string()),
    ))?;
    let merged = match &ctx.merge {
        Some(into) if status == RunStatus::Approved => merge(ctx, into).await?,
        _ => None,
    };
    ctx.recorder.phase_comment(
        Phase::Signoff,
        &ctx.roles.orchestrator_agent(),
        &report::signoff(ctx, &run, merged.as_ref()),
    )?;
    if let Some((into, commit)) = &merged {
        ctx.recorder
            .publish(crate::publish::trail::merged(ctx, into, commit))?;
    }
    // The status and its `run.ended` event go in together, last.
    ctx.project
        .store()?
        .set_run_status(&ctx.run.id, status, why.as_deref())?;
    ctx.recorder.mirror_latest()?;
    Ok(RunSummary {
        run: Some(run),
        spec: ctx.spec.clone(),
        plan: ctx.plan.clone(),
        verdict,
        folder: Some(ctx.folder.to_string_lossy().into_owned()),
        pr: Some(pr.to_string_lossy().into_owned()),
        commits,
    })
}

/// Fast-forwards branch `into` to the run's branch, if it still points at the run's base
/// (a branch that moved meanwhile is left alone and said so: nothing is merged over anyone's
/// work). The checked-out branch goes through `git merge --ff-only`, which keeps the user's
/// uncommitted changes or refuses; another branch is moved with `update-ref`, checked
/// against its old value. The branch and commit merged, if it was.
async fn merge(ctx: &Ctx<'_>, into: &str) -> Result<Option<(String, String)>, PipelineError> {
    let repo = Path::new(&ctx.run.repo);
    let tip = git::git(repo, &["rev-parse", &ctx.run.branch])
        .await?
        .trim()
        .to_string();
    let at = git::git(repo, &["rev-parse", &format!("refs/heads/{into}")])
        .await?
        .trim()
        .to_string();
    let checked_out = git::current_branch(repo).await.as_deref() == Some(into);
    let result = if at != ctx.run.base_commit {
        Err(format!(
            "{into} moved since the run began ({} to {}); merge it by hand",
            &ctx.run.base_commit[..12.min(ctx.run.base_commit.len())],
            &at[..12.min(at.len())]
        ))
    } else if checked_out {
        git::git(repo, &["merge", "--ff-only", "--quiet", &ctx.run.branch])
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    } else {
        let target = format!("refs/heads/{into}");
        git::git(repo, &["update-ref", &target, &tip, &at])
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    };
    let (merged, why) = match result {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why)),
    };
    if let Some(why) = &why {
        ctx.recorder.note(&format!("not merged: {why}"));
    }
    ctx.recorder
        .record(Event::RunMergedInto(baton_core::event::RunMerged {
            into: into.to_string(),
            commit: tip.clone(),
            merged,
            why,
        }))?;
    Ok(merged.then(|| (into.to_string(), tip)))
}

/// Stores `value` in memory; a failure is told, not fatal (the run's work is in git).
async fn remember(ctx: &Ctx<'_>, namespace: &str, key: &str, value: String) {
    let request = StoreRequest {
        namespace: namespace.into(),
        key: key.into(),
        value: MemoryValue::Text(value),
        tags: vec![format!("run:{}", ctx.run.id)],
        ttl: None,
        upsert: true,
    };
    if let Err(error) = baton_ops::memory::store(ctx.project, request).await {
        ctx.recorder
            .note(&format!("memory: {namespace}/{key} not stored: {error}"));
    }
}
