//! The markdown around edits, shared by the three parsers: text split into lines and joined
//! back (also the applier's, so a reply and a file are cut into lines the same way), fenced
//! code blocks (opened and closed the way models really write them, nesting
//! included), and the path lines, info strings and first-line comments that name the file a
//! block is for.
//!
//! # Fences and nesting
//!
//! A fence opens with a line of N >= 3 backticks (or tildes), after any indentation, followed
//! by an optional info string (for backticks the info string holds no backtick, so inline
//! code such as ```` ```x``` ```` is not an opener). It closes at the first line holding at
//! least N of the same character and nothing but whitespace; content lines lose up to the
//! opener's indentation. So a model that wraps a markdown file holding ```` ``` ```` blocks in a
//! longer fence (four backticks or more) is read exactly.
//!
//! Models also wrap such a file, sloppily, in a 3-character fence. Then a line inside that
//! opens a fence *with an info string* (```` ```rust ````) is taken as an inner block: it is
//! content, and the next bare closer long enough for it closes the inner block (also
//! content) instead of the outer one. Only a bare closer met with no inner block open closes
//! the outer fence. The rule is limited to 3-character outer fences because a longer fence
//! says the model already chose a fence that cannot clash. What it cannot see: an inner
//! block opened by a *bare* ```` ``` ```` (that line closes the outer block early, since
//! nothing tells it from a closer), and an inner opener with an info string that is never
//! closed (the outer block then runs to the end of the reply and is reported as not closed).
//! The prompts ask for a longer fence whenever a file holds fence lines.
//!
//! # A path fenced on its own
//!
//! Small models often put the path in a bare block of its own and the file in the next
//! block: a bare opener, then a path line, then either the file's opener (```` ```python ````,
//! the path's block left open and closed after the file, or never) or a closer followed by
//! the file's opener. Such a block is the file's heading ([`Block::heading`]), not a block:
//! a person reads the path, then the file. A bare closer right after the file (blank lines
//! aside) is the heading block's own and is skipped. Only a bare opener not itself headed by
//! a path line counts, so a file whose content starts with a path line keeps it.

use std::borrow::Cow;

/// Extensionless file names accepted as paths when backticked or written in an info string
/// (never as a bare word on a line, where they read as prose). Case matters:
/// ```` ```dockerfile ```` and ```` ```makefile ```` are language tags.
const BARE_FILE_NAMES: &[&str] = &[
    "Makefile",
    "GNUmakefile",
    "Dockerfile",
    "Containerfile",
    "Justfile",
    "Rakefile",
    "Gemfile",
    "Procfile",
    "Vagrantfile",
    "Jenkinsfile",
    "Brewfile",
    "Caddyfile",
    "Pipfile",
    "Tiltfile",
    "LICENSE",
    "COPYING",
    "README",
    "CODEOWNERS",
];

/// `text` with `\r\n` line endings turned into `\n` (the one ending inside edits); a lone
/// `\r` stays: it is content.
pub(crate) fn normalize(text: &str) -> Cow<'_, str> {
    if text.contains("\r\n") {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The lines of normalized text, without their `\n`; a final `\n` does not start a line.
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    text.split_terminator('\n').collect()
}

/// Joins lines into edit text: every line, each ending in `\n`.
pub(crate) fn join_lines<S: AsRef<str>>(lines: &[S]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line.as_ref());
        out.push('\n');
    }
    out
}

/// A fence opener line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fence<'a> {
    /// `` ` `` or `~`.
    pub(crate) marker: char,
    /// How many markers open it (>= 3).
    pub(crate) len: usize,
    /// Bytes of leading spaces or tabs.
    pub(crate) indent: usize,
    /// The info string, trimmed; empty when there is none.
    pub(crate) info: &'a str,
}

/// The fence `line` opens, if it is an opener.
pub(crate) fn opener(line: &str) -> Option<Fence<'_>> {
    let rest = line.trim_start_matches([' ', '\t']);
    let indent = line.len() - rest.len();
    let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.len() - rest.trim_start_matches(marker).len();
    if len < 3 {
        return None;
    }
    let info = rest[len..].trim();
    if marker == '`' && info.contains('`') {
        return None;
    }
    Some(Fence {
        marker,
        len,
        indent,
        info,
    })
}

