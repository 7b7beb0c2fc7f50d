//! `baton server up|down|status|logs [NAME]`: the model servers of `[servers.NAME]`, run
//! under the same supervisor as workers, restarted on failure with backoff and watched with
//! a health probe. `baton dispatch` brings up a backend's server on first use.

use std::io::Write;
use std::time::{Duration, Instant};

use baton_config::Settings;
use baton_core::{WorkerRecord, WorkerRole, WorkerStatus};
use baton_store::Store;
use nix::sys::signal::Signal;

use crate::app::App;
use crate::cli::ServerCommand;
use crate::commands::kill::{signal_supervisor, wait_ended};
use crate::error::{CliError, Exit};
use crate::workers;

/// How often `up` checks the health URL while the server loads.
const HEALTH_INTERVAL: Duration = Duration::from_millis(100);

pub async fn run(app: App, command: ServerCommand) -> Result<std::process::ExitCode, CliError> {
    let settings = app.config(Vec::new())?.settings;
    let store = app.open_store()?;
    workers::reconcile(&store)?;
    let names = |name: Option<String>| -> Vec<String> {
        name.map_or_else(|| settings.servers.keys().cloned().collect(), |n| vec![n])
    };
    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    match command {
        ServerCommand::Up { name, json } => {
            let wanted = names(name);
            if wanted.is_empty() {
                return Err(no_servers());
            }
            let mut rows = Vec::new();
            for name in wanted {
                let record = up(&app, &store, &settings, &name).await?;
                rows.push(serde_json::json!({ "name": name, "id": record.id, "pid": record.pid, "health": settings.servers[&name].health }));
                if !json {
                    writeln!(
                        out,
                        "{name} is up ({}, pid {})",
                        record.id,
                        record.pid.map_or("-".into(), |p| p.to_string())
                    )
                    .map_err(io_error)?;
                }
            }
            if json {
                writeln!(out, "{}", serde_json::Value::Array(rows)).map_err(io_error)?;
            }
        }
        ServerCommand::Down { name } => {
            for name in names(name) {
                match running(&store, &name)? {
                    Some(record) => {
                        signal_supervisor(&store, &record.id, Signal::SIGTERM)?;
                        let limit =
                            Duration::from_millis(record.spec.grace_ms) + Duration::from_secs(5);
                        let status = wait_ended(&store, &record.id, limit)?;
                        writeln!(
                            out,
                            "{name} {}",
                            status.map_or("is still stopping".into(), |s| format!("stopped ({s})"))
                        )
                        .map_err(io_error)?;
                    }
                    None => writeln!(out, "{name} is not running").map_err(io_error)?,
                }
            }
        }
        ServerCommand::Status { json } => {
            let mut rows = Vec::new();
            for (name, server) in &settings.servers {
                let record = running(&store, name)?;
                let healthy = baton_exec::health::check(&server.health, Duration::from_secs(2));
                rows.push(serde_json::json!({
                    "name": name,
                    "status": record.as_ref().map(|r| r.status),
                    "id": record.as_ref().map(|r| r.id.clone()),
                    "pid": record.as_ref().and_then(|r| r.pid),
                    "restarts": record.as_ref().map(|r| r.restarts),
                    "health": server.health,
                    "healthy": healthy,
                }));
            }
            if json {
                writeln!(out, "{}", serde_json::Value::Array(rows)).map_err(io_error)?;
            } else {
                let mut table =
                    crate::output::table(["server", "status", "id", "pid", "restarts", "health"]);
                for row in &rows {
                    let text = |key: &str| {
                        row[key]
                            .as_str()
                            .map(str::to_string)
                            .or_else(|| row[key].as_u64().map(|n| n.to_string()))
                            .unwrap_or_else(|| "-".into())
                    };
                    let health = format!(
                        "{} {}",
                        if row["healthy"] == true { "ok" } else { "DOWN" },
                        text("health")
                    );
                    table.add_row([
                        text("name"),
                        text("status"),
                        text("id"),
                        text("pid"),
                        text("restarts"),
                        health,
                    ]);
                }
                writeln!(out, "{table}").map_err(io_error)?;
            }
        }
        ServerCommand::Logs { name, follow, tail } => {
            let record = store
                .workers(true)?
                .into_iter()
                .rev()
                .find(|w| w.spec.role == WorkerRole::Server && w.spec.name == name)
                .ok_or_else(|| {
                    CliError::new(Exit::Input, format!("server `{name}` has never run"))
                        .hint(format!("start it with `baton server up {name}`"))
                })?;
            drop(out);
            return crate::commands::logs::show(
                &store,
                &record.id,
                std::path::Path::new(&record.log_path),
                follow,
                tail,
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn no_servers() -> CliError {
    CliError::new(Exit::Config, "no model servers are configured")
        .hint("add `[servers.NAME]` with `command` and `health` to baton.toml")
}

/// The active supervisor record of a server, if it runs.
fn running(store: &Store, name: &str) -> Result<Option<WorkerRecord>, CliError> {
    Ok(store.workers(false)?.into_iter().rev().find(|w| {
        w.spec.role == WorkerRole::Server && w.spec.name == name && !w.status.is_terminal()
    }))
}

/// Starts a server unless it runs, and waits until its health URL answers 200 (or the
/// server fails, or `start_timeout` passes).
pub async fn up(
    app: &App,
    store: &Store,
    settings: &Settings,
    name: &str,
) -> Result<WorkerRecord, CliError> {
    let spec = workers::server_spec(settings, name, &app.cwd)?;
    let server = &settings.servers[name];
    let record = match running(store, name)? {
        Some(record) => record,
        None => {
            if baton_exec::health::check(&server.health, Duration::from_secs(1)) {
                return Err(CliError::new(Exit::Config, format!("{} already answers, but not from a server Baton started", server.health))
                    .hint(format!("stop the other process, or use it as it is and remove `server = \"{name}\"` from the backend")));
            }
            let record = workers::new_record(store.path(), spec);
            store.insert_worker(&record)?;
            workers::promote(store)?;
            record
        }
    };
    let started = Instant::now();
    loop {
        let current = crate::commands::logs::find(store, &record.id)?;
        if current.status.is_terminal() {
            let why = current.why.unwrap_or_else(|| current.status.to_string());
            return Err(CliError::new(
                Exit::Unreachable,
                format!("server `{name}` did not come up: {why}"),
            )
            .hint(format!("see its log: `baton server logs {name}`")));
        }
        if current.status == WorkerStatus::Running
            && baton_exec::health::check(&server.health, Duration::from_secs(2))
        {
            return Ok(current);
        }
        if started.elapsed() > server.start_timeout {
            return Err(CliError::new(Exit::Unreachable, format!(
                "server `{name}` is not healthy at {} after {}s",
                server.health,
                server.start_timeout.as_secs()
            ))
            .hint(format!("see its log: `baton server logs {name}`; raise servers.{name}.start_timeout for big models")));
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}
