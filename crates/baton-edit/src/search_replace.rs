//! The SEARCH/REPLACE format: a file's path, then blocks that each replace one stretch of
//! the file. Owns the prompt that asks for it and its parser.
//!
//! ````text
//! src/a.py
//! ```python
//! <<<<<<< SEARCH
//! old lines
//! =======
//! new lines
//! >>>>>>> REPLACE
//! ```
//! ````
//!
//! Markers are 5 to 9 `<`, `=` or `>` at the start of a line, trailing spaces allowed. The
//! parser is driven by the markers alone: fences around blocks, and text outside blocks, are
//! chatter, while everything between markers (fence lines included) is the edit's text. A
//! block's path is on the nearest non-blank line before its SEARCH marker, looking past at
//! most one fence opener (whose info string may hold the path itself), never into the
//! previous block: a path line, a short sentence ending in a backticked path (``Now in
//! `src/b.rs`:``), or a comment naming the path (`// src/b.rs`). A block with none inherits
//! the previous block's path. An empty SEARCH creates a file.
//!
//! The same edit written with the words `SEARCH` and `REPLACE` above two fenced blocks
//! instead of markers is read as one edit too (the private `worded` module).
//!
//! A fenced block headed by a path but holding no marker is a whole file mixed into the
//! reply. Beside SEARCH/REPLACE blocks it is a new file ([`EditKind::Create`]: applying it
//! fails, writing nothing, when the file exists); in a reply without any block it is a
//! problem (the reply is whole files in the wrong format, and dropping one would lose it).
//!
//! # Separator lines inside the text
//!
//! A line of 5 to 9 `=` can be text too (a markdown heading underline, a conflict-marker
//! file). It only matters when a block holds several; the separator is then, in order: the
//! one not inside a `<<<<<<< x` ... `>>>>>>> y` conflict region of the block, else the only
//! one that is exactly `=======`. When that still leaves more than one, the block is a
//! problem asking for SEARCH text that avoids such lines.

mod worded;

pub(crate) use worded::label as worded_label;

use crate::edit::{Edit, EditFormat, EditKind, Origin, ParseProblem, Parsed};
use crate::{fence, whole};

/// Instructions asking a model for SEARCH/REPLACE blocks.
pub const PROMPT: &str = "\
Answer with SEARCH/REPLACE blocks. Use plain text, never JSON.

Each block changes one place in one file:
1. The file's path alone on a line, relative to the project root.
2. A fenced code block containing:
<<<<<<< SEARCH
the exact lines now in the file, copied character for character, including indentation and comments
=======
the lines that replace them
>>>>>>> REPLACE

Rules:
- The SEARCH part must match the file exactly and only once: include enough surrounding lines to make it unique, but keep blocks small.
- To change several places, write several blocks; they apply in order. Following blocks for the same file may leave out the path line.
- To create a new file, leave the SEARCH part empty and put the whole content in the REPLACE part.
- To delete code, leave the REPLACE part empty.
- Never write `...` or a comment in place of lines: every line of SEARCH and REPLACE is taken literally.

Example:

src/greet.py
```python
<<<<<<< SEARCH
def greet(name):
    return \"Hello \" + name
=======
def greet(name):
    return f\"Hello, {name}!\"
>>>>>>> REPLACE
```
";

/// Parses `reply` as SEARCH/REPLACE blocks; see the module doc.
pub fn parse(reply: &str) -> Parsed {
    parse_for(reply, None)
}

