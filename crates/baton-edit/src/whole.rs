//! The whole-file format: for each changed or new file, its path, then a fenced block with
//! the file's complete new content. Owns the prompt that asks for it and its parser.
//!
//! A block's path comes from, in this order: a path the model fenced on its own just before
//! the block (the private `fence` module's heading), the nearest non-blank line before the
//! fence when that line is a path line (decorations such as `**path**`, `` `path` ``, `### path`,
//! `File: path`, `path:` and a trailing `(new file)` tolerated), the fence's info string
//! (```` ```src/a.rs ````, ```` ```rust src/a.rs ````, ```` ```rust:src/a.rs ````), or a first
//! content line that is only a comment naming the path (`// src/a.rs`), which is then
//! dropped from the content. Fences nest as the private `fence` module documents: a longer
//! fence holds shorter ones, and inside a 3-backtick fence an inner block must open with a
//! language (```` ```sh ````) to be kept as content.
//!
//! The format cannot delete a file: an empty block is an empty file. Blocks without a path
//! are explanation and are ignored once the reply has an edit; a reply with none gets a
//! problem per such block. A block that holds a SEARCH/REPLACE edit, a unified diff or an
//! elision comment (`// ... existing code ...`), or a comment naming another file (files
//! run together in one block), or follows the word `SEARCH` or `REPLACE`
//! alone on a line (a SEARCH/REPLACE edit written with words), is a problem, not a file:
//! writing it would destroy the file.

use crate::edit::{Edit, EditFormat, EditKind, Origin, ParseProblem, Parsed};
use crate::fence::{self, Block};
use crate::search_replace;
use crate::udiff;

/// Instructions asking a model for whole files.
pub const PROMPT: &str = "\
Answer with the complete new content of every file you change or create. Use plain text, never JSON.

For each file:
1. Write its path alone on a line, relative to the project root (no other words on that line).
2. On the next line open a fenced code block, write the file's complete new content, and close the block.

Every line of the file must be present, including the lines you did not change. Never shorten the file with `...` or comments such as `// rest of the code unchanged`: what you write replaces the whole file.
If the file itself contains lines starting with ``` , open and close its block with four backticks (````) instead of three.
Files you do not change are not written at all. You can explain your change before or after the blocks, but never between a path and its block.

Example:

src/greet.py
```python
def greet(name):
    return f\"Hello, {name}!\"
```
";

/// Parses `reply` as whole files; see the module doc for what counts as one.
pub fn parse(reply: &str) -> Parsed {
    parse_for(reply, None)
}

/// [`parse`], with `sole_file` the one file the reply is about (see [`crate::parse_for`]):
/// a reply that names no file and holds exactly one closed code block (not JSON) replaces
/// that file with the block.
pub(crate) fn parse_for(reply: &str, sole_file: Option<&str>) -> Parsed {
    let text = fence::normalize(reply);
    let lines = fence::split_lines(&text);
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    let mut pathless = Vec::new();
    for block in fence::blocks(&lines) {
        let line = block.open + 1;
        let Some((path, content)) = path_and_content(&lines, &block) else {
            if block.is_closed() {
                pathless.push(block);
            } else {
                problems.push(ParseProblem {
                    line,
                    message: format!(
                        "The code block opened at line {line} is never closed: the reply was cut \
                         off, or a line inside it opens a nested block that is not closed. Send \
                         the complete file again, with its closing fence."
                    ),
                });
            }
            continue;
        };
        if !block.is_closed() {
            problems.push(ParseProblem {
                line,
                message: format!(
                    "The code block for `{path}` opened at line {line} is never closed: the \
                     reply was cut off, or a line inside it opens a nested block that is not \
                     closed. Send `{path}` again, complete, ending with the closing fence (use \
                     ```` when the file contains ``` lines)."
                ),
            });
            continue;
        }
        if let Some((word, at, _)) = search_replace::worded_label(&lines, &block) {
            problems.push(ParseProblem {
                line,
                message: format!(
                    "The block for `{path}` at line {line} follows the word `{word}` at line {}: \
                     it is part of a SEARCH/REPLACE edit, not the file's whole content. Send \
                     the complete new content of `{path}` instead.",
                    at + 1
                ),
            });
            continue;
        }
        if let Some(message) = not_a_whole_file(&path, &content).or_else(|| joined(&block, &path)) {
            problems.push(ParseProblem { line, message });
            continue;
        }
        edits.push(Edit {
            path,
            kind: EditKind::Whole {
                content: fence::join_lines(&content),
            },
            origin: Origin {
                index: edits.len(),
                line,
            },
            context_file: None,
            example: false,
        });
    }
    if let ([block], Some(path), true, true) = (
        &pathless[..],
        sole_file,
        edits.is_empty(),
        problems.is_empty(),
    ) && !block.info.eq_ignore_ascii_case("json")
    {
        match not_a_whole_file(path, &block.content) {
            Some(message) => problems.push(ParseProblem {
                line: block.open + 1,
                message,
            }),
            None => edits.push(Edit {
                path: path.to_string(),
                kind: EditKind::Whole {
                    content: fence::join_lines(&block.content),
                },
                origin: Origin {
                    index: 0,
                    line: block.open + 1,
                },
                context_file: None,
                example: false,
            }),
        }
    }
    if edits.is_empty() {
        for block in &pathless {
            problems.push(pathless_problem(block));
        }
    }
    Parsed::new(
        EditFormat::Whole,
        edits,
        problems,
        "No file was found in the reply. Write each changed file as its path alone on a line, \
         then a fenced code block with the file's complete content.",
    )
}

