//! What each kind of edit but a patch does to a file's text in memory: whole-file content,
//! create, delete and SEARCH/REPLACE (patches are in `patch.rs`). Each takes the file's
//! current text (`None`: it does not exist) and returns a [`Step`]; nothing here touches
//! the disk.

use crate::fence;
use crate::matching::{self, Doc, Verdict};

use super::MatchMethod;
use super::report::{self, NotFound};
use super::text::{close, open};

/// What an edit does to one file's text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// The new text (`None`: the file is deleted).
    Changed {
        text: Option<String>,
        method: MatchMethod,
    },
    /// The file already holds what the edit would make.
    Already,
    /// The report for the model.
    Failed(String),
}

/// Compares an edit's result with the text it started from: an edit that changes nothing
/// was already applied.
pub(super) fn changed(current: &str, text: String, method: MatchMethod) -> Step {
    if text == current {
        Step::Already
    } else {
        Step::Changed {
            text: Some(text),
            method,
        }
    }
}

pub(super) fn whole(current: Option<&str>, content: &str) -> Step {
    let content = fence::normalize(content);
    match current {
        Some(current) => changed(current, content.into_owned(), MatchMethod::Direct),
        None => Step::Changed {
            text: Some(content.into_owned()),
            method: MatchMethod::Direct,
        },
    }
}

pub(super) fn create(path: &str, current: Option<&str>, content: &str) -> Step {
    let content = fence::normalize(content);
    match current {
        None => Step::Changed {
            text: Some(content.into_owned()),
            method: MatchMethod::Direct,
        },
        Some(current) if current == content => Step::Already,
        Some(_) => Step::Failed(format!(
            "`{path}` already exists, so it cannot be created. To change it, edit it in place \
             (or send its whole new content); to replace it, delete it first."
        )),
    }
}

pub(super) fn delete(current: Option<&str>) -> Step {
    match current {
        None => Step::Already,
        Some(_) => Step::Changed {
            text: None,
            method: MatchMethod::Direct,
        },
    }
}

/// Replaces the one place `search` is (see the crate's matching rules) with `replace`.
pub(super) fn search_replace(
    path: &str,
    current: Option<&str>,
    search: &str,
    replace: &str,
    threshold: f64,
) -> Step {
    let search = fence::normalize(search);
    let replace = fence::normalize(replace);
    // Only a truly empty SEARCH creates: a SEARCH of blank lines looks for blank lines.
    if search.is_empty() {
        return create_from_empty_search(path, current, &replace);
    }
    let Some(current) = current else {
        return Step::Failed(format!(
            "`{path}` does not exist, so the SEARCH text cannot be found in it. To create the \
             file, send an edit with an empty SEARCH section and the whole content as REPLACE."
        ));
    };
    if search == replace {
        return Step::Already;
    }
    let (text, added_newline) = open(current);
    let doc = Doc::new(&text);
    match locate(path, &doc, &search, &replace, threshold) {
        Located::Replace {
            range,
            replacement,
            method,
        } => {
            let mut edited = String::with_capacity(text.len() + replacement.len());
            edited.push_str(&text[..range.start]);
            edited.push_str(&replacement);
            edited.push_str(&text[range.end..]);
            changed(current, close(edited, added_newline), method)
        }
        Located::Already => Step::Already,
        Located::Failed(report) => Step::Failed(report),
    }
}

/// An empty SEARCH creates a file: allowed when it is missing or empty.
fn create_from_empty_search(path: &str, current: Option<&str>, replace: &str) -> Step {
    match current {
        Some(current) if current == replace => Step::Already,
        Some(current) if matching::is_blank(current) => Step::Changed {
            text: Some(replace.to_owned()),
            method: MatchMethod::Direct,
        },
        None => Step::Changed {
            text: Some(replace.to_owned()),
            method: MatchMethod::Direct,
        },
        Some(_) => Step::Failed(format!(
            "`{path}` exists and is not empty, and an empty SEARCH section only creates a file. \
             Put the lines to replace in SEARCH, copied exactly from the file, and send this \
             edit again."
        )),
    }
}

enum Located {
    Replace {
        range: std::ops::Range<usize>,
        replacement: String,
        method: MatchMethod,
    },
    Already,
    Failed(String),
}

