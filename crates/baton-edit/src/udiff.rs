//! The unified-diff format: `--- a/path` / `+++ b/path` headers followed by `@@` hunks, as
//! `diff -u` and `git diff` write them, bare or inside ```` ```diff ```` fences. Owns the
//! prompt that asks for it and its parser.
//!
//! The parser is lenient where models are sloppy and strict where a mistake would change
//! the wrong text:
//! - `diff --git`, `index` and mode lines are skipped; `a/` and `b/` prefixes, quotes and a
//!   trailing tab or timestamp are dropped from header paths. A `diff --git a/x b/x` line
//!   followed by hunks without `---`/`+++` lines is the file's header itself.
//! - Hunk header counts are not trusted: a hunk ends at the next `@@`, file header or
//!   `diff --git`, at a fence line, or at the first line that cannot be a hunk line. Only
//!   the old start line is kept, as a hint; `@@ @@` and `@@ ... @@` have none.
//! - An empty line inside a hunk is an empty context line (models drop the space); empty
//!   lines at the end of a hunk are dropped instead, as they are usually the gap before the
//!   next paragraph.
//! - `--- /dev/null` creates a file from the added lines; `+++ /dev/null` deletes one.
//! - Problems: a hunk that changes nothing, a header without hunks, `---` without `+++`, a
//!   hunk with no header, a rename (not supported: a delete and a create instead), and a
//!   line without a marker in the middle of a hunk (a context line that lost its space would
//!   otherwise end the hunk and leave the rest of it unread).
//! - A fenced block headed by a path but holding no diff is a whole file mixed into the
//!   reply: a problem, since this format cannot apply it and dropping it would lose the file.
//! - A reply that ends inside the fence of its last diff was cut off: that file's diff is a
//!   problem, not an edit.

use crate::edit::{Edit, EditFormat, EditKind, Hunk, HunkLine, Origin, ParseProblem, Parsed};
use crate::{fence, whole};

/// Instructions asking a model for unified diffs.
pub const PROMPT: &str = "\
Answer with a unified diff of your changes, like `git diff` prints it, in a ```diff fenced block. Use plain text, never JSON.

For each file:
1. A `--- a/path` line and a `+++ b/path` line, with the path relative to the project root.
2. One or more hunks. Each starts with an `@@ -start,count +start,count @@` line, then the lines of that part of the file, each starting with one character:
   a space for a line that stays as it is, `-` for a line to remove, `+` for a line to add.

Rules:
- Copy the context and removed lines exactly from the file, including indentation; give 2 or 3 unchanged lines around each change.
- Never write `...` or a comment in place of lines.
- New file: `--- /dev/null` then `+++ b/path`, and one hunk adding every line.
- Deleted file: `--- a/path` then `+++ /dev/null`.
- To rename a file, delete it and create the new one.

Example:

```diff
--- a/src/greet.py
+++ b/src/greet.py
@@ -1,2 +1,2 @@
 def greet(name):
-    return \"Hello \" + name
+    return f\"Hello, {name}!\"
```
";

const DEV_NULL: &str = "/dev/null";

/// Parses `reply` as unified diffs; see the module doc.
pub fn parse(reply: &str) -> Parsed {
    let text = fence::normalize(reply);
    let lines = fence::split_lines(&text);
    let mut parser = Parser {
        lines: &lines,
        edits: Vec::new(),
        problems: Vec::new(),
    };
    parser.run();
    let Parser {
        mut edits,
        mut problems,
        ..
    } = parser;
    // A reply that ends inside the fence of a diff was cut off: its last file may be missing
    // lines, and a new file would be written half. Fence lines are counted at the start of a
    // line only: inside a diff every line starts with its marker, so those are the reply's.
    let reply_fence = |line: &str| line.starts_with("```") || line.starts_with("~~~");
    let cut = edits.last().is_some_and(|edit| {
        let (before, after) = lines.split_at(edit.origin.line - 1);
        let fences = before.iter().filter(|line| reply_fence(line)).count();
        fences % 2 == 1 && !after.iter().any(|line| reply_fence(line))
    });
    if cut && let Some(edit) = edits.pop() {
        let line = edit.origin.line;
        problems.push(ParseProblem {
            line,
            message: format!(
                "The diff for `{}` at line {line} is cut off: the reply ends inside its fenced \
                 block. Send it again, complete, ending with the closing fence.",
                edit.path
            ),
        });
    }
    for (line, path, content) in whole::named_blocks(&lines) {
        let diff = content.iter().any(|text| {
            ["--- ", "+++ ", "@@"]
                .iter()
                .any(|start| text.starts_with(start))
        });
        if !diff {
            problems.push(ParseProblem {
                line,
                message: format!(
                    "The code block at line {line} for `{path}` is not a diff. To create \
                     `{path}`, write `--- /dev/null`, `+++ b/{path}` and a hunk adding every \
                     line; to change it, write a diff of the changed lines."
                ),
            });
        }
    }
    Parsed::new(
        EditFormat::Udiff,
        edits,
        problems,
        "No unified diff was found in the reply. Write each file's changes as `--- a/path`, \
         `+++ b/path`, then `@@ ... @@` hunks whose lines start with ` `, `-` or `+`.",
    )
}