/// [`parse`], with `sole_file` the one file the reply is about (see [`crate::parse_for`]):
/// blocks that name no file edit it.
pub(crate) fn parse_for(reply: &str, sole_file: Option<&str>) -> Parsed {
    let text = fence::normalize(reply);
    let lines = fence::split_lines(&text);
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    // The path later blocks inherit.
    let mut current_path: Option<String> = None;
    // Path lines are looked for from here on: never inside or before the previous block.
    let mut floor = 0;
    // The reply's lines (0-based, inclusive) that SEARCH/REPLACE blocks span: a fence inside
    // a block's text is that text, not a code block of the reply.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if is_replace(lines[index]) {
            problems.push(ParseProblem {
                line: index + 1,
                message: format!(
                    "The `>>>>>>> REPLACE` at line {} ends no block. Start every block with \
                     `<<<<<<< SEARCH`, then the old lines, `=======`, the new lines and \
                     `>>>>>>> REPLACE`.",
                    index + 1
                ),
            });
            floor = index + 1;
        }
        if !is_search(lines[index]) {
            index += 1;
            continue;
        }
        let start = index;
        let line = start + 1;
        if let Some(path) = path_before(&lines, floor, start) {
            current_path = Some(path);
        }
        let end =
            (start + 1..lines.len()).find(|&at| is_replace(lines[at]) || is_search(lines[at]));
        let Some(end) = end.filter(|&at| is_replace(lines[at])) else {
            let message = match end {
                Some(next) => format!(
                    "The block at line {line} has no `>>>>>>> REPLACE` before the next \
                     `<<<<<<< SEARCH` at line {}. End every block with `>>>>>>> REPLACE`.",
                    next + 1
                ),
                None => format!(
                    "The block at line {line} is not finished: the reply ends before its \
                     `>>>>>>> REPLACE` (it was cut off?). Send the block again, complete."
                ),
            };
            problems.push(ParseProblem { line, message });
            index = end.unwrap_or(lines.len());
            spans.push((start, index.saturating_sub(1)));
            floor = index;
            continue;
        };
        spans.push((start, end));
        let body = &lines[start + 1..end];
        index = end + 1;
        floor = index;
        let divider = match divider(body) {
            Ok(divider) => divider,
            Err(message) => {
                problems.push(ParseProblem {
                    line,
                    message: format!("The block at line {line} {message}"),
                });
                continue;
            }
        };
        let Some(path) = current_path
            .clone()
            .or_else(|| sole_file.map(str::to_string))
        else {
            problems.push(ParseProblem {
                line,
                message: format!(
                    "The block at line {line} has no file path. Write the file's path alone on \
                     the line before the block (before its opening fence), e.g. `src/main.rs`."
                ),
            });
            continue;
        };
        edits.push(Edit {
            path,
            kind: EditKind::SearchReplace {
                search: fence::join_lines(&body[..divider]),
                replace: fence::join_lines(&body[divider + 1..]),
            },
            origin: Origin {
                index: edits.len(),
                line,
            },
            context_file: None,
            example: false,
        });
    }
    let inside = |spans: &[(usize, usize)], at: usize| {
        spans.iter().any(|&(from, to)| (from..=to).contains(&at))
    };
    let worded = worded::parse(&lines, |open| inside(&spans, open));
    for edit in worded.edits {
        let line = edit.at + 1;
        spans.push((edit.at, edit.end));
        let Some(path) = edit.path.or_else(|| sole_file.map(str::to_string)) else {
            problems.push(ParseProblem {
                line,
                message: format!(
                    "The SEARCH part at line {line} has no file path. Write the file's path \
                     alone on the line before the block, e.g. `src/main.rs`."
                ),
            });
            continue;
        };
        edits.push(Edit {
            path,
            kind: EditKind::SearchReplace {
                search: edit.search,
                replace: edit.replace,
            },
            origin: Origin { index: 0, line },
            context_file: None,
            example: false,
        });
    }
    problems.extend(worded.problems);
    let inside_a_block =
        |line: usize| inside(&spans, line - 1) || worded.opens.contains(&(line - 1));
    // A reply of SEARCH/REPLACE blocks that also holds a path-headed block without markers
    // most often writes a new file that way: it becomes a creation, which fails (nothing
    // written) if the file exists. Without any block, the reply is whole files written in
    // the wrong format, which the caller may detect and apply as such: a problem here.
    let with_blocks = !edits.is_empty();
    for (line, path, content) in whole::named_blocks(&lines) {
        if inside_a_block(line) {
            continue;
        }
        let marked = content
            .iter()
            .any(|text| is_search(text) || is_divider(text) || is_replace(text));
        if !marked && with_blocks {
            edits.push(Edit {
                path,
                kind: EditKind::Create {
                    content: fence::join_lines(&content),
                },
                origin: Origin { index: 0, line },
                context_file: None,
                example: false,
            });
        } else if !marked {
            problems.push(ParseProblem {
                line,
                message: format!(
                    "The code block at line {line} for `{path}` holds no SEARCH/REPLACE block. \
                     To create `{path}`, write a block with an empty SEARCH part and the whole \
                     content as its REPLACE part; to change it, write SEARCH/REPLACE blocks."
                ),
            });
        }
    }
    Parsed::new(
        EditFormat::SearchReplace,
        edits,
        problems,
        "No SEARCH/REPLACE block was found in the reply. Write each change as the file's path \
         on a line, then `<<<<<<< SEARCH`, the exact old lines, `=======`, the new lines, and \
         `>>>>>>> REPLACE`.",
    )
}

/// Whether `text` holds a SEARCH marker line, or a block labelled with the word `SEARCH`: the
/// sign of this format for detection.
pub(crate) fn has_markers(text: &str) -> bool {
    let lines = fence::split_lines(text);
    lines.iter().copied().any(is_search) || worded::has_worded(&lines)
}

