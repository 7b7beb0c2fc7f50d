//! `baton run TICKET [--plan PLAN] [--dry-run] [--review external] [--detach] [--json]`,
//! `baton runs` and `baton show RUN`; `--github N` and `--linear ID` read the ticket from the
//! tracker, `--publish` sends the trail on: the pipeline's front end. Progress goes to stderr as one
//! line per step (or, with `--json`, every event as NDJSON on stdout, then the summary); the
//! exit code says how the run ended. With `--detach` the run's coordinator is a supervised
//! process of its own and the command answers at once with the run and its worker.

use std::io::Write as _;
use std::process::ExitCode;

use baton_core::Event;
use baton_core::event::{PhaseStatus, SubtaskOutcome};
use baton_core::run::RunStatus;
use baton_ops::Project;
use baton_pipeline::{
    DetachedRun, PipelineError, Progress, ReviewMode, RunRequest, RunStarted, RunSummary, Supplied,
};

use crate::cli::{ResumeArgs, ReviewArg, ReviewArgs, RollbackArgs, RunArgs, RunsArgs, ShowArgs};
use crate::error::{CliError, Exit};
use crate::output::Printer;

impl From<PipelineError> for CliError {
    fn from(error: PipelineError) -> Self {
        let exit = Exit::of(error.kind());
        let message = match &error {
            PipelineError::Ops(inner) => inner.message(),
            other => other.to_string(),
        };
        let cli = CliError::new(exit, message);
        match error.hint() {
            Some(hint) => cli.hint(hint),
            None => cli,
        }
    }
}

/// Shows a run as it goes, and remembers its id for an interruption. On a terminal, each
/// piece of work under way (a subtask's dispatch, a gate, a review) has a spinner with its
/// elapsed time, and the steps print above them; elsewhere (a pipe, a log) one line per step.
struct Display {
    json: bool,
    quiet: bool,
    run_id: std::sync::Mutex<Option<String>>,
    live: Option<Live>,
}

struct Live {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl Display {
    fn new(json: bool) -> Display {
        let quiet = crate::output::is_quiet();
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Display {
            json,
            quiet,
            run_id: std::sync::Mutex::new(None),
            live: (terminal && !json && !quiet).then(|| Live {
                multi: indicatif::MultiProgress::with_draw_target(
                    indicatif::ProgressDrawTarget::stderr(),
                ),
                bars: std::sync::Mutex::new(std::collections::HashMap::new()),
            }),
        }
    }

    /// A line on stderr, above the spinners when there are any.
    fn line(&self, text: &str) {
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(format!("baton: {text}"));
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "baton: {text}");
            }
        }
    }
}

impl Progress for Display {
    fn event(&self, run_id: &str, event: &Event) {
        if matches!(event, Event::RunStarted(_) | Event::RunResumed(_)) {
            *self
                .run_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(run_id.to_string());
        }
        if self.json {
            let line = serde_json::json!({
                "kind": event.kind(),
                "version": event.version(),
                "subject": run_id,
                "data": event.data().unwrap_or_default(),
            });
            let _ = writeln!(std::io::stdout().lock(), "{line}");
            return;
        }
        if self.quiet {
            return;
        }
        if let Some(line) = describe(event) {
            self.line(&line);
        }
    }

    fn note(&self, _run_id: &str, text: &str) {
        if !self.json && !self.quiet {
            self.line(text);
        }
    }

    fn working(&self, _run_id: &str, key: &str, what: &str) {
        let Some(live) = &self.live else {
            return;
        };
        let bar = live.multi.add(indicatif::ProgressBar::new_spinner());
        if let Ok(style) = indicatif::ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
        {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Some(old) = live
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_string(), bar)
        {
            old.finish_and_clear();
        }
    }

    fn done(&self, _run_id: &str, key: &str) {
        let Some(live) = &self.live else {
            return;
        };
        let bar = live
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        if let Some(bar) = bar {
            bar.finish_and_clear();
            live.multi.remove(&bar);
        }
    }
}

