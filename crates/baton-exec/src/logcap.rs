//! Log capture: a child's combined output, one timestamped line at a time, into a file that
//! never outgrows its cap, with memory that stays flat whatever the child writes.
//!
//! Layout under the cap: the first quarter (the head: how the run started) is written once and
//! kept; past it, only the newest lines (the tail: how it ended) are kept, in a bounded ring,
//! and the file is rewritten in place as head + `… N bytes omitted …` + tail. While the tail
//! still fits under the cap, lines are appended as they come, so `tail -f` keeps working; a
//! rewrite happens at most every [`REWRITE_INTERVAL`] and at [`LogWriter::flush`].

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;

/// Rewrites of the file (head + marker + tail) are at most this frequent.
pub const REWRITE_INTERVAL: Duration = Duration::from_millis(250);
/// A line longer than this is broken in two, so that a child writing without newlines cannot
/// make the pending line (and memory) grow without bound.
const MAX_LINE_BYTES: usize = 16 * 1024;
/// Smaller caps are raised to this, so that head, marker and tail each have room.
const MIN_CAP_BYTES: u64 = 4 * 1024;
/// Room kept for the marker line (`… 18446744073709551615 bytes omitted …\n` is 45 bytes).
const MARKER_RESERVE_BYTES: u64 = 64;
/// `2026-11-21T18:40:00.123Z `.
const PREFIX_BYTES: usize = 25;

/// Writes one log file under a size cap. Not thread-safe by itself: the supervisor shares it
/// behind a mutex between the pipe reader and its own notes.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    cap: u64,
    head_cap: u64,
    tail_cap: usize,
    line_limit: usize,
    /// Bytes in the file.
    file_len: u64,
    /// Set once the head is full: its length; the tail starts there.
    head_len: Option<u64>,
    /// Complete lines since the head, newest last, at most `tail_cap` bytes.
    tail: VecDeque<u8>,
    /// Bytes dropped from the front of the tail so far.
    omitted: u64,
    /// The file's tail section no longer equals marker + `tail`: a rewrite is owed.
    dirty: bool,
    last_rewrite: Option<Instant>,
    /// The line being received (prefix included), held until its newline.
    partial: Vec<u8>,
    /// Bytes to append to the file at the end of the current write.
    to_file: Vec<u8>,
    stamp: Stamp,
}