/// The length of the marker run when `line` is a bare closer for `marker` (only markers and
/// whitespace), else `None`.
fn closer_len(line: &str, marker: char) -> Option<usize> {
    let trimmed = line.trim_matches([' ', '\t']);
    if trimmed.len() >= 3 && trimmed.chars().all(|c| c == marker) {
        Some(trimmed.len())
    } else {
        None
    }
}

/// One top-level fenced block of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block<'a> {
    /// 0-based index of the opener line.
    pub(crate) open: usize,
    pub(crate) info: &'a str,
    /// The lines between opener and closer, the opener's indentation removed.
    pub(crate) content: Vec<&'a str>,
    /// 0-based index of the closer line; `None` when the reply ended inside the block.
    pub(crate) close: Option<usize>,
    /// 0-based index of the path line the model fenced on its own just before this block
    /// (see the module doc).
    pub(crate) heading: Option<usize>,
}

impl Block<'_> {
    pub(crate) fn is_closed(&self) -> bool {
        self.close.is_some()
    }
}

/// The top-level fenced blocks of `lines`, in order (see the module doc for nesting and for
/// paths fenced on their own).
pub(crate) fn blocks<'a>(lines: &[&'a str]) -> Vec<Block<'a>> {
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(fence) = opener(lines[index]) else {
            index += 1;
            continue;
        };
        let heading = fenced_path(lines, index, fence);
        let (open, file_fence) = match heading {
            Some((_, open, file_fence)) => (open, file_fence),
            None => (index, fence),
        };
        let mut block = read_block(lines, open, file_fence);
        index = block.close.map_or(lines.len(), |close| close + 1);
        if let Some((path_line, ..)) = heading {
            block.heading = Some(path_line);
            // The heading block's own closer, when the model closes it after the file.
            let next = (index..lines.len()).find(|&at| !lines[at].trim().is_empty());
            if let Some(next) = next.filter(|_| block.is_closed())
                && closer_len(lines[next], fence.marker).is_some_and(|run| run >= fence.len)
            {
                index = next + 1;
            }
        }
        found.push(block);
    }
    found
}

/// When the bare opener `fence` at `open` holds only a path line before the file's own
/// opener (the module doc's path fenced on its own): the path line, and the file's opener
/// line and fence.
fn fenced_path<'a>(
    lines: &[&'a str],
    open: usize,
    fence: Fence<'a>,
) -> Option<(usize, usize, Fence<'a>)> {
    if !fence.info.is_empty() || path_from_line(lines.get(open + 1)?).is_none() {
        return None;
    }
    let headed = lines[..open]
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| path_from_line(line).is_some());
    if headed {
        return None;
    }
    let after = open + 2;
    let same = |found: &Fence<'_>| found.marker == fence.marker;
    let next = opener(lines.get(after)?).filter(same)?;
    if !next.info.is_empty() {
        return Some((open + 1, after, next));
    }
    // `after` closes the path's block: the file's opener must come next.
    closer_len(lines[after], fence.marker).filter(|&run| run >= fence.len)?;
    let file = (after + 1..lines.len()).find(|&at| !lines[at].trim().is_empty())?;
    let file_fence = opener(lines[file]).filter(same)?;
    Some((open + 1, file, file_fence))
}

/// Reads the block `fence` opens at `open`, up to its closer or the end of `lines`.
fn read_block<'a>(lines: &[&'a str], open: usize, fence: Fence<'a>) -> Block<'a> {
    // Lengths of the inner blocks open right now (the 3-character rule of the module doc).
    let mut inner: Vec<usize> = Vec::new();
    let mut content = Vec::new();
    for (index, line) in lines.iter().enumerate().skip(open + 1) {
        if let Some(run) = closer_len(line, fence.marker) {
            match inner.last() {
                Some(&top) if run >= top => {
                    inner.pop();
                }
                Some(_) => {}
                None if run >= fence.len => {
                    return Block {
                        open,
                        info: fence.info,
                        content,
                        close: Some(index),
                        heading: None,
                    };
                }
                None => {}
            }
        } else if fence.len == 3
            && let Some(nested) = opener(line)
            && nested.marker == fence.marker
            && !nested.info.is_empty()
        {
            inner.push(nested.len);
        }
        content.push(strip_indent(line, fence.indent));
    }
    Block {
        open,
        info: fence.info,
        content,
        close: None,
        heading: None,
    }
}

/// `line` without up to `indent` bytes of leading spaces or tabs.
fn strip_indent(line: &str, indent: usize) -> &str {
    let leading = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[leading.min(indent)..]
}

