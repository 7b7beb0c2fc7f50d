//! Detached launches: a process that outlives its caller, in its own group, with its stdio on
//! /dev/null, reaped when it ends; and one inside a new tmux session. A binary of its own:
//! no supervisor runs here, so this process is not a subreaper and tmux's server daemon is
//! re-parented away from it as it would be from `baton spawn`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton_exec::proc::start_time;
use baton_exec::{Signal, spawn_detached, spawn_in_tmux};

const UPPER_BOUND: Duration = Duration::from_secs(20);
const CHECK_EVERY: Duration = Duration::from_millis(10);

/// Waits (up to the bound) for `condition`, checking it every few milliseconds.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let began = Instant::now();
    while !condition() {
        assert!(
            began.elapsed() < UPPER_BOUND,
            "timed out waiting until {what}"
        );
        std::thread::sleep(CHECK_EVERY);
    }
}

fn read_pid(path: &Path) -> u32 {
    wait_until("the pid file is written", || path.exists());
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn stat_field(pid: u32, index_after_comm: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after
        .split_whitespace()
        .nth(index_after_comm)
        .unwrap()
        .to_string()
}

fn kill(pid: u32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
}

#[test]
fn a_detached_process_runs_in_its_own_group_with_null_stdio_and_is_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let script = format!(
        "echo \"$GREETING\" > {}.tmp; mv {0}.tmp {0}; exec sleep 300",
        ready.display()
    );
    let pid = spawn_detached(
        Path::new("/bin/sh"),
        &["-c".into(), script],
        &[("GREETING".into(), "hello".into())],
    )
    .unwrap();
    wait_until("the script ran", || ready.exists());
    assert_eq!(std::fs::read_to_string(&ready).unwrap(), "hello\n");

    // Field 5 (index 2 after the command name) is the process group.
    assert_eq!(
        stat_field(pid, 2),
        pid.to_string(),
        "leads a group of its own"
    );
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, PathBuf::from("/dev/null"), "fd {fd}");
    }

    // Once it ends, the waiting thread reaps it: no zombie stays behind.
    kill(pid);
    wait_until("the detached process is reaped", || {
        start_time(pid).is_none()
    });
}

#[test]
fn a_tmux_session_runs_the_program_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let session = format!("baton-exec-test-{}", std::process::id());
    let script = format!(
        "echo $$ > {}.tmp; mv {0}.tmp {0}; exec sleep 300",
        pid_file.display()
    );
    spawn_in_tmux(&session, Path::new("/bin/sh"), &["-c".into(), script]).unwrap();
    let pid = read_pid(&pid_file);
    assert!(start_time(pid).is_some());

    // The same name again is refused by tmux, and said so.
    let error = spawn_in_tmux(&session, Path::new("/bin/true"), &[]).unwrap_err();
    assert!(error.to_string().contains(&session), "{error}");

    // Its only program ending ends the session (and tmux's server if it has no other).
    kill(pid);
    wait_until("the program in tmux is gone", || start_time(pid).is_none());
}
