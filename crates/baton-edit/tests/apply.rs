//! The applier on real files in temp directories: how SEARCH text and hunks are found (exact,
//! ignoring whitespace, fuzzy), what fails and what the report then says, already-applied
//! edits, the file properties a write keeps (line endings, BOM, mode, final newline), and the
//! all-or-nothing, partial and dry-run rules for a reply.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use baton_edit::{
    ApplyOptions, ApplyReport, Edit, EditKind, EditStatus, FileStatus, Hunk, HunkLine, MatchMethod,
    apply,
};
use pretty_assertions::assert_eq;

mod support;
use support::{edits, sr, whole};

/// A root directory with files in it.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(files: &[(&str, &str)]) -> Self {
        let tree = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        for (path, content) in files {
            tree.write(path, content);
        }
        tree
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let path = self.root().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.root().join(path)).unwrap()
    }

    fn mode(&self, path: &str) -> u32 {
        fs::metadata(self.root().join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    fn options(&self) -> ApplyOptions {
        ApplyOptions::new(self.root())
    }

    fn apply(&self, edits: &[Edit]) -> ApplyReport {
        apply(edits, &self.options())
    }

    /// Every file under the root and its bytes.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![self.root().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let name = path
                        .strip_prefix(self.root())
                        .unwrap()
                        .display()
                        .to_string();
                    files.insert(name, fs::read(&path).unwrap());
                }
            }
        }
        files
    }
}

/// A hunk from diff body lines (` `, `-`, `+` markers).
fn hunk(hint: Option<usize>, body: &str) -> Hunk {
    let lines = body
        .lines()
        .map(|line| {
            let (marker, text) = line.split_at(1);
            match marker {
                " " => HunkLine::Context(text.to_owned()),
                "-" => HunkLine::Remove(text.to_owned()),
                "+" => HunkLine::Add(text.to_owned()),
                other => panic!("bad marker {other:?}"),
            }
        })
        .collect();
    Hunk {
        old_start_hint: hint,
        lines,
    }
}

fn patch(hunks: Vec<Hunk>) -> EditKind {
    EditKind::Patch { hunks }
}

/// Each outcome as a word, to compare whole reports at a glance.
fn statuses(report: &ApplyReport) -> Vec<&'static str> {
    report
        .outcomes
        .iter()
        .map(|outcome| match outcome.status {
            EditStatus::Applied { .. } => "applied",
            EditStatus::AlreadyApplied => "already",
            EditStatus::Failed { .. } => "failed",
            EditStatus::Refused { .. } => "refused",
            EditStatus::Dropped { .. } => "dropped",
        })
        .collect()
}

fn method(report: &ApplyReport, index: usize) -> MatchMethod {
    match &report.outcomes[index].status {
        EditStatus::Applied { method } => *method,
        other => panic!("edit {index} did not apply: {other:?}"),
    }
}

fn failure(report: &ApplyReport, index: usize) -> &str {
    match &report.outcomes[index].status {
        EditStatus::Failed { report } => report,
        other => panic!("edit {index} did not fail: {other:?}"),
    }
}

const RUN: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";

#[test]
fn an_exact_search_replaces_just_those_lines_and_reports_a_diffstat() {
    let tree = Tree::new(&[("src/main.rs", RUN)]);
    let report = tree.apply(&edits(vec![(
        "src/main.rs",
        sr("    let x = 1;\n", "    let x = 2;\n    let y = 3;\n"),
    )]));
    assert_eq!(method(&report, 0), MatchMethod::Exact);
    assert_eq!(
        tree.read("src/main.rs"),
        "fn main() {\n    let x = 2;\n    let y = 3;\n    println!(\"{x}\");\n}\n"
    );
    assert!(report.written());
    assert!(report.outcomes[0].committed);
    assert_eq!(report.files.len(), 1);
    let file = &report.files[0];
    assert_eq!(
        (
            file.path.as_str(),
            file.status,
            file.insertions,
            file.deletions,
            file.written
        ),
        ("src/main.rs", FileStatus::Modified, 2, 1, true)
    );
    assert_eq!(report.feedback(), "");
}

