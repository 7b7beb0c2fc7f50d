//! A run at a glance, for whoever drives it from outside (the MCP tool `run_status`): its
//! record; a digest derived from its events and the ledger (the phase, the plan's subtasks
//! and how each stands, the commits, the last verdict, local and cloud tokens, what to do
//! next), so that the caller need not read the events; and its coordinator process (the
//! `run:RUN` worker of a run started, resumed or reviewed detached) with whether it is alive.
//! Built on [`show`].

use baton_core::Event;
use baton_core::Locality;
use baton_core::event::{PhaseChanged, ReviewVerdict, SubtaskCommitted, SubtaskOutcome};
use baton_core::run::{RunRecord, RunStatus};
use baton_ops::Project;
use baton_ops::workers::WorkerView;
use baton_store::{EventRow, RunUsage};
use serde::Serialize;

use crate::PipelineError;
use crate::detach::coordinator;
use crate::query::show;

/// One run as `run_status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunState {
    pub run: RunRecord,
    pub digest: RunDigest,
    /// The newest worker its coordinator ran as; `None` for a run only ever driven in the
    /// foreground (`baton run` at a terminal).
    pub coordinator: Option<Coordinator>,
    /// The ledger of the run, per role, model and locality.
    pub usage: Vec<RunUsage>,
    /// The run folder and the reports in it that exist.
    pub folder: String,
    pub reports: Vec<String>,
    /// Every event of the run, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventRow>>,
}

/// A run's coordinator process.
#[derive(Debug, Clone, Serialize)]
pub struct Coordinator {
    /// Still going: queued, starting or running, under a supervisor that is alive.
    pub alive: bool,
    #[serde(flatten)]
    pub worker: WorkerView,
}

/// What a run's events and ledger come to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDigest {
    /// The phase the run is in or last went through, and how it stands.
    pub phase: Option<PhaseChanged>,
    /// The plan's subtasks, in its order (empty before the plan is made).
    pub subtasks: Vec<SubtaskState>,
    pub subtasks_done: usize,
    pub subtasks_failed: usize,
    /// The run's commits, oldest first (fixes included).
    pub commits: Vec<SubtaskCommitted>,
    /// The last verdict, of the reviewer role or of an external review.
    pub verdict: Option<ReviewVerdict>,
    pub tokens: TokenSplit,
    /// What to do about the run now, in a sentence.
    pub next: String,
}

/// One subtask of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubtaskState {
    pub id: String,
    pub title: String,
    pub status: SubtaskStatus,
    /// Replies asked of the coder for it (refused ones included).
    pub dispatches: u32,
    pub commits: u32,
}

/// How a subtask stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubtaskStatus {
    /// Not dispatched yet.
    Pending,
    /// Dispatched, not ended yet (or its run stopped before it ended).
    Started,
    Done,
    Failed,
}

/// The run's tokens (prompt and completion) from the ledger, by where they were spent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenSplit {
    pub local: u64,
    pub cloud: u64,
    /// The local share in percent; `None` before any token was spent.
    pub local_percent: Option<f64>,
}

/// Run `key` (its id, or the start of it) at a glance, with every event when `with_events`.
/// A run whose detached coordinator is still drawing up its spec is not recorded yet: that
/// is [`PipelineError::RunPending`], not an unknown run.
pub async fn state(
    project: &Project,
    key: &str,
    with_events: bool,
) -> Result<RunState, PipelineError> {
    if project.store()?.run(key)?.is_none()
        && let Some(worker) = coordinator(project, key).await?
        && !worker.status.is_terminal()
    {
        return Err(PipelineError::RunPending {
            id: key.to_string(),
            worker: worker.id,
        });
    }
    let view = show(project, key).await?;
    let coordinator = coordinator(project, &view.run.id)
        .await?
        .map(|worker| Coordinator {
            alive: !worker.status.is_terminal(),
            worker,
        });
    let digest = digest(
        &view.run,
        &view.events,
        &view.usage,
        coordinator.as_ref().map(|c| c.alive),
    );
    Ok(RunState {
        run: view.run,
        digest,
        coordinator,
        usage: view.usage,
        folder: view.folder,
        reports: view.reports,
        events: with_events.then_some(view.events),
    })
}

