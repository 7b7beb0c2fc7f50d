//! A subtask done by an agent CLI (a plan's `worker` naming a `[workers.KIND]`, or any
//! command) instead of one model reply.
//!
//! The worker runs under a supervisor (deadlines, hung detection, remediation, as `baton
//! spawn`) in a worktree of its own, detached at the run branch's head: parallel subtasks
//! never see each other's half-made changes, and what it changes outside the files its
//! subtask owns never reaches the run's branch. When it ends, its changes to owned files are
//! carried into the run's worktree and committed as one dispatch; the others are reported
//! as refused (a read-only kind may change nothing). Its result is read from the `results`
//! memory (the key its prompt names) or its final message; the usage its CLI reports goes
//! into the ledger tagged with run and subtask. An exit code of 0 proves nothing: the
//! subtask counts as done only once the run's verification passes.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use baton_core::event::{AgentWorked, SubtaskDispatched};
use baton_core::{CallOutcome, CallRecord, Event, Locality, Phase, SubtaskKind, WorkerStatus};
use baton_ops::workers::{AgentScope, SpawnRequest, WaitRequest};
use baton_store::RunRole;

use crate::ctx::Ctx;
use crate::implement::EditResult;
use crate::{PipelineError, git};

/// The memory namespace agent workers store their results in.
pub(crate) const RESULTS_NAMESPACE: &str = "results";

/// Who does an agent job: a worker kind, or a command run with `sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Doer {
    Kind(String),
    Command(String),
}

impl Doer {
    pub(crate) fn label(&self) -> &str {
        match self {
            Doer::Kind(kind) | Doer::Command(kind) => kind,
        }
    }
}

/// One subtask handed to an agent worker.
pub(crate) struct AgentJob {
    pub subtask: String,
    pub phase: Phase,
    pub label: String,
    pub doer: Doer,
    /// The prompt, without the agent's instructions (added here).
    pub task: String,
    /// The files it may change.
    pub allow: Vec<String>,
    /// Files it reads.
    pub read: Vec<String>,
}

/// The agent the whole plan is pinned to: when every subtask names the same worker kind (or
/// command), its fixes go to it first, before the coder's chain.
pub(crate) fn plan_doer(ctx: &Ctx<'_>) -> Option<Doer> {
    let mut doers = ctx
        .plan
        .subtasks
        .iter()
        .map(|subtask| doer_of(ctx, subtask.worker.as_deref(), subtask.kind));
    let first = doers.next()??;
    doers
        .all(|doer| doer.as_ref() == Some(&first))
        .then_some(first)
}

/// Who a subtask's `worker` names: `None` for the coder or a profile (a model dispatch).
/// A kind is taken in the variant for the subtask's kind when one is configured: a `test`
/// subtask of `codex` runs `[workers.codex-test]`, a `docs` one `[workers.codex-docs]` (each
/// with the prompt and sandbox that work needs), else `[workers.codex]` itself.
pub(crate) fn doer_of(ctx: &Ctx<'_>, worker: Option<&str>, kind: SubtaskKind) -> Option<Doer> {
    match worker.map(str::trim) {
        None | Some("") => None,
        Some(profile) if ctx.settings.profiles.contains_key(profile) => None,
        Some(name) if ctx.settings.workers.contains_key(name) => {
            Some(Doer::Kind(variant_for(&ctx.settings.workers, name, kind)))
        }
        Some(command) => Some(Doer::Command(command.to_string())),
    }
}

/// `NAME-KIND` for a test or docs subtask when `workers` has it, else `name`.
fn variant_for<V>(
    workers: &std::collections::BTreeMap<String, V>,
    name: &str,
    kind: SubtaskKind,
) -> String {
    let variant = format!("{name}-{}", kind.as_str());
    if kind != SubtaskKind::Code && workers.contains_key(&variant) {
        variant
    } else {
        name.to_string()
    }
}

/// The memory key of a subtask's result.
pub(crate) fn results_key(run: &str, subtask: &str) -> String {
    format!("{run}/{subtask}")
}

/// Stops the worker's supervisor (which stops the worker) if the run's task is dropped while
/// the worker runs: Ctrl-C on `baton run` must not leave an agent editing files.
struct StopOnDrop<'a> {
    project: &'a baton_ops::Project,
    worker: String,
    armed: bool,
}

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(store) = self.project.store() else {
            return;
        };
        if let Ok(Some(record)) = store.worker(&self.worker)
            && !record.status.is_terminal()
            && let (Some(pid), Some(start)) = (record.supervisor_pid, record.supervisor_start)
        {
            baton_exec::proc::signal_process(pid, start, baton_exec::Signal::SIGTERM);
        }
    }
}

