//! Applying unified-diff hunks to a file's text in memory.
//!
//! A hunk's line numbers are hints: each hunk is located by its context and `-` lines
//! (its "before" text) in the text as the earlier hunks left it: exactly at the hint (moved
//! by what earlier hunks added or removed) or anywhere if it occurs once, then ignoring
//! whitespace, then fuzzily. Where the file's lines differ from the hunk's (whitespace, or a
//! fuzzy match), the hunk is aligned to the file's lines by a line diff, and the file's own
//! context lines are kept: a patch changes only its `-` and `+` lines.

use similar::{Algorithm, DiffOp};

use crate::edit::{Hunk, HunkLine};
use crate::fence;
use crate::matching::{self, Verdict};

use super::MatchMethod;
use super::kinds::{Step, changed};
use super::report::{self, NotFound};
use super::text::{close, open};

/// How far from its (moved) hint a hunk may be found when its text occurs more than once:
/// models' line numbers are often off by one or two.
const NEAR_HINT_LINES: usize = 3;

pub(super) fn patch(path: &str, current: Option<&str>, hunks: &[Hunk], threshold: f64) -> Step {
    if hunks.is_empty() {
        return Step::Failed(format!("`{path}`: the diff has no hunks."));
    }
    let cleaned: Vec<Vec<HunkLine>> = hunks.iter().map(|hunk| clean(&hunk.lines)).collect();
    let Some(current) = current else {
        return new_file(path, &cleaned);
    };
    let (text, added_newline) = open(current);
    let mut lines: Vec<String> = fence::split_lines(&text)
        .into_iter()
        .map(str::to_owned)
        .collect();
    // Lines added minus lines removed by the hunks so far: moves the later hunks' hints.
    let mut growth = 0isize;
    let mut method: Option<MatchMethod> = None;
    let mut failures = Vec::new();
    for (number, (hunk, lines_of_hunk)) in hunks.iter().zip(&cleaned).enumerate() {
        let subject = match hunk.old_start_hint {
            Some(line) => format!(
                "`{path}`, hunk {} of {} (`@@ -{line} @@`)",
                number + 1,
                hunks.len()
            ),
            None => format!("`{path}`, hunk {} of {}", number + 1, hunks.len()),
        };
        let job = HunkJob {
            subject: &subject,
            lines: lines_of_hunk,
            hint: hunk.old_start_hint,
            growth,
            threshold,
        };
        match job.apply(&mut lines) {
            HunkOutcome::Applied {
                method: this,
                growth: more,
            } => {
                growth += more;
                method = Some(method.map_or(this, |so_far| weaker(so_far, this)));
            }
            HunkOutcome::Already { growth: more } => growth += more,
            HunkOutcome::Failed(report) => failures.push(report),
        }
    }
    if !failures.is_empty() {
        return Step::Failed(failures.join("\n"));
    }
    let Some(method) = method else {
        return Step::Already;
    };
    changed(
        current,
        close(fence::join_lines(&lines), added_newline),
        method,
    )
}

/// A diff against a file that does not exist applies only when it adds every line.
fn new_file(path: &str, hunks: &[Vec<HunkLine>]) -> Step {
    let mut text = String::new();
    for line in hunks.iter().flatten() {
        match line {
            HunkLine::Add(added) => {
                text.push_str(added);
                text.push('\n');
            }
            HunkLine::Context(_) | HunkLine::Remove(_) => {
                return Step::Failed(format!(
                    "`{path}` does not exist, so its hunks cannot apply. To create it, send a \
                     diff from `/dev/null` with every line added."
                ));
            }
        }
    }
    Step::Changed {
        text: Some(text),
        method: MatchMethod::Direct,
    }
}

/// Hunk lines with a stray `\r` (a CRLF reply the parser did not normalize) taken off.
fn clean(lines: &[HunkLine]) -> Vec<HunkLine> {
    let strip = |text: &String| text.strip_suffix('\r').unwrap_or(text).to_owned();
    lines
        .iter()
        .map(|line| match line {
            HunkLine::Context(text) => HunkLine::Context(strip(text)),
            HunkLine::Remove(text) => HunkLine::Remove(strip(text)),
            HunkLine::Add(text) => HunkLine::Add(strip(text)),
        })
        .collect()
}

