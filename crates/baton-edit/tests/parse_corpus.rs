//! Realistic replies (`tests/corpus/`), each parsed with format detection and checked edit
//! by edit: chatter, decorations, nesting, cut replies, CRLF, JSON and the three formats; and
//! the real replies of the rig's models (`tests/corpus/real/`, the `real` module).

use std::path::Path;

use baton_edit::{EditFormat, EditKind, Hunk, HunkLine, Parsed, detect, parse};
use pretty_assertions::assert_eq;

#[path = "parse_corpus/real.rs"]
mod real;

/// Every corpus file a test below reads; a file added to the corpus must be checked too.
const CHECKED: &[&str] = &[
    "json_fenced.md",
    "json_wrapped.json",
    "prose_only.md",
    "sr_chatter_several_files.md",
    "sr_crlf.txt",
    "sr_cut_mid_block.md",
    "sr_markdown_file.md",
    "sr_missing_fences.md",
    "sr_with_a_whole_file_mixed_in.md",
    "udiff_bare_plain_paths.txt",
    "udiff_rename.md",
    "udiff_wrong_line_numbers.md",
    "whole_chatter_several_files.md",
    "whole_crlf.txt",
    "whole_cut_mid_block.md",
    "whole_missing_fences.md",
    "whole_nested_four_backticks.md",
    "whole_nested_info_inner.md",
    "whole_path_decorations.md",
];

fn corpus(name: &str) -> String {
    assert!(CHECKED.contains(&name), "{name} is missing from CHECKED");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Parses with detection, checks the detected format, and that origins count up.
fn parse_detected(name: &str, format: Option<EditFormat>) -> Parsed {
    let reply = corpus(name);
    assert_eq!(detect(&reply), format, "{name}");
    let parsed = parse(&reply, None);
    assert_eq!(parsed.format, format, "{name}");
    for (index, edit) in parsed.edits.iter().enumerate() {
        assert_eq!(edit.origin.index, index, "{name}");
        assert!(!edit.path.is_empty(), "{name}");
    }
    parsed
}

fn paths(parsed: &Parsed) -> Vec<&str> {
    parsed.edits.iter().map(|edit| edit.path.as_str()).collect()
}

fn whole_content(parsed: &Parsed, index: usize) -> &str {
    match &parsed.edits[index].kind {
        EditKind::Whole { content } => content,
        other => panic!("edit {index} is {other:?}"),
    }
}

fn search_replace(parsed: &Parsed, index: usize) -> (&str, &str) {
    match &parsed.edits[index].kind {
        EditKind::SearchReplace { search, replace } => (search, replace),
        other => panic!("edit {index} is {other:?}"),
    }
}

fn problem_lines(parsed: &Parsed) -> Vec<usize> {
    parsed.problems.iter().map(|problem| problem.line).collect()
}

#[test]
fn every_corpus_file_is_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        // `real/` is checked by the `real` module.
        .filter(|name| !name.starts_with('.') && name != "real")
        .collect();
    names.sort();
    assert_eq!(names, CHECKED.to_vec());
}

#[test]
fn whole_files_among_chatter_and_a_pathless_shell_block_are_read() {
    let parsed = parse_detected("whole_chatter_several_files.md", Some(EditFormat::Whole));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(paths(&parsed), vec!["src/main.rs", "src/util.rs"]);
    assert_eq!(
        whole_content(&parsed, 1),
        "pub fn log(verbose: bool, message: &str) {\n    if verbose {\n        \
         eprintln!(\"{message}\");\n    }\n}\n"
    );
    assert_eq!(parsed.edits[0].origin.line, 4);
}

#[test]
fn every_path_decoration_names_its_file() {
    let parsed = parse_detected("whole_path_decorations.md", Some(EditFormat::Whole));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(
        paths(&parsed),
        vec![
            "src/a.rs",
            "src/b.rs",
            "src/c.rs",
            "src/d.rs",
            "src/e.rs",
            "src/f.rs",
            "src/g.rs",
            "tools/h.py",
            "Makefile",
        ]
    );
    // A sentence naming a file does not make the block under it that file's whole content
    // (it could be a command to run from it): that block is explanation, ignored.
    assert!(corpus("whole_path_decorations.md").contains("Here is the updated `src/i.rs`:"));
    // The comment that named the file is not part of it.
    assert_eq!(whole_content(&parsed, 7), "print(\"h\")\n");
    assert_eq!(whole_content(&parsed, 8), "all:\n\tcargo build\n");
}

