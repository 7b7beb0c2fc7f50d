//! What the worker commands share: building a worker from flags and templates, starting the
//! supervisors of queued workers as slots free up, finding supervisors that died, and
//! writing the remediation worker of a failed one. Processes are started only through
//! `baton-exec`; state lives only in the store.

use std::path::{Path, PathBuf};

use baton_config::Settings;
use baton_core::{WorkerRecord, WorkerRole, WorkerSpec, WorkerStatus};
use baton_store::Store;

use crate::error::{CliError, Exit};

/// The hidden subcommand a supervisor runs as.
pub const SUPERVISE_COMMAND: &str = "__supervise";

/// Bytes of the failed worker's log that go into a remediation prompt.
const REMEDIATION_LOG_BYTES: usize = 4000;

/// A short, unique, human-typable id: `w` and 8 hex digits (the random end of a UUID v7).
pub fn new_worker_id() -> String {
    let simple = uuid::Uuid::now_v7().simple().to_string();
    format!("w{}", &simple[simple.len() - 8..])
}

/// Where a worker's log lives: next to the store, `workers/ID.log`.
pub fn log_path(store_path: &Path, id: &str) -> PathBuf {
    store_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("workers")
        .join(format!("{id}.log"))
}

/// Milliseconds from a config duration, `None` for zero (no deadline).
pub fn deadline_ms(duration: std::time::Duration) -> Option<u64> {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    (ms > 0).then_some(ms)
}

/// A fresh queued record for a spec.
pub fn new_record(store_path: &Path, spec: WorkerSpec) -> WorkerRecord {
    let id = new_worker_id();
    let log = log_path(store_path, &id).display().to_string();
    WorkerRecord::queued(id, spec, log, baton_core::now_ms())
}

/// Starts the supervisor of every queued worker that now has a slot (oldest first).
/// Returns the ids started.
pub fn promote(store: &Store) -> Result<Vec<String>, CliError> {
    let mut started = Vec::new();
    while let Some(record) = store.claim_next_queued()? {
        if let Err(error) = launch_supervisor(store.path(), &record) {
            let why = format!("cannot start its supervisor: {error}");
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

/// Starts `baton __supervise` for a worker, detached (or in a tmux session).
fn launch_supervisor(store_path: &Path, record: &WorkerRecord) -> Result<(), String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find the baton binary: {error}"))?;
    let args = vec![
        SUPERVISE_COMMAND.to_string(),
        "--store".to_string(),
        store_path.display().to_string(),
        record.id.clone(),
    ];
    if record.spec.tmux {
        baton_exec::launch::spawn_in_tmux(&tmux_session(record), &exe, &args)
            .map_err(|e| e.to_string())
    } else {
        baton_exec::launch::spawn_detached(&exe, &args, &[])
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The tmux session a `--tmux` worker's supervisor runs in.
pub fn tmux_session(record: &WorkerRecord) -> String {
    format!("baton-{}", record.id)
}

/// Finds workers whose supervisor died (PID plus process start time, never the PID alone),
/// stops what is left of their process group when it is provably theirs, marks them `lost`
/// and gives their slots to queued workers. Returns the ids marked lost.
pub fn reconcile(store: &Store) -> Result<Vec<String>, CliError> {
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
                nix::sys::signal::Signal::SIGKILL,
            );
            why.push_str("; its process group was killed");
        }
        if store.set_lost(&worker.id, &why)? {
            lost.push(worker.id);
        }
    }
    if !lost.is_empty() {
        promote(store)?;
    }
    Ok(lost)
}

/// How long a claimed worker may be without a recorded supervisor before it counts as lost.
const SUPERVISOR_START_GRACE_MS: i64 = 30_000;

/// The remediation worker of one that failed, timed out or hung: the original task, what
/// went wrong, and the tail of its log.
pub fn remediation_record(
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
    let tail: String = {
        let start = log_tail.len().saturating_sub(REMEDIATION_LOG_BYTES);
        let start = (start..log_tail.len())
            .find(|i| log_tail.is_char_boundary(*i))
            .unwrap_or(log_tail.len());
        log_tail[start..].to_string()
    };
    let prompt = format!(
        "A previous worker ({id}) on this task ended {status}: {why}.\n\
         Finish the task, avoiding what went wrong. The end of its log:\n\
         ```\n{tail}\n```\n\nThe original task:\n{task}",
        id = failed.id,
        status = failed.status,
    );
    let mut spec = failed.spec.clone();
    spec.command = match &failed.spec.prompt {
        Some(original) => spec
            .command
            .iter()
            .map(|arg| {
                if arg == original {
                    prompt.clone()
                } else {
                    arg.clone()
                }
            })
            .collect(),
        None => spec.command,
    };
    spec.prompt = Some(prompt);
    spec.remediate = failed.spec.remediate.saturating_sub(1);
    spec.remediation_of = Some(failed.id.clone());
    spec.name = format!("{}-fix", failed.spec.name.trim_end_matches("-fix"));
    new_record(store_path, spec)
}

/// The spec of a model server from `[servers.NAME]`.
pub fn server_spec(settings: &Settings, name: &str, cwd: &Path) -> Result<WorkerSpec, CliError> {
    let server = settings.servers.get(name).ok_or_else(|| {
        let known: Vec<&str> = settings.servers.keys().map(String::as_str).collect();
        CliError::new(
            Exit::Config,
            format!(
                "unknown server `{name}`; known servers: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ),
        )
        .hint("add `[servers.NAME]` with `command` and `health` to baton.toml")
    })?;
    let mut spec = WorkerSpec::new(
        name,
        server.command.iter().map(|arg| expand_home(arg)).collect(),
        cwd.display().to_string(),
    );
    spec.kind = Some(format!("server:{name}"));
    spec.role = WorkerRole::Server;
    spec.env_set = server
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.env_pass = server.env_pass.clone();
    spec.grace_ms = deadline_ms(settings.supervise.grace).unwrap_or(0);
    // Servers take no agent slot.
    spec.max_parallel = u32::MAX;
    spec.log_cap_bytes = settings.supervise.log_cap_bytes;
    spec.restart = server.restart;
    spec.health_url = Some(server.health.clone());
    Ok(spec)
}

/// `~/x` -> `$HOME/x` in command arguments (model paths in `[servers]`).
pub fn expand_home(arg: &str) -> String {
    match (arg.strip_prefix("~/"), std::env::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest).display().to_string(),
        _ => arg.to_string(),
    }
}