#[test]
fn a_search_differing_in_whitespace_matches_and_its_replacement_is_reindented() {
    let file = "impl Thing {\n    fn run(&self) {\n        if self.ready {\n            self.go();\n        }\n    }\n}\n";
    let tree = Tree::new(&[("thing.rs", file)]);
    // The model lost one level of indentation and doubled a space.
    let search = "    if self.ready  {\n        self.go();\n    }\n";
    let replace =
        "    if self.ready && self.armed {\n        self.go();\n        self.log();\n    }\n";
    let report = tree.apply(&edits(vec![("thing.rs", sr(search, replace))]));
    assert_eq!(method(&report, 0), MatchMethod::IgnoringWhitespace);
    assert_eq!(
        tree.read("thing.rs"),
        "impl Thing {\n    fn run(&self) {\n        if self.ready && self.armed {\n            self.go();\n            self.log();\n        }\n    }\n}\n"
    );
}

#[test]
fn a_search_with_lost_blank_edge_lines_still_matches_ignoring_whitespace() {
    let tree = Tree::new(&[("a.py", "x = 1\n\ny = 2\nz = 3\n")]);
    let report = tree.apply(&edits(vec![(
        "a.py",
        sr("\n\ny = 2\n\n", "\n\ny = 20\n\n"),
    )]));
    assert_eq!(method(&report, 0), MatchMethod::IgnoringWhitespace);
    assert_eq!(tree.read("a.py"), "x = 1\n\ny = 20\nz = 3\n");
}

const TOTAL: &str = "fn total(items: &[Item]) -> u64 {\n    let subtotal = items.iter().map(|item| item.price).sum::<u64>();\n    let tax = subtotal * TAX_RATE / 100;\n    subtotal + tax\n}\n\nfn other() {}\n";

#[test]
fn a_search_with_a_typo_applies_fuzzily_at_the_closest_lines() {
    let tree = Tree::new(&[("total.rs", TOTAL)]);
    let search = "    let subtotal = items.iter().map(|item| item.prise).sum::<u64>();\n    let tax = subtotal * TAX_RATE / 100;\n";
    let replace = "    let subtotal = items.iter().map(|item| item.price).sum::<u64>();\n    let tax = subtotal * TAX_RATE / 1000;\n";
    let report = tree.apply(&edits(vec![("total.rs", sr(search, replace))]));
    let MatchMethod::Fuzzy { similarity } = method(&report, 0) else {
        panic!("expected a fuzzy match: {:?}", report.outcomes[0]);
    };
    assert!((0.9..1.0).contains(&similarity), "{similarity}");
    assert_eq!(tree.read("total.rs"), TOTAL.replace("/ 100;", "/ 1000;"));
}

#[test]
fn fuzzy_matching_is_off_when_the_threshold_cannot_be_reached() {
    let tree = Tree::new(&[("total.rs", TOTAL)]);
    let search = "    let tax = subtotal * TAX_RATES / 100;\n";
    let mut options = tree.options();
    options.fuzzy_threshold = 1.01;
    let report = apply(
        &edits(vec![("total.rs", sr(search, "    let tax = 0;\n"))]),
        &options,
    );
    assert_eq!(statuses(&report), vec!["failed"]);
    assert_eq!(tree.read("total.rs"), TOTAL);
}

#[test]
fn a_search_occurring_twice_fails_naming_both_lines_and_writes_nothing() {
    let file = "a();\nlog(\"x\");\nb();\nlog(\"x\");\nc();\n";
    let tree = Tree::new(&[("lib.rs", file)]);
    let report = tree.apply(&edits(vec![(
        "lib.rs",
        sr("log(\"x\");\n", "log(\"y\");\n"),
    )]));
    let text = failure(&report, 0);
    assert!(text.contains("`lib.rs`"), "{text}");
    assert!(text.contains("found the SEARCH text 2 times"), "{text}");
    assert!(text.contains("lines 2 and 4"), "{text}");
    assert!(text.contains("log(\"x\");"), "{text}");
    assert_eq!(tree.read("lib.rs"), file);
    assert!(!report.written());
    assert!(report.files.is_empty());
}

