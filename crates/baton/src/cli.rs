//! The command line: global flags and one subcommand per workflow step (DESIGN.md section 1).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Baton: a local-first orchestrator for AI coding work.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v, -vv); `BATON_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Override a config value: `-c dotted.key=value` (repeatable, highest precedence).
    #[arg(short = 'c', long = "config", global = true, value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one coding subtask to a model, with context, and stream the reply.
    Dispatch(DispatchArgs),
    /// Check that model servers answer, what they serve, and their real context size.
    Doctor(DoctorArgs),
    /// Latency, tokens local vs cloud, cost avoided and spent, from the ledger.
    Stats(StatsArgs),
    /// Show the resolved configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// Where a request may go.
#[derive(Debug, Args, Clone, Default)]
#[group(multiple = false)]
pub struct RouteArgs {
    /// Only local backends.
    #[arg(long)]
    pub local: bool,
    /// Only cloud backends.
    #[arg(long)]
    pub api: bool,
    /// `auto`, `local` or `api`.
    #[arg(long, value_name = "ROUTE")]
    pub route: Option<String>,
}

#[derive(Debug, Args)]
pub struct DispatchArgs {
    /// The task. Piped stdin is added as context.
    pub task: String,
    /// A file or glob to add as context, framed with its path (repeatable).
    #[arg(long = "context", short = 'f', value_name = "PATH")]
    pub context: Vec<String>,
    /// A long document (CONTRACTS.md, AGENTS.md) to take the sections most relevant to the
    /// task from, within the route's budget (repeatable).
    #[arg(long = "context-from", value_name = "DOC")]
    pub context_from: Vec<PathBuf>,
    /// The system prompt (else `SYSTEM_PROMPT`, else the profile's).
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// The profile to use (else `BATON_PROFILE`, else `dispatch.profile`).
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    #[command(flatten)]
    pub route: RouteArgs,
    /// Write the reply to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print one JSON object (reply, backend, model, route and why, usage, latency).
    #[arg(long)]
    pub json: bool,
    /// Serve an identical earlier request from the cache, and cache this one.
    #[arg(long, conflicts_with = "no_cache")]
    pub cache: bool,
    /// Never use the cache, even if the profile asks for it.
    #[arg(long)]
    pub no_cache: bool,
    /// Stream to a pipe as text arrives. Without it a pipe gets the reply when complete, so a
    /// stream that breaks and is retried never leaves a partial reply behind.
    #[arg(long)]
    pub stream: bool,
    /// Do not read stdin even when it is not a terminal.
    #[arg(long)]
    pub no_stdin: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only this backend.
    #[arg(long)]
    pub backend: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only calls since then: a duration back from now (`1h`, `7d`) or a date/time
    /// (`2026-11-01`, `2026-11-01T12:00:00Z`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration as TOML.
    Show {
        /// Print each value with the layer it came from.
        #[arg(long)]
        origins: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
