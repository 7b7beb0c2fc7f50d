//! A ticket as a user or a tracker writes it (markdown, optionally with `---` front matter),
//! read into a [`Ticket`]: its id, title, body and the items of its acceptance criteria, scope
//! and constraints sections. Criteria are taken as written; no model reads the ticket here.
//! The ticket's first paragraph, which `plan.rs` makes part of a `Spec`'s goal, is read here too.

use serde::{Deserialize, Serialize};

/// A ticket, read from markdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The front matter's `id`, else the fallback given to [`Ticket::parse`] (the file stem).
    pub id: String,
    /// The front matter's `title`, else the first `# ` heading, else the id.
    pub title: String,
    /// The markdown after the front matter, trimmed.
    pub body: String,
    /// The items of the `## Acceptance criteria` section, as written (without `- [ ] `).
    pub acceptance: Vec<String>,
    /// The items of a `## Scope` section, if any.
    pub scope: Vec<String>,
    /// The items of a `## Constraints` section, if any.
    pub constraints: Vec<String>,
}

/// Why a ticket could not be read. Lines are 1-based lines of the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    #[error("line 1: the ticket is empty (no title and no text)")]
    EmptyTicket,
    #[error("line {line}: the front matter opened here is never closed by a `---` line")]
    UnclosedFrontMatter { line: usize },
    #[error("line {line}: `{text}` in the front matter is not a `key: value` line")]
    BadFrontMatter { line: usize, text: String },
    #[error("line {line}: the value of `{key}` opens a quote that the line never closes")]
    UnclosedQuote { line: usize, key: String },
}

/// The sections a ticket's lists are read from, by their heading (compared lowercased, without
/// a trailing colon).
const ACCEPTANCE: &[&str] = &["acceptance criteria", "acceptance"];
const SCOPE: &[&str] = &["scope"];
const CONSTRAINTS: &[&str] = &["constraints"];

impl Ticket {
    /// Reads a ticket. `fallback_id` is its id when the front matter names none.
    pub fn parse(text: &str, fallback_id: &str) -> Result<Ticket, TicketError> {
        // Editors on some systems save a byte-order mark; it is not part of the first line.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (front, body) = split_front_matter(text)?;
        let body = body.trim();
        let front_title = front.title.filter(|title| !title.is_empty());
        if body.is_empty() && front_title.is_none() {
            return Err(TicketError::EmptyTicket);
        }
        let id = front
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| fallback_id.trim().to_string());
        let lines = scan(body);
        let title = front_title
            .or_else(|| first_title_heading(&lines))
            .unwrap_or_else(|| id.clone());
        Ok(Ticket {
            acceptance: section_items(&lines, ACCEPTANCE),
            scope: section_items(&lines, SCOPE),
            constraints: section_items(&lines, CONSTRAINTS),
            id,
            title,
            body: body.to_string(),
        })
    }
}

/// The keys of the front matter this crate reads; a tracker's export carries more, ignored.
#[derive(Debug, Default)]
struct FrontMatter {
    id: Option<String>,
    title: Option<String>,
}

/// The front matter (if the text opens with a `---` line) and the text after it.
fn split_front_matter(text: &str) -> Result<(FrontMatter, &str), TicketError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.first().is_none_or(|first| first.trim_end() != "---") {
        return Ok((FrontMatter::default(), text));
    }
    // The closing line is looked for first: without one, every line of the body would be
    // reported as a bad `key: value` line, when what is missing is the `---`.
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|line| matches!(line.trim_end(), "---" | "..."))
        .map(|index| index + 1)
    else {
        return Err(TicketError::UnclosedFrontMatter { line: 1 });
    };
    let body_start: usize = lines[..=close].iter().map(|line| line.len()).sum();
    let mut front = FrontMatter::default();
    // The key the last `key: value` line set, and whether its value folds onto the lines
    // below: its indented lines (a YAML list, a folded value) are then not bad lines.
    let mut last_key: Option<(String, bool)> = None;
    for (index, raw) in lines[1..close].iter().enumerate() {
        let number = index + 2;
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let continuation = trimmed.len() < line.len() || trimmed.starts_with("- ");
        if continuation {
            match &last_key {
                Some((key, true)) => front.continue_value(key, trimmed),
                Some((_, false)) => {}
                None => {
                    return Err(TicketError::BadFrontMatter {
                        line: number,
                        text: line.to_string(),
                    });
                }
            }
            continue;
        }
        let Some((key, value)) = line
            .split_once(':')
            .filter(|(key, _)| !key.trim().is_empty())
        else {
            return Err(TicketError::BadFrontMatter {
                line: number,
                text: line.to_string(),
            });
        };
        let key = key.trim();
        let value = unquote(value.trim()).ok_or_else(|| TicketError::UnclosedQuote {
            line: number,
            key: key.to_string(),
        })?;
        let folds = front.set(key, value);
        last_key = Some((key.to_string(), folds));
    }
    Ok((front, &text[body_start..]))
}

