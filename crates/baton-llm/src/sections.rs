//! Context from long documents: pick the sections of a Markdown document (CONTRACTS.md,
//! AGENTS.md, ...) that matter most to a task, within a token budget
//! (`baton dispatch --context-from DOC.md`).
//!
//! 1. [`split_sections`] cuts the document at its ATX headings (`#` to `######`, at most
//!    three spaces of indentation, outside fenced code blocks). Text before the first
//!    heading is a preamble section (empty heading path, level 0). A section's body ends at
//!    the next heading of any level, so a parent's section holds only its own intro.
//! 2. [`rank`] scores sections against the task with BM25 (k1 = 1.2, b = 0.75) over
//!    lowercased alphanumeric words without a small list of English stopwords, lightly
//!    stemmed (plural `s`/`es`/`ies`, then `ing`/`ed`, then a final `e`) on both sides.
//!    Words of a section's own heading count twice.
//! 3. [`select`] takes sections with a score above zero, best first, while they fit in the
//!    budget (one that does not fit is skipped and smaller ones are still tried), and returns
//!    them in document order. Budgets count the sections' own tokens
//!    ([`baton_core::estimate_tokens`]); [`render`] adds one short frame line per section.
//!
//! Everything here is a pure function: no I/O.

use std::collections::HashMap;

use baton_core::estimate_tokens;

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// Weight of a word in the section's own heading (body words weigh 1).
const HEADING_WEIGHT: f64 = 2.0;

/// Words that say nothing about a section's subject.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "do", "does", "each", "for", "from", "had", "has", "have", "how",
    "if", "in", "into", "is", "it", "its", "may", "more", "must", "no", "not", "of", "on", "only",
    "or", "other", "our", "out", "should", "so", "some", "such", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "too", "up", "us", "use",
    "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why", "will",
    "with", "would", "you", "your",
];

/// One section of a Markdown document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Titles from the outermost heading down to this one, e.g. `["API", "Errors"]`;
    /// empty for the preamble.
    pub heading_path: Vec<String>,
    /// Heading level 1 to 6; 0 for the preamble.
    pub level: u8,
    /// 1-based line number of the heading (of the first non-blank line for the preamble).
    pub start_line: usize,
    /// The heading line and the body, without trailing blank lines.
    pub text: String,
    /// Estimated tokens of `text`.
    pub tokens: u64,
}

/// A section with its relevance to a query (0 = no query word in it).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub section: Section,
    pub score: f64,
}

/// The sections chosen for a query and budget.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Chosen sections, in document order.
    pub sections: Vec<Ranked>,
    /// Sum of the chosen sections' tokens (at most the budget).
    pub tokens: u64,
    /// Relevant sections (score above zero) left out because they did not fit.
    pub dropped: usize,
}

/// Splits a Markdown document into sections at its ATX headings (see the module docs).
pub fn split_sections(markdown: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut path: Vec<(u8, String)> = Vec::new();
    let mut current = Draft {
        heading_path: Vec::new(),
        level: 0,
        start_line: 1,
        lines: Vec::new(),
    };
    let mut fence: Option<Fence> = None;

    for (index, line) in markdown.lines().enumerate() {
        let line_no = index + 1;
        if let Some(open) = &fence {
            if open.is_closed_by(line) {
                fence = None;
            }
            current.lines.push(line);
            continue;
        }
        if let Some(open) = Fence::opened_by(line) {
            fence = Some(open);
            current.lines.push(line);
            continue;
        }
        let Some((level, title)) = atx_heading(line) else {
            if current.level == 0 && current.lines.is_empty() && line.trim().is_empty() {
                current.start_line = line_no + 1; // leading blank lines of the preamble
            } else {
                current.lines.push(line);
            }
            continue;
        };
        while path.last().is_some_and(|(open, _)| *open >= level) {
            path.pop();
        }
        path.push((level, title));
        let next = Draft {
            heading_path: path.iter().map(|(_, title)| title.clone()).collect(),
            level,
            start_line: line_no,
            lines: vec![line],
        };
        sections.extend(std::mem::replace(&mut current, next).finish());
    }
    sections.extend(current.finish());
    sections
}

