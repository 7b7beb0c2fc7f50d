//! `baton config show [--origins] [--json]`: the resolved configuration, and where each
//! value came from.

use baton_ops::Project;

use crate::cli::ConfigCommand;
use crate::error::{CliError, Exit};
use crate::output::Printer;

/// `config show --json`: the resolved settings, the files read, and with `--origins` the
/// layer each value came from.
#[derive(serde::Serialize)]
struct ConfigShow<'a> {
    settings: &'a baton_config::Settings,
    files: &'a [std::path::PathBuf],
    #[serde(skip_serializing_if = "Option::is_none")]
    origins: Option<std::collections::BTreeMap<String, String>>,
}

pub fn run(project: &Project, command: ConfigCommand) -> Result<std::process::ExitCode, CliError> {
    let ConfigCommand::Show { origins, json } = command;
    let loaded = project.config()?;
    let printer = Printer::new(json);
    if json {
        printer.json(&ConfigShow {
            settings: &loaded.settings,
            files: &loaded.files,
            origins: origins.then(|| {
                loaded
                    .origins
                    .iter()
                    .map(|(key, origin)| (key.clone(), origin.to_string()))
                    .collect()
            }),
        })?;
    } else if origins {
        let lines: Vec<String> = loaded
            .origins
            .iter()
            .map(|(key, origin)| {
                let value = lookup(&loaded.merged, key)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                format!("{key} = {value}  # {origin}")
            })
            .collect();
        printer.text(lines.join("\n"))?;
    } else {
        let text = toml::to_string_pretty(&loaded.settings).map_err(|error| {
            CliError::new(Exit::Internal, format!("cannot render the config: {error}"))
                .hint("`baton config show --json` renders it another way; please report this")
        })?;
        printer.text(text)?;
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