#[test]
fn two_equally_close_fuzzy_places_fail_as_ambiguous() {
    let line = "    configure_the_widget(alpha, beta, gamma);\n";
    let file = format!("fn one() {{\n{line}}}\nfn two() {{\n{line}}}\n");
    let tree = Tree::new(&[("w.rs", &file)]);
    let search = "    configure_the_widgets(alpha, beta, gamma);\n";
    let report = tree.apply(&edits(vec![(
        "w.rs",
        sr(search, "    configure_the_widget(alpha, beta, delta);\n"),
    )]));
    let text = failure(&report, 0);
    assert!(
        text.contains("two places are about equally close"),
        "{text}"
    );
    assert!(
        text.contains("line 2 ") && text.contains("line 5 "),
        "{text}"
    );
    assert_eq!(tree.read("w.rs"), file);
}

#[test]
fn a_search_not_found_reports_the_path_the_search_and_the_closest_lines() {
    let file =
        "use std::io;\n\nfn answer() -> u32 {\n    let value = compute(41);\n    value + 1\n}\n";
    let tree = Tree::new(&[("src/calc.rs", file)]);
    let search = "    let result = calculate(41);\n    result + 2\n";
    let report = tree.apply(&edits(vec![("src/calc.rs", sr(search, "    42\n"))]));
    let text = failure(&report, 0);
    assert!(
        text.starts_with("`src/calc.rs`: the SEARCH text could not be found"),
        "{text}"
    );
    assert!(text.contains(search), "{text}");
    assert!(text.contains("The closest lines are lines 4-5 ("), "{text}");
    assert!(text.contains("% similar; 90% is needed"), "{text}");
    assert!(
        text.contains("    let value = compute(41);\n    value + 1\n"),
        "{text}"
    );
    assert!(
        text.contains("Copy the lines to change into SEARCH exactly"),
        "{text}"
    );
    assert_eq!(tree.read("src/calc.rs"), file);
}

#[test]
fn each_kind_of_edit_already_in_place_is_already_applied() {
    let tree = Tree::new(&[
        ("sr.rs", "let x = 2;\n"),
        ("whole.txt", "same\r\ncontent\r\n"),
        ("created.txt", "new\n"),
        ("patched.rs", "a\nB\nc\n"),
    ]);
    let before = tree.snapshot();
    let report = tree.apply(&edits(vec![
        ("sr.rs", sr("let x = 1;\n", "let x = 2;\n")),
        ("sr.rs", sr("same\n", "same\n")),
        ("whole.txt", whole("same\ncontent\n")),
        (
            "created.txt",
            EditKind::Create {
                content: "new\n".to_owned(),
            },
        ),
        ("gone.txt", EditKind::Delete),
        ("patched.rs", patch(vec![hunk(Some(1), " a\n-b\n+B\n c\n")])),
    ]));
    assert_eq!(statuses(&report), vec!["already"; 6]);
    assert_eq!(tree.snapshot(), before);
    assert!(!report.written());
    assert!(report.files.is_empty());
    assert_eq!(report.feedback(), "");
}

