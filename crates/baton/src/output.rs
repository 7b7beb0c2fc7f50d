//! The one printer of the command line, and where a reply goes as it streams.
//!
//! [`Printer`]: data on stdout (one JSON object with `--json`, else text and tables), notices
//! on stderr with one prefix (`baton: `, `baton: warning: `), and with `--json` nothing on
//! stderr but errors.
//!
//! Reply sinks: a terminal gets the partial text of a broken attempt erased, a regular file is
//! truncated back, a pipe gets the reply only once complete (unless `--stream`), and
//! `-o FILE` is written to a temp file renamed into place on success, so no half-written file
//! is ever left.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use baton_edit::FileStatus;
use baton_ops::apply::ApplyResponse;
use baton_ops::{Notice, Notices, ReplySink, notice::Level};
use serde::Serialize;

use crate::error::CliError;

/// How stdout can take text back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A terminal: erase the partial text with ANSI codes.
    Terminal,
    /// A regular file (`> out.txt`): truncate back to where the reply began.
    File { start: u64 },
    /// A pipe streamed live (`--stream`): text cannot be taken back; say so.
    LivePipe,
    /// Anything else: hold the reply and write it when complete.
    Buffered,
    /// Nothing goes to stdout (`--json` prints at the end; `-o` writes a file).
    Silent,
}

/// Reply text to stdout, plus notices to stderr.
pub struct StdoutSink {
    mode: Mode,
    attempt: String,
    quiet_notices: bool,
}

impl StdoutSink {
    /// Chooses the mode from what stdout is. `silent` keeps stdout for a final object.
    pub fn new(silent: bool, stream_pipes: bool) -> Self {
        let stdout = std::io::stdout();
        let mode = if silent {
            Mode::Silent
        } else if stdout.is_terminal() {
            Mode::Terminal
        } else if let Some(start) = regular_file_offset(&stdout) {
            Mode::File { start }
        } else if stream_pipes {
            Mode::LivePipe
        } else {
            Mode::Buffered
        };
        Self {
            mode,
            attempt: String::new(),
            quiet_notices: false,
        }
    }

    /// Silences notices (for `--json`, where stderr should stay clean of chatter).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet_notices = quiet;
        self
    }

    /// Writes what is held, ending with a newline on a terminal.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.mode {
            Mode::Buffered => out.write_all(self.attempt.as_bytes())?,
            Mode::Terminal if !self.attempt.ends_with('\n') && !self.attempt.is_empty() => {
                out.write_all(b"\n")?
            }
            Mode::Terminal | Mode::File { .. } | Mode::LivePipe | Mode::Silent => {}
        }
        out.flush()
    }
}

/// The current offset of stdout when it is a regular file.
fn regular_file_offset(stdout: &std::io::Stdout) -> Option<u64> {
    let fd = stdout.as_fd();
    let stat = nix::sys::stat::fstat(fd).ok()?;
    let is_regular = (stat.st_mode & nix::libc::S_IFMT) == nix::libc::S_IFREG;
    if !is_regular {
        return None;
    }
    // With O_APPEND (`>>`) the position is 0 until the first write, yet every write lands
    // at the end: the reply begins at the current size.
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).ok()?;
    if nix::fcntl::OFlag::from_bits_truncate(flags).contains(nix::fcntl::OFlag::O_APPEND) {
        return u64::try_from(stat.st_size).ok();
    }
    let offset = nix::unistd::lseek(fd, 0, nix::unistd::Whence::SeekCur).ok()?;
    u64::try_from(offset).ok()
}

impl ReplySink for StdoutSink {
    fn delta(&mut self, text: &str) -> std::io::Result<()> {
        self.attempt.push_str(text);
        match self.mode {
            Mode::Terminal | Mode::File { .. } | Mode::LivePipe => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Mode::Buffered | Mode::Silent => Ok(()),
        }
    }

    fn discard(&mut self) -> std::io::Result<()> {
        let partial = std::mem::take(&mut self.attempt);
        match self.mode {
            Mode::Terminal => {
                // Back to the line where the partial reply began, then clear to the end.
                let lines = partial.matches('\n').count();
                let mut out = std::io::stdout().lock();
                if lines > 0 {
                    write!(out, "\r\x1b[{lines}F\x1b[J")?;
                } else {
                    write!(out, "\r\x1b[J")?;
                }
                out.flush()
            }
            Mode::File { start } => {
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                out.flush()?;
                let fd = stdout.as_fd();
                let start_offset = i64::try_from(start).unwrap_or(i64::MAX);
                nix::unistd::ftruncate(fd, start_offset).map_err(std::io::Error::from)?;
                nix::unistd::lseek(fd, start_offset, nix::unistd::Whence::SeekSet)
                    .map_err(std::io::Error::from)?;
                Ok(())
            }
            Mode::LivePipe => {
                self.notice(&format!(
                    "{} characters already written to the pipe belong to a broken reply (--stream cannot take them back)",
                    partial.len()
                ));
                Ok(())
            }
            Mode::Buffered | Mode::Silent => Ok(()),
        }
    }

    fn notice(&mut self, text: &str) {
        if !self.quiet_notices {
            Printer::new(false).notice(Notice::warning(text));
        }
    }
}

/// `-o FILE`: the reply goes to a temp file beside FILE, renamed over it on success and
/// removed on failure.
pub struct FileSink {
    target: PathBuf,
    temp: PathBuf,
    file: File,
    inner: StdoutSink,
    committed: bool,
}

