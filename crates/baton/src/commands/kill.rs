//! `baton kill ID…`: a queued worker is dropped from the queue; a running one is stopped by
//! its supervisor (SIGTERM to the group, grace, SIGKILL), which records `killed`.

use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::workers::KillOutcome;

use crate::cli::KillArgs;
use crate::error::CliError;
use crate::output::Printer;

pub async fn run(project: &Project, args: KillArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let killed = baton_ops::workers::kill(project, &args.workers).await?;
    if printer.is_json() {
        printer.json(&killed)?;
        return Ok(ExitCode::SUCCESS);
    }
    for worker in &killed.workers {
        let outcome = match &worker.outcome {
            KillOutcome::AlreadyEnded { status } => format!("already ended: {status}"),
            KillOutcome::Dequeued => "killed (was queued)".into(),
            KillOutcome::Stopped { status } => status.to_string(),
            KillOutcome::StillStopping => "is still stopping".into(),
        };
        printer.text(format!("{} {outcome}", worker.id))?;
    }
    Ok(ExitCode::SUCCESS)
}