/// The less certain of two ways a patch's hunks were found.
fn weaker(a: MatchMethod, b: MatchMethod) -> MatchMethod {
    let rank = |method: &MatchMethod| match method {
        MatchMethod::Direct => 0,
        MatchMethod::Exact => 1,
        MatchMethod::IgnoringWhitespace => 2,
        MatchMethod::Fuzzy { .. } => 3,
    };
    match (a, b) {
        (MatchMethod::Fuzzy { similarity: x }, MatchMethod::Fuzzy { similarity: y }) => {
            MatchMethod::Fuzzy {
                similarity: x.min(y),
            }
        }
        _ if rank(&b) > rank(&a) => b,
        _ => a,
    }
}

enum HunkOutcome {
    Applied { method: MatchMethod, growth: isize },
    Already { growth: isize },
    Failed(String),
}

/// Where a hunk goes: `len` file lines from `start` are rewritten by `lines`.
struct Placement<'a> {
    start: usize,
    len: usize,
    lines: &'a [HunkLine],
    method: MatchMethod,
}

/// Where a hunk goes (`Ok(None)`: it was applied before), or the report for the model.
type Found<'h> = Result<Option<Placement<'h>>, String>;

struct HunkJob<'a> {
    subject: &'a str,
    lines: &'a [HunkLine],
    hint: Option<usize>,
    growth: isize,
    threshold: f64,
}

fn before_of(lines: &[HunkLine]) -> Vec<&str> {
    lines.iter().filter_map(HunkLine::before).collect()
}

fn after_of(lines: &[HunkLine]) -> Vec<&str> {
    lines.iter().filter_map(HunkLine::after).collect()
}

