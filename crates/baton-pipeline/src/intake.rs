//! A run's intake: the ticket and a given plan read and checked (the plan also against the
//! files of the base commit: [`intake`]), the spec (from the ticket, or the orchestrator
//! role), and the architect's plan asked for against its schema.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use baton_core::event::Source;
use baton_core::plan::{Plan, Spec};
use baton_core::ticket::Ticket;
use baton_ops::Project;
use baton_store::RunRole;

use crate::answer::{By, Question, ask};
use crate::{PipelineError, git, prompt, roles};

/// What a run starts from, read and checked before anything is created: the ticket, the
/// given plan (also against the files of the base commit), the repository and its HEAD.
pub(crate) struct Intake {
    pub ticket_path: PathBuf,
    pub ticket: Ticket,
    pub given_plan: Option<Plan>,
    pub repo: PathBuf,
    pub base: String,
    pub tracked: Vec<String>,
}

/// Reads and checks what a run of `ticket` (with `plan`) starts from; see [`Intake`].
pub(crate) async fn intake(
    project: &Project,
    ticket: &Path,
    plan: Option<&Path>,
) -> Result<Intake, PipelineError> {
    let ticket_path = project.resolve(ticket);
    let ticket = read_ticket(&ticket_path)?;
    let given_plan = plan
        .map(|path| read_plan(&project.resolve(path)))
        .transpose()?;
    let repo = git::top_level(project.cwd()).await?;
    let base = git::head(&repo).await?;
    let tracked = git::tracked_files(&repo, &base).await?;
    if let (Some(given), Some(path)) = (&given_plan, plan) {
        let problems = repo_problems(given, &tracked);
        if !problems.is_empty() {
            return Err(PipelineError::BadPlan {
                path: project.resolve(path),
                message: join(&problems),
            });
        }
    }
    Ok(Intake {
        ticket_path,
        ticket,
        given_plan,
        repo,
        base,
        tracked,
    })
}

/// Reads and parses the ticket.
pub(crate) fn read_ticket(path: &Path) -> Result<Ticket, PipelineError> {
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
pub(crate) fn read_plan(path: &Path) -> Result<Plan, PipelineError> {
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
pub(crate) fn repo_problems(plan: &Plan, tracked: &[String]) -> Vec<baton_core::PlanProblem> {
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

pub(crate) fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The spec: the ticket as written; or, when the ticket lists no acceptance criteria and an
/// orchestrator role is configured, drawn up by it (goal, measurable criteria, scope,
/// constraints) against the spec's schema. Criteria a ticket lists are never rewritten.
pub(crate) async fn requirements(
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
    let by = By::Model { project, tag: None };
    match ask(&by, &question).await? {
        Ok(answered) => Ok((answered.value, Source::Model, answered.request_ids)),
        Err((attempts, problems)) => Err(PipelineError::NoValidSpec { attempts, problems }),
    }
}

/// The architect's plan for `spec`, checked against the repository's files: asked of
/// `by` (`profile` is the model's profile, or the agent's worker kind).
pub(crate) async fn architect(
    by: &By<'_>,
    profile: &str,
    spec: &Spec,
    files: &[String],
    max_attempts: u32,
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
    match ask(by, &question).await? {
        Ok(answered) => Ok((answered.value, answered.attempts)),
        Err((attempts, problems)) => Err(PipelineError::NoValidPlan { attempts, problems }),
    }
}

/// The spans of `text` written between backticks.
fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// When the architect gives no valid plan: one subtask that owns the files the ticket's
/// scope names (`clamp.py`, or `` `src/x.rs` (new) ``), with the ticket's words as its task,
/// its criteria and constraints, and as context the repository's files the ticket names.
/// `None` when the scope names no file, or the plan would not check.
pub(crate) fn plan_from_scope(ticket: &Ticket, spec: &Spec, tracked: &[String]) -> Option<Plan> {
    let mut files: Vec<String> = Vec::new();
    for item in &spec.scope {
        let named = backticked(item)
            .next()
            .or_else(|| item.split_whitespace().next())
            .unwrap_or("")
            .trim_start_matches("./");
        let looks_like_a_file = named.contains('.') || named.contains('/');
        if looks_like_a_file && !files.iter().any(|file| file == named) {
            files.push(named.to_string());
        }
    }
    if files.is_empty() {
        return None;
    }
    let tracked_set: HashSet<&str> = tracked.iter().map(String::as_str).collect();
    let mut context: Vec<String> = Vec::new();
    for named in backticked(&ticket.body).chain(spec.acceptance.iter().flat_map(|c| backticked(c)))
    {
        let named = named.trim_start_matches("./");
        if tracked_set.contains(named)
            && !files.iter().any(|f| f == named)
            && !context.iter().any(|c| c == named)
        {
            context.push(named.to_string());
        }
    }
    let what = if ticket.body.trim().is_empty() {
        spec.goal.clone()
    } else {
        ticket.body.trim().to_string()
    };
    let plan = Plan {
        summary: spec.goal.clone(),
        decisions: vec![
            "one subtask over the files of the ticket's scope (the architect gave no valid plan)"
                .into(),
        ],
        interfaces: Vec::new(),
        subtasks: vec![baton_core::Subtask {
            id: "ticket".into(),
            title: ticket.title.clone(),
            what,
            kind: baton_core::SubtaskKind::Code,
            files,
            context,
            constraints: spec.constraints.clone(),
            acceptance: spec.acceptance.clone(),
            depends_on: Vec::new(),
            worker: None,
        }],
    };
    let plan = plan.normalized();
    (plan.check().is_empty() && repo_problems(&plan, tracked).is_empty()).then_some(plan)
}