impl LogWriter {
    /// Creates (or truncates) the log at `path`, creating its folder if needed.
    pub fn create(path: &Path, cap_bytes: u64) -> io::Result<Self> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .read(true)
            .open(path)?;
        let cap = cap_bytes.max(MIN_CAP_BYTES);
        let head_cap = cap / 4;
        let tail_cap = usize::try_from(cap - head_cap - MARKER_RESERVE_BYTES).unwrap_or(usize::MAX);
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            cap,
            head_cap,
            tail_cap,
            line_limit: MAX_LINE_BYTES.min(tail_cap / 2),
            file_len: 0,
            head_len: None,
            tail: VecDeque::new(),
            omitted: 0,
            dirty: false,
            last_rewrite: None,
            partial: Vec::new(),
            to_file: Vec::new(),
            stamp: Stamp::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes output as it comes. Complete lines get the time their first byte arrived.
    pub fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let prefix = *self.stamp.now();
        while !bytes.is_empty() {
            if self.partial.is_empty() {
                self.partial.extend_from_slice(&prefix);
            }
            let room = (self.line_limit + PREFIX_BYTES)
                .saturating_sub(self.partial.len())
                .max(1);
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|&byte| byte == b'\n') {
                Some(newline) => {
                    self.partial.extend_from_slice(&window[..=newline]);
                    bytes = &bytes[newline + 1..];
                    self.end_line();
                }
                None => {
                    self.partial.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.partial.len() >= self.line_limit + PREFIX_BYTES {
                        self.partial.push(b'\n');
                        self.end_line();
                    }
                }
            }
        }
        self.commit(/*force_rewrite*/ false)
    }

    /// Adds a line of the supervisor's own (a deadline fired, a restart), after any partial
    /// line of the child's.
    pub fn note(&mut self, text: &str) -> io::Result<()> {
        self.close_partial();
        self.partial.extend_from_slice(self.stamp.now());
        self.partial.extend_from_slice(b"baton: ");
        self.partial.extend_from_slice(text.as_bytes());
        self.partial.push(b'\n');
        self.end_line();
        self.commit(/*force_rewrite*/ false)
    }

    /// Writes out the partial line (ended with a newline) and brings the file up to date.
    pub fn flush(&mut self) -> io::Result<()> {
        self.close_partial();
        self.commit(/*force_rewrite*/ true)
    }

    /// The last `max_bytes` of the log as it stands (partial line included), starting at a
    /// line boundary: for remediation prompts.
    pub fn tail_text(&self, max_bytes: usize) -> String {
        // One byte more than asked: if it is a newline, the text after it starts a line.
        let want = max_bytes.saturating_add(1);
        // Newest first: partial line, tail ring, marker, head (read back from the file).
        let mut pieces: Vec<Vec<u8>> = vec![self.partial.clone()];
        let mut have = self.partial.len();
        let head_len = match self.head_len {
            Some(head_len) => {
                let skip = self.tail.len().saturating_sub(want.saturating_sub(have));
                let ring: Vec<u8> = self.tail.iter().skip(skip).copied().collect();
                have += ring.len();
                pieces.push(ring);
                if self.omitted > 0 {
                    let marker = marker_line(self.omitted).into_bytes();
                    have += marker.len();
                    pieces.push(marker);
                }
                head_len
            }
            None => self.file_len,
        };
        let head_wanted = u64::try_from(want.saturating_sub(have))
            .unwrap_or(0)
            .min(head_len);
        let mut head = vec![0; usize::try_from(head_wanted).unwrap_or(0)];
        if self
            .file
            .read_exact_at(&mut head, head_len - head_wanted)
            .is_ok()
        {
            pieces.push(head);
        }
        let mut text: Vec<u8> = pieces.into_iter().rev().flatten().collect();
        if text.len() > want {
            text.drain(..text.len() - want);
        }
        if text.len() > max_bytes {
            match text.iter().position(|&byte| byte == b'\n') {
                Some(newline) => drop(text.drain(..=newline)),
                // One line longer than asked: its end is better than nothing.
                None => drop(text.drain(..1)),
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    fn close_partial(&mut self) {
        if !self.partial.is_empty() {
            self.partial.push(b'\n');
            self.end_line();
        }
    }

    /// Files the completed line in `partial` into the head or the tail.
    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.partial);
        let pending = self.file_len + self.to_file.len() as u64;
        let line_len = line.len() as u64;
        if self.head_len.is_none() {
            if pending + line_len <= self.head_cap {
                self.to_file.extend_from_slice(&line);
                self.partial = reuse(line);
                return;
            }
            self.head_len = Some(pending);
        }
        self.tail.extend(&line);
        if self.tail.len() > self.tail_cap {
            // Drop whole lines from the front: the tail always starts at a line boundary.
            let excess = self.tail.len() - self.tail_cap;
            let cut = self
                .tail
                .range(excess - 1..)
                .position(|&byte| byte == b'\n')
                .map_or(
                    self.tail.len(),
                    |offset| excess + offset, // index of that newline + 1
                );
            self.tail.drain(..cut);
            self.omitted += cut as u64;
            self.dirty = true;
        }
        if !self.dirty && pending + line_len <= self.cap {
            self.to_file.extend_from_slice(&line);
        } else {
            self.dirty = true;
        }
        self.partial = reuse(line);
    }

    /// Appends what is pending and rewrites the tail if one is owed and due (or forced).
    fn commit(&mut self, force_rewrite: bool) -> io::Result<()> {
        if !self.to_file.is_empty() {
            self.file.seek(SeekFrom::Start(self.file_len))?;
            self.file.write_all(&self.to_file)?;
            self.file_len += self.to_file.len() as u64;
            self.to_file.clear();
        }
        let due = self
            .last_rewrite
            .is_none_or(|at| at.elapsed() >= REWRITE_INTERVAL);
        if self.dirty && (force_rewrite || due) {
            self.rewrite()?;
        }
        Ok(())
    }

    /// The file becomes head + marker + tail, in place (the head is never rewritten).
    fn rewrite(&mut self) -> io::Result<()> {
        let Some(head_len) = self.head_len else {
            return Ok(());
        };
        let mut section = Vec::with_capacity(self.tail.len() + MARKER_RESERVE_BYTES as usize);
        if self.omitted > 0 {
            section.extend_from_slice(marker_line(self.omitted).as_bytes());
        }
        let (front, back) = self.tail.as_slices();
        section.extend_from_slice(front);
        section.extend_from_slice(back);
        self.file.seek(SeekFrom::Start(head_len))?;
        self.file.write_all(&section)?;
        self.file_len = head_len + section.len() as u64;
        self.file.set_len(self.file_len)?;
        self.dirty = false;
        self.last_rewrite = Some(Instant::now());
        Ok(())
    }
}

