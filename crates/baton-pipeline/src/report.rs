//! The run's written trail under `.baton/runs/RUN/`: one markdown comment per phase (the
//! workflow's tracker comments), `PR.md` (summary, `Closes ID`, the pipeline trail table,
//! design decisions, changes per file, acceptance criteria, token efficiency from the
//! ledger) and `report.md` (everything, for a person reading the run later).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use baton_core::plan::{Plan, Spec, Verdict};
use baton_core::run::{RunRecord, RunStatus};
use baton_core::{Event, Locality, Phase};
use baton_store::{RunRole, RunUsage};

use crate::ctx::Ctx;
use crate::{PipelineError, git};
use baton_core::event::VerifyRan;

fn write(path: &Path, text: &str) -> Result<(), PipelineError> {
    // Written whole to a temporary file and renamed: a reader never sees half a report.
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| PipelineError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes `NN-phase.md` (a later round of the same phase replaces it), saying which `agent`
/// did the phase.
pub(crate) fn phase_comment(
    folder: &Path,
    phase: Phase,
    agent: &str,
    body: &str,
) -> Result<(), PipelineError> {
    let path = folder.join(format!("{:02}-{}.md", phase.number(), phase.as_str()));
    let text = format!(
        "## Phase {}: {}\n**Agent:** {agent}\n\n{body}",
        phase.number(),
        phase.title()
    );
    write(&path, &text)
}

/// `heading`, then one `- item` line per item (as `show` writes it); nothing at all for no
/// items. Whether anything was written.
fn bullets(out: &mut String, heading: &str, items: &[String], show: fn(&str) -> String) -> bool {
    if items.is_empty() {
        return false;
    }
    out.push_str(heading);
    for item in items {
        let _ = writeln!(out, "- {}", show(item));
    }
    true
}

fn checklist(items: &[String], checked: bool) -> String {
    let mark = if checked { "x" } else { " " };
    items
        .iter()
        .map(|item| format!("- [{mark}] {item}\n"))
        .collect()
}

pub(crate) fn requirements(spec: &Spec) -> String {
    let mut out = format!("**Goal:** {}\n\n**Acceptance criteria:**\n", spec.goal);
    out.push_str(&checklist(&spec.acceptance, false));
    if !spec.scope.is_empty() {
        let _ = writeln!(out, "\n**Scope:** {}", spec.scope.join("; "));
    }
    if !spec.constraints.is_empty() {
        let _ = writeln!(out, "**Constraints:** {}", spec.constraints.join("; "));
    }
    out
}

pub(crate) fn architecture(plan: &Plan) -> String {
    let mut out = format!("**Design:** {}\n\n", plan.summary);
    if bullets(&mut out, "**Decisions:**\n", &plan.decisions, |item| {
        item.to_string()
    }) {
        out.push('\n');
    }
    out.push_str("**Subtasks:**\n");
    for (i, subtask) in plan.subtasks.iter().enumerate() {
        let depends = if subtask.depends_on.is_empty() {
            String::new()
        } else {
            format!(" (after {})", subtask.depends_on.join(", "))
        };
        let _ = writeln!(
            out,
            "{}. `{}` {}: {}{depends}",
            i + 1,
            subtask.files.join("`, `"),
            subtask.id,
            subtask.title
        );
    }
    bullets(&mut out, "\n**Interfaces:**\n", &plan.interfaces, |item| {
        format!("`{item}`")
    });
    out
}

pub(crate) async fn implementation(ctx: &Ctx<'_>) -> Result<String, PipelineError> {
    let files = git::changed_files(&ctx.worktree, &ctx.run.base_commit).await?;
    let commits = git::commits_since(&ctx.worktree, &ctx.run.base_commit).await?;
    let mut out = String::from("**Files created or modified:**\n");
    if files.is_empty() {
        out.push_str("- none\n");
    }
    for (file, added, removed) in &files {
        let _ = writeln!(out, "- `{file}` (+{added} -{removed})");
    }
    let _ = writeln!(out, "\n**Commits:** {}", commits.len());
    for (sha, subject) in &commits {
        let _ = writeln!(out, "- `{}` {subject}", &sha[..sha.len().min(10)]);
    }
    Ok(out)
}

pub(crate) fn verification(results: &[VerifyRan]) -> String {
    if results.is_empty() {
        return "No quality gate to run (none configured, none detected).\n".into();
    }
    let mut out = String::new();
    for result in results {
        let _ = writeln!(
            out,
            "- {}: `{}` {} ({} ms)",
            result.gate.as_str(),
            result.command,
            if result.passed { "passed" } else { "FAILED" },
            result.duration_ms
        );
    }
    if let Some(failed) = results.iter().find(|result| !result.passed) {
        let _ = write!(out, "\n```\n{}\n```\n", failed.output.trim_end());
    }
    out
}

pub(crate) fn review(round: u32, verdict: &Verdict) -> String {
    let mut out = format!(
        "**Round {round} verdict:** {}\n\n**Findings:**\n",
        if verdict.approved {
            "APPROVED"
        } else {
            "REJECTED"
        }
    );
    for finding in &verdict.findings {
        let _ = writeln!(
            out,
            "- [{}] {}: {}",
            if finding.passed { "x" } else { " " },
            finding.check.describe(),
            finding.note
        );
    }
    bullets(
        &mut out,
        "\n**Required fixes:**\n",
        &verdict.required_fixes,
        |item| item.to_string(),
    );
    out
}

/// The sign-off: how the run ended, where its branch went, the acceptance criteria checked
/// off (by an approving review) or still open, and why, when it did not succeed.
pub(crate) fn signoff(ctx: &Ctx<'_>, run: &RunRecord, merged: Option<&(String, String)>) -> String {
    let approved = run.status == RunStatus::Approved;
    let mut out = format!("**Status:** {}\n", run.status);
    match merged {
        Some((into, commit)) => {
            let _ = writeln!(
                out,
                "**Branch:** `{}`, merged into `{into}` at `{}`",
                run.branch,
                &commit[..commit.len().min(12)]
            );
        }
        None => {
            let _ = writeln!(out, "**Branch:** `{}`", run.branch);
        }
    }
    out.push_str("\n**Acceptance criteria:**\n");
    for criterion in &ctx.spec.acceptance {
        if approved {
            let _ = writeln!(out, "- [x] {criterion} (verified by the review)");
        } else {
            let _ = writeln!(out, "- [ ] {criterion}");
        }
    }
    if let Some(why) = &run.why {
        let _ = writeln!(out, "\n**Notes:** {why}");
    }
    out
}

/// Tokens of a role's rows, split local and cloud.
#[derive(Default)]
struct Split {
    local: u64,
    cloud: u64,
    cost: f64,
    avoided: f64,
}

fn split(usage: &[RunUsage]) -> Split {
    let mut split = Split::default();
    for row in usage {
        let tokens = row.prompt_tokens + row.completion_tokens;
        match row.locality {
            Locality::Local => split.local += tokens,
            Locality::Cloud => split.cloud += tokens,
        }
        split.cost += row.cost_usd;
        split.avoided += row.avoided_usd;
    }
    split
}

/// One role's part of the ledger, for a row of the trail.
struct RoleLine {
    models: String,
    backends: String,
    locality: &'static str,
    tokens: u64,
    latency_ms: u64,
    attempts: u64,
}

fn role_line(usage: &[RunUsage], role: RunRole) -> RoleLine {
    let rows: Vec<&RunUsage> = usage.iter().filter(|row| row.role == role).collect();
    let mut models: Vec<&str> = rows.iter().map(|row| row.model.as_str()).collect();
    models.dedup();
    let mut backends: Vec<&str> = rows.iter().map(|row| row.backend.as_str()).collect();
    backends.dedup();
    let locality = if rows.is_empty() {
        "-"
    } else if rows.iter().all(|row| row.locality == Locality::Local) {
        "local"
    } else if rows.iter().all(|row| row.locality == Locality::Cloud) {
        "cloud"
    } else {
        "mixed"
    };
    RoleLine {
        models: if models.is_empty() {
            "-".into()
        } else {
            models.join(", ")
        },
        backends: if backends.is_empty() {
            "-".into()
        } else {
            backends.join(", ")
        },
        locality,
        tokens: rows
            .iter()
            .map(|row| row.prompt_tokens + row.completion_tokens)
            .sum(),
        latency_ms: rows.iter().map(|row| row.latency_ms).sum(),
        attempts: rows.iter().map(|row| row.calls).sum(),
    }
}

/// Writes `PR.md` and `report.md`; returns the path of `PR.md`.
pub(crate) async fn write_reports(
    ctx: &Ctx<'_>,
    run: &RunRecord,
    verdict: Option<&Verdict>,
    commits: &[(String, String)],
) -> Result<PathBuf, PipelineError> {
    let usage = ctx.project.store()?.run_usage(&run.id)?;
    let files = git::changed_files(&ctx.worktree, &run.base_commit).await?;
    let approved = run.status == RunStatus::Approved;
    let mut pr = format!(
        "## Summary\n{}\n\nCloses {}\n\n",
        ctx.plan.summary, run.ticket_id
    );
    let events = ctx.project.store()?.events_of(&run.id)?;
    let fixes = events
        .iter()
        .filter(|row| {
            matches!(&row.event, Event::SubtaskDispatched(d)
                if d.attempt == 1 && (d.subtask.starts_with("fix-") || d.subtask.starts_with("review-")))
        })
        .count();
    let rounds = events
        .iter()
        .filter(|row| matches!(row.event, Event::ReviewVerdict(_)))
        .count();
    pr.push_str("## Pipeline trail\n");
    pr.push_str("| Phase | Role | Model | Backend | Local/cloud | Tokens | Latency | Attempts | Iterations | Verdict | Commits |\n");
    pr.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let verdict_text = match verdict {
        Some(verdict) if verdict.approved => "approved",
        Some(_) => "rejected",
        None => "not reviewed",
    };
    let phases: [(&str, Option<RunRole>, String, String, String); 5] = [
        (
            "1. Requirements",
            Some(RunRole::Orchestrator),
            "-".into(),
            crate::plural(ctx.spec.acceptance.len(), "criterion", "criteria"),
            "-".into(),
        ),
        (
            "2. Architecture",
            Some(RunRole::Architect),
            "-".into(),
            crate::plural(ctx.plan.subtasks.len(), "subtask", "subtasks"),
            "-".into(),
        ),
        (
            "3. Implementation",
            Some(RunRole::Coder),
            format!("{fixes} fixes"),
            crate::plural(files.len(), "file", "files"),
            commits.len().to_string(),
        ),
        (
            "4. Review",
            Some(RunRole::Reviewer),
            crate::plural(rounds, "round", "rounds"),
            verdict_text.into(),
            "-".into(),
        ),
        (
            "5. Sign-off",
            None,
            "-".into(),
            run.status.to_string(),
            "-".into(),
        ),
    ];
    for (phase, role, iterations, result, commit_count) in phases {
        let line = match role {
            Some(role) => role_line(&usage, role),
            None => role_line(&[], RunRole::Orchestrator),
        };
        let given = role.is_some() && line.attempts == 0;
        let _ = writeln!(
            pr,
            "| {phase} | {} | {} | {} | {} | {} | {} ms | {} | {iterations} | {result} | {commit_count} |",
            role.map_or("-", RunRole::as_str),
            if given { "given" } else { line.models.as_str() },
            line.backends,
            line.locality,
            line.tokens,
            line.latency_ms,
            line.attempts,
        );
    }
    bullets(
        &mut pr,
        "\n## Design decisions\n",
        &ctx.plan.decisions,
        |item| item.to_string(),
    );
    pr.push_str("\n## Changes\n");
    for (file, added, removed) in &files {
        let _ = writeln!(pr, "- `{file}` (+{added} -{removed})");
    }
    pr.push_str("\n## Acceptance criteria\n");
    pr.push_str(&checklist(&ctx.spec.acceptance, approved));
    let split = split(&usage);
    let total = split.local + split.cloud;
    let share = if total == 0 {
        0.0
    } else {
        100.0 * split.local as f64 / total as f64
    };
    let _ = write!(
        pr,
        "\n## Token efficiency\n- Local tokens: {} ({share:.1}%)\n- Cloud tokens: {}\n- Cloud cost: ${:.4}; cost avoided by local models: ${:.4}\n",
        split.local, split.cloud, split.cost, split.avoided
    );
    let pr_path = ctx.folder.join("PR.md");
    write(&pr_path, &pr)?;

    let mut report = format!(
        "# Run {}\n\nTicket: {} ({})\nStatus: {}{}\nBranch: `{}` from `{}`\nWorktree: {}\n\n",
        run.id,
        run.ticket_id,
        run.title,
        run.status,
        run.why
            .as_deref()
            .map(|why| format!(" ({why})"))
            .unwrap_or_default(),
        run.branch,
        &run.base_commit[..run.base_commit.len().min(12)],
        run.worktree
    );
    report.push_str("## Ledger\n| Role | Profile | Backend | Model | Locality | Calls | Prompt | Completion | Latency |\n|---|---|---|---|---|---|---|---|---|\n");
    for row in &usage {
        let _ = writeln!(
            report,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} ms |",
            row.role.as_str(),
            row.profile,
            row.backend,
            row.model,
            row.locality,
            row.calls,
            row.prompt_tokens,
            row.completion_tokens,
            row.latency_ms
        );
    }
    report.push_str("\n## Commits\n");
    for (sha, subject) in commits {
        let _ = writeln!(report, "- `{}` {subject}", &sha[..sha.len().min(10)]);
    }
    report.push_str("\n## Plan\n");
    report.push_str(&architecture(&ctx.plan));
    if let Some(verdict) = verdict {
        report.push_str("\n## Last verdict\n");
        report.push_str(&review(0, verdict));
    }
    write(&ctx.folder.join("report.md"), &report)?;
    Ok(pr_path)
}
