//! Running a command to completion: what the pipeline's verification (build, test, lint),
//! its `git` calls and `gh` all use. [`run()`] starts the command in its own process group
//! with an allow-listed environment, captures its output under a cap (head and tail kept),
//! stops it with the kill ladder when its deadline passes or it is cancelled, stops whatever
//! it left running in its group, and returns how it ended as a [`RunOutput`]. A command that
//! fails is a result, not an error; [`ExecError`] is for a command that cannot start.
//!
//! Output: stdout and stderr are captured separately by default, because callers parse
//! stdout (`git rev-parse`, `gh pr create` printing a URL) and must not find diagnostics in
//! it. [`Streams::Merged`] gives both one pipe instead, so their order is exactly as
//! written (two pipes read side by side cannot say which line came first): what a fix
//! prompt wants from a failed build.
//!
//! Reaping: a supervisor in the same process is a subreaper calling `waitpid(-1)` (see
//! `crate::reap`), which would take the exit status of a child started with `std::process`
//! or `tokio::process`. So the child is started through the registry, where a supervisor
//! files what it reaps, and `run` itself waits only for its own child (`waitpid(pid)`) and
//! its own group: it takes no status from anyone else either.
//!
//! Limits: a process that left the group (`setsid`) is out of the kill's reach (a
//! supervisor's sweep finds it, as a subreaper); if it holds the output pipe open, reading
//! stops after [`IO_DRAIN_TIMEOUT`] and [`RunOutput::drain_timed_out`] says so. A Baton
//! process that is killed outright cannot stop its command (no parent-death signal without
//! `unsafe`); dropping the future of `run` kills the group at once.

#![allow(
    clippy::disallowed_methods,
    reason = "baton-exec is the crate that spawns processes: here, a command run to completion"
)]

mod capture;

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal as Kill;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use capture::Captured;

use crate::error::ExecError;
use crate::ladder::{self, Reaping};
use crate::reap::{self, Exit, Waited};
use crate::{env, proc};
use capture::HeadTail;

/// The wall deadline of a request that sets none: long enough for a build or a test suite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Between SIGTERM and SIGKILL, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// Bytes kept of each stream by default (head and tail together).
pub const OUTPUT_MAX_BYTES: usize = 1024 * 1024;
/// How long to keep reading once nothing of the command is left in its group. The pipes
/// close as soon as their last writer is gone; a process that escaped the group (or one
/// that was handed the pipe) may hold them open for ever, and must not hang the run.
pub const IO_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// One read from a pipe: the size of a Linux pipe buffer.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Without a signal driver (a runtime shutting down), how often to look for the exit.
const EXIT_POLL: Duration = Duration::from_millis(10);

/// What the command reads on stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null`: end of file at once. Tools that would wait for a person never wait.
    #[default]
    Null,
    /// These bytes, then end of file. Bytes the command does not read are dropped.
    Bytes(Vec<u8>),
}

/// How stdout and stderr are captured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Streams {
    /// Each on its own pipe, each under the cap: [`RunOutput::stdout`] and
    /// [`RunOutput::stderr`].
    #[default]
    Separate,
    /// Both on one pipe, in the order written, all in [`RunOutput::stdout`];
    /// [`RunOutput::stderr`] stays empty.
    Merged,
}

/// The command's environment: the allow-list of this process's variables (`PATH`, `HOME`,
/// locale, temp dir; see `crate::env`), the names in `pass`, then `set` (which wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// More variables to take from this process's environment, by name.
    pub pass: Vec<String>,
    /// Variables to set, after everything inherited.
    pub set: Vec<(String, String)>,
}

/// A command to run to completion.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// A name looked up on the command's `PATH`, or a path.
    pub program: String,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Environment,
    pub stdin: Stdin,
    pub streams: Streams,
    /// The wall deadline, from the start.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL, on the deadline or cancellation, and for processes the
    /// command left running in its group when it exited.
    pub grace: Duration,
    /// Cancelling it stops the command as its deadline would.
    pub cancel: Option<CancellationToken>,
    /// Bytes kept of each stream (see [`Captured`]).
    pub output_cap_bytes: usize,
    /// See [`IO_DRAIN_TIMEOUT`].
    pub drain_timeout: Duration,
}

