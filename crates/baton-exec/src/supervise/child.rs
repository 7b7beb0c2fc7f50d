//! Starting one child: the command in its own process group, stdin from /dev/null, stdout
//! and stderr into one pipe, an allow-listed environment; and the thread that pumps the pipe
//! into the log and notes when the child last said something.

#![allow(
    clippy::disallowed_methods,
    reason = "baton-exec is the crate that spawns processes: here, a worker's command"
)]

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use baton_core::WorkerSpec;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::ExecError;
use crate::logcap::LogWriter;
use crate::reap;
use crate::supervise::verdict;

/// One read from the pipe (and the reader's whole buffer).
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The log, shared by the pipe reader(s) and the supervisor's own notes.
pub(super) type SharedLog = Arc<Mutex<LogWriter>>;

/// When the child last wrote anything, readable from the supervisor without locking.
pub(super) struct OutputClock {
    base: Instant,
    last_ms: AtomicU64,
}

impl OutputClock {
    fn new() -> Self {
        OutputClock {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// The time of the last output (the start, before any).
    pub(super) fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A started child.
pub(super) struct Running {
    pub(super) pid: u32,
    pub(super) start: Option<u64>,
    pub(super) clock: Arc<OutputClock>,
    /// Fires when the reader saw end of file: every holder of the pipe's write end is gone.
    drained: oneshot::Receiver<()>,
    /// Tells the reader to stop writing into the log (after the drain timed out).
    closed: Arc<AtomicBool>,
}

impl Running {
    /// Waits up to `limit` for the output pipe to reach end of file. A process that escaped
    /// our kill (or one unkillable in the kernel) may hold it open; past the limit the log is
    /// closed to it and its reader thread is left to end on its own.
    pub(super) async fn drain(self, limit: Duration, log: &SharedLog) {
        if tokio::time::timeout(limit, self.drained).await.is_err() {
            self.closed.store(true, Ordering::Relaxed);
            tracing::warn!(pid = self.pid, "output still open after the drain timeout");
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = log.note("output pipe still open after the drain timeout; stopped reading");
        }
    }
}

/// Kills a child's process group if the supervision is dropped before its sweep (the
/// `supervise` future was cancelled): a worker must not outlive its supervisor's interest.
pub(super) struct KillOnDrop {
    pgid: u32,
    armed: bool,
}

impl KillOnDrop {
    pub(super) fn new(pgid: u32) -> Self {
        KillOnDrop { pgid, armed: true }
    }

    /// The sweep ran: nothing is left to kill.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            // No grace and no reaping here: nobody is left to wait. What escaped the group
            // is out of reach (a later sweep in this process would find it).
            let _ = crate::proc::signal_group(self.pgid, nix::sys::signal::Signal::SIGKILL);
            reap::forget(self.pgid);
        }
    }
}

/// Why a child did not start: `Worker` ends the worker as failed with this reason;
/// `Infra` is the supervisor's own trouble.
pub(super) enum StartError {
    Worker(String),
    Infra(ExecError),
}

pub(super) fn start(spec: &WorkerSpec, log: &SharedLog) -> Result<Running, StartError> {
    let Some((program, args)) = spec.command.split_first() else {
        return Err(StartError::Worker(
            "the command is empty; hint: fix the worker's command".into(),
        ));
    };
    if !Path::new(&spec.cwd).is_dir() {
        // Checked first: spawn would report it as "No such file or directory", as if the
        // program were missing.
        return Err(StartError::Worker(format!(
            "cannot start `{program}`: working directory {} does not exist",
            spec.cwd
        )));
    }
    let pipe_error = |source| {
        StartError::Infra(ExecError::Pipe {
            program: program.clone(),
            source,
        })
    };
    // std's pipe is close-on-exec: no other child (of another supervision in this process)
    // inherits it and keeps it open past our child's end.
    let (reader, writer) = io::pipe().map_err(pipe_error)?;
    let writer_for_stderr = writer.try_clone().map_err(pipe_error)?;

    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(child_env(spec, std::env::vars_os()))
        // Headless agent CLIs wait forever on an open stdin.
        .stdin(Stdio::null())
        // One pipe for both, so that their order is kept in the log.
        .stdout(writer)
        .stderr(writer_for_stderr)
        // Its own group: the kill ladder signals the group, grandchildren included.
        .process_group(0);
    let spawned = reap::spawn(&mut command, /*own_group*/ true);
    // Dropping the command closes our copies of the write end; the reader sees end of file
    // once the child and everything it started have closed theirs.
    drop(command);
    let spawned = spawned
        .map_err(|error| StartError::Worker(verdict::cannot_start(spec, program, &error)))?;
    let pid = spawned.child.id();

    let clock = Arc::new(OutputClock::new());
    let closed = Arc::new(AtomicBool::new(false));
    let (done, drained) = oneshot::channel();
    let pump = Pump {
        log: Arc::clone(log),
        clock: Arc::clone(&clock),
        closed: Arc::clone(&closed),
    };
    let thread = std::thread::Builder::new()
        .name(format!("baton-log-{pid}"))
        .spawn(move || {
            pump.run(reader);
            let _ = done.send(());
        });
    if let Err(source) = thread {
        // Without a reader the child would block on a full pipe: stop it here.
        let _ = crate::proc::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        return Err(StartError::Infra(ExecError::ReaderThread { source }));
    }
    Ok(Running {
        pid,
        start: spawned.start,
        clock,
        drained,
        closed,
    })
}

/// The child's environment: the allow-list and `env_pass` from ours (see [`crate::env`]),
/// then `env_set`, then `env_from` (values of ours under another name), then Baton's own
/// variables. Later entries win.
pub(super) fn child_env(
    spec: &WorkerSpec,
    ours: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    let ours: Vec<(OsString, OsString)> = ours.collect();
    let mut env = crate::env::build(ours.iter().cloned(), &spec.env_pass, &spec.env_set);
    for (name, from) in &spec.env_from {
        // A variable the supervisor does not have is left unset, not set empty: the CLI's
        // own "missing key" message is clearer than a rejected empty key.
        if let Some(value) = crate::env::value_of(&ours, from) {
            env.push((name.into(), value.to_os_string()));
        }
    }
    if let Some(prompt) = &spec.prompt {
        env.push(("BATON_PROMPT".into(), prompt.into()));
    }
    env.push(("BATON_WORKER_NAME".into(), spec.name.clone().into()));
    env
}

/// The reader side: pipe to log, until end of file.
struct Pump {
    log: SharedLog,
    clock: Arc<OutputClock>,
    closed: Arc<AtomicBool>,
}

impl Pump {
    fn run(self, mut reader: io::PipeReader) {
        let mut buffer = vec![0; READ_CHUNK_BYTES];
        let mut warned = false;
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::warn!(%error, "reading the child's output failed");
                    break;
                }
            };
            self.clock.touch();
            if self.closed.load(Ordering::Relaxed) {
                continue;
            }
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            // Keep reading even if the log cannot be written (disk full): a child blocked on
            // a full pipe would look hung.
            if let Err(error) = log.write(&buffer[..read])
                && !warned
            {
                warned = true;
                tracing::warn!(%error, path = %log.path().display(), "cannot write the log");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{RestartPolicy, WorkerRole};
    use pretty_assertions::assert_eq;

    #[test]
    fn the_child_environment_is_the_allow_list_plus_what_the_spec_asks_for_under_the_names_it_asks()
    {
        let spec = WorkerSpec {
            name: "w1".into(),
            kind: None,
            role: WorkerRole::Agent,
            command: vec!["true".into()],
            cwd: "/".into(),
            prompt: Some("fix it".into()),
            env_set: vec![("MODE".into(), "fast".into()), ("LANG".into(), "C".into())],
            env_pass: vec!["OPENAI_API_KEY".into()],
            env_from: vec![
                ("AIDER_KEY".into(), "ANTHROPIC_API_KEY".into()),
                ("NOT_SET".into(), "NOWHERE".into()),
            ],
            timeout_ms: None,
            idle_timeout_ms: None,
            grace_ms: 0,
            expect: Vec::new(),
            expect_pass: false,
            check: None,
            remediate: 0,
            remediation_of: None,
            max_parallel: 1,
            log_cap_bytes: 0,
            tmux: false,
            restart: RestartPolicy::Never,
            health_url: None,
        };
        let ours = [
            ("PATH", "/usr/bin"),
            ("LANG", "en_US.UTF-8"),
            ("LC_ALL", "C.UTF-8"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("ANTHROPIC_API_KEY", "secret"),
            ("OPENAI_API_KEY", "passed"),
            ("PATHOLOGICAL", "no"),
        ]
        .map(|(name, value)| (OsString::from(name), OsString::from(value)));
        let env = child_env(&spec, ours.into_iter());
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(name, value)| (name.to_str().unwrap(), value.to_str().unwrap()))
            .collect();
        assert_eq!(
            env,
            [
                ("PATH", "/usr/bin"),
                ("LANG", "en_US.UTF-8"),
                ("LC_ALL", "C.UTF-8"),
                ("XDG_CONFIG_HOME", "/cfg"),
                ("OPENAI_API_KEY", "passed"),
                ("MODE", "fast"),
                // Set after the inherited one: `Command::envs` keeps the last.
                ("LANG", "C"),
                // Under the name the CLI reads; a missing source sets nothing.
                ("AIDER_KEY", "secret"),
                ("BATON_PROMPT", "fix it"),
                ("BATON_WORKER_NAME", "w1"),
            ]
        );
    }
}
