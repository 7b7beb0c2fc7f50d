//! SEARCH/REPLACE written with words instead of markers, as small models write it: the word
//! `SEARCH` alone on a line, the path, a fenced block of the old lines, then `REPLACE`, the
//! path again (or not), and a fenced block of the new lines.
//!
//! ````text
//! SEARCH
//! greeting.py
//! ```
//! old lines
//! ```
//! REPLACE
//! greeting.py
//! ```
//! new lines
//! ```
//! ````
//!
//! A person reads one edit: the first block replaced by the second. The blocks are never
//! whole files (the first is often a fragment, and writing it as the file would cut the rest
//! away), so a `SEARCH` part without its `REPLACE` part is a problem, not an edit. The word
//! counts alone on its line, in capitals, a trailing colon and `**` bold allowed; a block
//! holding marker lines is left to the marker parser.

use crate::edit::ParseProblem;
use crate::fence::{self, Block};

/// Which part a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Word {
    Search,
    Replace,
}

impl std::fmt::Display for Word {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Word::Search => "SEARCH",
            Word::Replace => "REPLACE",
        })
    }
}

/// One edit written with words: where its `SEARCH` word is, its path if written, its texts,
/// and the lines it spans.
pub(super) struct WordedEdit {
    /// 0-based line of the `SEARCH` word.
    pub(super) at: usize,
    pub(super) path: Option<String>,
    pub(super) search: String,
    pub(super) replace: String,
    /// 0-based line of the closer of the REPLACE block.
    pub(super) end: usize,
}

/// The word `line` is, if it is only `SEARCH` or `REPLACE`.
fn word(line: &str) -> Option<Word> {
    let text = line.trim().trim_matches('*').trim_end_matches(':').trim();
    match text {
        "SEARCH" => Some(Word::Search),
        "REPLACE" => Some(Word::Replace),
        _ => None,
    }
}

/// The word that labels `block` (on the nearest non-blank line before it, or before its path
/// line), with the 0-based line of the word and the path written between them.
pub(crate) fn label(lines: &[&str], block: &Block<'_>) -> Option<(Word, usize, Option<String>)> {
    let previous = |before: usize| (0..before).rev().find(|&at| !lines[at].trim().is_empty());
    let start = block.heading.unwrap_or(block.open);
    let nearest = previous(start)?;
    let named = block
        .heading
        .and_then(|at| fence::path_from_line(lines[at]))
        .or_else(|| fence::path_from_info(block.info));
    if let Some(found) = word(lines[nearest]) {
        return Some((found, nearest, named));
    }
    let path = fence::path_from_line(lines[nearest])?;
    let above = previous(nearest)?;
    word(lines[above]).map(|found| (found, above, Some(path)))
}

/// What the worded parts of a reply make.
#[derive(Default)]
pub(super) struct Worded {
    pub(super) edits: Vec<WordedEdit>,
    /// Worded parts that make no edit.
    pub(super) problems: Vec<ParseProblem>,
    /// 0-based opener lines of every labelled block: none of them is a whole file.
    pub(super) opens: Vec<usize>,
}

/// Whether `lines` hold a block labelled `SEARCH`: the sign of this way of writing.
pub(crate) fn has_worded(lines: &[&str]) -> bool {
    fence::blocks(lines).iter().any(|block| {
        !holds_markers(block)
            && label(lines, block).is_some_and(|(found, ..)| found == Word::Search)
    })
}

/// The worded edits of `lines`; blocks for which `skip` holds (inside marker blocks) are not
/// looked at.
pub(super) fn parse(lines: &[&str], skip: impl Fn(usize) -> bool) -> Worded {
    let blocks: Vec<Block<'_>> = fence::blocks(lines)
        .into_iter()
        .filter(|block| !skip(block.open))
        .collect();
    let labelled: Vec<Option<(Word, usize, Option<String>)>> = blocks
        .iter()
        .map(|block| label(lines, block).filter(|_| !holds_markers(block)))
        .collect();
    let opens = blocks
        .iter()
        .zip(&labelled)
        .filter(|(_, label)| label.is_some())
        .map(|(block, _)| block.open)
        .collect();
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    let mut index = 0;
    while index < blocks.len() {
        let Some((found, at, path)) = labelled[index].clone() else {
            index += 1;
            continue;
        };
        let line = at + 1;
        let search = &blocks[index];
        let replace = blocks.get(index + 1).zip(labelled.get(index + 1).cloned());
        match (found, replace) {
            (Word::Search, Some((replace, Some((Word::Replace, _, replace_path)))))
                if search.is_closed() && replace.is_closed() =>
            {
                index += 2;
                let path = match (path, replace_path) {
                    (Some(first), Some(second)) if first != second => {
                        problems.push(ParseProblem {
                            line,
                            message: format!(
                                "The SEARCH part at line {line} is for `{first}` and its REPLACE \
                                 part for `{second}`. Write one edit per file, as the \
                                 `<<<<<<< SEARCH` ... `>>>>>>> REPLACE` blocks of the \
                                 instructions."
                            ),
                        });
                        continue;
                    }
                    (first, second) => first.or(second),
                };
                edits.push(WordedEdit {
                    at,
                    path,
                    search: fence::join_lines(&search.content),
                    replace: fence::join_lines(&replace.content),
                    end: replace.close.unwrap_or(replace.open),
                });
            }
            (Word::Search, _) => {
                index += 1;
                problems.push(ParseProblem {
                    line,
                    message: format!(
                        "The SEARCH part at line {line} has no complete REPLACE part after it. \
                         Write each change as `<<<<<<< SEARCH`, the exact old lines, \
                         `=======`, the new lines and `>>>>>>> REPLACE`."
                    ),
                });
            }
            (Word::Replace, _) => {
                index += 1;
                problems.push(ParseProblem {
                    line,
                    message: format!(
                        "The REPLACE part at line {line} has no SEARCH part before it. Write \
                         each change as `<<<<<<< SEARCH`, the exact old lines, `=======`, the \
                         new lines and `>>>>>>> REPLACE`."
                    ),
                });
            }
        }
    }
    Worded {
        edits,
        problems,
        opens,
    }
}

fn holds_markers(block: &Block<'_>) -> bool {
    block
        .content
        .iter()
        .any(|line| super::is_search(line) || super::is_divider(line) || super::is_replace(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_alone_on_their_line_label_blocks() {
        for line in ["SEARCH", "**SEARCH**", "SEARCH:", "  REPLACE  "] {
            assert!(word(line).is_some(), "{line}");
        }
        for line in [
            "SEARCH/REPLACE",
            "search",
            "SEARCH the file",
            "<<<<<<< SEARCH",
        ] {
            assert_eq!(word(line), None, "{line}");
        }
    }
}