/// Scores every section against `query` with BM25; best first, ties in document order.
pub fn rank(sections: &[Section], query: &str) -> Vec<Ranked> {
    let mut query_terms: Vec<String> = terms(query).collect();
    query_terms.sort();
    query_terms.dedup();

    let docs: Vec<HashMap<String, f64>> = sections.iter().map(weighted_terms).collect();
    let lengths: Vec<f64> = docs.iter().map(|doc| doc.values().sum()).collect();
    let count = docs.len() as f64;
    let avg_len = if docs.is_empty() {
        0.0
    } else {
        lengths.iter().sum::<f64>() / count
    };
    let idf: Vec<f64> = query_terms
        .iter()
        .map(|term| {
            let df = docs.iter().filter(|doc| doc.contains_key(term)).count() as f64;
            (1.0 + (count - df + 0.5) / (df + 0.5)).ln()
        })
        .collect();

    let mut ranked: Vec<Ranked> = sections
        .iter()
        .zip(docs.iter().zip(&lengths))
        .map(|(section, (doc, &len))| {
            let norm = if avg_len > 0.0 {
                1.0 - B + B * len / avg_len
            } else {
                1.0
            };
            let score = query_terms
                .iter()
                .zip(&idf)
                .filter_map(|(term, idf)| doc.get(term).map(|tf| (tf, idf)))
                .map(|(tf, idf)| idf * tf * (K1 + 1.0) / (tf + K1 * norm))
                .sum();
            Ranked {
                section: section.clone(),
                score,
            }
        })
        .collect();
    // Stable: equal scores keep their input order; start_line makes that document order.
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.section.start_line.cmp(&b.section.start_line))
    });
    ranked
}

/// Picks the sections of `markdown` most relevant to `query` within `budget_tokens`.
pub fn select(markdown: &str, query: &str, budget_tokens: u64) -> Selection {
    let sections = split_sections(markdown);
    let mut chosen = Vec::new();
    let mut used: u64 = 0;
    let mut dropped = 0;
    for ranked in rank(&sections, query) {
        if ranked.score <= 0.0 {
            break; // sorted: the rest are irrelevant too
        }
        if ranked.section.tokens <= budget_tokens - used {
            used += ranked.section.tokens;
            chosen.push(ranked);
        } else {
            dropped += 1;
        }
    }
    chosen.sort_by_key(|ranked| ranked.section.start_line);
    Selection {
        sections: chosen,
        tokens: used,
        dropped,
    }
}

/// Frames the chosen sections for a prompt, one block per section:
/// `## from {source_name}: {heading path joined by " > "}` then the section's text
/// (the preamble's path reads `(preamble)`), blocks separated by a blank line.
pub fn render(selection: &Selection, source_name: &str) -> String {
    let mut out = String::new();
    for (index, ranked) in selection.sections.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let section = &ranked.section;
        let path = if section.level == 0 {
            String::from("(preamble)")
        } else {
            section.heading_path.join(" > ")
        };
        out.push_str(&format!(
            "## from {source_name}: {path}\n{}\n",
            section.text
        ));
    }
    out
}

/// A section being collected line by line.
struct Draft<'a> {
    heading_path: Vec<String>,
    level: u8,
    start_line: usize,
    lines: Vec<&'a str>,
}

impl Draft<'_> {
    /// The finished section; `None` for a preamble with nothing in it.
    fn finish(self) -> Option<Section> {
        let text = self.lines.join("\n").trim_end().to_owned();
        if self.level == 0 && text.is_empty() {
            return None;
        }
        let tokens = estimate_tokens(&text);
        Some(Section {
            heading_path: self.heading_path,
            level: self.level,
            start_line: self.start_line,
            text,
            tokens,
        })
    }
}

/// An open fenced code block: its fence character and length.
struct Fence {
    marker: char,
    len: usize,
}

impl Fence {
    /// A line that opens a fence: three or more backticks or tildes. Any indentation is
    /// accepted, so fences nested in list items also hide their `#` lines.
    fn opened_by(line: &str) -> Option<Fence> {
        let rest = line.trim_start();
        let marker = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == marker).count();
        let info = &rest[len * marker.len_utf8()..];
        if len < 3 || (marker == '`' && info.contains('`')) {
            return None;
        }
        Some(Fence { marker, len })
    }

    /// A closing fence: the same character, at least as many, nothing else but spaces.
    fn is_closed_by(&self, line: &str) -> bool {
        let rest = line.trim();
        rest.chars().count() >= self.len && rest.chars().all(|c| c == self.marker)
    }
}

/// `Some((level, title))` when `line` is an ATX heading.
fn atx_heading(line: &str) -> Option<(u8, String)> {
    let rest = line.trim_start_matches(' ');
    if line.len() - rest.len() > 3 {
        return None; // indented code
    }
    let hashes = rest.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let after = &rest[hashes..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None; // "#hashtag", "#!shebang"
    }
    let title = after.trim();
    // An optional closing run of '#', separated from the title by whitespace.
    let without_closing = title.trim_end_matches('#');
    let title = if without_closing.is_empty() {
        ""
    } else if without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        title
    };
    let level = u8::try_from(hashes).ok()?;
    Some((level, title.to_owned()))
}