/// Whether `text` holds a `---`/`+++` header pair followed by a `@@` hunk header: the sign
/// of this format for detection.
pub(crate) fn has_diff(text: &str) -> bool {
    let lines = fence::split_lines(text);
    (0..lines.len()).any(|at| {
        let header = is_file_header(&lines, at)
            && lines[at + 2..]
                .iter()
                .find(|line| !line.trim().is_empty())
                .is_some_and(|line| line.starts_with("@@"));
        header || git_only_header(&lines, at).is_some()
    })
}

/// Whether `text` reads as diff text even without file headers: a diff, or a `@@ -` hunk
/// header followed by a `+` or `-` line. Such text is never a file's whole content.
pub(crate) fn looks_like_diff(text: &str) -> bool {
    let lines = fence::split_lines(text);
    has_diff(text)
        || lines.iter().enumerate().any(|(at, line)| {
            line.starts_with("@@ -")
                && lines[at + 1..]
                    .iter()
                    .any(|next| next.starts_with(['+', '-']))
        })
}

/// The old and new paths of a `diff --git a/x b/x` line at `at` that has no `---`/`+++`
/// lines after it (git's extended header lines aside) but goes straight to a `@@` hunk, and
/// the line of that hunk: small models leave the header pair out, and git's own line names
/// the file as well. Only the plain form, two paths without spaces, counts.
fn git_only_header(lines: &[&str], at: usize) -> Option<(String, String, usize)> {
    let rest = lines[at].strip_prefix("diff --git ")?;
    let mut paths = rest.split_whitespace();
    let (old, new) = (paths.next()?, paths.next()?);
    if paths.next().is_some() || !old.starts_with("a/") || !new.starts_with("b/") {
        return None;
    }
    let hunk = (at + 1..lines.len())
        .find(|&k| !lines[k].trim().is_empty() && !is_extended_header(lines[k]))?;
    lines[hunk]
        .starts_with("@@")
        .then(|| (old.to_string(), new.to_string(), hunk))
}

/// A hunk line as read, before knowing whether the file is new.
struct RawLine {
    line: HunkLine,
    /// An empty reply line (no marker at all): a context line in a patch, an added line in
    /// a new file.
    bare: bool,
}

struct RawHunk {
    /// 0-based line of the `@@` header.
    at: usize,
    old_start_hint: Option<usize>,
    lines: Vec<RawLine>,
}

struct Parser<'a> {
    lines: &'a [&'a str],
    edits: Vec<Edit>,
    problems: Vec<ParseProblem>,
}

