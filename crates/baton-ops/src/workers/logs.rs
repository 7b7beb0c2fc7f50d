//! Workers' logs: the last lines (`worker_logs`, `baton logs --tail`), the last line without
//! its timestamp (`ps`, `swarm_status`), and following a log as it grows until its worker
//! ends. A log is timestamped lines with head and tail kept under a size cap
//! (`baton_exec::logcap`).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use baton_core::WorkerStatus;
use serde::Serialize;

use crate::{OpsError, Project};

/// How often a followed log is checked for growth.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// The end of a worker's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogTail {
    pub id: String,
    pub status: WorkerStatus,
    pub log_path: String,
    /// The most lines asked for.
    pub lines: usize,
    /// Empty when the worker has no log yet (still queued).
    pub text: String,
}

/// The last `lines` lines of a worker's log.
pub async fn tail(project: &Project, key: &str, lines: usize) -> Result<LogTail, OpsError> {
    let record = super::find(&*project.store()?, key)?;
    let text = tail_of(&record.log_path, lines)?;
    Ok(LogTail {
        id: record.id,
        status: record.status,
        log_path: record.log_path,
        lines,
        text,
    })
}

/// Writes a worker's log to `out` (its last `tail` lines when given), then, with `follow`,
/// what is appended to it until the worker ends. A worker without a log yet is an error
/// unless followed (its log appears when it starts).
pub async fn show(
    project: &Project,
    key: &str,
    tail: Option<usize>,
    follow: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), OpsError> {
    let record = super::find(&*project.store()?, key)?;
    let path = Path::new(&record.log_path);
    if !path.exists() && !follow {
        return Err(OpsError::NoLog {
            id: record.id,
            path: path.to_path_buf(),
        });
    }
    let pool = project.pool()?;
    let id = record.id.clone();
    let ended = move || {
        !follow
            || pool
                .get()
                .ok()
                .and_then(|store| store.worker(&id).ok().flatten())
                .is_none_or(|w| w.status.is_terminal())
    };
    follow_file(path, tail, ended, out)
        .await
        .map_err(|source| OpsError::Output {
            what: format!("the log {}", path.display()),
            source,
        })
}

/// Writes `path` (its last `tail` lines when given), then what is appended to it, until
/// `done()` says so and nothing more has come. A log rewritten shorter (the size cap keeps
/// head and tail) is written again from where the kept tail begins.
pub async fn follow_file(
    path: &Path,
    tail: Option<usize>,
    done: impl Fn() -> bool,
    out: &mut (dyn Write + Send),
) -> std::io::Result<()> {
    let mut position = 0u64;
    let mut first = true;
    loop {
        // Check before reading, so the last output written before the end is not missed.
        let finished = done();
        if let Ok(mut file) = std::fs::File::open(path) {
            let length = file.metadata()?.len();
            if length < position {
                position = 0;
            }
            if length > position {
                file.seek(SeekFrom::Start(position))?;
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                position += bytes.len() as u64;
                let text = String::from_utf8_lossy(&bytes);
                match (first, tail) {
                    (true, Some(lines)) => {
                        let all: Vec<&str> = text.lines().collect();
                        for line in &all[all.len().saturating_sub(lines)..] {
                            writeln!(out, "{line}")?;
                        }
                    }
                    _ => out.write_all(text.as_bytes())?,
                }
                out.flush()?;
            }
            first = false;
        }
        if finished {
            return Ok(());
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
    }
}

/// Lines at the end of a log looked through for the worker's own last line.
const LAST_LINE_WINDOW: usize = 8;

/// The last line the worker itself wrote, without the timestamp the log writer puts in front;
/// the supervisor's own notes (`baton: exited with code 3`) are passed over, since the status
/// and why already say them, unless nothing else is near the end. `None` when the log is
/// missing or empty.
pub(crate) fn last_line(log_path: &str) -> Option<String> {
    let tail = baton_exec::read_tail(Path::new(log_path), LAST_LINE_WINDOW).ok()?;
    let lines: Vec<&str> = tail
        .lines()
        .map(strip_timestamp)
        .filter(|line| !line.trim().is_empty())
        .collect();
    let own = lines
        .iter()
        .rev()
        .find(|line| !line.starts_with(SUPERVISOR_NOTE));
    own.or(lines.last()).map(|line| (*line).to_owned())
}

/// The last `lines` lines of the log at `log_path`; empty when there is none yet (a queued
/// worker has no log, and that is an empty log, not a failure).
pub(crate) fn tail_of(log_path: &str, lines: usize) -> Result<String, OpsError> {
    match baton_exec::read_tail(Path::new(log_path), lines) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(OpsError::Read {
            what: "the worker log",
            path: log_path.into(),
            source,
        }),
    }
}

/// The worker's own lines of a log `text`: timestamps and the supervisor's notes removed.
pub(crate) fn own_output(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(strip_timestamp) {
        if !line.starts_with(SUPERVISOR_NOTE) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// How the log writer marks the supervisor's own lines (`baton_exec::LogWriter::note`).
const SUPERVISOR_NOTE: &str = "baton: ";

/// `line` without a leading RFC 3339 timestamp and the spaces after it (the log writer pads
/// its prefix to a fixed width); other lines unchanged.
fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest)) if first.parse::<jiff::Timestamp>().is_ok() => rest.trim_start(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_timestamp_removes_the_log_writers_prefix_only() {
        assert_eq!(
            strip_timestamp("2026-11-21T19:19:58.123Z  compiling foo"),
            "compiling foo"
        );
        assert_eq!(strip_timestamp("plain line here"), "plain line here");
        assert_eq!(strip_timestamp("single"), "single");
    }
}