#[test]
fn a_markdown_file_in_a_four_backtick_fence_keeps_its_inner_blocks() {
    let parsed = parse_detected("whole_nested_four_backticks.md", Some(EditFormat::Whole));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(paths(&parsed), vec!["README.md"]);
    let content = whole_content(&parsed, 0);
    assert!(content.starts_with("# Tool\n"), "{content}");
    assert!(
        content.ends_with("```toml\n[tool]\nverbose = true\n```\n"),
        "{content}"
    );
    assert_eq!(content.matches("```").count(), 4);
}

#[test]
fn a_markdown_file_in_a_three_backtick_fence_keeps_inner_blocks_opened_with_a_language() {
    let parsed = parse_detected("whole_nested_info_inner.md", Some(EditFormat::Whole));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(paths(&parsed), vec!["docs/guide.md", "CHANGELOG.md"]);
    let content = whole_content(&parsed, 0);
    assert!(content.contains("```sh\ncargo build\n```\n"), "{content}");
    assert!(content.ends_with("```\n\nThat is all.\n"), "{content}");
    assert_eq!(whole_content(&parsed, 1), "- Added the guide.\n");
}

#[test]
fn a_reply_cut_inside_a_whole_file_block_is_a_problem_for_that_block() {
    let parsed = parse_detected("whole_cut_mid_block.md", Some(EditFormat::Whole));
    assert_eq!(paths(&parsed), vec!["src/done.py"]);
    assert_eq!(problem_lines(&parsed), vec![8]);
    assert!(parsed.problems[0].message.contains("`src/cut.py`"));
    assert!(!parsed.is_well_formed());
}

#[test]
fn crlf_whole_file_replies_give_lf_content() {
    let reply = corpus("whole_crlf.txt");
    assert!(
        reply.contains("\r\n"),
        "the corpus file lost its CRLF endings"
    );
    let parsed = parse_detected("whole_crlf.txt", Some(EditFormat::Whole));
    assert_eq!(paths(&parsed), vec!["src/lib.rs"]);
    assert_eq!(
        whole_content(&parsed, 0),
        "pub fn answer() -> u32 {\n    42\n}\n"
    );
}

#[test]
fn code_without_fences_is_no_edit() {
    let parsed = parse_detected("whole_missing_fences.md", None);
    assert_eq!(parsed.edits, vec![]);
    assert_eq!(problem_lines(&parsed), vec![1]);
    let asked = parse(&corpus("whole_missing_fences.md"), Some(EditFormat::Whole));
    assert_eq!(asked.edits, vec![]);
    assert!(asked.problems[0].message.contains("No file was found"));
}

#[test]
fn code_inside_json_is_never_an_edit() {
    for name in ["json_wrapped.json", "json_fenced.md"] {
        let parsed = parse_detected(name, None);
        assert_eq!(parsed.edits, vec![], "{name}");
        assert_eq!(parsed.problems.len(), 1, "{name}");
        assert!(
            parsed.problems[0].message.contains("JSON"),
            "{name}: {parsed:?}"
        );
    }
    let asked = parse(&corpus("json_fenced.md"), Some(EditFormat::Whole));
    assert_eq!(asked.edits, vec![]);
    assert!(asked.problems[0].message.contains("JSON"), "{asked:?}");
}

#[test]
fn prose_only_is_one_problem_asking_for_edits() {
    let parsed = parse_detected("prose_only.md", None);
    assert_eq!(parsed.edits, vec![]);
    assert_eq!(parsed.problems.len(), 1);
    assert!(parsed.problems[0].message.contains("not only prose"));
}

#[test]
fn search_replace_blocks_inherit_the_path_and_an_empty_search_creates_a_file() {
    let parsed = parse_detected(
        "sr_chatter_several_files.md",
        Some(EditFormat::SearchReplace),
    );
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(
        paths(&parsed),
        vec!["src/config.rs", "src/config.rs", "tests/config.rs"]
    );
    assert_eq!(
        search_replace(&parsed, 1),
        (
            "        verbose: env_flag(\"VERBOSE\"),\n",
            "        debug: env_flag(\"DEBUG\"),\n"
        )
    );
    let (search, replace) = search_replace(&parsed, 2);
    assert_eq!(search, "");
    assert!(replace.starts_with("#[test]\n"));
    let lines: Vec<usize> = parsed.edits.iter().map(|edit| edit.origin.line).collect();
    assert_eq!(lines, vec![5, 19, 30]);
}

#[test]
fn search_replace_blocks_need_no_fences() {
    let parsed = parse_detected("sr_missing_fences.md", Some(EditFormat::SearchReplace));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(paths(&parsed), vec!["app/models.py", "app/views.py"]);
}

#[test]
fn a_reply_cut_inside_a_search_replace_block_is_a_problem_for_that_block() {
    let parsed = parse_detected("sr_cut_mid_block.md", Some(EditFormat::SearchReplace));
    assert_eq!(paths(&parsed), vec!["src/a.rs"]);
    assert_eq!(problem_lines(&parsed), vec![12]);
    assert!(parsed.problems[0].message.contains("cut off"));
}

