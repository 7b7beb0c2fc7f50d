//! `baton kill ID…`: a queued worker is dropped from the queue; a running one is stopped by
//! its supervisor (SIGTERM to the group, grace, SIGKILL), which records `killed`.

use std::io::Write;
use std::time::Duration;

use baton_core::WorkerStatus;
use nix::sys::signal::Signal;

use crate::app::App;
use crate::cli::KillArgs;
use crate::commands::logs::find;
use crate::error::CliError;
use crate::workers;

/// How often a kill checks whether the supervisor has recorded the end.
const CHECK_INTERVAL: Duration = Duration::from_millis(20);

pub fn run(app: App, args: KillArgs) -> Result<std::process::ExitCode, CliError> {
    let store = app.open_store()?;
    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    for key in &args.workers {
        let worker = find(&store, key)?;
        if worker.status.is_terminal() {
            writeln!(out, "{} already ended: {}", worker.id, worker.status).map_err(io_error)?;
            continue;
        }
        if worker.status == WorkerStatus::Queued
            && store.mark_queued_killed(&worker.id, "killed while queued")?
        {
            writeln!(out, "{} killed (was queued)", worker.id).map_err(io_error)?;
            continue;
        }
        signal_supervisor(&store, &worker.id, Signal::SIGTERM)?;
        let limit = Duration::from_millis(worker.spec.grace_ms) + Duration::from_secs(5);
        let status = wait_ended(&store, &worker.id, limit)?;
        writeln!(
            out,
            "{} {}",
            worker.id,
            status.map_or("is still stopping".to_string(), |s| s.to_string())
        )
        .map_err(io_error)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Signals a worker's supervisor, only when PID and start time prove it is still the one
/// recorded; a supervisor that is gone makes the worker `lost` instead.
pub fn signal_supervisor(
    store: &baton_store::Store,
    id: &str,
    signal: Signal,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    loop {
        let worker = find(store, id)?;
        if worker.status.is_terminal() {
            return Ok(());
        }
        if let (Some(pid), Some(start)) = (worker.supervisor_pid, worker.supervisor_start) {
            // A supervisor that has exited (a zombie included) is not signalled but found lost.
            if !baton_exec::proc::is_running(pid, start)
                || !baton_exec::proc::signal_process(pid, start, signal)
            {
                workers::reconcile(store)?;
            }
            return Ok(());
        }
        // Claimed a moment ago: its supervisor is about to write itself down.
        if started.elapsed() > Duration::from_secs(10) {
            workers::reconcile(store)?;
            return Ok(());
        }
        std::thread::sleep(CHECK_INTERVAL);
    }
}

/// Waits until a worker is recorded as ended, up to `limit`.
pub fn wait_ended(
    store: &baton_store::Store,
    id: &str,
    limit: Duration,
) -> Result<Option<WorkerStatus>, CliError> {
    let started = std::time::Instant::now();
    loop {
        let worker = find(store, id)?;
        if worker.status.is_terminal() {
            return Ok(Some(worker.status));
        }
        if started.elapsed() > limit {
            return Ok(None);
        }
        std::thread::sleep(CHECK_INTERVAL);
    }
}
