//! A Baton MCP server for tests of real MCP clients, with canned worker and dispatch actions.
//!
//! `mcp_fixture stdio DB`: serves MCP on stdin/stdout over the store at `DB`.
//! `mcp_fixture http DB`: serves streamable HTTP on `127.0.0.1:0`, prints its URL as the one
//! line on stdout, and stops (gracefully) when stdin closes.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use baton_mcp::{Actions, BatonMcp, DispatchFuture, DispatchParams, WorkerSpawnParams};
use serde_json::json;
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;

/// Canned answers: a spawn is queued as `w-fixture-1`, a dispatch echoes its task.
struct CannedActions;

impl Actions for CannedActions {
    fn spawn_worker(&self, params: WorkerSpawnParams) -> Result<serde_json::Value, String> {
        Ok(json!({"id": "w-fixture-1", "name": params.name, "status": "queued"}))
    }

    fn dispatch(&self, params: DispatchParams) -> DispatchFuture {
        Box::pin(async move {
            Ok(json!({
                "reply": format!("echo: {}", params.task),
                "backend": "fixture",
                "model": "none",
                "route": "local",
                "usage": {"input_tokens": 0, "output_tokens": 0},
                "latency_ms": 0,
            }))
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs to stderr only: stdout is the protocol in stdio mode.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(db)) = (args.next(), args.next()) else {
        return Err("usage: mcp_fixture stdio|http DB".into());
    };
    let db = PathBuf::from(db);
    let actions: Arc<dyn Actions> = Arc::new(CannedActions);
    match mode.as_str() {
        "stdio" => baton_mcp::serve_stdio(BatonMcp::new(db, actions)).await?,
        "http" => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let shutdown = CancellationToken::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                // Stdin closing (the test ending, or dying) stops the server.
                let mut sink = Vec::new();
                let _ = tokio::io::stdin().read_to_end(&mut sink).await;
                stop.cancel();
            });
            let mut stdout = std::io::stdout();
            writeln!(stdout, "http://{addr}{}", baton_mcp::HTTP_PATH)?;
            stdout.flush()?;
            let factory = move || BatonMcp::new(db.clone(), Arc::clone(&actions));
            baton_mcp::serve_http_on(listener, factory, shutdown).await?;
        }
        other => return Err(format!("unknown mode `{other}`: use stdio or http").into()),
    }
    Ok(())
}