/// A section's terms with their weights: own heading words x2, body words x1.
fn weighted_terms(section: &Section) -> HashMap<String, f64> {
    let mut weights = HashMap::new();
    let body = if section.level == 0 {
        section.text.as_str()
    } else {
        if let Some(title) = section.heading_path.last() {
            for term in terms(title) {
                *weights.entry(term).or_insert(0.0) += HEADING_WEIGHT;
            }
        }
        section.text.split_once('\n').map_or("", |(_, body)| body)
    };
    for term in terms(body) {
        *weights.entry(term).or_insert(0.0) += 1.0;
    }
    weights
}

/// Lowercased alphanumeric words of two or more characters, stopwords out, stemmed.
fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().nth(1).is_some())
        .map(str::to_lowercase)
        .filter(|word| !STOPWORDS.contains(&word.as_str()))
        .map(|word| stem(&word))
}

/// Light suffix stemming, the same for documents and queries: "retries", "retried" and
/// "retrying" all become "retry"; "files" and "file" become "fil"; "settings" becomes "set".
fn stem(word: &str) -> String {
    if !word.is_ascii() || word.len() <= 3 {
        return word.to_owned();
    }
    // 1. plurals
    let mut stem = if let Some(base) = word.strip_suffix("ies").filter(|b| b.len() >= 2) {
        format!("{base}y")
    } else if ["sses", "shes", "ches", "xes", "zes"]
        .iter()
        .any(|end| word.ends_with(end))
    {
        word[..word.len() - 2].to_owned()
    } else if ["ss", "us", "is"].iter().any(|end| word.ends_with(end)) {
        word.to_owned()
    } else if let Some(base) = word.strip_suffix('s') {
        base.to_owned()
    } else {
        word.to_owned()
    };
    // 2. verb forms
    if let Some(base) = stem.strip_suffix("ied").filter(|b| b.len() >= 2) {
        stem = format!("{base}y");
    } else if let Some(base) = stem.strip_suffix("ing").filter(|b| b.len() >= 3) {
        stem = undouble(base);
    } else if let Some(base) = stem
        .strip_suffix("ed")
        .filter(|b| b.len() >= 3 && !b.ends_with('e'))
    {
        stem = undouble(base);
    }
    // 3. a final silent e: "parse" / "parsed" / "parsing" meet at "pars"
    if stem.len() > 3 && stem.ends_with('e') {
        stem.pop();
    }
    stem
}

