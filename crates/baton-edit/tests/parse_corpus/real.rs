//! Real replies of the rig's models (`tests/corpus/real/<model>/<format>/<task>.md`, collected
//! by `bench/edits_corpus.sh collect` with Baton's own prompts at temperature 0), each parsed
//! the way `dispatch --apply` parses it and compared with its `<task>.expect`: what a person
//! reading the reply sees in it.
//!
//! An `.expect` file starts with `context: a.py[,b.py]` (the files the model was shown; a
//! single one is what a reply naming no file means) and any `note:` lines (why the reply reads
//! as it does); then comes what the reply parses to, one section per edit or problem, each
//! opened by a `%%%` line:
//!
//! ```text
//! parsed-as: whole
//! %%% whole solution.py (line 3)
//! <the file's content>
//! %%% search-replace a.py (line 4)
//! <SEARCH text>
//! %%% replace
//! <REPLACE text>
//! %%% patch a.py (line 1)
//! %%% hunk from line 3
//!  context
//! -removed
//! +added
//! %%% problem (line 7)
//! <the message>
//! ```
//!
//! An edit that repeats a prompt's example says so after its line (`repeats the example`): the
//! applier drops it when its file does not exist; one with a context file names it (`for a.py
//! if missing`): the applier edits that file when the written path does not exist. `BATON_EDIT_CORPUS_BLESS=1` rewrites every
//! `.expect` body from the current parse, keeping the header, for a person to check the diff.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use baton_edit::{EditFormat, EditKind, HunkLine, Parsed, parse_with_context};
use pretty_assertions::assert_eq;

/// The rig's models: the corpus holds replies of each, in each format.
const MODELS: &[&str] = &["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"];

/// The goal for whole-file replies: the share that parse with no problem, per model (for
/// tasks about one file; see the tests at the end).
const WHOLE_WELL_FORMED_GOAL: f64 = 0.98;

struct Reply {
    model: String,
    format: EditFormat,
    task: String,
    text: String,
    expect_path: PathBuf,
    header: Vec<String>,
    body: String,
}

impl Reply {
    fn name(&self) -> String {
        format!("{}/{}/{}", self.model, self.format, self.task)
    }

    /// The context line's files.
    fn context(&self) -> Vec<&str> {
        self.header
            .iter()
            .find_map(|line| line.strip_prefix("context: "))
            .map(|files| files.split(',').collect())
            .unwrap_or_default()
    }

