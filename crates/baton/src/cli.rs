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
    /// No notices or warnings on stderr (errors still); `--json` implies it.
    #[arg(short, long, global = true)]
    pub quiet: bool,
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
    /// Start a headless agent worker (or any command) under a supervisor.
    Spawn(SpawnArgs),
    /// List workers: status, age, PID, why, remediation chains.
    Ps(PsArgs),
    /// Show a worker's log.
    Logs(LogsArgs),
    /// Wait until workers end; the exit code says whether all succeeded.
    Wait(WaitArgs),
    /// Stop workers: SIGTERM to the group, a grace period, SIGKILL.
    Kill(KillArgs),
    /// Start, stop and watch the local model servers of `[servers.NAME]`.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Serve Baton's tools over MCP (stdio; `--http ADDR` for streamable HTTP).
    Mcp(McpArgs),
    /// Put agent CLIs' model traffic through Baton's router and ledger: a loopback gateway
    /// speaking OpenAI Chat and Responses and Anthropic Messages, local models first.
    Proxy(ProxyArgs),
    /// Connect Claude Code, Codex or goose to Baton: MCP config and instructions in the project.
    Init(InitArgs),
    /// The shared memory workers search for patterns and store results in.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Apply a model's reply (whole files, SEARCH/REPLACE blocks or a unified diff) to files.
    Apply(ApplyArgs),
    /// Take a ticket to a reviewed, tested branch: spec, plan, local coders, verification,
    /// review, sign-off, in a git worktree of its own.
    Run(RunArgs),
    /// List runs, newest first.
    Runs(RunsArgs),
    /// Show one run: its status, plan, events and reports.
    Show(ShowArgs),
    /// Give the verdict on a run that waits for an external review.
    Review(ReviewArgs),
    /// Continue a run that was stopped (Ctrl-C, SIGTERM, a killed process) where it stopped.
    Resume(ResumeArgs),
    /// Remove a run's worktree and branch (its folder and trail stay).
    Rollback(RollbackArgs),
    /// Deliver a run's trail still pending (pushes, pull request, comments, status, webhook
    /// events): what a target refused or missed while the run went on. Nothing is posted twice.
    Publish(PublishArgs),
    /// The supervisor of one worker (started by `baton spawn`; not for direct use).
    #[command(name = "__supervise", hide = true)]
    Supervise(SuperviseArgs),
}

impl Command {
    /// Whether the command was asked to print JSON (stderr then carries only errors).
    pub fn prints_json(&self) -> bool {
        match self {
            Command::Dispatch(args) => args.json,
            Command::Doctor(args) => args.json,
            Command::Stats(args) => args.json,
            Command::Config(ConfigCommand::Show { json, .. }) => *json,
            Command::Spawn(args) => args.json,
            Command::Ps(args) => args.json,
            Command::Wait(args) => args.json,
            Command::Kill(args) => args.json,
            Command::Apply(args) => args.json,
            Command::Run(args) => args.json,
            Command::Runs(args) => args.json,
            Command::Show(args) => args.json,
            Command::Rollback(args) => args.json,
            Command::Publish(args) => args.json,
            Command::Resume(args) => args.json,
            Command::Review(args) => args.json,
            Command::Init(args) => args.json,
            Command::Server(
                ServerCommand::Up { json, .. }
                | ServerCommand::Down { json, .. }
                | ServerCommand::Status { json },
            ) => *json,
            Command::Memory(
                MemoryCommand::Store { json, .. }
                | MemoryCommand::Get { json, .. }
                | MemoryCommand::Search { json, .. }
                | MemoryCommand::List { json, .. }
                | MemoryCommand::Delete { json, .. }
                | MemoryCommand::Reembed { json, .. }
                | MemoryCommand::Stats { json },
            ) => *json,
            Command::Server(ServerCommand::Logs { .. })
            | Command::Logs(_)
            | Command::Mcp(_)
            | Command::Proxy(_)
            | Command::Supervise(_) => false,
        }
    }
}

fn duration(text: &str) -> Result<std::time::Duration, String> {
    baton_config::duration::parse_duration(text).map_err(|error| error.to_string())
}