/// Stops the agent workers a stopped coordinator of run `run` left running (a kill -9 could
/// not stop them), and removes their worktrees (`.baton/worktrees/RUN.SUBTASK.N`).
pub(crate) async fn stop_leftovers(
    project: &baton_ops::Project,
    repo: &Path,
    run: &baton_core::run::RunRecord,
) -> Result<Vec<String>, PipelineError> {
    let worktrees = Path::new(&run.worktree).parent().map(Path::to_path_buf);
    let run = run.id.as_str();
    let prefix = format!("{run}/");
    let left: Vec<_> = project
        .store()?
        .workers(false)?
        .into_iter()
        .filter(|w| w.spec.name.starts_with(&prefix) && !w.status.is_terminal())
        .collect();
    let mut stopped = Vec::new();
    for worker in left {
        baton_ops::workers::stop(project, &worker, baton_exec::Signal::SIGTERM).await?;
        stopped.push(worker.id);
    }
    let own = format!("{run}.");
    let entries = worktrees.and_then(|dir| std::fs::read_dir(dir).ok());
    for entry in entries.into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&own) {
            let path = entry.path();
            let path = path.to_string_lossy();
            git::git(repo, &["worktree", "remove", "--force", &path]).await?;
        }
    }
    git::git(repo, &["worktree", "prune"]).await?;
    Ok(stopped)
}

/// What the agent's prompt adds to the subtask: where it works, what it may change, how to
/// use the shared memory, and where to leave its result.
fn instructions(ctx: &Ctx<'_>, job: &AgentJob, read_only: bool, key: &str) -> String {
    let files = job
        .allow
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::from("\n\nHow to work:\n");
    if read_only {
        out.push_str("- Change no file: read, then answer.\n");
    } else {
        out.push_str(&format!(
            "- Change only {files}; changes to any other file are thrown away.\n"
        ));
        out.push_str("- Do not commit: Baton commits your changes when you are done.\n");
    }
    out.push_str(
        "- If you have Baton's MCP tools, search memory first (`memory_search`, namespace \
         `patterns`) for how this was done before.\n",
    );
    out.push_str(&format!(
        "- When you are done, store a short account of what you did with `memory_store` \
         (namespace `{RESULTS_NAMESPACE}`, key `{key}`), and end with the same account.\n"
    ));
    out.push_str(&format!("- Run {}: {}.\n", ctx.run.id, ctx.ticket.title));
    out
}

/// Runs `job` under a supervised worker; see the module documentation. Tries again (with
/// what went wrong) up to `run.max_edit_retries` times when the worker failed or changed
/// none of its files.
pub(crate) async fn run_agent_job(
    ctx: &Ctx<'_>,
    job: &AgentJob,
) -> Result<EditResult, PipelineError> {
    let settings = &ctx.settings;
    let read_only = kind_of(settings, &job.doer).is_some_and(|k| k.read_only);
    let key = results_key(&ctx.run.id, &job.subtask);
    let tries = settings.run.max_edit_retries + 1;
    let mut feedback: Option<String> = None;
    for attempt in 1..=tries {
        let mut task = job.task.clone();
        task.push_str(&instructions(ctx, job, read_only, &key));
        if let Some(said) = &feedback {
            task.push_str("\nYour last try did not do it:\n");
            task.push_str(said.trim_end());
            task.push('\n');
        }
        crate::budget::before_dispatch(ctx)?;
        let number = ctx.dispatches.fetch_add(1, Ordering::SeqCst) + 1;
        // Next to the run's own worktree, named after it (`stop_leftovers` finds it so).
        let place =
            worktrees_dir(&ctx.worktree).join(format!("{}.{}.{number}", ctx.run.id, job.subtask));
        let outcome = in_scratch_worktree(
            &ctx.worktree,
            "HEAD",
            &place,
            Some(&ctx.git_lock),
            |error| {
                ctx.recorder
                    .note(&format!("{}: worktree not removed: {error}", job.subtask));
            },
            work(ctx, job, &place, &task, attempt, number, read_only),
        )
        .await;
        match outcome? {
            Ok(commits) => {
                return Ok(EditResult {
                    commits,
                    feedback: None,
                });
            }
            Err(said) => feedback = Some(said),
        }
    }
    Ok(EditResult {
        commits: Vec::new(),
        feedback,
    })
}