/// Whether the reply holds a fenced block naming a file, closed or not: what detection
/// takes as the sign of the whole-file format.
pub(crate) fn has_path_headed_block(reply: &str) -> bool {
    let text = fence::normalize(reply);
    let lines = fence::split_lines(&text);
    fence::blocks(&lines)
        .iter()
        .any(|block| path_and_content(&lines, block).is_some())
}

/// The closed fenced blocks of `lines` that name a file, as (1-based opener line, path,
/// content): whole files. The other formats report them when a reply mixes one in, since
/// they cannot apply it and dropping it silently would lose a file.
pub(crate) fn named_blocks<'a>(lines: &[&'a str]) -> Vec<(usize, String, Vec<&'a str>)> {
    fence::blocks(lines)
        .iter()
        .filter(|block| block.is_closed())
        .filter_map(|block| {
            let (path, content) = path_and_content(lines, block)?;
            Some((block.open + 1, path, content))
        })
        .collect()
}

/// The block's path and its content lines (without a path comment it came from).
fn path_and_content<'a>(lines: &[&str], block: &Block<'a>) -> Option<(String, Vec<&'a str>)> {
    if let Some(path) = block
        .heading
        .and_then(|at| fence::path_from_line(lines[at]))
    {
        return Some((path, block.content.clone()));
    }
    let before = lines[..block.open]
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty());
    if let Some(path) = before.and_then(|line| fence::path_from_line(line)) {
        return Some((path, block.content.clone()));
    }
    if let Some(path) = fence::path_from_info(block.info) {
        return Some((path, block.content.clone()));
    }
    let first = block.content.first()?;
    let path = fence::path_from_comment(first)?;
    Some((path, block.content[1..].to_vec()))
}

/// Why a named block is not a file's content, when it is not.
fn not_a_whole_file(path: &str, content: &[&str]) -> Option<String> {
    let text = fence::join_lines(content);
    if search_replace::has_markers(&text) {
        return Some(format!(
            "The block for `{path}` holds a SEARCH/REPLACE edit, but whole files were asked for. \
             Send the complete new content of `{path}` instead."
        ));
    }
    let diff_file = [".diff", ".patch"].iter().any(|ext| path.ends_with(ext));
    if !diff_file && udiff::looks_like_diff(&text) {
        return Some(format!(
            "The block for `{path}` holds a unified diff, but whole files were asked for. Send \
             the complete new content of `{path}` instead."
        ));
    }
    let elided = content.iter().find(|line| is_elision(line))?;
    Some(format!(
        "The block for `{path}` leaves code out (`{}`). Send every line of `{path}`: its block \
         replaces the whole file.",
        elided.trim()
    ))
}

/// Why a block named by its first line's comment (`# a.py`) is not one file, when it holds
/// another such comment naming another file: files run together in one block. Which lines
/// belong to which file is a guess, and writing them all as `path` would put the other
/// file's lines in it.
fn joined(block: &Block<'_>, path: &str) -> Option<String> {
    let (first, rest) = block.content.split_first()?;
    if fence::path_from_comment(first).as_deref() != Some(path) {
        return None;
    }
    let other = rest
        .iter()
        .filter_map(|line| fence::path_from_comment(line))
        .find(|named| named != path)?;
    Some(format!(
        "The block for `{path}` also holds a comment naming `{other}`: write each file in a \
         block of its own, its path alone on the line before the block."
    ))
}

/// A comment standing in for code the model left out: `// ... existing code ...`,
/// `# ... rest of the file unchanged`. Needs both an ellipsis and one of the phrases models
/// use, so a real comment that merely mentions `...` stays content.
fn is_elision(line: &str) -> bool {
    const PHRASES: &[&str] = &[
        "existing",
        "rest of",
        "unchanged",
        "remain",
        "same as",
        "omitted",
        "as before",
    ];
    let text = line.trim();
    let commented = ["//", "#", "/*", "<!--", "--", ";"]
        .iter()
        .any(|prefix| text.starts_with(prefix));
    if !commented || !(text.contains("...") || text.contains('…')) {
        return false;
    }
    let lower = text.to_lowercase();
    PHRASES.iter().any(|phrase| lower.contains(phrase))
}

