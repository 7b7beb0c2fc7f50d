//! The one error type of the crate. A worker that fails (cannot start, exits non-zero, misses
//! a checkpoint) is not an error: it is an [`Outcome`](crate::Outcome); nor is a command of
//! [`run`](crate::run()) that exits non-zero, times out or is cancelled: that is a
//! [`RunOutput`](crate::RunOutput). These variants are what keeps the supervisor, or a run,
//! from doing its job at all (a run's command that cannot start is one); none of them is
//! worth retrying as is.

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
    /// A detached process, or a run's command, cannot be started (for a reason the variants
    /// below do not name).
    #[error("cannot start `{}`", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A run's program is not there: not on the PATH the command is given, or no such file.
    #[error("cannot start `{program}`: no such program\nhint: {}", not_found_hint(.program, .searched.as_deref()))]
    NotFound {
        program: String,
        /// The PATH searched for a bare name (`None` when the program is a path).
        searched: Option<String>,
    },
    /// A run's program exists but may not be executed.
    #[error(
        "cannot start `{program}`: permission denied\nhint: make it executable, or run it through its interpreter"
    )]
    NotExecutable {
        program: String,
        #[source]
        source: io::Error,
    },
    /// A run's working directory does not exist (checked first: the system would report it
    /// as a missing program).
    #[error("cannot start `{program}`: working directory {} does not exist\nhint: create it, or run the command in an existing directory", cwd.display())]
    NoWorkingDirectory { program: String, cwd: PathBuf },
    /// A run's command was stopped but its end never came (a process stuck in the kernel,
    /// state D) or its status was taken by a waiter outside this crate.
    #[error(
        "`{program}` (pid {pid}) did not end after SIGKILL, or its exit status was taken elsewhere\nhint: `ps -o stat= -p {pid}` shows `D` for a process stuck in the kernel (a hung mount, say); a status is taken elsewhere when this process waits for children it did not start through Baton"
    )]
    NotReaped { program: String, pid: u32 },
    /// `tmux` is not installed (or not on PATH).
    #[error("cannot start `tmux`\nhint: install tmux, or run the worker without tmux")]
    TmuxMissing {
        #[source]
        source: io::Error,
    },
    /// `tmux new-session` ran but refused (for example, the session name is taken).
    #[error("`tmux new-session -s {session}` failed: {status}\nhint: `tmux ls` lists the sessions")]
    Tmux { session: String, status: String },
}

fn not_found_hint(program: &str, searched: Option<&str>) -> String {
    match searched {
        Some(path) => {
            format!("install `{program}`, or give its full path (the PATH searched: `{path}`)")
        }
        None => "check the path, or install the program there".into(),
    }
}