/// The folder of the run's worktree `worktree`, where its agents' worktrees go too.
pub(crate) fn worktrees_dir(worktree: &Path) -> PathBuf {
    worktree
        .parent()
        .map_or_else(|| worktree.to_path_buf(), Path::to_path_buf)
}

/// Runs `work` in the worktree `place`, added from the checkout `from` detached at `at`, and
/// removes the worktree after it whatever happened; both under `lock` when other work may run
/// git in the same repository. A failure to remove it only leaves a directory `git worktree
/// prune` clears: it goes to `note`.
pub(crate) async fn in_scratch_worktree<T>(
    from: &Path,
    at: &str,
    place: &Path,
    lock: Option<&tokio::sync::Mutex<()>>,
    note: impl FnOnce(&PipelineError),
    work: impl Future<Output = Result<T, PipelineError>>,
) -> Result<T, PipelineError> {
    let path = place.to_string_lossy();
    {
        let _git = locked(lock).await;
        git::git(from, &["worktree", "add", "--quiet", "--detach", &path, at]).await?;
    }
    let outcome = work.await;
    let _git = locked(lock).await;
    if let Err(error) = git::git(from, &["worktree", "remove", "--force", &path]).await {
        note(&error);
    }
    outcome
}

async fn locked(lock: Option<&tokio::sync::Mutex<()>>) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match lock {
        Some(lock) => Some(lock.lock().await),
        None => None,
    }
}

/// One try: spawn, wait, take the owned changes, record. `Ok(Err(feedback))` when the try
/// did not do the subtask.
async fn work(
    ctx: &Ctx<'_>,
    job: &AgentJob,
    place: &Path,
    task: &str,
    attempt: u32,
    number: u32,
    read_only: bool,
) -> Result<Result<Vec<String>, String>, PipelineError> {
    let (kind, command) = match &job.doer {
        Doer::Kind(kind) => (Some(kind.clone()), Vec::new()),
        Doer::Command(command) => (
            None,
            vec!["sh".to_string(), "-c".to_string(), command.clone()],
        ),
    };
    let request = SpawnRequest {
        name: Some(format!("{}/{}", ctx.run.id, job.subtask)),
        kind,
        prompt: Some(task.to_string()),
        command,
        cwd: Some(place.to_path_buf()),
        scope: Some(AgentScope {
            baton_commits: true,
            files: job.allow.clone(),
            read: job.read.clone(),
            run: Some(ctx.run.id.clone()),
            subtask: Some(job.subtask.clone()),
        }),
        ..SpawnRequest::default()
    };
    ctx.recorder.working(
        &job.subtask,
        &format!(
            "{} ({}): {} by {}",
            job.subtask,
            job.label,
            job.allow.join(", "),
            job.doer.label()
        ),
    );
    let started = std::time::Instant::now();
    let supervised = supervised(ctx.project, request).await;
    ctx.recorder.done(&job.subtask);
    let (last, report) = supervised?;
    let result = baton_ops::memory::get(
        ctx.project,
        RESULTS_NAMESPACE,
        &results_key(&ctx.run.id, &job.subtask),
    )
    .await
    .ok()
    .map(|entry| entry.value)
    .or_else(|| report.message.clone());
    let changed = changes(&ctx.settings, &job.doer, place).await?;
    let (owned, refused): (Vec<String>, Vec<String>) = changed
        .into_iter()
        .partition(|path| !read_only && job.allow.contains(path));
    let succeeded = last.status == WorkerStatus::Succeeded;
    if succeeded {
        carry(place, &ctx.worktree, &owned)?;
    }
    let files = if succeeded { owned.clone() } else { Vec::new() };
    // Why this try did not do the subtask (`None`: it did), and what it changed that it
    // may not; both go back to the worker on a retry.
    let failed = if !succeeded {
        Some(format!("the worker {}", how_it_ended(&last)))
    } else if files.is_empty() && !read_only {
        Some(format!(
            "the worker changed none of {}",
            job.allow.join(", ")
        ))
    } else {
        None
    };
    let refused_note = (!refused.is_empty()).then(|| {
        format!(
            "changes outside the owned files were refused: {}",
            refused.join(", ")
        )
    });
    if let Some(note) = &refused_note {
        ctx.recorder.note(&format!("{}: {note}", job.subtask));
    }
    let feedback = match (&failed, &refused_note) {
        (Some(why), Some(note)) => Some(format!("{why}; {note}")),
        (why, note) => why.clone().or_else(|| note.clone()),
    };
    let (backend, model, locality) = target_of(&ctx.settings, &job.doer, report.model.as_deref());
    let usage = report.usage.unwrap_or_default();
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if report.usage.is_some() {
        let used = Used {
            worker: &last.id,
            kind: job.doer.label(),
            backend: &backend,
            model: &model,
            locality,
            report: &report,
            latency_ms,
        };
        let tag = UsageTag {
            run: &ctx.run.id,
            subtask: Some(&job.subtask),
            role: RunRole::Coder,
            phase: job.phase,
        };
        record_usage(ctx.project, &used, Some(&tag))?;
    }
    ctx.recorder
        .record(Event::SubtaskDispatched(SubtaskDispatched {
            subtask: job.subtask.clone(),
            dispatch: number,
            attempt,
            request_id: last.id.clone(),
            profile: format!("worker:{}", job.doer.label()),
            backend,
            model,
            locality,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            latency_ms,
            well_formed: succeeded,
            applied: !files.is_empty(),
            feedback: feedback.clone(),
            files: files.clone(),
            worker: Some(AgentWorked {
                id: last.id.clone(),
                kind: job.doer.label().to_string(),
                status: last.status,
                why: last.why.clone(),
                refused: refused.clone(),
                result: result.clone(),
            }),
        }))?;
    if let Some(why) = failed {
        return Ok(Err(feedback.unwrap_or(why)));
    }
    if files.is_empty() {
        // A read-only kind did its part by answering.
        return Ok(Ok(Vec::new()));
    }
    let worker = [("Baton-Worker".to_string(), last.id.clone())];
    let commits =
        crate::implement::commit_dispatch(ctx, &job.subtask, &job.label, number, files, &worker)
            .await?;
    Ok(Ok(commits))
}

