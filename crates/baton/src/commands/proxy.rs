//! `baton proxy [--listen ADDR]`: the model gateway agent CLIs are pointed at (the proxy
//! itself lives in `baton-proxy`). Prints the base URLs to give each CLI on stdout, one per
//! line, then serves until Ctrl-C or SIGTERM, letting open answers finish.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use baton_ops::Project;

use crate::cli::ProxyArgs;
use crate::error::{CliError, Exit};
use crate::output::Printer;

pub async fn run(project: Arc<Project>, args: ProxyArgs) -> Result<ExitCode, CliError> {
    let settings = project.settings()?;
    let text = args.listen.unwrap_or_else(|| settings.proxy.listen.clone());
    let addr = parse_addr(&text)?;
    // Opening the store here creates it and reports a bad one before any client connects.
    let shared = baton_proxy::Shared::of(Arc::clone(&project))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| {
        CliError::new(
            Exit::Unreachable,
            format!("cannot listen on {addr}: {error}"),
        )
        .hint("pick a free port with --listen 127.0.0.1:PORT (0 picks one), or stop what holds it")
    })?;
    let local = listener.local_addr().map_err(|error| {
        CliError::new(
            Exit::Internal,
            format!("cannot read the bound address: {error}"),
        )
        .hint("try another address with --listen")
    })?;
    let printer = Printer::new(false);
    // Scripts read the first line; the others say what to set for each CLI.
    printer.text(format!("http://{local}"))?;
    printer.text(format!("OPENAI_BASE_URL=http://{local}/v1"))?;
    printer.text(format!("ANTHROPIC_BASE_URL=http://{local}"))?;
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async {
                match term.as_mut() {
                    Some(term) => { term.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    };
    baton_proxy::server::serve(listener, shared, shutdown)
        .await
        .map_err(|error| {
            CliError::new(Exit::Internal, format!("the proxy stopped: {error}"))
                .hint("run with -v for its log")
        })?;
    Ok(ExitCode::SUCCESS)
}

/// `11400`, `127.0.0.1:11400`, `[::1]:11400`; a bare port means 127.0.0.1. Only loopback:
/// the proxy spends the backends' keys for whoever reaches it.
fn parse_addr(text: &str) -> Result<SocketAddr, CliError> {
    let addr = match text.parse::<u16>() {
        Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
        Err(_) => text.parse().map_err(|_| {
            CliError::new(Exit::Usage, format!("invalid proxy address `{text}`"))
                .hint("give HOST:PORT, e.g. 127.0.0.1:11400, or a port")
        })?,
    };
    if !addr.ip().is_loopback() {
        return Err(CliError::new(
            Exit::Usage,
            format!("the proxy listens on loopback only, and {addr} is not a loopback address"),
        )
        .hint("use 127.0.0.1:PORT or [::1]:PORT; anyone who reached the proxy could spend the backends' keys"));
    }
    Ok(addr)
}