impl HunkJob<'_> {
    /// `index` moved by the growth of the earlier hunks, when that stays in the file.
    fn moved(&self, index: usize) -> Option<usize> {
        let index = isize::try_from(index).ok()? + self.growth;
        usize::try_from(index).ok()
    }

    fn apply(&self, file: &mut Vec<String>) -> HunkOutcome {
        let before = before_of(self.lines);
        let after = after_of(self.lines);
        let growth = after.len() as isize - before.len() as isize;
        if before.is_empty() {
            return self.insert(file, &after, growth);
        }
        let placement = {
            let view: Vec<&str> = file.iter().map(String::as_str).collect();
            match self.locate(&view, &before, &after) {
                Ok(Some(placement)) => placement,
                Ok(None) => return HunkOutcome::Already { growth },
                Err(report) => return HunkOutcome::Failed(report),
            }
        };
        let window: Vec<&str> = file[placement.start..placement.start + placement.len]
            .iter()
            .map(String::as_str)
            .collect();
        let rewritten = rewrite(placement.lines, &window);
        let growth = rewritten.len() as isize - placement.len as isize;
        file.splice(placement.start..placement.start + placement.len, rewritten);
        HunkOutcome::Applied {
            method: placement.method,
            growth,
        }
    }

    /// A hunk of added lines only: appended to an empty file, else inserted after the line
    /// its header names (`@@ -10,0 +11,2 @@` adds after line 10), which it then needs.
    fn insert(&self, file: &mut Vec<String>, added: &[&str], growth: isize) -> HunkOutcome {
        if added.is_empty() {
            return HunkOutcome::Already { growth: 0 };
        }
        let owned = added.iter().map(|line| (*line).to_owned());
        if file.is_empty() {
            file.extend(owned);
            return HunkOutcome::Applied {
                method: MatchMethod::Exact,
                growth,
            };
        }
        let Some(hint) = self.hint else {
            return HunkOutcome::Failed(format!(
                "{}: the hunk only adds lines and has no line number, so there is no telling \
                 where they go. Add a few unchanged lines around them as context, and send \
                 the hunk again.\n",
                self.subject
            ));
        };
        let at = match self.moved(hint) {
            Some(at) if at <= file.len() => at,
            _ => {
                return HunkOutcome::Failed(format!(
                    "{}: the hunk adds lines after line {hint}, but the file has {} lines. \
                     Add a few unchanged lines around them as context, and send the hunk \
                     again.\n",
                    self.subject,
                    file.len()
                ));
            }
        };
        let already = file.len() - at >= added.len()
            && file[at..at + added.len()]
                .iter()
                .zip(added)
                .all(|(have, want)| have == want);
        if already {
            return HunkOutcome::Already { growth };
        }
        file.splice(at..at, owned);
        HunkOutcome::Applied {
            method: MatchMethod::Exact,
            growth,
        }
    }

    fn locate<'h>(&'h self, file: &[&str], before: &[&str], after: &[&str]) -> Found<'h> {
        let hint = self
            .hint
            .and_then(|line| self.moved(line.saturating_sub(1)));
        let after_blank = after.iter().all(|line| matching::is_blank(line));
        let before_text = fence::join_lines(before);

        // Exact.
        let places = matching::find_lines(file, before);
        let after_places = if after_blank {
            Vec::new()
        } else {
            matching::find_lines(file, after)
        };
        if !places.is_empty() {
            if matching::all_inside(&places, before.len(), &after_places, after.len()) {
                return Ok(None);
            }
            return match choose(&places, hint) {
                Some(start) => Ok(Some(Placement {
                    start,
                    len: before.len(),
                    lines: self.lines,
                    method: MatchMethod::Exact,
                })),
                None => Err(self.ambiguous(&before_text, &places, "")),
            };
        }

        // Ignoring whitespace: the hunk as given, then without blank context lines at its
        // edges, unless its result is there exactly (see `kinds::locate`).
        let squashed: Vec<String> = matching::squash_all(file);
        if let Some(found) = self.ignoring_whitespace(&squashed, self.lines, &before_text, hint) {
            return found;
        }
        let core = trim_blank_context(self.lines);
        if core.len() < self.lines.len() {
            if !after_places.is_empty() {
                return Ok(None);
            }
            if let Some(found) = self.ignoring_whitespace(&squashed, core, &before_text, hint) {
                return found;
            }
        }

        // Its result already there where its before text is not: applied before. Checked
        // ahead of fuzzy, which would otherwise find the result as the closest match.
        let core_after = after_of(core);
        if !after_places.is_empty()
            || (!after_blank
                && !matching::find_squashed(&squashed, &matching::squash_all(&core_after))
                    .is_empty())
        {
            return Ok(None);
        }

        let core_before = before_of(core);
        let search = matching::fuzzy(&squashed, &matching::squash_all(&core_before));
        match search.verdict(self.threshold) {
            Verdict::Unique(window) => Ok(Some(Placement {
                start: window.start,
                len: window.len,
                lines: core,
                method: MatchMethod::Fuzzy {
                    similarity: window.similarity,
                },
            })),
            Verdict::Ambiguous(first, second) => {
                let text = fence::join_lines(file);
                let doc = matching::Doc::new(&text);
                Err(report::fuzzy_ambiguous(
                    self.subject,
                    "context and `-` lines",
                    &before_text,
                    &doc,
                    [&first, &second],
                ))
            }
            Verdict::NotClose => {
                let text = fence::join_lines(file);
                let doc = matching::Doc::new(&text);
                Err(NotFound {
                    subject: self.subject,
                    what: "context and `-` lines",
                    looked_for: &before_text,
                    threshold: self.threshold,
                    advice: "Copy the context and `-` lines of the hunk exactly from the file, \
                             whitespace included, and send the hunk again (its line numbers \
                             may be approximate).\n",
                }
                .write(&doc, &search))
            }
        }
    }

    /// Places `lines` (the hunk or its trimmed core) ignoring whitespace; `None` when its
    /// before text occurs nowhere.
    fn ignoring_whitespace<'h>(
        &'h self,
        squashed: &[String],
        lines: &'h [HunkLine],
        before_text: &str,
        hint: Option<usize>,
    ) -> Option<Found<'h>> {
        let before = before_of(lines);
        let after = after_of(lines);
        let places = matching::find_squashed(squashed, &matching::squash_all(&before));
        if places.is_empty() {
            return None;
        }
        let after_places = if after.iter().all(|line| matching::is_blank(line)) {
            Vec::new()
        } else {
            matching::find_squashed(squashed, &matching::squash_all(&after))
        };
        if matching::all_inside(&places, before.len(), &after_places, after.len()) {
            return Some(Ok(None));
        }
        Some(match choose(&places, hint) {
            Some(start) => Ok(Some(Placement {
                start,
                len: before.len(),
                lines,
                method: MatchMethod::IgnoringWhitespace,
            })),
            None => Err(self.ambiguous(before_text, &places, " ignoring whitespace")),
        })
    }

    fn ambiguous(&self, before_text: &str, places: &[usize], how: &str) -> String {
        let numbers: Vec<usize> = places.iter().map(|start| start + 1).collect();
        let mut report = report::ambiguous(
            self.subject,
            "context and `-` lines",
            before_text,
            &numbers,
            how,
        );
        if self.hint.is_some() {
            report.push_str(&format!(
                "None of them is nearer than the others to the hunk's line number (within \
                 {NEAR_HINT_LINES} lines).\n"
            ));
        }
        report
    }
}