impl Parser<'_> {
    fn run(&mut self) {
        let lines = self.lines;
        // Where the current file's `diff --git` line is, while only git's extended header
        // lines follow it: the edit's origin.
        let mut git_start: Option<usize> = None;
        let mut renaming = false;
        let mut at = 0;
        while at < lines.len() {
            let line = lines[at];
            if let Some((old, new, hunk)) = git_only_header(lines, at) {
                at = self.file_from(at, &old, &new, hunk, /*renaming*/ false);
                renaming = false;
                git_start = None;
                continue;
            }
            if line.starts_with("diff --git ") {
                git_start = Some(at);
                renaming = false;
                at += 1;
                continue;
            }
            if line.starts_with("rename from ") || line.starts_with("rename to ") {
                if !renaming {
                    self.problem(git_start.unwrap_or(at), rename_message());
                }
                renaming = true;
                at += 1;
                continue;
            }
            if is_file_header(lines, at) {
                let start = git_start.take().unwrap_or(at);
                at = self.file(start, at, renaming);
                renaming = false;
                continue;
            }
            if !is_extended_header(line) {
                git_start = None;
            }
            if line.starts_with("@@") {
                let (hunk, end) = self.hunk(at);
                self.problem(
                    hunk.at,
                    format!(
                        "The hunk at line {} has no file header. Put `--- a/path` and \
                         `+++ b/path` lines before the first hunk of each file.",
                        hunk.at + 1
                    ),
                );
                at = end;
                continue;
            }
            let lone_header = line
                .strip_prefix("--- ")
                .map(header_path)
                .is_some_and(|path| path == DEV_NULL || fence::looks_like_path(&path, false, true));
            at += 1;
            if lone_header {
                self.problem(
                    at - 1,
                    format!(
                        "The `---` line at line {at} is not followed by a `+++ b/path` line. \
                         Write both header lines, then the hunks."
                    ),
                );
                // Its hunks belong to the broken header: one problem is enough.
                while let Some(next) = (at..lines.len()).find(|&k| !lines[k].trim().is_empty())
                    && lines[next].starts_with("@@")
                {
                    at = self.hunk(next).1;
                }
            }
        }
    }

    /// Reads the file whose `---` line is at `header` (its diff starting at `start`) and its
    /// hunks; returns the line after them.
    fn file(&mut self, start: usize, header: usize, renaming: bool) -> usize {
        let lines = self.lines;
        let old = header_path(&lines[header][4..]);
        let new = header_path(&lines[header + 1][4..]);
        self.file_from(start, &old, &new, header + 2, renaming)
    }

    /// Reads the hunks from `first` on of the file whose diff starts at `start` with header
    /// paths `old` and `new`; returns the line after them.
    fn file_from(
        &mut self,
        start: usize,
        old: &str,
        new: &str,
        first: usize,
        renaming: bool,
    ) -> usize {
        let lines = self.lines;
        let (old, new) = (old.to_string(), new.to_string());
        let mut at = first;
        let mut hunks = Vec::new();
        loop {
            let next = (at..lines.len()).find(|&k| !lines[k].trim().is_empty());
            match next {
                Some(k) if lines[k].starts_with("@@") => {
                    let (hunk, end) = self.hunk(k);
                    hunks.push(hunk);
                    at = end;
                }
                _ => break,
            }
        }
        if renaming {
            return at;
        }
        let line = start + 1;
        let kind = match (old.as_str(), new.as_str()) {
            (DEV_NULL, DEV_NULL) => {
                self.problem(
                    start,
                    format!("The diff at line {line} has `/dev/null` on both header lines."),
                );
                return at;
            }
            (_, DEV_NULL) => Some((strip_prefix(&old, "a/"), EditKind::Delete)),
            (DEV_NULL, _) => {
                let path = strip_prefix(&new, "b/");
                let kind = self.created(&path, line, &hunks);
                kind.map(|kind| (path, kind))
            }
            _ => {
                let (old_path, new_path) = (strip_prefix(&old, "a/"), strip_prefix(&new, "b/"));
                let path = if old_path == new_path {
                    Some(old_path)
                } else if old == new {
                    Some(old)
                } else {
                    None
                };
                match path {
                    None => {
                        self.problem(start, rename_message());
                        None
                    }
                    Some(path) => {
                        let kind = self.patched(&path, line, hunks);
                        kind.map(|kind| (path, kind))
                    }
                }
            }
        };
        if let Some((path, kind)) = kind {
            if path.is_empty() {
                self.problem(
                    start,
                    format!("The diff at line {line} names no file: write `--- a/path`."),
                );
            } else {
                self.edits.push(Edit {
                    path,
                    kind,
                    // `Parsed::new` numbers the edits.
                    origin: Origin { index: 0, line },
                    context_file: None,
                    example: false,
                });
            }
        }
        at
    }

    /// The content of a new file, from its hunks' added lines.
    fn created(&mut self, path: &str, line: usize, hunks: &[RawHunk]) -> Option<EditKind> {
        if hunks.is_empty() {
            self.problem(line - 1, no_hunks_message(path, line));
            return None;
        }
        let mut content = Vec::new();
        let mut fine = true;
        for hunk in hunks {
            for raw in &hunk.lines {
                match &raw.line {
                    HunkLine::Add(text) => content.push(text.as_str()),
                    HunkLine::Context(_) if raw.bare => content.push(""),
                    HunkLine::Context(_) | HunkLine::Remove(_) => {
                        self.problem(
                            hunk.at,
                            format!(
                                "The hunk at line {} of the new file `{path}` keeps or removes \
                                 lines. A file created from `--- /dev/null` has only added \
                                 lines: start every line with `+`.",
                                hunk.at + 1
                            ),
                        );
                        fine = false;
                        break;
                    }
                }
            }
        }
        fine.then(|| EditKind::Create {
            content: fence::join_lines(&content),
        })
    }

    /// The hunks of a change to an existing file, each checked to change something.
    fn patched(&mut self, path: &str, line: usize, hunks: Vec<RawHunk>) -> Option<EditKind> {
        if hunks.is_empty() {
            self.problem(line - 1, no_hunks_message(path, line));
            return None;
        }
        let mut fine = true;
        let mut kept = Vec::new();
        for hunk in hunks {
            let changes = hunk
                .lines
                .iter()
                .any(|raw| !matches!(raw.line, HunkLine::Context(_)));
            if !changes {
                self.problem(
                    hunk.at,
                    format!(
                        "The hunk at line {} of `{path}` changes nothing: it has no line \
                         starting with `-` or `+`. Leave it out, or mark the changed lines.",
                        hunk.at + 1
                    ),
                );
                fine = false;
                continue;
            }
            kept.push(Hunk {
                old_start_hint: hunk.old_start_hint,
                lines: hunk.lines.into_iter().map(|raw| raw.line).collect(),
            });
        }
        fine.then_some(EditKind::Patch { hunks: kept })
    }

    /// Reads the hunk whose `@@` header is at `header`; returns it and the line after it.
    fn hunk(&mut self, header: usize) -> (RawHunk, usize) {
        let lines = self.lines;
        let mut raw = Vec::new();
        let mut at = header + 1;
        while at < lines.len() {
            let line = lines[at];
            if line.starts_with("@@")
                || line.starts_with("diff --git ")
                || is_file_header(lines, at)
                || line.starts_with("```")
                || line.starts_with("~~~")
            {
                break;
            }
            let (line, bare) = match line.chars().next() {
                None => (HunkLine::Context(String::new()), true),
                Some(' ') => (HunkLine::Context(line[1..].to_string()), false),
                Some('-') => (HunkLine::Remove(line[1..].to_string()), false),
                Some('+') => (HunkLine::Add(line[1..].to_string()), false),
                // `\ No newline at end of file`: the edit types keep no such flag.
                Some('\\') => {
                    at += 1;
                    continue;
                }
                Some(_) => {
                    self.check_unmarked(header, at, raw.last());
                    break;
                }
            };
            raw.push(RawLine { line, bare });
            at += 1;
        }
        while raw.last().is_some_and(|last| last.bare) {
            raw.pop();
        }
        let hunk = RawHunk {
            at: header,
            old_start_hint: old_start_hint(lines[header]),
            lines: raw,
        };
        (hunk, at)
    }

    /// A line without a marker right after a marked hunk line, followed by another marked
    /// line, is a context line that lost its space, not the end of the hunk.
    fn check_unmarked(&mut self, header: usize, at: usize, previous: Option<&RawLine>) {
        let lines = self.lines;
        let after_marked = previous.is_some_and(|raw| !raw.bare);
        let before_marked = lines.get(at + 1).is_some_and(|next| {
            next.starts_with([' ', '-', '+']) && !is_file_header(lines, at + 1)
        });
        if after_marked && before_marked {
            self.problem(
                at,
                format!(
                    "Line {} inside the hunk at line {} starts with no ` `, `-` or `+`. Start \
                     every unchanged line of a hunk with a space.",
                    at + 1,
                    header + 1
                ),
            );
        }
    }

    fn problem(&mut self, at: usize, message: String) {
        self.problems.push(ParseProblem {
            line: at + 1,
            message,
        });
    }
}