/// Keeps the allocation of a finished line for the next one (no allocation per line).
fn reuse(mut line: Vec<u8>) -> Vec<u8> {
    line.clear();
    line
}

fn marker_line(omitted: u64) -> String {
    format!("… {omitted} bytes omitted …\n")
}

/// The line prefix, formatted once per millisecond rather than once per line.
#[derive(Default)]
struct Stamp {
    millisecond: i64,
    text: [u8; PREFIX_BYTES],
}

impl Stamp {
    fn now(&mut self) -> &[u8; PREFIX_BYTES] {
        let now = Timestamp::now();
        let millisecond = now.as_millisecond();
        if millisecond != self.millisecond || self.text[0] == 0 {
            self.millisecond = millisecond;
            let formatted = format!("{now:.3} ");
            // Years past 9999 would be longer; pad or cut to keep the prefix fixed-width.
            let bytes = formatted.as_bytes();
            let len = bytes.len().min(PREFIX_BYTES);
            self.text = [b' '; PREFIX_BYTES];
            self.text[..len].copy_from_slice(&bytes[..len]);
        }
        &self.text
    }
}

/// The last `lines` lines of the file at `path` (fewer if it has fewer), read from the end.
pub fn read_tail(path: &Path, lines: usize) -> io::Result<String> {
    const BLOCK_BYTES: u64 = 8 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut start = len;
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        // A final newline ends the last line; it does not start another one.
        let newlines = buffer.iter().filter(|&&byte| byte == b'\n').count();
        let trailing = usize::from(buffer.last() == Some(&b'\n'));
        if newlines >= lines + trailing || start == 0 {
            break;
        }
        let block_start = start.saturating_sub(BLOCK_BYTES);
        let mut block = vec![0; usize::try_from(start - block_start).unwrap_or(0)];
        file.seek(SeekFrom::Start(block_start))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&buffer);
        buffer = block;
        start = block_start;
    }
    let body_end = buffer.len() - usize::from(buffer.last() == Some(&b'\n'));
    let mut seen = 0;
    let mut from = 0;
    for (index, &byte) in buffer[..body_end].iter().enumerate().rev() {
        if byte == b'\n' {
            seen += 1;
            if seen == lines {
                from = index + 1;
                break;
            }
        }
    }
    if lines == 0 {
        from = buffer.len();
    }
    Ok(String::from_utf8_lossy(&buffer[from..]).into_owned())
}

#[cfg(test)]
#[path = "logcap_tests.rs"]
mod tests;
