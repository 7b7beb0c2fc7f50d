//! One run, phase by phase (DESIGN.md section 8): requirements (the ticket's spec),
//! architecture (the given plan, or the architect's, checked), implementation in the run's
//! worktree, verification with its fix loop and escalation, review with its rejection loop,
//! sign-off (memory, reports). Each phase is recorded as events and written as a phase
//! comment under `.baton/runs/RUN/`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;

use baton_core::event::{
    Escalated, PhaseChanged, PhaseStatus, PlanMade, ReviewVerdict, RunStarted, Source, SpecDrawn,
    VerifyRan,
};
use baton_core::plan::{Plan, Spec, Verdict};
use baton_core::run::{RunRecord, RunStatus};
use baton_core::ticket::Ticket;
use baton_core::{Event, Phase};
use baton_ops::Project;
use baton_ops::memory::{MemoryValue, StoreRequest};
use baton_store::RunRole;
use serde::Serialize;

use crate::answer::{Question, Tag, ask};
use crate::ctx::Ctx;
use crate::implement::{EditJob, implement, run_edit_job};
use crate::record::{Progress, Recorder};
use crate::verify::{GateResult, gates, run_gate, signature};
use crate::{PipelineError, git, prompt, report, roles};

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

/// A run to start.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
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

/// Reads and parses the ticket.
fn read_ticket(path: &Path) -> Result<Ticket, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|source| PipelineError::ReadTicket {
        path: path.to_path_buf(),
        source,
    })?;
    let stem = path.file_stem().map_or_else(
        || "ticket".into(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    Ticket::parse(&text, &stem).map_err(|error| PipelineError::BadTicket {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// Reads, parses and checks a given plan.
fn read_plan(path: &Path) -> Result<Plan, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|source| PipelineError::ReadPlan {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |message: String| PipelineError::BadPlan {
        path: path.to_path_buf(),
        message,
    };
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    let plan = if is_toml {
        Plan::from_toml(&text)
    } else {
        Plan::from_json(&text)
    }
    .map_err(bad)?;
    let problems = plan.check();
    if !problems.is_empty() {
        return Err(bad(join(&problems)));
    }
    Ok(plan.normalized())
}

/// Problems only the repository can show: a context file that is neither tracked nor owned by
/// a subtask of the plan (a model writing `None` or inventing a path). Owned files may be new.
fn repo_problems(plan: &Plan, tracked: &[String]) -> Vec<baton_core::PlanProblem> {
    let owned: HashSet<&str> = plan
        .subtasks
        .iter()
        .flat_map(|subtask| subtask.files.iter().map(String::as_str))
        .collect();
    let tracked: HashSet<&str> = tracked.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    for (index, subtask) in plan.subtasks.iter().enumerate() {
        for (k, file) in subtask.context.iter().enumerate() {
            if !tracked.contains(file.as_str()) && !owned.contains(file.as_str()) {
                problems.push(baton_core::PlanProblem {
                    at: format!("subtasks[{index}].context[{k}]"),
                    problem: format!(
                        "`{file}` is not a file of the repository nor one the plan writes"
                    ),
                });
            }
        }
    }
    problems
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A sortable, short run id: `YYYYMMDD-HHMMSS-xxxx`.
fn new_run_id() -> String {
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{}-{}",
        now.strftime("%Y%m%d-%H%M%S"),
        &suffix[suffix.len() - 4..]
    )
}

/// The spec: the ticket as written; or, when the ticket lists no acceptance criteria and an
/// orchestrator role is configured, drawn up by it (goal, measurable criteria, scope,
/// constraints) against the spec's schema. Criteria a ticket lists are never rewritten.
async fn requirements(
    project: &Project,
    roles: &roles::Roles,
    ticket: &Ticket,
    max_attempts: u32,
) -> Result<(Spec, Source, Vec<String>), PipelineError> {
    let given = Spec::from_ticket(ticket);
    let Some(orchestrator) = roles.orchestrator.as_deref() else {
        return Ok((given, Source::Given, Vec::new()));
    };
    if !given.acceptance.is_empty() {
        return Ok((given, Source::Given, Vec::new()));
    }
    let prompt = |problems: Option<&str>| {
        let mut out = format!(
            "Turn this ticket into a spec: the goal in one sentence, measurable acceptance \
             criteria, the files or areas in scope, and the constraints.\n\nTicket {}: {}\n\n{}\n",
            ticket.id, ticket.title, ticket.body
        );
        if let Some(problems) = problems {
            out.push_str(&format!(
                "\nYour last answer was not a valid spec: {problems}\nAnswer again.\n"
            ));
        }
        out
    };
    let read = |text: &str| -> Result<Spec, String> {
        let object = baton_core::plan::extract_json_object(text).unwrap_or(text);
        let spec: Spec = serde_json::from_str(object).map_err(|error| error.to_string())?;
        if spec.goal.trim().is_empty() {
            return Err("goal: is empty".into());
        }
        if spec.acceptance.is_empty() {
            return Err("acceptance: list at least one measurable criterion".into());
        }
        Ok(spec)
    };
    let list = serde_json::json!({"type": "array", "items": {"type": "string"}});
    let question = Question {
        role: RunRole::Orchestrator,
        profile: orchestrator,
        schema_name: "spec",
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "goal": {"type": "string"},
                "acceptance": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "scope": list,
                "constraints": list,
            },
            "required": ["goal", "acceptance", "scope", "constraints"],
            "additionalProperties": false,
        }),
        max_attempts,
        prompt: &prompt,
        read: &read,
    };
    match ask(project, &question, None, &baton_ops::notice::Silent).await? {
        Ok(answered) => Ok((answered.value, Source::Model, answered.request_ids)),
        Err((attempts, problems)) => Err(PipelineError::NoValidSpec { attempts, problems }),
    }
}

/// The architect's plan for `spec`, checked against the repository's files.
async fn architect(
    project: &Project,
    profile: &str,
    spec: &Spec,
    files: &[String],
    max_attempts: u32,
    tag: Option<&Tag<'_>>,
    notices: &dyn baton_ops::Notices,
) -> Result<(Plan, u32), PipelineError> {
    let prompt = |problems: Option<&str>| prompt::architect(spec, files, problems);
    let read = |text: &str| -> Result<Plan, String> {
        let plan = Plan::from_json(text)?;
        let mut problems = plan.check();
        if problems.is_empty() {
            let plan = plan.normalized();
            problems = repo_problems(&plan, files);
            if problems.is_empty() {
                return Ok(plan);
            }
        }
        Err(join(&problems))
    };
    let question = Question {
        role: RunRole::Architect,
        profile,
        schema_name: "plan",
        schema: Plan::schema(),
        max_attempts,
        prompt: &prompt,
        read: &read,
    };
    match ask(project, &question, tag, notices).await? {
        Ok(answered) => Ok((answered.value, answered.attempts)),
        Err((attempts, problems)) => Err(PipelineError::NoValidPlan { attempts, problems }),
    }
}

/// The repository's `.baton/`, with an ignore file of its own, so that the user's
/// `git status` never lists Baton's files (store, worktrees, run folders).
fn baton_dir(repo: &Path) -> Result<PathBuf, PipelineError> {
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
    let ticket_path = project.resolve(&request.ticket);
    let ticket = read_ticket(&ticket_path)?;
    let given_plan = request
        .plan
        .as_ref()
        .map(|path| read_plan(&project.resolve(path)))
        .transpose()?;
    let repo = git::top_level(project.cwd()).await?;
    let base = git::head(&repo).await?;
    let tracked = git::tracked_files(&repo, &base).await?;
    if let (Some(plan), Some(path)) = (&given_plan, &request.plan) {
        let problems = repo_problems(plan, &tracked);
        if !problems.is_empty() {
            return Err(PipelineError::BadPlan {
                path: project.resolve(path),
                message: join(&problems),
            });
        }
    }
    let settings = project.settings()?;
    let roles = roles::resolve(&settings, project.env())?;
    let (spec, spec_source, spec_requests) =
        requirements(project, &roles, &ticket, settings.run.max_plan_attempts).await?;
    let baton_dir = baton_dir(&repo)?;

    if request.dry_run {
        let plan = match given_plan {
            Some(plan) => plan,
            None => {
                architect(
                    project,
                    &roles.architect,
                    &spec,
                    &tracked,
                    settings.run.max_plan_attempts,
                    None,
                    &baton_ops::notice::Silent,
                )
                .await?
                .0
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
    let id = new_run_id();
    let worktree = baton_dir.join("worktrees").join(&id);
    let base_branch = git::git(&repo, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty());
    let branch = format!("baton/{id}");
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
    let recorder = Recorder::open(project, &id, &folder, progress)?;
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
        }),
    )?;
    recorder.mirror_latest()?;
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
    report::phase_comment(&folder, Phase::Requirements, &report::requirements(&spec))?;

    // 2. Architecture.
    recorder.record(phase(Phase::Architecture, PhaseStatus::Started, None))?;
    let planned = match given_plan {
        Some(plan) => Ok((plan, Source::Given, 0)),
        None => {
            let tag = Tag {
                run_id: &id,
                phase: Phase::Architecture.as_str(),
            };
            recorder.working("architect", &format!("plan by {}", roles.architect));
            let planned = architect(
                project,
                &roles.architect,
                &spec,
                &tracked,
                settings.run.max_plan_attempts,
                Some(&tag),
                &baton_ops::notice::Silent,
            )
            .await
            .map(|(plan, attempts)| (plan, Source::Model, attempts));
            recorder.done("architect");
            planned
        }
    };
    let (plan, source, attempts) = match planned {
        Ok(planned) => planned,
        Err(error) => {
            recorder.record(phase(
                Phase::Architecture,
                PhaseStatus::Failed,
                Some(error.to_string()),
            ))?;
            project
                .store()?
                .set_run_status(&id, RunStatus::Failed, Some(&error.to_string()))?;
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
    report::phase_comment(&folder, Phase::Architecture, &report::architecture(&plan))?;

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
        budget: crate::budget::Budget::new(request.budget.clone()),
        merge: request.merge.then(|| base_branch.clone()).flatten(),
    };
    carry_on(&ctx, request.review, &HashSet::new()).await
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

/// Ends the run as `failed` with `error` and its hint as its why; failing to record that is
/// logged (the error itself is what the caller must hear).
pub(crate) fn record_failure(ctx: &Ctx<'_>, error: &PipelineError) {
    let why = match error.hint() {
        Some(hint) => format!("{error} (hint: {hint})"),
        None => error.to_string(),
    };
    let marked = ctx
        .project
        .store()
        .map_err(PipelineError::from)
        .and_then(|store| Ok(store.set_run_status(&ctx.run.id, RunStatus::Failed, Some(&why))?))
        .and_then(|()| ctx.recorder.mirror_latest());
    if let Err(also) = marked {
        tracing::warn!(run = %ctx.run.id, error = %also, "cannot mark the run failed");
    }
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
    report::phase_comment(
        &ctx.folder,
        Phase::Implementation,
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
        report::phase_comment(
            &ctx.folder,
            Phase::Verification,
            &report::verification(&verified.last),
        )?;
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
        report::phase_comment(&ctx.folder, Phase::Review, &report::review(round, &given))?;
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
        let what = format!(
            "The reviewer rejected the change and requires:\n{}",
            fixes
                .iter()
                .map(|fix| format!("- {fix}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        crate::budget::before_fix(ctx)?;
        let files = owned_files(&ctx.plan);
        let job = EditJob {
            subtask: format!("review-{round}"),
            phase: Phase::Implementation,
            label: format!("review fix {round}"),
            profile: ctx.roles.coder.clone(),
            task: prompt::fix(&ctx.spec, &ctx.plan, &what, &files),
            context: files.clone(),
            allow: files,
        };
        run_edit_job(ctx, &job).await?;
    }
}

pub(crate) fn owned_files(plan: &Plan) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for subtask in &plan.subtasks {
        for file in &subtask.files {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
    }
    files
}

/// What verification came to.
pub(crate) struct Verified {
    pub(crate) passed: bool,
    pub(crate) why: Option<String>,
    /// The gates of the last round.
    pub(crate) last: Vec<GateResult>,
}

/// Runs the gates; on a failure, dispatches a fix and runs them again, escalating along the
/// coder's chain after `max_fix_iterations` or when the same failure comes back.
pub(crate) async fn verify_and_fix(
    ctx: &Ctx<'_>,
    iteration: &mut u32,
) -> Result<Verified, PipelineError> {
    let phase = |status: PhaseStatus, note: Option<String>| {
        Event::RunPhase(PhaseChanged {
            phase: Phase::Verification,
            status,
            note,
        })
    };
    ctx.recorder.record(phase(PhaseStatus::Started, None))?;
    let found = gates(&ctx.settings.verify, &ctx.worktree);
    if let Some(from) = &found.detected_from {
        ctx.recorder.note(&format!(
            "verify: no [verify] commands; detected from {from}: {}",
            if found.commands.is_empty() {
                "nothing to run".to_string()
            } else {
                found
                    .commands
                    .iter()
                    .map(|gate| gate.command.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    let chain = roles::escalation_chain(&ctx.settings, &ctx.roles.coder, ctx.project.env());
    let mut step = 0usize;
    let mut fixes_on_step = 0u32;
    let mut last_signature: Option<String> = None;
    loop {
        let mut results = Vec::new();
        for gate in &found.commands {
            let key = format!("gate-{}", gate.gate.as_str());
            ctx.recorder
                .working(&key, &format!("{} `{}`", gate.gate.as_str(), gate.command));
            let result = run_gate(
                gate,
                &ctx.worktree,
                ctx.settings.verify.timeout,
                ctx.settings.verify.max_output_bytes,
            )
            .await;
            ctx.recorder.done(&key);
            let result = result?;
            ctx.recorder.record(Event::VerifyRan(VerifyRan {
                iteration: *iteration,
                gate: result.gate,
                command: result.command.clone(),
                passed: result.passed,
                exit_code: result.exit_code,
                timed_out: result.timed_out,
                duration_ms: result.duration_ms,
                output: result.output.clone(),
            }))?;
            let passed = result.passed;
            results.push(result);
            if !passed {
                break;
            }
        }
        let Some(failure) = results.iter().find(|result| !result.passed).cloned() else {
            ctx.recorder.record(phase(
                PhaseStatus::Done,
                Some(format!("passed after {} fixes", *iteration)),
            ))?;
            return Ok(Verified {
                passed: true,
                why: None,
                last: results,
            });
        };
        let sig = signature(&failure);
        let stuck = last_signature.as_deref() == Some(sig.as_str());
        last_signature = Some(sig);
        if stuck || fixes_on_step >= ctx.settings.verify.max_fix_iterations {
            let why = if stuck {
                "the same failure came back after a fix".to_string()
            } else {
                format!("{fixes_on_step} fixes did not pass")
            };
            if step + 1 >= chain.len() {
                let why = format!(
                    "{} still fails: {why}, and the chain of {} has no profile left",
                    failure.gate.as_str(),
                    chain.join(" -> ")
                );
                ctx.recorder
                    .record(phase(PhaseStatus::Failed, Some(why.clone())))?;
                return Ok(Verified {
                    passed: false,
                    why: Some(why),
                    last: results,
                });
            }
            ctx.recorder.record(Event::RunEscalated(Escalated {
                from: chain[step].clone(),
                to: chain[step + 1].clone(),
                why,
            }))?;
            step += 1;
            fixes_on_step = 0;
            last_signature = None;
        }
        crate::budget::before_fix(ctx)?;
        *iteration += 1;
        fixes_on_step += 1;
        // The fix may change what the plan's subtasks own; the other files the failure names
        // (the tests, mostly: they are the spec) are shown, not opened to edits.
        let files = owned_files(&ctx.plan);
        let mut shown = files.clone();
        for named in crate::verify::files_named(&failure.output, &ctx.worktree) {
            if !shown.contains(&named) {
                shown.push(named);
            }
        }
        let what = format!(
            "`{}` ({}) failed with exit code {}:\n```\n{}\n```",
            failure.command,
            failure.gate.as_str(),
            failure
                .exit_code
                .map_or_else(|| "none (stopped)".into(), |code| code.to_string()),
            failure.output.trim_end()
        );
        let job = EditJob {
            subtask: format!("fix-{}", *iteration),
            phase: Phase::Verification,
            label: format!("fix {}", *iteration),
            profile: chain[step].clone(),
            task: prompt::fix(&ctx.spec, &ctx.plan, &what, &files),
            context: shown,
            allow: files,
        };
        run_edit_job(ctx, &job).await?;
    }
}

/// Asks the reviewer for a verdict on the branch as it stands.
async fn reviewed(
    ctx: &Ctx<'_>,
    round: u32,
    verification: &[GateResult],
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
    let tag = Tag {
        run_id: &ctx.run.id,
        phase: Phase::Review.as_str(),
    };
    ctx.recorder.working(
        "review",
        &format!("review round {round} by {}", ctx.roles.reviewer),
    );
    let asked = ask(&ctx.wt, &question, Some(&tag), &baton_ops::notice::Silent).await;
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

/// Sign-off: the pattern and result in memory, the reports, the final status.
pub(crate) async fn finish(
    ctx: &Ctx<'_>,
    status: RunStatus,
    why: Option<String>,
    verdict: Option<Verdict>,
) -> Result<RunSummary, PipelineError> {
    let signoff = |status: PhaseStatus, note: Option<String>| {
        Event::RunPhase(PhaseChanged {
            phase: Phase::Signoff,
            status,
            note,
        })
    };
    ctx.recorder.record(signoff(PhaseStatus::Started, None))?;
    let commits = git::commits_since(&ctx.worktree, &ctx.run.base_commit).await?;
    if status == RunStatus::Approved {
        let pattern = format!(
            "{}: {} subtasks ({}), approved; design: {}",
            ctx.ticket.title,
            ctx.plan.subtasks.len(),
            ctx.plan
                .subtasks
                .iter()
                .map(|subtask| subtask.title.clone())
                .collect::<Vec<_>>()
                .join("; "),
            ctx.plan.summary
        );
        remember(
            ctx,
            "patterns",
            &format!("pattern-{}", ctx.ticket.id),
            pattern,
        )
        .await;
    }
    let result = format!(
        "run {} of {}: {}{} ({} commits on {})",
        ctx.run.id,
        ctx.ticket.id,
        status,
        why.as_deref()
            .map(|why| format!(", {why}"))
            .unwrap_or_default(),
        commits.len(),
        ctx.run.branch
    );
    remember(ctx, "results", &format!("result-{}", ctx.run.id), result).await;
    let mut run = ctx.run.clone();
    run.status = status;
    run.why = why.clone();
    let pr = report::write_reports(ctx, &run, verdict.as_ref(), &commits).await?;
    ctx.recorder.record(signoff(
        if status == RunStatus::Approved {
            PhaseStatus::Done
        } else {
            PhaseStatus::Skipped
        },
        Some(status.to_string()),
    ))?;
    if status == RunStatus::Approved
        && let Some(into) = &ctx.merge
    {
        merge(ctx, into).await?;
    }
    // The status and its `run.ended` event go in together, last.
    ctx.project
        .store()?
        .set_run_status(&ctx.run.id, status, why.as_deref())?;
    ctx.recorder.mirror_latest()?;
    Ok(RunSummary {
        run: Some(run),
        spec: ctx.spec.clone(),
        plan: ctx.plan.clone(),
        verdict,
        folder: Some(ctx.folder.to_string_lossy().into_owned()),
        pr: Some(pr.to_string_lossy().into_owned()),
        commits,
    })
}

/// Fast-forwards branch `into` to the run's branch, if it still points at the run's base
/// (a branch that moved meanwhile is left alone and said so: nothing is merged over anyone's
/// work). The checked-out branch goes through `git merge --ff-only`, which keeps the user's
/// uncommitted changes or refuses; another branch is moved with `update-ref`, checked
/// against its old value.
async fn merge(ctx: &Ctx<'_>, into: &str) -> Result<(), PipelineError> {
    let repo = Path::new(&ctx.run.repo);
    let tip = git::git(repo, &["rev-parse", &ctx.run.branch])
        .await?
        .trim()
        .to_string();
    let at = git::git(repo, &["rev-parse", &format!("refs/heads/{into}")])
        .await?
        .trim()
        .to_string();
    let checked_out = git::git(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .is_ok_and(|name| name.trim() == into);
    let result = if at != ctx.run.base_commit {
        Err(format!(
            "{into} moved since the run began ({} to {}); merge it by hand",
            &ctx.run.base_commit[..12.min(ctx.run.base_commit.len())],
            &at[..12.min(at.len())]
        ))
    } else if checked_out {
        git::git(repo, &["merge", "--ff-only", "--quiet", &ctx.run.branch])
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    } else {
        let target = format!("refs/heads/{into}");
        git::git(repo, &["update-ref", &target, &tip, &at])
            .await
            .map(drop)
            .map_err(|error| error.to_string())
    };
    let (merged, why) = match result {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why)),
    };
    if let Some(why) = &why {
        ctx.recorder.note(&format!("not merged: {why}"));
    }
    ctx.recorder
        .record(Event::RunMergedInto(baton_core::event::RunMerged {
            into: into.to_string(),
            commit: tip,
            merged,
            why,
        }))
}

/// Stores `value` in memory; a failure is told, not fatal (the run's work is in git).
async fn remember(ctx: &Ctx<'_>, namespace: &str, key: &str, value: String) {
    let request = StoreRequest {
        namespace: namespace.into(),
        key: key.into(),
        value: MemoryValue::Text(value),
        tags: vec![format!("run:{}", ctx.run.id)],
        ttl: None,
        upsert: true,
    };
    if let Err(error) = baton_ops::memory::store(ctx.project, request).await {
        ctx.recorder
            .note(&format!("memory: {namespace}/{key} not stored: {error}"));
    }
}
