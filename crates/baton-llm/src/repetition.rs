//! Degenerate repetition: a streamed reply that has begun to loop on itself (the same lines,
//! or the same phrase, over and over, as small models do at low temperature) is noticed while
//! it streams, so that the call can be cut instead of running on to `max_tokens`.
//!
//! The test is exact periodicity of the reply's tail: the last bytes of the reply are one unit
//! of text repeated, back to back, several times. A model in a loop repeats itself exactly;
//! code that merely repeats structure does not (a table of similar rows, a list of test cases,
//! closing braces at falling indentation all differ from line to line). Two kinds of unit are
//! told apart:
//!
//! - a unit with some substance (at least [`MIN_DISTINCT_WORD_CHARS`] different letters or
//!   digits, e.g. `assert add(1, 2) == 3\n`) is cut once it has been repeated
//!   [`MIN_REPEATS`] times in a row over at least [`MIN_SPAN_TOKENS`];
//! - a unit without (blank lines, `}`, `0, `, `====`) only after [`FLOOD_SPAN_TOKENS`], which
//!   no legitimate reply reaches and an endless flood of whitespace does.
//!
//! The thresholds were tuned on real replies and on source files streamed as replies; see
//! `bench/repetition.sh` and `bench/RESULTS.md`.
//!
//! Every candidate period is tested at once with the Z-function of the reversed tail window
//! (the longest common prefix of the reversed tail with itself shifted by `p` is exactly how
//! far back period `p` holds), so a check costs time linear in the window, whatever the text.

use baton_core::usage::estimate_tokens_from_chars;

/// The longest repeated unit looked for, in bytes (about 25 lines of code).
pub const MAX_PERIOD_BYTES: usize = 2048;
/// Copies in a row of a substantive unit before it counts as a loop.
pub const MIN_REPEATS: usize = 3;
/// Estimated tokens a substantive repetition must cover before it is cut.
pub const MIN_SPAN_TOKENS: u64 = 200;
/// Estimated tokens a repetition of a unit without substance must cover before it is cut.
pub const FLOOD_SPAN_TOKENS: u64 = 600;
/// Different letters or digits a unit needs to count as substantive.
pub const MIN_DISTINCT_WORD_CHARS: usize = 3;

/// Bytes of the reply's tail kept and examined: enough for [`MIN_REPEATS`] copies of the
/// longest unit and for a whole flood.
const WINDOW_BYTES: usize = 8192;
/// New bytes between two checks: a check reads the whole window, and a loop is not missed
/// by looking a few tokens later.
const CHECK_EVERY_BYTES: usize = 32;
/// Characters of the repeated unit quoted in the error.
const UNIT_PREVIEW_CHARS: usize = 60;

// The window must hold what the thresholds ask for.
const _: () = assert!(WINDOW_BYTES >= MIN_REPEATS * MAX_PERIOD_BYTES);
const _: () = assert!(WINDOW_BYTES as u64 >= FLOOD_SPAN_TOKENS * 4);

/// A loop found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repetition {
    /// One copy of the repeated text (its first [`UNIT_PREVIEW_CHARS`] characters).
    pub unit: String,
    /// Whole copies in a row at the end of the reply.
    pub repeats: usize,
    /// Estimated tokens the repetition covers.
    pub span_tokens: u64,
    /// Estimated tokens of the reply when the loop was found.
    pub after_tokens: u64,
}

impl Repetition {
    /// `"x = 1\n" repeated 40 times in a row (~240 tokens), cut after ~310 tokens`.
    pub fn describe(&self) -> String {
        format!(
            "{:?} repeated {} times in a row (~{} tokens), cut after ~{} tokens",
            self.unit, self.repeats, self.span_tokens, self.after_tokens
        )
    }
}

/// The longest repetitions at the end of a reply, of each kind (see [`RepetitionGuard::closest`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closest {
    /// Of a substantive unit repeated at least [`MIN_REPEATS`] times: cut from
    /// [`MIN_SPAN_TOKENS`].
    pub substantive: Option<Repetition>,
    /// Of a unit without substance, repeated at least twice: cut from [`FLOOD_SPAN_TOKENS`].
    pub flood: Option<Repetition>,
}

