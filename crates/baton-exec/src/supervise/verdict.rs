//! Words for how a worker ended: exit codes and signals, deadlines, checkpoint files, and a
//! command that cannot start. These strings become `Outcome::why`, which people read in
//! `baton ps` and models read in remediation prompts, so each names the thing at fault.

use std::io;
use std::path::{Path, PathBuf};

use baton_core::{WorkerRole, WorkerSpec};
use nix::errno::Errno;

use crate::reap::Exit;

/// `30s`, `10m`, `2h`, `1.5s`, `250ms`: the way a deadline was most likely written.
pub(super) fn human_duration(ms: u64) -> String {
    const HOUR_MS: u64 = 3_600_000;
    const MINUTE_MS: u64 = 60_000;
    match ms {
        0 => "0s".into(),
        ms if ms % HOUR_MS == 0 => format!("{}h", ms / HOUR_MS),
        ms if ms % MINUTE_MS == 0 => format!("{}m", ms / MINUTE_MS),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms if ms < 1000 => format!("{ms}ms"),
        ms => format!("{:.1}s", ms as f64 / 1000.0),
    }
}

pub(super) fn past_deadline(timeout_ms: u64) -> String {
    format!("ran past its {} deadline", human_duration(timeout_ms))
}

pub(super) fn silent_for(idle_ms: u64) -> String {
    format!("no output for {}", human_duration(idle_ms))
}

pub(super) fn exit_why(exit: Exit) -> String {
    exit.to_string()
}

/// Why `spec.command` could not be started, with a hint at the config line to fix.
pub(super) fn cannot_start(spec: &WorkerSpec, program: &str, error: &io::Error) -> String {
    // `Errno::desc` gives the bare reason; io::Error's Display would add "(os error 2)".
    let reason = match error.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    };
    let fix = match (spec.role, &spec.kind) {
        (WorkerRole::Agent, Some(kind)) => format!("fix [workers.{kind}] command"),
        (WorkerRole::Agent, None) => "fix the command given to `baton spawn`".into(),
        (WorkerRole::Coordinator, _) => "check that the baton binary is where it was".into(),
        (WorkerRole::Server, kind) => {
            format!(
                "fix [servers.{}] command",
                kind.as_deref().unwrap_or(&spec.name)
            )
        }
    };
    format!("cannot start `{program}`: {reason}; hint: install it or {fix}")
}

/// Checks the files a worker had to leave behind (`spec.expect`, globs relative to `cwd`).
/// `Err` names every checkpoint that does not hold.
pub(super) fn check_checkpoints(spec: &WorkerSpec) -> Result<(), String> {
    let cwd = Path::new(&spec.cwd);
    let mut problems = Vec::new();
    for pattern in &spec.expect {
        let full = if Path::new(pattern).is_absolute() {
            pattern.clone()
        } else {
            // The cwd is a literal path: escape it so that `[` or `*` in it match themselves.
            format!("{}/{pattern}", glob::Pattern::escape(&spec.cwd))
        };
        let files: Vec<PathBuf> = match glob::glob(&full) {
            Ok(paths) => paths
                .filter_map(Result::ok)
                .filter(|path| path.is_file())
                .collect(),
            Err(error) => {
                problems.push(format!(
                    "checkpoint {pattern}: not a valid pattern ({})",
                    error.msg
                ));
                continue;
            }
        };
        if files.is_empty() {
            problems.push(format!("checkpoint {pattern}: missing"));
            continue;
        }
        if !spec.expect_pass {
            continue;
        }
        for file in files {
            let shown = file
                .strip_prefix(cwd)
                .unwrap_or(&file)
                .display()
                .to_string();
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    if text.contains("FAIL") {
                        problems.push(format!("checkpoint {shown}: says FAIL"));
                    } else if !text.contains("PASS") {
                        problems.push(format!("checkpoint {shown}: does not say PASS"));
                    }
                }
                Err(error) => problems.push(format!("checkpoint {shown}: unreadable ({error})")),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn durations_read_the_way_they_were_configured() {
        assert_eq!(human_duration(30_000), "30s");
        assert_eq!(human_duration(600_000), "10m");
        assert_eq!(human_duration(7_200_000), "2h");
        assert_eq!(human_duration(1_500), "1.5s");
        assert_eq!(human_duration(250), "250ms");
        assert_eq!(past_deadline(30_000), "ran past its 30s deadline");
        assert_eq!(silent_for(10_000), "no output for 10s");
    }

    #[test]
    fn exits_and_signals_are_named() {
        assert_eq!(exit_why(Exit::Code(3)), "exited with code 3");
        assert_eq!(
            exit_why(Exit::Signal(nix::sys::signal::Signal::SIGSEGV)),
            "killed by signal SIGSEGV"
        );
    }
}
