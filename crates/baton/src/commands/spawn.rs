//! `baton spawn`: a worker from a template (`--kind`) or a command (`-- CMD ARGS…`), queued
//! in the store and started under its own supervisor as soon as a slot is free. Prints its id
//! (`--json`: the worker).

use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::workers::SpawnRequest;

use crate::cli::SpawnArgs;
use crate::error::CliError;
use crate::output::Printer;

pub async fn run(project: &Project, args: SpawnArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let request = SpawnRequest {
        name: args.name,
        kind: args.kind,
        prompt: args.prompt,
        command: args.command,
        timeout: args.timeout,
        idle_timeout: args.idle_timeout,
        grace: args.grace,
        expect: args.expect,
        expect_pass: args.expect_pass,
        remediate: args.remediate,
        max_parallel: args.max_parallel,
        tmux: args.tmux,
        cwd: args.cwd,
        log_cap: args.log_cap,
        check: args.check,
        ..SpawnRequest::default()
    };
    let worker = baton_ops::workers::spawn(project, request).await?;
    if printer.is_json() {
        printer.json(&worker)?;
    } else {
        printer.text(&worker.id)?;
    }
    Ok(ExitCode::SUCCESS)
}
