//! The worker queue: fresh records, starting the supervisors of queued workers as slots free
//! up, finding supervisors that died (PID plus process start time, never the PID alone), and
//! the remediation worker of a failed one. Processes start only through `baton-exec`; state
//! lives only in the store.

use std::path::{Path, PathBuf};

use baton_core::{WorkerRecord, WorkerSpec, WorkerStatus};
use baton_store::Store;

use crate::{OpsError, Supervisor};

/// Bytes of the failed worker's log that go into a remediation prompt.
const REMEDIATION_LOG_BYTES: usize = 4000;

/// How long a claimed worker may be without a recorded supervisor before it counts as lost.
const SUPERVISOR_START_GRACE_MS: i64 = 30_000;

/// A short, unique, human-typable id: `w` and 8 hex digits (the random end of a UUID v7).
fn new_worker_id() -> String {
    let simple = uuid::Uuid::now_v7().simple().to_string();
    format!("w{}", &simple[simple.len() - 8..])
}

/// Where a worker's log lives: next to the store, `workers/ID.log`.
fn log_path(store_path: &Path, id: &str) -> PathBuf {
    store_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("workers")
        .join(format!("{id}.log"))
}

/// A fresh queued record for a spec.
pub(crate) fn new_record(store_path: &Path, spec: WorkerSpec) -> WorkerRecord {
    let id = new_worker_id();
    let log = log_path(store_path, &id).display().to_string();
    WorkerRecord::queued(id, spec, log, baton_core::now_ms())
}

/// Starts the supervisor of every queued worker that now has a slot (oldest first). A
/// supervisor that cannot start fails its worker (recorded, with why). Returns the ids started.
pub fn promote(store: &Store, supervisor: &Supervisor) -> Result<Vec<String>, OpsError> {
    let mut started = Vec::new();
    while let Some(record) = store.claim_next_queued()? {
        if let Err(why) = launch(store.path(), supervisor, &record) {
            let why = format!("cannot start its supervisor: {why}");
            store.mark_ended(
                &record.id,
                WorkerStatus::Failed,
                Some(&why),
                None,
                baton_core::now_ms(),
            )?;
            continue;
        }
        started.push(record.id);
    }
    Ok(started)
}

/// Starts the supervisor of a worker, detached (or in a tmux session).
fn launch(store_path: &Path, supervisor: &Supervisor, record: &WorkerRecord) -> Result<(), String> {
    let args = supervisor.args_for(store_path, &record.id);
    if record.spec.tmux {
        baton_exec::launch::spawn_in_tmux(&tmux_session(record), &supervisor.program, &args)
            .map_err(|e| e.to_string())
    } else {
        baton_exec::launch::spawn_detached(&supervisor.program, &args, &[])
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The tmux session a `tmux` worker's supervisor runs in.
pub fn tmux_session(record: &WorkerRecord) -> String {
    format!("baton-{}", record.id)
}

/// Finds workers whose supervisor died, stops what is left of their process group when it is
/// provably theirs, marks them `lost` and gives their slots to queued workers. Returns the ids
/// marked lost.
pub fn reconcile(store: &Store, supervisor: Option<&Supervisor>) -> Result<Vec<String>, OpsError> {
    let mut lost = Vec::new();
    for worker in store.workers(false)? {
        if worker.status.is_terminal() || worker.status == WorkerStatus::Queued {
            continue;
        }
        let supervisor_alive = match (worker.supervisor_pid, worker.supervisor_start) {
            (Some(pid), Some(start)) => baton_exec::proc::is_running(pid, start),
            // A claimed worker whose supervisor has not written itself down yet: give it time.
            _ => baton_core::now_ms() - worker.created_at_ms < SUPERVISOR_START_GRACE_MS,
        };
        if supervisor_alive {
            continue;
        }
        let mut why = match worker.supervisor_pid {
            Some(pid) => format!("its supervisor (pid {pid}) is gone"),
            None => "its supervisor never started".to_string(),
        };
        if let (Some(pgid), Some(pid), Some(start)) =
            (worker.pgid, worker.pid, worker.process_start)
            && baton_exec::proc::is_same_process(pid, start)
        {
            let _ = baton_exec::proc::signal_group_if_ours(
                pgid,
                pid,
                start,
                baton_exec::Signal::SIGKILL,
            );
            why.push_str("; its process group was killed");
        }
        if store.set_lost(&worker.id, &why)? {
            lost.push(worker.id);
        }
    }
    // Freed slots go to queued workers, when this process can start supervisors; otherwise
    // the next one that can (any spawn, any supervisor that ends) hands them on.
    if let (false, Some(supervisor)) = (lost.is_empty(), supervisor) {
        promote(store, supervisor)?;
    }
    Ok(lost)
}

/// The remediation worker of one that failed, timed out or hung: the original task, what
/// went wrong, and the tail of its log.
pub(crate) fn remediation_record(
    store_path: &Path,
    failed: &WorkerRecord,
    why: &str,
    log_tail: &str,
) -> WorkerRecord {
    let task = failed
        .spec
        .prompt
        .clone()
        .unwrap_or_else(|| failed.spec.command.join(" "));
    let start = log_tail.len().saturating_sub(REMEDIATION_LOG_BYTES);
    let start = (start..log_tail.len())
        .find(|i| log_tail.is_char_boundary(*i))
        .unwrap_or(log_tail.len());
    let tail = &log_tail[start..];
    let prompt = format!(
        "A previous worker ({id}) on this task ended {status}: {why}.\n\
         Finish the task, avoiding what went wrong. The end of its log:\n\
         ```\n{tail}\n```\n\nThe original task:\n{task}",
        id = failed.id,
        status = failed.status,
    );
    let mut spec = failed.spec.clone();
    if let Some(original) = &failed.spec.prompt {
        for arg in &mut spec.command {
            if arg == original {
                arg.clone_from(&prompt);
            }
        }
    }
    spec.prompt = Some(prompt);
    spec.remediate = failed.spec.remediate.saturating_sub(1);
    spec.remediation_of = Some(failed.id.clone());
    spec.name = format!("{}-fix", failed.spec.name.trim_end_matches("-fix"));
    new_record(store_path, spec)
}
