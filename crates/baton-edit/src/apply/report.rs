//! The words sent back to the model: why one edit failed (what was looked for, where the
//! closest lines are, what to do instead), and the feedback for a whole reply
//! ([`super::ApplyReport::feedback`]).
//!
//! Reports quote the file's lines raw inside a fence, with the line numbers in the sentence
//! before it, so that a model can copy them into its next SEARCH unchanged.

use crate::matching::{Doc, FuzzySearch, Window};

use super::{ApplyReport, EditOutcome, EditStatus};

/// `text` in a Markdown fence longer than any backtick run inside it.
pub(super) fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let newline = if text.ends_with('\n') || text.is_empty() {
        ""
    } else {
        "\n"
    };
    format!("{fence}\n{text}{newline}{fence}\n")
}

fn percent(similarity: f64) -> String {
    // Floor, so that 89.9% never reads as the 90% a threshold asks for.
    format!("{}%", (similarity * 100.0).floor())
}

/// "lines 4-6" or "line 4", 1-based, for a window.
pub(super) fn line_span(window: &Window) -> String {
    let first = window.start + 1;
    let last = window.start + window.len.max(1);
    if first == last {
        format!("line {first}")
    } else {
        format!("lines {first}-{last}")
    }
}

/// "line 4", "lines 4 and 9", "lines 4, 9 and 12" (at most ten listed).
pub(super) fn line_list(lines: &[usize]) -> String {
    const LISTED: usize = 10;
    let mut shown: Vec<String> = lines.iter().take(LISTED).map(usize::to_string).collect();
    if lines.len() > LISTED {
        shown.push(format!("{} more", lines.len() - LISTED));
    }
    match shown.as_slice() {
        [] => "no line".to_owned(),
        [one] => format!("line {one}"),
        [rest @ .., last] => format!("lines {} and {last}", rest.join(", ")),
    }
}

/// The lines of a window, raw, ending with `\n`.
fn window_text(doc: &Doc<'_>, window: &Window) -> String {
    let end = (window.start + window.len).min(doc.lines.len());
    crate::fence::join_lines(&doc.lines[window.start.min(end)..end])
}

/// Text was not found: what was looked for, the closest lines, what to do.
pub(super) struct NotFound<'a> {
    /// Starts the report: "`src/a.rs`" or "`src/a.rs`, hunk 2 of 3".
    pub(super) subject: &'a str,
    /// Names the text: "SEARCH text", "context and `-` lines".
    pub(super) what: &'a str,
    pub(super) looked_for: &'a str,
    pub(super) threshold: f64,
    /// The last sentence: what the model should send instead.
    pub(super) advice: &'a str,
}

impl NotFound<'_> {
    pub(super) fn write(&self, doc: &Doc<'_>, search: &FuzzySearch) -> String {
        let NotFound {
            subject,
            what,
            looked_for,
            threshold,
            advice,
        } = self;
        let mut report = format!(
            "{subject}: the {what} could not be found in the file (not exactly, not ignoring \
             whitespace, and not close enough to match approximately).\n"
        );
        report.push_str(&format!("The {what}:\n{}", fenced(looked_for)));
        match &search.best {
            Some(best) => {
                report.push_str(&format!(
                    "The closest lines are {} ({} similar; {} is needed):\n{}",
                    line_span(best),
                    percent(best.similarity),
                    percent(*threshold),
                    fenced(&window_text(doc, best)),
                ));
            }
            None if doc.lines.is_empty() => report.push_str("The file is empty.\n"),
            None => {}
        }
        if let Some(limit) = &search.limit {
            report.push_str(&limit.explain());
            report.push('\n');
        }
        report.push_str(advice);
        report
    }
}

/// Text occurs in more than one place; `lines` holds the 1-based line of each (a line with
/// two occurrences is listed once).
pub(super) fn ambiguous(
    subject: &str,
    what: &str,
    looked_for: &str,
    lines: &[usize],
    how: &str,
) -> String {
    let mut distinct = lines.to_vec();
    distinct.dedup();
    format!(
        "{subject}: found the {what} {count} times{how} (at {places}), but an edit must name \
         exactly one place. Add some of the lines around the place you mean, so that they \
         occur only there, and send this edit again.\nThe {what}:\n{text}",
        count = lines.len(),
        places = line_list(&distinct),
        text = fenced(looked_for),
    )
}

