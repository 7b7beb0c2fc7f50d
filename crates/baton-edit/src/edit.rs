//! The values every parser returns and the applier consumes: an [`Edit`] is one change to one
//! file, as a model's reply asked for it, before anything touched the disk.
//!
//! Text inside edits always has `\n` line endings (parsers turn a reply's `\r\n` into `\n`);
//! the applier writes each file back with the line endings it had.

use serde::{Deserialize, Serialize};

pub use baton_core::EditFormat;

/// One change to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// The path as the reply wrote it (relative to the root the edits are applied under;
    /// the applier refuses anything else). Never empty.
    pub path: String,
    pub kind: EditKind,
    /// Where in the reply this edit came from, for reports sent back to the model.
    pub origin: Origin,
    /// The context file a person reads the edit as being for when `path` does not exist
    /// under the root: the model wrote a context file's path with the prompt example's
    /// directory in front (`src/a.py` for `a.py`), or the example's own path for its answer
    /// about the only context file. Set by [`crate::parse_with_context`]; the applier then
    /// edits that file instead, saying so, and `path` when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_file: Option<String>,
    /// The edit echoes a prompt's example beside the reply's real edits: it is the example's
    /// change (whatever path it names), or it is for the example's path. Set by
    /// [`crate::parse_for`]; the applier never writes such an edit: it drops it when its file
    /// does not exist, and fails it when the file does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub example: bool,
}

/// Where an edit starts in the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// 0-based index of the edit among the reply's edits.
    pub index: usize,
    /// 1-based line of the reply where its block (or diff header) starts.
    pub line: usize,
}

/// What an edit does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EditKind {
    /// The file's whole new content; the file is created when it does not exist.
    Whole { content: String },
    /// Replace the one place `search` occurs with `replace`. An empty `search` creates the
    /// file with `replace` as its content (refused as a failed edit when the file exists and
    /// is not empty).
    SearchReplace { search: String, replace: String },
    /// Unified-diff hunks against the existing file. Line numbers in hunk headers are hints
    /// only: hunks are located by their context and removed lines.
    Patch { hunks: Vec<Hunk> },
    /// A new file that must not exist yet (a diff from `/dev/null`).
    Create { content: String },
    /// Delete the file (a diff to `/dev/null`).
    Delete,
}

impl EditKind {
    /// A short name for reports: `whole`, `search-replace`, `patch`, `create`, `delete`.
    pub fn name(&self) -> &'static str {
        match self {
            EditKind::Whole { .. } => "whole",
            EditKind::SearchReplace { .. } => "search-replace",
            EditKind::Patch { .. } => "patch",
            EditKind::Create { .. } => "create",
            EditKind::Delete => "delete",
        }
    }
}

/// One hunk of a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    /// The 1-based old start line of the `@@ -a,b +c,d @@` header, when it had one that
    /// parsed: where to look first, never trusted.
    pub old_start_hint: Option<usize>,
    pub lines: Vec<HunkLine>,
}

impl Hunk {
    /// The text the hunk expects in the file: context and removed lines, each ending in `\n`.
    pub fn before(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().filter_map(HunkLine::before).collect();
        crate::fence::join_lines(&lines)
    }

    /// The text the hunk leaves in the file: context and added lines, each ending in `\n`.
    pub fn after(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().filter_map(HunkLine::after).collect();
        crate::fence::join_lines(&lines)
    }
}

/// One line of a hunk, without its ` `/`-`/`+` marker and without its line ending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "text", rename_all = "kebab-case")]
pub enum HunkLine {
    Context(String),
    Remove(String),
    Add(String),
}

impl HunkLine {
    /// The line's text when the file holds it before the hunk applies (context, removed).
    pub(crate) fn before(&self) -> Option<&str> {
        match self {
            HunkLine::Context(text) | HunkLine::Remove(text) => Some(text),
            HunkLine::Add(_) => None,
        }
    }

    /// The line's text when the file holds it after the hunk applied (context, added).
    pub(crate) fn after(&self) -> Option<&str> {
        match self {
            HunkLine::Context(text) | HunkLine::Add(text) => Some(text),
            HunkLine::Remove(_) => None,
        }
    }
}

/// What parsing a reply found: the edits, and what stopped a block from being one. A reply
/// with any problem is not applied at all (all edits of a reply parse before any file
/// changes); `problems` then says what to send back to the model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    /// The format the reply was parsed as: the one asked for, or the one detected; `None`
    /// when detection found no format (then `edits` is empty and `problems` says so).
    pub format: Option<EditFormat>,
    pub edits: Vec<Edit>,
    pub problems: Vec<ParseProblem>,
}

impl Parsed {
    /// What a parser found, in reply order (see [`Parsed::put_in_order`]); with neither an
    /// edit nor a problem, `none_found` is the one problem, at line 1.
    pub(crate) fn new(
        format: EditFormat,
        edits: Vec<Edit>,
        problems: Vec<ParseProblem>,
        none_found: &str,
    ) -> Parsed {
        let mut parsed = Parsed {
            format: Some(format),
            edits,
            problems,
        };
        if parsed.edits.is_empty() && parsed.problems.is_empty() {
            parsed.problems.push(ParseProblem {
                line: 1,
                message: none_found.to_string(),
            });
        }
        parsed.put_in_order();
        parsed
    }

    /// Sorts problems and edits by their line in the reply and numbers the edits from 0.
    pub(crate) fn put_in_order(&mut self) {
        self.problems.sort_by_key(|problem| problem.line);
        self.edits.sort_by_key(|edit| edit.origin.line);
        for (index, edit) in self.edits.iter_mut().enumerate() {
            edit.origin.index = index;
        }
    }

    /// Well-formed: at least one edit and no problem.
    pub fn is_well_formed(&self) -> bool {
        !self.edits.is_empty() && self.problems.is_empty()
    }
}

/// Why part of a reply is not an edit, precise enough to send back to the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseProblem {
    /// 1-based line of the reply where the problem is.
    pub line: usize,
    /// What is wrong and what the model should write instead, in one or two sentences.
    pub message: String,
}