/// Watches one reply as it streams. Feed it every piece with [`RepetitionGuard::push`].
#[derive(Debug, Default)]
pub struct RepetitionGuard {
    /// The last [`WINDOW_BYTES`] (or a little more) bytes of the reply.
    window: Vec<u8>,
    /// Characters of the whole reply so far.
    chars: usize,
    /// Bytes pushed since the last check.
    unchecked: usize,
    /// Buffers of a check, kept between checks: the reversed tail and its Z-function.
    reversed: Vec<u8>,
    z: Vec<usize>,
}

impl RepetitionGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a piece of the reply; returns the loop once the reply's tail is one.
    pub fn push(&mut self, piece: &str) -> Option<Repetition> {
        self.window.extend_from_slice(piece.as_bytes());
        self.chars += piece.chars().count();
        self.unchecked += piece.len();
        // Trim in large steps so the copy is rare.
        if self.window.len() > 2 * WINDOW_BYTES {
            let excess = self.window.len() - WINDOW_BYTES;
            self.window.drain(..excess);
        }
        if self.unchecked < CHECK_EVERY_BYTES {
            return None;
        }
        self.unchecked = 0;
        self.check()
    }

    /// Checks a whole text as if it had streamed in small pieces: the loop is found where a
    /// stream would have found it (for replies that come in one piece).
    pub fn scan(text: &str) -> Option<Repetition> {
        let mut guard = Self::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut end = CHECK_EVERY_BYTES.min(rest.len());
            while !rest.is_char_boundary(end) {
                end += 1;
            }
            let (piece, tail) = rest.split_at(end);
            if let Some(found) = guard.push(piece) {
                return Some(found);
            }
            rest = tail;
        }
        // The text is whole: its very end is checked too, however few bytes came last.
        if guard.unchecked > 0 {
            return guard.check();
        }
        None
    }

    /// The tail examined.
    fn tail(&self) -> &[u8] {
        &self.window[self.window.len().saturating_sub(WINDOW_BYTES)..]
    }

    /// The longest repetition of each kind at the end of the reply so far, whether or not it
    /// reaches its threshold: how close the reply is to being cut. For tuning the thresholds
    /// on real replies (`bench/repetition.sh`); [`RepetitionGuard::push`] does not need it.
    pub fn closest(&self) -> Closest {
        let tail = self.tail();
        let reversed: Vec<u8> = tail.iter().rev().copied().collect();
        let mut z = Vec::new();
        z_function(&reversed, &mut z);
        let mut closest = Closest::default();
        let tokens_of = |found: &Option<Repetition>| found.as_ref().map_or(0, |r| r.span_tokens);
        let max_period = MAX_PERIOD_BYTES.min(tail.len() / 2);
        for (period, matched) in z.iter().enumerate().take(max_period + 1).skip(1) {
            let span = matched + period;
            let repeats = span / period;
            if repeats < 2 {
                continue;
            }
            let span_tokens = estimate_tokens_from_chars(char_count(&tail[tail.len() - span..]));
            let may_be_substantive =
                repeats >= MIN_REPEATS && span_tokens > tokens_of(&closest.substantive);
            if !may_be_substantive && span_tokens <= tokens_of(&closest.flood) {
                continue;
            }
            let unit = unit_text(tail, period);
            let found = Some(Repetition {
                unit: unit.chars().take(UNIT_PREVIEW_CHARS).collect(),
                repeats,
                span_tokens,
                after_tokens: estimate_tokens_from_chars(self.chars),
            });
            if distinct_word_chars(&unit) >= MIN_DISTINCT_WORD_CHARS {
                if may_be_substantive {
                    closest.substantive = found;
                }
            } else if span_tokens > tokens_of(&closest.flood) {
                closest.flood = found;
            }
        }
        closest
    }

    fn check(&mut self) -> Option<Repetition> {
        let start = self.window.len().saturating_sub(WINDOW_BYTES);
        let tail = &self.window[start..];
        self.reversed.clear();
        self.reversed.extend(tail.iter().rev());
        z_function(&self.reversed, &mut self.z);
        let z = &self.z;
        let max_period = MAX_PERIOD_BYTES.min(tail.len() / 2);
        for (period, matched) in z.iter().enumerate().take(max_period + 1).skip(1) {
            // The tail has period `period` over its last `span` bytes.
            let span = matched + period;
            let repeats = span / period;
            if repeats < 2 {
                continue;
            }
            // Bytes overestimate characters only outside ASCII: a cheap first filter.
            if estimate_tokens_from_chars(span) < MIN_SPAN_TOKENS {
                continue;
            }
            let span_tokens = estimate_tokens_from_chars(char_count(&tail[tail.len() - span..]));
            if span_tokens < MIN_SPAN_TOKENS {
                continue;
            }
            let unit = unit_text(tail, period);
            let substantive = distinct_word_chars(&unit) >= MIN_DISTINCT_WORD_CHARS;
            let looping = if substantive {
                repeats >= MIN_REPEATS
            } else {
                span_tokens >= FLOOD_SPAN_TOKENS
            };
            if looping {
                return Some(Repetition {
                    unit: unit.chars().take(UNIT_PREVIEW_CHARS).collect(),
                    repeats,
                    span_tokens,
                    after_tokens: estimate_tokens_from_chars(self.chars),
                });
            }
        }
        None
    }
}

