//! `baton review RUN --approve | --reject NOTES`: the verdict of a person or of the agent
//! driving Baton on a run that stopped in `awaiting_review` (`--review external`). An
//! approval signs the run off; a rejection sends the notes to the coder as required fixes,
//! verifies again, and stops in `awaiting_review` once more (or ends `verify_failed`).

use baton_core::Event;
use baton_core::Phase;
use baton_core::event::{PhaseChanged, PhaseStatus, ReviewVerdict};
use baton_core::plan::Verdict;
use baton_core::run::RunStatus;
use baton_ops::Project;

use crate::ctx::Ctx;
use crate::fix::{review_fix, verify_and_fix};
use crate::record::Progress;
use crate::resume::reopen;
use crate::run::RunSummary;
use crate::signoff::{finish, record_failure};
use crate::{PipelineError, report};

/// What the external reviewer decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// With the notes: what must change.
    Reject(String),
}

/// Records `decision` on run `key` and goes on from it; see the module documentation.
pub async fn review(
    project: &Project,
    key: &str,
    decision: Decision,
    progress: &dyn Progress,
) -> Result<RunSummary, PipelineError> {
    if let Decision::Reject(notes) = &decision
        && notes.trim().is_empty()
    {
        return Err(PipelineError::EmptyRejection);
    }
    let (ctx, _done) = reopen(project, key, &[RunStatus::AwaitingReview], progress)
        .await
        .map_err(|error| match error {
            PipelineError::NotResumable { id, status } => {
                PipelineError::NotAwaitingReview { id, status }
            }
            other => other,
        })?;
    let outcome = crate::publish::alongside(&ctx.recorder, decide(&ctx, decision)).await;
    if let Err(error) = &outcome {
        record_failure(&ctx, error);
    }
    outcome
}

async fn decide(ctx: &Ctx<'_>, decision: Decision) -> Result<RunSummary, PipelineError> {
    let round = ctx
        .project
        .store()?
        .events_of(&ctx.run.id)?
        .iter()
        .filter(|row| matches!(row.event, Event::ReviewVerdict(_)))
        .count() as u32
        + 1;
    let verdict = match &decision {
        Decision::Approve => Verdict {
            approved: true,
            findings: Vec::new(),
            required_fixes: Vec::new(),
        },
        Decision::Reject(notes) => Verdict {
            approved: false,
            findings: Vec::new(),
            required_fixes: vec![notes.trim().to_string()],
        },
    };
    ctx.recorder.record(Event::ReviewVerdict(ReviewVerdict {
        round,
        verdict: verdict.clone(),
        reviewer: "external".into(),
        request_id: None,
    }))?;
    ctx.recorder.record(Event::RunPhase(PhaseChanged {
        phase: Phase::Review,
        status: PhaseStatus::Done,
        note: Some(if verdict.approved {
            "approved (external)".into()
        } else {
            "rejected (external)".into()
        }),
    }))?;
    ctx.recorder.phase_comment(
        Phase::Review,
        "reviewer (external)",
        &report::review(round, &verdict),
    )?;
    if verdict.approved {
        return finish(ctx, RunStatus::Approved, None, Some(verdict)).await;
    }
    crate::budget::before_fix(ctx)?;
    review_fix(ctx, round, &verdict.required_fixes).await?;
    let mut iteration = 0;
    let verified = verify_and_fix(ctx, &mut iteration).await?;
    ctx.recorder
        .publish(vec![crate::publish::trail::rejected_round(
            ctx,
            round,
            &verdict,
            verified.passed,
            verified.why.as_deref(),
        )])?;
    if verified.passed {
        finish(
            ctx,
            RunStatus::AwaitingReview,
            Some("waiting for an external review".into()),
            Some(verdict),
        )
        .await
    } else {
        finish(
            ctx,
            RunStatus::VerifyFailed,
            Some(verified.why.unwrap_or_else(|| "verification failed".into())),
            Some(verdict),
        )
        .await
    }
}
