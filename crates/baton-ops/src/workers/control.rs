//! The worker actions: spawn, list, one worker's status, the swarm overview, kill, wait.
//! Each reconciles first where stale state would mislead (a supervisor that died is found
//! and its worker marked `lost` before it is listed or waited for).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use baton_core::{WorkerRecord, WorkerStatus};
use baton_exec::Signal;
use baton_store::Store;
use serde::Serialize;

use super::{SpawnRequest, WorkerView, find, queue, spec};
use crate::error::FailedChain;
use crate::{OpsError, Project};

/// How often the store is read while waiting. Ends are recorded by the supervisors the
/// moment they happen; this only bounds how late a wait notices.
const CHECK_INTERVAL: Duration = Duration::from_millis(25);

/// How long a stop waits, beyond the worker's grace, for its supervisor to record the end.
const STOP_SLACK: Duration = Duration::from_secs(5);

/// How long a claimed worker's supervisor may take to write itself down before a signal
/// for it gives up and reconciles.
const SUPERVISOR_RECORD_WAIT: Duration = Duration::from_secs(10);

/// Without `all`, ended workers are listed for this long after they end.
const RECENT_MS: i64 = 60 * 60 * 1000;

/// Records a worker and starts its supervisor if a slot is free; the view is read right
/// after, so its status says whether it started or queued.
pub async fn spawn(project: &Project, request: SpawnRequest) -> Result<WorkerView, OpsError> {
    let settings = project.settings()?;
    let supervisor = project.supervisor()?;
    let cwd = match &request.cwd {
        Some(dir) => project.resolve(dir),
        None => project.cwd().to_path_buf(),
    };
    let store = project.store()?;
    let env = agent_env(project, &store);
    let spec = spec::build(&settings, &request, cwd, &env)?;
    let record = queue::new_record(store.path(), spec);
    store.insert_worker(&record)?;
    // Slots held by workers whose supervisor died are freed first (reconcile promotes).
    if queue::reconcile(&store, Some(supervisor))?.is_empty() {
        queue::promote(&store, supervisor)?;
    }
    let now = store.worker(&record.id)?.unwrap_or(record);
    Ok(WorkerView::of(&now, baton_core::now_ms()))
}

/// What an agent kind's derived settings need of the project: the store, the binary that
/// serves MCP (the one the supervisor runs) and a directory for CLI state files.
fn agent_env<'a>(project: &Project, store: &'a Store) -> spec::AgentEnv<'a> {
    let state = store
        .path()
        .parent()
        .map_or_else(
            || project.cwd().join(".baton"),
            std::path::Path::to_path_buf,
        )
        .join("agents");
    spec::AgentEnv {
        store,
        baton: project.supervisor().ok().map(|s| s.program.clone()),
        state,
    }
}

/// The workers, oldest first: those not ended, and (without `all`) those that ended in the
/// last hour.
pub async fn ps(project: &Project, all: bool) -> Result<Vec<WorkerView>, OpsError> {
    let store = project.store()?;
    queue::reconcile(&store, project.supervisor().ok())?;
    let now = baton_core::now_ms();
    Ok(store
        .workers(true)?
        .iter()
        .filter(|w| {
            all || !w.status.is_terminal() || w.ended_at_ms.is_some_and(|at| now - at < RECENT_MS)
        })
        .map(|w| WorkerView::of(w, now))
        .collect())
}

/// One worker and the remediation workers started after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusResponse {
    #[serde(flatten)]
    pub worker: WorkerView,
    pub remediations: Vec<WorkerView>,
}

/// One worker in detail.
pub async fn status(project: &Project, key: &str) -> Result<StatusResponse, OpsError> {
    let store = project.store()?;
    queue::reconcile(&store, project.supervisor().ok())?;
    let record = find(&store, key)?;
    let now = baton_core::now_ms();
    let remediations = store
        .remediations_of(&record.id)?
        .iter()
        .map(|w| WorkerView::of(w, now))
        .collect();
    Ok(StatusResponse {
        worker: WorkerView::of(&record, now),
        remediations,
    })
}

