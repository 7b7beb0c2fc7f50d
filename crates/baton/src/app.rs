//! What every command starts from: the [`Project`] of the working directory (with this very
//! binary as the supervisor of the workers it starts), the async runtime, and stdin.

use std::sync::Arc;

use baton_config::EnvSnapshot;
use baton_ops::{Project, ProjectOptions, Supervisor};

use crate::error::{CliError, Exit};

/// The hidden subcommand a supervisor runs as.
pub const SUPERVISE_COMMAND: &str = "__supervise";

/// The project of the working directory, with `overrides` (`-c key=value`) on top.
pub fn project(overrides: Vec<String>) -> Result<Arc<Project>, CliError> {
    let cwd = std::env::current_dir().map_err(|error| {
        CliError::new(
            Exit::Internal,
            format!("cannot read the working directory: {error}"),
        )
        .hint("the directory may have been removed: `cd` into an existing one")
    })?;
    // Workers are supervised by this binary re-executing itself; without a path to it (it
    // was deleted while running) commands that start workers say so when they try.
    let supervisor = std::env::current_exe().ok().map(|program| Supervisor {
        program,
        args: vec![SUPERVISE_COMMAND.to_string()],
    });
    Ok(Arc::new(Project::new(ProjectOptions {
        cwd,
        env: EnvSnapshot::from_process(),
        overrides,
        supervisor,
    })))
}

/// The async runtime of a command. Short commands run on the current thread (cheapest to
/// start: dispatch overhead is benchmarked); long-lived servers (`baton mcp`) get worker
/// threads, so one slow tool call (a store busy timeout, a search over a big memory) does
/// not hold up the others.
pub fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, CliError> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|error| {
        CliError::new(
            Exit::Internal,
            format!("cannot start the async runtime: {error}"),
        )
        .hint("the system may be out of threads or file descriptors (see `ulimit -a`)")
    })
}

/// All of stdin as text; `what` names it in the error ("the reply", "the value"), `hint`
/// says what to pipe instead.
pub fn read_stdin(what: &str, hint: &str) -> Result<String, CliError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|error| {
        CliError::new(
            Exit::Input,
            format!("cannot read {what} from stdin: {error}"),
        )
        .hint(hint)
    })?;
    Ok(text)
}