/// The only place there is, else the place at the hint, else the one nearest the hint
/// within [`NEAR_HINT_LINES`] when no other is as near; `None` when that leaves a choice.
fn choose(places: &[usize], hint: Option<usize>) -> Option<usize> {
    if let [only] = places {
        return Some(*only);
    }
    let hint = hint?;
    let mut near: Vec<(usize, usize)> = places
        .iter()
        .map(|&place| (place.abs_diff(hint), place))
        .filter(|(distance, _)| *distance <= NEAR_HINT_LINES)
        .collect();
    near.sort_unstable();
    match near.as_slice() {
        [(_, only)] => Some(*only),
        [(nearest, place), (next, _), ..] if nearest < next => Some(*place),
        _ => None,
    }
}

/// The hunk without blank context lines at its start and end (kept when nothing else is
/// left to locate it by).
fn trim_blank_context(lines: &[HunkLine]) -> &[HunkLine] {
    let blank_context =
        |line: &HunkLine| matches!(line, HunkLine::Context(text) if matching::is_blank(text));
    let start = lines.iter().take_while(|line| blank_context(line)).count();
    let end = lines.len()
        - lines[start..]
            .iter()
            .rev()
            .take_while(|line| blank_context(line))
            .count();
    let core = &lines[start..end];
    if before_of(core).is_empty() {
        lines
    } else {
        core
    }
}

