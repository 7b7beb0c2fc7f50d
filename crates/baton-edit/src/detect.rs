//! Telling a reply's format and parsing with it: [`detect`] looks for each format's sign,
//! [`parse`] dispatches to the format's parser, and [`prompt`] hands out each format's
//! instructions (kept next to its parser, so what is asked and what is read cannot drift).
//!
//! Precedence, from the most to the least specific sign: SEARCH/REPLACE markers, or the
//! words `SEARCH` above a fenced block (a SEARCH/REPLACE block may well show a diff or a
//! fenced file in its text), then a diff (a `---`/`+++` pair, or a lone `diff --git` line,
//! followed by `@@`; a diff is often fenced, and its fence may even carry a path), then
//! fenced blocks headed by a path.
//!
//! After the format's parser, what small models copy from the prompt's example is sorted out
//! here, where the context files are known: the example's change echoed before the answer
//! ([`Edit::example`]), and the example's path put on the answer ([`Edit::context_file`]).
//! Whether such a path exists is the applier's to see.

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
///
/// An edit repeating a prompt's example is a problem, unless the reply also holds a real edit
/// and the copy is for another file than `sole_file`: then it stays, marked
/// [`Edit::example`], for the applier to drop. So does an edit for the example's path beside
/// a real edit.
pub fn parse_for(reply: &str, format: Option<EditFormat>, sole_file: Option<&str>) -> Parsed {
    parse_with_context(reply, format, sole_file.as_slice())
}

/// [`parse_for`], knowing every file given to the model as context (paths relative to the
/// root the edits apply under); with exactly one, it is the sole file. An edit for a path
/// that is a context file with the prompt example's directory in front (`src/a.py` for the
/// context file `a.py`), or, with one context file, for the example's own path while its
/// change is not the example, gets that file as its [`Edit::context_file`]: small models
/// copy the example's path onto their answer. The applier edits the context file when the
/// written path does not exist. No edit gets one when another edit of the reply names that
/// context file itself.
pub fn parse_with_context(reply: &str, format: Option<EditFormat>, context: &[&str]) -> Parsed {
    let sole_file = match context {
        [only] => Some(*only),
        _ => None,
    };
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
    sort_out_copied_examples(&mut parsed, context);
    mark_context_files(&mut parsed, context);
    parsed
}

/// The edits of every prompt's example, which small models copy instead of answering.
fn examples() -> &'static [Edit] {
    static EXAMPLES: OnceLock<Vec<Edit>> = OnceLock::new();
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
                parsed.edits
            })
            .collect()
    })
}

/// Whether `kind` is the change of a prompt's example, whatever path it is for.
pub(crate) fn is_example(kind: &EditKind) -> bool {
    examples().iter().any(|example| example.kind == *kind)
}

/// Sorts out the edits that echo a prompt's example: its change (whatever path it names), or,
/// beside another edit, its path. Beside an edit that echoes nothing, one naming another file
/// than the sole file is most often the example echoed before the answer: it stays, marked
/// [`Edit::example`], and the applier, which sees the files, drops it when its file does not
/// exist (and fails it when it does). Any other copy of the example's change is a problem:
/// applying it would write the example over a real file, and a reply of nothing but copies
/// holds no answer. The example's path alone, on the reply's only edit, is the answer
/// mislabelled (see [`parse_with_context`]).
fn sort_out_copied_examples(parsed: &mut Parsed, context: &[&str]) {
    let example_paths: Vec<Vec<&str>> = examples().iter().filter_map(|e| normal(&e.path)).collect();
    let context: Vec<Vec<&str>> = context.iter().filter_map(|file| normal(file)).collect();
    let sole_file = match context.as_slice() {
        [only] => Some(only),
        _ => None,
    };
    let several = parsed.edits.len() > 1;
    for edit in &mut parsed.edits {
        let at_example_path = normal(&edit.path)
            .is_some_and(|path| example_paths.contains(&path) && !context.contains(&path));
        edit.example = is_example(&edit.kind) || (several && at_example_path);
    }
    let answered = parsed.edits.iter().any(|edit| !edit.example);
    let (copied, kept): (Vec<Edit>, Vec<Edit>) = std::mem::take(&mut parsed.edits)
        .into_iter()
        .partition(|edit| {
            is_example(&edit.kind)
                && (!answered
                    || sole_file.is_some_and(|sole| Some(sole) == normal(&edit.path).as_ref()))
        });
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

/// Sets [`Edit::context_file`] where the rule of [`parse_with_context`] names one.
fn mark_context_files(parsed: &mut Parsed, context: &[&str]) {
    let context: Vec<(&str, Vec<&str>)> = context
        .iter()
        .filter_map(|file| Some((*file, normal(file)?)))
        .collect();
    let examples: Vec<Vec<&str>> = examples().iter().filter_map(|e| normal(&e.path)).collect();
    let written: Vec<Option<Vec<&str>>> = parsed.edits.iter().map(|e| normal(&e.path)).collect();
    let marks: Vec<Option<String>> = parsed
        .edits
        .iter()
        .zip(&written)
        .map(|(edit, path)| {
            let path = path.as_ref().filter(|_| !edit.example)?;
            let (file, parts) = meant_file(path, &context, &examples)?;
            let named = written.iter().flatten().any(|other| other == parts);
            (!named).then(|| file.to_string())
        })
        .collect();
    for (edit, mark) in parsed.edits.iter_mut().zip(marks) {
        edit.context_file = mark;
    }
}

/// The context file (as given, and normalized) that the written `path` stands for: the one
/// it is with an example's directory in front, or, with a sole context file, that file when
/// `path` is an example's own path. `None` when `path` is a context file itself, or when
/// several could be meant.
fn meant_file<'c>(
    path: &[&str],
    context: &'c [(&'c str, Vec<&'c str>)],
    examples: &[Vec<&str>],
) -> Option<&'c (&'c str, Vec<&'c str>)> {
    if context.iter().any(|(_, file)| file == path) {
        return None;
    }
    let prefixed: Vec<&(&str, Vec<&str>)> = context
        .iter()
        .filter(|(_, file)| {
            examples.iter().any(|example| {
                let directory = &example[..example.len().saturating_sub(1)];
                !directory.is_empty()
                    && path.len() == directory.len() + file.len()
                    && path.starts_with(directory)
                    && path.ends_with(file)
            })
        })
        .collect();
    match (prefixed.as_slice(), context) {
        ([only], _) => Some(only),
        ([], [sole]) if examples.iter().any(|example| example == path) => Some(sole),
        _ => None,
    }
}