/// Two places are about equally close to the text.
pub(super) fn fuzzy_ambiguous(
    subject: &str,
    what: &str,
    looked_for: &str,
    doc: &Doc<'_>,
    places: [&Window; 2],
) -> String {
    let [first, second] = places;
    format!(
        "{subject}: the {what} could not be found exactly, and two places are about equally close: \
         {} ({} similar) and {} ({} similar). Copy the lines of the place you mean exactly, \
         with some lines around them if they repeat, and send this edit again.\nThe {what}:\n\
         {}The lines at {}:\n{}The lines at {}:\n{}",
        line_span(first),
        percent(first.similarity),
        line_span(second),
        percent(second.similarity),
        fenced(looked_for),
        line_span(first),
        fenced(&window_text(doc, first)),
        line_span(second),
        fenced(&window_text(doc, second)),
    )
}

fn label(outcome: &EditOutcome) -> String {
    format!("edit {} (`{}`)", outcome.index + 1, outcome.path)
}

fn listing(outcomes: &[&EditOutcome]) -> String {
    outcomes
        .iter()
        .map(|outcome| label(outcome))
        .collect::<Vec<_>>()
        .join(", ")
}

/// See [`ApplyReport::feedback`].
pub(super) fn feedback(report: &ApplyReport) -> String {
    let mut text = String::new();
    let mut refused = false;
    // Said only beside failures: alone, a dropped edit needs nothing from the model.
    let mut dropped = Vec::new();
    for outcome in &report.outcomes {
        match &outcome.status {
            EditStatus::Failed { report } => {
                // The report starts with the path.
                text.push_str(&format!(
                    "Edit {} ({}) failed: {}\n\n",
                    outcome.index + 1,
                    outcome.kind,
                    report.trim_end()
                ));
            }
            EditStatus::Refused { refusal } => {
                refused = true;
                // The refusal names the path.
                text.push_str(&format!(
                    "Edit {} ({}) was refused: {refusal}.\n\n",
                    outcome.index + 1,
                    outcome.kind
                ));
            }
            EditStatus::Dropped { note } => dropped.push(format!(
                "Edit {} ({}) was not applied: {note}\n",
                outcome.index + 1,
                outcome.kind
            )),
            EditStatus::Applied { .. } | EditStatus::AlreadyApplied => {}
        }
    }
    if let Some(error) = &report.write_error {
        text.push_str(&format!("Writing the files failed: {error}\n\n"));
    }
    if text.is_empty() {
        return text;
    }
    for note in dropped {
        text.push_str(&note);
    }
    let done: Vec<&EditOutcome> = report
        .outcomes
        .iter()
        .filter(|outcome| match outcome.status {
            EditStatus::Applied { .. } => outcome.committed,
            EditStatus::AlreadyApplied => true,
            EditStatus::Failed { .. } | EditStatus::Refused { .. } | EditStatus::Dropped { .. } => {
                false
            }
        })
        .collect();
    let pending: Vec<&EditOutcome> = report
        .outcomes
        .iter()
        .filter(|outcome| {
            matches!(outcome.status, EditStatus::Applied { .. }) && !outcome.committed
        })
        .collect();
    if !done.is_empty() {
        text.push_str(&format!(
            "Applied or already in place, do not send these again: {}.\n",
            listing(&done)
        ));
    }
    if !pending.is_empty() {
        let failed_paths: Vec<Option<Vec<&str>>> = report
            .outcomes
            .iter()
            .filter(|outcome| matches!(outcome.status, EditStatus::Failed { .. }))
            .map(|outcome| normal(&outcome.path))
            .collect();
        let why = if refused {
            "a refused edit stops the whole reply"
        } else if report.write_error.is_some() {
            "writing their files did not happen"
        } else if pending
            .iter()
            .all(|outcome| failed_paths.contains(&normal(&outcome.path)))
        {
            "another edit to the same file failed"
        } else {
            "a reply applies whole or not at all"
        };
        text.push_str(&format!(
            "These edits matched but were not applied, because {why}; send them again \
             together with the fixed ones: {}.\n",
            listing(&pending)
        ));
    }
    text
}

/// A path compared the way the applier resolves it: `./a.rs` is `a.rs`.
fn normal(path: &str) -> Option<Vec<&str>> {
    crate::safety::components(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn fences_outgrow_backtick_runs_inside() {
        assert_eq!(fenced("a\n"), "```\na\n```\n");
        assert_eq!(fenced("````x"), "`````\n````x\n`````\n");
    }

    #[test]
    fn line_lists_read_as_sentences() {
        assert_eq!(line_list(&[4]), "line 4");
        assert_eq!(line_list(&[4, 9, 12]), "lines 4, 9 and 12");
    }

    #[test]
    fn percentages_round_down() {
        assert_eq!(percent(0.899), "89%");
        assert_eq!(percent(0.9), "90%");
    }
}