/// Whether `lines[at]` is a `--- ` line directly followed by a `+++ ` line.
fn is_file_header(lines: &[&str], at: usize) -> bool {
    let names = |line: &str, marker: &str| {
        line.strip_prefix(marker)
            .is_some_and(|rest| !header_path(rest).is_empty())
    };
    names(lines[at], "--- ") && lines.get(at + 1).is_some_and(|next| names(next, "+++ "))
}

/// The lines git writes between `diff --git` and `---`.
fn is_extended_header(line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "index ",
        "old mode ",
        "new mode ",
        "deleted file mode ",
        "new file mode ",
        "similarity index ",
        "dissimilarity index ",
        "copy from ",
        "copy to ",
    ];
    PREFIXES.iter().any(|prefix| line.starts_with(prefix))
}

/// The path of a header line's rest: without a tab and what follows it, a space-separated
/// timestamp (`2024-01-31 10:00:00`), or surrounding quotes.
fn header_path(rest: &str) -> String {
    let mut path = rest.split('\t').next().unwrap_or(rest).trim();
    let timestamp = path.char_indices().find(|&(at, c)| {
        c == ' ' && {
            let tail = &path.as_bytes()[at + 1..];
            tail.len() >= 5 && tail[..4].iter().all(u8::is_ascii_digit) && tail[4] == b'-'
        }
    });
    if let Some((at, _)) = timestamp {
        path = path[..at].trim_end();
    }
    if path.len() >= 2 && path.starts_with('"') && path.ends_with('"') {
        path = &path[1..path.len() - 1];
    }
    path.to_string()
}

