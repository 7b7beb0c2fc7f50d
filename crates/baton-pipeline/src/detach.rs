//! Runs whose coordinator lives in a process of its own, under a supervisor, so that it
//! outlives whoever started it (an MCP client that disconnects, a terminal that closes):
//! `baton run --detach` and the MCP tools `run_start`, `run_resume` and `run_review`.
//!
//! A start re-executes the front end's binary (the program of the project's supervisor
//! command: `baton` itself) as `baton run|resume|review …`, as a supervised worker named
//! `run:RUN` ([`coordinator_name`]; the newest worker of that name is the run's coordinator),
//! in the project's directory, without deadlines (the run has budgets of its own) and never
//! remediated. A new run's id is fixed beforehand (`--run-id`), so the answer names it at
//! once. Before answering, the start waits a few seconds for the coordinator to record what
//! it was started for (the run's row, its `run.resumed`, the verdict): a coordinator that
//! fails at once (a configuration it cannot load, a store it cannot open) is an error
//! carrying the last lines of its log, not a run that only seems started. A ticket or plan
//! given as text is written to `.baton/tickets/RUN.md` and `RUN.plan.json`, so that the run,
//! its resume and its report have a file to point at.
//!
//! Parts: [`start_detached`] ([`DetachedRun`] in, [`RunStarted`] out); [`dry_run`] (the same
//! inputs, checked in this process, creating nothing); [`resume_detached`];
//! [`review_detached`] ([`ReviewSent`] out).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton_config::Settings;
use baton_core::Event;
use baton_core::WorkerRecord;
use baton_core::event::RunBudget;
use baton_core::run::{RunRecord, RunStatus};
use baton_ops::workers::{SpawnRequest, WorkerView};
use baton_ops::{OpsError, Project};
use baton_store::{Store, StoreError};
use serde::Serialize;

use crate::intake::intake;
use crate::record::Quiet;
use crate::review::Decision;
use crate::run::{ReviewMode, RunRequest, RunSummary, baton_dir, new_run_id};
use crate::{PipelineError, git};

/// How long a start waits for its coordinator to record what it was started for. One that
/// cannot load its configuration or open the store fails well within it; one that first asks
/// the orchestrator for a spec (a ticket without acceptance criteria) may take longer, and is
/// then answered as started but not recorded yet.
const SETTLE_WAIT: Duration = Duration::from_secs(10);
/// How often the store is read meanwhile.
const SETTLE_POLL: Duration = Duration::from_millis(50);
/// Lines of a failed coordinator's log read for why it failed.
const LOG_TAIL_LINES: usize = 40;
/// Lines of its own a failed coordinator's error shows when it printed no error.
const CAUSE_LINES: usize = 3;
/// How the command line starts an error and its hint (a coordinator is `baton` itself).
const ERROR_PREFIX: &str = "error: ";
const HINT_PREFIX: &str = "hint: ";
/// How the supervisor marks its own lines in a worker's log.
const SUPERVISOR_NOTE: &str = "baton: ";
/// Events read from the store at once while looking for the one a coordinator records.
const EVENT_PAGE: usize = 500;

/// A ticket or a plan: a file, or its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supplied {
    /// A file, relative to the project's directory or absolute.
    Path(PathBuf),
    /// The text itself (a ticket in Markdown, a plan in JSON), written under
    /// `.baton/tickets/`.
    Text(String),
}

/// A run to start under a supervisor: what `baton run` takes, with the ticket and the plan
/// given as files or as text.
#[derive(Debug, Clone)]
pub struct DetachedRun {
    pub ticket: Supplied,
    /// A plan that replaces the architecture phase.
    pub plan: Option<Supplied>,
    pub review: ReviewMode,
    /// Fast-forward the branch the run started from once it is approved.
    pub merge: bool,
    pub budget: RunBudget,
    /// Where its trail is published.
    pub publish: crate::publish::PublishAsk,
}

/// A run whose coordinator was started detached: the one answer of `baton run --detach`,
/// `run_start` and `run_resume`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStarted {
    /// The run's id.
    pub run: String,
    /// The supervised worker its coordinator runs as (`baton ps`, `baton logs`).
    pub worker: String,
    /// The ticket file.
    pub ticket: String,
    /// The plan file given, if one was.
    pub plan: Option<String>,
    /// The coordinator's log.
    pub log: String,
    /// The run's status when this answer was made; `None` while its coordinator is still
    /// drawing up the spec (the run is recorded once that is done).
    pub status: Option<RunStatus>,
}