/// The swarm at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwarmStatus {
    /// Workers not ended, and those that ended in the last hour.
    pub workers: Vec<WorkerView>,
    /// Of those, how many are in each status.
    pub counts: BTreeMap<WorkerStatus, usize>,
    /// Starting or running now.
    pub running: usize,
}

/// Every worker still queued or running plus those that ended in the last hour.
pub async fn swarm(project: &Project) -> Result<SwarmStatus, OpsError> {
    let workers = ps(project, false).await?;
    let mut counts = BTreeMap::new();
    for worker in &workers {
        *counts.entry(worker.status).or_insert(0) += 1;
    }
    let running = workers
        .iter()
        .filter(|w| matches!(w.status, WorkerStatus::Running | WorkerStatus::Starting))
        .count();
    Ok(SwarmStatus {
        workers,
        counts,
        running,
    })
}

/// What a kill did to one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum KillOutcome {
    /// It had ended before: nothing done.
    AlreadyEnded { status: WorkerStatus },
    /// It was queued: dropped from the queue.
    Dequeued,
    /// Its supervisor stopped it and recorded how it ended.
    Stopped { status: WorkerStatus },
    /// Signalled, but its end was not recorded within its grace period and some slack.
    StillStopping,
}

/// What a kill did to one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Killed {
    pub id: String,
    #[serde(flatten)]
    pub outcome: KillOutcome,
}

/// The workers a kill was asked to stop, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KillResponse {
    pub workers: Vec<Killed>,
}

/// Stops workers: a queued one is dropped from the queue; a running one is stopped by its
/// supervisor (SIGTERM to the group, grace, SIGKILL), which records `killed`.
pub async fn kill(project: &Project, keys: &[String]) -> Result<KillResponse, OpsError> {
    if keys.is_empty() {
        return Err(OpsError::invalid(
            "no worker to kill",
            "name the workers to stop by id, id prefix or name",
        ));
    }
    let pool = project.pool()?;
    let mut workers = Vec::new();
    for key in keys {
        let worker = find(&*pool.get()?, key)?;
        let outcome = if worker.status.is_terminal() {
            KillOutcome::AlreadyEnded {
                status: worker.status,
            }
        } else if worker.status == WorkerStatus::Queued
            && pool
                .get()?
                .mark_queued_killed(&worker.id, "killed while queued")?
        {
            KillOutcome::Dequeued
        } else {
            match stop(project, &worker, Signal::SIGTERM).await? {
                Some(status) => KillOutcome::Stopped { status },
                None => KillOutcome::StillStopping,
            }
        };
        workers.push(Killed {
            id: worker.id,
            outcome,
        });
    }
    Ok(KillResponse { workers })
}

/// Signals a worker's supervisor (SIGTERM: kill; SIGUSR1: hung) and waits for the end to be
/// recorded, up to its grace period and some slack. `None` when it was not recorded in time.
pub async fn stop(
    project: &Project,
    worker: &WorkerRecord,
    signal: Signal,
) -> Result<Option<WorkerStatus>, OpsError> {
    signal_supervisor(project, &worker.id, signal).await?;
    let limit = Duration::from_millis(worker.spec.grace_ms) + STOP_SLACK;
    wait_ended(project, &worker.id, limit).await
}

