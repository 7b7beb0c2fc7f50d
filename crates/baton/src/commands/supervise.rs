//! `baton __supervise --store DB ID`: the supervisor of one worker, started detached by
//! `baton spawn` (or by another supervisor handing on a free slot). The role itself is
//! `baton_ops::workers::supervise`; this process turns SIGTERM, SIGINT and SIGHUP (a closed
//! tmux session) into a kill and SIGUSR1 into a hang, and in a tmux pane shows the log as it
//! grows and how the worker ended.

use std::path::Path;
use std::process::ExitCode;

use baton_exec::supervise::StopRequest;
use baton_ops::Supervisor;
use tokio::signal::unix::{SignalKind, signal};

use crate::app::SUPERVISE_COMMAND;
use crate::cli::SuperviseArgs;
use crate::error::{CliError, Exit};

pub async fn run(args: SuperviseArgs) -> Result<ExitCode, CliError> {
    let program = std::env::current_exe().map_err(|error| {
        CliError::new(
            Exit::Internal,
            format!("cannot find the baton binary: {error}"),
        )
        .hint("it may have been removed or replaced while workers ran; reinstall baton")
    })?;
    let supervisor = Supervisor {
        program,
        args: vec![SUPERVISE_COMMAND.to_string()],
    };
    let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(4);
    let signals = forward_signals(stop_tx)?;
    let mut tmux = false;
    let supervised =
        baton_ops::workers::supervise(&args.store, &args.id, &supervisor, stop_rx, |record| {
            if record.spec.tmux {
                tmux = true;
                show_log_in_pane(Path::new(&record.log_path));
            }
        })
        .await;
    signals.abort();
    let supervised = supervised?;
    if tmux {
        println_status(&supervised);
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM, SIGINT and SIGHUP stop the worker as killed; SIGUSR1 stops it as hung
/// (`baton wait --max-cycles`).
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
    tokio::spawn(async move {
        let mut out = std::io::stdout();
        let _ = baton_ops::workers::follow_file(&path, None, || false, &mut out).await;
    });
}

#[allow(clippy::print_stdout)]
fn println_status(supervised: &baton_ops::workers::Supervised) {
    println!(
        "\nbaton: worker {} ended {}{}",
        supervised.record.id,
        supervised.status,
        supervised
            .why
            .as_deref()
            .map(|w| format!(": {w}"))
            .unwrap_or_default()
    );
}
