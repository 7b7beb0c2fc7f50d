//! [`OpsError`]: why an action failed, with structured data, the [`ErrorKind`] a front end
//! maps to its own form (an exit code, an MCP tool error, an HTTP status) and a hint that
//! names no CLI flag, so every front end shows the same one.

use std::path::PathBuf;

use baton_config::ConfigError;
use baton_core::WorkerStatus;
use baton_llm::context::ContextError;
use baton_llm::router::RouteError;
use baton_llm::{CallError, DispatchError};
use baton_store::StoreError;

/// What kind of failure an error is; the CLI has one exit code per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A bug or an unexpected system error.
    Internal,
    /// The request itself is malformed (a missing or contradictory argument).
    Invalid,
    /// Invalid configuration: a file, a variable, an override, an unknown name.
    Config,
    /// No model server could be reached (refused, unreachable, timed out).
    Unreachable,
    /// A server answered with an error, a broken or malformed reply.
    Backend,
    /// The request does not fit: context over budget or over the server's context size.
    TooLarge,
    /// Bad input: a file missing, unreadable or not text; an unknown worker or entry.
    Input,
    /// The store cannot be opened or written.
    Store,
    /// Output could not be written (a closed stdout, a file not writable).
    Output,
    /// A health check found a problem.
    Unhealthy,
    /// Workers (or the last of a remediation chain) did not succeed.
    WorkersFailed,
    /// A wait ran out of time first.
    WaitTimeout,
    /// An edit did not match its file.
    EditsFailed,
    /// An edit's path or file is refused.
    EditRefused,
    /// A reply holds no well-formed edits.
    NotEdits,
}

/// One failed remediation chain of a wait: its first worker and how its last one ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FailedChain {
    pub worker: String,
    pub last: String,
    pub status: WorkerStatus,
    pub why: Option<String>,
}

