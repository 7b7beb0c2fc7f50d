//! Property tests: generated edits, rendered into each format's text the way models write
//! it (decorated path lines, fences or none, chatter between blocks), parse back to the same
//! edits, with origins counting up through the reply.

use baton_edit::{EditFormat, EditKind, Hunk, HunkLine, Parsed, detect, parse};
use proptest::prelude::*;

/// Lines that could be read as markers or headers of some format are left out of the
/// generated text: the formats cannot carry them unambiguously, and the parsers say so.
fn plain_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    ![
        "<<<<<",
        ">>>>>",
        "=====",
        "--",
        "++",
        "@@",
        "diff --git",
        "\\",
    ]
    .iter()
    .any(|prefix| trimmed.starts_with(prefix))
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,30}",
        1 => "\\PC{0,12}",
        // Fence lines inside files (markdown), which the renderers must fence around.
        1 => "(```|~~~|````)[a-z]{0,4}",
    ]
    .prop_filter("marker-like line", |line| plain_line(line))
}

fn lines(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(line(), 0..max)
}

fn path() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,6}(/[a-zA-Z][a-zA-Z0-9_-]{0,6}){0,3}\\.[a-z]{1,4}"
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// Asserts the parse found `expected` exactly, in order, with well-formed origins.
fn assert_same(parsed: &Parsed, expected: &[(String, EditKind)], reply: &str) {
    assert_eq!(parsed.problems, vec![], "{reply}");
    let got: Vec<(String, EditKind)> = parsed
        .edits
        .iter()
        .map(|edit| (edit.path.clone(), edit.kind.clone()))
        .collect();
    assert_eq!(got, expected, "{reply}");
    for (index, edit) in parsed.edits.iter().enumerate() {
        assert_eq!(edit.origin.index, index);
        if index > 0 {
            assert!(
                edit.origin.line > parsed.edits[index - 1].origin.line,
                "{reply}"
            );
        }
    }
}

// ---- whole files ----

