//! Verification with its fix loop: the gates run in the worktree; a failure becomes a fix
//! dispatch with the trimmed output (to the agent CLI the plan is pinned to, first), the same failure twice or too many fixes escalate along
//! the coder's chain, and a chain used up ends it.

use baton_core::event::{Escalated, PhaseChanged, PhaseStatus, VerifyRan};
use baton_core::plan::Plan;
use baton_core::{Event, Phase};

use crate::ctx::Ctx;
use crate::implement::{EditJob, run_edit_job};
use crate::verify::{gates, run_gate, signature};
use crate::{PipelineError, agent, prompt, report, roles};

/// Every file the plan's subtasks own, once each, in plan order.
pub(crate) fn owned_files(plan: &Plan) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for subtask in &plan.subtasks {
        for file in &subtask.files {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
    }
    files
}

/// What verification came to.
pub(crate) struct Verified {
    pub(crate) passed: bool,
    pub(crate) why: Option<String>,
    /// The gates of the last round.
    pub(crate) last: Vec<VerifyRan>,
}

/// Runs the gates; on a failure, dispatches a fix and runs them again, escalating along the
/// coder's chain after `max_fix_iterations` or when the same failure comes back. Ends with the
/// verification's phase comment.
pub(crate) async fn verify_and_fix(
    ctx: &Ctx<'_>,
    iteration: &mut u32,
) -> Result<Verified, PipelineError> {
    let verified = verify_loop(ctx, iteration).await?;
    let mut comment = report::verification(&verified.last);
    comment.push_str(&format!(
        "\n**Iterations:** {} (fix dispatches after failed gates)\n",
        *iteration
    ));
    ctx.recorder
        .phase_comment(Phase::Verification, "Baton (quality gates)", &comment)?;
    Ok(verified)
}