#[derive(Debug, Args)]
pub struct SpawnArgs {
    /// A name to find the worker by (default: the kind or program, and the id).
    #[arg(long)]
    pub name: Option<String>,
    /// A worker template: `[workers.KIND]`, or built-in codex, claude, aider, goose and
    /// their `-review` variants.
    #[arg(long, short = 'k')]
    pub kind: Option<String>,
    /// The task, put where the template says `{prompt}` (and in `BATON_PROMPT`).
    pub prompt: Option<String>,
    /// Wall deadline (`30m`); `0` for none. Default: the kind's, else `supervise.timeout`.
    #[arg(long, value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// Deadline without output (`10m`); `0` for none.
    #[arg(long, value_parser = duration)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Between SIGTERM and SIGKILL when stopping.
    #[arg(long, value_parser = duration)]
    pub grace: Option<std::time::Duration>,
    /// A file (or glob, relative to the working directory) that must exist when the worker
    /// ends, else it failed (repeatable).
    #[arg(long, value_name = "PATH")]
    pub expect: Vec<String>,
    /// The expected files must say PASS and not FAIL.
    #[arg(long)]
    pub expect_pass: bool,
    /// Start up to N remediation workers if it fails, times out or hangs.
    #[arg(long, value_name = "N")]
    pub remediate: Option<u32>,
    /// Most workers running at once; beyond it workers queue.
    #[arg(long, value_name = "N")]
    pub max_parallel: Option<u32>,
    /// Run the supervisor in a detached tmux session `baton-ID`, to `tmux attach` and watch.
    #[arg(long)]
    pub tmux: bool,
    /// Working directory of the worker (default: the current one).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Log size cap in bytes (head and tail kept).
    #[arg(long, value_name = "BYTES")]
    pub log_cap: Option<u64>,
    /// After the worker exits 0, run this shell command in its directory: the worker
    /// succeeds only if it passes too (an agent CLI's exit code proves nothing)
    #[arg(long, value_name = "CMD")]
    pub check: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// The command to run, after `--`, instead of a kind.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Also workers that ended long ago.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Worker id, id prefix or name.
    pub worker: String,
    /// Keep printing as the log grows, until the worker ends.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Worker ids, prefixes or names (remediations of each are waited for too).
    pub workers: Vec<String>,
    /// Every worker that has not ended.
    #[arg(long, conflicts_with = "workers")]
    pub all: bool,
    /// Give up after this long (exit 12).
    #[arg(long, value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// The old procedure: look every D and print one timestamped line per cycle.
    #[arg(long, value_parser = duration, value_name = "D")]
    pub poll: Option<std::time::Duration>,
    /// With --poll: after N cycles, workers still running are hung: killed (and remediated).
    #[arg(long, value_name = "N", requires = "poll")]
    pub max_cycles: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Worker ids, prefixes or names.
    #[arg(required = true)]
    pub workers: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Start a server (all of `[servers]` without a name) and wait until it is healthy.
    Up {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop a server (all without a name).
    Down {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Each server: status, PID, restarts, health now.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// A server's log.
    Logs {
        name: String,
        #[arg(long, short = 'f')]
        follow: bool,
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
}

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The store holding the worker.
    #[arg(long)]
    pub store: PathBuf,
    /// The worker id.
    pub id: String,
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
    /// Do not start a backend's `server` when it is down; fail instead.
    #[arg(long)]
    pub no_start: bool,
    /// Ask for the profile's `edit_format` and apply the reply to files (as `baton apply`);
    /// prints what changed instead of the reply.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub apply_target: ApplyTarget,
}

/// The edit format `baton apply --format` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Detect it from the reply.
    Auto,
    Whole,
    SearchReplace,
    Udiff,
}

impl FormatArg {
    /// `None` for auto.
    pub fn format(self) -> Option<baton_core::EditFormat> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Whole => Some(baton_core::EditFormat::Whole),
            FormatArg::SearchReplace => Some(baton_core::EditFormat::SearchReplace),
            FormatArg::Udiff => Some(baton_core::EditFormat::Udiff),
        }
    }
}

