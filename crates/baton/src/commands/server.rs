//! `baton server up|down|status|logs [NAME]`: the model servers of `[servers.NAME]`, run
//! under the same supervisor as workers, restarted on failure with backoff and watched with a
//! health probe. `baton dispatch` brings up a backend's server on first use.

use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::servers::DownOutcome;

use crate::cli::ServerCommand;
use crate::error::CliError;
use crate::output::Printer;

pub async fn run(project: &Project, command: ServerCommand) -> Result<ExitCode, CliError> {
    match command {
        ServerCommand::Up { name, json } => {
            let printer = Printer::new(json);
            let up = baton_ops::servers::up(project, name.as_deref()).await?;
            if json {
                printer.json(&up)?;
            } else {
                for server in &up {
                    printer.text(format!(
                        "{} is up ({}, pid {})",
                        server.worker.name,
                        server.worker.id,
                        server.worker.pid.map_or("-".into(), |p| p.to_string())
                    ))?;
                }
            }
        }
        ServerCommand::Down { name, json } => {
            let printer = Printer::new(json);
            let down = baton_ops::servers::down(project, name.as_deref()).await?;
            if json {
                printer.json(&down)?;
            } else {
                for server in &down {
                    let outcome = match &server.outcome {
                        DownOutcome::NotRunning => "is not running".to_string(),
                        DownOutcome::Stopped { status } => format!("stopped ({status})"),
                        DownOutcome::StillStopping => "is still stopping".to_string(),
                    };
                    printer.text(format!("{} {outcome}", server.name))?;
                }
            }
        }
        ServerCommand::Status { json } => {
            let printer = Printer::new(json);
            let servers = baton_ops::servers::status(project).await?;
            if json {
                printer.json(&servers)?;
            } else {
                let mut table =
                    crate::output::table(["server", "status", "id", "pid", "restarts", "health"]);
                for server in &servers {
                    let worker = server.worker.as_ref();
                    let dash = || "-".to_string();
                    table.add_row([
                        server.name.clone(),
                        worker.map_or_else(dash, |w| w.status.to_string()),
                        worker.map_or_else(dash, |w| w.id.clone()),
                        worker
                            .and_then(|w| w.pid)
                            .map_or_else(dash, |p| p.to_string()),
                        worker.map_or_else(dash, |w| w.restarts.to_string()),
                        format!(
                            "{} {}",
                            if server.healthy { "ok" } else { "DOWN" },
                            server.health
                        ),
                    ]);
                }
                printer.text(table)?;
            }
        }
        ServerCommand::Logs { name, follow, tail } => {
            let record = baton_ops::servers::last_run(project, &name).await?;
            let mut out = std::io::stdout();
            baton_ops::workers::show(project, &record.id, tail, follow, &mut out).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
