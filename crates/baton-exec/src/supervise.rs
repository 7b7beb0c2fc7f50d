//! The supervisor of one worker: starts its command, captures its output, watches its
//! deadlines (they fire when due, not on a poll), stops it with the kill ladder, leaves
//! nothing of it running, and says how it ended. Model servers are probed for health and
//! restarted with backoff.
//!
//! It knows nothing of the store: the caller passes an [`Observer`] and writes what it is
//! told (started, ready, restarting) and the returned [`Outcome`].
//!
//! Parts: `child` (starting one process, its environment and output pump), `health` (HTTP
//! probes), `verdict` (why it ended); the kill ladder and the sweep are `crate::ladder`.

mod child;
pub(crate) mod health;
mod verdict;

use baton_core::now_ms;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use baton_core::{RestartPolicy, WorkerRole, WorkerSpec, WorkerStatus};
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::error::ExecError;
use crate::ladder::{self, Reaping};
use crate::logcap::LogWriter;
use crate::reap::{self, Exit};
use child::{Running, SharedLog, StartError};
use health::{Health, Probed};

/// Bytes of log given back in [`Outcome::log_tail`] (for remediation prompts).
pub const LOG_TAIL_BYTES: usize = 4 * 1024;
/// How long to wait for the output pipe to close after the child is gone.
const IO_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A server that stayed healthy this long starts over at the first backoff.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);
/// More restarts than this within [`RESTART_WINDOW`] and the server is given up on.
const MAX_RESTARTS_IN_WINDOW: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Told about a worker's life as it happens; implemented by the caller with the store.
pub trait Observer {
    /// A process was started (again, for a restarted server: see `restarts`).
    fn started(&mut self, started: &Started);
    /// A server answered its health probe for the first time since it (re)started.
    fn ready(&mut self) {}
    /// A server is about to be restarted, for the `restarts`-th time.
    fn restarting(&mut self, restarts: u32, why: &str) {
        let _ = (restarts, why);
    }
}

/// One start of the worker's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub pid: u32,
    /// Its own process group: equal to `pid`.
    pub pgid: u32,
    /// Start time in clock ticks since boot: with `pid`, its identity (see [`crate::proc`]).
    pub process_start: u64,
    pub at_ms: i64,
    /// Restarts before this start (0 for the first).
    pub restarts: u32,
}

/// Why the caller asks the supervisor to stop the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopRequest {
    /// `baton kill`: ends as `killed`.
    Kill,
    /// Judged hung from outside (for example `wait --max-cycles`): ends as `hung`, with why.
    Hung(String),
}

/// How the worker ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: WorkerStatus,
    pub why: Option<String>,
    /// Set when the process exited (not when a signal ended it, nor when it never started).
    pub exit_code: Option<i32>,
    pub ended_at_ms: i64,
    /// The last [`LOG_TAIL_BYTES`] of the log.
    pub log_tail: String,
}

/// Runs the worker `spec` to its end, logging its output to `log_path` (capped at
/// `spec.log_cap_bytes`). Errors are the supervisor's own trouble (the log cannot be
/// written, no signal handling); a worker that fails in any way is an `Ok` [`Outcome`].
///
/// Needs a tokio runtime with time and signals enabled. It makes the process a child
/// subreaper and reaps with `waitpid(-1)`: children started outside this crate in the same
/// process may lose their exit status to it.
pub async fn supervise(
    spec: &WorkerSpec,
    log_path: &Path,
    observer: &mut dyn Observer,
    stop: mpsc::Receiver<StopRequest>,
) -> Result<Outcome, ExecError> {
    // Orphaned grandchildren are re-parented to us instead of init, so we can reap them and
    // find those that escaped the process group.
    nix::sys::prctl::set_child_subreaper(true).map_err(|source| ExecError::Subreaper { source })?;
    let log = LogWriter::create(log_path, spec.log_cap_bytes).map_err(|source| ExecError::Log {
        path: log_path.to_path_buf(),
        source,
    })?;
    // Listening starts before the first spawn, so no SIGCHLD is missed.
    let sigchld =
        signal(SignalKind::child()).map_err(|source| ExecError::SignalHandler { source })?;
    let mut supervision = Supervision {
        spec,
        observer,
        stop,
        stop_closed: false,
        log: Arc::new(Mutex::new(log)),
        sigchld,
        reaped: reap::subscribe(),
        restarts: 0,
        restart_budget: RestartBudget::default(),
    };
    let result = supervision.run().await;
    let mut log = supervision
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let flushed = log.flush();
    match result {
        Ok(mut outcome) => {
            flushed.map_err(|source| ExecError::Log {
                path: log_path.to_path_buf(),
                source,
            })?;
            outcome.log_tail = log.tail_text(LOG_TAIL_BYTES);
            let (status, why) = (outcome.status, &outcome.why);
            tracing::info!(worker = %spec.name, %status, ?why, "worker ended");
            Ok(outcome)
        }
        Err(error) => Err(error),
    }
}