#[test]
fn applying_the_same_edits_twice_changes_nothing_the_second_time() {
    let tree = Tree::new(&[
        ("main.rs", RUN),
        ("old.txt", "bye\n"),
        ("list.txt", "one\ntwo\nthree\n"),
    ]);
    let reply = edits(vec![
        (
            "main.rs",
            sr("    let x = 1;\n", "    let x = 1;\n    let y = x;\n"),
        ),
        (
            "notes/new.md",
            EditKind::Create {
                content: "# Notes\n".to_owned(),
            },
        ),
        ("old.txt", EditKind::Delete),
        (
            "list.txt",
            patch(vec![hunk(Some(2), " one\n-two\n+2\n three\n")]),
        ),
        ("whole.txt", whole("all of it\n")),
    ]);
    let first = tree.apply(&reply);
    assert_eq!(statuses(&first), vec!["applied"; 5]);
    let after_first = tree.snapshot();
    let second = tree.apply(&reply);
    assert_eq!(statuses(&second), vec!["already"; 5]);
    assert_eq!(tree.snapshot(), after_first);
    assert!(!second.written());
    assert_eq!(
        tree.read("main.rs"),
        RUN.replace("= 1;\n", "= 1;\n    let y = x;\n")
    );
}

#[test]
fn crlf_files_stay_crlf() {
    let tree = Tree::new(&[("win.txt", "a\r\nb\r\nc\r\n")]);
    let report = tree.apply(&edits(vec![("win.txt", sr("b\n", "B\nB2\n"))]));
    assert_eq!(method(&report, 0), MatchMethod::Exact);
    assert_eq!(tree.read("win.txt"), "a\r\nB\r\nB2\r\nc\r\n");
}

#[test]
fn a_bom_is_kept() {
    let tree = Tree::new(&[("bom.cs", "\u{feff}class A {}\r\n")]);
    tree.apply(&edits(vec![("bom.cs", sr("class A {}\n", "class B {}\n"))]));
    assert_eq!(tree.read("bom.cs"), "\u{feff}class B {}\r\n");
}

#[test]
fn an_executable_script_stays_executable() {
    let tree = Tree::new(&[("run.sh", "#!/bin/sh\necho hi\n")]);
    let path = tree.root().join("run.sh");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    let report = tree.apply(&edits(vec![("run.sh", sr("echo hi\n", "echo bye\n"))]));
    assert_eq!(statuses(&report), vec!["applied"]);
    assert_eq!(tree.read("run.sh"), "#!/bin/sh\necho bye\n");
    assert_eq!(tree.mode("run.sh"), 0o755);
}

#[test]
fn a_missing_final_newline_stays_missing() {
    let tree = Tree::new(&[("a.txt", "one\ntwo"), ("b.txt", "one\ntwo")]);
    let report = tree.apply(&edits(vec![
        ("a.txt", sr("two\n", "2\n")),
        ("b.txt", patch(vec![hunk(Some(1), " one\n-two\n+2\n+3\n")])),
    ]));
    assert_eq!(statuses(&report), vec!["applied", "applied"]);
    assert_eq!(tree.read("a.txt"), "one\n2");
    assert_eq!(tree.read("b.txt"), "one\n2\n3");
}

#[test]
fn new_files_in_new_directories_get_the_umask_mode_and_lf_endings() {
    let tree = Tree::new(&[]);
    let report = tree.apply(&edits(vec![("deep/er/new.txt", whole("hi\nthere\n"))]));
    assert_eq!(statuses(&report), vec!["applied"]);
    assert_eq!(tree.read("deep/er/new.txt"), "hi\nthere\n");
    // A file created the ordinary way shows what the umask gives.
    tree.write("deep/er/reference.txt", "");
    assert_eq!(
        tree.mode("deep/er/new.txt"),
        tree.mode("deep/er/reference.txt")
    );
    let file = &report.files[0];
    assert_eq!(
        (
            file.path.as_str(),
            file.status,
            file.insertions,
            file.deletions
        ),
        ("deep/er/new.txt", FileStatus::Created, 2, 0)
    );
}

#[test]
fn an_empty_search_creates_a_file_but_not_over_a_non_empty_one() {
    let tree = Tree::new(&[("full.txt", "content\n")]);
    let report = tree.apply(&edits(vec![
        ("fresh.txt", sr("", "made\n")),
        ("full.txt", sr("", "other\n")),
    ]));
    assert_eq!(statuses(&report), vec!["applied", "failed"]);
    assert!(failure(&report, 1).contains("exists and is not empty"));
    assert!(!tree.root().join("fresh.txt").exists());
}