/// Spawns `request` under a supervisor, waits for it (stopping it if the caller's task is
/// dropped meanwhile), and returns the worker whose work counts, the chain's last (a
/// remediation, when one ran), with its report.
pub(crate) async fn supervised(
    project: &baton_ops::Project,
    request: SpawnRequest,
) -> Result<
    (
        baton_ops::workers::WorkerView,
        baton_ops::workers::AgentReport,
    ),
    PipelineError,
> {
    let worker = baton_ops::workers::spawn(project, request).await?;
    let mut guard = StopOnDrop {
        project,
        worker: worker.id.clone(),
        armed: true,
    };
    let waited = baton_ops::workers::wait(
        project,
        WaitRequest {
            workers: vec![worker.id.clone()],
            ..WaitRequest::default()
        },
        &mut |_| Ok(()),
    )
    .await;
    guard.armed = false;
    let last = waited?
        .workers
        .first()
        .and_then(|chain| chain.chain.last())
        .cloned()
        .unwrap_or(worker);
    let report = baton_ops::workers::report(project, &last.id).await?;
    Ok((last, report))
}

/// How a worker that did not succeed ended: `hung (no output for 1 s); its last line: ...`.
pub(crate) fn how_it_ended(worker: &baton_ops::workers::WorkerView) -> String {
    format!(
        "{} ({}){}",
        worker.status,
        worker.why.as_deref().unwrap_or("no reason given"),
        worker
            .last_log_line
            .as_deref()
            .map(|line| format!("; its last line: {line}"))
            .unwrap_or_default()
    )
}

/// What the worker of `doer` changed in `place`, less its CLI's own state files.
pub(crate) async fn changes(
    settings: &baton_config::Settings,
    doer: &Doer,
    place: &Path,
) -> Result<Vec<String>, PipelineError> {
    let state = kind_of(settings, doer)
        .and_then(|k| k.cli())
        .map_or(&[][..], baton_config::AgentCli::state_prefixes);
    Ok(changed_paths(place)
        .await?
        .into_iter()
        .filter(|path| !state.iter().any(|prefix| path.starts_with(prefix)))
        .collect())
}