/// `path`'s components as the applier resolves them (`./a.py` is `a.py`); `None` when refused.
fn normal(path: &str) -> Option<Vec<&str>> {
    crate::safety::components(path).ok()
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
    fn an_example_echoed_before_the_answer_stays_an_edit_for_the_applier_to_drop() {
        let echo = "src/greet.py\n```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n```\n\n\
                    solution.py\n```python\ndef add(x, y):\n    return x + y\n```\n";
        let parsed = parse_for(echo, Some(EditFormat::Whole), Some("solution.py"));
        assert_eq!(parsed.problems, vec![]);
        let kept: Vec<(&str, bool)> = parsed
            .edits
            .iter()
            .map(|edit| (edit.path.as_str(), edit.example))
            .collect();
        assert_eq!(kept, vec![("src/greet.py", true), ("solution.py", false)]);
        // Without a sole file the same: the applier knows which files exist.
        assert!(parse_for(echo, Some(EditFormat::Whole), None).is_well_formed());

        // Copied onto the sole file, or with no answer beside it: a problem.
        let onto_sole = parse_for(echo, Some(EditFormat::Whole), Some("./src/greet.py"));
        assert_eq!(onto_sole.edits.len(), 1);
        assert!(
            onto_sole.problems[0]
                .message
                .contains("repeats the example")
        );
        // The example's path beside the answer, whatever its content, is an echo too.
        let junk = echo.replace(
            "def greet(name):\n    return f\"Hello, {name}!\"",
            "obj['x']",
        );
        let parsed = parse_for(&junk, Some(EditFormat::Whole), Some("solution.py"));
        assert_eq!(parsed.problems, vec![]);
        assert!(parsed.edits[0].example && !parsed.edits[1].example);
        let alone = echo.split("\n\n").next().unwrap();
        let parsed = parse_for(alone, Some(EditFormat::Whole), Some("solution.py"));
        assert_eq!(parsed.edits, vec![]);
        assert!(parsed.problems[0].message.contains("repeats the example"));
    }

    #[test]
    fn a_context_file_under_the_examples_directory_or_the_examples_path_names_that_file() {
        let marks = |reply: &str, context: &[&str]| -> Vec<(String, Option<String>)> {
            let parsed = parse_with_context(reply, Some(EditFormat::Whole), context);
            assert_eq!(parsed.problems, vec![], "{reply}");
            parsed
                .edits
                .into_iter()
                .map(|edit| (edit.path, edit.context_file))
                .collect()
        };
        let owned = |path: &str, file: Option<&str>| (path.to_string(), file.map(str::to_string));
        let two = "src/utils.py\n```\nu = 1\n```\nsrc/main.py\n```\nm = 1\n```\n";
        assert_eq!(
            marks(two, &["utils.py", "main.py"]),
            vec![
                owned("src/utils.py", Some("utils.py")),
                owned("src/main.py", Some("main.py"))
            ]
        );
        // The example's path for the answer about the only context file.
        let answer = "src/greet.py\n```python\ndef greet(name, end=\"!\"):\n    pass\n```\n";
        assert_eq!(
            marks(answer, &["greeting.py"]),
            vec![owned("src/greet.py", Some("greeting.py"))]
        );
        // Alone, it is the answer, not an echo.
        let parsed = parse_with_context(answer, Some(EditFormat::Whole), &["greeting.py"]);
        assert!(!parsed.edits[0].example);
        // Not marked: a context file itself, another directory, a context file also named,
        // the example's path with several context files.
        assert_eq!(
            marks(two, &["src/utils.py", "main.py"])[0],
            owned("src/utils.py", None)
        );
        assert_eq!(
            marks("lib/utils.py\n```\nu = 1\n```\n", &["utils.py"]),
            vec![owned("lib/utils.py", None)]
        );
        let both = "src/a.py\n```\nx\n```\na.py\n```\ny\n```\n";
        assert_eq!(
            marks(both, &["a.py"]),
            vec![owned("src/a.py", None), owned("a.py", None)]
        );
        assert_eq!(
            marks(answer, &["greeting.py", "other.py"]),
            vec![owned("src/greet.py", None)]
        );
        // The sole-file rule is parse_for's.
        assert_eq!(
            parse_with_context(
                "```python\nx = 1\n```\n",
                Some(EditFormat::Whole),
                &["a.py"]
            ),
            parse_for(
                "```python\nx = 1\n```\n",
                Some(EditFormat::Whole),
                Some("a.py")
            )
        );
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