#[test]
fn crlf_search_replace_replies_give_lf_text() {
    assert!(
        corpus("sr_crlf.txt").contains("\r\n"),
        "the corpus file lost its CRLF endings"
    );
    let parsed = parse_detected("sr_crlf.txt", Some(EditFormat::SearchReplace));
    assert_eq!(search_replace(&parsed, 0), ("x = 1\n", "x = 2\n"));
}

#[test]
fn a_markdown_file_with_fences_and_an_underline_is_edited_literally() {
    let parsed = parse_detected("sr_markdown_file.md", Some(EditFormat::SearchReplace));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(
        search_replace(&parsed, 0),
        (
            "Tool\n====\n\n```sh\ntool run\n```\n",
            "Tool\n====\n\n```sh\ntool run\ntool check\n```\n"
        )
    );
}

#[test]
fn a_git_diff_with_wrong_line_numbers_keeps_them_as_hints_only() {
    let parsed = parse_detected("udiff_wrong_line_numbers.md", Some(EditFormat::Udiff));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(
        paths(&parsed),
        vec!["src/server.py", "src/legacy.py", "src/health.py"]
    );
    let EditKind::Patch { hunks } = &parsed.edits[0].kind else {
        panic!("{:?}", parsed.edits[0]);
    };
    let hints: Vec<Option<usize>> = hunks.iter().map(|hunk| hunk.old_start_hint).collect();
    assert_eq!(hints, vec![Some(120), Some(400)]);
    assert_eq!(hunks[1].before(), "def stop():\n    loop.stop()\n");
    assert_eq!(parsed.edits[1].kind, EditKind::Delete);
    assert_eq!(
        parsed.edits[2].kind,
        EditKind::Create {
            content: "def health():\n    return \"ok\"\n".to_string()
        }
    );
    let lines: Vec<usize> = parsed.edits.iter().map(|edit| edit.origin.line).collect();
    assert_eq!(lines, vec![4, 17, 24]);
}

#[test]
fn a_bare_diff_with_plain_paths_and_timestamps_is_read() {
    let parsed = parse_detected("udiff_bare_plain_paths.txt", Some(EditFormat::Udiff));
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(paths(&parsed), vec!["lib/math.js"]);
    let second = Hunk {
        old_start_hint: None,
        lines: vec![
            HunkLine::Remove("module.exports = { add };".to_string()),
            HunkLine::Add("module.exports = { add, sub };".to_string()),
        ],
    };
    let EditKind::Patch { hunks } = &parsed.edits[0].kind else {
        panic!("{:?}", parsed.edits[0]);
    };
    assert_eq!(hunks.len(), 2);
    // The empty line between the functions lost its space but is still context.
    assert_eq!(hunks[0].lines[4], HunkLine::Context(String::new()));
    assert_eq!(hunks[1], second);
}

#[test]
fn a_rename_is_refused_with_a_way_to_write_it() {
    let reply = corpus("udiff_rename.md");
    let parsed = parse(&reply, Some(EditFormat::Udiff));
    assert_eq!(parsed.edits, vec![]);
    assert_eq!(problem_lines(&parsed), vec![4]);
    assert!(parsed.problems[0].message.contains("/dev/null"));
    // Without hunks there is no diff sign, so nothing is detected.
    assert_eq!(detect(&reply), None);
}

#[test]
fn a_whole_file_mixed_into_search_replace_blocks_is_a_new_file_not_a_lost_one() {
    let parsed = parse_detected(
        "sr_with_a_whole_file_mixed_in.md",
        Some(EditFormat::SearchReplace),
    );
    // The first path came from the sentence before the fence; the pathless example block at
    // the end is explanation.
    assert_eq!(paths(&parsed), vec!["src/app.py", "src/slug.py"]);
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(
        parsed.edits[1].kind,
        baton_edit::EditKind::Create {
            content: "def slugify(text):\n    return text.lower().replace(\" \", \"-\")\n".into()
        }
    );
    assert_eq!(parsed.edits[1].origin.index, 1);
    assert_eq!(parsed.edits[1].origin.line, 14);
}

#[test]
fn whole_files_alone_in_a_search_replace_reply_are_a_problem_so_the_caller_can_detect_them() {
    let reply = "src/slug.py\n```python\ndef slugify(text):\n    return text\n```\n";
    let parsed = baton_edit::parse(reply, Some(EditFormat::SearchReplace));
    assert_eq!(parsed.edits, vec![]);
    assert!(parsed.problems[0].message.contains("`src/slug.py`"));
    assert!(parsed.problems[0].message.contains("empty SEARCH"));
}
