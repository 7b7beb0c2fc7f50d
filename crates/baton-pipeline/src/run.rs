//! One run, phase by phase (DESIGN.md section 8): the run's request and summary, its start
//! (the worktree, the row, requirements and architecture from `intake.rs`), and the loop of
//! implementation, verification (`fix.rs`) and review until sign-off (`signoff.rs`). Each
//! phase is recorded as events and written as a phase comment under `.baton/runs/RUN/`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

use baton_core::event::{
    PhaseChanged, PhaseStatus, PlanMade, ReviewVerdict, RunStarted, Source, SpecDrawn,
};
use baton_core::plan::{Plan, Spec, Verdict};
use baton_core::run::{RunRecord, RunStatus};
use baton_core::{Event, Phase};
use baton_ops::Project;
use baton_store::RunRole;
use serde::Serialize;

use crate::agent_answer::Seat;
use crate::answer::{By, Question, Tag, ask};
use crate::ctx::Ctx;
use crate::fix::{review_fix, verify_and_fix};
use crate::implement::implement;
use crate::intake::{Intake, architect, intake, join, plan_from_scope, requirements};
use crate::record::{Progress, Recorder};
pub(crate) use crate::signoff::{finish, record_failure};
use crate::{PipelineError, git, prompt, report, roles};
use baton_core::event::VerifyRan;

/// Bytes of the diff a reviewer is sent.
const REVIEW_DIFF_BYTES: usize = 60_000;

/// How the run is reviewed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewMode {
    /// The reviewer role's model.
    #[default]
    Model,
    /// Stop in `awaiting_review` for a person or the driving agent.
    External,
}

impl ReviewMode {
    /// As the command line and the MCP tools spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewMode::Model => "model",
            ReviewMode::External => "external",
        }
    }
}

/// A run to start.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The run's id, chosen by the caller (a detached start names the run before its
    /// coordinator records it); `None`: a fresh one. Checked by [`check_run_id`].
    pub id: Option<String>,
    pub ticket: PathBuf,
    /// A plan in JSON or TOML that replaces the architecture phase.
    pub plan: Option<PathBuf>,
    /// Stop after the plan is made and checked.
    pub dry_run: bool,
    pub review: ReviewMode,
    /// Cloud tokens, fix iterations and wall time the run may take (resumes included).
    pub budget: baton_core::event::RunBudget,
    /// Fast-forward the branch the run started from once it is approved.
    pub merge: bool,
    /// Where the run's trail is published.
    pub publish: crate::publish::PublishAsk,
}

/// What a run came to: the one shape `baton run --json` ends with, and the MCP and web API
/// will print.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// `None` for a dry run (nothing was created).
    pub run: Option<RunRecord>,
    pub spec: Spec,
    pub plan: Plan,
    pub verdict: Option<Verdict>,
    /// The run folder (`.baton/runs/RUN/`) and its PR description.
    pub folder: Option<String>,
    pub pr: Option<String>,
    pub commits: Vec<(String, String)>,
}

/// A sortable, short run id: `YYYYMMDD-HHMMSS-xxxx`.
pub(crate) fn new_run_id() -> String {
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{}-{}",
        now.strftime("%Y%m%d-%H%M%S"),
        &suffix[suffix.len() - 4..]
    )
}

/// Most characters a run id given by the caller may have.
const MAX_RUN_ID_LEN: usize = 64;

/// Checks a run id given by the caller: it names a branch (`baton/ID`), a worktree and a run
/// folder, so it is ASCII letters, digits and `-` (as the `YYYYMMDD-HHMMSS-xxxx` ids Baton
/// makes), starting with a letter or digit, at most 64 characters.
pub fn check_run_id(id: &str) -> Result<(), PipelineError> {
    let why = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > MAX_RUN_ID_LEN {
        Some("it is longer than 64 characters")
    } else if !id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("it must start with a letter or a digit")
    } else if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("it may hold only ASCII letters, digits and `-`")
    } else {
        None
    };
    match why {
        Some(why) => Err(PipelineError::BadRunId {
            id: id.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// The repository's `.baton/`, with an ignore file of its own, so that the user's
/// `git status` never lists Baton's files (store, worktrees, run folders).
pub(crate) fn baton_dir(repo: &Path) -> Result<PathBuf, PipelineError> {
    let dir = repo.join(".baton");
    std::fs::create_dir_all(&dir).map_err(|source| PipelineError::Write {
        path: dir.clone(),
        source,
    })?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n").map_err(|source| PipelineError::Write {
            path: ignore.clone(),
            source,
        })?;
    }
    Ok(dir)
}

