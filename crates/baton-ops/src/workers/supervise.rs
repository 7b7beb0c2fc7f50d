//! The supervisor of one worker, the long-lived role a detached `baton __supervise` process
//! runs: it records itself (PID and process start time), runs the worker under
//! `baton_exec::supervise`, writes what it sees into the store as it happens, records the
//! outcome, queues a remediation worker when one is due, and starts whatever queued worker
//! now has a slot. Stop requests (a kill, a hang) come in on a channel the caller feeds from
//! its signals.

use std::path::Path;

use baton_core::event::WorkerReady;
use baton_core::{Event, WorkerRecord, WorkerStatus};
use baton_exec::supervise::{Observer, Started, StopRequest};
use baton_store::Store;
use tokio::sync::mpsc;

use super::queue;
use crate::{OpsError, Supervisor};

/// Writes what the supervisor sees into the store as it happens.
struct StoreObserver<'a> {
    store: &'a Store,
    id: &'a str,
}

impl Observer for StoreObserver<'_> {
    fn started(&mut self, started: &Started) {
        if let Err(error) = self.store.mark_started(
            self.id,
            started.pid,
            started.pgid,
            started.process_start,
            started.at_ms,
            started.restarts,
        ) {
            tracing::error!(%error, "cannot record the worker's start");
        }
    }

    fn ready(&mut self) {
        let ready = Event::WorkerReady(WorkerReady {});
        if let Err(error) = self.store.append_event(self.id, &ready) {
            tracing::error!(%error, "cannot record readiness");
        }
    }

    fn restarting(&mut self, restarts: u32, why: &str) {
        // The state change (back to `starting`) and its event, in one transaction; the next
        // `started` records the new process.
        if let Err(error) = self
            .store
            .mark_restarting(self.id, Some(why), None, restarts)
        {
            tracing::error!(%error, "cannot record the restart");
        }
    }
}

/// How a supervised worker ended, for the caller to show (a tmux pane prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervised {
    pub record: WorkerRecord,
    pub status: WorkerStatus,
    pub why: Option<String>,
}

/// Supervises worker `id` of the store at `store_path` until it ends; see the module
/// documentation. `supervisor` starts the supervisors of the workers this one's end frees a
/// slot for (and of its remediation). `started` sees the worker's record once this process
/// is marked as its supervisor, before the command starts (the CLI shows a tmux pane there),
/// so that a front end need not open the store a second time to read it.
///
/// Runs on the current thread: a `Store` is not `Sync`, and one supervisor process supervises
/// one worker.
pub async fn supervise(
    store_path: &Path,
    id: &str,
    supervisor: &Supervisor,
    stop: mpsc::Receiver<StopRequest>,
    started: impl FnOnce(&WorkerRecord),
) -> Result<Supervised, OpsError> {
    let store = Store::open(store_path)?;
    let record = store
        .worker(id)?
        .ok_or_else(|| OpsError::UnknownWorker { key: id.into() })?;
    let pid = std::process::id();
    let start = baton_exec::proc::start_time(pid).unwrap_or(0);
    store.mark_supervisor(&record.id, pid, start)?;
    started(&record);
    let mut observer = StoreObserver {
        store: &store,
        id: &record.id,
    };
    let log_path = Path::new(&record.log_path);
    let outcome =
        baton_exec::supervise::supervise(&record.spec, log_path, &mut observer, stop).await;
    let (status, why, exit_code, ended_at_ms, log_tail) = match outcome {
        Ok(outcome) => (
            outcome.status,
            outcome.why,
            outcome.exit_code,
            outcome.ended_at_ms,
            outcome.log_tail,
        ),
        Err(error) => (
            WorkerStatus::Failed,
            Some(format!("supervisor error: {error}")),
            None,
            baton_core::now_ms(),
            String::new(),
        ),
    };
    // The remediation worker is queued before the original is marked ended, so whoever sees
    // the failure also sees the chain continue.
    if status.wants_remediation() && record.spec.remediate > 0 {
        let mut ended = record.clone();
        ended.status = status;
        let fix = queue::remediation_record(
            store_path,
            &ended,
            why.as_deref().unwrap_or("it failed"),
            &log_tail,
        );
        store.insert_worker(&fix)?;
    }
    store.mark_ended(&record.id, status, why.as_deref(), exit_code, ended_at_ms)?;
    queue::promote(&store, supervisor)?;
    Ok(Supervised {
        record,
        status,
        why,
    })
}
