//! Finding where an edit's text is in a file, in three steps of decreasing strictness: exact
//! (whole lines, or a substring when the text does not end a line), ignoring whitespace
//! (lines compared trimmed with inner runs collapsed), and fuzzy (the best window of about
//! the text's length by similarity, accepted only when it is clearly better than any other
//! place). Also the re-indentation of replacement lines when a match shows the model's
//! indentation off by a constant.
//!
//! Everything here is pure: it works on lines in memory and knows nothing of files or edits.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp};

/// Files longer than this are not searched approximately: the report says so instead.
pub(crate) const FUZZY_MAX_FILE_LINES: usize = 20_000;
/// SEARCH texts longer than this are not matched approximately (their windows are costly,
/// and a model that copies hundreds of lines can copy them exactly).
pub(crate) const FUZZY_MAX_SEARCH_LINES: usize = 500;
/// SEARCH texts shorter than this (non-blank characters once whitespace is squashed) are not
/// matched approximately: a one-character typo in a short line is still 90% similar to a
/// different line, so similarity says little.
pub(crate) const FUZZY_MIN_SEARCH_CHARS: usize = 16;
/// How much better the best fuzzy window must be than the best one elsewhere (not
/// overlapping it) to be taken as the place meant.
pub(crate) const FUZZY_MARGIN: f64 = 0.05;
/// How many places the cheap pre-filter hands to the exact similarity measure.
const FUZZY_PLACES: usize = 6;
/// The wall-clock budget of the exact similarity measure for one SEARCH; a search that runs
/// out is reported, never accepted (a cut-short diff underrates similarity, which could make
/// a wrong window look unique).
const FUZZY_TIME_BUDGET: Duration = Duration::from_secs(2);

/// A line with leading and trailing whitespace removed and inner runs collapsed to one space.
pub(crate) fn squash(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each line [`squash`]ed.
pub(crate) fn squash_all(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| squash(line)).collect()
}

pub(crate) fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// How many blank lines `lines` starts and ends with (counting each blank line once).
pub(crate) fn blank_edges(lines: &[&str]) -> (usize, usize) {
    let leading = lines.iter().take_while(|line| is_blank(line)).count();
    let trailing = lines[leading..]
        .iter()
        .rev()
        .take_while(|line| is_blank(line))
        .count();
    (leading, trailing)
}

/// Every line index where `needle` starts in `hay` with lines compared by `eq`;
/// overlapping places included.
fn find_by<T, U>(hay: &[T], needle: &[U], eq: impl Fn(&T, &U) -> bool) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    (0..=hay.len() - needle.len())
        .filter(|&start| {
            hay[start..start + needle.len()]
                .iter()
                .zip(needle)
                .all(|(line, wanted)| eq(line, wanted))
        })
        .collect()
}

/// Every line index where `needle` occurs in `hay`, lines compared exactly.
pub(crate) fn find_lines(hay: &[&str], needle: &[&str]) -> Vec<usize> {
    find_by(hay, needle, |line, wanted| line == wanted)
}

/// Every line index where `needle` occurs in `hay`, lines compared squashed (both sides
/// already [`squash`]ed).
pub(crate) fn find_squashed(hay: &[String], needle: &[String]) -> Vec<usize> {
    find_by(hay, needle, |line, wanted| line == wanted)
}

