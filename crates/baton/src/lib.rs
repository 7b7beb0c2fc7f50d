//! Baton's command-line program. `main.rs` calls [`run`]; each subcommand lives in
//! [`commands`], with one exhaustive `match` over [`cli::Command`] here. Commands only parse
//! their flags, call `baton-ops` and print; no command calls another.
//!
//! Parts: [`cli`] (clap), [`commands`] (one file per command), [`output`] (the one printer,
//! reply sinks, tables), [`error`] (exit codes and `hint:` lines, the one mapping from
//! library errors), [`app`] (the project, the runtime, stdin).

pub mod app;
pub mod cli;
pub mod commands;
pub mod error;
pub mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{CliError, Exit};

/// Runs the program with the process's arguments and returns its exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help and version to stdout with exit 0, usage errors with 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    crate::output::set_quiet(cli.quiet);
    init_logging(cli.verbose, cli.quiet || cli.command.prints_json());
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "{error}");
            error.exit_code()
        }
    }
}

fn execute(cli: Cli) -> Result<ExitCode, CliError> {
    // The supervisor opens its worker's store itself: it needs no project and no config.
    let command = match cli.command {
        Command::Supervise(args) => {
            return crate::app::runtime(false)?.block_on(commands::supervise::run(args));
        }
        command => command,
    };
    let runtime = crate::app::runtime(matches!(command, Command::Mcp(_) | Command::Proxy(_)))?;
    let shared = app::project(cli.overrides)?;
    let project = &*shared;
    // Every command checks the configuration, even those that read little of it: a misspelt
    // key or a bad `-c` is reported wherever it is given, never ignored.
    project.config()?;
    match command {
        Command::Dispatch(args) => runtime.block_on(commands::dispatch::run(project, args)),
        Command::Doctor(args) => runtime.block_on(commands::doctor::run(project, args)),
        Command::Stats(args) => runtime.block_on(commands::stats::run(project, args)),
        Command::Config(command) => commands::config::run(project, command),
        Command::Spawn(args) => runtime.block_on(commands::spawn::run(project, args)),
        Command::Ps(args) => runtime.block_on(commands::ps::run(project, args)),
        Command::Logs(args) => runtime.block_on(commands::logs::run(project, args)),
        Command::Wait(args) => runtime.block_on(commands::wait::run(project, args)),
        Command::Kill(args) => runtime.block_on(commands::kill::run(project, args)),
        Command::Server(command) => runtime.block_on(commands::server::run(project, command)),
        Command::Memory(command) => runtime.block_on(commands::memory::run(project, command)),
        Command::Apply(args) => runtime.block_on(commands::apply::run(project, args)),
        Command::Run(args) => runtime.block_on(commands::run::run(project, args)),
        Command::Runs(args) => runtime.block_on(commands::run::runs(project, args)),
        Command::Show(args) => runtime.block_on(commands::run::show(project, args)),
        Command::Review(args) => runtime.block_on(commands::run::review(project, args)),
        Command::Resume(args) => runtime.block_on(commands::run::resume(project, args)),
        Command::Rollback(args) => runtime.block_on(commands::run::rollback(project, args)),
        Command::Publish(args) => runtime.block_on(commands::publish::publish(project, args)),
        Command::Mcp(args) => runtime.block_on(commands::mcp::run(shared.clone(), args)),
        Command::Proxy(args) => runtime.block_on(commands::proxy::run(shared.clone(), args)),
        Command::Init(args) => commands::init::run(project, args),
        Command::Supervise(_) => Err(CliError::new(
            Exit::Internal,
            "the supervisor was not started",
        )
        .hint("this is a bug in baton; please report it with the command you ran")),
    }
}

/// Logs on stderr: warnings by default, only errors when the command prints JSON or is quiet
/// (stderr then carries nothing but errors), more with `-v`; `BATON_LOG` overrides.
fn init_logging(verbose: u8, errors_only: bool) {
    let default = match verbose {
        0 if errors_only => "error",
        0 => "warn",
        1 => "info,baton=debug",
        _ => "debug",
    };
    let filter = std::env::var(baton_config::env::BATON_LOG)
        .ok()
        .and_then(|text| tracing_subscriber::EnvFilter::try_new(text).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os(baton_config::env::NO_COLOR).is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