impl FileSink {
    pub fn create(target: &Path, inner: StdoutSink) -> std::io::Result<FileSink> {
        let dir = target
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "reply".into());
        let temp = dir.join(format!(".{name}.baton-{}.partial", std::process::id()));
        let file = File::create(&temp)?;
        Ok(FileSink {
            target: target.to_path_buf(),
            temp,
            file,
            inner,
            committed: false,
        })
    }

    /// Moves the complete reply into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()?;
        std::fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        Ok(())
    }

    /// Gives up on the reply (the dispatch failed): the temp file goes, FILE is untouched.
    pub fn abandon(self) {}
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl ReplySink for FileSink {
    fn delta(&mut self, text: &str) -> std::io::Result<()> {
        self.file.write_all(text.as_bytes())
    }

    fn discard(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        std::io::Seek::rewind(&mut self.file)
    }

    fn notice(&mut self, text: &str) {
        self.inner.notice(text);
    }
}

/// A table for people, in the style every command's table uses, with `header`.
pub fn table<I, S>(header: I) -> comfy_table::Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(header);
    table
}

/// `--quiet`: set once at start, for every printer of the process.
static QUIET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Silences notices and warnings for the rest of the process (`--quiet`); errors still show.
pub fn set_quiet(quiet: bool) {
    let _ = QUIET.set(quiet);
}

/// Whether `--quiet` was given.
pub fn is_quiet() -> bool {
    QUIET.get().copied().unwrap_or(false)
}

/// What a command prints, and how: data on stdout; notices on stderr unless `--json` or
/// `--quiet`.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
    quiet: bool,
}

impl Printer {
    pub fn new(json: bool) -> Printer {
        Printer {
            json,
            quiet: QUIET.get().copied().unwrap_or(false),
        }
    }

    /// Whether data is printed as JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// `value` as one line of JSON on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value).map_err(|error| CliError::output(error.into()))?;
        out.write_all(b"\n").map_err(CliError::output)?;
        out.flush().map_err(CliError::output)
    }

    /// `text` on stdout, with a final newline if it has none.
    pub fn text(&self, text: impl std::fmt::Display) -> Result<(), CliError> {
        let text = text.to_string();
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).map_err(CliError::output)?;
        if !text.is_empty() && !text.ends_with('\n') {
            out.write_all(b"\n").map_err(CliError::output)?;
        }
        out.flush().map_err(CliError::output)
    }

    /// The diffstat (as `git diff --stat` prints it) and, when something failed, the feedback
    /// for the model.
    pub fn applied(&self, applied: &ApplyResponse) -> Result<(), CliError> {
        let mut summary = diffstat(applied);
        // Where an edit went elsewhere than the path the model wrote, say so.
        for outcome in applied.edits.iter().flatten() {
            if let Some(note) = &outcome.note {
                summary.push_str(&format!(" note: edit {}: {note}\n", outcome.index + 1));
            }
        }
        self.text(&summary)?;
        let feedback = applied.feedback.trim_end();
        if !feedback.is_empty() {
            let gap = if summary.is_empty() { "" } else { "\n" };
            self.text(format!("{gap}{feedback}"))?;
        }
        Ok(())
    }

    /// A warning on stderr (none with `--json`: the JSON carries what matters).
    pub fn warn(&self, text: impl std::fmt::Display) {
        self.notice(Notice::warning(text.to_string()));
    }
}

impl Notices for Printer {
    fn notice(&self, notice: Notice) {
        if self.json || self.quiet {
            return;
        }
        let prefix = match notice.level {
            Level::Info => "baton: ",
            Level::Warning => "baton: warning: ",
        };
        let _ = writeln!(std::io::stderr().lock(), "{prefix}{}", notice.text);
    }
}

/// The diffstat of an applied reply, as `git diff --stat` prints it.
fn diffstat(applied: &ApplyResponse) -> String {
    let (Some(files), Some(edits)) = (&applied.files, &applied.edits) else {
        return String::new();
    };
    let width = files
        .iter()
        .map(|f| f.path.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let (mut added, mut removed) = (0, 0);
    for file in files {
        added += file.insertions;
        removed += file.deletions;
        let status = match file.status {
            FileStatus::Created => " (new)",
            FileStatus::Deleted => " (deleted)",
            FileStatus::Modified => "",
        };
        out.push_str(&format!(
            " {:<width$} | {:>4} {}{}{status}\n",
            file.path,
            file.insertions + file.deletions,
            "+".repeat(file.insertions.min(40)),
            "-".repeat(file.deletions.min(40)),
        ));
    }
    let tally = applied.tally();
    let already = tally.already_applied;
    if files.is_empty() && tally.failed + tally.refused > 0 {
        // Nothing to list: the feedback that follows says what went wrong.
        return out;
    }
    if files.is_empty() {
        return format!(
            " nothing to change; {already} edit(s) already applied, {} in all\n",
            edits.len()
        );
    }
    let verb = if applied.written {
        "changed"
    } else {
        "to change, nothing written"
    };
    let already = if already > 0 {
        format!("; {already} edit(s) already applied")
    } else {
        String::new()
    };
    out.push_str(&format!(
        " {} file(s) {verb}, {added} insertion(s)(+), {removed} deletion(s)(-){already}\n",
        files.len(),
    ));
    out
}