/// One line for the person watching, for the events worth one.
fn describe(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted(started) => format!(
            "run of {} on branch {} ({})",
            started.ticket_id, started.branch, started.worktree
        ),
        Event::RunPhase(changed) => {
            let status = match changed.status {
                PhaseStatus::Started => "...",
                PhaseStatus::Done => "done",
                PhaseStatus::Failed => "FAILED",
                PhaseStatus::Skipped => "skipped",
            };
            match &changed.note {
                Some(note) => format!("{}: {status} ({note})", changed.phase),
                None => format!("{}: {status}", changed.phase),
            }
        }
        Event::SubtaskDispatched(dispatched) => format!(
            "  {} dispatch {} to {} ({}, {} tokens, {} ms): {}",
            dispatched.subtask,
            dispatched.dispatch,
            dispatched.model,
            dispatched.locality,
            dispatched.prompt_tokens + dispatched.completion_tokens,
            dispatched.latency_ms,
            if dispatched.applied {
                format!("applied to {}", dispatched.files.join(", "))
            } else {
                format!(
                    "not applied: {}",
                    dispatched
                        .feedback
                        .as_deref()
                        .and_then(|text| text.lines().next())
                        .unwrap_or("no edit")
                )
            }
        ),
        Event::SubtaskCommitted(committed) => format!(
            "  {} committed {}",
            committed.subtask,
            &committed.commit[..committed.commit.len().min(10)]
        ),
        Event::SubtaskEnded(ended) => match ended.outcome {
            SubtaskOutcome::Done => format!("  {} done", ended.subtask),
            SubtaskOutcome::Failed => format!(
                "  {} FAILED: {}",
                ended.subtask,
                ended.why.as_deref().unwrap_or("")
            ),
        },
        Event::VerifyRan(ran) => format!(
            "  {} `{}`: {} ({} ms)",
            ran.gate.as_str(),
            ran.command,
            if ran.passed { "passed" } else { "FAILED" },
            ran.duration_ms
        ),
        Event::RunResumed(resumed) => format!(
            "resumed (it was {}); done: {}",
            resumed.from,
            if resumed.done.is_empty() {
                "nothing yet".to_string()
            } else {
                resumed.done.join(", ")
            }
        ),
        Event::RunEscalated(escalated) => format!(
            "  escalating from {} to {}: {}",
            escalated.from, escalated.to, escalated.why
        ),
        Event::ReviewVerdict(review) => format!(
            "  review round {}: {}",
            review.round,
            if review.verdict.approved {
                "approved".to_string()
            } else {
                format!("rejected ({})", review.verdict.required_fixes.join("; "))
            }
        ),
        _ => return None,
    })
}