/// An external verdict handed to a detached coordinator: the answer of `run_review`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewSent {
    pub run: String,
    pub approved: bool,
    /// The supervised worker whose coordinator records the verdict and carries the run on.
    pub worker: String,
    /// The coordinator's log.
    pub log: String,
    /// Whether the verdict was recorded when this answer was made (it is, unless the
    /// coordinator was slow to start).
    pub recorded: bool,
    /// The run's status then.
    pub status: RunStatus,
    /// What happens to the run now.
    pub next: String,
}

/// The name of the workers a run's detached coordinators run as.
pub fn coordinator_name(run_id: &str) -> String {
    format!("run:{run_id}")
}

/// Starts a run under a supervisor and answers once it is recorded (or after a few seconds);
/// see the module documentation. The ticket and a given plan are checked here first, so that
/// a bad one is this call's error and starts nothing.
pub async fn start_detached(
    project: &Project,
    run: DetachedRun,
) -> Result<RunStarted, PipelineError> {
    project.supervisor()?;
    let id = new_run_id();
    let (ticket, plan) = materialize(project, &id, &run).await?;
    let checked = intake(project, &ticket, plan.as_deref()).await?;
    // Publishing targets that cannot be used fail here, not in the coordinator's log.
    crate::publish::resolve(
        &project.settings()?.publish,
        &run.publish,
        &checked.ticket.id,
        crate::git::current_branch(&checked.repo).await.as_deref(),
    )?;
    let mut args = vec![
        "run".to_string(),
        path_arg(&ticket),
        "--run-id".into(),
        id.clone(),
        "--review".into(),
        run.review.as_str().into(),
    ];
    if let Some(plan) = &plan {
        args.extend(["--plan".into(), path_arg(plan)]);
    }
    if run.merge {
        args.push("--merge".into());
    }
    if let Some(tokens) = run.budget.max_cloud_tokens {
        args.extend(["--max-cloud-tokens".into(), tokens.to_string()]);
    }
    if let Some(iterations) = run.budget.max_iterations {
        args.extend(["--max-iterations".into(), iterations.to_string()]);
    }
    if let Some(ms) = run.budget.timeout_ms {
        args.extend(["--timeout".into(), format!("{ms}ms")]);
    }
    if let Some(targets) = &run.publish.targets {
        args.extend(["--publish".into(), targets.join(",")]);
    }
    if let Some(issue) = run.publish.github_issue {
        args.extend(["--github".into(), issue.to_string()]);
    }
    if let Some(issue) = &run.publish.linear_issue {
        args.extend(["--linear".into(), issue.clone()]);
    }
    let worker = spawn_coordinator(project, &id, args).await?;
    let status = settle(project, &id, &worker, "did not start", |store| {
        Ok(exact_run(store, &id)?.map(|run| run.status))
    })
    .await?;
    Ok(RunStarted {
        run: id,
        worker: worker.id,
        ticket: path_arg(&ticket),
        plan: plan.as_deref().map(path_arg),
        log: worker.log_path,
        status,
    })
}

/// What [`start_detached`] would start, checked in this process and stopped once the plan is
/// made and checked (a dry run): no run, branch or worktree is created; a ticket or plan given
/// as text is written under `.baton/tickets/` all the same, so that a real start can name it.
pub async fn dry_run(project: &Project, run: &DetachedRun) -> Result<RunSummary, PipelineError> {
    let (ticket, plan) = materialize(project, &new_run_id(), run).await?;
    let request = RunRequest {
        id: None,
        ticket,
        plan,
        dry_run: true,
        review: run.review,
        budget: run.budget.clone(),
        merge: run.merge,
        publish: run.publish.clone(),
    };
    crate::run::start(project, &request, &Quiet).await
}