/// Why an action failed. Variants that wrap a lower room's error keep it as the source.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A request argument is missing, empty or contradicts another one.
    #[error("{message}")]
    Invalid { message: String, hint: String },
    /// A bug in baton: a state that should not be reachable.
    #[error("internal error: {what}")]
    Internal { what: String },
    #[error("cannot write {what} {}", path.display())]
    Write {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {what} {}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {} is not a directory", path.display())]
    NotADirectory { what: &'static str, path: PathBuf },
    /// Every step of the chain was tried and failed.
    #[error("{source}")]
    Dispatch {
        #[source]
        source: DispatchError,
        /// The route taken and why, for the hint.
        route: String,
    },
    #[error("the request does not fit: {}", refused.join("; "))]
    DoesNotFit { refused: Vec<String> },
    #[error("cannot write {what}")]
    Output {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown {what} `{name}`; known: {}", list(known))]
    Unknown {
        /// `server`, `backend`, `worker kind`.
        what: &'static str,
        name: String,
        known: Vec<String>,
    },
    #[error("the server `{server}` of {target} is down ({health} does not answer)")]
    ServerDown {
        server: String,
        target: String,
        health: String,
    },
    #[error("{health} already answers, but not from a server Baton started")]
    ServerForeign { server: String, health: String },
    #[error("server `{server}` did not come up: {why}")]
    ServerFailed { server: String, why: String },
    #[error("server `{server}` is not healthy at {health} after {}s", after.as_secs())]
    ServerUnhealthy {
        server: String,
        health: String,
        after: std::time::Duration,
    },
    #[error("server `{server}` has never run")]
    ServerNeverRan { server: String },
    #[error("no model servers are configured")]
    NoServers,
    #[error("no worker `{key}`")]
    UnknownWorker { key: String },
    #[error("worker {id} has no log yet ({})", path.display())]
    NoLog { id: String, path: PathBuf },
    #[error("still running when the wait ran out: {}", pending.join(", "))]
    WaitTimeout { pending: Vec<String> },
    #[error("{}", failed_chains(chains))]
    WorkersFailed { chains: Vec<FailedChain> },
    #[error("{} local endpoint(s) did not answer: {}", down.len(), down.join(", "))]
    Unhealthy {
        /// The URLs of the local endpoints that did not answer.
        down: Vec<String>,
    },
    #[error("no entry `{key}` in namespace `{namespace}`")]
    NoEntry { namespace: String, key: String },
    #[error("memory embeddings are off: there is no model to embed with")]
    EmbeddingsOff,
    #[error("re-embedding stopped after {embedded} entries: {why}")]
    ReembedStopped { embedded: usize, why: String },
    #[error("the reply holds no well-formed edits{}; nothing written", first.as_deref().map(|p| format!(" ({p})")).unwrap_or_default())]
    NotEdits { first: Option<String> },
    #[error("cannot write the edits: {why}")]
    WriteEdits { why: String },
    #[error("{refused} of {total} edit(s) refused: {first}; nothing written")]
    EditRefused {
        refused: usize,
        total: usize,
        first: String,
    },
    #[error("{failed} of {total} edit(s) did not match their file; {}", if *written { "the files of the edits that applied were written" } else { "nothing written" })]
    EditsFailed {
        failed: usize,
        total: usize,
        written: bool,
    },
    #[error("cannot start the supervisor of worker {id}: {why}")]
    Supervisor { id: String, why: String },
}

fn list(known: &[String]) -> String {
    if known.is_empty() {
        "none".into()
    } else {
        known.join(", ")
    }
}

fn failed_chains(chains: &[FailedChain]) -> String {
    let parts: Vec<String> = chains
        .iter()
        .map(|chain| {
            let through = if chain.last == chain.worker {
                chain.worker.clone()
            } else {
                format!("{} -> {}", chain.worker, chain.last)
            };
            let why = chain
                .why
                .as_deref()
                .map(|why| format!(" ({why})"))
                .unwrap_or_default();
            format!("{through} ended {}{why}", chain.status)
        })
        .collect();
    format!(
        "{} worker chain(s) did not succeed: {}",
        chains.len(),
        parts.join("; ")
    )
}

impl OpsError {
    /// A malformed request: `message` names the argument, `hint` says what to give.
    pub fn invalid(message: impl Into<String>, hint: impl Into<String>) -> OpsError {
        OpsError::Invalid {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A state that should not be reachable.
    pub fn internal(what: impl Into<String>) -> OpsError {
        OpsError::Internal { what: what.into() }
    }

    /// The kind of failure, which decides the CLI's exit code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpsError::Config(_) | OpsError::Route(_) => ErrorKind::Config,
            OpsError::Store(error) => match error {
                // The request is at fault, not the database.
                StoreError::MemoryKeyExists { .. }
                | StoreError::InvalidMemory { .. }
                | StoreError::UnknownWorker { .. }
                | StoreError::AmbiguousWorker { .. }
                | StoreError::UnknownRun { .. }
                | StoreError::AmbiguousRun { .. } => ErrorKind::Input,
                _ => ErrorKind::Store,
            },
            OpsError::Context(error) => match error {
                ContextError::OverBudget { .. } => ErrorKind::TooLarge,
                ContextError::Pattern { .. }
                | ContextError::NoMatch { .. }
                | ContextError::Read { .. }
                | ContextError::Binary { .. } => ErrorKind::Input,
            },
            OpsError::Invalid { .. } => ErrorKind::Invalid,
            OpsError::Internal { .. } | OpsError::Supervisor { .. } => ErrorKind::Internal,
            OpsError::Read { .. }
            | OpsError::Write { .. }
            | OpsError::NotADirectory { .. }
            | OpsError::UnknownWorker { .. }
            | OpsError::NoLog { .. }
            | OpsError::ServerNeverRan { .. }
            | OpsError::NoEntry { .. } => ErrorKind::Input,
            OpsError::Dispatch { source, .. } => dispatch_kind(source),
            OpsError::DoesNotFit { .. } => ErrorKind::TooLarge,
            OpsError::Output { .. } | OpsError::WriteEdits { .. } => ErrorKind::Output,
            OpsError::Unknown { .. }
            | OpsError::ServerForeign { .. }
            | OpsError::NoServers
            | OpsError::EmbeddingsOff => ErrorKind::Config,
            OpsError::ServerDown { .. }
            | OpsError::ServerFailed { .. }
            | OpsError::ServerUnhealthy { .. } => ErrorKind::Unreachable,
            OpsError::WaitTimeout { .. } => ErrorKind::WaitTimeout,
            OpsError::WorkersFailed { .. } => ErrorKind::WorkersFailed,
            OpsError::Unhealthy { .. } => ErrorKind::Unhealthy,
            OpsError::ReembedStopped { .. } => ErrorKind::Backend,
            OpsError::NotEdits { .. } => ErrorKind::NotEdits,
            OpsError::EditRefused { .. } => ErrorKind::EditRefused,
            OpsError::EditsFailed { .. } => ErrorKind::EditsFailed,
        }
    }

    /// What the user (or agent) can do about it. Names commands where that helps, never a
    /// CLI flag: the same hint is shown by every front end.
    pub fn hint(&self) -> String {
        match self {
            OpsError::Config(error) => error.hint(),
            OpsError::Store(error) => error.hint().unwrap_or_else(|| match self.kind() {
                ErrorKind::Input => "check the value and try again".into(),
                _ => "check that the .baton directory is writable, or set BATON_HOME".into(),
            }),
            OpsError::Route(RouteError::UnknownProfile { .. }) => {
                "pick one of the known profiles, or add `[profiles.NAME]` to baton.toml".into()
            }
            OpsError::Route(RouteError::NoTarget { .. }) => "set the API key variable it names, \
                route the request elsewhere (local or cloud), or add a fallback step to the profile"
                .into(),
            OpsError::Context(error) => context_hint(error).into(),
            OpsError::Invalid { hint, .. } => hint.clone(),
            OpsError::Internal { .. } => {
                "this is a bug in baton; please report it with what you ran".into()
            }
            OpsError::Read { .. } => "check that the file exists and is readable".into(),
            OpsError::Write { .. } => {
                "check that the directory is writable and the disk has room".into()
            }
            OpsError::NotADirectory { .. } => "create it, or give an existing directory".into(),
            OpsError::Dispatch { source, route } => dispatch_hint(source, route),
            OpsError::DoesNotFit { .. } => "send less context, raise the server's context size \
                (llama-server -c), or route the request to the cloud"
                .into(),
            OpsError::Output { .. } => {
                "check that the output is still open (a closed pipe), writable, and the disk is not full"
                    .into()
            }
            OpsError::Unknown { what, .. } => match *what {
                "server" => "add `[servers.NAME]` with `command` and `health` to baton.toml".into(),
                "worker kind" => {
                    "pick a known kind, or add `[workers.NAME]` with a `command` to baton.toml"
                        .into()
                }
                _ => "name one from `baton config show`".into(),
            },
            OpsError::ServerDown { server, .. } => {
                format!("start it with `baton server up {server}`, or let baton start it")
            }
            OpsError::ServerForeign { server, .. } => format!(
                "stop the other process, or use it as it is and remove `server = \"{server}\"` from the backend"
            ),
            OpsError::ServerFailed { server, .. } => {
                format!("see its log: `baton server logs {server}`")
            }
            OpsError::ServerUnhealthy { server, .. } => format!(
                "see its log: `baton server logs {server}`; raise servers.{server}.start_timeout for big models"
            ),
            OpsError::ServerNeverRan { server } => {
                format!("start it with `baton server up {server}`")
            }
            OpsError::NoServers => {
                "add `[servers.NAME]` with `command` and `health` to baton.toml".into()
            }
            OpsError::UnknownWorker { .. } => {
                "see the ids and names of the workers with `baton ps`".into()
            }
            OpsError::NoLog { .. } => "it may still be queued: see `baton ps`".into(),
            OpsError::WaitTimeout { .. } => {
                "wait longer, look with `baton logs ID`, or stop them with `baton kill ID`".into()
            }
            OpsError::WorkersFailed { chains } => match chains.first() {
                Some(chain) => format!(
                    "see why in its log: `baton logs {}`; ask for remediation when spawning to have a worker retry a failed one",
                    chain.last
                ),
                None => "see the workers with `baton ps`".into(),
            },
            OpsError::Unhealthy { down } => format!(
                "start the model server at {} (e.g. `llama-server -m MODEL --port PORT`), or fix the backend's urls",
                down.first().map_or("the backend's URL", String::as_str)
            ),
            OpsError::NoEntry { .. } => {
                "search every namespace by content, or list the keys of a namespace".into()
            }
            OpsError::EmbeddingsOff => {
                "set `[memory] embeddings = \"BACKEND\"` and `embedding_model`".into()
            }
            OpsError::ReembedStopped { .. } => {
                "the entries embedded so far are kept; re-embed again to go on".into()
            }
            OpsError::NotEdits { .. } => "send the problems back to the model (the reply's \
                `feedback`), or name the edit format the reply is in"
                .into(),
            OpsError::WriteEdits { .. } => "check that the files and their directories are \
                writable and the disk is not full"
                .into(),
            OpsError::EditRefused { .. } => "edits may only touch files under the root (and the \
                allowed paths); check the paths the model wrote"
                .into(),
            OpsError::EditsFailed { .. } => "send the report back to the model (the reply's \
                `feedback`); edits already applied are safe to resend"
                .into(),
            OpsError::Supervisor { .. } => {
                "check that the baton binary still exists and is executable".into()
            }
        }
    }

    /// The message followed by its causes, on one line (a cause already in the text is not
    /// repeated).
    pub fn message(&self) -> String {
        let mut text = self.to_string();
        // A transparent variant shows the wrapped error and hands on its causes. A cause that
        // only repeats what was said (rusqlite's "Error code 26: file is not a database"
        // under "file is not a database") is left out.
        let mut source = std::error::Error::source(self);
        let mut last = String::new();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            let repeats =
                text.contains(&cause_text) || (!last.is_empty() && cause_text.ends_with(&last));
            if !repeats {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            last = cause_text;
            source = cause.source();
        }
        text
    }
}

fn context_hint(error: &ContextError) -> &'static str {
    match error {
        ContextError::OverBudget { .. } => {
            "send fewer or smaller files, take only the relevant sections of long documents, \
             or route the request to the cloud for a larger budget"
        }
        ContextError::Pattern { .. } | ContextError::NoMatch { .. } => {
            "check the path or glob (relative paths start at the working directory)"
        }
        ContextError::Read { .. } => "check that the file exists and is readable",
        ContextError::Binary { .. } => "only text files can be context",
    }
}

fn dispatch_kind(error: &DispatchError) -> ErrorKind {
    match error {
        DispatchError::Output(_) => ErrorKind::Output,
        DispatchError::NoTarget { .. } => ErrorKind::Config,
        DispatchError::Exhausted { .. } => match error.last_call_error() {
            Some(CallError::Connect { .. } | CallError::Timeout { .. }) => ErrorKind::Unreachable,
            Some(CallError::ContextOverflow { .. }) => ErrorKind::TooLarge,
            Some(CallError::MissingKey { .. }) => ErrorKind::Config,
            _ => ErrorKind::Backend,
        },
    }
}

fn dispatch_hint(error: &DispatchError, route: &str) -> String {
    match error {
        DispatchError::Output(_) => "check that the reply's destination is writable".into(),
        DispatchError::NoTarget { .. } => "check the profile's backend and fallback".into(),
        DispatchError::Exhausted { .. } => match error.last_call_error() {
            Some(CallError::Connect { url, .. }) => format!(
                "start the model server at {url} (e.g. `llama-server -m MODEL --port PORT`), or run `baton doctor`"
            ),
            Some(CallError::Timeout { .. }) => "the server is slow or stuck: check it with \
                `baton doctor`, or raise first_token_timeout / total_timeout"
                .into(),
            Some(CallError::ContextOverflow { .. }) => {
                "send less context or raise the server's context size (llama-server -c)".into()
            }
            Some(CallError::MissingKey { var, .. }) => {
                format!("export {var}=..., or route the request to a local backend")
            }
            Some(CallError::Http {
                status: 401 | 403, ..
            }) => "check the API key in the variable the backend names (api_key_env)".into(),
            Some(CallError::Repetition { .. }) => "the model looped even with anti-repetition \
                sampling: state the task more precisely, raise the profile's temperature, or use \
                a larger model"
                .into(),
            Some(CallError::Http { status: 404, .. }) => "check the backend URL (it should end \
                in /v1) and the model name, or run `baton doctor`"
                .into(),
            _ => format!("run `baton doctor`; the route was {route}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_chain_is_named_with_its_last_worker() {
        let error = OpsError::WorkersFailed {
            chains: vec![FailedChain {
                worker: "w1".into(),
                last: "w2".into(),
                status: WorkerStatus::Failed,
                why: Some("exit 1".into()),
            }],
        };
        assert_eq!(
            error.to_string(),
            "1 worker chain(s) did not succeed: w1 -> w2 ended failed (exit 1)"
        );
        assert!(error.hint().contains("baton logs w2"), "{}", error.hint());
        assert_eq!(error.kind(), ErrorKind::WorkersFailed);
    }

    #[test]
    fn no_hint_names_a_cli_flag() {
        let samples = [
            OpsError::DoesNotFit { refused: vec![] },
            OpsError::Context(ContextError::OverBudget {
                total: 10,
                budget: 5,
                largest: "a".into(),
            }),
            OpsError::NotEdits { first: None },
            OpsError::EditsFailed {
                failed: 1,
                total: 1,
                written: false,
            },
            OpsError::WaitTimeout { pending: vec![] },
            OpsError::EmbeddingsOff,
        ];
        for error in samples {
            let hint = error.hint();
            assert!(!hint.contains(" --"), "{hint}");
        }
    }
}