impl FrontMatter {
    /// Sets a key's value; true when the value continues on the indented lines below (it was
    /// left empty, or is a YAML block indicator such as `>`).
    fn set(&mut self, key: &str, value: String) -> bool {
        let folds = value.is_empty() || is_block_indicator(&value);
        let value = if folds { String::new() } else { value };
        match key {
            "id" => self.id = Some(value),
            "title" => self.title = Some(value),
            _ => {}
        }
        folds
    }

    /// An indented line under `key`, which [`FrontMatter::set`] said folds: more of its value,
    /// joined with a space.
    fn continue_value(&mut self, key: &str, line: &str) {
        let slot = match key {
            "id" => &mut self.id,
            "title" => &mut self.title,
            _ => return,
        };
        let value = slot.get_or_insert_with(String::new);
        join(value, line);
    }
}

/// Whether a value is a YAML block scalar's indicator (`>`, `|-`, ...), whose text follows.
fn is_block_indicator(value: &str) -> bool {
    matches!(value, ">" | "|" | ">-" | "|-" | ">+" | "|+")
}

/// A front matter value without its quotes (`"..."` with `\"`, `\\`, `\n`, `\t` escapes, or
/// `'...'` with `''`); `None` when a quote is opened and not closed on the line. Unquoted
/// values are kept as written: a ` #` in them is part of a title (`Fix #123`), not a comment.
fn unquote(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                other => out.push(other),
            }
        }
        None
    } else if let Some(rest) = value.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        Some(value.to_string())
    }
}

/// One line of a ticket's markdown, as the section reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line<'a> {
    Blank,
    /// An ATX heading (`## Scope`): its level and its text without the `#`s.
    Heading {
        level: usize,
        text: &'a str,
    },
    /// A list item (`- x`, `* x`, `+ x`, `1. x`, `1) x`), its checkbox stripped.
    Item {
        text: &'a str,
    },
    /// Any other text; `indent` counts its leading columns (a tab as four).
    Text {
        indent: usize,
        text: &'a str,
    },
    /// A line of a fenced code block, fences included: never a heading nor an item.
    Code,
}

/// Classifies every line of `body`.
fn scan(body: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    // The fence that opened the current code block: its character and length.
    let mut fence: Option<(char, usize)> = None;
    for raw in body.lines() {
        let trimmed = raw.trim_start();
        let indent = indent_of(raw);
        if let Some((c, len)) = fence {
            if indent < 4 && fence_of(trimmed).is_some_and(|(d, n)| d == c && n >= len) {
                fence = None;
            }
            out.push(Line::Code);
            continue;
        }
        if trimmed.is_empty() {
            out.push(Line::Blank);
            continue;
        }
        if indent < 4
            && let Some(opened) = fence_of(trimmed)
        {
            fence = Some(opened);
            out.push(Line::Code);
            continue;
        }
        if indent < 4
            && let Some((level, text)) = heading(trimmed)
        {
            out.push(Line::Heading { level, text });
            continue;
        }
        if is_thematic_break(trimmed) {
            out.push(Line::Blank);
            continue;
        }
        match list_item(trimmed) {
            Some(text) => out.push(Line::Item { text }),
            None => out.push(Line::Text {
                indent,
                text: trimmed.trim_end(),
            }),
        }
    }
    out
}

fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// A code fence (three or more backticks or tildes): its character and length.
fn fence_of(trimmed: &str) -> Option<(char, usize)> {
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|d| *d == c).count();
    (len >= 3).then_some((c, len))
}

/// An ATX heading's level and text (closing `#`s dropped).
fn heading(trimmed: &str) -> Option<(usize, &str)> {
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let text = rest.trim();
    let text = match text.trim_end_matches('#') {
        stripped if stripped.is_empty() || stripped.ends_with([' ', '\t']) => stripped.trim_end(),
        _ => text,
    };
    Some((level, text))
}

/// `---`, `***`, `___` (spaces allowed): a rule, not a list item.
fn is_thematic_break(trimmed: &str) -> bool {
    let marks: Vec<char> = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3 && matches!(marks[0], '-' | '*' | '_') && marks.iter().all(|c| *c == marks[0])
}

/// A list item's text, its marker and checkbox stripped.
fn list_item(trimmed: &str) -> Option<&str> {
    let rest = if let Some(rest) = trimmed.strip_prefix(['-', '*', '+']) {
        rest
    } else {
        let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        trimmed[digits..].strip_prefix(['.', ')'])?
    };
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let text = rest.trim();
    let text = ["[ ]", "[x]", "[X]"]
        .iter()
        .find_map(|checkbox| {
            text.strip_prefix(checkbox)
                .filter(|after| after.is_empty() || after.starts_with([' ', '\t']))
        })
        .unwrap_or(text);
    Some(text.trim())
}