/// The digest of a run's `events` and `usage`; `alive` says whether its coordinator is
/// (`None`: it has none on record).
pub(crate) fn digest(
    run: &RunRecord,
    events: &[EventRow],
    usage: &[RunUsage],
    alive: Option<bool>,
) -> RunDigest {
    let mut phase = None;
    let mut subtasks: Vec<SubtaskState> = Vec::new();
    let mut commits = Vec::new();
    let mut verdict = None;
    for row in events {
        match &row.event {
            Event::RunPhase(changed) => phase = Some(changed.clone()),
            Event::RunPlan(made) => {
                subtasks = made
                    .plan
                    .subtasks
                    .iter()
                    .map(|subtask| SubtaskState {
                        id: subtask.id.clone(),
                        title: subtask.title.clone(),
                        status: SubtaskStatus::Pending,
                        dispatches: 0,
                        commits: 0,
                    })
                    .collect();
            }
            Event::SubtaskDispatched(dispatched) => {
                if let Some(subtask) = subtasks.iter_mut().find(|s| s.id == dispatched.subtask) {
                    subtask.dispatches += 1;
                    if subtask.status != SubtaskStatus::Done {
                        subtask.status = SubtaskStatus::Started;
                    }
                }
            }
            Event::SubtaskCommitted(committed) => {
                if let Some(subtask) = subtasks.iter_mut().find(|s| s.id == committed.subtask) {
                    subtask.commits += 1;
                }
                commits.push(committed.clone());
            }
            Event::SubtaskEnded(ended) => {
                if let Some(subtask) = subtasks.iter_mut().find(|s| s.id == ended.subtask) {
                    subtask.status = match ended.outcome {
                        SubtaskOutcome::Done => SubtaskStatus::Done,
                        SubtaskOutcome::Failed => SubtaskStatus::Failed,
                    };
                }
            }
            Event::ReviewVerdict(given) => verdict = Some(given.clone()),
            _ => {}
        }
    }
    let count = |status: SubtaskStatus| subtasks.iter().filter(|s| s.status == status).count();
    let tokens = |locality: Locality| -> u64 {
        usage
            .iter()
            .filter(|row| row.locality == locality)
            .map(|row| row.prompt_tokens + row.completion_tokens)
            .sum()
    };
    let (local, cloud) = (tokens(Locality::Local), tokens(Locality::Cloud));
    let total = local + cloud;
    RunDigest {
        phase,
        subtasks_done: count(SubtaskStatus::Done),
        subtasks_failed: count(SubtaskStatus::Failed),
        subtasks,
        commits,
        verdict,
        tokens: TokenSplit {
            local,
            cloud,
            local_percent: (total > 0).then(|| {
                // Tokens fit an f64 exactly far beyond what one run spends.
                let share = local as f64 * 100.0 / total as f64;
                (share * 10.0).round() / 10.0
            }),
        },
        next: next(run, alive),
    }
}

