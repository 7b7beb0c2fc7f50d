//! `baton apply [REPLY_FILE|-]`: applies a model's reply (whole files, SEARCH/REPLACE blocks
//! or a unified diff) to the files under `--root`, prints a diffstat (`--json`: the edits,
//! files, problems and the feedback for the model), records the outcome in the edits ledger,
//! and exits by outcome (13 failed, 14 refused, 15 no edits).

use std::io::{IsTerminal, Write};
use std::path::Path;

use baton_edit::ApplyOptions;

use crate::app::{App, read_stdin};
use crate::cli::{ApplyArgs, ApplyTarget};
use crate::edits::{Applied, ApplyRequest, apply_reply};
use crate::error::{CliError, Exit};

pub fn run(app: App, args: ApplyArgs) -> Result<std::process::ExitCode, CliError> {
    let reply = read_reply(args.reply.as_deref())?;
    let options = options(&app, &args.target)?;
    let store = app.open_store()?;
    let applied = apply_reply(
        &store,
        ApplyRequest {
            reply: &reply,
            format: args.format.format(),
            options,
            model: args.model,
            request_id: None,
            sole_file: args.file,
        },
    )?;
    print(&applied, args.json)?;
    match applied.failure() {
        Some(error) => Err(error),
        None => Ok(std::process::ExitCode::SUCCESS),
    }
}

/// Prints the outcome: the JSON object, or the diffstat and, when something failed, the
/// feedback for the model.
pub fn print(applied: &Applied, json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", applied.to_json()).map_err(CliError::output)?;
        return Ok(());
    }
    let mut summary = Vec::new();
    applied
        .write_summary(&mut summary)
        .map_err(CliError::output)?;
    out.write_all(&summary).map_err(CliError::output)?;
    let feedback = applied.feedback();
    if !feedback.is_empty() {
        let gap = if summary.is_empty() { "" } else { "\n" };
        writeln!(out, "{gap}{}", feedback.trim_end()).map_err(CliError::output)?;
    }
    Ok(())
}

/// The apply options of `target`, with the root checked to be a directory.
pub fn options(app: &App, target: &ApplyTarget) -> Result<ApplyOptions, CliError> {
    let root = match &target.root {
        Some(root) if root.is_absolute() => root.clone(),
        Some(root) => app.cwd.join(root),
        None => app.cwd.clone(),
    };
    if !root.is_dir() {
        return Err(CliError::new(
            Exit::Input,
            format!("--root {} is not a directory", root.display()),
        )
        .hint("give the directory the reply's paths are relative to"));
    }
    Ok(ApplyOptions {
        root,
        allow: (!target.allow.is_empty()).then(|| target.allow.clone()),
        dry_run: target.dry_run,
        partial: target.partial,
        fuzzy_threshold: ApplyOptions::DEFAULT_FUZZY_THRESHOLD,
    })
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