/// The path a line names when it is a path line: the path alone, possibly decorated as
/// `**path**`, `` `path` ``, `### path`, `- path`, `File: path`, `path:`, `path (new file)`.
pub(crate) fn path_from_line(line: &str) -> Option<String> {
    let (candidate, backticked) = undecorate(line);
    looks_like_path(candidate, backticked, /*bare_names*/ backticked).then(|| candidate.to_string())
}

/// Strips the decorations models put around a path line; returns what is left and whether
/// it was backticked.
fn undecorate(line: &str) -> (&str, bool) {
    let mut text = line.trim();
    text = text.trim_start_matches('#').trim_start();
    text = strip_bullet(text);
    let mut backticked = false;
    loop {
        let before = text;
        text = text.trim();
        text = text.strip_suffix(':').unwrap_or(text);
        if text.ends_with(')')
            && let Some(at) = text.rfind(" (")
            && at > 0
        {
            text = &text[..at];
        }
        for wrapper in ["**", "__", "*"] {
            if text.len() > 2 * wrapper.len()
                && let Some(inner) = text
                    .strip_prefix(wrapper)
                    .and_then(|rest| rest.strip_suffix(wrapper))
            {
                text = inner;
                break;
            }
        }
        if text.len() > 2
            && let Some(inner) = text
                .strip_prefix('`')
                .and_then(|rest| rest.strip_suffix('`'))
        {
            text = inner;
            backticked = true;
        }
        text = strip_label(text);
        if text == before {
            return (text, backticked);
        }
    }
}

/// `text` without a leading list bullet (`- `, `* `, `+ `, `1. `, `1) `).
fn strip_bullet(text: &str) -> &str {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = text.strip_prefix(bullet) {
            return rest.trim_start();
        }
    }
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 {
        let rest = &text[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return rest.trim_start();
        }
    }
    text
}

/// `text` without a leading `File:`-style label (any case).
fn strip_label(text: &str) -> &str {
    const LABELS: &[&str] = &[
        "file:",
        "filename:",
        "file name:",
        "filepath:",
        "file path:",
        "path:",
        "new file:",
    ];
    for label in LABELS {
        if let Some(head) = text.get(..label.len())
            && head.eq_ignore_ascii_case(label)
        {
            return text[label.len()..].trim_start();
        }
    }
    text
}

/// The path of a short sentence ending in its only backticked span, that span being a path
/// without spaces: ``Now in `src/a.rs`:``. Only SEARCH/REPLACE blocks take a path from a
/// sentence: a wrong one there makes the SEARCH text fail to match, while a whole-file
/// block under ``Run this from `scripts/setup.sh`:`` would overwrite that file.
pub(crate) fn path_from_sentence(line: &str) -> Option<String> {
    let text = line.trim().trim_end_matches([':', '*', ' ']);
    if text.matches('`').count() != 2 || !text.ends_with('`') {
        return None;
    }
    let inner = text[..text.len() - 1].rsplit('`').next()?;
    looks_like_path(inner, /*backticked*/ false, /*bare_names*/ true).then(|| inner.to_string())
}

/// The path an info string holds: ```` ```src/a.rs ````, ```` ```rust src/a.rs ````,
/// ```` ```rust:src/a.rs ````, ```` ```rust title="src/a.rs" ````, ```` ```Makefile ````.
pub(crate) fn path_from_info(info: &str) -> Option<String> {
    for token in info.split_whitespace() {
        let token = token.trim_matches(['{', '}']);
        let value = match token.split_once('=') {
            Some((_, value)) => value,
            None => token,
        };
        let value = value.trim_matches(['"', '\'']);
        let candidates = std::iter::once(value).chain(value.split_once(':').map(|(_, p)| p));
        for candidate in candidates {
            if looks_like_path(
                candidate, /*backticked*/ false, /*bare_names*/ true,
            ) {
                return Some(candidate.to_string());
            }
        }
    }
    None
}

/// The path a first content line names when it is only a comment naming it: `// src/a.rs`,
/// `# src/a.py`, `-- q.sql`, `<!-- a.html -->`, `/* a.css */`.
pub(crate) fn path_from_comment(line: &str) -> Option<String> {
    let text = line.trim();
    let body = if let Some(inner) = text
        .strip_prefix("<!--")
        .and_then(|rest| rest.strip_suffix("-->"))
    {
        inner
    } else if let Some(inner) = text
        .strip_prefix("/*")
        .and_then(|rest| rest.strip_suffix("*/"))
    {
        inner
    } else {
        ["//", "#", "--", ";", "%"]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix))?
    };
    // `##`, `///` and the like are headings or doc comments, not a file name.
    if body.starts_with(['#', '/', '-', ';', '%', '!']) {
        return None;
    }
    let (candidate, backticked) = undecorate(body);
    looks_like_path(candidate, backticked, /*bare_names*/ backticked).then(|| candidate.to_string())
}