/// Where and how edits may be applied (`baton apply`, `baton dispatch --apply`).
#[derive(Debug, Args, Clone, Default)]
pub struct ApplyTarget {
    /// The directory the reply's paths are relative to (default: the working directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Only these files may change (repeatable; `DIR/` allows a directory).
    #[arg(long = "allow", value_name = "PATH")]
    pub allow: Vec<String>,
    /// Check and report, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the files whose edits applied even when other edits failed.
    #[arg(long)]
    pub partial: bool,
}

impl ApplyTarget {
    /// The library's apply target of these flags.
    pub fn to_target(&self) -> baton_ops::apply::ApplyTarget {
        baton_ops::apply::ApplyTarget {
            root: self.root.clone(),
            allow: self.allow.clone(),
            dry_run: self.dry_run,
            partial: self.partial,
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The reply: a file, or `-` (the default) for stdin.
    #[arg(value_name = "REPLY_FILE")]
    pub reply: Option<PathBuf>,
    /// The reply's edit format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    #[command(flatten)]
    pub target: ApplyTarget,
    /// The model that wrote the reply, for `baton stats --edits`.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// A file the model was shown (relative to --root; repeatable), as `dispatch --apply`
    /// knows its context files: with one, a reply that names no file edits it; an edit for
    /// `src/NAME` when `NAME` was shown and `src/NAME` does not exist edits `NAME`.
    #[arg(long = "file", value_name = "PATH")]
    pub file: Vec<String>,
    /// Print one JSON object: the edits, files, problems and the feedback for the model.
    #[arg(long)]
    pub json: bool,
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
pub struct RunArgs {
    /// The ticket: markdown, optional front matter `id` and `title`, and a
    /// `## Acceptance criteria` list. Left out with `--github N` or `--linear ID`: read from
    /// that issue.
    pub ticket: Option<PathBuf>,
    /// The run is for GitHub issue N: its ticket is read with `gh issue view` (unless a
    /// TICKET is given), and the pull request closes it.
    #[arg(long, value_name = "N")]
    pub github: Option<u64>,
    /// The run is for Linear issue ID (`ENG-12`): its ticket is read from Linear (unless a
    /// TICKET is given), and `--publish linear` comments on it and moves its status.
    #[arg(long, value_name = "ID")]
    pub linear: Option<String>,
    /// Where the run's trail goes: `github`, `linear`, `webhook=URL` (comma-separated;
    /// replaces `[publish] targets`). Failing to publish never fails the run; what did not
    /// go out is retried by `baton publish RUN`.
    #[arg(long, value_name = "TARGETS")]
    pub publish: Option<String>,
    /// A plan (JSON or TOML) to implement instead of asking the architect.
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// Stop once the plan is made and checked, and print it.
    #[arg(long)]
    pub dry_run: bool,
    /// Who reviews: the reviewer role's model, or `external` (the run stops in
    /// `awaiting_review` for a person or the driving agent).
    #[arg(long, value_enum, default_value = "model")]
    pub review: ReviewArg,
    /// Once approved, fast-forward the branch the run started from to the run's branch
    /// (only if that branch did not move meanwhile; the run's branch stays).
    #[arg(long)]
    pub merge: bool,
    /// Cloud tokens the run may spend (prompt and completion, resumes included).
    #[arg(long, value_name = "N")]
    pub max_cloud_tokens: Option<u64>,
    /// Fix dispatches (verification and review fixes) the run may make.
    #[arg(long, value_name = "N")]
    pub max_iterations: Option<u32>,
    /// Wall time the run may take over all its sessions (`30m`, `2h`).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// Start the run under a supervisor and return at once, printing its id and its
    /// worker's (`baton show RUN` and `baton logs WORKER` follow it).
    #[arg(long, conflicts_with = "dry_run")]
    pub detach: bool,
    /// The run's id, chosen beforehand (what a detached start passes its coordinator).
    #[arg(long, value_name = "ID", hide = true, conflicts_with = "detach")]
    pub run_id: Option<String>,
    /// Stream the run's events as NDJSON on stdout, then its summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The run id (or the start of it); left out: every run with something pending.
    pub run: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReviewArg {
    Model,
    External,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("verdict").required(true).args(["approve", "reject"]))]
pub struct ReviewArgs {
    /// The run id (or the start of it).
    pub run: String,
    /// Approve: the run is signed off.
    #[arg(long)]
    pub approve: bool,
    /// Reject, saying what must change: the coder fixes it, the gates run again, and the run
    /// waits for the next review.
    #[arg(long, value_name = "NOTES")]
    pub reject: Option<String>,
    /// Stream the run's events as NDJSON on stdout, then its summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run id (or the start of it).
    pub run: String,
    /// Who reviews (as for `baton run`).
    #[arg(long, value_enum, default_value = "model")]
    pub review: ReviewArg,
    /// Stream the run's events as NDJSON on stdout, then its summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run id (or the start of it).
    pub run: String,
    /// Roll back a run still marked running (its process was killed).
    #[arg(long)]
    pub force: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run id (or the start of it).
    pub run: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only calls since then: a duration back from now (`1h`, `7d`) or a date/time
    /// (`2026-11-01`, `2026-11-01T12:00:00Z`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Replies applied as edits instead: well-formed and applied per model and format.
    #[arg(long)]
    pub edits: bool,
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

/// The namespace `memory store`, `get` and `delete` use when none is given.
pub const DEFAULT_NAMESPACE: &str = baton_ops::memory::DEFAULT_NAMESPACE;

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Store a value under a key (JSON objects and arrays are kept as JSON; `-` reads stdin).
    Store {
        key: String,
        value: String,
        #[arg(long, short = 'n', default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        /// A tag (repeatable).
        #[arg(long = "tag", short = 't')]
        tags: Vec<String>,
        /// Forget it after this long (`7d`, `12h`, `30m`).
        #[arg(long, value_name = "D")]
        ttl: Option<String>,
        /// Replace an existing value (keeps its creation time).
        #[arg(long)]
        upsert: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print one value.
    Get {
        key: String,
        #[arg(long, short = 'n', default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        #[arg(long)]
        json: bool,
    },
    /// Full-text search (BM25) over keys, values and tags; says what was searched and how.
    Search {
        query: String,
        /// Only these namespaces (repeatable; default: all, and the reply lists them).
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Drop hits scoring below this (0..1, absolute: 0.7 keeps entries holding more than
        /// half of the query's weight).
        #[arg(long, default_value_t = 0.0)]
        min_score: f64,
        /// Only entries with this tag (repeatable: all must match).
        #[arg(long = "tag", short = 't')]
        tags: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Entries, newest first.
    List {
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        #[arg(long = "tag", short = 't')]
        tag: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Delete one entry.
    Delete {
        key: String,
        #[arg(long, short = 'n', default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        #[arg(long)]
        json: bool,
    },
    /// Embed again, with the configured `[memory] embedding_model`, every entry embedded by
    /// another model or not at all, so that vector ranking sees them (they are ranked by text
    /// only until then).
    Reembed {
        /// Only these namespaces (repeatable; default: all).
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
        /// Values sent per embeddings request.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=2048))]
        batch: u16,
        #[arg(long)]
        json: bool,
    },
    /// Entries, expired entries, embeddings and bytes per namespace.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve streamable HTTP at ADDR (`127.0.0.1:8765`, or a port) instead of stdio; the URL
    /// is printed on stdout. Loopback unless an address says otherwise.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8765")]
    pub http: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// `HOST:PORT` to listen on (default `[proxy] listen`, 127.0.0.1:11400), or a port;
    /// port 0 picks a free one. Loopback only.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The agent to set up (repeatable, or comma-separated: `--agent claude,codex`).
    #[arg(
        long = "agent",
        short = 'a',
        value_name = "AGENT",
        value_enum,
        value_delimiter = ','
    )]
    pub agents: Vec<InitAgent>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// An agent `baton init` knows how to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitAgent {
    /// Claude Code: `.mcp.json` and the skill `.claude/skills/baton/SKILL.md`.
    Claude,
    /// Codex: `.codex/config.toml` and a section of `AGENTS.md`.
    Codex,
    /// goose: `.goosehints` (its extension entry is printed: goose reads it from $HOME).
    Goose,
}

impl InitAgent {
    /// The name `--agent` takes.
    pub fn name(self) -> &'static str {
        match self {
            InitAgent::Claude => "claude",
            InitAgent::Codex => "codex",
            InitAgent::Goose => "goose",
        }
    }
}