/// A fence longer than every backtick run that starts a content line, so no line closes it.
fn fence_for(lines: &[String]) -> String {
    let longest = lines
        .iter()
        .map(|line| line.trim_start().chars().take_while(|c| *c == '`').count())
        .max()
        .unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn render_whole(files: &[(String, Vec<String>, usize)]) -> String {
    let mut reply = String::from("Here are the files.\n\n");
    for (path, lines, style) in files {
        let fence = fence_for(lines);
        let opener = match style % 9 {
            0 => format!("{path}\n{fence}rust"),
            1 => format!("**{path}**\n{fence}"),
            2 => format!("`{path}`\n{fence}text"),
            3 => format!("### {path}\n\n{fence}"),
            4 => format!("File: {path}\n{fence}"),
            5 => format!("{path}:\n{fence}"),
            6 => format!("{path} (new file)\n{fence}"),
            7 => format!("The new version:\n{fence}rust {path}"),
            _ => format!("{fence}{path}"),
        };
        reply.push_str(&format!(
            "{opener}\n{}{fence}\n\nThat one is done.\n\n",
            text(lines)
        ));
    }
    reply
}

proptest! {
    #[test]
    fn whole_files_parse_back_to_the_same_edits(
        files in prop::collection::vec((path(), lines(12), 0usize..9), 1..5),
    ) {
        let reply = render_whole(&files);
        let expected: Vec<(String, EditKind)> = files
            .iter()
            .map(|(path, lines, _)| (path.clone(), EditKind::Whole { content: text(lines) }))
            .collect();
        assert_same(&parse(&reply, Some(EditFormat::Whole)), &expected, &reply);
        prop_assert_eq!(detect(&reply), Some(EditFormat::Whole));
    }
}

// ---- SEARCH/REPLACE ----

fn render_search_replace(blocks: &[(String, Vec<String>, Vec<String>, bool)]) -> String {
    let mut reply = String::from("I'll make these changes.\n\n");
    let mut previous: Option<&String> = None;
    for (path, search, replace, fenced) in blocks {
        let same_file = previous == Some(path);
        previous = Some(path);
        if *fenced {
            if !same_file {
                reply.push_str(&format!("{path}\n"));
            }
            reply.push_str("```python\n");
        } else if !same_file {
            reply.push_str(&format!("`{path}`\n"));
        }
        reply.push_str(&format!(
            "<<<<<<< SEARCH\n{}=======\n{}>>>>>>> REPLACE\n",
            text(search),
            text(replace)
        ));
        if *fenced {
            reply.push_str("```\n");
        }
        reply.push_str("\nNext:\n\n");
    }
    reply
}

proptest! {
    #[test]
    fn search_replace_blocks_parse_back_to_the_same_edits(
        blocks in prop::collection::vec((path(), lines(8), lines(8), any::<bool>()), 1..6),
        repeat in prop::collection::vec(any::<bool>(), 6),
    ) {
        // Some blocks reuse the previous block's file, so the path is inherited.
        let mut blocks = blocks;
        for at in 1..blocks.len() {
            if repeat[at] {
                blocks[at].0 = blocks[at - 1].0.clone();
            }
        }
        let reply = render_search_replace(&blocks);
        let expected: Vec<(String, EditKind)> = blocks
            .iter()
            .map(|(path, search, replace, _)| {
                let kind = EditKind::SearchReplace { search: text(search), replace: text(replace) };
                (path.clone(), kind)
            })
            .collect();
        assert_same(&parse(&reply, Some(EditFormat::SearchReplace)), &expected, &reply);
        prop_assert_eq!(detect(&reply), Some(EditFormat::SearchReplace));
    }
}

// ---- unified diffs ----

fn hunk_line() -> impl Strategy<Value = HunkLine> {
    prop_oneof![
        line().prop_map(HunkLine::Context),
        line().prop_map(HunkLine::Remove),
        line().prop_map(HunkLine::Add),
    ]
}

fn hunk() -> impl Strategy<Value = Hunk> {
    (
        prop::option::of(1usize..5000),
        prop::collection::vec(hunk_line(), 0..8),
        line(),
    )
        .prop_map(|(old_start_hint, mut lines, added)| {
            // Every hunk changes something.
            if lines
                .iter()
                .all(|line| matches!(line, HunkLine::Context(_)))
            {
                lines.push(HunkLine::Add(added));
            }
            Hunk {
                old_start_hint,
                lines,
            }
        })
}

fn diff_kind() -> impl Strategy<Value = EditKind> {
    prop_oneof![
        3 => prop::collection::vec(hunk(), 1..4).prop_map(|hunks| EditKind::Patch { hunks }),
        1 => prop::collection::vec(line(), 1..8)
            .prop_map(|lines| EditKind::Create { content: text(&lines) }),
        1 => Just(EditKind::Delete),
    ]
}

fn render_hunk(hunk: &Hunk) -> String {
    let old = hunk
        .lines
        .iter()
        .filter(|line| !matches!(line, HunkLine::Add(_)))
        .count();
    let new = hunk
        .lines
        .iter()
        .filter(|line| !matches!(line, HunkLine::Remove(_)))
        .count();
    let mut out = match hunk.old_start_hint {
        Some(start) => format!("@@ -{start},{old} +{start},{new} @@ fn context()\n"),
        None => "@@ @@\n".to_string(),
    };
    for line in &hunk.lines {
        let (marker, text) = match line {
            HunkLine::Context(text) => (' ', text),
            HunkLine::Remove(text) => ('-', text),
            HunkLine::Add(text) => ('+', text),
        };
        out.push_str(&format!("{marker}{text}\n"));
    }
    out
}

fn render_udiff(files: &[(String, EditKind)], fenced: bool, git: bool) -> String {
    let mut reply = String::from("The patch:\n\n");
    if fenced {
        reply.push_str("```diff\n");
    }
    for (path, kind) in files {
        if git {
            reply.push_str(&format!(
                "diff --git a/{path} b/{path}\nindex 0000000..1111111 100644\n"
            ));
        }
        match kind {
            EditKind::Patch { hunks } => {
                reply.push_str(&format!("--- a/{path}\n+++ b/{path}\n"));
                for hunk in hunks {
                    reply.push_str(&render_hunk(hunk));
                }
            }
            EditKind::Create { content } => {
                let count = content.lines().count();
                reply.push_str(&format!(
                    "--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{count} @@\n"
                ));
                for line in content.lines() {
                    reply.push_str(&format!("+{line}\n"));
                }
            }
            EditKind::Delete => {
                reply.push_str(&format!(
                    "--- a/{path}\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n"
                ));
            }
            EditKind::Whole { .. } | EditKind::SearchReplace { .. } => {
                unreachable!("diffs carry patches, creations and deletions only")
            }
        }
    }
    if fenced {
        reply.push_str("```\n");
    }
    reply.push_str("\nApply it with git apply.\n");
    reply
}

proptest! {
    #[test]
    fn unified_diffs_parse_back_to_the_same_edits(
        files in prop::collection::vec((path(), diff_kind()), 1..5),
        fenced in any::<bool>(),
        git in any::<bool>(),
    ) {
        let reply = render_udiff(&files, fenced, git);
        assert_same(&parse(&reply, Some(EditFormat::Udiff)), &files, &reply);
        prop_assert_eq!(detect(&reply), Some(EditFormat::Udiff));
    }
}