/// The rules, in order: (1) exact; (2) ignoring whitespace, the SEARCH as given, then
/// (unless the REPLACE text is there exactly) without its blank edge lines; (3) the REPLACE
/// text present, exactly or ignoring whitespace, means the edit was made before; (4) fuzzy.
/// At every step a SEARCH text found only inside copies of the REPLACE text also means the
/// edit was made before (an edit whose REPLACE extends its SEARCH would otherwise apply
/// again on every run).
fn locate(path: &str, doc: &Doc<'_>, search: &str, replace: &str, threshold: f64) -> Located {
    let subject = format!("`{path}`");
    let replace_lines = fence::split_lines(replace);
    let replace_blank = matching::is_blank(replace);

    // (1) Exact. A SEARCH that ends a line matches whole lines only, so `return x;\n` does not
    // match the tail of `    return x;\n` (that is a whitespace match, with re-indentation).
    let search_lines = fence::split_lines(search);
    let line_shaped = search.ends_with('\n');
    let (places, lines_of_places) = if line_shaped {
        let places = matching::find_lines(&doc.lines, &search_lines);
        let ranges: Vec<_> = places
            .iter()
            .map(|&start| doc.byte_range(start, search_lines.len()))
            .collect();
        let numbers = places.iter().map(|start| start + 1).collect::<Vec<_>>();
        (ranges, numbers)
    } else {
        let ranges: Vec<_> = matching::find_substrings(doc.text, search)
            .into_iter()
            .map(|start| start..start + search.len())
            .collect();
        let numbers = ranges
            .iter()
            .map(|range| doc.line_number(range.start))
            .collect();
        (ranges, numbers)
    };
    if !places.is_empty() {
        let replace_places = if replace_blank {
            Vec::new()
        } else {
            matching::find_substrings(doc.text, replace)
        };
        let starts: Vec<usize> = places.iter().map(|range| range.start).collect();
        if matching::all_inside(&starts, search.len(), &replace_places, replace.len()) {
            return Located::Already;
        }
        if let [range] = places.as_slice() {
            let mut replacement = replace.to_owned();
            // A whole-line SEARCH replaced by a REPLACE that does not end its line would glue
            // the next line onto the last replaced one.
            if line_shaped && !replacement.is_empty() && !replacement.ends_with('\n') {
                replacement.push('\n');
            }
            return Located::Replace {
                range: range.clone(),
                replacement,
                method: MatchMethod::Exact,
            };
        }
        return Located::Failed(report::ambiguous(
            &subject,
            "SEARCH text",
            search,
            &lines_of_places,
            "",
        ));
    }

    // (2) Ignoring whitespace, first the SEARCH as given, then without the blank lines at
    // its edges (models add or drop them). Between the two, the REPLACE text present
    // exactly is stronger evidence than a match that had to drop lines: the edit was made.
    let replace_present = !replace_blank
        && if replace.ends_with('\n') {
            !matching::find_lines(&doc.lines, &replace_lines).is_empty()
        } else {
            !matching::find_substrings(doc.text, replace).is_empty()
        };
    let loose = Loose {
        subject: &subject,
        doc,
        search,
        search_lines: &search_lines,
        replace_lines: &replace_lines,
        replace_blank,
    };
    if let Some(found) = loose.ignoring_whitespace(0, 0) {
        return found;
    }
    let (leading, trailing) = matching::blank_edges(&search_lines);
    if leading + trailing > 0 {
        if replace_present {
            return Located::Already;
        }
        if let Some(found) = loose.ignoring_whitespace(leading, trailing) {
            return found;
        }
    }

    // (3) Before fuzzy: once an edit is made, its REPLACE text is often the closest thing to
    // its SEARCH text, and a fuzzy match would apply the edit a second time. The REPLACE
    // loses as many blank edge lines as the SEARCH did, since a model pads both alike.
    let core = &search_lines[leading..search_lines.len() - trailing];
    let core_squashed: Vec<String> = core.iter().map(|line| matching::squash(line)).collect();
    let replace_core = trim_blank_edges(&replace_lines, leading, trailing);
    if replace_present
        || (!replace_blank
            && !matching::find_squashed(&doc.squashed, &matching::squash_all(replace_core))
                .is_empty())
    {
        return Located::Already;
    }

    // (4) Fuzzy.
    let search_result = matching::fuzzy(&doc.squashed, &core_squashed);
    match search_result.verdict(threshold) {
        Verdict::Unique(window) => {
            let lines = &doc.lines[window.start..window.start + window.len];
            let shift = matching::indent_shift(matching::aligned_pairs(core, lines));
            Located::Replace {
                range: doc.byte_range(window.start, window.len),
                replacement: reindented(replace_core, &shift),
                method: MatchMethod::Fuzzy {
                    similarity: window.similarity,
                },
            }
        }
        Verdict::Ambiguous(first, second) => Located::Failed(report::fuzzy_ambiguous(
            &subject,
            "SEARCH text",
            search,
            doc,
            [&first, &second],
        )),
        Verdict::NotClose => Located::Failed(
            NotFound {
                subject: &subject,
                what: "SEARCH text",
                looked_for: search,
                threshold,
                advice: "Copy the lines to change into SEARCH exactly as they are in the file, \
                         whitespace and comments included, and send this edit again.",
            }
            .write(doc, &search_result),
        ),
    }
}

