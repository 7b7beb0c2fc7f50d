//! The one error type of the crate. A worker that fails (cannot start, exits non-zero, misses
//! a checkpoint) is not an error: it is an [`Outcome`](crate::Outcome). These variants are
//! what keeps the supervisor itself from doing its job; none of them is worth retrying as is.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The log file cannot be created or written.
    #[error("cannot write the log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The pipe that carries the child's output cannot be made.
    #[error("cannot create the output pipe for `{program}`")]
    Pipe {
        program: String,
        #[source]
        source: io::Error,
    },
    /// The thread that reads the child's output cannot be started.
    #[error("cannot start the thread that reads the child's output")]
    ReaderThread {
        #[source]
        source: io::Error,
    },
    /// The supervisor cannot become a child subreaper, so escaped grandchildren could not be
    /// reaped or killed.
    #[error("cannot make the supervisor a child subreaper")]
    Subreaper {
        #[source]
        source: Errno,
    },
    /// SIGCHLD cannot be listened for (no tokio runtime with signals enabled).
    #[error("cannot listen for SIGCHLD")]
    SignalHandler {
        #[source]
        source: io::Error,
    },
    /// A signal could not be sent for a reason other than "no such process".
    #[error("cannot send {signal} to process group {pgid}")]
    Signal {
        pgid: u32,
        signal: &'static str,
        #[source]
        source: Errno,
    },
    /// A detached process cannot be started.
    #[error("cannot start `{}`", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `tmux` is not installed (or not on PATH).
    #[error("cannot start `tmux`\nhint: install tmux, or run without `--tmux`")]
    TmuxMissing {
        #[source]
        source: io::Error,
    },
    /// `tmux new-session` ran but refused (for example, the session name is taken).
    #[error("`tmux new-session -s {session}` failed: {status}\nhint: `tmux ls` lists the sessions")]
    Tmux { session: String, status: String },
}
