//! `baton mcp [--http ADDR]`: Baton as an MCP server (stdio by default; streamable HTTP on
//! loopback with `--http`). The tools live in `baton-mcp`; this file hands it the actions
//! that need the whole binary: starting a worker and dispatching a subtask.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use baton_mcp::{Actions, BatonMcp, DispatchFuture, DispatchParams, WorkerSpawnParams};

use crate::app::App;
use crate::cli::{DispatchArgs, McpArgs, RouteArgs, SpawnArgs};
use crate::error::{CliError, Exit};

/// Spawn and dispatch as the CLI does them, with the same config and store.
struct CliActions {
    cwd: std::path::PathBuf,
    overrides: Vec<String>,
}

impl CliActions {
    fn app(&self) -> App {
        App {
            cwd: self.cwd.clone(),
            env: baton_config::EnvSnapshot::from_process(),
            overrides: self.overrides.clone(),
        }
    }

    /// The embedder of `[memory]`, when hybrid ranking is configured; errors as text.
    fn embedder(&self) -> Option<Result<crate::memory_rank::Embedder, String>> {
        let settings = match self.app().config(Vec::new()) {
            Ok(loaded) => loaded.settings,
            Err(error) => return Some(Err(error.to_string())),
        };
        crate::memory_rank::Embedder::from_settings(&settings)
            .map_err(|e| e.to_string())
            .transpose()
    }
}

fn duration(field: &str, text: Option<String>) -> Result<Option<std::time::Duration>, String> {
    text.map(|t| {
        baton_config::duration::parse_duration(&t)
            .map_err(|error| format!("argument `{field}`: {error}"))
    })
    .transpose()
}

impl Actions for CliActions {
    fn spawn_worker(&self, params: WorkerSpawnParams) -> Result<serde_json::Value, String> {
        let args = SpawnArgs {
            name: params.name,
            kind: params.kind,
            prompt: params.prompt,
            timeout: duration("timeout", params.timeout)?,
            idle_timeout: duration("idle_timeout", params.idle_timeout)?,
            grace: None,
            expect: params.expect.unwrap_or_default(),
            expect_pass: params.expect_pass.unwrap_or(false),
            remediate: params.remediate,
            max_parallel: None,
            tmux: false,
            cwd: params.cwd.map(Into::into),
            log_cap: None,
            json: true,
            command: params.command.unwrap_or_default(),
        };
        let (record, status) =
            crate::commands::spawn::start(&self.app(), &args).map_err(|e| e.to_string())?;
        Ok(serde_json::json!({
            "id": record.id,
            "name": record.spec.name,
            "status": status,
            "command": record.spec.command,
            "log": record.log_path,
        }))
    }

    fn dispatch(&self, params: DispatchParams) -> DispatchFuture {
        let app = self.app();
        let args = DispatchArgs {
            task: params.task,
            context: params.context_files.unwrap_or_default(),
            context_from: Vec::new(),
            system: params.system,
            profile: params.profile,
            route: RouteArgs {
                local: false,
                api: false,
                route: params.route,
            },
            output: None,
            json: true,
            cache: false,
            no_cache: false,
            stream: false,
            no_stdin: true,
            no_start: false,
            apply: false,
            apply_target: Default::default(),
            quiet_stdout: true,
        };
        // The dispatch holds the store (not Sync) across awaits, so it runs on a thread of
        // its own; the MCP server only awaits the answer.
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let result = crate::app::runtime()
                .map_err(|error| error.to_string())
                .and_then(|runtime| {
                    runtime
                        .block_on(crate::commands::dispatch::perform(&app, &args))
                        .map_err(|error| error.to_string())
                });
            let _ = sender.send(result);
        });
        Box::pin(async move {
            receiver
                .await
                .unwrap_or_else(|_| Err("the dispatch thread stopped unexpectedly".into()))
        })
    }

    fn embed_stored(
        &self,
        store: &baton_store::Store,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Option<serde_json::Value> {
        Some(match self.embedder()? {
            Ok(embedder) => match embedder.embed_entry(store, namespace, key, value) {
                Ok(dim) => serde_json::json!({ "model": embedder.model, "dim": dim }),
                Err(error) => serde_json::json!({
                    "model": embedder.model,
                    "error": format!("stored without an embedding (still searchable by text): {error}"),
                }),
            },
            Err(error) => serde_json::json!({ "error": error }),
        })
    }

    fn hybrid_search(
        &self,
        store: &baton_store::Store,
        query: &baton_store::MemoryQuery,
        now_ms: i64,
    ) -> Option<Result<serde_json::Value, String>> {
        let embedder = match self.embedder()? {
            Ok(embedder) => embedder,
            Err(error) => return Some(Err(error)),
        };
        Some(
            crate::memory_rank::hybrid_search(store, &embedder, query, now_ms)
                .map(|reply| {
                    crate::commands::memory::count_accesses(store, &reply.reply.hits);
                    reply.to_json()
                })
                .map_err(|e| e.to_string()),
        )
    }
}

pub async fn run(app: App, args: McpArgs) -> Result<std::process::ExitCode, CliError> {
    // Opening the store here creates it and reports a bad one before any client connects.
    let store_path = app.open_store()?.path().to_path_buf();
    let actions: Arc<dyn Actions> = Arc::new(CliActions {
        cwd: app.cwd.clone(),
        overrides: app.overrides.clone(),
    });
    let mcp_error =
        |error: baton_mcp::McpError| CliError::new(Exit::Internal, format!("MCP server: {error}"));
    match args.http {
        None => baton_mcp::serve_stdio(BatonMcp::new(store_path, actions))
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
            let local = listener
                .local_addr()
                .map_err(|error| CliError::new(Exit::Internal, error.to_string()))?;
            // The URL is the one line on stdout, so scripts can read it.
            writeln!(
                std::io::stdout().lock(),
                "http://{local}{}",
                baton_mcp::HTTP_PATH
            )
            .map_err(CliError::output)?;
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
            let factory = move || BatonMcp::new(store_path.clone(), Arc::clone(&actions));
            baton_mcp::serve_http_on(listener, factory, shutdown)
                .await
                .map_err(mcp_error)?;
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `8765`, `127.0.0.1:8765`, `[::1]:8765`; a bare port means 127.0.0.1.
fn parse_addr(text: &str) -> Result<SocketAddr, CliError> {
    let bad = || {
        CliError::new(Exit::Usage, format!("invalid --http address `{text}`"))
            .hint("give HOST:PORT, e.g. 127.0.0.1:8765, or a port")
    };
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| bad())
}