/// The SEARCH/REPLACE pair for the whitespace-insensitive step.
struct Loose<'a> {
    subject: &'a str,
    doc: &'a Doc<'a>,
    search: &'a str,
    search_lines: &'a [&'a str],
    replace_lines: &'a [&'a str],
    replace_blank: bool,
}

impl Loose<'_> {
    /// Matches the SEARCH lines, without `leading` and `trailing` blank lines (the REPLACE
    /// loses as many), ignoring whitespace; `None` when they occur nowhere.
    fn ignoring_whitespace(&self, leading: usize, trailing: usize) -> Option<Located> {
        let Loose {
            subject,
            doc,
            search,
            search_lines,
            replace_lines,
            replace_blank,
        } = *self;
        let core = &search_lines[leading..search_lines.len() - trailing];
        if core.is_empty() {
            return None;
        }
        let places = matching::find_squashed(&doc.squashed, &matching::squash_all(core));
        if places.is_empty() {
            return None;
        }
        let replace_core = trim_blank_edges(replace_lines, leading, trailing);
        let replace_places = if replace_blank {
            Vec::new()
        } else {
            matching::find_squashed(&doc.squashed, &matching::squash_all(replace_core))
        };
        if matching::all_inside(&places, core.len(), &replace_places, replace_core.len()) {
            return Some(Located::Already);
        }
        if let [start] = places.as_slice() {
            let window = &doc.lines[*start..*start + core.len()];
            let shift = matching::indent_shift(core.iter().copied().zip(window.iter().copied()));
            return Some(Located::Replace {
                range: doc.byte_range(*start, core.len()),
                replacement: reindented(replace_core, &shift),
                method: MatchMethod::IgnoringWhitespace,
            });
        }
        let numbers: Vec<usize> = places.iter().map(|start| start + 1).collect();
        Some(Located::Failed(report::ambiguous(
            subject,
            "SEARCH text",
            search,
            &numbers,
            " ignoring whitespace",
        )))
    }
}

/// `lines` without up to `leading` blank lines at the start and `trailing` at the end.
fn trim_blank_edges<'a>(lines: &'a [&'a str], leading: usize, trailing: usize) -> &'a [&'a str] {
    let (blank_start, blank_end) = matching::blank_edges(lines);
    let start = leading.min(blank_start);
    let end = lines.len() - trailing.min(blank_end).min(lines.len() - start);
    &lines[start..end]
}

/// Replacement lines, re-indented, each ending with `\n`.
fn reindented(lines: &[&str], shift: &matching::Indent) -> String {
    let lines: Vec<String> = lines
        .iter()
        .map(|line| matching::reindent(line, shift))
        .collect();
    fence::join_lines(&lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn applied(step: Step) -> (String, MatchMethod) {
        match step {
            Step::Changed {
                text: Some(text),
                method,
            } => (text, method),
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn whole_line_search_does_not_match_the_tail_of_a_longer_line() {
        let current = "    return x;\n";
        let (text, method) = applied(search_replace(
            "a.rs",
            Some(current),
            "return x;\n",
            "return y;\n",
            0.9,
        ));
        assert_eq!(text, "    return y;\n");
        assert_eq!(method, MatchMethod::IgnoringWhitespace);
    }

    #[test]
    fn substring_search_replaces_inside_a_line() {
        let (text, method) = applied(search_replace(
            "a.rs",
            Some("let a = 1;\n"),
            "= 1",
            "= 2",
            0.9,
        ));
        assert_eq!(text, "let a = 2;\n");
        assert_eq!(method, MatchMethod::Exact);
    }

    #[test]
    fn blank_edge_lines_of_search_are_tolerated() {
        let current = "a\nb\nc\n";
        let (text, _) = applied(search_replace(
            "a.rs",
            Some(current),
            "\nb \n\n",
            "\nB\n\n",
            0.9,
        ));
        assert_eq!(text, "a\nB\nc\n");
    }

    #[test]
    fn a_replace_that_extends_its_search_is_not_applied_twice() {
        let first = applied(search_replace("a.rs", Some("a\nb\n"), "a\n", "a\nx\n", 0.9)).0;
        assert_eq!(first, "a\nx\nb\n");
        assert_eq!(
            search_replace("a.rs", Some(&first), "a\n", "a\nx\n", 0.9),
            Step::Already
        );
    }

    #[test]
    fn empty_search_creates_only_missing_or_empty_files() {
        assert_eq!(
            applied(search_replace("a.rs", None, "", "new\n", 0.9)).0,
            "new\n"
        );
        assert_eq!(
            search_replace("a.rs", Some("new\n"), "", "new\n", 0.9),
            Step::Already
        );
        assert!(matches!(
            search_replace("a.rs", Some("old\n"), "", "new\n", 0.9),
            Step::Failed(_)
        ));
    }
}