pub async fn run(project: &Project, args: RunArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let budget = baton_core::event::RunBudget {
        max_cloud_tokens: args.max_cloud_tokens,
        max_iterations: args.max_iterations,
        timeout_ms: args
            .timeout
            .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
    };
    let publish = baton_pipeline::publish::PublishAsk {
        targets: args.publish.map(|targets| vec![targets]),
        github_issue: args.github,
        linear_issue: args.linear.clone(),
    };
    let ticket = match (args.ticket, args.github, &args.linear) {
        (Some(path), _, _) => path,
        (None, Some(number), _) => {
            baton_pipeline::publish::tracker::github_ticket(project, number).await?
        }
        (None, None, Some(id)) => {
            baton_pipeline::publish::tracker::linear_ticket(project, id).await?
        }
        (None, None, None) => {
            return Err(CliError::new(Exit::Usage, "a run needs a ticket")
                .hint("give TICKET.md, or the issue it is read from: --github N or --linear ID"));
        }
    };
    if args.detach {
        let run = DetachedRun {
            ticket: Supplied::Path(ticket),
            plan: args.plan.map(Supplied::Path),
            review: review_mode(args.review),
            merge: args.merge,
            budget,
            publish,
        };
        let started = baton_pipeline::start_detached(project, run).await?;
        if printer.is_json() {
            printer.json(&started)?;
        } else {
            printer.text(render_started(&started))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let request = RunRequest {
        id: args.run_id,
        ticket,
        plan: args.plan,
        dry_run: args.dry_run,
        review: review_mode(args.review),
        merge: args.merge,
        budget,
        publish,
    };
    let display = Display::new(args.json);
    let summary = until_stopped(
        project,
        &display,
        baton_pipeline::start(project, &request, &display),
    )
    .await?;
    finish(printer, &summary)
}

pub async fn resume(project: &Project, args: ResumeArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let review = review_mode(args.review);
    let display = Display::new(args.json);
    let summary = until_stopped(
        project,
        &display,
        baton_pipeline::resume(project, &args.run, review, &display),
    )
    .await?;
    finish(printer, &summary)
}

pub async fn review(project: &Project, args: ReviewArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let decision = match args.reject {
        Some(notes) => baton_pipeline::Decision::Reject(notes),
        None => baton_pipeline::Decision::Approve,
    };
    let display = Display::new(args.json);
    let summary = until_stopped(
        project,
        &display,
        baton_pipeline::review(project, &args.run, decision, &display),
    )
    .await?;
    finish(printer, &summary)
}

/// Drives `run` until it ends, or until Ctrl-C or SIGTERM: then its future is dropped (its
/// model requests cancelled, its git and gate commands killed with their process groups; the
/// commits made stay) and the run is marked interrupted.
async fn until_stopped(
    project: &Project,
    display: &Display,
    run: impl std::future::Future<Output = Result<RunSummary, PipelineError>>,
) -> Result<RunSummary, CliError> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|error| {
        CliError::new(Exit::Internal, format!("cannot handle signals: {error}"))
            .hint("the run needs a SIGTERM handler to stop cleanly; check the process's limits")
    })?;
    let why = tokio::select! {
        summary = run => return Ok(summary?),
        _ = tokio::signal::ctrl_c() => "stopped by Ctrl-C",
        _ = terminate.recv() => "stopped by SIGTERM",
    };
    let run_id = display
        .run_id
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let Some(run_id) = run_id else {
        return Err(
            CliError::new(Exit::RunInterrupted, format!("{why} before the run began"))
                .hint("nothing was created; run it again"),
        );
    };
    baton_pipeline::mark_interrupted(project, &run_id, why)?;
    Err(CliError::new(
        Exit::RunInterrupted,
        format!("run {run_id} {why}; its commits are on its branch"),
    )
    .hint(format!(
        "`baton resume {run_id}` continues it; `baton rollback {run_id}` removes it"
    )))
}

fn review_mode(review: ReviewArg) -> ReviewMode {
    match review {
        ReviewArg::Model => ReviewMode::Model,
        ReviewArg::External => ReviewMode::External,
    }
}

/// Prints a run's summary (JSON, or a few lines) and returns the exit code of its status.
fn finish(printer: Printer, summary: &RunSummary) -> Result<ExitCode, CliError> {
    if printer.is_json() {
        printer.json(summary)?;
    } else {
        printer.text(render(summary))?;
    }
    Ok(exit_for(summary))
}

fn exit_for(summary: &RunSummary) -> ExitCode {
    let exit = match summary.run.as_ref().map(|run| run.status) {
        None | Some(RunStatus::Approved | RunStatus::AwaitingReview | RunStatus::Running) => {
            return ExitCode::SUCCESS;
        }
        Some(RunStatus::Rejected) => Exit::RunRejected,
        Some(RunStatus::VerifyFailed) => Exit::RunVerifyFailed,
        Some(RunStatus::BudgetExhausted) => Exit::RunBudgetExhausted,
        Some(RunStatus::Interrupted) => Exit::RunInterrupted,
        Some(RunStatus::Failed) => Exit::RunFailed,
    };
    ExitCode::from(exit as u8)
}

