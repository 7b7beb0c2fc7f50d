//! What a run publishes when. Events call for most publications (every event to a webhook;
//! each dispatch commit pushed; the Linear status at requirements and once implementation is
//! done; the pull request marked ready, or told how the run ended, at the end); phase
//! comments go to Linear; the pipeline adds what only it knows (the draft pull request after
//! architecture, a review comment per rejected round, the sign-off's status and sibling
//! cross-reference once merged). Keys make each publication once: an event's id, a commit, a
//! comment's content.

use std::fmt::Write as _;
use std::path::Path;

use baton_core::event::{PhaseChanged, PhaseStatus};
use baton_core::publish::{LinearTarget, PublishPlan, Target};
use baton_core::run::RunStatus;
use baton_core::{Event, Phase};
use sha2::{Digest, Sha256};

use baton_core::Ticket;
use baton_core::plan::Verdict;

use crate::ctx::Ctx;

use super::{Action, Publication, Publisher};
use crate::PipelineError;
use crate::record::Recorder;

/// A short, stable digest of `text`, for keys that follow content.
pub(crate) fn digest(text: &str) -> String {
    baton_llm::context::hex(&Sha256::digest(text.as_bytes())[..6])
}

/// The publications event `id` calls for; `line` is its row as `events.jsonl` has it.
pub(crate) fn for_event(
    publisher: &Publisher,
    folder: &Path,
    id: i64,
    line: &serde_json::Value,
    event: &Event,
) -> Vec<Publication> {
    // Publishing's own events are the outcome of publications: sending them on would never end.
    if matches!(event, Event::PublishSent(_) | Event::PublishFailed(_)) {
        return Vec::new();
    }
    let mut out = vec![Publication::new(
        Target::Webhook,
        format!("event:{id}"),
        Action::Event { body: line.clone() },
    )];
    let plan = &publisher.plan;
    let push = |commit: &str, key: String| {
        Publication::new(
            Target::Github,
            key,
            Action::Push {
                branch: publisher.branch.clone(),
                commit: commit.to_string(),
            },
        )
    };
    match event {
        Event::SubtaskCommitted(committed) => {
            out.push(push(
                &committed.commit,
                format!("push:{}", committed.commit),
            ));
        }
        Event::RunPhase(PhaseChanged {
            phase: Phase::Requirements,
            status: PhaseStatus::Started,
            ..
        }) => {
            out.extend(moved(plan, "in_progress", |linear| &linear.in_progress));
        }
        Event::RunPhase(PhaseChanged {
            phase: Phase::Implementation,
            status: PhaseStatus::Done,
            ..
        }) => {
            out.extend(moved(plan, "in_review", |linear| &linear.in_review));
        }
        Event::RunEnded(ended) => {
            out.push(push("", format!("push:end:{id}")));
            if ended.status == RunStatus::Approved {
                // The final description, written before the run's end is recorded.
                if let Ok(body) = std::fs::read_to_string(folder.join("PR.md")) {
                    out.push(Publication::new(
                        Target::Github,
                        "pr.ready",
                        Action::PrReady { body },
                    ));
                }
            } else {
                let mut body =
                    format!("### Run {}\n**Status:** {}", publisher.branch, ended.status);
                if let Some(why) = &ended.why {
                    let _ = write!(body, "\n**Why:** {why}");
                }
                out.push(Publication::new(
                    Target::Github,
                    format!("ended:{id}"),
                    Action::PrComment { body },
                ));
            }
        }
        _ => {}
    }
    out
}

/// After architecture, for a run that publishes to GitHub: the empty "begin" commit on the
/// run's branch, the branch pushed, and a draft pull request opened with the design, before
/// any code. A run that does not publish there gets no commit.
pub(crate) async fn open_pull_request(
    recorder: &Recorder<'_>,
    worktree: &Path,
    ticket: &Ticket,
    design: &str,
) -> Result<(), PipelineError> {
    let Some(publisher) = recorder.publisher() else {
        return Ok(());
    };
    let Some(github) = &publisher.plan.github else {
        return Ok(());
    };
    let identity = crate::git::identity(worktree).await;
    let commit = crate::git::commit_empty(
        worktree,
        &identity,
        &format!("{}: begin {} (architecture done)", ticket.id, ticket.title),
        &[
            ("Baton-Run".to_string(), recorder.run_id.clone()),
            (
                "Baton-Phase".to_string(),
                Phase::Architecture.as_str().to_string(),
            ),
        ],
    )
    .await?;
    let mut body = format!("## Summary\n{}\n\n", ticket.title);
    if let Some(issue) = github.issue {
        let _ = write!(body, "Closes #{issue}\n\n");
    }
    let _ = write!(
        body,
        "## Design\n{design}\n_Draft opened by Baton run `{}` after architecture, before any code; each dispatch is pushed as it is committed._\n",
        recorder.run_id
    );
    recorder.publish(vec![
        Publication::new(
            Target::Github,
            format!("push:{commit}"),
            Action::Push {
                branch: publisher.branch.clone(),
                commit,
            },
        ),
        Publication::new(
            Target::Github,
            "pr.open",
            Action::PrOpen {
                branch: publisher.branch.clone(),
                title: format!("{}: {}", ticket.id, ticket.title),
                body,
            },
        ),
    ])
}

