//! A run's budgets: cloud tokens, fix iterations and wall time, each optional, and each
//! counted over the whole run, resumes included (what was spent is read back from the ledger
//! and the events). A budget that runs out ends the run `budget_exhausted` at the next check
//! (before a dispatch, before a fix); the wall time also bounds the run's future itself, so a
//! model call that hangs past it is cancelled.

use std::time::{Duration, Instant};

use baton_core::event::RunBudget;
use baton_core::{Event, Locality};
use baton_store::EventRow;

use crate::PipelineError;
use crate::ctx::Ctx;

/// The budget and when this session of the run began.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub(crate) limits: RunBudget,
    /// Wall time the run's earlier sessions took.
    pub(crate) spent_before: Duration,
    pub(crate) session_start: Instant,
}

impl Budget {
    pub(crate) fn new(limits: RunBudget) -> Budget {
        Budget {
            limits,
            spent_before: Duration::ZERO,
            session_start: Instant::now(),
        }
    }

    /// The budget a run recorded, with the time its sessions took (each from its
    /// `run.started` or `run.resumed` to the `run.ended` that closed it).
    pub(crate) fn from_events(events: &[EventRow]) -> Budget {
        let mut limits = RunBudget::default();
        let mut spent_ms: i64 = 0;
        let mut open: Option<i64> = None;
        for row in events {
            match &row.event {
                Event::RunBudgetSet(set) => limits = set.clone(),
                Event::RunStarted(_) | Event::RunResumed(_) => open = Some(row.at_ms),
                Event::RunEnded(_) => {
                    if let Some(start) = open.take() {
                        spent_ms += (row.at_ms - start).max(0);
                    }
                }
                _ => {}
            }
        }
        Budget {
            limits,
            spent_before: Duration::from_millis(u64::try_from(spent_ms).unwrap_or(0)),
            session_start: Instant::now(),
        }
    }

    /// Wall time left, if there is a limit.
    pub(crate) fn time_left(&self) -> Option<Duration> {
        self.limits.timeout_ms.map(|ms| {
            Duration::from_millis(ms)
                .saturating_sub(self.spent_before + self.session_start.elapsed())
        })
    }
}

/// Checks the cloud tokens and the time before a dispatch.
pub(crate) fn before_dispatch(ctx: &Ctx<'_>) -> Result<(), PipelineError> {
    if ctx.budget.time_left() == Some(Duration::ZERO) {
        return Err(PipelineError::BudgetExhausted {
            why: format!(
                "the run's {} s of wall time are used up",
                ctx.budget.limits.timeout_ms.unwrap_or(0) / 1000
            ),
        });
    }
    if let Some(max) = ctx.budget.limits.max_cloud_tokens {
        let spent: u64 = ctx
            .project
            .store()?
            .run_usage(&ctx.run.id)?
            .iter()
            .filter(|row| row.locality == Locality::Cloud)
            .map(|row| row.prompt_tokens + row.completion_tokens)
            .sum();
        if spent >= max {
            return Err(PipelineError::BudgetExhausted {
                why: format!("{spent} cloud tokens spent, the budget is {max}"),
            });
        }
    }
    Ok(())
}

/// Checks the fix iterations before a fix dispatch: fixes made so far, over all sessions.
pub(crate) fn before_fix(ctx: &Ctx<'_>) -> Result<(), PipelineError> {
    let Some(max) = ctx.budget.limits.max_iterations else {
        return Ok(());
    };
    let fixes = ctx
        .project
        .store()?
        .events_of(&ctx.run.id)?
        .iter()
        .filter(|row| {
            matches!(&row.event, Event::SubtaskDispatched(d)
                if d.attempt == 1 && (d.subtask.starts_with("fix-") || d.subtask.starts_with("review-")))
        })
        .count();
    if fixes >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(PipelineError::BudgetExhausted {
            why: format!("{fixes} fix iterations made, the budget is {max}"),
        });
    }
    Ok(())
}
