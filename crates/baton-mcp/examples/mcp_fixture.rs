//! A Baton MCP server for tests of real MCP clients: the real tools over a real project whose
//! store is the given file, with this very binary as the supervisor of the workers it starts.
//!
//! `mcp_fixture stdio DB`: serves MCP on stdin/stdout over the store at `DB`.
//! `mcp_fixture http DB`: serves streamable HTTP on `127.0.0.1:0`, prints its URL as the one
//! line on stdout, and stops (gracefully) when stdin closes.
//! `mcp_fixture __supervise --store DB ID`: supervises one worker (started by `worker_spawn`).
//!
//! The rest of the configuration comes from the environment, as for `baton mcp` (e.g.
//! `CODER_API_URL` for `dispatch`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_config::EnvSnapshot;
use baton_mcp::BatonMcp;
use baton_ops::{Project, ProjectOptions, Supervisor};
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;

const SUPERVISE: &str = "__supervise";

fn project(db: &Path) -> Result<Arc<Project>, Box<dyn std::error::Error>> {
    let dir = db.parent().ok_or("DB has no parent directory")?;
    let supervisor = Supervisor {
        program: std::env::current_exe()?,
        args: vec![SUPERVISE.to_string()],
    };
    Ok(Arc::new(Project::new(ProjectOptions {
        cwd: dir.to_path_buf(),
        env: EnvSnapshot::from_process().with("BATON_HOME", dir.display().to_string()),
        overrides: Vec::new(),
        supervisor: Some(supervisor),
    })))
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["stdio", db] => baton_mcp::serve_stdio(BatonMcp::new(project(Path::new(db))?)).await?,
        ["http", db] => {
            let project = project(Path::new(db))?;
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
            let factory = move || BatonMcp::new(Arc::clone(&project));
            baton_mcp::serve_http_on(listener, factory, shutdown).await?;
        }
        [SUPERVISE, "--store", db, id] => {
            let supervisor = Supervisor {
                program: std::env::current_exe()?,
                args: vec![SUPERVISE.to_string()],
            };
            // No signal forwarding: tests stop workers through their deadlines.
            let (_stop_tx, stop_rx) = tokio::sync::mpsc::channel(1);
            baton_ops::workers::supervise(&PathBuf::from(db), id, &supervisor, stop_rx, |_| {})
                .await?;
        }
        _ => return Err("usage: mcp_fixture stdio|http DB, or __supervise --store DB ID".into()),
    }
    Ok(())
}
