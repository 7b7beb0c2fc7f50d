//! `baton apply [REPLY_FILE|-]`: applies a model's reply (whole files, SEARCH/REPLACE blocks
//! or a unified diff) to the files under `--root`, prints a diffstat (`--json`: the edits,
//! files, problems and the feedback for the model), and exits by outcome (13 failed, 14
//! refused, 15 no edits).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::apply::ApplyRequest;

use crate::app::read_stdin;
use crate::cli::ApplyArgs;
use crate::error::{CliError, Exit};
use crate::output::Printer;

pub async fn run(project: &Project, args: ApplyArgs) -> Result<ExitCode, CliError> {
    let reply = read_reply(args.reply.as_deref())?;
    let applied = baton_ops::apply::apply(
        project,
        ApplyRequest {
            reply,
            format: args.format.format(),
            target: args.target.to_target(),
            model: args.model,
            request_id: None,
            context_files: args.file,
        },
    )
    .await?;
    let printer = Printer::new(args.json);
    if printer.is_json() {
        printer.json(&applied)?;
    } else {
        printer.applied(&applied)?;
    }
    match applied.failure() {
        Some(error) => Err(error.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn read_reply(path: Option<&Path>) -> Result<String, CliError> {
    let Some(path) = path.filter(|path| *path != Path::new("-")) else {
        if std::io::stdin().is_terminal() {
            return Err(CliError::new(Exit::Usage, "no reply to apply")
                .hint("give the reply file, or pipe it: `baton dispatch ... | baton apply`"));
        }
        return read_stdin("the reply", "pipe the model's reply as UTF-8 text");
    };
    std::fs::read_to_string(path).map_err(|error| {
        CliError::new(
            Exit::Input,
            format!("cannot read the reply {}: {error}", path.display()),
        )
        .hint("give the path of a text file holding the model's reply, or `-` for stdin")
    })
}