/// A detached start in two lines: the run and its worker, then where to follow it.
fn render_started(started: &RunStarted) -> String {
    let recorded = match started.status {
        Some(status) => format!(" ({status})"),
        None => " (drawing up its spec; recorded once that is done)".to_string(),
    };
    format!(
        "run {run} started{recorded}, worker {worker}\nfollow it with `baton show {run}`; its log: {log}",
        run = started.run,
        worker = started.worker,
        log = started.log
    )
}

fn render(summary: &RunSummary) -> String {
    let Some(run) = &summary.run else {
        // A dry run: the plan is the output.
        return serde_json::to_string_pretty(&summary.plan).unwrap_or_default();
    };
    let mut out = format!("run {}: {}", run.id, run.status);
    if let Some(why) = &run.why {
        out.push_str(&format!(" ({why})"));
    }
    out.push_str(&format!(
        "\nbranch {} ({} commits), worktree {}",
        run.branch,
        summary.commits.len(),
        run.worktree
    ));
    if let Some(pr) = &summary.pr {
        out.push_str(&format!("\nPR description: {pr}"));
    }
    out
}

pub async fn runs(project: &Project, args: RunsArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let runs = baton_pipeline::runs(project, args.limit).await?;
    if printer.is_json() {
        printer.json(&runs)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = crate::output::table(["id", "status", "ticket", "title", "branch"]);
    for run in &runs {
        table.add_row([
            run.id.clone(),
            run.status.to_string(),
            run.ticket_id.clone(),
            run.title.clone(),
            run.branch.clone(),
        ]);
    }
    printer.text(table)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn show(project: &Project, args: ShowArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let view = baton_pipeline::show(project, &args.run).await?;
    if printer.is_json() {
        printer.json(&view)?;
        return Ok(ExitCode::SUCCESS);
    }
    let run = &view.run;
    let mut out = format!(
        "run {}: {}{}\nticket {} ({})\nbranch {} from {}\nworktree {}\nfolder {}\n",
        run.id,
        run.status,
        run.why
            .as_deref()
            .map(|why| format!(" ({why})"))
            .unwrap_or_default(),
        run.ticket_id,
        run.title,
        run.branch,
        &run.base_commit[..run.base_commit.len().min(12)],
        run.worktree,
        view.folder
    );
    for name in &view.reports {
        out.push_str(&format!("  {name}\n"));
    }
    out.push_str(&format!("{} events:\n", view.events.len()));
    for row in &view.events {
        let line = describe(&row.event).unwrap_or_else(|| row.kind().to_string());
        out.push_str(&format!("  {line}\n"));
    }
    printer.text(out.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

pub async fn rollback(project: &Project, args: RollbackArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let done = baton_pipeline::rollback(project, &args.run, args.force).await?;
    if printer.is_json() {
        printer.json(&done)?;
    } else {
        let mut out = format!("rolled back run {}:", done.run_id);
        out.push_str(if done.worktree_removed {
            " worktree removed"
        } else {
            " no worktree left"
        });
        match (&done.branch_tip, done.branch_deleted) {
            (Some(tip), true) => out.push_str(&format!(
                ", branch {} deleted (it was at {tip}; `git branch {} {tip}` brings it back)",
                done.branch, done.branch
            )),
            (Some(tip), false) if done.revert_branch.is_some() => out.push_str(&format!(
                ", it was merged: its commits (up to {tip}) are reverted on {} at {}; `git merge --ff-only {}` undoes the run",
                done.revert_branch.as_deref().unwrap_or(""),
                done.revert_commit.as_deref().unwrap_or(""),
                done.revert_branch.as_deref().unwrap_or(""),
            )),
            _ => out.push_str(", no branch left"),
        }
        printer.text(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
