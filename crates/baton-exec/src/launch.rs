//! Launching processes that outlive their caller: the detached worker supervisor that
//! `baton spawn` starts, and the same inside a tmux session (`--tmux`) for a person to
//! attach to.

#![allow(
    clippy::disallowed_methods,
    reason = "baton-exec is the crate that spawns processes: here, detached and tmux launches"
)]

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::ExecError;
use crate::reap::{self, Exit};

/// Starts `program` with `args`, our environment plus `env`, detached: in a process group of
/// its own (so Ctrl-C, job control and the terminal's hangup, which go to the foreground
/// group, do not reach it) and with stdin, stdout and stderr on /dev/null (so a closed
/// terminal cannot break its writes). Returns its PID without waiting for it.
///
/// A thread waits for it, so that a long-lived caller is not left with a zombie. It does not
/// start a new session: that needs `setsid` between fork and exec, which std offers only
/// through `unsafe` `pre_exec`; a program that wants one calls `setsid` itself.
pub fn spawn_detached(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
) -> Result<u32, ExecError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let spawned =
        reap::spawn(&mut command, /*own_group*/ false).map_err(|source| ExecError::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
    let pid = spawned.child.id();
    let waiter = std::thread::Builder::new()
        .name(format!("baton-wait-{pid}"))
        .spawn(move || {
            let exit = reap::wait_blocking(pid);
            tracing::debug!(pid, ?exit, "detached process ended");
        });
    if let Err(error) = waiter {
        // Not fatal: the process runs; at worst it stays a zombie until we exit.
        tracing::warn!(%error, pid, "cannot start the thread that reaps a detached process");
    }
    Ok(pid)
}

/// Starts `program` with `args` in a new detached tmux session named `session`:
/// `tmux new-session -d -s SESSION -- PROGRAM ARGS…`. Returns once tmux has created it.
pub fn spawn_in_tmux(session: &str, program: &Path, args: &[String]) -> Result<(), ExecError> {
    spawn_in_tmux_with(Path::new("tmux"), session, program, args)
}

fn spawn_in_tmux_with(
    tmux: &Path,
    session: &str,
    program: &Path,
    args: &[String],
) -> Result<(), ExecError> {
    let mut command = Command::new(tmux);
    command
        .args(["new-session", "-d", "-s", session, "--"])
        .arg(program)
        .args(args.iter().map(OsStr::new))
        .stdin(Stdio::null())
        // tmux's server may keep inherited descriptors open; a pipe here could never close.
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let spawned = reap::spawn(&mut command, /*own_group*/ false).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            ExecError::TmuxMissing { source }
        } else {
            ExecError::Spawn {
                program: tmux.to_path_buf(),
                source,
            }
        }
    })?;
    match reap::wait_blocking(spawned.child.id()) {
        Some(Exit::Code(0)) => Ok(()),
        Some(Exit::Code(code)) => Err(ExecError::Tmux {
            session: session.into(),
            status: format!("exit code {code}"),
        }),
        Some(Exit::Signal(signal)) => Err(ExecError::Tmux {
            session: session.into(),
            status: format!("killed by signal {}", signal.as_str()),
        }),
        None => Err(ExecError::Tmux {
            session: session.into(),
            status: "status unknown".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tmux_is_reported_with_a_hint() {
        let error = spawn_in_tmux_with(
            Path::new("/nonexistent/tmux"),
            "baton-test",
            Path::new("/bin/true"),
            &[],
        )
        .unwrap_err();
        assert!(matches!(error, ExecError::TmuxMissing { .. }), "{error:?}");
        assert!(error.to_string().contains("hint: install tmux"), "{error}");
    }

    #[test]
    fn a_missing_program_cannot_be_launched() {
        let error = spawn_detached(Path::new("/nonexistent/baton"), &[], &[]).unwrap_err();
        assert!(matches!(error, ExecError::Spawn { .. }), "{error:?}");
    }
}