/// The path named just before the SEARCH marker at `start`: the nearest non-blank line at
/// or after `floor` if it names one (a path line, a sentence ending in a backticked path, or
/// a comment naming a path, as in `// src/a.rs` written inside the fence);
/// or, if it is a fence opener, the path in its info string or on the nearest non-blank line
/// before it.
fn path_before(lines: &[&str], floor: usize, start: usize) -> Option<String> {
    let previous = |before: usize| {
        (floor..before)
            .rev()
            .find(|&at| !lines[at].trim().is_empty())
    };
    let named = |line: &str| {
        fence::path_from_line(line)
            .or_else(|| fence::path_from_sentence(line))
            .or_else(|| fence::path_from_comment(line))
    };
    let nearest = previous(start)?;
    if let Some(path) = named(lines[nearest]) {
        return Some(path);
    }
    let opener = fence::opener(lines[nearest])?;
    if let Some(path) = fence::path_from_info(opener.info) {
        return Some(path);
    }
    named(lines[previous(nearest)?])
}

/// The index in `body` of the line separating SEARCH from REPLACE, or what is wrong (the
/// rest of a sentence starting "The block at line N").
fn divider(body: &[&str]) -> Result<usize, String> {
    let candidates: Vec<usize> = (0..body.len()).filter(|&at| is_divider(body[at])).collect();
    match candidates.as_slice() {
        [] => {
            return Err(
                "has no `=======` line between its SEARCH and REPLACE text. Write \
                        `<<<<<<< SEARCH`, the old lines, `=======`, the new lines, then \
                        `>>>>>>> REPLACE`."
                    .to_string(),
            );
        }
        [only] => return Ok(*only),
        _ => {}
    }
    let regions = conflict_regions(body);
    let outside: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&at| !regions.iter().any(|&(open, close)| open < at && at < close))
        .collect();
    if let [only] = outside.as_slice() {
        return Ok(*only);
    }
    let pool = if outside.is_empty() {
        &candidates
    } else {
        &outside
    };
    let exact: Vec<usize> = pool
        .iter()
        .copied()
        .filter(|&at| body[at].trim_end() == "=======")
        .collect();
    if let [only] = exact.as_slice() {
        return Ok(*only);
    }
    Err(format!(
        "has {} lines made only of `=`, so where its SEARCH text ends is ambiguous. Choose \
         SEARCH and REPLACE text without such lines (smaller blocks around them), keeping one \
         `=======` between the two parts.",
        candidates.len()
    ))
}

/// The `(open, close)` line pairs of git conflict regions (`<<<<<<< ours` ... `>>>>>>>
/// theirs`) inside a block's text, whose `=======` lines are text, not separators.
fn conflict_regions(body: &[&str]) -> Vec<(usize, usize)> {
    let mut regions = Vec::new();
    let mut open = None;
    for (at, line) in body.iter().enumerate() {
        if line.starts_with("<<<<<<<") {
            open = Some(at);
        } else if line.starts_with(">>>>>>>")
            && let Some(start) = open.take()
        {
            regions.push((start, at));
        }
    }
    regions
}

/// A run of 5 to 9 `marker` at the start of `line`, then `word` (any case), then only
/// whitespace.
fn is_marker(line: &str, marker: char, word: &str) -> bool {
    let rest = line.trim_start_matches(marker);
    let run = line.len() - rest.len();
    (5..=9).contains(&run) && rest.trim().eq_ignore_ascii_case(word)
}

fn is_search(line: &str) -> bool {
    is_marker(line, '<', "SEARCH")
}

fn is_divider(line: &str) -> bool {
    is_marker(line, '=', "")
}

