//! Baton's command-line program. `main.rs` calls [`run`]; each subcommand lives in
//! [`commands`], with one exhaustive `match` over [`cli::Command`] here.
//!
//! Parts: [`cli`] (clap), [`commands`] (one file per command), [`output`] (where replies
//! and tables go), [`error`] (exit codes and `hint:` lines), [`app`] (config and store
//! shared by the commands), [`memory_rank`] (optional hybrid ranking of the memory with
//! embeddings), [`workers`] (what the worker commands share: queue, supervisors,
//! lost detection, remediation), [`edits`] (applying a reply to files and recording it).

pub mod app;
pub mod cli;
pub mod commands;
pub mod edits;
pub mod error;
pub mod memory_rank;
pub mod output;
pub mod workers;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

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
    init_logging(cli.verbose);
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "{error}");
            error.exit_code()
        }
    }
}

fn execute(cli: Cli) -> Result<ExitCode, CliError> {
    let runtime = crate::app::runtime()?;
    let app = app::App::from_process(cli.overrides.clone())?;
    match cli.command {
        Command::Dispatch(args) => runtime.block_on(commands::dispatch::run(app, args)),
        Command::Doctor(args) => runtime.block_on(commands::doctor::run(app, args)),
        Command::Stats(args) => commands::stats::run(app, args),
        Command::Config(command) => commands::config::run(app, command),
        Command::Spawn(args) => commands::spawn::run(app, args),
        Command::Ps(args) => commands::ps::run(app, args),
        Command::Logs(args) => commands::logs::run(app, args),
        Command::Wait(args) => commands::wait::run(app, args),
        Command::Kill(args) => commands::kill::run(app, args),
        Command::Server(command) => runtime.block_on(commands::server::run(app, command)),
        Command::Memory(command) => commands::memory::run(app, command),
        Command::Apply(args) => commands::apply::run(app, args),
        Command::Mcp(args) => runtime.block_on(commands::mcp::run(app, args)),
        Command::Supervise(args) => runtime.block_on(commands::supervise::run(args)),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
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
