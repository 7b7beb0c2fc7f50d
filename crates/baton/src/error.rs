//! How a failed command ends: one line naming the thing, a `hint:` line, and an exit code
//! that tells scripts what kind of failure it was. The codes are listed in the README.

use std::fmt;
use std::process::ExitCode;

/// Exit codes, one per kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A bug or an unexpected system error.
    Internal = 1,
    /// Bad command-line usage (clap's own code).
    Usage = 2,
    /// Invalid configuration: a file, a variable, an override, an unknown profile.
    Config = 3,
    /// No model server could be reached (refused, unreachable, timed out).
    Unreachable = 4,
    /// A server answered with an error, a broken or malformed reply.
    Backend = 5,
    /// The request does not fit: context over budget or over the server's context size.
    TooLarge = 6,
    /// Bad input: a context file missing, unreadable or not text.
    Input = 7,
    /// The store (`.baton/baton.db`) cannot be opened or written.
    Store = 8,
    /// The reply could not be written (stdout closed, `-o` file not writable).
    Output = 9,
    /// `baton doctor` found a problem.
    Unhealthy = 10,
    /// `baton wait`: a worker (or the last of its remediation chain) did not succeed.
    WorkersFailed = 11,
    /// `baton wait --timeout` ran out first.
    WaitTimeout = 12,
    /// `baton apply`: an edit did not match the file (nothing written unless `--partial`).
    EditsFailed = 13,
    /// `baton apply`: an edit's path or file is refused (outside the root, `.git`, a symlink
    /// out, not allowed, binary); nothing written.
    EditRefused = 14,
    /// `baton apply`: the reply holds no well-formed edits (prose only, a cut block);
    /// nothing written.
    NotEdits = 15,
}

/// A failure reported to the user.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Output that could not be written (stdout closed, disk full).
    pub fn output(error: std::io::Error) -> Self {
        CliError::new(Exit::Output, format!("cannot write the output: {error}"))
            .hint("check that stdout is still open (a closed pipe) and the disk is not full")
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit as u8)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl From<baton_config::ConfigError> for CliError {
    fn from(error: baton_config::ConfigError) -> Self {
        let hint = error.hint();
        CliError::new(Exit::Config, error.to_string()).hint(hint)
    }
}

impl From<baton_store::StoreError> for CliError {
    fn from(error: baton_store::StoreError) -> Self {
        use baton_store::StoreError;
        let exit = match &error {
            // The request is at fault, not the database.
            StoreError::MemoryKeyExists { .. }
            | StoreError::InvalidMemory { .. }
            | StoreError::UnknownWorker { .. }
            | StoreError::AmbiguousWorker { .. } => Exit::Input,
            _ => Exit::Store,
        };
        let hint = error.hint().unwrap_or_else(|| match exit {
            Exit::Input => "check the value and try again".into(),
            _ => "check that the .baton directory is writable, or set BATON_HOME".into(),
        });
        CliError::new(exit, error_with_causes(&error)).hint(hint)
    }
}

impl From<baton_llm::router::RouteError> for CliError {
    fn from(error: baton_llm::router::RouteError) -> Self {
        use baton_llm::router::RouteError;
        let hint = match &error {
            RouteError::UnknownProfile { .. } => {
                "pick one of the known profiles, or add `[profiles.NAME]` to baton.toml"
            }
            RouteError::NoTarget { .. } => {
                "set the API key variable it names, drop --local/--api, or add a fallback step to the profile"
            }
        };
        CliError::new(Exit::Config, error.to_string()).hint(hint)
    }
}

impl From<baton_llm::context::ContextError> for CliError {
    fn from(error: baton_llm::context::ContextError) -> Self {
        use baton_llm::context::ContextError;
        let (exit, hint) = match &error {
            ContextError::OverBudget { .. } => (
                Exit::TooLarge,
                "pass fewer or smaller files, pick sections with --context-from, or use --api for a larger budget",
            ),
            ContextError::Pattern { .. } | ContextError::NoMatch { .. } => (
                Exit::Input,
                "check the path or glob (relative paths start at the working directory)",
            ),
            ContextError::Read { .. } => {
                (Exit::Input, "check that the file exists and is readable")
            }
            ContextError::Binary { .. } => (Exit::Input, "only text files can be context"),
        };
        CliError::new(exit, error_with_causes(&error)).hint(hint)
    }
}

/// An error's message followed by its causes, on one line.
pub fn error_with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