fn is_replace(line: &str) -> bool {
    is_marker(line, '>', "REPLACE")
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn edit(path: &str, search: &str, replace: &str, index: usize, line: usize) -> Edit {
        Edit {
            path: path.to_string(),
            kind: EditKind::SearchReplace {
                search: search.to_string(),
                replace: replace.to_string(),
            },
            origin: Origin { index, line },
            context_file: None,
            example: false,
        }
    }

    #[test]
    fn paths_before_or_inside_the_fence_name_the_file_and_later_blocks_inherit_them() {
        let reply = "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n\
                     Also:\n```python\n<<<<<<< SEARCH\ny\n=======\n>>>>>>> REPLACE\n```\n\
                     ```\nb.py\n<<<<<<<  SEARCH  \n=========\nnew\n>>>>>>>>> REPLACE\n```\n";
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(
            parsed.edits,
            vec![
                edit("a.py", "x = 1\n", "x = 2\n", 0, 3),
                edit("a.py", "y\n", "", 1, 11),
                edit("b.py", "", "new\n", 2, 18),
            ]
        );
    }

    #[test]
    fn sentences_and_comments_naming_a_path_name_the_file() {
        let reply = "Now in `a.py`:\n```python\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n```\n\
                     ```rust\n// src/b.rs\n<<<<<<< SEARCH\n=======\ny\n>>>>>>> REPLACE\n```\n";
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(
            parsed.edits,
            vec![
                edit("a.py", "", "x\n", 0, 3),
                edit("src/b.rs", "", "y\n", 1, 10)
            ]
        );
    }

    #[test]
    fn a_block_without_any_path_is_a_problem() {
        let parsed = parse("<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n");
        assert_eq!(parsed.edits, vec![]);
        assert_eq!(parsed.problems.len(), 1);
        assert!(parsed.problems[0].message.contains("no file path"));
    }

    #[test]
    fn broken_blocks_are_problems_at_their_line() {
        let no_divider = parse("a.py\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n");
        assert_eq!(no_divider.problems[0].line, 2);
        assert!(no_divider.problems[0].message.contains("no `=======`"));
        let no_replace = parse(
            "a.py\n<<<<<<< SEARCH\na\n=======\n<<<<<<< SEARCH\nb\n=======\nc\n>>>>>>> REPLACE\n",
        );
        assert_eq!(no_replace.problems.len(), 1);
        assert!(no_replace.problems[0].message.contains("line 5"));
        assert_eq!(no_replace.edits, vec![edit("a.py", "b\n", "c\n", 0, 5)]);
        let cut = parse("a.py\n<<<<<<< SEARCH\na\n=======\nb");
        assert!(cut.problems[0].message.contains("cut off"));
        let two = parse("a.md\n<<<<<<< SEARCH\na\n=======\nb\n=======\nc\n>>>>>>> REPLACE\n");
        assert!(two.problems[0].message.contains("ambiguous"), "{two:?}");
        assert_eq!(two.edits, vec![]);
    }

    #[test]
    fn separator_lines_in_text_are_resolved_when_unambiguous() {
        let underline = parse(
            "a.md\n<<<<<<< SEARCH\nTitle\n=====\n=======\nTitle\n=========\n>>>>>>> REPLACE\n",
        );
        assert_eq!(
            underline.edits,
            vec![edit("a.md", "Title\n=====\n", "Title\n=========\n", 0, 2)]
        );
        let conflict = "f.txt\n<<<<<<< SEARCH\n<<<<<<< HEAD\na\n=======\nb\n>>>>>>> main\n\
                        =======\na\n>>>>>>> REPLACE\n";
        let parsed = parse(conflict);
        assert_eq!(
            parsed.edits,
            vec![edit(
                "f.txt",
                "<<<<<<< HEAD\na\n=======\nb\n>>>>>>> main\n",
                "a\n",
                0,
                2
            )]
        );
    }

    #[test]
    fn search_and_replace_written_as_words_above_two_blocks_make_one_edit() {
        let reply = "SEARCH\na.py\n```\nold = 1\n```\nREPLACE\na.py\n```python\nnew = 1\n```\n";
        assert!(has_markers(reply));
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(
            parsed.edits,
            vec![edit("a.py", "old = 1\n", "new = 1\n", 0, 1)]
        );
        // No path at all: the sole file's.
        let bare = "SEARCH\n```\nold = 1\n```\n\nREPLACE\n```\nnew = 1\n```\n";
        let parsed = parse_for(bare, Some("b.py"));
        assert_eq!(
            parsed.edits,
            vec![edit("b.py", "old = 1\n", "new = 1\n", 0, 1)]
        );
        // A SEARCH part alone is no edit, and its block is no file.
        let alone = parse_for("SEARCH\na.py\n```\nobj['a.py']\n```\n", Some("a.py"));
        assert_eq!(alone.edits, vec![]);
        assert_eq!(alone.problems.len(), 1, "{alone:?}");
        assert!(
            alone.problems[0]
                .message
                .contains("no complete REPLACE part")
        );
        let two_files = parse("SEARCH\na.py\n```\nx\n```\nREPLACE\nb.py\n```\ny\n```\n");
        assert_eq!(two_files.edits, vec![]);
        assert!(two_files.problems[0].message.contains("`a.py`"));
    }

    #[test]
    fn fence_lines_inside_the_text_are_text() {
        let parsed = parse(
            "README.md\n````\n<<<<<<< SEARCH\n```sh\nmake\n```\n=======\n```sh\njust\n```\n\
             >>>>>>> REPLACE\n````\n",
        );
        assert_eq!(
            parsed.edits,
            vec![edit(
                "README.md",
                "```sh\nmake\n```\n",
                "```sh\njust\n```\n",
                0,
                3
            )]
        );
    }
}
