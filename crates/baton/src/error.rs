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
    /// `baton run`: the reviewer still rejected the change after the last round.
    RunRejected = 16,
    /// `baton run`: build, tests or lint still failed after the fixes and escalations.
    RunVerifyFailed = 17,
    /// `baton run`: a budget (cloud tokens, iterations, time) ran out.
    RunBudgetExhausted = 18,
    /// `baton run`: stopped by a signal; `baton resume RUN` continues it.
    RunInterrupted = 19,
    /// `baton run`: it ended on an error of its own (see the run's report).
    RunFailed = 20,
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

impl From<baton_ops::OpsError> for CliError {
    /// The one place a library error becomes what the command line shows: its message with
    /// its causes, its hint, and the exit code of its kind.
    fn from(error: baton_ops::OpsError) -> Self {
        CliError::new(Exit::of(error.kind()), error.message()).hint(error.hint())
    }
}

impl From<baton_config::ConfigError> for CliError {
    fn from(error: baton_config::ConfigError) -> Self {
        CliError::from(baton_ops::OpsError::from(error))
    }
}

impl From<baton_store::StoreError> for CliError {
    fn from(error: baton_store::StoreError) -> Self {
        CliError::from(baton_ops::OpsError::from(error))
    }
}

impl Exit {
    /// The exit code of a kind of failure.
    pub fn of(kind: baton_ops::ErrorKind) -> Exit {
        use baton_ops::ErrorKind;
        match kind {
            ErrorKind::Internal => Exit::Internal,
            ErrorKind::Invalid => Exit::Usage,
            ErrorKind::Config => Exit::Config,
            ErrorKind::Unreachable => Exit::Unreachable,
            ErrorKind::Backend => Exit::Backend,
            ErrorKind::TooLarge => Exit::TooLarge,
            ErrorKind::Input => Exit::Input,
            ErrorKind::Store => Exit::Store,
            ErrorKind::Output => Exit::Output,
            ErrorKind::Unhealthy => Exit::Unhealthy,
            ErrorKind::WorkersFailed => Exit::WorkersFailed,
            ErrorKind::WaitTimeout => Exit::WaitTimeout,
            ErrorKind::EditsFailed => Exit::EditsFailed,
            ErrorKind::EditRefused => Exit::EditRefused,
            ErrorKind::NotEdits => Exit::NotEdits,
        }
    }
}
