//! Telling a reply's format and parsing with it: [`detect`] looks for each format's sign,
//! [`parse`] dispatches to the format's parser, and [`prompt`] hands out each format's
//! instructions (kept next to its parser, so what is asked and what is read cannot drift).
//!
//! Precedence, from the most to the least specific sign: SEARCH/REPLACE markers (a
//! SEARCH/REPLACE block may well show a diff or a fenced file in its text), then a diff (a
//! `---`/`+++` pair followed by `@@`; a diff is often fenced, and its fence may even carry
//! a path), then fenced blocks headed by a path.

use std::sync::OnceLock;

use crate::edit::{Edit, EditFormat, EditKind, ParseProblem, Parsed};
use crate::{search_replace, udiff, whole};

/// The format `reply` is written in, `None` when it holds no edit block of any format.
pub fn detect(reply: &str) -> Option<EditFormat> {
    let text = crate::fence::normalize(reply);
    if search_replace::has_markers(&text) {
        Some(EditFormat::SearchReplace)
    } else if udiff::has_diff(&text) {
        Some(EditFormat::Udiff)
    } else if whole::has_path_headed_block(&text) {
        Some(EditFormat::Whole)
    } else {
        None
    }
}

/// Parses `reply` as `format`, or, when `None`, as the format [`detect`] finds. With no
/// format given and none detected, the result has no edits and one problem saying so.
pub fn parse(reply: &str, format: Option<EditFormat>) -> Parsed {
    parse_for(reply, format, None)
}

/// [`parse`], knowing the one file the reply is about (the only file given to the model as
/// context), which a reply that names no file means, as a person reading it would take it:
/// a whole-file reply whose only code block has no path replaces that file, and
/// SEARCH/REPLACE blocks with no path edit it. Small models often leave the path out when
/// they were shown a single file. A diff always names its files. With no format given, a
/// reply that names no file but holds one code block is taken as a whole file.
pub fn parse_for(reply: &str, format: Option<EditFormat>, sole_file: Option<&str>) -> Parsed {
    let mut parsed = match format.or_else(|| detect(reply)) {
        Some(EditFormat::Whole) => whole::parse_for(reply, sole_file),
        Some(EditFormat::SearchReplace) => search_replace::parse_for(reply, sole_file),
        Some(EditFormat::Udiff) => udiff::parse(reply),
        None => sole_file
            .map(|_| whole::parse_for(reply, sole_file))
            .filter(Parsed::is_well_formed)
            .unwrap_or_else(|| Parsed {
                format: None,
                edits: Vec::new(),
                problems: vec![ParseProblem {
                    line: 1,
                    message: nothing_found(reply),
                }],
            }),
    };
    drop_copied_examples(&mut parsed);
    parsed
}

/// The edits of every prompt's example, which small models copy instead of answering.
fn examples() -> &'static [EditKind] {
    static EXAMPLES: OnceLock<Vec<EditKind>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        EditFormat::ALL
            .into_iter()
            .filter_map(|format| prompt(format).split("Example:").nth(1).map(|e| (format, e)))
            .flat_map(|(format, example)| {
                let parsed = match format {
                    EditFormat::Whole => whole::parse(example),
                    EditFormat::SearchReplace => search_replace::parse(example),
                    EditFormat::Udiff => udiff::parse(example),
                };
                parsed.edits.into_iter().map(|edit| edit.kind)
            })
            .collect()
    })
}

/// Turns edits that repeat a prompt's example (the same change, whatever path it names)
/// into problems: applying one would write the example over a real file.
fn drop_copied_examples(parsed: &mut Parsed) {
    let examples = examples();
    let (copied, kept): (Vec<Edit>, Vec<Edit>) = std::mem::take(&mut parsed.edits)
        .into_iter()
        .partition(|edit| examples.contains(&edit.kind));
    for edit in copied {
        parsed.problems.push(ParseProblem {
            line: edit.origin.line,
            message: format!(
                "The edit at line {} for `{}` repeats the example of the instructions instead \
                 of changing that file. Write the file's real change.",
                edit.origin.line, edit.path
            ),
        });
    }
    parsed.edits = kept;
    parsed.put_in_order();
}

/// The instructions that ask a model to answer in `format` (one source of truth with the
/// parser: each lives next to its parser).
pub fn prompt(format: EditFormat) -> &'static str {
    match format {
        EditFormat::Whole => whole::PROMPT,
        EditFormat::SearchReplace => search_replace::PROMPT,
        EditFormat::Udiff => udiff::PROMPT,
    }
}