/// The files changed in `worktree` against its HEAD (added, changed, deleted, untracked),
/// both sides of a rename.
async fn changed_paths(worktree: &Path) -> Result<Vec<String>, PipelineError> {
    let text = git::git(
        worktree,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )
    .await?;
    let mut paths = Vec::new();
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    while let Some(entry) = fields.next() {
        let (status, path) = entry.split_at(entry.len().min(3));
        paths.push(path.to_string());
        // A rename or copy is followed by its source path.
        if (status.starts_with('R') || status.starts_with('C'))
            && let Some(from) = fields.next()
        {
            paths.push(from.to_string());
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Copies `files` from `from` to `to` (the run's worktree), deleting those gone in `from`.
fn carry(from: &Path, to: &Path, files: &[String]) -> Result<(), PipelineError> {
    for file in files {
        let source = from.join(file);
        let target: PathBuf = to.join(file);
        let io = |source: std::io::Error| PipelineError::Write {
            path: target.clone(),
            source,
        };
        if source.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::copy(&source, &target).map_err(io)?;
        } else if target.is_file() {
            std::fs::remove_file(&target).map_err(io)?;
        }
    }
    Ok(())
}

fn kind_of<'a>(
    settings: &'a baton_config::Settings,
    doer: &Doer,
) -> Option<&'a baton_config::WorkerKindSettings> {
    match doer {
        Doer::Kind(name) => settings.workers.get(name),
        Doer::Command(_) => None,
    }
}

/// The backend, model and locality the worker's traffic went to, as far as Baton knows: the
/// model the CLI reports, else the one its kind was pointed at.
pub(crate) fn target_of(
    settings: &baton_config::Settings,
    doer: &Doer,
    reported: Option<&str>,
) -> (String, String, Locality) {
    let target = match doer {
        Doer::Kind(name) => baton_ops::workers::kind_target(settings, name),
        Doer::Command(_) => None,
    };
    let model = reported
        .map(str::to_string)
        .or_else(|| target.as_ref().map(|t| t.model.clone()))
        .unwrap_or_else(|| "unknown".into());
    match target {
        Some(target) => (target.backend, model, target.locality),
        // A CLI on its own provider is a cloud CLI unless Baton knows better.
        None => (format!("cli:{}", doer.label()), model, Locality::Cloud),
    }
}

/// What one agent worker used, as its CLI reported it.
pub(crate) struct Used<'a> {
    pub worker: &'a str,
    /// The kind (or command) it ran, its ledger profile `worker:KIND`.
    pub kind: &'a str,
    pub backend: &'a str,
    pub model: &'a str,
    pub locality: Locality,
    pub report: &'a baton_ops::workers::AgentReport,
    pub latency_ms: u64,
}

/// The run, subtask, role and phase a worker's usage is tagged with.
pub(crate) struct UsageTag<'a> {
    pub run: &'a str,
    pub subtask: Option<&'a str>,
    pub role: RunRole,
    pub phase: Phase,
}

/// The usage a CLI reported, as one ledger row, tagged with `tag` (none: no run to join,
/// as for a dry run's architect).
pub(crate) fn record_usage(
    project: &baton_ops::Project,
    used: &Used<'_>,
    tag: Option<&UsageTag<'_>>,
) -> Result<(), PipelineError> {
    let report = used.report;
    let usage = report.usage.unwrap_or_default();
    let store = project.store()?;
    store.record_calls(&[CallRecord {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: used.worker.to_string(),
        started_at_ms: baton_core::now_ms() - i64::try_from(used.latency_ms).unwrap_or(0),
        profile: format!("worker:{}", used.kind),
        route: "worker".into(),
        backend: used.backend.to_string(),
        endpoint: String::new(),
        model: used.model.to_string(),
        locality: used.locality,
        attempt: 1,
        usage,
        latency_ms: used.latency_ms,
        ttft_ms: None,
        outcome: CallOutcome::Ok,
        error_class: None,
        error: None,
        cache_hit: false,
        cost_usd: report.cost_usd.unwrap_or(0.0),
        avoided_usd: 0.0,
    }])?;
    if let Some(tag) = tag {
        store.tag_run_request(
            used.worker,
            tag.run,
            tag.subtask,
            tag.role,
            tag.phase.as_str(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_or_docs_subtask_takes_its_kinds_variant_when_one_is_configured() {
        let workers: std::collections::BTreeMap<String, ()> = ["codex", "codex-test", "aider"]
            .into_iter()
            .map(|name| (name.to_string(), ()))
            .collect();
        assert_eq!(
            variant_for(&workers, "codex", SubtaskKind::Test),
            "codex-test"
        );
        assert_eq!(variant_for(&workers, "codex", SubtaskKind::Docs), "codex");
        assert_eq!(variant_for(&workers, "codex", SubtaskKind::Code), "codex");
        assert_eq!(variant_for(&workers, "aider", SubtaskKind::Test), "aider");
    }
}
