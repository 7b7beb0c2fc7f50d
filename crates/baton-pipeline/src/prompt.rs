//! The words each role is sent: a coder's subtask (the workflow's good subtask prompt: what,
//! where, interfaces, context, constraints, acceptance), a fix (the trimmed failure and the
//! files involved), the architect's design request and the reviewer's checklist. The files
//! themselves go in as framed context by dispatch, not pasted here.

use baton_core::plan::{Check, Plan, Spec, Subtask};

fn list(title: &str, items: &[String], out: &mut String) {
    if items.is_empty() {
        return;
    }
    out.push_str(title);
    out.push_str(":\n");
    for item in items {
        out.push_str("- ");
        out.push_str(item);
        out.push('\n');
    }
    out.push('\n');
}

/// The spec as the architect, coders and reviewer read it.
pub(crate) fn spec_text(spec: &Spec) -> String {
    let mut out = format!("Goal: {}\n\n", spec.goal);
    list("Acceptance criteria", &spec.acceptance, &mut out);
    list("Scope", &spec.scope, &mut out);
    list("Constraints", &spec.constraints, &mut out);
    out
}

/// Who writes a subtask's files: a model answering with their content, or an agent CLI
/// that edits them itself (its instructions on where and how follow in `agent.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    Model,
    Agent,
}

/// A subtask's prompt. `patterns` are memory hits worth following.
pub(crate) fn subtask(
    spec: &Spec,
    plan: &Plan,
    subtask: &Subtask,
    patterns: &[String],
    writer: Writer,
) -> String {
    let mut out = format!(
        "Subtask {}: {}\n\n{}\n\n",
        subtask.id, subtask.title, subtask.what
    );
    match writer {
        Writer::Model => out.push_str(&format!(
            "Write the complete content of {}: {}.\n\n",
            if subtask.files.len() == 1 {
                "this file"
            } else {
                "these files"
            },
            subtask
                .files
                .iter()
                .map(|file| format!("`{file}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Writer::Agent => {
            list("Files to change or create", &subtask.files, &mut out);
            list("Files to read", &subtask.context, &mut out);
        }
    }
    list(
        "Interfaces (keep these names and signatures)",
        &plan.interfaces,
        &mut out,
    );
    list("Constraints", &subtask.constraints, &mut out);
    list("Done when", &subtask.acceptance, &mut out);
    list("Patterns that worked before", patterns, &mut out);
    out.push_str(&format!("The whole change is for: {}\n", spec.goal));
    if writer == Writer::Model {
        out.push_str(
            "Change only the files named above. Import only what exists in the project or its \
             standard library.\n",
        );
    }
    out
}

/// A fix dispatch: what failed (or what the reviewer asked for) and where.
pub(crate) fn fix(spec: &Spec, plan: &Plan, what_failed: &str, files: &[String]) -> String {
    let mut out = String::from(
        "The change below does not pass yet. Fix it: make the smallest change that makes it \
         pass, keeping the interfaces.\n\n",
    );
    out.push_str(what_failed.trim_end());
    out.push_str("\n\n");
    list("Interfaces", &plan.interfaces, &mut out);
    out.push_str(&format!("The whole change is for: {}\n", spec.goal));
    out.push_str(&format!(
        "You may change these files: {}.\n",
        files
            .iter()
            .map(|file| format!("`{file}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}

/// The architect's request: design the change and break it into subtasks, as JSON.
pub(crate) fn architect(spec: &Spec, files: &[String], problems: Option<&str>) -> String {
    let mut out = String::from(
        "Design this change and break it into subtasks for coders who see only their \
         subtask and the files you list for it.\n\n",
    );
    out.push_str(&spec_text(spec));
    out.push_str("Files in the repository:\n");
    for file in files.iter().take(400) {
        out.push_str(file);
        out.push('\n');
    }
    if files.len() > 400 {
        out.push_str(&format!("[... {} more]\n", files.len() - 400));
    }
    out.push_str(
        "\nAnswer with one JSON object: summary (one line), decisions (design choices and why), \
         interfaces (signatures every subtask must keep), subtasks. Each subtask has id (short, \
         [a-z0-9-]), title, what (the task, stated fully), kind (code, test or docs), files (the \
         files it writes, relative paths; two subtasks may share a file only if one depends on \
         the other), context (files it must read), constraints, acceptance, depends_on (ids). \
         Keep each subtask small: one or two files.\n",
    );
    if let Some(problems) = problems {
        out.push_str("\nYour last answer was not a valid plan: ");
        out.push_str(problems);
        out.push_str("\nAnswer again with a corrected JSON object.\n");
    }
    out
}

/// The reviewer's request: the checklist, spec, plan, diff and verification results.
pub(crate) fn review(
    spec: &Spec,
    plan: &Plan,
    diff: &str,
    verification: &str,
    problems: Option<&str>,
) -> String {
    let mut out = String::from("Review this change against the design and the checklist.\n\n");
    out.push_str(&spec_text(spec));
    out.push_str(&format!("Design: {}\n\n", plan.summary));
    list("Decisions", &plan.decisions, &mut out);
    list("Interfaces", &plan.interfaces, &mut out);
    out.push_str("Checklist (one finding per item):\n");
    for check in Check::ALL {
        out.push_str(&format!("- {}: {}\n", serde_name(check), check.describe()));
    }
    out.push_str("\nVerification:\n");
    out.push_str(verification.trim_end());
    out.push_str("\n\nDiff against the base:\n");
    out.push_str(diff);
    out.push_str(
        "\n\nAnswer with one JSON object: approved (true only when every finding passed), \
         findings (check, passed, note), required_fixes (what must change, one item each; empty \
         when approved).\n",
    );
    if let Some(problems) = problems {
        out.push_str("\nYour last answer was not a valid verdict: ");
        out.push_str(problems);
        out.push_str("\nAnswer again with a corrected JSON object.\n");
    }
    out
}

/// A check's name as the JSON carries it.
fn serde_name(check: Check) -> String {
    serde_json::to_value(check)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}
