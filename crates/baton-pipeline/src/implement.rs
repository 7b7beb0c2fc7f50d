//! Implementation: the scheduler and the edit job every phase uses to change code.
//!
//! The scheduler starts ready subtasks (every dependency done) up to the coder pool's
//! capacity, never two that own a common file at once, and drives them concurrently on the
//! run's task. An edit job dispatches one prompt to a profile with the files it may change as
//! the apply allow-list; a reply whose edits fail or are refused goes back with the applier's
//! feedback (bounded); each applied reply is committed at once, exactly its files, with
//! trailers naming run, subtask and dispatch, so that parallel subtasks in one worktree never
//! commit each other's files.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use baton_core::event::{SubtaskCommitted, SubtaskDispatched, SubtaskEnded, SubtaskOutcome};
use baton_core::plan::Subtask;
use baton_core::{Event, Phase};
use baton_ops::apply::ApplyTarget;
use baton_ops::dispatch::{DispatchRequest, dispatch};
use baton_ops::{Notice, Notices, NullSink};
use baton_store::{MemoryQuery, RunRole};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::ctx::Ctx;
use crate::{PipelineError, agent, git, prompt};

/// Memory hits at or above this score are handed to a coder as patterns (the workflow's
/// "use patterns with score > 0.7").
const PATTERN_MIN_SCORE: f64 = 0.7;

/// One prompt to a profile, allowed to change `allow`.
pub(crate) struct EditJob {
    /// The subtask id, or `fix-N` / `review-N` for the loops' dispatches.
    pub subtask: String,
    pub phase: Phase,
    /// The words of the commit message's parenthesis: `implementation`, `fix 2`.
    pub label: String,
    pub profile: String,
    pub task: String,
    /// Files the model is shown (those that exist in the worktree).
    pub context: Vec<String>,
    /// Files it may change or create.
    pub allow: Vec<String>,
}

/// What an edit job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditResult {
    /// The commits it made, one per applied reply (normally one).
    pub commits: Vec<String>,
    /// The applier's last feedback when no reply could be applied.
    pub feedback: Option<String>,
}

/// Hands a dispatch's notices to the run's display.
struct RunNotices<'a, 'b>(&'a Ctx<'b>);

impl Notices for RunNotices<'_, '_> {
    fn notice(&self, notice: Notice) {
        self.0.recorder.note(&notice.text);
    }
}