/// Whether `text` reads as a file path: a `/` or a `.`-extension (holding a letter), no
/// spaces unless backticked, none of the characters prose and markup use but paths do not,
/// and not a directory or a URL. Extensionless names from [`BARE_FILE_NAMES`] count only
/// when `bare_names` is set.
pub(crate) fn looks_like_path(text: &str, backticked: bool, bare_names: bool) -> bool {
    const MAX_PATH_BYTES: usize = 4096;
    if text.is_empty() || text.len() > MAX_PATH_BYTES || text.contains("://") {
        return false;
    }
    if text.trim() != text || text.contains(['\t', '\r']) {
        return false;
    }
    if !backticked && text.contains(' ') {
        return false;
    }
    let forbidden = [
        '`', '*', '"', '\'', '<', '>', '|', '?', ',', ';', '=', '!', '#', ':', '\0',
    ];
    if text.contains(forbidden) || text.chars().any(char::is_control) {
        return false;
    }
    if text.ends_with(['/', '.']) || text == "/dev/null" {
        return false;
    }
    let name = text.rsplit(['/', '\\']).next().unwrap_or(text);
    if name.is_empty() || name == ".." || !name.chars().any(char::is_alphanumeric) {
        return false;
    }
    if text.contains('/') {
        return true;
    }
    if bare_names && BARE_FILE_NAMES.contains(&name) {
        return true;
    }
    has_extension(name)
}