/// What ended one watch of a running child.
enum Event {
    Exited(Exit),
    /// A deadline or a stop request: the child is to be stopped and the worker ends so.
    Stop {
        status: WorkerStatus,
        why: String,
    },
    /// A server failed its probes.
    Unhealthy(String),
}

/// What to do after a child is gone.
enum Next {
    End {
        status: WorkerStatus,
        why: Option<String>,
    },
    Restart {
        why: String,
    },
}

struct Supervision<'a> {
    spec: &'a WorkerSpec,
    observer: &'a mut dyn Observer,
    stop: mpsc::Receiver<StopRequest>,
    /// The caller dropped its sender: no stop request can come any more.
    stop_closed: bool,
    log: SharedLog,
    sigchld: Signal,
    reaped: watch::Receiver<u64>,
    restarts: u32,
    restart_budget: RestartBudget,
}

impl Supervision<'_> {
    async fn run(&mut self) -> Result<Outcome, ExecError> {
        // The wall deadline counts from the first start, across restarts.
        let wall_deadline = self
            .spec
            .timeout_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let mut backoff = FIRST_BACKOFF;
        loop {
            let running = match child::start(self.spec, &self.log) {
                Ok(running) => running,
                Err(StartError::Worker(why)) => {
                    self.note(&why);
                    return Ok(ended(WorkerStatus::Failed, Some(why), None));
                }
                Err(StartError::Infra(error)) => return Err(error),
            };
            let pid = running.pid;
            let kill_on_drop = child::KillOnDrop::new(pid);
            tracing::info!(worker = %self.spec.name, pid, restarts = self.restarts, "started");
            self.observer.started(&Started {
                pid,
                pgid: pid,
                process_start: running.start.unwrap_or(0),
                at_ms: now_ms(),
                restarts: self.restarts,
            });

            let (event, ready_at) = self.watch(&running, wall_deadline).await;
            let next = match self.decide(event) {
                Next::Restart { why } => self.allow_restart(why),
                end @ Next::End { .. } => end,
            };
            match &next {
                Next::Restart { why } => {
                    self.observer.restarting(self.restarts + 1, why);
                    self.note(&format!("restarting: {why}"));
                }
                // Noted after the drain, so that it is the log's last line.
                Next::End { .. } => {}
            }
            // Whatever happened, nothing of this child's is left running past this point.
            let grace = Duration::from_millis(self.spec.grace_ms);
            ladder::sweep(pid, running.start, pid, grace, Reaping::All).await;
            kill_on_drop.disarm();
            let exit = reap::exit_of(pid);
            running.drain(IO_DRAIN_TIMEOUT, &self.log).await;
            reap::forget(pid);
            let exit_code = match exit {
                Some(Exit::Code(code)) => Some(code),
                Some(Exit::Signal(_)) | None => None,
            };

            if let Next::End { status, why } = next {
                if let Some(why) = &why {
                    self.note(why);
                }
                if status != WorkerStatus::Succeeded {
                    return Ok(ended(status, why, exit_code));
                }
                // Checked after the sweep: nothing of the worker's is still writing.
                let checked = match verdict::check_checkpoints(self.spec) {
                    Ok(()) => self.run_check(wall_deadline).await,
                    Err(problem) => Err(problem),
                };
                return Ok(match checked {
                    Ok(()) => ended(status, why, exit_code),
                    Err(problem) => {
                        self.note(&problem);
                        ended(WorkerStatus::Failed, Some(problem), exit_code)
                    }
                });
            }

            // Restart, after a backoff that grows each time.
            if ready_at.is_some_and(|at| at.elapsed() >= BACKOFF_RESET_AFTER) {
                backoff = FIRST_BACKOFF;
            }
            if let Some((status, why)) = self.back_off(backoff, wall_deadline).await {
                self.note(&why);
                return Ok(ended(status, Some(why), exit_code));
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            self.restarts += 1;
        }
    }

    /// Waits for the child to exit, a deadline, a stop request or (servers) failed probes.
    /// Also returns when the server first became ready.
    async fn watch(
        &mut self,
        running: &Running,
        wall_deadline: Option<Instant>,
    ) -> (Event, Option<Instant>) {
        let spec = self.spec;
        let idle = spec.idle_timeout_ms.map(Duration::from_millis);
        let mut idle_deadline = idle.map(|idle| running.clock.last() + idle);
        let mut health = match spec.role {
            WorkerRole::Server => Health::new(spec.health_url.clone()),
            WorkerRole::Agent | WorkerRole::Coordinator => Health::none(),
        };
        if health.ready_at().is_some() {
            // A server without a health URL is up as soon as it runs.
            self.observer.ready();
        }
        loop {
            // Mark reaps seen BEFORE looking: a reap after this wakes `changed()` below.
            self.reaped.borrow_and_update();
            if let Some(exit) = reap::exit_of(running.pid) {
                return (Event::Exited(exit), health.ready_at());
            }
            let event = tokio::select! {
                _ = self.sigchld.recv() => {
                    reap::reap_now();
                    None
                }
                // Another supervision in this process reaped, maybe our child.
                _ = self.reaped.changed() => None,
                () = sleep_until_some(wall_deadline) => {
                    let why = verdict::past_deadline(spec.timeout_ms.unwrap_or(0));
                    Some(Event::Stop { status: WorkerStatus::TimedOut, why })
                }
                () = sleep_until_some(idle_deadline) => {
                    // Output re-arms the deadline without waking us: look at the clock now.
                    idle_deadline = idle.map(|idle| running.clock.last() + idle);
                    idle_deadline.filter(|due| *due <= Instant::now()).map(|_| {
                        let why = verdict::silent_for(spec.idle_timeout_ms.unwrap_or(0));
                        Event::Stop { status: WorkerStatus::Hung, why }
                    })
                }
                request = self.stop.recv(), if !self.stop_closed => {
                    self.stop_closed = request.is_none();
                    request.map(|request| {
                        let (status, why) = stop_reason(request);
                        Event::Stop { status, why }
                    })
                }
                () = sleep_until_some(health.next_due()) => {
                    health.start_probe();
                    None
                }
                result = health.answer() => match health.take(result) {
                    Probed::BecameReady => {
                        tracing::info!(worker = %spec.name, "ready");
                        self.observer.ready();
                        None
                    }
                    Probed::Unhealthy(why) => Some(Event::Unhealthy(why)),
                    Probed::Nothing => None,
                },
            };
            if let Some(event) = event {
                return (event, health.ready_at());
            }
        }
    }

    /// Restart or end, by role and restart policy.
    fn decide(&self, event: Event) -> Next {
        let restart = self.spec.role == WorkerRole::Server;
        match event {
            Event::Stop { status, why } => Next::End {
                status,
                why: Some(why),
            },
            Event::Unhealthy(why) => match self.spec.restart {
                RestartPolicy::OnFailure | RestartPolicy::Always if restart => {
                    Next::Restart { why }
                }
                RestartPolicy::Never | RestartPolicy::OnFailure | RestartPolicy::Always => {
                    Next::End {
                        status: WorkerStatus::Failed,
                        why: Some(why),
                    }
                }
            },
            Event::Exited(exit) => {
                let clean = exit == Exit::Code(0);
                let again = restart
                    && match self.spec.restart {
                        RestartPolicy::Never => false,
                        RestartPolicy::OnFailure => !clean,
                        RestartPolicy::Always => true,
                    };
                if again {
                    Next::Restart {
                        why: verdict::exit_why(exit),
                    }
                } else if clean {
                    Next::End {
                        status: WorkerStatus::Succeeded,
                        why: None,
                    }
                } else {
                    Next::End {
                        status: WorkerStatus::Failed,
                        why: Some(verdict::exit_why(exit)),
                    }
                }
            }
        }
    }

    /// A restart, unless there were too many lately: then the server is given up on.
    fn allow_restart(&mut self, why: String) -> Next {
        if self.restart_budget.take(Instant::now()) {
            return Next::Restart { why };
        }
        let window = verdict::human_duration(RESTART_WINDOW.as_secs() * 1000);
        let why = format!(
            "restarted {MAX_RESTARTS_IN_WINDOW} times within {window} and failed again: {why}"
        );
        Next::End {
            status: WorkerStatus::Failed,
            why: Some(why),
        }
    }

    /// Sleeps before a restart; a stop request or the wall deadline cuts it short and ends
    /// the worker.
    async fn back_off(
        &mut self,
        delay: Duration,
        wall_deadline: Option<Instant>,
    ) -> Option<(WorkerStatus, String)> {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return None,
                () = sleep_until_some(wall_deadline) => {
                    let why = verdict::past_deadline(self.spec.timeout_ms.unwrap_or(0));
                    return Some((WorkerStatus::TimedOut, why));
                }
                request = self.stop.recv(), if !self.stop_closed => match request {
                    Some(request) => return Some(stop_reason(request)),
                    None => self.stop_closed = true,
                },
            }
        }
    }

    /// A line of the supervisor's own in the log (why it stopped or restarted the child).
    /// Runs the spec's `check` (`sh -c`, in the worker's directory, with the worker's
    /// environment, within what is left of the wall deadline); its output goes to the log.
    /// `Err` says how it failed.
    async fn run_check(&self, wall_deadline: Option<Instant>) -> Result<(), String> {
        let Some(check) = &self.spec.check else {
            return Ok(());
        };
        self.note(&format!("check: {check}"));
        let timeout = wall_deadline.map_or(crate::run::DEFAULT_TIMEOUT, |at| {
            at.saturating_duration_since(Instant::now())
        });
        let mut request = crate::run::RunRequest::new("sh", &self.spec.cwd)
            .args(["-c", check.as_str()])
            .streams(crate::run::Streams::Merged)
            .timeout(timeout.max(Duration::from_secs(1)));
        request.env = crate::run::Environment {
            pass: self.spec.env_pass.clone(),
            set: self.spec.env_set.clone(),
        };
        match crate::run::run(&request).await {
            Ok(output) => {
                let text = output.stdout.text();
                for line in text.lines() {
                    self.note(&format!("check: {line}"));
                }
                match (output.termination, output.exit) {
                    (crate::run::Termination::Exited, Exit::Code(0)) => Ok(()),
                    (crate::run::Termination::Exited, exit) => {
                        let last = text.lines().rev().find(|l| !l.trim().is_empty());
                        Err(format!(
                            "check `{check}` failed ({}){}",
                            exit_words(exit),
                            last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
                        ))
                    }
                    _ => Err(format!("check `{check}` ran past the worker's deadline")),
                }
            }
            Err(error) => Err(format!("check `{check}` could not run: {error}")),
        }
    }

    fn note(&self, text: &str) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = log.note(text) {
            tracing::warn!(%error, "cannot write the log");
        }
    }
}