/// What to do about `run` now.
fn next(run: &RunRecord, alive: Option<bool>) -> String {
    match run.status {
        RunStatus::Running => match alive {
            Some(true) => "it is running: ask again later".to_string(),
            Some(false) => "its process ended without ending the run (killed, or it crashed): \
                            resume it to continue where it stopped"
                .to_string(),
            None => "it is running in the foreground of another process; if that process is \
                     gone, resume it"
                .to_string(),
        },
        RunStatus::AwaitingReview => format!(
            "it waits for your review: read the change (`git diff {}..{}`, or the worktree {}) \
             and approve it, or reject it with notes saying what must change",
            &run.base_commit[..run.base_commit.len().min(12)],
            run.branch,
            run.worktree
        ),
        RunStatus::Approved => format!(
            "it is done: branch {} holds the approved change",
            run.branch
        ),
        RunStatus::Rejected => format!(
            "the reviewer still rejected it after the last review round: take branch {} over \
             by hand, or roll the run back",
            run.branch
        ),
        RunStatus::VerifyFailed => format!(
            "the gates still fail after the fix iterations (the last `verify.ran` events say \
             how): take branch {} over by hand, or roll the run back",
            run.branch
        ),
        RunStatus::BudgetExhausted => format!(
            "a budget ran out: start a new run with a larger one, or take branch {} over by hand",
            run.branch
        ),
        RunStatus::Interrupted => "it was stopped: resume it to continue where it stopped".into(),
        RunStatus::Failed => format!(
            "it failed ({}): resume it once the cause is fixed",
            run.why.as_deref().unwrap_or("see its events")
        ),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    /// The rows of `events` (kind, data), decoded as the store decodes them.
    fn rows(events: &[(&str, serde_json::Value)]) -> Vec<EventRow> {
        events
            .iter()
            .zip(1..)
            .map(|((kind, data), id)| EventRow {
                id,
                at_ms: id,
                subject: "r".into(),
                event: Event::decode(kind, 1, data.clone()).unwrap(),
            })
            .collect()
    }

    fn run(status: RunStatus) -> RunRecord {
        RunRecord {
            id: "r".into(),
            ticket_id: "T-1".into(),
            title: "t".into(),
            ticket_path: "/t.md".into(),
            status,
            why: None,
            repo: "/repo".into(),
            base_commit: "0123456789abcdef".into(),
            branch: "baton/r".into(),
            worktree: "/repo/.baton/worktrees/r".into(),
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    fn dispatched(subtask: &str, dispatch: u32) -> (&'static str, serde_json::Value) {
        (
            "subtask.dispatched",
            json!({"subtask": subtask, "dispatch": dispatch, "attempt": 1,
                   "request_id": format!("q{dispatch}"), "profile": "code", "backend": "local",
                   "model": "m", "locality": "local", "prompt_tokens": 10,
                   "completion_tokens": 5, "latency_ms": 1, "well_formed": true,
                   "applied": true, "feedback": null, "files": ["a.py"]}),
        )
    }

    fn usage(locality: Locality, tokens: u64) -> RunUsage {
        RunUsage {
            role: baton_store::RunRole::Coder,
            profile: "code".into(),
            backend: "b".into(),
            model: "m".into(),
            locality,
            calls: 1,
            prompt_tokens: tokens,
            completion_tokens: 0,
            latency_ms: 1,
            cost_usd: 0.0,
            avoided_usd: 0.0,
        }
    }

    #[test]
    fn the_digest_follows_the_plans_subtasks_commits_verdict_and_token_split() {
        let plan = json!({"summary": "s", "subtasks": [
            {"id": "a", "title": "first", "what": "w", "files": ["a.py"]},
            {"id": "b", "title": "second", "what": "w", "files": ["b.py"]},
            {"id": "c", "title": "third", "what": "w", "files": ["c.py"]}]});
        let events = rows(&[
            (
                "run.plan",
                json!({"plan": plan, "source": "given", "attempts": 0}),
            ),
            dispatched("a", 1),
            (
                "subtask.committed",
                json!({"subtask": "a", "dispatch": 1, "commit": "c1",
                                         "message": "m", "files": ["a.py"]}),
            ),
            (
                "subtask.ended",
                json!({"subtask": "a", "outcome": "done", "why": null}),
            ),
            dispatched("b", 2),
            (
                "subtask.ended",
                json!({"subtask": "b", "outcome": "failed", "why": "no edit"}),
            ),
            dispatched("c", 3),
            (
                "run.phase",
                json!({"phase": "review", "status": "done", "note": "approved"}),
            ),
            (
                "review.verdict",
                json!({"round": 1, "reviewer": "external", "request_id": null,
                                      "verdict": {"approved": true, "findings": [],
                                                  "required_fixes": []}}),
            ),
        ]);
        let digest = digest(
            &run(RunStatus::Approved),
            &events,
            &[usage(Locality::Local, 900), usage(Locality::Cloud, 100)],
            Some(false),
        );
        let statuses: Vec<(&str, SubtaskStatus, u32, u32)> = digest
            .subtasks
            .iter()
            .map(|s| (s.id.as_str(), s.status, s.dispatches, s.commits))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("a", SubtaskStatus::Done, 1, 1),
                ("b", SubtaskStatus::Failed, 1, 0),
                ("c", SubtaskStatus::Started, 1, 0),
            ]
        );
        assert_eq!((digest.subtasks_done, digest.subtasks_failed), (1, 1));
        assert_eq!(digest.commits.len(), 1);
        assert_eq!(digest.phase.unwrap().note.as_deref(), Some("approved"));
        assert!(digest.verdict.unwrap().verdict.approved);
        assert_eq!(
            digest.tokens,
            TokenSplit {
                local: 900,
                cloud: 100,
                local_percent: Some(90.0)
            }
        );
        assert!(digest.next.contains("baton/r"), "{}", digest.next);
    }

    #[test]
    fn a_running_run_whose_coordinator_ended_is_to_be_resumed() {
        let digest = digest(&run(RunStatus::Running), &[], &[], Some(false));
        assert!(digest.next.contains("resume it"), "{}", digest.next);
        assert_eq!(digest.tokens.local_percent, None);
        let waiting = digest_next(RunStatus::AwaitingReview);
        assert!(
            waiting.contains("git diff 0123456789ab..baton/r"),
            "{waiting}"
        );
    }

    fn digest_next(status: RunStatus) -> String {
        digest(&run(status), &[], &[], None).next
    }
}