/// Starts a run and takes it as far as it goes; see the module documentation.
pub async fn start(
    project: &Project,
    request: &RunRequest,
    progress: &dyn Progress,
) -> Result<RunSummary, PipelineError> {
    if let Some(id) = &request.id {
        check_run_id(id)?;
        if project.store()?.run(id)?.is_some_and(|run| run.id == *id) {
            return Err(PipelineError::RunIdTaken { id: id.clone() });
        }
    }
    let Intake {
        ticket_path,
        ticket,
        given_plan,
        repo,
        base,
        tracked,
    } = intake(project, &request.ticket, request.plan.as_deref()).await?;
    let settings = project.settings()?;
    let roles = roles::resolve(&settings, project.env())?;
    let (spec, spec_source, spec_requests) =
        requirements(project, &roles, &ticket, settings.run.max_plan_attempts).await?;
    let baton_dir = baton_dir(&repo)?;
    let worktrees = baton_dir.join("worktrees");

    if request.dry_run {
        let plan = match given_plan {
            Some(plan) => plan,
            None => {
                let by = architect_by(project, &roles, &repo, worktrees, &base, None);
                match architect(
                    &by,
                    &roles.architect,
                    &spec,
                    &tracked,
                    settings.run.max_plan_attempts,
                )
                .await
                {
                    Ok((plan, _)) => plan,
                    Err(PipelineError::NoValidPlan { attempts, problems }) => {
                        plan_from_scope(&ticket, &spec, &tracked)
                            .ok_or(PipelineError::NoValidPlan { attempts, problems })?
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        return Ok(RunSummary {
            run: None,
            spec,
            plan,
            verdict: None,
            folder: None,
            pr: None,
            commits: Vec::new(),
        });
    }

    // The run's row, branch and worktree.
    let id = request.id.clone().unwrap_or_else(new_run_id);
    let worktree = worktrees.join(&id);
    let base_branch = git::current_branch(&repo).await;
    let branch = format!("baton/{id}");
    let publish = crate::publish::resolve(
        &settings.publish,
        &request.publish,
        &ticket.id,
        base_branch.as_deref(),
    )?;
    git::add_worktree(&repo, &worktree, &branch, &base).await?;
    let now = baton_core::now_ms();
    let run = RunRecord {
        id: id.clone(),
        ticket_id: ticket.id.clone(),
        title: ticket.title.clone(),
        ticket_path: ticket_path.to_string_lossy().into_owned(),
        status: RunStatus::Running,
        why: None,
        repo: repo.to_string_lossy().into_owned(),
        base_commit: base.clone(),
        branch: branch.clone(),
        worktree: worktree.to_string_lossy().into_owned(),
        created_at_ms: now,
        updated_at_ms: now,
    };
    let folder = baton_dir.join("runs").join(&id);
    let recorder =
        Recorder::open(project, &id, &folder, progress)?.with_publish(publish.clone(), &branch);
    project.store()?.insert_run(
        &run,
        &Event::RunStarted(RunStarted {
            ticket_id: run.ticket_id.clone(),
            title: run.title.clone(),
            ticket_path: run.ticket_path.clone(),
            base_commit: base.clone(),
            branch: branch.clone(),
            worktree: run.worktree.clone(),
            base_branch: base_branch.clone(),
            merge: request.merge,
            publish,
        }),
    )?;
    recorder.mirror_latest()?;
    // Everything from here on runs with the run's publisher beside it.
    let beside = recorder.clone();
    let work = async move {
        // The orchestrator answered before the run existed: its requests join the run now.
        for request_id in &spec_requests {
            project.store()?.tag_run_request(
                request_id,
                &id,
                None,
                RunRole::Orchestrator,
                Phase::Requirements.as_str(),
            )?;
        }
        if request.budget != baton_core::event::RunBudget::default() {
            recorder.record(Event::RunBudgetSet(request.budget.clone()))?;
        }

        let phase = |phase: Phase, status: PhaseStatus, note: Option<String>| {
            Event::RunPhase(PhaseChanged {
                phase,
                status,
                note,
            })
        };
        // 1. Requirements.
        recorder.record(phase(Phase::Requirements, PhaseStatus::Started, None))?;
        recorder.record(Event::RunSpec(SpecDrawn {
            spec: spec.clone(),
            source: spec_source,
        }))?;
        recorder.record(phase(
            Phase::Requirements,
            PhaseStatus::Done,
            Some(crate::plural(
                spec.acceptance.len(),
                "acceptance criterion",
                "acceptance criteria",
            )),
        ))?;
        recorder.phase_comment(
            Phase::Requirements,
            &roles.orchestrator_agent(),
            &report::requirements(&spec),
        )?;

        // 2. Architecture.
        recorder.record(phase(Phase::Architecture, PhaseStatus::Started, None))?;
        let planned = match given_plan {
            Some(plan) => Ok((plan, Source::Given, 0)),
            None => {
                recorder.working("architect", &format!("plan by {}", roles.architect));
                let by = architect_by(
                    project,
                    &roles,
                    &repo,
                    worktrees,
                    &base,
                    Some((&id, &recorder)),
                );
                let planned = architect(
                    &by,
                    &roles.architect,
                    &spec,
                    &tracked,
                    settings.run.max_plan_attempts,
                )
                .await
                .map(|(plan, attempts)| (plan, Source::Model, attempts));
                recorder.done("architect");
                planned
            }
        };
        // A small architect may give no valid plan; a ticket whose scope names its files still
        // has one: a single subtask over them.
        let planned = match planned {
            Err(PipelineError::NoValidPlan { attempts, problems }) => {
                match plan_from_scope(&ticket, &spec, &tracked) {
                    Some(plan) => {
                        recorder.note(&format!(
                        "the architect gave no valid plan in {attempts} answers ({problems}); planning one subtask from the ticket's scope"
                    ));
                        Ok((plan, Source::TicketScope, attempts))
                    }
                    None => Err(PipelineError::NoValidPlan { attempts, problems }),
                }
            }
            other => other,
        };
        let (plan, source, attempts) = match planned {
            Ok(planned) => planned,
            Err(error) => {
                recorder.record(phase(
                    Phase::Architecture,
                    PhaseStatus::Failed,
                    Some(error.to_string()),
                ))?;
                project.store()?.set_run_status(
                    &id,
                    RunStatus::Failed,
                    Some(&error.to_string()),
                )?;
                recorder.mirror_latest()?;
                return Err(error);
            }
        };
        recorder.record(Event::RunPlan(PlanMade {
            plan: plan.clone(),
            source,
            attempts,
        }))?;
        recorder.record(phase(
            Phase::Architecture,
            PhaseStatus::Done,
            Some(crate::plural(plan.subtasks.len(), "subtask", "subtasks")),
        ))?;
        let architect_agent = match source {
            Source::Model => format!("architect ({})", roles.architect),
            Source::Given => "architect (the plan as given)".into(),
            Source::TicketScope => "architect (one subtask from the ticket's scope)".into(),
        };
        let design = report::architecture(&plan);
        recorder.phase_comment(Phase::Architecture, &architect_agent, &design)?;
        crate::publish::trail::open_pull_request(&recorder, &worktree, &ticket, &design).await?;

        let ctx = Ctx {
            project,
            wt: project.at(worktree.clone())?,
            worktree: worktree.clone(),
            folder: folder.clone(),
            run,
            ticket,
            spec,
            plan,
            roles,
            settings: settings.clone(),
            recorder,
            dispatches: AtomicU32::new(0),
            git_lock: tokio::sync::Mutex::new(()),
            identity: tokio::sync::OnceCell::new(),
            budget: crate::budget::Budget::new(request.budget.clone()),
            merge: request.merge.then(|| base_branch.clone()).flatten(),
        };
        carry_on(&ctx, request.review, &HashSet::new()).await
    };
    crate::publish::alongside(&beside, work).await
}

/// [`drive`] and [`finish`]; an error on the way (a model unreachable, git, the disk) ends
/// the run as `failed` with the error as its why, in the store and in `events.jsonl`, so that
/// no run is left saying `running` when nothing runs it.
pub(crate) async fn carry_on(
    ctx: &Ctx<'_>,
    review: ReviewMode,
    done: &HashSet<String>,
) -> Result<RunSummary, PipelineError> {
    let driven = match ctx.budget.time_left() {
        Some(left) => match tokio::time::timeout(left, drive(ctx, review, done)).await {
            Ok(driven) => driven,
            Err(_) => Err(PipelineError::BudgetExhausted {
                why: format!(
                    "the run's {} s of wall time ran out",
                    ctx.budget.limits.timeout_ms.unwrap_or(0) / 1000
                ),
            }),
        },
        None => drive(ctx, review, done).await,
    };
    let outcome = match driven {
        Ok((status, why, verdict)) => finish(ctx, status, why, verdict).await,
        Err(PipelineError::BudgetExhausted { why }) => {
            finish(ctx, RunStatus::BudgetExhausted, Some(why), None).await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = &outcome {
        record_failure(ctx, error);
    }
    outcome
}

/// Implementation (of the subtasks not in `done`), verification and review, looping on
/// rejections. The final status, why, and the last verdict.
pub(crate) async fn drive(
    ctx: &Ctx<'_>,
    review: ReviewMode,
    done: &HashSet<String>,
) -> Result<(RunStatus, Option<String>, Option<Verdict>), PipelineError> {
    let phase = |phase: Phase, status: PhaseStatus, note: Option<String>| {
        Event::RunPhase(PhaseChanged {
            phase,
            status,
            note,
        })
    };
    ctx.recorder
        .record(phase(Phase::Implementation, PhaseStatus::Started, None))?;
    let failed = implement(ctx, done).await?;
    let implemented = if failed.is_empty() {
        PhaseStatus::Done
    } else {
        PhaseStatus::Failed
    };
    ctx.recorder.record(phase(
        Phase::Implementation,
        implemented,
        (!failed.is_empty()).then(|| format!("failed: {}", failed.join(", "))),
    ))?;
    ctx.recorder.phase_comment(
        Phase::Implementation,
        &format!("coder ({})", ctx.roles.coder),
        &report::implementation(ctx).await?,
    )?;
    // A subtask that no reply could be applied to leaves the plan unimplemented: neither
    // passing gates nor a lenient reviewer make that a success.
    if !failed.is_empty() {
        return Ok((
            RunStatus::Failed,
            Some(format!(
                "no reply could be applied to subtask{} {}",
                if failed.len() == 1 { "" } else { "s" },
                failed.join(", ")
            )),
            None,
        ));
    }

    let mut iteration = 0u32;
    let mut verdict: Option<Verdict> = None;
    let mut round = 0u32;
    loop {
        let verified = verify_and_fix(ctx, &mut iteration).await?;
        // A rejected round is told on the pull request once its fixes are verified.
        if let Some(rejected) = verdict.as_ref().filter(|given| !given.approved) {
            ctx.recorder
                .publish(vec![crate::publish::trail::rejected_round(
                    ctx,
                    round,
                    rejected,
                    verified.passed,
                    verified.why.as_deref(),
                )])?;
        }
        if !verified.passed {
            return Ok((
                RunStatus::VerifyFailed,
                Some(verified.why.unwrap_or_else(|| "verification failed".into())),
                verdict,
            ));
        }
        if review == ReviewMode::External {
            return Ok((
                RunStatus::AwaitingReview,
                Some("waiting for an external review".into()),
                None,
            ));
        }
        round += 1;
        ctx.recorder
            .record(phase(Phase::Review, PhaseStatus::Started, None))?;
        let given = reviewed(ctx, round, &verified.last).await?;
        ctx.recorder.record(phase(
            Phase::Review,
            PhaseStatus::Done,
            Some(if given.approved {
                "approved".into()
            } else {
                format!("rejected: {} fixes", given.required_fixes.len())
            }),
        ))?;
        ctx.recorder.phase_comment(
            Phase::Review,
            &format!("reviewer ({})", ctx.roles.reviewer),
            &report::review(round, &given),
        )?;
        let approved = given.approved;
        let fixes = given.required_fixes.clone();
        verdict = Some(given);
        if approved {
            return Ok((RunStatus::Approved, None, verdict));
        }
        if round >= ctx.settings.run.max_review_rounds {
            return Ok((
                RunStatus::Rejected,
                Some(format!("still rejected after {round} review rounds")),
                verdict,
            ));
        }
        // The required fixes go back to implementation, then verification and review.
        crate::budget::before_fix(ctx)?;
        review_fix(ctx, round, &fixes).await?;
    }
}

/// Who plans: the architect's agent, in worktrees of its own in `worktrees` at `base`, each
/// removed after its answer (a dry run leaves none behind); else its model, its requests
/// tagged with the run. `run`: the run's id and recorder, once there is a run.
fn architect_by<'a>(
    project: &'a Project,
    roles: &roles::Roles,
    repo: &'a Path,
    worktrees: PathBuf,
    base: &str,
    run: Option<(&'a str, &'a Recorder<'a>)>,
) -> By<'a> {
    if roles.architect_agent {
        By::Agent(Seat::architect(project, repo, worktrees, base, run))
    } else {
        By::Model {
            project,
            tag: run.map(|(run_id, _)| Tag {
                run_id,
                phase: Phase::Architecture.as_str(),
            }),
        }
    }
}

/// Asks the reviewer for a verdict on the branch as it stands.
async fn reviewed(
    ctx: &Ctx<'_>,
    round: u32,
    verification: &[VerifyRan],
) -> Result<Verdict, PipelineError> {
    let diff = git::diff(&ctx.worktree, &ctx.run.base_commit, REVIEW_DIFF_BYTES).await?;
    let verification = report::verification(verification);
    let prompt = |problems: Option<&str>| {
        prompt::review(&ctx.spec, &ctx.plan, &diff, &verification, problems)
    };
    let read = |text: &str| -> Result<Verdict, String> {
        let verdict = Verdict::from_json(text)?;
        let problems = verdict.check();
        if problems.is_empty() {
            Ok(verdict)
        } else {
            Err(join(&problems))
        }
    };
    let question = Question {
        role: RunRole::Reviewer,
        profile: &ctx.roles.reviewer,
        schema_name: "verdict",
        schema: Verdict::schema(),
        max_attempts: ctx.settings.run.max_plan_attempts,
        prompt: &prompt,
        read: &read,
    };
    ctx.recorder.working(
        "review",
        &format!("review round {round} by {}", ctx.roles.reviewer),
    );
    let by = if ctx.roles.reviewer_agent {
        By::Agent(Seat::reviewer(ctx, round))
    } else {
        By::Model {
            project: &ctx.wt,
            tag: Some(Tag {
                run_id: &ctx.run.id,
                phase: Phase::Review.as_str(),
            }),
        }
    };
    let asked = ask(&by, &question).await;
    ctx.recorder.done("review");
    match asked? {
        Ok(answered) => {
            ctx.recorder.record(Event::ReviewVerdict(ReviewVerdict {
                round,
                verdict: answered.value.clone(),
                reviewer: ctx.roles.reviewer.clone(),
                request_id: answered.request_ids.last().cloned(),
            }))?;
            Ok(answered.value)
        }
        Err((attempts, problems)) => Err(PipelineError::NoValidVerdict { attempts, problems }),
    }
}
