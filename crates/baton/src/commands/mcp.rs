//! `baton mcp [--http ADDR]`: Baton as an MCP server (stdio by default; streamable HTTP on
//! loopback with `--http`). The tools live in `baton-mcp` and act through `baton-ops` on
//! the same project as every other command.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use baton_mcp::BatonMcp;
use baton_ops::Project;

use crate::cli::McpArgs;
use crate::error::{CliError, Exit};
use crate::output::Printer;

pub async fn run(project: Arc<Project>, args: McpArgs) -> Result<ExitCode, CliError> {
    // Opening the store here creates it and reports a bad one before any client connects.
    project.pool()?;
    let mcp_error = |error: baton_mcp::McpError| {
        CliError::new(Exit::Internal, format!("MCP server: {error}"))
            .hint("run with -v for the server's log, and check the client's MCP configuration")
    };
    match args.http {
        None => baton_mcp::serve_stdio(BatonMcp::new(project))
            .await
            .map_err(mcp_error)?,
        Some(text) => {
            let addr = parse_addr(&text)?;
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| {
                CliError::new(
                    Exit::Unreachable,
                    format!("cannot listen on {addr}: {error}"),
                )
                .hint("pick a free port, e.g. --http 127.0.0.1:0")
            })?;
            let local = listener.local_addr().map_err(|error| {
                CliError::new(
                    Exit::Internal,
                    format!("cannot read the bound address: {error}"),
                )
                .hint("try another address with --http")
            })?;
            // The URL is the one line on stdout, so scripts can read it.
            Printer::new(false).text(format!("http://{local}{}", baton_mcp::HTTP_PATH))?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            let on_signal = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            });
            let terminate = shutdown.clone();
            tokio::spawn(async move {
                if let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                {
                    term.recv().await;
                    terminate.cancel();
                }
            });
            let factory = move || BatonMcp::new(Arc::clone(&project));
            baton_mcp::serve_http_on(listener, factory, shutdown)
                .await
                .map_err(mcp_error)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `8765`, `127.0.0.1:8765`, `[::1]:8765`; a bare port means 127.0.0.1.
fn parse_addr(text: &str) -> Result<SocketAddr, CliError> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        CliError::new(Exit::Usage, format!("invalid --http address `{text}`"))
            .hint("give HOST:PORT, e.g. 127.0.0.1:8765, or a port")
    })
}