/// Resumes run `key` under a supervisor (as `baton resume`), once no coordinator of its own
/// is alive; answers once the resume is recorded (or after a few seconds).
pub async fn resume_detached(
    project: &Project,
    key: &str,
    review: ReviewMode,
) -> Result<RunStarted, PipelineError> {
    project.supervisor()?;
    let run = find_run(project, key)?;
    let resumable = [
        RunStatus::Running,
        RunStatus::Interrupted,
        RunStatus::Failed,
    ];
    if !resumable.contains(&run.status) {
        return Err(PipelineError::NotResumable {
            id: run.id,
            status: run.status,
        });
    }
    if let Some(alive) = coordinator(project, &run.id)
        .await?
        .filter(|worker| !worker.status.is_terminal())
    {
        return Err(PipelineError::StillDriven {
            id: run.id,
            worker: alive.id,
        });
    }
    let mark = last_event_id(project)?;
    let args = vec![
        "resume".to_string(),
        run.id.clone(),
        "--review".into(),
        review.as_str().into(),
    ];
    let worker = spawn_coordinator(project, &run.id, args).await?;
    let status = settle(project, &run.id, &worker, "was not resumed", |store| {
        let resumed = recorded_since(store, &run.id, mark, |event| {
            matches!(event, Event::RunResumed(_))
        })?;
        Ok(if resumed {
            exact_run(store, &run.id)?.map(|run| run.status)
        } else {
            None
        })
    })
    .await?;
    Ok(RunStarted {
        run: run.id,
        worker: worker.id,
        ticket: run.ticket_path,
        plan: None,
        log: worker.log_path,
        status,
    })
}