#[test]
fn create_over_a_different_existing_file_fails() {
    let tree = Tree::new(&[("a.txt", "old\n")]);
    let report = tree.apply(&edits(vec![(
        "a.txt",
        EditKind::Create {
            content: "new\n".to_owned(),
        },
    )]));
    assert!(failure(&report, 0).contains("`a.txt` already exists"));
    assert_eq!(tree.read("a.txt"), "old\n");
}

#[test]
fn delete_removes_the_file_and_counts_its_lines() {
    let tree = Tree::new(&[("gone.txt", "a\nb\nc\n")]);
    let report = tree.apply(&edits(vec![("gone.txt", EditKind::Delete)]));
    assert_eq!(statuses(&report), vec!["applied"]);
    assert!(!tree.root().join("gone.txt").exists());
    let file = &report.files[0];
    assert_eq!(
        (file.status, file.insertions, file.deletions),
        (FileStatus::Deleted, 0, 3)
    );
}

#[test]
fn a_path_naming_a_directory_fails_clearly() {
    let tree = Tree::new(&[("src/lib.rs", "")]);
    let report = tree.apply(&edits(vec![("src", whole("x\n"))]));
    assert!(failure(&report, 0).contains("`src` is a directory"));
}

#[test]
fn several_edits_to_one_file_apply_in_order() {
    let tree = Tree::new(&[("a.txt", "alpha\nbeta\n")]);
    let report = tree.apply(&edits(vec![
        ("a.txt", sr("alpha\n", "gamma\n")),
        // Finds the text the first edit wrote.
        ("./a.txt", sr("gamma\n", "delta\n")),
        (
            "a.txt",
            patch(vec![hunk(Some(2), " delta\n-beta\n+epsilon\n")]),
        ),
    ]));
    assert_eq!(statuses(&report), vec!["applied"; 3]);
    assert_eq!(tree.read("a.txt"), "delta\nepsilon\n");
    assert_eq!(report.files.len(), 1);
}

fn three_files() -> Tree {
    Tree::new(&[("a.txt", "a\n"), ("b.txt", "b\n"), ("c.txt", "c\n")])
}

fn one_bad_edit() -> Vec<Edit> {
    edits(vec![
        ("a.txt", sr("a\n", "A\n")),
        ("b.txt", sr("b\n", "B\n")),
        ("b.txt", sr("not there at all, nowhere\n", "x\n")),
        ("c.txt", sr("c\n", "C\n")),
    ])
}

#[test]
fn one_failed_edit_among_several_files_writes_nothing() {
    let tree = three_files();
    let before = tree.snapshot();
    let report = tree.apply(&one_bad_edit());
    assert_eq!(
        statuses(&report),
        vec!["applied", "applied", "failed", "applied"]
    );
    assert_eq!(tree.snapshot(), before);
    assert!(!report.written());
    assert!(report.files.is_empty());
    assert!(report.outcomes.iter().all(|outcome| !outcome.committed));
    let feedback = report.feedback();
    assert!(
        feedback.starts_with("Edit 3 (search-replace) failed: `b.txt`"),
        "{feedback}"
    );
    assert!(
        feedback.contains("a reply applies whole or not at all"),
        "{feedback}"
    );
    assert!(
        feedback.contains("edit 1 (`a.txt`), edit 2 (`b.txt`), edit 4 (`c.txt`)"),
        "{feedback}"
    );
}

#[test]
fn partial_writes_the_files_whose_edits_all_applied() {
    let tree = three_files();
    let mut options = tree.options();
    options.partial = true;
    let report = apply(&one_bad_edit(), &options);
    assert_eq!(tree.read("a.txt"), "A\n");
    assert_eq!(tree.read("b.txt"), "b\n");
    assert_eq!(tree.read("c.txt"), "C\n");
    assert!(report.written());
    let paths: Vec<&str> = report.files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(paths, vec!["a.txt", "c.txt"]);
    let committed: Vec<bool> = report
        .outcomes
        .iter()
        .map(|outcome| outcome.committed)
        .collect();
    assert_eq!(committed, vec![true, false, false, true]);
    let feedback = report.feedback();
    assert!(
        feedback.contains("do not send these again: edit 1 (`a.txt`), edit 4 (`c.txt`)."),
        "{feedback}"
    );
    assert!(
        feedback.contains("because another edit to the same file failed; send them again together with the fixed ones: edit 2 (`b.txt`)."),
        "{feedback}"
    );
}