impl RunRequest {
    /// `program` in `cwd`, with no arguments and the defaults: stdin on /dev/null, streams
    /// separate, [`DEFAULT_TIMEOUT`], [`DEFAULT_GRACE`], [`OUTPUT_MAX_BYTES`].
    pub fn new(program: impl Into<String>, cwd: impl Into<PathBuf>) -> Self {
        RunRequest {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Environment::default(),
            stdin: Stdin::Null,
            streams: Streams::Separate,
            timeout: DEFAULT_TIMEOUT,
            grace: DEFAULT_GRACE,
            cancel: None,
            output_cap_bytes: OUTPUT_MAX_BYTES,
            drain_timeout: IO_DRAIN_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Passes this process's `name` on (beyond the allow-list).
    pub fn pass_env(mut self, name: impl Into<String>) -> Self {
        self.env.pass.push(name.into());
        self
    }

    pub fn set_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.set.push((name.into(), value.into()));
        self
    }

    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    pub fn streams(mut self, streams: Streams) -> Self {
        self.streams = streams;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    pub fn output_cap_bytes(mut self, cap: usize) -> Self {
        self.output_cap_bytes = cap;
        self
    }
}

/// Why the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// On its own.
    Exited,
    /// Stopped at its deadline.
    TimedOut,
    /// Stopped because its cancellation token was cancelled.
    Cancelled,
}

/// How a run ended. Nothing of the command's process group is running any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The command's PID, which was also its process group's ID.
    pub pid: u32,
    /// Its exit code, or the signal that ended it (SIGTERM or SIGKILL when it was stopped,
    /// unless it caught SIGTERM and exited).
    pub exit: Exit,
    pub termination: Termination,
    /// From the start to its end (including the kill ladder when it was stopped; not the
    /// stopping of what it left behind, nor the drain).
    pub duration: Duration,
    pub stdout: Captured,
    /// Empty with [`Streams::Merged`].
    pub stderr: Captured,
    /// A pipe was still open [`RunRequest::drain_timeout`] after the group was gone, and
    /// reading stopped: what was written after that is missing.
    pub drain_timed_out: bool,
}

impl RunOutput {
    /// Exited on its own with code 0.
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited && self.exit.success()
    }
}