/// The last `period` bytes of `tail` as text, turned to begin at a line start (or else a
/// word start) so that it reads as the text did: in a periodic tail every rotation of the
/// unit is a real copy of it. (The lossy decoding can only matter for a unit that splits a
/// character at its ends, and then only in how the unit is quoted.)
fn unit_text(tail: &[u8], period: usize) -> String {
    let unit = String::from_utf8_lossy(&tail[tail.len() - period..]).into_owned();
    let turn = unit
        .find('\n')
        .or_else(|| unit.find(' '))
        .map(|at| at + 1)
        .filter(|&at| at < unit.len());
    match turn {
        Some(at) => format!("{}{}", &unit[at..], &unit[..at]),
        None => unit,
    }
}

/// Characters in UTF-8 bytes: every byte that is not a continuation byte starts one.
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&byte| byte & 0xC0 != 0x80).count()
}

/// How many different letters and digits a text has (any script).
fn distinct_word_chars(text: &str) -> usize {
    let mut seen: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Fills `z` with `z[i]`: the length of the longest common prefix of `s` and `s[i..]`
/// (`z[0] = s.len()`; one element for an empty `s`). Linear in `s`.
fn z_function(s: &[u8], z: &mut Vec<usize>) {
    let n = s.len();
    z.clear();
    z.resize(n.max(1), 0);
    if n == 0 {
        return;
    }
    z[0] = n;
    let (mut left, mut right) = (0, 0);
    for i in 1..n {
        let mut length = if i < right {
            (right - i).min(z[i - left])
        } else {
            0
        };
        while i + length < n && s[length] == s[i + length] {
            length += 1;
        }
        z[i] = length;
        if i + length > right {
            left = i;
            right = i + length;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams `text` in pieces of four bytes (about a token each), as a server would.
    fn stream(text: &str) -> Option<Repetition> {
        let mut guard = RepetitionGuard::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut end = 4.min(rest.len());
            while !rest.is_char_boundary(end) {
                end += 1;
            }
            let (piece, tail) = rest.split_at(end);
            if let Some(found) = guard.push(piece) {
                return Some(found);
            }
            rest = tail;
        }
        None
    }

    #[test]
    fn the_z_function_measures_how_far_each_shift_matches() {
        let mut z = Vec::new();
        z_function(b"aabxaab", &mut z);
        assert_eq!(z, vec![7, 1, 0, 0, 3, 1, 0]);
        z_function(b"", &mut z);
        assert_eq!(z, vec![0]);
    }

    #[test]
    fn two_lines_looping_are_cut_after_a_few_hundred_tokens() {
        let head = "import pytest\n\ndef test_add():\n";
        let looping = "    assert add(1, 2) == 3\n    assert add(2, 3) == 5\n".repeat(200);
        let found = stream(&format!("{head}{looping}")).expect("a loop");
        let mut lines: Vec<&str> = found.unit.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            vec!["    assert add(1, 2) == 3", "    assert add(2, 3) == 5"]
        );
        assert!(found.repeats >= MIN_REPEATS, "{found:?}");
        assert!(found.after_tokens < 300, "{found:?}");
        assert!(
            found.describe().contains("repeated"),
            "{}",
            found.describe()
        );
    }

    #[test]
    fn a_phrase_looping_on_one_line_is_cut() {
        let found = stream(&"the same words again and ".repeat(100)).expect("a loop");
        assert_eq!(found.unit.len(), "the same words again and ".len());
        assert!(
            "the same words again and the same words again and ".contains(&found.unit),
            "{found:?}"
        );
        assert!(
            found.unit.ends_with(' '),
            "quoted from a word start: {found:?}"
        );
    }

    #[test]
    fn a_long_block_repeated_three_times_is_cut() {
        let block: String = (0..20)
            .map(|i| format!("    let value_{i} = compute({i}, \"field\");\n"))
            .collect();
        let found = stream(&format!("fn main() {{\n{}", block.repeat(4))).expect("a loop");
        assert_eq!(found.repeats, MIN_REPEATS, "{found:?}");
    }

    #[test]
    fn a_table_of_similar_rows_is_not_cut() {
        let rows: String = (0..400)
            .map(|i| format!("    ({i}, {}, {}),\n", i + 1, 2 * i + 1))
            .collect();
        assert_eq!(stream(&format!("CASES = [\n{rows}]\n")), None);
    }

    #[test]
    fn closing_braces_and_blank_lines_are_not_cut() {
        let mut text = String::from("fn f() {\n");
        for depth in 1..40 {
            text.push_str(&"    ".repeat(depth));
            text.push_str("if x {\n");
        }
        for depth in (0..40).rev() {
            text.push_str(&"    ".repeat(depth));
            text.push_str("}\n");
        }
        text.push_str(&"\n".repeat(300));
        text.push_str(&"}\n".repeat(200));
        assert_eq!(stream(&text), None);
    }

    #[test]
    fn an_endless_flood_of_blank_lines_is_cut_in_the_end() {
        let found = stream(&"\n".repeat(5000)).expect("a flood");
        assert_eq!(found.unit, "\n");
        assert!(found.span_tokens >= FLOOD_SPAN_TOKENS, "{found:?}");
    }

    #[test]
    fn a_whole_reply_is_scanned_as_it_would_have_streamed() {
        let text = format!("x\n{}", "print('again')\n".repeat(100));
        let found = RepetitionGuard::scan(&text).expect("a loop");
        assert!(found.after_tokens < 260, "{found:?}");
        assert_eq!(RepetitionGuard::scan("def f():\n    return 1\n"), None);
    }

    #[test]
    fn a_scan_checks_the_very_end_of_the_text() {
        // Streamed in pieces of three bytes, the loop is found at a check that a scan in
        // larger pieces would step over; the scan of what was streamed must still find it.
        let text = format!("x = [\n{}", "    \"whichever\", \"whom\",\n".repeat(60));
        let mut guard = RepetitionGuard::new();
        let mut streamed = String::new();
        for piece in text.as_bytes().chunks(3) {
            let piece = std::str::from_utf8(piece).expect("ASCII");
            streamed.push_str(piece);
            if guard.push(piece).is_some() {
                break;
            }
        }
        assert!(streamed.len() < text.len(), "the stream was cut");
        assert!(RepetitionGuard::scan(&streamed).is_some());
    }

    #[test]
    fn the_closest_call_is_measured_below_the_thresholds() {
        let mut guard = RepetitionGuard::new();
        assert_eq!(guard.push(&"print('again')\n".repeat(20)), None);
        let closest = guard.closest();
        let substantive = closest.substantive.expect("a repeated line");
        assert_eq!((substantive.repeats, substantive.span_tokens), (20, 75));
        assert_eq!(closest.flood, None);
    }

    #[test]
    fn text_in_other_scripts_is_measured_in_characters() {
        let found = stream(&"重复的句子。".repeat(300)).expect("a loop");
        assert_eq!(found.unit, "重复的句子。");
    }
}
