//! What the sibling cross-reference reads and writes in an issue's description: its
//! acceptance criteria (checkbox items), whether one of them is covered by what a run
//! delivered, and the `## [Already Built]` section that records it. All of it is plain text
//! work, deterministic, with no call to Linear.

use std::collections::BTreeSet;

/// The heading of the section the cross-reference owns in a sibling's description.
pub(super) const SECTION: &str = "## [Already Built]";

/// How much of a sibling criterion's content words one delivered criterion must contain for
/// the criterion to count as covered. Containment rather than Jaccard: a delivered criterion
/// may say more than the sibling asked ("clamp keeps values in range" is covered by "clamp
/// keeps values in range and returns floats"). Four words in five: a criterion rephrased
/// with one word changed in five still matches, while at four words or fewer every content
/// word must be there, so that criteria that differ in the one word that matters ("below
/// low" and "above high", "returns" and "does not return") stay apart. It errs towards not
/// covered on purpose: a covered criterion ticks a box in someone else's issue, and all of
/// them covered closes it.
const COVERED: f64 = 0.8;

/// Words that carry no meaning of their own in a criterion. Negations (`not`, `no`,
/// `never`, `without`) are kept: they turn a criterion into its opposite.
const STOP_WORDS: &[&str] = &[
    "a", "all", "an", "and", "any", "are", "as", "at", "be", "been", "by", "can", "do", "does",
    "each", "every", "for", "from", "has", "have", "if", "in", "into", "is", "it", "its", "of",
    "on", "or", "should", "so", "that", "the", "their", "them", "then", "there", "these", "this",
    "those", "to", "was", "we", "when", "which", "will", "with", "would", "must", "shall", "user",
    "users",
];

/// The heading level of `line` (`## x`: 2), if it is an ATX heading.
fn heading_level(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    let rest = &trimmed[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with(' '))).then_some(level)
}

/// Whether `line` opens or closes a fenced code block.
fn is_fence(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.starts_with("```") || trimmed.starts_with("~~~")
}

/// The text of a checkbox item (`- [ ] x`, `* [x] x`, `+ [X] x`) and whether it is ticked.
fn checkbox(line: &str) -> Option<(bool, &str)> {
    let trimmed = line.trim_start();
    let rest = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .or_else(|| trimmed.strip_prefix("+ "))?
        .trim_start();
    let (ticked, text) = if let Some(text) = rest.strip_prefix("[ ]") {
        (false, text)
    } else if let Some(text) = rest
        .strip_prefix("[x]")
        .or_else(|| rest.strip_prefix("[X]"))
    {
        (true, text)
    } else {
        return None;
    };
    let text = text.trim();
    (!text.is_empty()).then_some((ticked, text))
}

/// Whether `line` names an acceptance criteria section: a heading, a bold line or a line of
/// its own that says so (`## Acceptance criteria`, `**Acceptance Criteria:**`).
fn is_acceptance_heading(line: &str) -> bool {
    let text = line
        .trim()
        .trim_start_matches('#')
        .trim()
        .trim_matches('*')
        .trim_matches('_')
        .trim()
        .trim_end_matches(':')
        .trim()
        .to_lowercase();
    text == "acceptance criteria" || text == "acceptance"
}