/// Every byte offset where `needle` occurs in `hay`, overlapping places included.
pub(crate) fn find_substrings(hay: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = hay.get(from..).and_then(|rest| rest.find(needle)) {
        let at = from + offset;
        found.push(at);
        // Step one character, not one byte, to stay on a char boundary.
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// Whether every place in `inner` (starts, each `inner_len` long) lies inside some place in
/// `outer` (starts, each `outer_len` long). True when a SEARCH text only occurs inside the
/// REPLACE text already in the file: the edit was made before.
pub(crate) fn all_inside(
    inner: &[usize],
    inner_len: usize,
    outer: &[usize],
    outer_len: usize,
) -> bool {
    !outer.is_empty()
        && inner.iter().all(|&start| {
            outer
                .iter()
                .any(|&place| place <= start && start + inner_len <= place + outer_len)
        })
}

/// A file's text split for matching. The text ends with `\n` (or is empty).
pub(crate) struct Doc<'a> {
    pub(crate) text: &'a str,
    pub(crate) lines: Vec<&'a str>,
    pub(crate) squashed: Vec<String>,
    /// The byte offset where each line starts, and the text's length last.
    starts: Vec<usize>,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let lines = crate::fence::split_lines(text);
        let squashed = squash_all(&lines);
        let mut starts = Vec::with_capacity(lines.len() + 1);
        let mut offset = 0;
        for line in &lines {
            starts.push(offset);
            offset += line.len() + 1;
        }
        starts.push(text.len());
        Doc {
            text,
            lines,
            squashed,
            starts,
        }
    }

    /// The bytes of `len` lines from line index `start`, their `\n`s included.
    pub(crate) fn byte_range(&self, start: usize, len: usize) -> Range<usize> {
        let end = (start + len).min(self.lines.len());
        let start = start.min(end);
        self.starts[start]..self.starts[end]
    }

    /// The 1-based line number of a byte offset.
    pub(crate) fn line_number(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }
}

/// A window of lines and how similar it is to the text looked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    /// 0-based index of its first line.
    pub(crate) start: usize,
    pub(crate) len: usize,
    /// 0..=1: similar's ratio of the squashed texts, by characters.
    pub(crate) similarity: f64,
}

impl Window {
    fn overlaps(&self, other: &Window) -> bool {
        self.start < other.start + other.len && other.start < self.start + self.len
    }
}

/// Why a fuzzy search was skipped or may have missed a better place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FuzzyLimit {
    FileTooLong { lines: usize },
    SearchTooLong { lines: usize },
    SearchTooShort,
    OutOfTime,
}

impl FuzzyLimit {
    /// The sentence for the report sent back to the model.
    pub(crate) fn explain(&self) -> String {
        match self {
            FuzzyLimit::FileTooLong { lines } => format!(
                "The file has {lines} lines, more than the {FUZZY_MAX_FILE_LINES} searched for \
                 approximate matches, so no closest lines are shown."
            ),
            FuzzyLimit::SearchTooLong { lines } => format!(
                "The text has {lines} lines, more than the {FUZZY_MAX_SEARCH_LINES} matched \
                 approximately: split it into smaller edits."
            ),
            FuzzyLimit::SearchTooShort => {
                "The text is too short to be matched approximately, so it must match exactly \
                 (whitespace aside)."
                    .to_owned()
            }
            FuzzyLimit::OutOfTime => {
                "The approximate search ran out of time, so it was not used.".to_owned()
            }
        }
    }
}

/// What the fuzzy search found.
#[derive(Debug, Clone, Default)]
pub(crate) struct FuzzySearch {
    pub(crate) best: Option<Window>,
    /// The best window not overlapping `best`.
    pub(crate) second: Option<Window>,
    pub(crate) limit: Option<FuzzyLimit>,
}

/// Whether a fuzzy search names one place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    Unique(Window),
    /// Two places, not overlapping, both at or near the best similarity.
    Ambiguous(Window, Window),
    NotClose,
}

impl FuzzySearch {
    pub(crate) fn verdict(&self, threshold: f64) -> Verdict {
        let Some(best) = self.best else {
            return Verdict::NotClose;
        };
        // A threshold that is NaN never compares true: fuzzy matching is then off.
        let reaches = best.similarity >= threshold;
        if self.limit.is_some() || !reaches {
            return Verdict::NotClose;
        }
        match self.second {
            Some(second) if best.similarity - second.similarity < FUZZY_MARGIN => {
                Verdict::Ambiguous(best, second)
            }
            _ => Verdict::Unique(best),
        }
    }
}