/// Runs `request` to completion. `Err` only when the command cannot start (or, rarely, its
/// end cannot be seen); a non-zero exit, a timeout and a cancellation are an `Ok`
/// [`RunOutput`].
///
/// Needs a tokio runtime with IO and time enabled (SIGCHLD says when the child ended; the
/// pipes are read by the reactor); any flavour, and the future is `Send`. Dropping the
/// future before it is done kills the command's group with SIGKILL at once.
pub async fn run(request: &RunRequest) -> Result<RunOutput, ExecError> {
    let program = &request.program;
    if !request.cwd.is_dir() {
        return Err(ExecError::NoWorkingDirectory {
            program: program.clone(),
            cwd: request.cwd.clone(),
        });
    }
    // Listening starts before the spawn, so the child's SIGCHLD cannot be missed.
    let mut sigchld =
        signal(SignalKind::child()).map_err(|source| ExecError::SignalHandler { source })?;
    let started = start(request)?;
    let began = Instant::now();
    let Started {
        pid,
        start_time,
        stdout,
        stderr,
        stdin,
    } = started;
    let mut guard = KillOnDrop {
        pid,
        start_time,
        armed: true,
    };
    tracing::debug!(program, pid, "run started");

    let pipe_error = |source| ExecError::Pipe {
        program: program.clone(),
        source,
    };
    // Into the reactor (non-blocking from here on). An error drops `guard`: killed.
    let stdout = stdout
        .map(pipe::Receiver::from_owned_fd)
        .transpose()
        .map_err(pipe_error)?;
    let stderr = stderr
        .map(pipe::Receiver::from_owned_fd)
        .transpose()
        .map_err(pipe_error)?;
    let stdin = stdin
        .map(pipe::Sender::from_owned_fd)
        .transpose()
        .map_err(pipe_error)?;
    let input: &[u8] = match &request.stdin {
        Stdin::Null => &[],
        Stdin::Bytes(bytes) => bytes,
    };

    let mut out = HeadTail::new(request.output_cap_bytes);
    let mut err = HeadTail::new(request.output_cap_bytes);
    let (termination, exit, duration, drain_timed_out) = {
        // Reading goes on in every phase below: a command blocked on a full pipe would
        // neither exit nor act on SIGTERM.
        let io = async {
            tokio::join!(
                pump(stdout, &mut out),
                pump(stderr, &mut err),
                feed(stdin, input)
            );
        };
        tokio::pin!(io);
        let mut io_done = false;
        let deadline = tokio::time::sleep(request.timeout);
        tokio::pin!(deadline);
        let cancelled = cancelled(request.cancel.as_ref());
        tokio::pin!(cancelled);
        // One future for the whole wait: it looks at the child only after a SIGCHLD, not on
        // every wake-up the pipes cause.
        let exited = wait_exit(pid, &mut sigchld);
        tokio::pin!(exited);

        let (termination, mut exit) = loop {
            tokio::select! {
                // An exit that comes with the deadline is an exit.
                biased;
                exit = &mut exited => break (Termination::Exited, exit),
                () = &mut io, if !io_done => io_done = true,
                () = &mut deadline => break (Termination::TimedOut, None),
                () = &mut cancelled => break (Termination::Cancelled, None),
            }
        };
        // An exit ends the command's time; a stop ends it once the ladder is through.
        let exited_after = match termination {
            Termination::Exited => Some(began.elapsed()),
            Termination::TimedOut | Termination::Cancelled => {
                tracing::info!(program, pid, ?termination, "stopping the command");
                None
            }
        };
        // Whatever ended it, nothing of its group is left running past this point: all of
        // it when it was stopped, what it left behind when it exited.
        let sweep = ladder::sweep(pid, start_time, pid, request.grace, Reaping::Own);
        tokio::pin!(sweep);
        loop {
            tokio::select! {
                biased;
                () = &mut sweep => break,
                () = &mut io, if !io_done => io_done = true,
            }
        }
        guard.armed = false;
        if exit.is_none() {
            exit = match reap::reap_one(pid) {
                Waited::Ended(exit) => Some(exit),
                Waited::Running | Waited::Lost => None,
            };
        }
        let duration = exited_after.unwrap_or_else(|| began.elapsed());
        let Some(exit) = exit else {
            return Err(ExecError::NotReaped {
                program: program.clone(),
                pid,
            });
        };
        let drain_timed_out = !io_done
            && tokio::time::timeout(request.drain_timeout, &mut io)
                .await
                .is_err();
        if drain_timed_out {
            tracing::warn!(program, pid, "output still open after the drain timeout");
        }
        (termination, exit, duration, drain_timed_out)
    };
    drop(guard);
    Ok(RunOutput {
        pid,
        exit,
        termination,
        duration,
        stdout: out.finish(),
        stderr: err.finish(),
        drain_timed_out,
    })
}

/// A started command, with our ends of its pipes.
struct Started {
    pid: u32,
    start_time: Option<u64>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
}

fn start(request: &RunRequest) -> Result<Started, ExecError> {
    let program = &request.program;
    let env = env::build(std::env::vars_os(), &request.env.pass, &request.env.set);
    let mut command = Command::new(program);
    command
        .args(&request.args)
        .current_dir(&request.cwd)
        .env_clear()
        .envs(env.iter().map(|(name, value)| (name, value)))
        // Its own group: the kill ladder signals the group, grandchildren included.
        .process_group(0)
        .stdin(match request.stdin {
            Stdin::Null => Stdio::null(),
            Stdin::Bytes(_) => Stdio::piped(),
        });
    let merged = match request.streams {
        Streams::Separate => {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        }
        Streams::Merged => {
            let pipe_error = |source| ExecError::Pipe {
                program: program.clone(),
                source,
            };
            // std's pipe is close-on-exec: no other child inherits it and keeps it open.
            let (reader, writer) = io::pipe().map_err(pipe_error)?;
            let writer_for_stderr = writer.try_clone().map_err(pipe_error)?;
            command.stdout(writer).stderr(writer_for_stderr);
            Some(reader)
        }
    };
    let spawned = reap::spawn(&mut command, /*own_group*/ true);
    // Dropping the command closes our copies of a merged pipe's write end: the reader sees
    // end of file once the command and everything it started have closed theirs.
    drop(command);
    let spawned = spawned.map_err(|error| start_error(program, &env, error))?;
    let mut child = spawned.child;
    let stdout = match merged {
        Some(reader) => Some(OwnedFd::from(reader)),
        None => child.stdout.take().map(OwnedFd::from),
    };
    Ok(Started {
        pid: child.id(),
        start_time: spawned.start,
        stdout,
        stderr: child.stderr.take().map(OwnedFd::from),
        stdin: child.stdin.take().map(OwnedFd::from),
    })
    // `child` (a std `Child`) is dropped here: that neither waits nor kills.
}