#[test]
fn a_dry_run_writes_nothing_but_reports_what_a_real_run_does() {
    let reply = edits(vec![
        ("a.txt", sr("a\n", "A\n")),
        ("new/file.txt", whole("n\n")),
        ("c.txt", EditKind::Delete),
    ]);
    let dry = three_files();
    let before = dry.snapshot();
    let mut options = dry.options();
    options.dry_run = true;
    let dry_report = apply(&reply, &options);
    assert_eq!(dry.snapshot(), before);
    assert!(!dry_report.written());
    assert!(dry_report.files.iter().all(|file| !file.written));

    let real = three_files();
    let real_report = real.apply(&reply);
    assert!(real_report.written());
    let view = |report: &ApplyReport| {
        let files: Vec<_> = report
            .files
            .iter()
            .map(|file| {
                (
                    file.path.clone(),
                    file.status,
                    file.insertions,
                    file.deletions,
                )
            })
            .collect();
        (format!("{:?}", report.outcomes), files)
    };
    assert_eq!(view(&dry_report), view(&real_report));
}

#[test]
fn a_write_error_part_way_is_reported_and_earlier_files_stay_written() {
    let tree = Tree::new(&[]);
    // Checked one by one both are fine, but once `a` is a file `a/b.txt` cannot be made.
    let report = tree.apply(&edits(vec![
        ("a", whole("file\n")),
        ("a/b.txt", whole("nested\n")),
    ]));
    assert_eq!(statuses(&report), vec!["applied", "applied"]);
    assert!(report.written());
    let error = report.write_error.as_deref().unwrap();
    assert!(
        error.starts_with("`a/b.txt` could not be written"),
        "{error}"
    );
    assert!(
        error.contains("Written before it (and kept): `a`."),
        "{error}"
    );
    let written: Vec<bool> = report.files.iter().map(|file| file.written).collect();
    assert_eq!(written, vec![true, false]);
    assert_eq!(tree.read("a"), "file\n");
    assert!(report.feedback().contains("Writing the files failed"));
}

fn numbered(count: usize) -> String {
    (1..=count).map(|n| format!("line {n}\n")).collect()
}

#[test]
fn patches_with_wrong_line_numbers_apply_where_their_context_is() {
    let tree = Tree::new(&[("n.txt", &numbered(30))]);
    let report = tree.apply(&edits(vec![(
        "n.txt",
        patch(vec![
            hunk(Some(2), " line 9\n-line 10\n+line ten\n line 11\n"),
            hunk(Some(40), " line 24\n+line 24.5\n line 25\n"),
        ]),
    )]));
    assert_eq!(method(&report, 0), MatchMethod::Exact);
    let expected = numbered(30)
        .replace("line 10\n", "line ten\n")
        .replace("line 24\n", "line 24\nline 24.5\n");
    assert_eq!(tree.read("n.txt"), expected);
}

#[test]
fn a_hunk_whose_text_repeats_goes_to_the_place_its_line_number_is_near() {
    let file = "start\n}\n\nmiddle\n}\n\nend\n";
    let tree = Tree::new(&[("r.rs", file)]);
    // `}` then a blank line occurs at lines 2 and 5; the hint (4, moved by nothing) is near 5.
    let report = tree.apply(&edits(vec![(
        "r.rs",
        patch(vec![hunk(Some(4), " }\n+// after middle\n \n")]),
    )]));
    assert_eq!(statuses(&report), vec!["applied"]);
    assert_eq!(
        tree.read("r.rs"),
        "start\n}\n\nmiddle\n}\n// after middle\n\nend\n"
    );

    let fresh = Tree::new(&[("r.rs", file)]);
    let unhinted = fresh.apply(&edits(vec![(
        "r.rs",
        patch(vec![hunk(None, " }\n+// x\n \n")]),
    )]));
    let text = failure(&unhinted, 0);
    assert!(text.contains("2 times (at lines 2 and 5)"), "{text}");
}