/// The restarts within the last [`RESTART_WINDOW`].
#[derive(Default)]
struct RestartBudget {
    at: VecDeque<Instant>,
}

impl RestartBudget {
    /// Records a restart at `now`; `false` (and nothing recorded) if
    /// [`MAX_RESTARTS_IN_WINDOW`] already happened within the window.
    fn take(&mut self, now: Instant) -> bool {
        while self
            .at
            .front()
            .is_some_and(|at| now.duration_since(*at) > RESTART_WINDOW)
        {
            self.at.pop_front();
        }
        if self.at.len() >= MAX_RESTARTS_IN_WINDOW {
            return false;
        }
        self.at.push_back(now);
        true
    }
}

/// The status and reason a stop request ends the worker with.
fn stop_reason(request: StopRequest) -> (WorkerStatus, String) {
    match request {
        StopRequest::Kill => (WorkerStatus::Killed, "stopped on request".into()),
        StopRequest::Hung(why) => (WorkerStatus::Hung, why),
    }
}

/// `exit 3`, `signal 9`.
fn exit_words(exit: Exit) -> String {
    match exit {
        Exit::Code(code) => format!("exit {code}"),
        Exit::Signal(signal) => format!("signal {signal}"),
    }
}

fn ended(status: WorkerStatus, why: Option<String>, exit_code: Option<i32>) -> Outcome {
    // `log_tail` is filled in by `supervise` once the log is flushed.
    Outcome {
        status,
        why,
        exit_code,
        ended_at_ms: now_ms(),
        log_tail: String::new(),
    }
}

/// Sleeps until `deadline`, or forever without one (a `select!` branch that never fires).
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sixth_restart_within_ten_minutes_is_refused_and_allowed_once_the_first_ages_out() {
        let mut budget = RestartBudget::default();
        let first = Instant::now();
        for minute in 0..5 {
            assert!(
                budget.take(first + Duration::from_secs(60 * minute)),
                "restart {minute}"
            );
        }
        assert!(!budget.take(first + Duration::from_secs(9 * 60)));
        // Past ten minutes after the first, one restart is freed.
        assert!(budget.take(first + RESTART_WINDOW + Duration::from_secs(1)));
        assert!(!budget.take(first + RESTART_WINDOW + Duration::from_secs(2)));
    }
}