/// `name.ext` with a non-empty stem (or a dotfile such as `.gitignore`) and an extension of
/// word characters holding a letter (so `1.0` and `e.g.` are not file names).
fn has_extension(name: &str) -> bool {
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    let word = extension
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let lettered = extension.chars().any(char::is_alphabetic);
    let dotfile = stem.is_empty() && extension.len() >= 2;
    !extension.is_empty() && word && lettered && (!stem.is_empty() || dotfile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        split_lines(text)
    }

    #[test]
    fn a_longer_fence_holds_shorter_fences() {
        let text = "````md\n# T\n```sh\nls\n```\n```\nbare\n```\n````\nafter\n";
        let lines = lines(text);
        let found = blocks(&lines);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].content.len(), 7);
        assert_eq!(found[0].close, Some(8));
    }

    #[test]
    fn a_three_backtick_fence_skips_inner_blocks_opened_with_an_info_string() {
        let text = "```markdown\n# T\n```rust\nfn a() {}\n```\ntext\n```\nnext\n";
        let lines = lines(text);
        let found = blocks(&lines);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].content,
            vec!["# T", "```rust", "fn a() {}", "```", "text"]
        );
        assert_eq!(found[0].close, Some(6));
    }

    #[test]
    fn an_inner_bare_opener_closes_a_three_backtick_fence() {
        let text = "```\na\n```\nb\n```\n";
        let lines = lines(text);
        let found = blocks(&lines);
        assert_eq!(found[0].content, vec!["a"]);
        assert_eq!(found[1].open, 4);
        assert!(!found[1].is_closed());
    }

    #[test]
    fn a_path_fenced_on_its_own_heads_the_next_block_and_its_closer_is_skipped() {
        // The heading block left open: closed after the file, or never.
        for text in [
            "```\nsolution.py\n```python\ndef a():\n    pass\n```\n```\nDone.\n",
            "```\nsolution.py\n```python\ndef a():\n    pass\n```\nDone.\n",
        ] {
            let lines = lines(text);
            let found = blocks(&lines);
            assert_eq!(found.len(), 1, "{text:?}");
            assert_eq!(found[0].heading, Some(1));
            assert_eq!((found[0].open, found[0].close), (2, Some(5)));
            assert_eq!(found[0].content, vec!["def a():", "    pass"]);
        }
        // The heading block closed before the file.
        let lines = lines("```\nsolution.py\n```\n\n```python\nx = 1\n```\n");
        let found = blocks(&lines);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].heading, found[0].open), (Some(1), 4));
    }

    #[test]
    fn a_block_is_a_heading_only_when_it_holds_nothing_but_a_path_line() {
        // A file whose content starts with a path line keeps it.
        let text = "docs/guide.md\n```\nREADME.md\n```sh\ncargo build\n```\n```\n";
        let guide = lines(text);
        let found = blocks(&guide);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].heading, None);
        assert_eq!(found[0].content[0], "README.md");
        for text in [
            "```\nsome words\n```python\nx = 1\n```\n```\n",
            "```text\nsolution.py\n```python\nx = 1\n```\n",
            "```\nsolution.py\n```\nx = 1\n```\n",
        ] {
            let lines = lines(text);
            assert!(
                blocks(&lines).iter().all(|block| block.heading.is_none()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn tildes_do_not_close_backtick_fences_and_indentation_is_removed() {
        let text = "  ```py\n  x = 1\n  ~~~\n    y\n  ```\n";
        let lines = lines(text);
        let found = blocks(&lines);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].content, vec!["x = 1", "~~~", "  y"]);
    }

    #[test]
    fn inline_triple_backticks_do_not_open_a_fence() {
        assert_eq!(opener("```x```"), None);
        assert_eq!(opener("``not``"), None);
        assert_eq!(opener("~~~ a`b").map(|f| f.info), Some("a`b"));
    }

    #[test]
    fn decorated_path_lines_give_the_path() {
        for line in [
            "src/a.rs",
            "**src/a.rs**",
            "`src/a.rs`",
            "### src/a.rs",
            "File: src/a.rs",
            "src/a.rs:",
            "src/a.rs (new file)",
            "### `src/a.rs` (new file):",
            "**File: `src/a.rs`**",
            "- `src/a.rs`",
        ] {
            assert_eq!(path_from_line(line).as_deref(), Some("src/a.rs"), "{line}");
        }
        let sentence = "Here is the updated `src/a.rs`:";
        assert_eq!(path_from_line(sentence), None);
        assert_eq!(path_from_sentence(sentence).as_deref(), Some("src/a.rs"));
        assert_eq!(path_from_sentence("Run `npm run build.js`:"), None);
        assert_eq!(path_from_line("`Makefile`").as_deref(), Some("Makefile"));
        assert_eq!(path_from_line(".gitignore").as_deref(), Some(".gitignore"));
    }

    #[test]
    fn prose_and_non_paths_are_not_path_lines() {
        for line in [
            "Makefile",
            "Here is the file:",
            "1.0",
            "e.g.",
            "...",
            "see https://x.org/a.rs",
            "src/",
            "`a.rs` and `b.rs`:",
            "```",
            "",
        ] {
            assert_eq!(path_from_line(line), None, "{line}");
        }
    }

    #[test]
    fn info_strings_give_paths_but_not_languages() {
        assert_eq!(path_from_info("src/a.rs").as_deref(), Some("src/a.rs"));
        assert_eq!(path_from_info("rust src/a.rs").as_deref(), Some("src/a.rs"));
        assert_eq!(path_from_info("rust:src/a.rs").as_deref(), Some("src/a.rs"));
        assert_eq!(
            path_from_info("rust title=\"a.rs\"").as_deref(),
            Some("a.rs")
        );
        assert_eq!(path_from_info("Makefile").as_deref(), Some("Makefile"));
        for info in ["rust", "dockerfile", "makefile", "js {1,3}", "c++", ""] {
            assert_eq!(path_from_info(info), None, "{info}");
        }
    }

    #[test]
    fn comments_naming_a_path_give_it() {
        assert_eq!(
            path_from_comment("// src/a.rs").as_deref(),
            Some("src/a.rs")
        );
        assert_eq!(path_from_comment("# src/a.py").as_deref(), Some("src/a.py"));
        assert_eq!(
            path_from_comment("<!-- a.html -->").as_deref(),
            Some("a.html")
        );
        assert_eq!(path_from_comment("// File: a.ts").as_deref(), Some("a.ts"));
        for line in [
            "#!/bin/sh",
            "// hello world",
            "## a.md",
            "/// a.rs",
            "fn a.b()",
        ] {
            assert_eq!(path_from_comment(line), None, "{line}");
        }
    }

    #[test]
    fn splitting_keeps_empty_lines_but_not_a_final_newline() {
        assert_eq!(split_lines("a\n\nb\n"), vec!["a", "", "b"]);
        assert_eq!(split_lines("a"), vec!["a"]);
        assert!(split_lines("").is_empty());
        assert_eq!(split_lines("\n"), vec![""]);
    }
}