/// Hands `decision` on run `key` (awaiting an external review) to a coordinator under a
/// supervisor (as `baton review`), which records it and carries the run on: an approval
/// signs it off; a rejection sends the notes to the coder, verifies again and waits for the
/// next review. Answers once the verdict is recorded (or after a few seconds).
pub async fn review_detached(
    project: &Project,
    key: &str,
    decision: Decision,
) -> Result<ReviewSent, PipelineError> {
    if let Decision::Reject(notes) = &decision
        && notes.trim().is_empty()
    {
        return Err(PipelineError::EmptyRejection);
    }
    project.supervisor()?;
    let run = find_run(project, key)?;
    if run.status != RunStatus::AwaitingReview {
        return Err(PipelineError::NotAwaitingReview {
            id: run.id,
            status: run.status,
        });
    }
    // The coordinator that stopped the run for review exits right after: let it, so that two
    // never write the run at once.
    let deadline = Instant::now() + SETTLE_WAIT;
    while let Some(alive) = coordinator(project, &run.id)
        .await?
        .filter(|worker| !worker.status.is_terminal())
    {
        if Instant::now() >= deadline {
            return Err(PipelineError::StillDriven {
                id: run.id,
                worker: alive.id,
            });
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
    let mark = last_event_id(project)?;
    let mut args = vec!["review".to_string(), run.id.clone()];
    let approved = match &decision {
        Decision::Approve => {
            args.push("--approve".into());
            true
        }
        Decision::Reject(notes) => {
            args.extend(["--reject".into(), notes.trim().to_string()]);
            false
        }
    };
    let worker = spawn_coordinator(project, &run.id, args).await?;
    let recorded = settle(project, &run.id, &worker, "was not reviewed", |store| {
        let given = recorded_since(store, &run.id, mark, |event| {
            matches!(event, Event::ReviewVerdict(_))
        })?;
        Ok(given.then_some(()))
    })
    .await?
    .is_some();
    let status = exact_run(&*project.store()?, &run.id)?.map_or(run.status, |run| run.status);
    let next = if approved {
        "its coordinator signs the run off (reports, the pattern in memory, the merge if one was \
         asked for); the run's status becomes `approved`"
    } else {
        "its coordinator sends the notes to the coder as required fixes and verifies again; the \
         run then waits for the next review (`awaiting_review`), or ends `verify_failed`"
    };
    Ok(ReviewSent {
        run: run.id,
        approved,
        worker: worker.id,
        log: worker.log_path,
        recorded,
        status,
        next: next.to_string(),
    })
}

/// The newest worker a detached coordinator of run `run_id` ran as, its status reconciled
/// (a supervisor that died makes it `lost`); `None` for a run never driven detached.
pub(crate) async fn coordinator(
    project: &Project,
    run_id: &str,
) -> Result<Option<WorkerView>, PipelineError> {
    match baton_ops::workers::status(project, &coordinator_name(run_id)).await {
        Ok(found) => Ok(Some(found.worker)),
        Err(OpsError::UnknownWorker { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The run `key` names, or the unknown-run error.
fn find_run(project: &Project, key: &str) -> Result<RunRecord, PipelineError> {
    project.store()?.run(key)?.ok_or_else(|| {
        PipelineError::Ops(OpsError::from(StoreError::UnknownRun {
            id: key.to_string(),
        }))
    })
}

/// The run with exactly this id (not one it is the start of).
fn exact_run(store: &Store, id: &str) -> Result<Option<RunRecord>, PipelineError> {
    match store.run(id) {
        Ok(found) => Ok(found.filter(|run| run.id == id)),
        // Several runs start with it, so none is it.
        Err(StoreError::AmbiguousRun { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The id of the store's newest event (0 for none): what came after it is new.
fn last_event_id(project: &Project) -> Result<i64, PipelineError> {
    let store = project.store()?;
    let mut last = 0;
    loop {
        let page = store.events(last, EVENT_PAGE)?;
        match page.last() {
            Some(row) => last = row.id,
            None => return Ok(last),
        }
    }
}

/// Whether an event of run `run_id` that `wanted` takes was recorded after event `mark`.
fn recorded_since(
    store: &Store,
    run_id: &str,
    mark: i64,
    wanted: impl Fn(&Event) -> bool,
) -> Result<bool, PipelineError> {
    let mut after = mark;
    loop {
        let page = store.events(after, EVENT_PAGE)?;
        let Some(last) = page.last() else {
            return Ok(false);
        };
        after = last.id;
        if page
            .iter()
            .any(|row| row.subject == run_id && wanted(&row.event))
        {
            return Ok(true);
        }
    }
}

/// The files of the ticket and the plan, absolute; see [`place`].
async fn materialize(
    project: &Project,
    id: &str,
    run: &DetachedRun,
) -> Result<(PathBuf, Option<PathBuf>), PipelineError> {
    let ticket = place(project, &run.ticket, &format!("{id}.md")).await?;
    let plan = match &run.plan {
        Some(plan) => Some(place(project, plan, &format!("{id}.plan.json")).await?),
        None => None,
    };
    Ok((ticket, plan))
}

/// A file given, made absolute; a text given, written as `name` under the repository's
/// `.baton/tickets/`.
async fn place(
    project: &Project,
    supplied: &Supplied,
    name: &str,
) -> Result<PathBuf, PipelineError> {
    let text = match supplied {
        Supplied::Path(path) => return Ok(project.resolve(path)),
        Supplied::Text(text) => text,
    };
    let repo = git::top_level(project.cwd()).await?;
    let dir = baton_dir(&repo)?.join("tickets");
    let path = dir.join(name);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|source| PipelineError::Write {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Starts `baton ARGS` (with the project's `-c` overrides) as run `run_id`'s coordinator.
async fn spawn_coordinator(
    project: &Project,
    run_id: &str,
    args: Vec<String>,
) -> Result<WorkerView, PipelineError> {
    let program = project.supervisor()?.program.clone();
    let settings = project.settings()?;
    let mut command = vec![path_arg(&program)];
    for value in project.overrides() {
        command.extend(["-c".to_string(), value.clone()]);
    }
    command.extend(args);
    // The coordinator must write the store this process reads, wherever it would look.
    let env_set = project
        .store_path()
        .parent()
        .map(|home| vec![(baton_config::env::BATON_HOME.to_string(), path_arg(home))])
        .unwrap_or_default();
    let request = SpawnRequest {
        name: Some(coordinator_name(run_id)),
        command,
        cwd: Some(project.cwd().to_path_buf()),
        // No deadlines: a run takes hours and is silent through long model calls; its own
        // budgets (wall time included) end it, recorded, where a kill would not.
        timeout: Some(Duration::ZERO),
        idle_timeout: Some(Duration::ZERO),
        // A second `baton run` of the same id would only fail.
        remediate: Some(0),
        // Never queued behind the agents it may start itself, and taking no slot of theirs.
        max_parallel: Some(u32::MAX),
        role: baton_core::WorkerRole::Coordinator,
        env_pass: passed_env(&settings),
        env_set,
        ..SpawnRequest::default()
    };
    Ok(baton_ops::workers::spawn(project, request).await?)
}

/// The variables a coordinator needs beyond the supervisor's allow-list, by name (their
/// values stay out of the store): Baton's own, every backend's API key, and what the agent
/// kinds and model servers it may start pass on.
fn passed_env(settings: &Settings) -> Vec<String> {
    let mut names: BTreeSet<String> = baton_config::env::ALL
        .iter()
        .map(|name| (*name).to_string())
        .collect();
    names.extend(
        settings
            .backends
            .values()
            .filter_map(|backend| backend.api_key_env.clone()),
    );
    names.extend(
        settings
            .workers
            .values()
            .flat_map(|kind| kind.env_pass.iter().cloned()),
    );
    names.extend(
        settings
            .servers
            .values()
            .flat_map(|server| server.env_pass.iter().cloned()),
    );
    // What publishing authenticates and signs with.
    names.extend(crate::publish::secret_env(&settings.publish));
    names.into_iter().collect()
}

/// Polls until `recorded` finds what the coordinator `worker` was started for (`Some`), the
/// worker ends without it (the error, with its log's last lines), or [`SETTLE_WAIT`] passes
/// (`None`).
async fn settle<T>(
    project: &Project,
    run_id: &str,
    worker: &WorkerView,
    what: &'static str,
    mut recorded: impl FnMut(&Store) -> Result<Option<T>, PipelineError>,
) -> Result<Option<T>, PipelineError> {
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        let ended = {
            let store = project.store()?;
            if let Some(found) = recorded(&store)? {
                return Ok(Some(found));
            }
            match store.worker(&worker.id)? {
                Some(record) if record.status.is_terminal() => {
                    // It may have recorded it between the two reads.
                    if let Some(found) = recorded(&store)? {
                        return Ok(Some(found));
                    }
                    Some(record)
                }
                _ => None,
            }
        };
        if let Some(record) = ended {
            return Err(ended_error(project, run_id, what, &record).await);
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// The error of a coordinator that ended before recording what it was started for.
async fn ended_error(
    project: &Project,
    run_id: &str,
    what: &'static str,
    record: &WorkerRecord,
) -> PipelineError {
    let log = baton_ops::workers::tail(project, &record.id, LOG_TAIL_LINES)
        .await
        .map(|tail| tail.text)
        .unwrap_or_default();
    let (cause, cause_hint) = cause_of(&log);
    let mut ended = match &record.why {
        Some(why) => format!("{} ({why})", record.status),
        None => record.status.to_string(),
    };
    if let Some(cause) = cause {
        ended.push_str("; its log ends: ");
        ended.push_str(&cause);
    }
    PipelineError::DetachedEnded {
        run: run_id.to_string(),
        what,
        worker: record.id.clone(),
        ended,
        cause_hint,
    }
}

/// Why a coordinator's `log` says it ended, in one line: the last `error:` it printed (and
/// the `hint:` after it), else its last lines of its own (not the supervisor's notes).
fn cause_of(log: &str) -> (Option<String>, Option<String>) {
    let lines: Vec<&str> = log
        .lines()
        .map(strip_timestamp)
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .collect();
    if let Some(at) = lines
        .iter()
        .rposition(|line| line.starts_with(ERROR_PREFIX))
    {
        let hint = lines
            .get(at + 1)
            .and_then(|line| line.strip_prefix(HINT_PREFIX))
            .map(str::to_string);
        return (Some(lines[at][ERROR_PREFIX.len()..].to_string()), hint);
    }
    let own: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| !line.starts_with(SUPERVISOR_NOTE))
        .collect();
    let last = own[own.len().saturating_sub(CAUSE_LINES)..].join(" / ");
    ((!last.is_empty()).then_some(last), None)
}

/// A log line without the log writer's timestamp.
fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest)) if first.parse::<jiff::Timestamp>().is_ok() => rest.trim_start(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coordinators_name_is_its_runs_id_after_run() {
        assert_eq!(
            coordinator_name("20261203-101500-abcd"),
            "run:20261203-101500-abcd"
        );
    }

    #[test]
    fn a_coordinators_cause_is_its_last_error_with_its_hint_else_its_last_lines() {
        let log = "2026-11-21T19:19:58.123Z  baton: started\n\
                   2026-11-21T19:19:58.200Z  error: cannot connect to http://x/v1\n\
                   2026-11-21T19:19:58.201Z  hint: start the model server\n\
                   2026-11-21T19:19:58.300Z  baton: exited with code 4\n";
        assert_eq!(
            cause_of(log),
            (
                Some("cannot connect to http://x/v1".to_string()),
                Some("start the model server".to_string())
            )
        );
        let crashed = "baton: started\none\ntwo\nthree\nfour\nbaton: killed by signal 9\n";
        assert_eq!(
            cause_of(crashed),
            (Some("two / three / four".to_string()), None)
        );
        assert_eq!(cause_of(""), (None, None));
    }

    #[test]
    fn log_lines_lose_their_timestamp_only() {
        assert_eq!(
            strip_timestamp("2026-11-21T19:19:58.123Z  error: plan x: bad"),
            "error: plan x: bad"
        );
        assert_eq!(strip_timestamp("hint: fix it"), "hint: fix it");
    }
}
