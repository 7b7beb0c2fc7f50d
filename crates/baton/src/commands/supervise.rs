//! `baton __supervise --store DB ID`: the supervisor of one worker, started detached by
//! `baton spawn` (or by another supervisor handing on a free slot). It records itself (PID
//! and process start time), runs the worker under `baton_exec::supervise`, turns SIGTERM
//! into a kill and SIGUSR1 into a hang, writes the outcome, queues a remediation worker
//! when one is due, and starts whatever queued worker now has a slot.

use std::path::Path;

use baton_core::WorkerRecord;
use baton_exec::supervise::{Observer, Started, StopRequest};
use baton_store::Store;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::SuperviseArgs;
use crate::error::{CliError, Exit};
use crate::workers;

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
        let data = serde_json::json!({ "status": "ready" });
        if let Err(error) = self.store.append_event("worker.ready", self.id, &data) {
            tracing::error!(%error, "cannot record readiness");
        }
    }

    fn restarting(&mut self, restarts: u32, why: &str) {
        let data = serde_json::json!({ "restarts": restarts, "why": why });
        if let Err(error) = self.store.append_event("worker.restarting", self.id, &data) {
            tracing::error!(%error, "cannot record the restart");
        }
    }
}

pub async fn run(args: SuperviseArgs) -> Result<std::process::ExitCode, CliError> {
    let store = Store::open(&args.store)?;
    let record = store.worker(&args.id)?.ok_or_else(|| {
        CliError::new(
            Exit::Input,
            format!("no worker `{}` in {}", args.id, args.store.display()),
        )
        .hint("supervisors are started by `baton spawn`")
    })?;
    let pid = std::process::id();
    let start = baton_exec::proc::start_time(pid).unwrap_or(0);
    store.mark_supervisor(&record.id, pid, start)?;

    let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(4);
    let signals = forward_signals(stop_tx)?;
    if record.spec.tmux {
        show_log_in_pane(Path::new(&record.log_path));
    }
    let mut observer = StoreObserver {
        store: &store,
        id: &record.id,
    };
    let log_path = Path::new(&record.log_path);
    let outcome =
        baton_exec::supervise::supervise(&record.spec, log_path, &mut observer, stop_rx).await;
    signals.abort();
    let (status, why, exit_code, ended_at_ms, log_tail) = match outcome {
        Ok(outcome) => (
            outcome.status,
            outcome.why,
            outcome.exit_code,
            outcome.ended_at_ms,
            outcome.log_tail,
        ),
        Err(error) => (
            baton_core::WorkerStatus::Failed,
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
        let fix = workers::remediation_record(
            &args.store,
            &ended,
            why.as_deref().unwrap_or("it failed"),
            &log_tail,
        );
        store.insert_worker(&fix)?;
    }
    store.mark_ended(&record.id, status, why.as_deref(), exit_code, ended_at_ms)?;
    workers::promote(&store)?;
    if record.spec.tmux {
        println_status(&record, status, why.as_deref());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// SIGTERM, SIGINT and SIGHUP (a closed tmux session) stop the worker as killed; SIGUSR1
/// stops it as hung (`baton wait --max-cycles`).
fn forward_signals(
    stop: tokio::sync::mpsc::Sender<StopRequest>,
) -> Result<tokio::task::JoinHandle<()>, CliError> {
    let install = |kind: SignalKind| {
        signal(kind).map_err(|error| {
            CliError::new(Exit::Internal, format!("cannot handle signals: {error}")).hint(
                "the supervisor needs signal handlers to stop its worker; see `baton logs ID`",
            )
        })
    };
    let mut term = install(SignalKind::terminate())?;
    let mut interrupt = install(SignalKind::interrupt())?;
    let mut hangup = install(SignalKind::hangup())?;
    let mut hung = install(SignalKind::user_defined1())?;
    Ok(tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                _ = term.recv() => StopRequest::Kill,
                _ = interrupt.recv() => StopRequest::Kill,
                _ = hangup.recv() => StopRequest::Kill,
                _ = hung.recv() => StopRequest::Hung("still running when `baton wait --max-cycles` ran out".into()),
            };
            if stop.send(request).await.is_err() {
                return;
            }
        }
    }))
}

/// In a tmux pane, the worker's log is shown as it grows, for a person who attaches.
fn show_log_in_pane(log_path: &Path) {
    let path = log_path.to_path_buf();
    std::thread::spawn(move || {
        let _ = crate::commands::logs::follow_file(&path, None, || false);
    });
}

#[allow(clippy::print_stdout)]
fn println_status(record: &WorkerRecord, status: baton_core::WorkerStatus, why: Option<&str>) {
    println!(
        "\nbaton: worker {} ended {status}{}",
        record.id,
        why.map(|w| format!(": {w}")).unwrap_or_default()
    );
}