/// Where the `[Already Built]` section is in `lines`: the heading's index and the index of
/// the first line after the section (the next heading of its level or above, or the end).
fn section_span(lines: &[&str]) -> Option<(usize, usize)> {
    let mut fenced = false;
    let mut start = None;
    for (index, line) in lines.iter().enumerate() {
        if is_fence(line) {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        match start {
            None => {
                if line.trim().eq_ignore_ascii_case(SECTION) {
                    start = Some(index);
                }
            }
            Some(at) => {
                if heading_level(line).is_some_and(|level| level <= 2) {
                    return Some((at, index));
                }
            }
        }
    }
    start.map(|at| (at, lines.len()))
}

/// The acceptance criteria of a description: its checkbox items, those under an
/// "Acceptance criteria" heading when there are any there, else all of them (the
/// `[Already Built]` section and code blocks left out); none without checkbox items.
pub(super) fn parse(description: &str) -> Vec<String> {
    let all: Vec<&str> = description.lines().collect();
    let lines: Vec<&str> = match section_span(&all) {
        Some((start, end)) => all[..start].iter().chain(&all[end..]).copied().collect(),
        None => all,
    };
    let mut under: Vec<String> = Vec::new();
    let mut anywhere: Vec<String> = Vec::new();
    let mut fenced = false;
    // The level of the acceptance section being read; 7 for one opened by a line that is
    // not a heading (it ends at the next heading of any level).
    let mut acceptance: Option<usize> = None;
    for line in lines {
        if is_fence(line) {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if let Some(level) = heading_level(line) {
            if acceptance.is_some_and(|open| level <= open) {
                acceptance = None;
            }
            if is_acceptance_heading(line) {
                acceptance = Some(level);
            }
            continue;
        }
        if checkbox(line).is_none() && is_acceptance_heading(line) {
            acceptance = Some(7);
            continue;
        }
        if let Some((_, text)) = checkbox(line) {
            let text = text.to_string();
            if acceptance.is_some() && !under.contains(&text) {
                under.push(text.clone());
            }
            if !anywhere.contains(&text) {
                anywhere.push(text);
            }
        }
    }
    if under.is_empty() { anywhere } else { under }
}

/// The items ticked in the description's `[Already Built]` section (an earlier run's).
pub(super) fn built_before(description: &str) -> Vec<String> {
    let lines: Vec<&str> = description.lines().collect();
    let Some((start, end)) = section_span(&lines) else {
        return Vec::new();
    };
    lines[start + 1..end]
        .iter()
        .filter_map(|line| checkbox(line))
        .filter(|(ticked, _)| *ticked)
        .map(|(_, text)| text.to_string())
        .collect()
}

/// A word as compared, by a few suffix rules applied alike to both sides of a comparison:
/// lower case, a plural's ending dropped (`values`, `entries`, `passes`), then `-ing` and
/// `-ed` (`clamped`, `parsing`), then a final `e` (`parse`, `parsed` and `parsing` all
/// become `pars`). Not a full stemmer: enough that inflection does not hide a match.
fn stem(word: &str) -> String {
    let mut word = word.to_lowercase();
    if word.len() > 4 && word.ends_with("ies") {
        word = format!("{}y", &word[..word.len() - 3]);
    } else if ["sses", "shes", "ches", "xes"]
        .iter()
        .any(|ending| word.len() > ending.len() + 1 && word.ends_with(ending))
    {
        word.truncate(word.len() - 2);
    } else if word.len() > 3
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
    {
        word.truncate(word.len() - 1);
    }
    let before = word.len();
    if word.len() > 5 && word.ends_with("ing") {
        word.truncate(word.len() - 3);
    } else if word.len() > 4 && word.ends_with("ed") {
        word.truncate(word.len() - 2);
    }
    if word.len() < before {
        // `clamped`: `clamp`, `stopped`: `stop`.
        let bytes = word.as_bytes();
        if let [.., a, b] = bytes
            && a == b
            && !b"aeioudflsz".contains(b)
        {
            word.truncate(word.len() - 1);
        }
    }
    if word.len() > 3 && word.ends_with('e') {
        word.truncate(word.len() - 1);
    }
    word
}

/// The content words of `text`: split at anything not a letter or digit, stemmed, stop
/// words dropped.
pub(super) fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        // A lone letter (the `s` of `user's`) says nothing; a lone digit may (`step 2`).
        .filter(|word| word.chars().count() > 1 || word.chars().all(|c| c.is_ascii_digit()))
        .filter(|word| !word.is_empty())
        .map(|word| word.to_lowercase())
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
        .map(|word| stem(&word))
        .collect()
}

/// The delivered criterion that covers `criterion`, if one does: one containing at least
/// [`COVERED`] of its content words. A criterion of fewer than two content words is covered
/// only by one with exactly its words (one shared word says nothing).
pub(super) fn covered_by<'d>(criterion: &str, delivered: &'d [String]) -> Option<&'d String> {
    let wanted = words(criterion);
    delivered.iter().find(|done| {
        let have = words(done);
        if wanted.len() < 2 {
            return !wanted.is_empty() && have == wanted;
        }
        let shared = wanted.intersection(&have).count();
        // Counts of words in one criterion: far below f64's exact integers.
        shared as f64 / wanted.len() as f64 >= COVERED
    })
}

/// Whether two criteria are the same one (an earlier run's tick found again).
pub(super) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (words(a), words(b));
    !a.is_empty() && a == b
}

