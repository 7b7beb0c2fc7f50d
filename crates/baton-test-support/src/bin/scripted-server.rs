//! `scripted-server`: the scripted OpenAI/Anthropic server as a process, for benchmarks and
//! for tests that need a server outside their own process.
//!
//! Prints exactly one line, its base URL (`http://127.0.0.1:PORT`), then serves until stdin
//! reaches end of file or it receives SIGTERM/SIGINT. Nothing is logged per request, and
//! requests are not recorded (nobody outside could read them), so per-request overhead stays
//! what a benchmark baseline needs: close to none.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use baton_test_support::{Reply, Script, ScriptedServer};
use clap::Parser;

/// A scripted OpenAI/Anthropic-compatible server for tests and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "scripted-server")]
struct Args {
    /// Serve this script (JSON, see `baton_test_support::Script`) instead of a fixed reply.
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["reply", "delay_ms"])]
    script: Option<PathBuf>,
    /// Answer every chat request with this text (streamed, with usage).
    #[arg(long, value_name = "TEXT", default_value = "ok")]
    reply: String,
    /// Wait this long before each reply (service time).
    #[arg(long, value_name = "N", default_value_t = 0)]
    delay_ms: u64,
    /// Context size to report at /props, /v1/models and /api/show (overrides the script's).
    #[arg(long, value_name = "N")]
    n_ctx: Option<u64>,
    /// Do not stop at end of stdin; serve until a signal. For shells that start background
    /// jobs with stdin on /dev/null.
    #[arg(long)]
    ignore_stdin: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read script {}", path.display()))?;
            serde_json::from_str::<Script>(&text)
                .with_context(|| format!("failed to parse script {}", path.display()))?
        }
        None if args.delay_ms > 0 => {
            Script::always(Reply::delayed(args.delay_ms, Reply::text(&args.reply)))
        }
        None => Script::always(Reply::text(&args.reply)),
    };
    if let Some(n_ctx) = args.n_ctx {
        script.n_ctx = Some(n_ctx);
    }
    script.record_requests = false;

    let server = ScriptedServer::start(script).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", server.base_url()).context("failed to print the URL")?;
        // Whoever started us blocks reading this line; a pipe would otherwise hold it.
        stdout.flush().context("failed to flush stdout")?;
    }

    let stdin_closed = async {
        if args.ignore_stdin {
            std::future::pending::<()>().await;
        }
        stdin_eof().await;
    };
    tokio::select! {
        () = stdin_closed => {}
        () = signal() => {}
    }
    server.shutdown().await
}

/// Resolves at end of stdin (or a read error, which means the same: nobody is there).
///
/// Reads on a plain thread rather than `tokio::io::stdin`, whose blocking read cannot be
/// cancelled and would keep the runtime (and the process) from exiting after a signal.
async fn stdin_eof() {
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".to_owned())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buffer = [0_u8; 1024];
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = eof_tx.send(());
        });
    if spawned.is_err() {
        // Without a watcher, fall back to serving until a signal.
        return std::future::pending().await;
    }
    // A dropped sender means the watcher ended: also end of stdin.
    let _ = eof_rx.await;
}

/// Resolves at SIGTERM or SIGINT.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut interrupt)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