/// Looks for the window of `hay` most similar to `needle` (both squashed lines).
///
/// Windows are `needle.len()` lines give or take a few, since models drop or add a line. A
/// cheap score (how many of the needle's character pairs a window holds) ranks every window
/// in one sliding pass; the few best places, spaced apart, are then measured exactly with
/// similar's character ratio on the joined lines, one line around and every window size.
pub(crate) fn fuzzy(hay: &[String], needle: &[String]) -> FuzzySearch {
    let mut search = FuzzySearch::default();
    if hay.len() > FUZZY_MAX_FILE_LINES {
        search.limit = Some(FuzzyLimit::FileTooLong { lines: hay.len() });
        return search;
    }
    if needle.len() > FUZZY_MAX_SEARCH_LINES {
        search.limit = Some(FuzzyLimit::SearchTooLong {
            lines: needle.len(),
        });
        return search;
    }
    if hay.is_empty() || needle.is_empty() {
        return search;
    }
    let needle_text: Vec<char> = needle.join("\n").chars().collect();
    if needle_text.iter().filter(|c| !c.is_whitespace()).count() < FUZZY_MIN_SEARCH_CHARS {
        // Still measured, so the report can show the closest lines; never accepted.
        search.limit = Some(FuzzyLimit::SearchTooShort);
    }
    let slack = (needle.len() / 10).clamp(1, 3);
    let sizes = needle.len().saturating_sub(slack).max(1)..=(needle.len() + slack).min(hay.len());
    let places = prefilter(hay, needle, sizes.clone());

    let deadline = Instant::now() + FUZZY_TIME_BUDGET;
    let mut seen = HashSet::new();
    let mut windows = Vec::new();
    'places: for place in places {
        for start in place.saturating_sub(1)..=place + 1 {
            for len in sizes.clone() {
                if start + len > hay.len() || !seen.insert((start, len)) {
                    continue;
                }
                let window: Vec<char> = hay[start..start + len].join("\n").chars().collect();
                let ops = similar::capture_diff_slices_deadline(
                    Algorithm::Myers,
                    &needle_text,
                    &window,
                    Some(deadline),
                );
                if Instant::now() >= deadline {
                    search.limit = Some(FuzzyLimit::OutOfTime);
                    break 'places;
                }
                let ratio = similar::diff_ratio(&ops, needle_text.len(), window.len());
                windows.push(Window {
                    start,
                    len,
                    similarity: f64::from(ratio),
                });
            }
        }
    }
    // Best similarity; among equals the size closest to the needle's, then the first.
    let rank = |window: &Window| {
        (
            window.similarity,
            std::cmp::Reverse(window.len.abs_diff(needle.len())),
            std::cmp::Reverse(window.start),
        )
    };
    let best_of = |candidates: &mut dyn Iterator<Item = &Window>| {
        candidates
            .max_by(|a, b| {
                rank(a)
                    .partial_cmp(&rank(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .copied()
    };
    search.best = best_of(&mut windows.iter());
    if let Some(best) = search.best {
        search.second = best_of(&mut windows.iter().filter(|window| !window.overlaps(&best)));
    }
    search
}

/// The start lines of the [`FUZZY_PLACES`] windows with the best cheap score, at least half
/// the needle's length apart so that one place does not crowd out the runner-up that the
/// uniqueness check needs.
fn prefilter(
    hay: &[String],
    needle: &[String],
    sizes: std::ops::RangeInclusive<usize>,
) -> Vec<usize> {
    let pairs = |line: &str| {
        let chars: Vec<char> = line.chars().collect();
        chars
            .windows(2)
            .map(|pair| (pair[0], pair[1]))
            .collect::<Vec<_>>()
    };
    let mut index: HashMap<(char, char), usize> = HashMap::new();
    let mut wanted: Vec<i64> = Vec::new();
    for line in needle {
        for pair in pairs(line) {
            let next = index.len();
            let slot = *index.entry(pair).or_insert(next);
            if slot == wanted.len() {
                wanted.push(0);
            }
            wanted[slot] += 1;
        }
    }
    let wanted_total: i64 = wanted.iter().sum();
    // Per hay line: the needle's pairs it holds (by slot), and how many pairs it has at all.
    let hay_pairs: Vec<(Vec<usize>, i64)> = hay
        .iter()
        .map(|line| {
            let all = pairs(line);
            let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
            (
                all.iter()
                    .filter_map(|pair| index.get(pair).copied())
                    .collect(),
                total,
            )
        })
        .collect();

    let mut score = vec![f64::MIN; hay.len()];
    for len in sizes {
        let mut have = vec![0i64; wanted.len()];
        let mut shared = 0i64;
        let mut total = 0i64;
        let add =
            |line: usize, have: &mut Vec<i64>, shared: &mut i64, total: &mut i64, sign: i64| {
                let (slots, count) = &hay_pairs[line];
                *total += sign * count;
                for &slot in slots {
                    if sign > 0 {
                        if have[slot] < wanted[slot] {
                            *shared += 1;
                        }
                        have[slot] += 1;
                    } else {
                        have[slot] -= 1;
                        if have[slot] < wanted[slot] {
                            *shared -= 1;
                        }
                    }
                }
            };
        for line in 0..len {
            add(line, &mut have, &mut shared, &mut total, 1);
        }
        for (start, best_score) in score.iter_mut().enumerate().take(hay.len() - len + 1) {
            let denominator = wanted_total + total;
            let dice = if denominator == 0 {
                0.0
            } else {
                2.0 * shared as f64 / denominator as f64
            };
            if dice > *best_score {
                *best_score = dice;
            }
            if start + len < hay.len() {
                add(start, &mut have, &mut shared, &mut total, -1);
                add(start + len, &mut have, &mut shared, &mut total, 1);
            }
        }
    }
    let mut order: Vec<usize> = (0..hay.len())
        .filter(|&start| score[start] > f64::MIN)
        .collect();
    order.sort_by(|&a, &b| {
        score[b]
            .partial_cmp(&score[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let spacing = (needle.len() / 2).max(1);
    let mut places: Vec<usize> = Vec::new();
    for start in order {
        if places.len() == FUZZY_PLACES {
            break;
        }
        if places.iter().all(|&place| place.abs_diff(start) >= spacing) {
            places.push(start);
        }
    }
    places
}

/// A constant change of indentation between the model's lines and the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Indent {
    Keep,
    /// The file's lines have this more leading whitespace.
    Add(String),
    /// The file's lines have this many fewer leading whitespace characters.
    Remove(usize),
}

fn leading_whitespace(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The indentation change shared by every pair of (model line, file line) that matched,
/// blank lines aside. When the pairs disagree, or differ in kind (tabs for spaces), there
/// is no constant offset to carry over, and the replacement is taken as written: models
/// often lose the indent of only the first line of a block, which a first-line offset would
/// then wrongly spread over every line.
pub(crate) fn indent_shift<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Indent {
    let mut shift = None;
    for (model, file) in pairs {
        if is_blank(model) || is_blank(file) {
            continue;
        }
        let (model, file) = (leading_whitespace(model), leading_whitespace(file));
        let this = if model == file {
            Indent::Keep
        } else if let Some(extra) = file.strip_prefix(model) {
            Indent::Add(extra.to_owned())
        } else if let Some(extra) = model.strip_prefix(file) {
            Indent::Remove(extra.chars().count())
        } else {
            return Indent::Keep;
        };
        match &shift {
            None => shift = Some(this),
            Some(previous) if *previous == this => {}
            Some(_) => return Indent::Keep,
        }
    }
    shift.unwrap_or(Indent::Keep)
}

/// The (model line, file line) pairs that are equal ignoring whitespace, aligned by a line
/// diff so that a dropped or added line does not shift every pair after it.
pub(crate) fn aligned_pairs<'a>(model: &[&'a str], file: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let model_squashed: Vec<String> = model.iter().map(|line| squash(line)).collect();
    let file_squashed: Vec<String> = file.iter().map(|line| squash(line)).collect();
    let ops = similar::capture_diff_slices(Algorithm::Myers, &model_squashed, &file_squashed);
    let mut pairs = Vec::new();
    for op in ops {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            for offset in 0..len {
                pairs.push((model[old_index + offset], file[new_index + offset]));
            }
        }
    }
    pairs
}

/// `line` moved by `shift`; blank lines stay as they are (no trailing whitespace added).
pub(crate) fn reindent(line: &str, shift: &Indent) -> String {
    if is_blank(line) {
        return line.to_owned();
    }
    match shift {
        Indent::Keep => line.to_owned(),
        Indent::Add(extra) => format!("{extra}{line}"),
        Indent::Remove(count) => {
            let available = leading_whitespace(line).chars().count();
            line.chars().skip((*count).min(available)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn squash_trims_and_collapses_whitespace() {
        assert_eq!(squash("\t  let  x =\t1;  "), "let x = 1;");
    }

    #[test]
    fn substrings_are_found_overlapping_and_on_char_boundaries() {
        assert_eq!(find_substrings("aaa", "aa"), vec![0, 1]);
        assert_eq!(find_substrings("éaéa", "a"), vec![2, 5]);
    }

    #[test]
    fn doc_maps_lines_to_bytes_and_back() {
        let doc = Doc::new("ab\ncd\nef\n");
        assert_eq!(doc.byte_range(1, 2), 3..9);
        assert_eq!(doc.line_number(3), 2);
        assert_eq!(doc.line_number(4), 2);
    }

    #[test]
    fn blank_edges_count_each_blank_line_once() {
        assert_eq!(blank_edges(&["", "a", " ", ""]), (1, 2));
        assert_eq!(blank_edges(&["", " "]), (2, 0));
    }

    #[test]
    fn consistent_offsets_reindent_and_inconsistent_ones_keep() {
        assert_eq!(
            indent_shift([("x", "    x"), ("  y", "      y")]),
            Indent::Add("    ".to_owned())
        );
        assert_eq!(indent_shift([("        x", "    x")]), Indent::Remove(4));
        assert_eq!(
            indent_shift([("x", "    x"), ("    y", "    y")]),
            Indent::Keep
        );
        assert_eq!(indent_shift([("    x", "\tx")]), Indent::Keep);
        assert_eq!(reindent("   z", &Indent::Remove(4)), "z");
        assert_eq!(reindent("", &Indent::Add("  ".to_owned())), "");
    }

    #[test]
    fn fuzzy_finds_a_unique_near_copy() {
        let hay = squash_all(&[
            "fn alpha() {",
            "    let total = compute_total(items, tax_rate);",
            "    println!(\"{total}\");",
            "}",
            "fn beta() {}",
        ]);
        let needle = squash_all(&[
            "let total = compute_totl(items, tax_rate);",
            "println!(\"{total}\");",
        ]);
        let search = fuzzy(&hay, &needle);
        match search.verdict(0.9) {
            Verdict::Unique(window) => {
                assert_eq!((window.start, window.len), (1, 2));
                assert!(window.similarity > 0.95, "{window:?}");
            }
            other => panic!("expected a unique match, got {other:?}"),
        }
    }

    #[test]
    fn fuzzy_reports_two_equally_close_places_as_ambiguous() {
        let hay = squash_all(&[
            "let total = compute_total(items, tax_rate);",
            "unrelated();",
            "unrelated_again();",
            "let total = compute_total(items, tax_rate);",
        ]);
        let needle = squash_all(&["let total = compute_totl(items, tax_rate);"]);
        assert!(matches!(
            fuzzy(&hay, &needle).verdict(0.9),
            Verdict::Ambiguous(..)
        ));
    }

    #[test]
    fn fuzzy_skips_files_over_the_line_cap() {
        let hay = vec!["x".to_owned(); FUZZY_MAX_FILE_LINES + 1];
        let search = fuzzy(&hay, &squash_all(&["something long enough to match"]));
        assert_eq!(
            search.limit,
            Some(FuzzyLimit::FileTooLong {
                lines: FUZZY_MAX_FILE_LINES + 1
            })
        );
        assert_eq!(search.verdict(0.0), Verdict::NotClose);
    }

    #[test]
    fn short_searches_are_measured_but_never_accepted() {
        let hay = squash_all(&["x = 1", "y = 2"]);
        let search = fuzzy(&hay, &squash_all(&["x = 2"]));
        assert!(search.best.is_some());
        assert_eq!(search.verdict(0.0), Verdict::NotClose);
    }
}