/// `description` with its `[Already Built]` section replaced by `section` (the heading and
/// its lines), or `section` added at the end when it has none. Everything else is kept as
/// it was; doing it again with the same section changes nothing.
pub(super) fn with_section(description: &str, section: &str) -> String {
    let block = format!("{}\n", section.trim_end());
    let lines: Vec<&str> = description.lines().collect();
    match section_span(&lines) {
        Some((start, end)) => {
            let mut out = String::new();
            for line in &lines[..start] {
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&block);
            let after = lines[end..].join("\n");
            if !after.trim().is_empty() {
                out.push('\n');
                out.push_str(&after);
                if description.ends_with('\n') {
                    out.push('\n');
                }
            }
            out
        }
        None if description.trim().is_empty() => block,
        None => format!("{}\n\n{block}", description.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_string()).collect()
    }

    #[test]
    fn criteria_are_the_checkbox_items_under_an_acceptance_heading_when_there_are_any() {
        let description = "Intro.\n\n- [ ] a stray task\n\n## Acceptance criteria\n- [ ] clamp keeps values in range\n- [x] clamp returns low for values below low\n* [ ] clamp returns high for values above high\n- not a checkbox\n\n## Notes\n- [ ] a note task\n";
        assert_eq!(
            parse(description),
            strings(&[
                "clamp keeps values in range",
                "clamp returns low for values below low",
                "clamp returns high for values above high",
            ])
        );
    }

    #[test]
    fn without_an_acceptance_heading_every_checkbox_item_is_a_criterion_and_without_any_none() {
        assert_eq!(
            parse("Do it.\n\n- [ ] one thing\n  - [X] a nested thing\n- [ ] one thing\n"),
            strings(&["one thing", "a nested thing"])
        );
        assert_eq!(parse("Just prose.\n\n- a bullet\n"), Vec::<String>::new());
        assert_eq!(parse(""), Vec::<String>::new());
    }

    #[test]
    fn a_bold_acceptance_line_opens_the_section_and_code_blocks_and_the_built_section_are_skipped()
    {
        let description = "**Acceptance Criteria:**\n- [ ] parse the config\n```\n- [ ] in code\n```\n\n## [Already Built]\n- [x] parse the config\n- [x] something else\n";
        assert_eq!(parse(description), strings(&["parse the config"]));
        assert_eq!(
            built_before(description),
            strings(&["parse the config", "something else"])
        );
    }

    #[test]
    fn words_are_lowercased_stemmed_and_stripped_of_stop_words_but_not_of_negations() {
        let got: Vec<String> = words("The user's Values are NOT clamped in entries; passes!")
            .into_iter()
            .collect();
        assert_eq!(got, strings(&["clamp", "entry", "not", "pass", "valu"]));
    }

    #[test]
    fn a_criterion_is_covered_when_one_delivered_criterion_holds_four_fifths_of_its_words() {
        let delivered = strings(&[
            "clamp keeps values in range and returns floats",
            "clamp returns low for values below low",
        ]);
        // Contained, in another order and inflection.
        assert_eq!(
            covered_by("Clamp keeps the value in range", &delivered),
            Some(&delivered[0])
        );
        // Six content words, five shared.
        assert_eq!(
            covered_by(
                "clamp returns low for values below the low bound",
                &delivered
            ),
            Some(&delivered[1])
        );
        // The one word that matters differs.
        assert_eq!(
            covered_by("clamp returns high for values above high", &delivered),
            None
        );
        assert_eq!(covered_by("clamp does not return low", &delivered), None);
        // One content word is covered only by exactly it.
        assert_eq!(covered_by("clamp", &delivered), None);
        assert_eq!(
            covered_by("Clamp.", &strings(&["clamp"])),
            Some(&strings(&["clamp"])[0])
        );
        assert_eq!(covered_by("the", &strings(&["the"])), None);
        assert!(!same("Values kept in range", "value keeps range"));
        assert_eq!(words("parse, parsed, parsing"), words("parse"));
        assert!(same("clamp keeps values", "Clamp keeps the value"));
    }

    #[test]
    fn the_built_section_is_added_at_the_end_then_replaced_in_place_keeping_the_users_text() {
        let section = "## [Already Built]\n- [x] one\n- [ ] two\n";
        let original = "Intro.\n\n## Acceptance criteria\n- [ ] one\n- [ ] two\n";
        let added = with_section(original, section);
        assert_eq!(
            added,
            "Intro.\n\n## Acceptance criteria\n- [ ] one\n- [ ] two\n\n## [Already Built]\n- [x] one\n- [ ] two\n"
        );
        assert_eq!(with_section(&added, section), added, "idempotent");

        // A section in the middle, followed by the user's text (which they may have edited).
        let middle = "Intro.\n\n## [Already Built]\n- [ ] old\n\n## Notes\nKeep me.\n";
        let replaced = with_section(middle, section);
        assert_eq!(
            replaced,
            "Intro.\n\n## [Already Built]\n- [x] one\n- [ ] two\n\n## Notes\nKeep me.\n"
        );
        assert_eq!(with_section(&replaced, section), replaced, "idempotent");

        // A level-3 heading inside the section belongs to it.
        let nested = "## [Already Built]\n### detail\n- [ ] old\n";
        assert_eq!(with_section(nested, section), section);
        assert_eq!(with_section("", section), section);
    }
}
