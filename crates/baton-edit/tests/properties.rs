//! Properties of the applier over generated files: a change to a region that occurs once,
//! sent as SEARCH/REPLACE, as a patch with a wrong line number, or as the whole file, gives
//! exactly the expected file (line endings and final newline kept), and sending it again is
//! already applied and changes nothing.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::fs;

use baton_edit::{
    ApplyOptions, ApplyReport, Edit, EditKind, EditStatus, Hunk, HunkLine, Origin, apply,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// A generated file and one change to it.
#[derive(Debug, Clone)]
struct Case {
    lines: Vec<String>,
    final_newline: bool,
    crlf: bool,
    /// The changed region: `len` lines from `start`; its text occurs once in the file.
    start: usize,
    len: usize,
    /// What replaces the region.
    replacement: Vec<String>,
    /// How far the patch's line number is off (never 0).
    hint_error: isize,
}

impl Case {
    fn region(&self) -> &[String] {
        &self.lines[self.start..self.start + self.len]
    }

    fn render(&self, lines: &[String]) -> String {
        let mut text = lines.join("\n");
        if self.final_newline {
            text.push('\n');
        }
        // A file without line breaks has no line ending to keep: new ones are `\n`.
        if self.crlf && (self.lines.len() > 1 || self.final_newline) {
            text = text.replace('\n', "\r\n");
        }
        text
    }

    fn original(&self) -> String {
        self.render(&self.lines)
    }

    fn expected(&self) -> String {
        let mut lines = self.lines[..self.start].to_vec();
        lines.extend(self.replacement.iter().cloned());
        lines.extend(self.lines[self.start + self.len..].iter().cloned());
        self.render(&lines)
    }

    fn search_replace(&self) -> EditKind {
        EditKind::SearchReplace {
            search: with_newlines(self.region()),
            replace: with_newlines(&self.replacement),
        }
    }

    /// The same change as a hunk with up to two context lines each side.
    fn patch(&self) -> EditKind {
        let before_start = self.start.saturating_sub(2);
        let after_end = (self.start + self.len + 2).min(self.lines.len());
        let mut lines = Vec::new();
        for line in &self.lines[before_start..self.start] {
            lines.push(HunkLine::Context(line.clone()));
        }
        for line in self.region() {
            lines.push(HunkLine::Remove(line.clone()));
        }
        for line in &self.replacement {
            lines.push(HunkLine::Add(line.clone()));
        }
        for line in &self.lines[self.start + self.len..after_end] {
            lines.push(HunkLine::Context(line.clone()));
        }
        let true_start = isize::try_from(before_start + 1).unwrap();
        let hint = usize::try_from((true_start + self.hint_error).max(1)).unwrap();
        EditKind::Patch {
            hunks: vec![Hunk {
                old_start_hint: Some(hint),
                lines,
            }],
        }
    }

    fn whole(&self) -> EditKind {
        EditKind::Whole {
            content: self.expected().replace("\r\n", "\n"),
        }
    }
}

fn with_newlines(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// Lines of printable ASCII, with a few common ones so that files repeat lines.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,24}",
        2 => prop::sample::select(vec!["}", "", "    return x;", "fn main() {", "let a = 1;"])
            .prop_map(str::to_owned),
    ]
}

/// New lines carry a `§`, which generated file lines (ASCII) never hold, optionally around
/// the region's own lines (an edit that inserts next to what it matched).
fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(line(), 1..30),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(lines, final_newline, crlf)| {
            let count = lines.len();
            (
                Just(lines),
                Just(final_newline),
                Just(crlf),
                0..count,
                1..=4usize,
                prop::collection::vec("[ -~]{0,20}".prop_map(|text| format!("§{text}")), 1..4),
                0..3u8,
                prop_oneof![-8..=-1isize, 1..=8isize],
            )
        })
        .prop_map(
            |(lines, final_newline, crlf, start, len, new_lines, keep, hint_error)| {
                let len = len.min(lines.len() - start);
                let region = lines[start..start + len].to_vec();
                let replacement = match keep {
                    0 => new_lines,
                    1 => [new_lines, region].concat(),
                    _ => [region, new_lines].concat(),
                };
                Case {
                    lines,
                    final_newline,
                    crlf,
                    start,
                    len,
                    replacement,
                    hint_error,
                }
            },
        )
        .prop_filter("the region occurs once", |case| {
            let region = case.region();
            case.lines
                .windows(region.len())
                .filter(|window| *window == region)
                .count()
                == 1
        })
        // Without a final newline an empty last line would not exist.
        .prop_filter("the file's lines are what its text says", |case| {
            case.final_newline || !case.lines.last().is_some_and(String::is_empty)
        })
}

fn run(case: &Case, kind: EditKind) -> (ApplyReport, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.txt");
    fs::write(&path, case.original()).unwrap();
    let edit = Edit {
        path: "file.txt".to_owned(),
        kind,
        origin: Origin { index: 0, line: 1 },
        context_file: None,
        example: false,
    };
    let report = apply(std::slice::from_ref(&edit), &ApplyOptions::new(dir.path()));
    let content = fs::read_to_string(&path).unwrap();
    (report, content, dir)
}

fn again(dir: &tempfile::TempDir, kind: EditKind) -> ApplyReport {
    let edit = Edit {
        path: "file.txt".to_owned(),
        kind,
        origin: Origin { index: 0, line: 1 },
        context_file: None,
        example: false,
    };
    apply(&[edit], &ApplyOptions::new(dir.path()))
}

fn applied(report: &ApplyReport) -> bool {
    matches!(report.outcomes[0].status, EditStatus::Applied { .. })
}

fn already(report: &ApplyReport) -> bool {
    matches!(report.outcomes[0].status, EditStatus::AlreadyApplied)
}

proptest! {
    // No regression files: a failure prints its minimal case, which belongs in a named test.
    #![proptest_config(Config { cases: 96, failure_persistence: None, ..Config::default() })]

    #[test]
    fn search_replace_of_a_region_that_occurs_once_gives_exactly_the_expected_file(case in case()) {
        let (report, content, dir) = run(&case, case.search_replace());
        prop_assert!(applied(&report), "{:?}", report.outcomes);
        prop_assert_eq!(&content, &case.expected());

        let second = again(&dir, case.search_replace());
        prop_assert!(already(&second), "{:?}", second.outcomes);
        prop_assert!(!second.written());
        prop_assert_eq!(fs::read_to_string(dir.path().join("file.txt")).unwrap(), content);
    }

    #[test]
    fn a_patch_of_the_same_change_with_a_wrong_line_number_gives_the_same_file(case in case()) {
        let (report, content, dir) = run(&case, case.patch());
        prop_assert!(applied(&report), "{:?}", report.outcomes);
        prop_assert_eq!(&content, &case.expected());

        let second = again(&dir, case.patch());
        prop_assert!(already(&second), "{:?}", second.outcomes);
        prop_assert_eq!(fs::read_to_string(dir.path().join("file.txt")).unwrap(), content);
    }

    #[test]
    fn a_whole_file_edit_gives_its_content_in_the_files_line_endings(case in case()) {
        let (report, content, dir) = run(&case, case.whole());
        prop_assert!(applied(&report), "{:?}", report.outcomes);
        prop_assert_eq!(&content, &case.expected());

        let second = again(&dir, case.whole());
        prop_assert!(already(&second), "{:?}", second.outcomes);
        prop_assert_eq!(fs::read_to_string(dir.path().join("file.txt")).unwrap(), content);
    }
}