#[test]
fn a_hunk_of_added_lines_only_goes_after_the_line_its_header_names() {
    let tree = Tree::new(&[("n.txt", &numbered(3))]);
    let report = tree.apply(&edits(vec![(
        "n.txt",
        patch(vec![hunk(Some(2), "+inserted\n")]),
    )]));
    assert_eq!(statuses(&report), vec!["applied"]);
    assert_eq!(tree.read("n.txt"), "line 1\nline 2\ninserted\nline 3\n");

    let unhinted = tree.apply(&edits(vec![("n.txt", patch(vec![hunk(None, "+more\n")]))]));
    assert!(failure(&unhinted, 0).contains("has no line number"));
}

#[test]
fn a_hunk_matched_ignoring_whitespace_keeps_the_files_context_lines() {
    let file = "fn f() {\n        call_one();  \n        call_two();\n}\n";
    let tree = Tree::new(&[("f.rs", file)]);
    let report = tree.apply(&edits(vec![(
        "f.rs",
        patch(vec![hunk(
            Some(2),
            "     call_one();\n+    call_between();\n     call_two();\n",
        )]),
    )]));
    assert_eq!(method(&report, 0), MatchMethod::IgnoringWhitespace);
    assert_eq!(
        tree.read("f.rs"),
        "fn f() {\n        call_one();  \n        call_between();\n        call_two();\n}\n"
    );
}

#[test]
fn a_hunk_with_a_typo_in_its_context_applies_fuzzily_and_keeps_the_files_lines() {
    let tree = Tree::new(&[("total.rs", TOTAL)]);
    let report = tree.apply(&edits(vec![(
        "total.rs",
        patch(vec![hunk(
            Some(2),
            "     let subtotal = items.iter().map(|item| item.prise).sum::<u64>();\n-    let tax = subtotal * TAX_RATE / 100;\n+    let tax = subtotal * TAX_RATE / 1000;\n     subtotal + tax\n",
        )]),
    )]));
    assert!(matches!(method(&report, 0), MatchMethod::Fuzzy { .. }));
    assert_eq!(tree.read("total.rs"), TOTAL.replace("/ 100;", "/ 1000;"));
}

#[test]
fn a_hunk_not_found_reports_which_hunk_and_the_closest_lines() {
    let tree = Tree::new(&[("n.txt", &numbered(5))]);
    let report = tree.apply(&edits(vec![(
        "n.txt",
        patch(vec![
            hunk(Some(1), " line 1\n-line 2\n+two\n"),
            hunk(Some(4), " line four hundred\n-line 5\n+five\n"),
        ]),
    )]));
    let text = failure(&report, 0);
    assert!(
        text.starts_with("`n.txt`, hunk 2 of 2 (`@@ -4 @@`): the context and `-` lines"),
        "{text}"
    );
    assert!(text.contains("line four hundred\nline 5\n"), "{text}");
    assert!(text.contains("The closest lines are lines 4-5"), "{text}");
    assert_eq!(tree.read("n.txt"), numbered(5));
}

#[test]
fn a_file_over_the_fuzzy_line_cap_says_it_was_not_searched_approximately() {
    let tree = Tree::new(&[("huge.txt", &numbered(20_001))]);
    let search = "line 100 with a typo somewhere\nline 101\n";
    let report = tree.apply(&edits(vec![("huge.txt", sr(search, "changed\n"))]));
    let text = failure(&report, 0);
    assert!(
        text.contains("The file has 20001 lines, more than the 20000 searched"),
        "{text}"
    );
}
