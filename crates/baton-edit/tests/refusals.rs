//! The safety rules on real directories: each refused path or file stops the whole reply,
//! writes nothing inside the root or outside it, and names the path in its message. And what
//! is never applied: an edit repeating a prompt's example.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use baton_edit::{ApplyOptions, ApplyReport, EditKind, EditStatus, Refusal, apply};
use pretty_assertions::assert_eq;

mod support;
use support::{edits, sr, whole};

/// A root directory and a sibling directory outside it, both temporary.
struct World {
    _base: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

impl World {
    fn new(files: &[(&str, &[u8])]) -> Self {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("root");
        let outside = base.path().join("outside");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret.txt"), "secret\n").unwrap();
        for (path, content) in files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        World {
            _base: base,
            root,
            outside,
        }
    }

    fn options(&self) -> ApplyOptions {
        ApplyOptions::new(&self.root)
    }

    /// Every entry under the root and outside it: file bytes and symlink targets.
    fn snapshot(&self) -> BTreeMap<String, String> {
        let mut entries = BTreeMap::new();
        for top in [&self.root, &self.outside] {
            collect(top, top, &mut entries);
        }
        entries
    }
}

fn collect(top: &Path, dir: &Path, entries: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = format!(
            "{}:{}",
            top.display(),
            path.strip_prefix(top).unwrap().display()
        );
        let metadata = fs::symlink_metadata(&path).unwrap();
        if metadata.file_type().is_symlink() {
            entries.insert(
                name,
                format!("-> {}", fs::read_link(&path).unwrap().display()),
            );
        } else if metadata.is_dir() {
            entries.insert(name, "dir".to_owned());
            collect(top, &path, entries);
        } else {
            entries.insert(
                name,
                String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned(),
            );
        }
    }
}

/// Applies a reply of one harmless edit (which would write `ok.txt`) and `edit` at `path`,
/// with `partial` on so that only the refusal can stop the write; asserts that nothing
/// changed anywhere and returns the refusal.
fn refused_alone(world: &World, options: ApplyOptions, path: &str, kind: EditKind) -> Refusal {
    let before = world.snapshot();
    let mut options = options;
    options.partial = true;
    let report = apply(
        &edits(vec![("ok.txt", whole("fine\n")), (path, kind)]),
        &options,
    );
    assert_eq!(world.snapshot(), before, "something was written");
    assert!(!report.written());
    assert!(report.files.is_empty());
    let refusal = refusal_of(&report, 1);
    assert_eq!(refusal.path(), path);
    assert!(
        refusal.to_string().contains(&format!("`{path}`")),
        "the message does not name the path: {refusal}"
    );
    assert!(
        report
            .feedback()
            .contains("a refused edit stops the whole reply")
    );
    refusal
}

fn refusal_of(report: &ApplyReport, index: usize) -> Refusal {
    match &report.outcomes[index].status {
        EditStatus::Refused { refusal } => refusal.clone(),
        other => panic!("edit {index} was not refused: {other:?}"),
    }
}

#[test]
fn an_absolute_path_is_refused() {
    let world = World::new(&[]);
    let target = world.outside.join("new.txt").display().to_string();
    let refusal = refused_alone(&world, world.options(), &target, whole("x\n"));
    assert!(matches!(refusal, Refusal::Absolute { .. }));
}

#[test]
fn a_path_climbing_with_dot_dot_is_refused() {
    let world = World::new(&[]);
    let refusal = refused_alone(
        &world,
        world.options(),
        "../outside/secret.txt",
        whole("x\n"),
    );
    assert!(matches!(refusal, Refusal::ParentDir { .. }));
    // Even when it would come back inside the root.
    let refusal = refused_alone(&world, world.options(), "sub/../ok2.txt", whole("x\n"));
    assert!(matches!(refusal, Refusal::ParentDir { .. }));
}

#[test]
fn empty_and_nul_paths_are_refused_as_invalid() {
    let world = World::new(&[]);
    let refusal = refused_alone(&world, world.options(), "", whole("x\n"));
    assert!(matches!(refusal, Refusal::Invalid { .. }));
    let refusal = refused_alone(&world, world.options(), "a\0b", whole("x\n"));
    assert!(matches!(refusal, Refusal::Invalid { .. }));
}

#[test]
fn a_symlinked_file_pointing_outside_the_root_is_refused() {
    let world = World::new(&[]);
    symlink(
        world.outside.join("secret.txt"),
        world.root.join("link.txt"),
    )
    .unwrap();
    let refusal = refused_alone(
        &world,
        world.options(),
        "link.txt",
        sr("secret\n", "leaked\n"),
    );
    assert!(matches!(refusal, Refusal::SymlinkEscape { .. }));
    assert_eq!(
        fs::read_to_string(world.outside.join("secret.txt")).unwrap(),
        "secret\n"
    );
}

