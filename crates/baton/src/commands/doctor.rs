//! `baton doctor`: does every endpoint answer, which models does it list, what context does
//! it really serve, and does each profile's budget fit in it.

use std::process::ExitCode;

use baton_ops::Project;

use crate::cli::DoctorArgs;
use crate::error::CliError;
use crate::output::Printer;

pub async fn run(project: &Project, args: DoctorArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let report = baton_ops::doctor::doctor(project, args.backend.as_deref()).await?;
    if printer.is_json() {
        printer.json(&report)?;
    } else {
        let mut table =
            crate::output::table(["backend", "url", "status", "server", "models", "context"]);
        for endpoint in &report.endpoints {
            let status = match (&endpoint.skipped, endpoint.ok) {
                (Some(why), _) => format!("skipped: {why}"),
                (None, true) => "ok".into(),
                (None, false) => "DOWN".into(),
            };
            table.add_row([
                endpoint.backend.clone(),
                endpoint.url.clone(),
                status,
                endpoint.server.clone().unwrap_or_else(|| "-".into()),
                endpoint.models.join(", "),
                endpoint.n_ctx.map_or("-".into(), |n| n.to_string()),
            ]);
        }
        let mut lines = vec![table.to_string()];
        lines.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
        lines.extend(report.problems.iter().map(|p| format!("problem: {p}")));
        printer.text(lines.join("\n"))?;
    }
    match report.failure() {
        Some(error) => Err(error.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