/// The file lines `window` as the hunk `lines` leaves them.
///
/// The hunk's before text is aligned to the window by a line diff on squashed lines: matched
/// context lines keep the file's text, matched `-` lines go, `+` lines come in after the
/// line they follow in the hunk, re-indented when the matched lines show a constant indent
/// offset. Window lines the hunk does not mention stay; hunk lines missing from the window
/// are skipped. Where both sides differ, equal counts pair up line by line; otherwise the
/// hunk's text stands for that stretch.
fn rewrite(lines: &[HunkLine], window: &[&str]) -> Vec<String> {
    let before = before_of(lines);
    // `added[k]`: the `+` lines right after the k-th before line (`added[0]`: before any).
    let mut added: Vec<Vec<&str>> = vec![Vec::new(); before.len() + 1];
    let mut kinds: Vec<bool> = Vec::with_capacity(before.len()); // true: context
    for line in lines {
        match line {
            HunkLine::Add(text) => added[kinds.len()].push(text),
            HunkLine::Context(_) => kinds.push(true),
            HunkLine::Remove(_) => kinds.push(false),
        }
    }
    let ops = similar::capture_diff_slices(
        Algorithm::Myers,
        &matching::squash_all(&before),
        &matching::squash_all(window),
    );
    let mut pairs = Vec::new();
    for op in &ops {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = *op
        {
            for offset in 0..len {
                pairs.push((before[old_index + offset], window[new_index + offset]));
            }
        }
    }
    let shift = matching::indent_shift(pairs);
    let mut out: Vec<String> = Vec::with_capacity(window.len() + lines.len());
    let push_added = |out: &mut Vec<String>, index: usize| {
        for line in &added[index] {
            out.push(matching::reindent(line, &shift));
        }
    };
    push_added(&mut out, 0);
    for op in ops {
        match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                for offset in 0..len {
                    if kinds[old_index + offset] {
                        out.push(window[new_index + offset].to_owned());
                    }
                    push_added(&mut out, old_index + offset + 1);
                }
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                for index in old_index..old_index + old_len {
                    push_added(&mut out, index + 1);
                }
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                out.extend(
                    window[new_index..new_index + new_len]
                        .iter()
                        .map(|line| (*line).to_owned()),
                );
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                let region = old_index..old_index + old_len;
                let all_context = kinds[region.clone()].iter().all(|context| *context);
                let all_removed = kinds[region.clone()].iter().all(|context| !*context);
                if old_len == new_len {
                    for offset in 0..old_len {
                        if kinds[old_index + offset] {
                            out.push(window[new_index + offset].to_owned());
                        }
                        push_added(&mut out, old_index + offset + 1);
                    }
                } else if all_context || all_removed {
                    if all_context {
                        out.extend(
                            window[new_index..new_index + new_len]
                                .iter()
                                .map(|line| (*line).to_owned()),
                        );
                    }
                    for index in region {
                        push_added(&mut out, index + 1);
                    }
                } else {
                    for index in region {
                        if kinds[index] {
                            out.push(before[index].to_owned());
                        }
                        push_added(&mut out, index + 1);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn lines(body: &str) -> Vec<HunkLine> {
        body.lines()
            .map(|line| {
                let (marker, text) = line.split_at(1);
                let text = text.to_owned();
                match marker {
                    "-" => HunkLine::Remove(text),
                    "+" => HunkLine::Add(text),
                    _ => HunkLine::Context(text),
                }
            })
            .collect()
    }

    #[test]
    fn rewrite_keeps_file_lines_the_hunk_does_not_mention() {
        let hunk = lines(" a\n-b\n+B\n c\n");
        let window = ["a", "extra", "b", "c"];
        assert_eq!(rewrite(&hunk, &window), vec!["a", "extra", "B", "c"]);
    }

    #[test]
    fn rewrite_keeps_the_files_context_and_reindents_added_lines() {
        let hunk = lines(" if x {\n+    y();\n }\n");
        let window = ["    if x {", "    }"];
        assert_eq!(
            rewrite(&hunk, &window),
            vec!["    if x {", "        y();", "    }"]
        );
    }

    #[test]
    fn choose_prefers_the_hint_then_the_one_nearest_place() {
        assert_eq!(choose(&[7], None), Some(7));
        assert_eq!(choose(&[2, 9], None), None);
        assert_eq!(choose(&[2, 9], Some(9)), Some(9));
        assert_eq!(choose(&[2, 9], Some(7)), Some(9));
        assert_eq!(choose(&[4, 8], Some(6)), None);
        assert_eq!(choose(&[2, 20], Some(10)), None);
    }

    #[test]
    fn the_weaker_method_wins() {
        let fuzzy = |similarity| MatchMethod::Fuzzy { similarity };
        assert_eq!(
            weaker(MatchMethod::Exact, MatchMethod::IgnoringWhitespace),
            MatchMethod::IgnoringWhitespace
        );
        assert_eq!(weaker(fuzzy(0.95), fuzzy(0.92)), fuzzy(0.92));
        assert_eq!(weaker(fuzzy(0.95), MatchMethod::Exact), fuzzy(0.95));
    }
}