async fn verify_loop(ctx: &Ctx<'_>, iteration: &mut u32) -> Result<Verified, PipelineError> {
    let phase = |status: PhaseStatus, note: Option<String>| {
        Event::RunPhase(PhaseChanged {
            phase: Phase::Verification,
            status,
            note,
        })
    };
    ctx.recorder.record(phase(PhaseStatus::Started, None))?;
    let found = gates(&ctx.settings.verify, &ctx.worktree);
    if let Some(from) = &found.detected_from {
        ctx.recorder.note(&format!(
            "verify: no [verify] commands; detected from {from}: {}",
            if found.commands.is_empty() {
                "nothing to run".to_string()
            } else {
                found
                    .commands
                    .iter()
                    .map(|gate| gate.command.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    let chain = roles::escalation_chain(&ctx.settings, &ctx.roles.coder, ctx.project.env());
    let plan_agent = agent::plan_doer(ctx);
    let mut step = 0usize;
    let mut fixes_on_step = 0u32;
    let mut last_signature: Option<String> = None;
    loop {
        let mut results = Vec::new();
        for gate in &found.commands {
            let key = format!("gate-{}", gate.gate.as_str());
            ctx.recorder
                .working(&key, &format!("{} `{}`", gate.gate.as_str(), gate.command));
            let result = run_gate(
                gate,
                &ctx.worktree,
                ctx.settings.verify.timeout,
                ctx.settings.verify.max_output_bytes,
                &ctx.run.id,
                *iteration,
            )
            .await;
            ctx.recorder.done(&key);
            let result = result?;
            ctx.recorder.record(Event::VerifyRan(result.clone()))?;
            let passed = result.passed;
            results.push(result);
            if !passed {
                break;
            }
        }
        let Some(failure) = results.iter().find(|result| !result.passed).cloned() else {
            ctx.recorder.record(phase(
                PhaseStatus::Done,
                Some(format!("passed after {} fixes", *iteration)),
            ))?;
            return Ok(Verified {
                passed: true,
                why: None,
                last: results,
            });
        };
        let sig = signature(&failure);
        let stuck = last_signature.as_deref() == Some(sig.as_str());
        last_signature = Some(sig);
        if stuck || fixes_on_step >= ctx.settings.verify.max_fix_iterations {
            let why = if stuck {
                "the same failure came back after a fix".to_string()
            } else {
                format!("{fixes_on_step} fixes did not pass")
            };
            if step + 1 >= chain.len() {
                let why = format!(
                    "{} still fails: {why}, and the chain of {} has no profile left",
                    failure.gate.as_str(),
                    chain.join(" -> ")
                );
                ctx.recorder
                    .record(phase(PhaseStatus::Failed, Some(why.clone())))?;
                return Ok(Verified {
                    passed: false,
                    why: Some(why),
                    last: results,
                });
            }
            ctx.recorder.record(Event::RunEscalated(Escalated {
                from: chain[step].clone(),
                to: chain[step + 1].clone(),
                why,
            }))?;
            step += 1;
            fixes_on_step = 0;
            last_signature = None;
        }
        crate::budget::before_fix(ctx)?;
        *iteration += 1;
        fixes_on_step += 1;
        // The fix may change what the plan's subtasks own; the other files the failure names
        // (the tests, mostly: they are the spec) are shown, not opened to edits.
        let files = owned_files(&ctx.plan);
        let mut shown = files.clone();
        for named in crate::verify::files_named(&failure.output, &ctx.worktree) {
            if !shown.contains(&named) {
                shown.push(named);
            }
        }
        let what = format!(
            "`{}` ({}) failed with exit code {}:\n```\n{}\n```",
            failure.command,
            failure.gate.as_str(),
            failure
                .exit_code
                .map_or_else(|| "none (stopped)".into(), |code| code.to_string()),
            failure.output.trim_end()
        );
        let job = EditJob {
            subtask: format!("fix-{}", *iteration),
            phase: Phase::Verification,
            label: format!("fix {}", *iteration),
            profile: chain[step].clone(),
            task: prompt::fix(&ctx.spec, &ctx.plan, &what, &files),
            context: shown,
            allow: files,
        };
        // An agent that did the plan fixes its own work first; escalation goes on along the
        // coder's chain.
        let doer = if step == 0 { plan_agent.clone() } else { None };
        run_fix_job(ctx, job, doer).await?;
    }
}

/// A fix as an edit job, or as an agent job when `doer` is set.
async fn run_fix_job(
    ctx: &Ctx<'_>,
    job: EditJob,
    doer: Option<agent::Doer>,
) -> Result<(), PipelineError> {
    match doer {
        Some(doer) => {
            let read = job
                .context
                .iter()
                .filter(|file| !job.allow.contains(file))
                .cloned()
                .collect();
            let agent_job = agent::AgentJob {
                subtask: job.subtask,
                phase: job.phase,
                label: job.label,
                doer,
                task: job.task,
                allow: job.allow,
                read,
            };
            agent::run_agent_job(ctx, &agent_job).await?;
        }
        None => {
            run_edit_job(ctx, &job).await?;
        }
    }
    Ok(())
}

/// One dispatch of a reviewer's required fixes (round `round`), over every file the plan owns.
pub(crate) async fn review_fix(
    ctx: &Ctx<'_>,
    round: u32,
    fixes: &[String],
) -> Result<(), PipelineError> {
    let what = format!(
        "The reviewer rejected the change and requires:\n{}",
        fixes
            .iter()
            .map(|fix| format!("- {fix}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let files = owned_files(&ctx.plan);
    let job = EditJob {
        subtask: format!("review-{round}"),
        phase: Phase::Implementation,
        label: format!("review fix {round}"),
        profile: ctx.roles.coder.clone(),
        task: prompt::fix(&ctx.spec, &ctx.plan, &what, &files),
        context: files.clone(),
        allow: files,
    };
    run_fix_job(ctx, job, agent::plan_doer(ctx)).await
}
