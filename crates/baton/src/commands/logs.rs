//! `baton logs ID [-f] [--tail N]`: a worker's log (timestamped lines, head and tail kept
//! under the size cap), followed as it grows until the worker ends.

use std::process::ExitCode;

use baton_ops::Project;

use crate::cli::LogsArgs;
use crate::error::CliError;

pub async fn run(project: &Project, args: LogsArgs) -> Result<ExitCode, CliError> {
    let mut out = std::io::stdout();
    baton_ops::workers::show(project, &args.worker, args.tail, args.follow, &mut out).await?;
    Ok(ExitCode::SUCCESS)
}