fn nothing_found(reply: &str) -> String {
    let text = crate::fence::normalize(reply);
    let lines = crate::fence::split_lines(&text);
    let trimmed = text.trim_start();
    let blocks = crate::fence::blocks(&lines);
    let json = trimmed.starts_with('{')
        || trimmed.starts_with('[')
        || blocks
            .iter()
            .any(|block| block.info.eq_ignore_ascii_case("json"));
    let mut message = "No edits were found in any format (whole files, SEARCH/REPLACE blocks or \
                       a unified diff). The reply must contain the edits themselves, not only \
                       prose."
        .to_string();
    if json {
        message.push_str(" Edits are never read from JSON: write them as plain text.");
    } else if !blocks.is_empty() {
        message.push_str(
            " The reply's code blocks name no file: write each file's path alone on the line \
             just before its block.",
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EditKind;

    #[test]
    fn a_reply_naming_no_file_edits_the_sole_file_when_there_is_one_and_only_then() {
        let whole = "Here you go:\n```python\nprint(2)\n```\n";
        let parsed = parse_for(whole, Some(EditFormat::Whole), Some("app.py"));
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(parsed.edits[0].path, "app.py");
        assert_eq!(
            parsed.edits[0].kind,
            EditKind::Whole {
                content: "print(2)\n".into()
            }
        );
        assert!(!parse(whole, Some(EditFormat::Whole)).is_well_formed());
        // Detected as a whole file only thanks to the sole file.
        assert_eq!(
            parse_for(whole, None, Some("app.py")).format,
            Some(EditFormat::Whole)
        );
        assert_eq!(parse(whole, None).format, None);

        let two = "```python\nprint(1)\n```\n```python\nprint(2)\n```\n";
        assert!(!parse_for(two, Some(EditFormat::Whole), Some("app.py")).is_well_formed());
        let json = "```json\n{\"code\": \"print(2)\"}\n```\n";
        assert!(!parse_for(json, Some(EditFormat::Whole), Some("app.py")).is_well_formed());

        let blocks =
            "```python\n<<<<<<< SEARCH\nprint(1)\n=======\nprint(2)\n>>>>>>> REPLACE\n```\n";
        let parsed = parse_for(blocks, Some(EditFormat::SearchReplace), Some("app.py"));
        assert_eq!(parsed.problems, vec![]);
        assert_eq!(parsed.edits[0].path, "app.py");
        assert!(!parse(blocks, Some(EditFormat::SearchReplace)).is_well_formed());
    }

    #[test]
    fn every_prompt_example_is_detected_as_its_format_and_a_reply_copying_it_is_refused() {
        assert_eq!(examples().len(), EditFormat::ALL.len());
        for format in EditFormat::ALL {
            let example = prompt(format).split("Example:").nth(1).unwrap();
            assert_eq!(detect(example), Some(format));
            let parsed = parse(example, Some(format));
            assert_eq!(parsed.edits, vec![], "{format}");
            assert!(
                parsed.problems[0].message.contains("repeats the example"),
                "{format}: {:?}",
                parsed.problems
            );
        }
        // Copied under another path, or as the sole file's content: still the example.
        let copied = "```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n```\n";
        assert!(!parse_for(copied, Some(EditFormat::Whole), Some("server.rs")).is_well_formed());
    }

    #[test]
    fn each_format_is_detected_by_its_sign() {
        let sr = "a.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n";
        let diff = "```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n```\n";
        let whole = "`a.py`\n```python\nprint(1)\n```\n";
        assert_eq!(detect(sr), Some(EditFormat::SearchReplace));
        assert_eq!(detect(diff), Some(EditFormat::Udiff));
        assert_eq!(detect(whole), Some(EditFormat::Whole));
        assert_eq!(detect("Just prose.\n```sh\nls\n```\n"), None);
    }

    #[test]
    fn markers_win_over_a_diff_and_a_diff_over_path_headed_blocks() {
        let sr_showing_a_diff =
            "p.diff\n<<<<<<< SEARCH\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n=======\n>>>>>>> REPLACE\n";
        assert_eq!(detect(sr_showing_a_diff), Some(EditFormat::SearchReplace));
        let fenced_diff_with_path = "x.rs\n```diff\n--- a/x.rs\n+++ b/x.rs\n@@ @@\n-a\n+b\n```\n";
        assert_eq!(detect(fenced_diff_with_path), Some(EditFormat::Udiff));
    }

    #[test]
    fn nothing_detected_is_one_problem_and_no_format() {
        let parsed = parse("I would change the loop.", None);
        assert_eq!(parsed.format, None);
        assert!(parsed.edits.is_empty());
        assert_eq!(parsed.problems.len(), 1);
        assert!(parsed.problems[0].message.contains("not only prose"));
        let snippet = parse("Change it to:\n```rust\nfn a() {}\n```\n", None);
        assert!(snippet.problems[0].message.contains("name no file"));
    }

    #[test]
    fn a_given_format_is_used_and_reported() {
        let parsed = parse("nothing here", Some(EditFormat::Udiff));
        assert_eq!(parsed.format, Some(EditFormat::Udiff));
        assert_eq!(parsed.problems.len(), 1);
        for format in [
            EditFormat::Whole,
            EditFormat::SearchReplace,
            EditFormat::Udiff,
        ] {
            assert!(!prompt(format).is_empty());
        }
    }
}
