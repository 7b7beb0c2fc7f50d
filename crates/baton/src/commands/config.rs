//! `baton config show [--origins] [--json]`: the resolved configuration, and where each
//! value came from.

use std::io::Write;

use crate::app::App;
use crate::cli::ConfigCommand;
use crate::error::{CliError, Exit};

pub fn run(app: App, command: ConfigCommand) -> Result<std::process::ExitCode, CliError> {
    let ConfigCommand::Show { origins, json } = command;
    let loaded = app.config(Vec::new())?;
    let io_error = CliError::output;
    let mut out = std::io::stdout().lock();
    if json {
        let mut object = serde_json::json!({ "settings": loaded.settings, "files": loaded.files });
        if origins {
            object["origins"] = loaded
                .origins
                .iter()
                .map(|(key, origin)| (key.clone(), serde_json::Value::String(origin.to_string())))
                .collect();
        }
        writeln!(out, "{object}").map_err(io_error)?;
    } else if origins {
        for (key, origin) in &loaded.origins {
            let value = lookup(&loaded.merged, key)
                .map(|v| v.to_string())
                .unwrap_or_default();
            writeln!(out, "{key} = {value}  # {origin}").map_err(io_error)?;
        }
    } else {
        let text = toml::to_string_pretty(&loaded.settings).map_err(|error| {
            CliError::new(Exit::Internal, format!("cannot render the config: {error}"))
                .hint("`baton config show --json` renders it another way; please report this")
        })?;
        write!(out, "{text}").map_err(io_error)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn lookup<'a>(table: &'a toml::Table, dotted: &str) -> Option<&'a toml::Value> {
    let mut parts = dotted.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}