/// Signals a worker's supervisor, only when PID and start time prove it is still the one
/// recorded; a supervisor that is gone makes the worker `lost` instead.
async fn signal_supervisor(project: &Project, id: &str, signal: Signal) -> Result<(), OpsError> {
    let pool = project.pool()?;
    let started = Instant::now();
    loop {
        let worker = find(&*pool.get()?, id)?;
        if worker.status.is_terminal() {
            return Ok(());
        }
        if let (Some(pid), Some(start)) = (worker.supervisor_pid, worker.supervisor_start) {
            // A supervisor that has exited (a zombie included) is not signalled but found lost.
            if !baton_exec::proc::is_running(pid, start)
                || !baton_exec::proc::signal_process(pid, start, signal)
            {
                queue::reconcile(&*pool.get()?, project.supervisor().ok())?;
            }
            return Ok(());
        }
        // Claimed a moment ago: its supervisor is about to write itself down.
        if started.elapsed() > SUPERVISOR_RECORD_WAIT {
            queue::reconcile(&*pool.get()?, project.supervisor().ok())?;
            return Ok(());
        }
        tokio::time::sleep(CHECK_INTERVAL).await;
    }
}

/// Waits until a worker is recorded as ended, up to `limit`; `None` when it was not.
pub async fn wait_ended(
    project: &Project,
    id: &str,
    limit: Duration,
) -> Result<Option<WorkerStatus>, OpsError> {
    let pool = project.pool()?;
    let started = Instant::now();
    loop {
        let worker = find(&*pool.get()?, id)?;
        if worker.status.is_terminal() {
            return Ok(Some(worker.status));
        }
        if started.elapsed() > limit {
            return Ok(None);
        }
        tokio::time::sleep(CHECK_INTERVAL).await;
    }
}

/// Wait for workers (and the remediation workers started for them) to end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitRequest {
    /// Worker ids, prefixes or names.
    pub workers: Vec<String>,
    /// Every worker that has not ended (that is not itself a remediation).
    pub all: bool,
    /// Give up after this long.
    pub timeout: Option<Duration>,
    /// Look every this long and report a [`Cycle`] each time (the old polling procedure);
    /// default: check often and report nothing until the end.
    pub poll: Option<Duration>,
    /// With `poll`: after this many cycles, workers still running are stopped as hung (and
    /// remediated if asked).
    pub max_cycles: Option<u32>,
}

/// One polling cycle of a wait: when, which, and each chain's newest worker and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub cycle: u32,
    pub max_cycles: Option<u32>,
    pub at_ms: i64,
    pub latest: Vec<(String, WorkerStatus)>,
}

/// A worker and the remediation workers that followed it, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitChain {
    /// The worker waited for.
    pub worker: String,
    pub chain: Vec<WorkerView>,
}

impl WaitChain {
    fn done(&self) -> bool {
        self.chain.iter().all(|w| w.status.is_terminal())
    }

    fn succeeded(&self) -> bool {
        self.chain
            .last()
            .is_some_and(|w| w.status == WorkerStatus::Succeeded)
    }
}

/// How the workers waited for ended, or where they stood when the wait ran out of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitResponse {
    /// Whether every chain ended in success.
    pub succeeded: bool,
    /// Whether the wait ran out of time with chains still going.
    pub timed_out: bool,
    pub workers: Vec<WaitChain>,
}

impl WaitResponse {
    /// A wait that ran out of time, or chains that did not end in success, as an error (after
    /// the response is shown).
    pub fn failure(&self) -> Option<OpsError> {
        if self.timed_out {
            return Some(OpsError::WaitTimeout {
                pending: self
                    .workers
                    .iter()
                    .filter(|c| !c.done())
                    .map(|c| c.worker.clone())
                    .collect(),
            });
        }
        let chains: Vec<FailedChain> = self
            .workers
            .iter()
            .filter(|chain| !chain.succeeded())
            .filter_map(|chain| {
                chain.chain.last().map(|last| FailedChain {
                    worker: chain.worker.clone(),
                    last: last.id.clone(),
                    status: last.status,
                    why: last.why.clone(),
                })
            })
            .collect();
        (!chains.is_empty()).then_some(OpsError::WorkersFailed { chains })
    }
}