/// "runn" -> "run", "stopp" -> "stop"; keeps "ll", "ss", "zz" ("call", "pass").
fn undouble(base: &str) -> String {
    let bytes = base.as_bytes();
    match bytes {
        [.., a, b] if a == b && base.len() >= 4 && !matches!(a, b'l' | b's' | b'z') => {
            base[..base.len() - 1].to_owned()
        }
        _ => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const CONTRACTS: &str = "\
Baton contracts between the rooms. Keep them stable.

# API

Every command takes --json and exits non-zero with a hint.

## Errors

Errors are classed once: retryable (connect refused, timeouts, 429 and 5xx) or final.
Retryable errors are retried with backoff and honour Retry-After.

## Streaming

Responses stream as server-sent events; usage arrives in the last chunk.

# Store

One SQLite database per project, WAL mode, busy timeout. Events are append-only rows
written in the same transaction as the state change.

## Migrations

Migrations are numbered SQL files applied in order at open.

# Workers

Workers run in their own process group with wall and idle deadlines; the kill ladder is
SIGTERM to the group, a grace period, then SIGKILL.
";

    fn paths(sections: &[Section]) -> Vec<String> {
        sections
            .iter()
            .map(|s| s.heading_path.join(" > "))
            .collect()
    }

    #[test]
    fn sections_follow_the_heading_tree_and_stop_at_the_next_heading() {
        let sections = split_sections(CONTRACTS);
        assert_eq!(
            paths(&sections),
            [
                "",
                "API",
                "API > Errors",
                "API > Streaming",
                "Store",
                "Store > Migrations",
                "Workers"
            ]
        );
        let api = &sections[1];
        assert_eq!(api.level, 1);
        assert_eq!(api.start_line, 3);
        assert_eq!(
            api.text,
            "# API\n\nEvery command takes --json and exits non-zero with a hint."
        );
        assert_eq!(api.tokens, estimate_tokens(&api.text));
        assert_eq!(sections[2].level, 2);
        assert_eq!(sections[2].start_line, 7);
    }

    #[test]
    fn headings_inside_code_fences_are_not_headings() {
        let doc = "# Setup\n\n```sh\n# install it\nmake\n```\n\n~~~~\n## not either\n~~~\n~~~~\n\n  1. step\n\n     ```\n     # comment\n     ```\n# Next\nbody\n";
        let sections = split_sections(doc);
        assert_eq!(paths(&sections), ["Setup", "Next"]);
        assert!(sections[0].text.contains("# install it"));
        assert!(sections[0].text.contains("## not either"));
        assert!(sections[0].text.contains("# comment"));
        assert_eq!(sections[1].start_line, 18);
    }

    #[test]
    fn an_unclosed_fence_runs_to_the_end_of_the_document() {
        let sections = split_sections("# A\n```\n# B\n");
        assert_eq!(paths(&sections), ["A"]);
    }

    #[test]
    fn only_real_atx_headings_count() {
        let doc = "#hashtag\n    # indented code\n####### seven\n# Title #\n## Closing ## \n### C# tips\n#\n";
        let sections = split_sections(doc);
        assert_eq!(
            paths(&sections),
            [
                "",
                "Title",
                "Title > Closing",
                "Title > Closing > C# tips",
                ""
            ]
        );
        assert_eq!(sections[0].level, 0);
        assert_eq!(sections[4].level, 1);
        assert_eq!(
            sections[0].text,
            "#hashtag\n    # indented code\n####### seven"
        );
    }

    #[test]
    fn the_preamble_is_kept_as_its_own_section() {
        let sections = split_sections("\n\nIntro line.\n\n# First\nbody\n");
        assert_eq!(sections.len(), 2);
        let preamble = &sections[0];
        assert_eq!(preamble.heading_path, Vec::<String>::new());
        assert_eq!(preamble.level, 0);
        assert_eq!(preamble.start_line, 3);
        assert_eq!(preamble.text, "Intro line.");
        // ...and it is ranked like any other section.
        let ranked = rank(&sections, "intro");
        assert_eq!(ranked[0].section.level, 0);
        assert!(ranked[0].score > 0.0);
    }

    #[test]
    fn a_blank_preamble_is_not_a_section() {
        let sections = split_sections("\n   \n# Only\ntext");
        assert_eq!(paths(&sections), ["Only"]);
    }

    #[test]
    fn the_section_about_the_query_subject_ranks_first() {
        let sections = split_sections(CONTRACTS);
        let cases = [
            ("make the client retry on 429 errors", "API > Errors"),
            ("add a migration for a new table", "Store > Migrations"),
            ("kill hung workers after the idle deadline", "Workers"),
            ("stream the usage in SSE chunks", "API > Streaming"),
        ];
        for (query, expected) in cases {
            let ranked = rank(&sections, query);
            assert_eq!(
                ranked[0].section.heading_path.join(" > "),
                expected,
                "{query}"
            );
            assert!(ranked[0].score > ranked[1].score, "{query}: a clear winner");
        }
    }

    #[test]
    fn heading_words_weigh_more_than_body_words() {
        let doc = "# Cache\nNothing else here.\n\n# Other\nThe cache is mentioned here.\n";
        let ranked = rank(&split_sections(doc), "cache");
        assert_eq!(ranked[0].section.heading_path, ["Cache"]);
    }

    #[test]
    fn ranking_sorts_by_score_with_ties_in_document_order() {
        let doc = "# One\nalpha\n# Two\nbeta\n# Three\nalpha\n";
        let ranked = rank(&split_sections(doc), "alpha");
        assert_eq!(
            paths(&ranked.iter().map(|r| r.section.clone()).collect::<Vec<_>>()),
            ["One", "Three", "Two"]
        );
        assert_eq!(ranked[0].score, ranked[1].score);
        assert_eq!(ranked[2].score, 0.0);
    }

    #[test]
    fn stemming_matches_plurals_and_verb_forms() {
        for group in [
            &["retry", "retries", "retried", "retrying"][..],
            &["file", "files"],
            &["parse", "parsed", "parsing", "parses"],
            &["match", "matches", "matched", "matching"],
            &["run", "running", "runs"],
            &["timeout", "timeouts"],
            &["setting", "settings"],
            &["class", "classes"],
            &["add", "added", "adding"],
            &["speed", "speeds"],
            &["status", "statuses"],
        ] {
            let stems: Vec<String> = group.iter().map(|w| stem(w)).collect();
            assert!(
                stems.iter().all(|s| *s == stems[0]),
                "{group:?} -> {stems:?}"
            );
        }
        assert_eq!(stem("call"), "call");
        assert_eq!(stem("called"), "call");
        assert_eq!(stem("pass"), "pass");
        assert_eq!(stem("need"), "need");
        assert_eq!(stem("straße"), "straße");
    }

    #[test]
    fn the_budget_is_respected_and_the_dropped_count_is_right() {
        let sections = split_sections(CONTRACTS);
        let query = "errors retried with backoff in the store migrations";
        let relevant = rank(&sections, query)
            .iter()
            .filter(|r| r.score > 0.0)
            .count();
        assert!(relevant >= 3, "the query touches several sections");

        let all = select(CONTRACTS, query, u64::MAX);
        assert_eq!(all.sections.len(), relevant);
        assert_eq!(all.dropped, 0);

        let errors_tokens = sections[2].tokens;
        let selection = select(CONTRACTS, query, errors_tokens);
        assert_eq!(paths(&sections_of(&selection)), ["API > Errors"]);
        assert_eq!(selection.tokens, errors_tokens);
        assert_eq!(selection.dropped, relevant - 1);

        for budget in [0, 10, 40, 60, 100, 1000] {
            let selection = select(CONTRACTS, query, budget);
            let sum: u64 = selection.sections.iter().map(|r| r.section.tokens).sum();
            assert!(sum <= budget, "budget {budget}");
            assert_eq!(selection.tokens, sum);
            assert_eq!(selection.sections.len() + selection.dropped, relevant);
        }
    }

    #[test]
    fn a_section_that_does_not_fit_is_skipped_for_smaller_ones() {
        let long_body = "deadline ".repeat(200);
        let doc = format!("# Deadlines\n{long_body}\n# Short\nA deadline.\n# Else\nnothing\n");
        let selection = select(&doc, "deadline", 20);
        assert_eq!(paths(&sections_of(&selection)), ["Short"]);
        assert_eq!(selection.dropped, 1);
    }

    #[test]
    fn selected_sections_keep_document_order() {
        let query = "workers kill ladder, store migrations, API errors";
        let selection = select(CONTRACTS, query, 1000);
        let lines: Vec<usize> = selection
            .sections
            .iter()
            .map(|r| r.section.start_line)
            .collect();
        let mut sorted = lines.clone();
        sorted.sort_unstable();
        assert_eq!(lines, sorted);
        let best_first = rank(&split_sections(CONTRACTS), query);
        assert_ne!(
            best_first[0].section.start_line, lines[0],
            "the test needs a best section that is not the first in the document"
        );
    }

    #[test]
    fn an_empty_query_or_document_selects_nothing() {
        for query in ["", "   ", "the and of", "?!"] {
            let selection = select(CONTRACTS, query, 1000);
            assert_eq!(selection, Selection::default(), "{query:?}");
            assert!(
                rank(&split_sections(CONTRACTS), query)
                    .iter()
                    .all(|r| r.score == 0.0)
            );
        }
        assert_eq!(split_sections(""), Vec::<Section>::new());
        assert_eq!(select("", "errors", 1000), Selection::default());
        assert_eq!(rank(&[], "errors"), Vec::<Ranked>::new());
        assert_eq!(render(&Selection::default(), "X.md"), "");
    }

    #[test]
    fn a_zero_budget_drops_every_relevant_section() {
        let selection = select(CONTRACTS, "errors", 0);
        assert!(selection.sections.is_empty());
        assert_eq!(selection.tokens, 0);
        assert_eq!(selection.dropped, 1);
    }

    #[test]
    fn render_frames_each_section_with_source_and_heading_path() {
        let doc = "Preamble about errors.\n\n# API\n\n## Errors\nErrors are classed.\n";
        let selection = select(doc, "errors", 1000);
        assert_eq!(
            render(&selection, "CONTRACTS.md"),
            "## from CONTRACTS.md: (preamble)\nPreamble about errors.\n\n\
             ## from CONTRACTS.md: API > Errors\n## Errors\nErrors are classed.\n"
        );
    }

    #[test]
    fn windows_line_endings_are_handled() {
        let sections = split_sections("# A\r\none\r\n# B\r\ntwo\r\n");
        assert_eq!(paths(&sections), ["A", "B"]);
        assert_eq!(sections[0].text, "# A\none");
    }

    fn sections_of(selection: &Selection) -> Vec<Section> {
        selection
            .sections
            .iter()
            .map(|r| r.section.clone())
            .collect()
    }
}