/// A rejected review round, once its fixes were verified: the workflow's PR review comment
/// (iteration, why it was rejected, what was re-dispatched, how that came out).
pub(crate) fn rejected_round(
    ctx: &Ctx<'_>,
    round: u32,
    verdict: &Verdict,
    passed: bool,
    why: Option<&str>,
) -> Publication {
    let mut reasons: Vec<String> = verdict
        .findings
        .iter()
        .filter(|finding| !finding.passed)
        .map(|finding| format!("{}: {}", finding.check.describe(), finding.note))
        .collect();
    if reasons.is_empty() {
        reasons = verdict.required_fixes.clone();
    }
    let mut body = format!(
        "### Iteration {round}: reviewer feedback\n**Rejected:** {}\n**Re-dispatched:** review fix {round} to {}:\n",
        reasons.join("; "),
        ctx.roles.coder
    );
    for fix in &verdict.required_fixes {
        let _ = writeln!(body, "- {fix}");
    }
    let result = if passed {
        "fixed; the quality gates pass, back to review".to_string()
    } else {
        format!("still failing: {}", why.unwrap_or("verification failed"))
    };
    let _ = write!(body, "**Result:** {result}");
    Publication::new(
        Target::Github,
        format!("review:{round}"),
        Action::PrComment { body },
    )
}

/// Once an approved run is merged: its Linear issue moved to Done, and the sibling
/// cross-reference of what shipped.
pub(crate) fn merged(ctx: &Ctx<'_>, into: &str, commit: &str) -> Vec<Publication> {
    let Some(publisher) = ctx.recorder.publisher() else {
        return Vec::new();
    };
    // The recorder drops the cross-reference of a run that does not publish to Linear.
    let mut out: Vec<Publication> = moved(&publisher.plan, "done", |linear| &linear.done)
        .into_iter()
        .collect();
    out.push(Publication::new(
        Target::Linear,
        "siblings",
        Action::Siblings {
            delivered: ctx.spec.acceptance.clone(),
            attribution: format!(
                "Baton run `{}` ({}), merged into `{into}` at `{}`",
                ctx.run.id,
                ctx.ticket.id,
                &commit[..commit.len().min(12)]
            ),
        },
    ));
    out
}

/// The Linear issue moved to the workflow state `pick` names, as publication `state:KEY`;
/// nothing for a run that does not publish to Linear.
fn moved(plan: &PublishPlan, key: &str, pick: fn(&LinearTarget) -> &String) -> Option<Publication> {
    plan.linear.as_ref().map(|linear| {
        Publication::new(
            Target::Linear,
            format!("state:{key}"),
            Action::State {
                state: pick(linear).clone(),
            },
        )
    })
}

/// The tracker comment of a phase: the workflow's heading, who did it, the phase's comment.
pub(crate) fn for_comment(phase: Phase, agent: &str, body: &str) -> Vec<Publication> {
    let text = format!(
        "## {} Phase {}: {} complete\n**Agent:** {agent}\n\n{body}",
        emoji(phase),
        phase.number(),
        phase.title()
    );
    vec![Publication::new(
        Target::Linear,
        format!("comment:{}:{}", phase.as_str(), digest(&text)),
        Action::Comment { body: text },
    )]
}

fn emoji(phase: Phase) -> &'static str {
    match phase {
        Phase::Requirements => "📋",
        Phase::Architecture => "🏗️",
        Phase::Implementation => "⚙️",
        Phase::Verification => "🧪",
        Phase::Review => "🔍",
        Phase::Signoff => "🏁",
    }
}