fn pathless_problem(block: &Block<'_>) -> ParseProblem {
    let line = block.open + 1;
    let json = block.info.eq_ignore_ascii_case("json")
        && block.content.iter().any(|line| {
            ["\"path\"", "\"file\"", "\"content\""]
                .iter()
                .any(|key| line.contains(key))
        });
    let message = if json {
        format!(
            "The code block at line {line} is JSON; edits are never read from JSON. Write each \
             file as its path alone on a line, then a fenced block with its complete content."
        )
    } else {
        format!(
            "The code block at line {line} has no file path. Write the file's path alone on the \
             line just before its opening fence, e.g. `src/main.rs`, or in the fence itself: \
             ```rust src/main.rs"
        )
    };
    ParseProblem { line, message }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn whole(path: &str, content: &str, index: usize, line: usize) -> Edit {
        Edit {
            path: path.to_string(),
            kind: EditKind::Whole {
                content: content.to_string(),
            },
            origin: Origin { index, line },
            context_file: None,
            example: false,
        }
    }

    #[test]
    fn path_lines_info_strings_and_comments_name_files() {
        let reply = "Sure.\n\n**src/a.rs**\n```rust\nfn a() {}\n```\n\n```py b.py\nb = 1\n```\n\
                     ```js\n// c.js\nc();\n```\nDone.\n";
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(
            parsed.edits,
            vec![
                whole("src/a.rs", "fn a() {}\n", 0, 4),
                whole("b.py", "b = 1\n", 1, 8),
                whole("c.js", "c();\n", 2, 11),
            ]
        );
        assert_eq!(parsed.format, Some(EditFormat::Whole));
    }

    #[test]
    fn pathless_blocks_are_ignored_beside_edits_and_reported_alone() {
        let with_edit = parse("a.txt\n```\nx\n```\nRun:\n```sh\nmake\n```\n");
        assert_eq!(with_edit.edits.len(), 1);
        assert_eq!(with_edit.problems, vec![]);
        let alone = parse("Run:\n```sh\nmake\n```\n");
        assert_eq!(alone.edits, vec![]);
        assert_eq!(alone.problems.len(), 1);
        assert!(alone.problems[0].message.contains("no file path"));
    }

    #[test]
    fn a_cut_block_is_a_problem_and_not_an_edit() {
        let parsed = parse("a.txt\n```\nx\n```\nb.txt\n```\nhalf");
        assert_eq!(parsed.edits.len(), 1);
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].line, 6);
        assert!(parsed.problems[0].message.contains("`b.txt`"));
    }

    #[test]
    fn empty_blocks_are_empty_files() {
        let parsed = parse("`__init__.py`\n```python\n```\n");
        assert_eq!(parsed.edits, vec![whole("__init__.py", "", 0, 2)]);
    }

    #[test]
    fn a_path_fenced_on_its_own_names_the_file_of_the_next_block() {
        let cut = "```\nsolution.py\n```python\ndef add(x, y):\n    return x + y\n```\n";
        let closed = format!("{cut}```\n");
        for reply in [cut, closed.as_str()] {
            // With a sole file too: the path line is never taken as content.
            for sole in [None, Some("solution.py")] {
                let parsed = parse_for(reply, sole);
                assert_eq!(parsed.problems, vec![], "{reply:?}");
                assert_eq!(
                    parsed.edits,
                    vec![whole(
                        "solution.py",
                        "def add(x, y):\n    return x + y\n",
                        0,
                        3
                    )]
                );
            }
        }
    }

    #[test]
    fn blocks_holding_other_formats_or_elisions_are_problems() {
        let sr = parse("a.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```\n");
        let diff = parse("a.py\n```diff\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n```\n");
        let elided = parse("a.py\n```\nimport os\n# ... rest of the file unchanged ...\n```\n");
        for parsed in [sr, diff, elided] {
            assert_eq!(parsed.edits, vec![]);
            assert_eq!(parsed.problems.len(), 1, "{parsed:?}");
        }
        let worded = parse("SEARCH\na.py\n```\nx = 1\n```\n");
        assert_eq!(worded.edits, vec![]);
        assert!(
            worded.problems[0]
                .message
                .contains("follows the word `SEARCH`")
        );
        // Diff text is never a file, even with no file header to tell it by.
        let hunks = "```diff\ndiff --git a/a.py b/a.py\n@@ -1 +1 @@\n-x\n+y\n```\n";
        let bare_hunk = "```\n@@ -1,2 +1,2 @@\n def a():\n-    x\n+    y\n```\n";
        for reply in [hunks, bare_hunk] {
            let parsed = parse_for(reply, Some("a.py"));
            assert_eq!(parsed.edits, vec![], "{reply}");
            assert!(
                parsed.problems[0].message.contains("unified diff"),
                "{parsed:?}"
            );
        }
        let joined = parse("```python\n# a.py\nx = 1\n\n# test_a.py\nassert x\n```\n");
        assert_eq!(joined.edits, vec![]);
        assert!(
            joined.problems[0].message.contains("`test_a.py`"),
            "{joined:?}"
        );
        let patch_file = parse("fix.patch\n```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-x\n+y\n```\n");
        assert_eq!(patch_file.edits.len(), 1);
    }
}