fn chain(store: &Store, root: &str, now_ms: i64) -> Result<WaitChain, OpsError> {
    let mut members = vec![find(store, root)?];
    let mut index = 0;
    while index < members.len() {
        let children = store.remediations_of(&members[index].id)?;
        members.extend(children);
        index += 1;
    }
    members.sort_by_key(|w| (w.created_at_ms, w.id.clone()));
    Ok(WaitChain {
        worker: root.to_string(),
        chain: members.iter().map(|w| WorkerView::of(w, now_ms)).collect(),
    })
}

fn chains(store: &Store, roots: &[String]) -> Result<Vec<WaitChain>, OpsError> {
    let now = baton_core::now_ms();
    roots.iter().map(|root| chain(store, root, now)).collect()
}

/// Returns as soon as the workers (and their remediation workers) have ended; `on_cycle` is
/// called once per polling cycle when `poll` is set. Running out of `timeout`, and chains
/// that ended badly, are in the response ([`WaitResponse::failure`]).
pub async fn wait(
    project: &Project,
    request: WaitRequest,
    on_cycle: &mut (dyn FnMut(&Cycle) -> Result<(), OpsError> + Send),
) -> Result<WaitResponse, OpsError> {
    let pool = project.pool()?;
    let supervisor = project.supervisor().ok();
    let roots: Vec<String> = if request.all {
        pool.get()?
            .workers(false)?
            .into_iter()
            .filter(|w| !w.status.is_terminal() && w.spec.remediation_of.is_none())
            .map(|w| w.id)
            .collect()
    } else if request.workers.is_empty() {
        return Err(OpsError::invalid(
            "nothing to wait for",
            "name the workers to wait for, or wait for all of them",
        ));
    } else {
        let store = pool.get()?;
        request
            .workers
            .iter()
            .map(|key| find(&store, key).map(|w| w.id))
            .collect::<Result<_, _>>()?
    };
    let started = Instant::now();
    let interval = request.poll.unwrap_or(CHECK_INTERVAL);
    let mut cycle = 0u32;
    let chains = loop {
        let current = {
            let store = pool.get()?;
            queue::reconcile(&store, supervisor)?;
            chains(&store, &roots)?
        };
        let all_done = current.iter().all(WaitChain::done);
        if request.poll.is_some() {
            cycle += 1;
            on_cycle(&Cycle {
                cycle,
                max_cycles: request.max_cycles,
                at_ms: baton_core::now_ms(),
                latest: current
                    .iter()
                    .filter_map(|c| c.chain.last().map(|w| (w.id.clone(), w.status)))
                    .collect(),
            })?;
            if !all_done && request.max_cycles.is_some_and(|max| cycle >= max) {
                stop_as_hung(project, &current).await?;
                break chains(&*pool.get()?, &roots)?;
            }
        }
        if all_done {
            break current;
        }
        if request
            .timeout
            .is_some_and(|limit| started.elapsed() >= limit)
        {
            return Ok(WaitResponse {
                succeeded: false,
                timed_out: true,
                workers: current,
            });
        }
        let pause = match request.timeout {
            Some(limit) => interval.min(
                limit
                    .saturating_sub(started.elapsed())
                    .max(Duration::from_millis(1)),
            ),
            None => interval,
        };
        tokio::time::sleep(pause).await;
    };
    Ok(WaitResponse {
        succeeded: chains.iter().all(WaitChain::succeeded),
        timed_out: false,
        workers: chains,
    })
}

/// Stops every worker of `chains` that is still going as hung (its supervisor remediates
/// it if asked).
async fn stop_as_hung(project: &Project, chains: &[WaitChain]) -> Result<(), OpsError> {
    let pool = project.pool()?;
    for view in chains
        .iter()
        .flat_map(|c| &c.chain)
        .filter(|w| !w.status.is_terminal())
    {
        let worker = find(&*pool.get()?, &view.id)?;
        stop(project, &worker, Signal::SIGUSR1).await?;
    }
    Ok(())
}