    /// Parsed as `dispatch --apply` parses it, knowing the context files: in the format asked
    /// for, and, when that finds no edit, in the format detected if that parse is well-formed.
    fn parse(&self) -> Parsed {
        let context = self.context();
        let asked = parse_with_context(&self.text, Some(self.format), &context);
        if asked.edits.is_empty() {
            let detected = parse_with_context(&self.text, None, &context);
            if detected.is_well_formed() {
                return detected;
            }
        }
        asked
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/real")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every reply of the corpus with its expectation; panics on a stray file.
fn replies() -> Vec<Reply> {
    let mut found = Vec::new();
    for model_dir in sorted_entries(&root()) {
        let model = file_name(&model_dir);
        assert!(
            MODELS.contains(&model.as_str()),
            "unknown model dir {model}"
        );
        for format_dir in sorted_entries(&model_dir) {
            let format = EditFormat::parse(&file_name(&format_dir))
                .unwrap_or_else(|| panic!("{}: not a format", format_dir.display()));
            for path in sorted_entries(&format_dir) {
                let name = file_name(&path);
                if let Some(task) = name.strip_suffix(".expect") {
                    assert!(
                        format_dir.join(format!("{task}.md")).is_file(),
                        "{} has no reply",
                        path.display()
                    );
                    continue;
                }
                let task = name
                    .strip_suffix(".md")
                    .unwrap_or_else(|| panic!("{}: neither .md nor .expect", path.display()));
                let expect_path = format_dir.join(format!("{task}.expect"));
                let expect = std::fs::read_to_string(&expect_path)
                    .unwrap_or_else(|error| panic!("{}: {error}", expect_path.display()));
                let split = expect.find("parsed-as: ").unwrap_or(expect.len());
                found.push(Reply {
                    model: model.clone(),
                    format,
                    task: task.to_string(),
                    text: std::fs::read_to_string(&path).unwrap(),
                    header: expect[..split].lines().map(str::to_string).collect(),
                    body: expect[split..].to_string(),
                    expect_path,
                });
            }
        }
    }
    found
}

/// `text`'s lines, each ending in `\n`, as the `.expect` format holds them.
fn push_text(out: &mut String, text: &str) {
    for line in text.lines() {
        assert!(
            !line.starts_with("%%%"),
            "a line starting with %%% in {text:?}"
        );
        out.push_str(line);
        out.push('\n');
    }
}

/// What `parsed` holds, in the `.expect` format of the module doc.
fn render(parsed: &Parsed) -> String {
    let mut out = String::new();
    let format = parsed.format.map_or("none".to_string(), |f| f.to_string());
    writeln!(out, "parsed-as: {format}").unwrap();
    for edit in &parsed.edits {
        let mut said = String::new();
        if edit.example {
            said.push_str(" repeats the example");
        }
        if let Some(file) = &edit.context_file {
            said.push_str(&format!(" for {file} if missing"));
        }
        let head = |kind: &str| {
            format!(
                "%%% {kind} {} (line {}){said}\n",
                edit.path, edit.origin.line
            )
        };
        match &edit.kind {
            EditKind::Whole { content } => {
                out.push_str(&head("whole"));
                push_text(&mut out, content);
            }
            EditKind::Create { content } => {
                out.push_str(&head("create"));
                push_text(&mut out, content);
            }
            EditKind::Delete => out.push_str(&head("delete")),
            EditKind::SearchReplace { search, replace } => {
                out.push_str(&head("search-replace"));
                push_text(&mut out, search);
                out.push_str("%%% replace\n");
                push_text(&mut out, replace);
            }
            EditKind::Patch { hunks } => {
                out.push_str(&head("patch"));
                for hunk in hunks {
                    match hunk.old_start_hint {
                        Some(line) => writeln!(out, "%%% hunk from line {line}").unwrap(),
                        None => out.push_str("%%% hunk\n"),
                    }
                    for line in &hunk.lines {
                        let (marker, text) = match line {
                            HunkLine::Context(text) => (' ', text),
                            HunkLine::Remove(text) => ('-', text),
                            HunkLine::Add(text) => ('+', text),
                        };
                        writeln!(out, "{marker}{text}").unwrap();
                    }
                }
            }
        }
    }
    for problem in &parsed.problems {
        writeln!(out, "%%% problem (line {})", problem.line).unwrap();
        push_text(&mut out, &problem.message);
    }
    out
}

#[test]
fn every_real_reply_parses_to_what_a_reader_sees_in_it() {
    let bless = std::env::var_os("BATON_EDIT_CORPUS_BLESS").is_some();
    let replies = replies();
    assert!(!replies.is_empty(), "the real corpus is empty");
    let mut differ = Vec::new();
    for reply in &replies {
        assert!(
            !reply.context().is_empty(),
            "{}: no context line",
            reply.name()
        );
        let rendered = render(&reply.parse());
        if rendered == reply.body {
            continue;
        }
        if bless {
            let header: String = reply
                .header
                .iter()
                .map(|line| format!("{line}\n"))
                .collect();
            std::fs::write(&reply.expect_path, header + &rendered).unwrap();
        } else {
            differ.push((reply.name(), reply.body.clone(), rendered));
        }
    }
    if let Some((name, expected, parsed)) = differ.first() {
        let names: Vec<&String> = differ.iter().map(|(name, ..)| name).collect();
        eprintln!(
            "{} replies differ from their .expect: {names:?}",
            differ.len()
        );
        assert_eq!(expected, parsed, "{name}");
    }
}

#[test]
fn the_real_corpus_holds_every_rig_model_in_every_format() {
    let replies = replies();
    for model in MODELS {
        for format in EditFormat::ALL {
            let count = replies
                .iter()
                .filter(|reply| reply.model == *model && reply.format == format)
                .count();
            assert!(count >= 10, "{model} {format}: only {count} replies");
        }
    }
}

/// The whole-file replies of `model` that are not well-formed whole files, with their parse.
fn malformed_whole(replies: &[Reply], model: &str) -> (usize, Vec<(String, Parsed)>) {
    let whole: Vec<&Reply> = replies
        .iter()
        .filter(|reply| reply.model == model && reply.format == EditFormat::Whole)
        .collect();
    let malformed = whole
        .iter()
        .map(|reply| (reply, reply.parse()))
        .filter(|(_, parsed)| {
            !(parsed.is_well_formed() && parsed.format == Some(EditFormat::Whole))
        })
        .map(|(reply, parsed)| (reply.name(), parsed))
        .collect();
    (whole.len(), malformed)
}

#[test]
fn whole_file_replies_about_one_file_meet_the_well_formed_goal_for_each_rig_model() {
    let replies: Vec<Reply> = replies()
        .into_iter()
        .filter(|reply| reply.context().len() == 1)
        .collect();
    for model in MODELS {
        let (count, malformed) = malformed_whole(&replies, model);
        let share = 1.0 - malformed.len() as f64 / count as f64;
        let names: Vec<&String> = malformed.iter().map(|(name, _)| name).collect();
        assert!(
            share >= WHOLE_WELL_FORMED_GOAL,
            "{model}: {} of {count} whole-file replies malformed: {names:?}",
            malformed.len(),
        );
    }
}

/// The refusals kept on purpose: a reply cut off inside its block (the model ran out of
/// tokens), and code blocks naming no file when several files were shown (which file each
/// is for would be a guess).
#[test]
fn every_malformed_whole_file_reply_was_cut_off_or_names_no_file_among_several() {
    let replies = replies();
    for model in MODELS {
        for (name, parsed) in malformed_whole(&replies, model).1 {
            let several = replies
                .iter()
                .find(|reply| reply.name() == name)
                .is_some_and(|reply| reply.context().len() > 1);
            let on_purpose = parsed.problems.iter().all(|problem| {
                problem.message.contains("is never closed")
                    || (several && problem.message.contains("has no file path"))
            });
            assert!(on_purpose, "{name}: {:?}", parsed.problems);
        }
    }
}
