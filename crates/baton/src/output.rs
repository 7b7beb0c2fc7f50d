//! Where a reply goes as it streams, and how a broken attempt is taken back from there:
//! a terminal gets the partial text erased, a regular file is truncated back, a pipe gets
//! the reply only once complete (unless `--stream`), and `-o FILE` is written to a temp
//! file renamed into place on success, so no half-written file is ever left.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use baton_llm::ReplySink;

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
            let _ = writeln!(std::io::stderr().lock(), "baton: {text}");
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