/// A heading's text as section names are compared: lowercased, without emphasis marks or a
/// trailing colon, inner whitespace collapsed.
fn section_name(text: &str) -> String {
    let text = text.trim_matches(|c| c == '*' || c == '_').trim();
    let text = text.trim_end_matches(':').trim();
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `line` opens one of the sections named `names` (at level 2 or 3), and its level.
fn opens_section(line: &Line<'_>, names: &[&str]) -> Option<usize> {
    match line {
        Line::Heading { level, text } if (2..=3).contains(level) => {
            let name = section_name(text);
            names.contains(&name.as_str()).then_some(*level)
        }
        _ => None,
    }
}

/// The first level-1 heading's text.
fn first_title_heading(lines: &[Line<'_>]) -> Option<String> {
    lines.iter().find_map(|line| match line {
        Line::Heading { level: 1, text } if !text.is_empty() => Some((*text).to_string()),
        _ => None,
    })
}

/// The items of every section named `names`, in order. A section ends at the next heading of
/// its level or higher, or at a heading that opens another known section (a `### Constraints`
/// under `## Scope` is not scope). Indented lines, and lines straight after an item (markdown's lazy
/// continuation), join the item with a space. A section with text but no list gives its
/// paragraphs as items, so that criteria written as sentences are not lost.
fn section_items(lines: &[Line<'_>], names: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some(level) = opens_section(&lines[index], names) else {
            index += 1;
            continue;
        };
        index += 1;
        let start = index;
        while index < lines.len() && !ends_section(&lines[index], level) {
            index += 1;
        }
        all.extend(items_of(&lines[start..index]));
    }
    all
}

/// Whether `line` ends a section opened at `level`.
fn ends_section(line: &Line<'_>, level: usize) -> bool {
    match line {
        Line::Heading { level: l, .. } => {
            *l <= level
                || [ACCEPTANCE, SCOPE, CONSTRAINTS]
                    .iter()
                    .any(|names| opens_section(line, names).is_some())
        }
        _ => false,
    }
}

/// The items of one section's lines (its heading excluded).
fn items_of(lines: &[Line<'_>]) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut paragraphs: Vec<String> = Vec::new();
    let mut item: Option<String> = None;
    let mut paragraph: Option<String> = None;
    let mut after_blank = false;
    for line in lines {
        match line {
            Line::Item { text } => {
                push_nonempty(&mut paragraphs, paragraph.take());
                push_nonempty(&mut items, item.take());
                item = Some((*text).to_string());
            }
            Line::Text { indent, text } => {
                if let Some(current) = item.as_mut().filter(|_| *indent > 0 || !after_blank) {
                    join(current, text);
                } else {
                    push_nonempty(&mut items, item.take());
                    match paragraph.as_mut() {
                        Some(current) if !after_blank => join(current, text),
                        _ => {
                            push_nonempty(&mut paragraphs, paragraph.take());
                            paragraph = Some((*text).to_string());
                        }
                    }
                }
            }
            Line::Heading { .. } => {
                push_nonempty(&mut items, item.take());
                push_nonempty(&mut paragraphs, paragraph.take());
            }
            Line::Blank | Line::Code => {}
        }
        after_blank = matches!(line, Line::Blank);
    }
    push_nonempty(&mut items, item);
    push_nonempty(&mut paragraphs, paragraph);
    if items.is_empty() { paragraphs } else { items }
}

fn join(current: &mut String, text: &str) {
    if !current.is_empty() {
        current.push(' ');
    }
    current.push_str(text.trim());
}

fn push_nonempty(out: &mut Vec<String>, value: Option<String>) {
    if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
        out.push(value.trim().to_string());
    }
}

/// The body's first paragraph that is neither a heading nor a list, nor inside the acceptance,
/// scope or constraints sections, its lines joined with a space: what the ticket is about.
pub(crate) fn first_paragraph(body: &str) -> Option<String> {
    let known: Vec<&str> = [ACCEPTANCE, SCOPE, CONSTRAINTS].concat();
    let mut inside: Option<usize> = None;
    let mut paragraph: Option<String> = None;
    let mut in_item = false;
    let mut after_blank = false;
    for line in scan(body) {
        if paragraph.is_some() && !matches!(line, Line::Text { .. }) {
            break;
        }
        match line {
            Line::Heading { level, .. } => {
                if inside.is_some_and(|open| level <= open) {
                    inside = None;
                }
                if inside.is_none() {
                    inside = opens_section(&line, &known);
                }
                in_item = false;
            }
            Line::Item { .. } => in_item = true,
            // As in `items_of`: an indented line, or one straight after the item, is the item's.
            Line::Text { indent, .. } if in_item && (indent > 0 || !after_blank) => {}
            Line::Text { text, .. } => {
                in_item = false;
                // Tracker templates leave HTML comments; a table is not a sentence.
                let skipped = text.starts_with("<!--") || text.starts_with('|');
                if inside.is_none() && !skipped {
                    match paragraph.as_mut() {
                        Some(current) => join(current, text),
                        None => paragraph = Some(text.to_string()),
                    }
                }
            }
            Line::Blank | Line::Code => {}
        }
        after_blank = matches!(line, Line::Blank);
    }
    paragraph
}

#[cfg(test)]
mod tests;