#[test]
fn a_symlinked_directory_pointing_outside_the_root_is_refused() {
    let world = World::new(&[]);
    symlink(&world.outside, world.root.join("linkdir")).unwrap();
    let refusal = refused_alone(&world, world.options(), "linkdir/new.txt", whole("x\n"));
    assert!(matches!(refusal, Refusal::SymlinkEscape { .. }));
    assert!(!world.outside.join("new.txt").exists());
}

#[test]
fn a_symlink_inside_the_root_to_inside_the_root_is_edited_through() {
    let world = World::new(&[("real/file.txt", b"one\n")]);
    symlink("real/file.txt", world.root.join("alias.txt")).unwrap();
    symlink("real", world.root.join("dir")).unwrap();
    let report = apply(
        &edits(vec![
            ("alias.txt", sr("one\n", "two\n")),
            ("dir/file.txt", sr("two\n", "three\n")),
        ]),
        &world.options(),
    );
    assert!(report.written(), "{:?}", report.outcomes);
    assert_eq!(
        fs::read_to_string(world.root.join("real/file.txt")).unwrap(),
        "three\n"
    );
    // Both spellings are one file, written once, and the link is still a link.
    assert_eq!(report.files.len(), 1);
    assert!(
        fs::symlink_metadata(world.root.join("alias.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_path_outside_the_allow_list_is_refused() {
    let world = World::new(&[("src/main.rs", b"fn main() {}\n")]);
    let mut options = world.options();
    options.allow = Some(vec!["ok.txt".to_owned(), "./src/main.rs".to_owned()]);
    let refusal = refused_alone(&world, options, "src/other.rs", whole("x\n"));
    assert!(matches!(refusal, Refusal::NotAllowed { .. }));
}

#[test]
fn allow_entries_admit_normalized_paths_and_whole_subtrees() {
    let world = World::new(&[("src/main.rs", b"fn main() {}\n")]);
    let mut options = world.options();
    options.allow = Some(vec![
        "./src/main.rs".to_owned(),
        "docs/".to_owned(),
        "ok.txt".to_owned(),
    ]);
    let report = apply(
        &edits(vec![
            (
                "src//main.rs",
                sr("fn main() {}\n", "fn main() { run() }\n"),
            ),
            ("docs/guide/intro.md", whole("# Intro\n")),
        ]),
        &options,
    );
    assert!(report.written(), "{:?}", report.outcomes);
    assert!(world.root.join("docs/guide/intro.md").exists());
    let refusal = refused_alone(&world, options, "docsy/x.md", whole("x\n"));
    assert!(matches!(refusal, Refusal::NotAllowed { .. }));
}

#[test]
fn an_allowed_symlink_to_a_file_the_allow_list_leaves_out_is_refused() {
    let world = World::new(&[("config.toml", b"key = 1\n")]);
    symlink("config.toml", world.root.join("allowed.toml")).unwrap();
    let mut options = world.options();
    options.allow = Some(vec!["ok.txt".to_owned(), "allowed.toml".to_owned()]);
    let refusal = refused_alone(&world, options, "allowed.toml", whole("key = 2\n"));
    assert!(matches!(refusal, Refusal::NotAllowed { .. }));
}

#[test]
fn paths_into_git_directories_are_refused() {
    let world = World::new(&[(".git/config", b"[core]\n"), ("sub/.git/x", b"x\n")]);
    let refusal = refused_alone(&world, world.options(), ".git/config", whole("[evil]\n"));
    assert!(matches!(refusal, Refusal::GitDir { .. }));
    let refusal = refused_alone(&world, world.options(), "sub/.git/x", EditKind::Delete);
    assert!(matches!(refusal, Refusal::GitDir { .. }));
}

#[test]
fn a_symlink_leading_into_git_is_refused() {
    let world = World::new(&[(".git/config", b"[core]\n")]);
    symlink(".git", world.root.join("innocent")).unwrap();
    let refusal = refused_alone(
        &world,
        world.options(),
        "innocent/config",
        whole("[evil]\n"),
    );
    assert!(matches!(refusal, Refusal::GitDir { .. }));
}

#[test]
fn an_existing_binary_file_is_refused() {
    let world = World::new(&[("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")]);
    let refusal = refused_alone(&world, world.options(), "logo.png", whole("text now\n"));
    assert!(matches!(refusal, Refusal::Binary { .. }));
}

#[test]
fn an_existing_file_that_is_not_utf8_is_refused() {
    let world = World::new(&[("latin1.txt", b"caf\xe9\n")]);
    let refusal = refused_alone(&world, world.options(), "latin1.txt", sr("caf", "bar"));
    assert!(matches!(refusal, Refusal::Binary { .. }));
}

#[test]
fn new_content_holding_a_nul_byte_is_refused() {
    let world = World::new(&[("a.txt", b"a\n")]);
    let refusal = refused_alone(&world, world.options(), "new.bin", whole("a\0b"));
    assert!(matches!(refusal, Refusal::Binary { .. }));
    let refusal = refused_alone(&world, world.options(), "a.txt", sr("a\n", "\0\n"));
    assert!(matches!(refusal, Refusal::Binary { .. }));
}

/// A reply that echoes the whole-file prompt's example before its answer.
const ECHOED_EXAMPLE: &str = "src/greet.py\n```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n\
                              ```\n\nsolution.py\n```python\ndef add(x, y):\n    return x + y\n```\n";

#[test]
fn an_echoed_example_for_a_missing_file_is_dropped_with_a_note_and_the_answer_applies() {
    let world = World::new(&[("solution.py", b"def add(x, y):\n    \"\"\"Sum.\"\"\"\n")]);
    let parsed = baton_edit::parse_for(ECHOED_EXAMPLE, None, Some("solution.py"));
    assert!(parsed.is_well_formed(), "{parsed:?}");
    let report = apply(&parsed.edits, &world.options());
    let EditStatus::Dropped { note } = &report.outcomes[0].status else {
        panic!("{:?}", report.outcomes[0]);
    };
    assert!(note.contains("`src/greet.py` echoes the example"), "{note}");
    assert!(matches!(
        report.outcomes[1].status,
        EditStatus::Applied { .. }
    ));
    assert_eq!(report.tally().dropped, 1);
    assert_eq!(report.feedback(), "");
    assert!(!world.root.join("src").exists());
    assert_eq!(
        fs::read_to_string(world.root.join("solution.py")).unwrap(),
        "def add(x, y):\n    return x + y\n"
    );
}

#[test]
fn an_echoed_example_for_an_existing_file_fails_and_nothing_is_written() {
    let world = World::new(&[
        ("solution.py", b"def add(x, y):\n    pass\n"),
        ("src/greet.py", b"def greet(name):\n    return name\n"),
    ]);
    let before = world.snapshot();
    let parsed = baton_edit::parse_for(ECHOED_EXAMPLE, None, Some("solution.py"));
    let report = apply(&parsed.edits, &world.options());
    let EditStatus::Failed { report: why } = &report.outcomes[0].status else {
        panic!("{:?}", report.outcomes[0]);
    };
    assert!(why.contains("echoes the example"), "{why}");
    assert!(report.feedback().contains("Edit 1 (whole) failed"));
    assert_eq!(world.snapshot(), before);
}

#[test]
fn an_edit_for_a_missing_path_goes_to_its_context_file_and_an_existing_path_keeps_it() {
    let reply = "src/stats.py\n```python\ndef average(v):\n    return sum(v) / len(v)\n```\n";
    let parsed = baton_edit::parse_with_context(reply, None, &["stats.py"]);
    assert_eq!(parsed.edits[0].context_file.as_deref(), Some("stats.py"));

    let world = World::new(&[("stats.py", b"def mean(v):\n    return sum(v) / len(v)\n")]);
    let report = apply(&parsed.edits, &world.options());
    assert!(matches!(
        report.outcomes[0].status,
        EditStatus::Applied { .. }
    ));
    assert_eq!(report.outcomes[0].path, "stats.py");
    let note = report.outcomes[0].note.as_deref().unwrap();
    assert!(
        note.contains("`src/stats.py`, which does not exist"),
        "{note}"
    );
    assert!(!world.root.join("src").exists());
    assert!(
        fs::read_to_string(world.root.join("stats.py"))
            .unwrap()
            .starts_with("def average(v):")
    );

    // Where `src/stats.py` exists, it is the file edited, as written.
    let world = World::new(&[
        ("stats.py", b"def mean(v):\n    pass\n"),
        ("src/stats.py", b"old\n"),
    ]);
    let report = apply(&parsed.edits, &world.options());
    assert_eq!(report.outcomes[0].path, "src/stats.py");
    assert_eq!(report.outcomes[0].note, None);
    assert_eq!(
        fs::read_to_string(world.root.join("stats.py")).unwrap(),
        "def mean(v):\n    pass\n"
    );
}