fn start_error(program: &str, env: &[(OsString, OsString)], error: io::Error) -> ExecError {
    match error.kind() {
        io::ErrorKind::NotFound => ExecError::NotFound {
            program: program.into(),
            // std looks a bare name up on the PATH the command is given.
            searched: (!program.contains('/')).then(|| {
                env::value_of(env, "PATH").map_or_else(
                    || "(unset)".into(),
                    |path| path.to_string_lossy().into_owned(),
                )
            }),
        },
        io::ErrorKind::PermissionDenied => ExecError::NotExecutable {
            program: program.into(),
            source: error,
        },
        _ => ExecError::Spawn {
            program: program.into(),
            source: error,
        },
    }
}

/// Waits until child `pid` has ended; `None` if its status was taken outside the registry.
async fn wait_exit(pid: u32, sigchld: &mut Signal) -> Option<Exit> {
    loop {
        match reap::reap_one(pid) {
            Waited::Ended(exit) => return Some(exit),
            Waited::Lost => return None,
            Waited::Running => {}
        }
        // Any child's SIGCHLD wakes this; a supervisor that reaps ours gets the same signal
        // and files the status before we look (both under the registry's lock).
        if sigchld.recv().await.is_none() {
            tokio::time::sleep(EXIT_POLL).await;
        }
    }
}

async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Reads a pipe to its end into `into`.
async fn pump(pipe: Option<pipe::Receiver>, into: &mut HeadTail) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut chunk = vec![0; READ_CHUNK_BYTES];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => return,
            Ok(read) => into.push(&chunk[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::warn!(%error, "reading a command's output failed");
                return;
            }
        }
    }
}

/// Writes `bytes` to the command's stdin, then closes it (end of file).
async fn feed(pipe: Option<pipe::Sender>, bytes: &[u8]) {
    let Some(mut pipe) = pipe else {
        return;
    };
    if let Err(error) = pipe.write_all(bytes).await {
        // EPIPE: it exited (or closed stdin) without reading everything. Its business.
        tracing::debug!(%error, "the command did not read all of its stdin");
    }
}

/// Kills the command's group if `run` is dropped before its sweep, and has its exit reaped
/// by a thread (nobody else will wait for it); forgets it in the registry in any case.
struct KillOnDrop {
    pid: u32,
    start_time: Option<u64>,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let pid = self.pid;
        if self.armed {
            let _ = proc::signal_group(pid, Kill::SIGKILL);
            if let Some(start) = self.start_time {
                // It may have left its group.
                proc::signal_process(pid, start, Kill::SIGKILL);
            }
            if reap::exit_of(pid).is_none() {
                let waiter = std::thread::Builder::new()
                    .name(format!("baton-run-reap-{pid}"))
                    // `wait_blocking` forgets it once reaped.
                    .spawn(move || {
                        let exit = reap::wait_blocking(pid);
                        tracing::debug!(pid, ?exit, "dropped run reaped");
                    });
                match waiter {
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(%error, pid, "cannot start the thread that reaps a dropped run");
                    }
                }
            }
        }
        reap::forget(pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<F: Send>(_: F) {}

    #[test]
    fn the_future_of_run_is_send() {
        let request = RunRequest::new("true", "/");
        is_send(run(&request));
    }
}
