//! Output kept under a cap: the head (how the command started) and the tail (how it ended),
//! with a count of what was dropped in between, in memory that never outgrows the cap
//! whatever the command writes. The same idea as [`crate::logcap`], without its file and
//! timestamps: a run's output goes back to its caller (a fix prompt, a `git` parser), not
//! into a log.
//!
//! Once something was dropped, both cuts are moved to line boundaries (the partial lines at
//! the edges are counted as dropped), so that the text reads as whole lines and a cut never
//! splits a UTF-8 character. A line longer than the head or the tail keeps its first or
//! last bytes.

use std::collections::VecDeque;

/// The head's share of the cap: a quarter, as in the log files. The end of a build or test
/// run carries its verdict and the summary of failures; the start, what was run and the
/// first error.
const HEAD_SHARE_DIVISOR: usize = 4;

/// What was kept of one output stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes written.
    pub head: Vec<u8>,
    /// The last bytes written. Directly follows `head` when nothing was dropped.
    pub tail: Vec<u8>,
    /// Bytes written between `head` and `tail` and not kept.
    pub dropped_bytes: u64,
}

impl Captured {
    /// Bytes the command wrote in all.
    pub fn total_bytes(&self) -> u64 {
        self.head.len() as u64 + self.dropped_bytes + self.tail.len() as u64
    }

    /// Whether everything written was kept.
    pub fn is_whole(&self) -> bool {
        self.dropped_bytes == 0
    }

    /// The output as text (invalid UTF-8 replaced), with a line
    /// `… N bytes omitted …` where bytes were dropped.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped_bytes > 0 {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("… {} bytes omitted …\n", self.dropped_bytes));
        }
        text.push_str(&String::from_utf8_lossy(&self.tail));
        text
    }
}

/// Takes a stream's bytes as they come and keeps head and tail.
#[derive(Debug)]
pub(super) struct HeadTail {
    head_cap: usize,
    tail_cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
    /// The last byte dropped from the front of the tail: whether the tail starts a line.
    before_tail: Option<u8>,
}

impl HeadTail {
    /// Keeps at most `cap_bytes` in all.
    pub(super) fn new(cap_bytes: usize) -> Self {
        let head_cap = cap_bytes / HEAD_SHARE_DIVISOR;
        HeadTail {
            head_cap,
            tail_cap: cap_bytes - head_cap,
            head: Vec::new(),
            tail: VecDeque::new(),
            dropped: 0,
            before_tail: None,
        }
    }

    pub(super) fn push(&mut self, mut bytes: &[u8]) {
        let to_head = bytes.len().min(self.head_cap - self.head.len());
        self.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        if bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.tail_cap {
            // The new bytes alone fill the tail: all that was in it goes, and their front.
            let skip = bytes.len() - self.tail_cap;
            let last_dropped = if skip > 0 {
                Some(bytes[skip - 1])
            } else {
                self.tail.back().copied()
            };
            self.dropped += (self.tail.len() + skip) as u64;
            if last_dropped.is_some() {
                self.before_tail = last_dropped;
            }
            self.tail.clear();
            self.tail.extend(&bytes[skip..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        if overflow > 0 {
            self.before_tail = self.tail.get(overflow - 1).copied();
            self.tail.drain(..overflow);
            self.dropped += overflow as u64;
        }
        self.tail.extend(bytes);
    }

    pub(super) fn finish(self) -> Captured {
        let HeadTail {
            mut head,
            tail,
            mut dropped,
            before_tail,
            ..
        } = self;
        let mut tail: Vec<u8> = tail.into();
        if dropped > 0 {
            // The head's last line was cut unless it ends with a newline.
            if let Some(newline) = head.iter().rposition(|&byte| byte == b'\n') {
                dropped += (head.len() - newline - 1) as u64;
                head.truncate(newline + 1);
            }
            // The tail's first line was cut unless the byte before it was a newline.
            if before_tail != Some(b'\n')
                && let Some(newline) = tail.iter().position(|&byte| byte == b'\n')
                && newline + 1 < tail.len()
            {
                dropped += (newline + 1) as u64;
                tail.drain(..=newline);
            }
        }
        Captured {
            head,
            tail,
            dropped_bytes: dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn capture(cap: usize, chunks: &[&[u8]]) -> Captured {
        let mut buffer = HeadTail::new(cap);
        for chunk in chunks {
            buffer.push(chunk);
        }
        buffer.finish()
    }

    #[test]
    fn output_under_the_cap_is_kept_whole() {
        let captured = capture(100, &[b"one\n", b"two\n", b"three"]);
        assert!(captured.is_whole());
        assert_eq!(captured.text(), "one\ntwo\nthree");
        assert_eq!(captured.total_bytes(), 13);
    }

    #[test]
    fn output_over_the_cap_keeps_whole_lines_of_head_and_tail_and_counts_the_rest() {
        let lines: Vec<String> = (0..100).map(|line| format!("line {line:02}\n")).collect();
        let all = lines.concat();
        // Fed in odd-sized pieces, as a pipe hands them over.
        let chunks: Vec<&[u8]> = all.as_bytes().chunks(7).collect();
        let captured = capture(80, &chunks);
        // 8 bytes a line: a head of 20 bytes keeps 2 whole lines, a tail of 60 bytes 7.
        assert_eq!(String::from_utf8_lossy(&captured.head), lines[..2].concat());
        assert_eq!(
            String::from_utf8_lossy(&captured.tail),
            lines[93..].concat()
        );
        assert_eq!(captured.dropped_bytes, 91 * 8);
        assert_eq!(captured.total_bytes(), all.len() as u64);
        assert_eq!(
            captured.text(),
            format!(
                "{}… 728 bytes omitted …\n{}",
                lines[..2].concat(),
                lines[93..].concat()
            )
        );
    }

    #[test]
    fn a_tail_that_starts_a_line_loses_nothing_at_its_cut() {
        // Head 1 byte, tail 3 bytes: "b\n" is dropped whole, and "cd\n" starts a line.
        // The head has no newline to cut at: one line longer than the head keeps its start.
        let captured = capture(4, &[b"a", b"b\n", b"cd\n"]);
        assert_eq!(captured.head, b"a");
        assert_eq!(captured.tail, b"cd\n");
        assert_eq!(captured.dropped_bytes, 2);
        assert_eq!(captured.text(), "a\n… 2 bytes omitted …\ncd\n");
    }

    #[test]
    fn one_line_longer_than_the_tail_keeps_its_last_bytes() {
        let long = vec![b'x'; 1000];
        let captured = capture(40, &[&long]);
        assert_eq!(captured.head, vec![b'x'; 10]);
        assert_eq!(captured.tail, vec![b'x'; 30]);
        assert_eq!(captured.dropped_bytes, 960);
    }

    #[test]
    fn a_zero_cap_keeps_nothing_and_counts_everything() {
        let captured = capture(0, &[b"abc\n", b"def\n"]);
        assert_eq!(captured.head, b"");
        assert_eq!(captured.tail, b"");
        assert_eq!(captured.dropped_bytes, 8);
        assert_eq!(captured.text(), "… 8 bytes omitted …\n");
    }
}