/// Dispatches `job`, applies and commits; see the module documentation.
pub(crate) async fn run_edit_job(
    ctx: &Ctx<'_>,
    job: &EditJob,
) -> Result<EditResult, PipelineError> {
    let mut feedback: Option<String> = None;
    let tries = ctx.settings.run.max_edit_retries + 1;
    // Dynamic sizing: a prompt and context over a profile's budget go to the next profile of
    // the coder's chain (a larger local model, then the cloud), recorded as an escalation.
    let chain = crate::roles::escalation_chain(&ctx.settings, &job.profile, ctx.project.env());
    let mut step = 0usize;
    for attempt in 1..=tries {
        let mut task = job.task.clone();
        if let Some(said) = &feedback {
            task.push_str("\n\nYour last reply could not be applied:\n");
            task.push_str(said.trim_end());
            task.push_str("\nAnswer again, with the complete content of every file you change.\n");
        }
        let (context, missing): (Vec<String>, Vec<String>) = job
            .context
            .iter()
            .cloned()
            .partition(|file| ctx.worktree.join(file).is_file());
        // Files the subtask will create are missing at first, and rightly so; others are
        // worth a word (an uncommitted file is not in the run's worktree).
        let missing: Vec<&String> = missing
            .iter()
            .filter(|file| !job.allow.contains(file))
            .collect();
        if attempt == 1 && !missing.is_empty() {
            ctx.recorder.note(&format!(
                "{}: context not in the worktree (not committed?): {}",
                job.subtask,
                missing
                    .iter()
                    .map(|file| file.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut request = DispatchRequest {
            task,
            context,
            profile: Some(chain[step].clone()),
            start_servers: true,
            apply: Some(ApplyTarget {
                root: None,
                allow: job.allow.clone(),
                dry_run: false,
                partial: false,
            }),
            ..DispatchRequest::default()
        };
        crate::budget::before_dispatch(ctx)?;
        ctx.recorder.working(
            &job.subtask,
            &format!(
                "{} ({}): {} to {}",
                job.subtask,
                job.label,
                job.allow.join(", "),
                chain[step]
            ),
        );
        let dispatched = loop {
            match dispatch(&ctx.wt, request.clone(), &mut NullSink, &RunNotices(ctx)).await {
                Ok(response) => break Ok(response),
                Err(error) if error.kind() == baton_ops::ErrorKind::TooLarge => {
                    let Some(next) = chain.get(step + 1) else {
                        ctx.recorder.done(&job.subtask);
                        return Ok(EditResult {
                            commits: Vec::new(),
                            feedback: Some(format!(
                                "too large for every profile of {}: {}",
                                chain.join(" -> "),
                                error.message()
                            )),
                        });
                    };
                    ctx.recorder
                        .record(Event::RunEscalated(baton_core::event::Escalated {
                            from: chain[step].clone(),
                            to: next.clone(),
                            why: format!("{}: {}", job.subtask, error.message()),
                        }))?;
                    step += 1;
                    request.profile = Some(next.clone());
                }
                Err(error) => break Err(error.into()),
            }
        };
        ctx.recorder.done(&job.subtask);
        let response = match dispatched {
            Ok(response) => response,
            Err(error) => return Err(error),
        };
        ctx.project.store()?.tag_run_request(
            &response.request_id,
            &ctx.run.id,
            Some(&job.subtask),
            RunRole::Coder,
            job.phase.as_str(),
        )?;
        let number = ctx.dispatches.fetch_add(1, Ordering::SeqCst) + 1;
        let applied = response.apply.as_ref();
        let written = applied.is_some_and(|apply| apply.written);
        let files: Vec<String> = applied
            .and_then(|apply| apply.files.as_ref())
            .map(|files| {
                files
                    .iter()
                    .filter(|file| file.written)
                    .map(|file| file.path.clone())
                    .collect()
            })
            .unwrap_or_default();
        let said = applied
            .map(|apply| apply.feedback.clone())
            .filter(|text| !written && !text.trim().is_empty());
        ctx.recorder
            .record(Event::SubtaskDispatched(SubtaskDispatched {
                subtask: job.subtask.clone(),
                dispatch: number,
                attempt,
                request_id: response.request_id.clone(),
                profile: response.profile.clone(),
                backend: response.backend.clone(),
                model: response.model.clone(),
                locality: response.locality,
                prompt_tokens: response.usage.prompt_tokens,
                completion_tokens: response.usage.completion_tokens,
                latency_ms: response.latency_ms,
                well_formed: applied.is_some_and(|apply| apply.well_formed),
                applied: written,
                feedback: said.clone(),
                files: files.clone(),
                worker: None,
            }))?;
        if written {
            let commits =
                commit_dispatch(ctx, &job.subtask, &job.label, number, files, &[]).await?;
            return Ok(EditResult {
                commits,
                feedback: None,
            });
        }
        feedback = Some(said.unwrap_or_else(|| "the reply held no edit".into()));
    }
    Ok(EditResult {
        commits: Vec::new(),
        feedback,
    })
}

/// Commits exactly `files` as dispatch `number` of `subtask` (trailers naming run, subtask
/// and dispatch, then `extra`) and records it; the commit, or none when nothing changed.
pub(crate) async fn commit_dispatch(
    ctx: &Ctx<'_>,
    subtask: &str,
    label: &str,
    number: u32,
    files: Vec<String>,
    extra: &[(String, String)],
) -> Result<Vec<String>, PipelineError> {
    let message = format!(
        "{}: {} ({label}, dispatch {number})",
        ctx.ticket.id, ctx.ticket.title
    );
    let mut trailers = vec![
        ("Baton-Run".to_string(), ctx.run.id.clone()),
        ("Baton-Subtask".to_string(), subtask.to_string()),
        ("Baton-Dispatch".to_string(), number.to_string()),
    ];
    trailers.extend(extra.iter().cloned());
    let commit = {
        let _git = ctx.git_lock.lock().await;
        git::commit_files(
            &ctx.worktree,
            ctx.identity().await,
            &files,
            &message,
            &trailers,
        )
        .await?
    };
    let mut commits = Vec::new();
    if let Some(sha) = commit {
        ctx.recorder
            .record(Event::SubtaskCommitted(SubtaskCommitted {
                subtask: subtask.to_string(),
                dispatch: number,
                commit: sha.clone(),
                message,
                files,
            }))?;
        commits.push(sha);
    }
    Ok(commits)
}

/// Patterns from memory worth following for `subtask`.
async fn patterns(ctx: &Ctx<'_>, subtask: &Subtask) -> Vec<String> {
    let query = MemoryQuery {
        query: format!("{} {}", subtask.title, subtask.what),
        namespaces: vec!["patterns".into()],
        limit: 3,
        min_score: PATTERN_MIN_SCORE,
        tags: Vec::new(),
    };
    // Memory helps; a failed search must not stop the subtask.
    match baton_ops::memory::search(ctx.project, query).await {
        Ok(found) => found
            .reply
            .hits
            .into_iter()
            .map(|hit| format!("{} (score {:.2}): {}", hit.key, hit.score, hit.value))
            .collect(),
        Err(error) => {
            ctx.recorder
                .note(&format!("memory search skipped: {error}"));
            Vec::new()
        }
    }
}

/// Runs one subtask: patterns, prompt, then an edit job to the coder (or to the profile
/// the plan's `worker` names), or an agent job (a `[workers.KIND]` or a command).
async fn run_subtask(ctx: &Ctx<'_>, subtask: &Subtask) -> Result<EditResult, PipelineError> {
    let patterns = patterns(ctx, subtask).await;
    if let Some(doer) = agent::doer_of(ctx, subtask.worker.as_deref(), subtask.kind) {
        let job = agent::AgentJob {
            subtask: subtask.id.clone(),
            phase: Phase::Implementation,
            label: "implementation".into(),
            doer,
            task: prompt::subtask(
                &ctx.spec,
                &ctx.plan,
                subtask,
                &patterns,
                prompt::Writer::Agent,
            ),
            allow: subtask.files.clone(),
            read: subtask.context.clone(),
        };
        return agent::run_agent_job(ctx, &job).await;
    }
    let mut context: Vec<String> = subtask.files.clone();
    context.extend(subtask.context.iter().cloned());
    let profile = subtask
        .worker
        .as_deref()
        .map(str::trim)
        .filter(|p| ctx.settings.profiles.contains_key(*p))
        .map_or_else(|| ctx.roles.coder.clone(), str::to_string);
    let job = EditJob {
        subtask: subtask.id.clone(),
        phase: Phase::Implementation,
        label: "implementation".into(),
        profile,
        task: prompt::subtask(
            &ctx.spec,
            &ctx.plan,
            subtask,
            &patterns,
            prompt::Writer::Model,
        ),
        context,
        allow: subtask.files.clone(),
    };
    run_edit_job(ctx, &job).await
}

/// Runs every subtask of the plan not in `done`; see the module documentation. Returns the
/// ids of the subtasks that failed (no reply could be applied, or a dependency failed).
pub(crate) async fn implement(
    ctx: &Ctx<'_>,
    done: &HashSet<String>,
) -> Result<Vec<String>, PipelineError> {
    let capacity = crate::roles::capacity(&ctx.settings, &ctx.roles.coder);
    let mut finished: HashSet<String> = done.clone();
    let mut failed: Vec<String> = Vec::new();
    let mut running: HashMap<String, Vec<String>> = HashMap::new();
    let mut pending: Vec<&Subtask> = ctx
        .plan
        .subtasks
        .iter()
        .filter(|subtask| !done.contains(&subtask.id))
        .collect();
    let mut active = FuturesUnordered::new();
    loop {
        // A subtask whose dependency failed cannot be done: it fails too.
        let mut i = 0;
        while i < pending.len() {
            let subtask = pending[i];
            if let Some(dep) = subtask.depends_on.iter().find(|dep| failed.contains(dep)) {
                let why = format!("its dependency `{dep}` failed");
                ctx.recorder.record(Event::SubtaskEnded(SubtaskEnded {
                    subtask: subtask.id.clone(),
                    outcome: SubtaskOutcome::Failed,
                    why: Some(why),
                }))?;
                failed.push(subtask.id.clone());
                pending.remove(i);
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < pending.len() && running.len() < capacity {
            let subtask = pending[i];
            let ready = subtask.depends_on.iter().all(|dep| finished.contains(dep));
            let clashes = running
                .values()
                .any(|files| files.iter().any(|file| subtask.files.contains(file)));
            if ready && !clashes {
                running.insert(subtask.id.clone(), subtask.files.clone());
                pending.remove(i);
                active.push(async move { (subtask, run_subtask(ctx, subtask).await) });
            } else {
                i += 1;
            }
        }
        let Some((subtask, result)) = active.next().await else {
            break;
        };
        running.remove(&subtask.id);
        let result = result?;
        let (outcome, why) = match &result.feedback {
            None => (SubtaskOutcome::Done, None),
            Some(feedback) => (
                SubtaskOutcome::Failed,
                Some(format!(
                    "no reply could be applied in {} tries: {}",
                    ctx.settings.run.max_edit_retries + 1,
                    feedback.lines().next().unwrap_or("")
                )),
            ),
        };
        ctx.recorder.record(Event::SubtaskEnded(SubtaskEnded {
            subtask: subtask.id.clone(),
            outcome,
            why,
        }))?;
        match outcome {
            SubtaskOutcome::Done => {
                finished.insert(subtask.id.clone());
            }
            SubtaskOutcome::Failed => failed.push(subtask.id.clone()),
        }
    }
    // Whatever is left waits on something that never came (a cycle the check let through
    // cannot exist; this is a dependency on a failed subtask).
    for subtask in pending {
        failed.push(subtask.id.clone());
    }
    Ok(failed)
}