fn strip_prefix(path: &str, prefix: &str) -> String {
    path.strip_prefix(prefix).unwrap_or(path).to_string()
}

/// The old start line of `@@ -a,b +c,d @@`, when present and not 0.
fn old_start_hint(header: &str) -> Option<usize> {
    let rest = header
        .trim_start_matches('@')
        .trim_start()
        .strip_prefix('-')?;
    let digits = &rest[..rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len()];
    digits.parse().ok().filter(|start| *start > 0)
}

fn rename_message() -> String {
    "Renaming files is not supported. Delete the old file (`--- a/old` then `+++ /dev/null`) \
     and create the new one (`--- /dev/null` then `+++ b/new` with every line added)."
        .to_string()
}

fn no_hunks_message(path: &str, line: usize) -> String {
    format!(
        "The diff for `{path}` at line {line} has no hunks. After its `+++` line, write \
         `@@ ... @@` and the lines, each starting with ` `, `-` or `+`."
    )
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn kinds(parsed: &Parsed) -> Vec<(&str, &EditKind)> {
        parsed
            .edits
            .iter()
            .map(|edit| (edit.path.as_str(), &edit.kind))
            .collect()
    }

    #[test]
    fn git_diffs_of_several_files_give_one_edit_each() {
        let reply = "Here:\n```diff\ndiff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n\
                     --- a/src/a.rs\n+++ b/src/a.rs\n@@ -10,7 +10,7 @@ fn a() {\n ctx\n-old\n+new\n\
                     @@ @@\n-x\n\\ No newline at end of file\n+y\n\
                     --- b.txt\t2024-01-01 00:00:00\n+++ b.txt\t2024-01-02 00:00:00\n\
                     @@ ... @@\n+z\n```\n";
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        let first = Hunk {
            old_start_hint: Some(10),
            lines: vec![
                HunkLine::Context("ctx".into()),
                HunkLine::Remove("old".into()),
                HunkLine::Add("new".into()),
            ],
        };
        let second = Hunk {
            old_start_hint: None,
            lines: vec![HunkLine::Remove("x".into()), HunkLine::Add("y".into())],
        };
        let third = Hunk {
            old_start_hint: None,
            lines: vec![HunkLine::Add("z".into())],
        };
        assert_eq!(
            kinds(&parsed),
            vec![
                (
                    "src/a.rs",
                    &EditKind::Patch {
                        hunks: vec![first, second]
                    }
                ),
                ("b.txt", &EditKind::Patch { hunks: vec![third] }),
            ]
        );
        assert_eq!(parsed.edits[0].origin, Origin { index: 0, line: 3 });
        assert_eq!(parsed.edits[1].origin, Origin { index: 1, line: 15 });
    }

    #[test]
    fn a_git_line_without_header_lines_names_the_file_of_its_hunks() {
        let reply = "```diff\ndiff --git a/a.py b/a.py\nindex 1234567..89abcde 100644\n\
                     @@ -1,2 +1,2 @@\n def a():\n-    x\n+    y\n```\n";
        assert!(has_diff(reply));
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(parsed.edits[0].path, "a.py");
        assert_eq!(parsed.edits[0].origin.line, 2);
        // Another path on each side is a rename, which the plain rule does not guess at.
        let renamed = parse("diff --git a/a.py b/b.py\n@@ -1 +1 @@\n-x\n+y\n");
        assert_eq!(renamed.edits, vec![]);
        assert_eq!(renamed.problems.len(), 1);
    }

    #[test]
    fn a_diff_cut_off_inside_its_fence_is_a_problem_and_the_complete_ones_stay() {
        let reply = "```diff\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n\
                     --- /dev/null\n+++ b/t.py\n@@ -0,0 +1,3 @@\n+a = 1\n+b = 2\n+c";
        let parsed = parse(reply);
        assert_eq!(parsed.edits.len(), 1);
        assert_eq!(parsed.edits[0].path, "a.py");
        assert_eq!(parsed.problems.len(), 1);
        assert!(
            parsed.problems[0]
                .message
                .contains("`t.py` at line 7 is cut off")
        );
        // Closed, the same diff is whole.
        assert_eq!(parse(&format!("{reply}\n```\n")).edits.len(), 2);
    }

    #[test]
    fn dev_null_creates_and_deletes_files() {
        let reply = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,3 @@\n+a\n\n+b\n\n\
                     --- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n";
        let parsed = parse(reply);
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(
            kinds(&parsed),
            vec![
                (
                    "new.py",
                    &EditKind::Create {
                        content: "a\n\nb\n".into()
                    }
                ),
                ("old.py", &EditKind::Delete),
            ]
        );
    }

    #[test]
    fn empty_lines_inside_a_hunk_are_context_and_trailing_ones_are_dropped() {
        let parsed = parse("--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n a\n\n-b\n+c\n\nThat is all.\n");
        let hunk = Hunk {
            old_start_hint: Some(1),
            lines: vec![
                HunkLine::Context("a".into()),
                HunkLine::Context(String::new()),
                HunkLine::Remove("b".into()),
                HunkLine::Add("c".into()),
            ],
        };
        assert_eq!(
            kinds(&parsed),
            vec![("x", &EditKind::Patch { hunks: vec![hunk] })]
        );
    }

    #[test]
    fn malformed_diffs_are_problems() {
        let cases = [
            ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n a\n", "changes nothing"),
            ("--- a/x\n+++ b/x\nno hunks here\n", "no hunks"),
            ("--- a/x.rs\n@@ -1 +1 @@\n-a\n+b\n", "not followed by"),
            (
                "diff --git a/x b/y\nrename from x\nrename to y\n",
                "not supported",
            ),
            ("--- a/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n", "not supported"),
            ("@@ -1 +1 @@\n-a\n+b\n", "no file header"),
            (
                "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\nlost space\n+b\n",
                "starts with no",
            ),
            (
                "--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n kept\n+a\n",
                "only added",
            ),
        ];
        for (reply, expected) in cases {
            let parsed = parse(reply);
            assert_eq!(parsed.problems.len(), 1, "{reply:?}: {parsed:?}");
            assert!(
                parsed.problems[0].message.contains(expected),
                "{reply:?}: {parsed:?}"
            );
        }
    }

    #[test]
    fn a_whole_file_mixed_into_a_diff_is_a_problem() {
        let reply =
            "```diff\n--- a/x\n+++ b/x\n@@ @@\n-a\n+b\n```\nnew.py\n```python\nn = 1\n```\n";
        let parsed = parse(reply);
        assert_eq!(parsed.edits.len(), 1);
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].line, 9);
        assert!(
            parsed.problems[0]
                .message
                .contains("`new.py` is not a diff")
        );
    }

    #[test]
    fn horizontal_rules_and_prose_are_not_headers() {
        let parsed = parse("---\nSome notes\n--- end ---\n");
        assert_eq!(parsed.edits, vec![]);
        assert_eq!(parsed.problems.len(), 1);
        assert!(parsed.problems[0].message.contains("No unified diff"));
    }
}
