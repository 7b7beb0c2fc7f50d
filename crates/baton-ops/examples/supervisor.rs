//! A worker supervisor for in-process tests of `baton-ops` (and an example of injecting
//! one): `supervisor --store DB ID` supervises one worker as `baton __supervise` does, without
//! the rest of the binary. SIGTERM stops the worker as killed.

use std::path::PathBuf;

use baton_exec::supervise::StopRequest;
use baton_ops::Supervisor;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ["--store", db, id] = args.iter().map(String::as_str).collect::<Vec<_>>()[..] else {
        return Err("usage: supervisor --store DB ID".into());
    };
    let supervisor = Supervisor {
        program: std::env::current_exe()?,
        args: Vec::new(),
    };
    let (stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        if term.recv().await.is_some() {
            let _ = stop_tx.send(StopRequest::Kill).await;
        }
    });
    baton_ops::workers::supervise(&PathBuf::from(db), id, &supervisor, stop_rx, |_| {}).await?;
    Ok(())
}
