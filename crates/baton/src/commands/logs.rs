//! `baton logs ID [-f] [--tail N]`: a worker's log (timestamped lines, head and tail kept
//! under the size cap), followed as it grows until the worker ends.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use baton_store::Store;

use crate::app::App;
use crate::cli::LogsArgs;
use crate::error::{CliError, Exit};

/// How often a followed log is checked for growth.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

pub fn run(app: App, args: LogsArgs) -> Result<std::process::ExitCode, CliError> {
    let store = app.open_store()?;
    let worker = find(&store, &args.worker)?;
    show(
        &store,
        &worker.id,
        Path::new(&worker.log_path),
        args.follow,
        args.tail,
    )
}

/// Prints a worker's log, following it until the worker ends when asked.
pub fn show(
    store: &Store,
    id: &str,
    path: &Path,
    follow: bool,
    tail: Option<usize>,
) -> Result<std::process::ExitCode, CliError> {
    if !path.exists() && !follow {
        return Err(CliError::new(
            Exit::Input,
            format!("worker {id} has no log yet ({})", path.display()),
        )
        .hint("it may still be queued: see `baton ps`"));
    }
    let ended = || {
        store
            .worker(id)
            .ok()
            .flatten()
            .is_none_or(|w| w.status.is_terminal())
    };
    follow_file(
        path,
        tail,
        if follow {
            Box::new(ended) as Box<dyn Fn() -> bool>
        } else {
            Box::new(|| true)
        },
    )
    .map_err(|error| {
        CliError::new(
            Exit::Output,
            format!("cannot show {}: {error}", path.display()),
        )
        .hint("check that the log is readable and stdout is still open")
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Looks a worker up by id, prefix or name, with a clear error when there is none.
pub fn find(store: &Store, key: &str) -> Result<baton_core::WorkerRecord, CliError> {
    store.worker(key)?.ok_or_else(|| {
        CliError::new(Exit::Input, format!("no worker `{key}`"))
            .hint("see the ids and names with `baton ps --all`")
    })
}

/// Prints `path` (its last `tail` lines when given), then what is appended to it, until
/// `done()` says so and nothing more has come. A log rewritten shorter (the size cap keeps
/// head and tail) is printed again from where the kept tail begins.
pub fn follow_file(
    path: &Path,
    tail: Option<usize>,
    done: impl Fn() -> bool,
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
                // Locked per write, not for the whole follow: others print to stdout too.
                let mut out = std::io::stdout().lock();
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
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}
