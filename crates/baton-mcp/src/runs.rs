//! The run tools: a ticket handed to a run of the pipeline (`run_start`), followed
//! (`run_status`, `run_list`), reviewed (`run_review`) and continued (`run_resume`). A run
//! takes minutes to hours and must outlive the MCP connection, so its coordinator is never
//! this process: every start is `baton-pipeline`'s detached one (a supervised `baton run`,
//! `review` or `resume`), answered at once. Arguments are checked here, naming the argument.

use baton_core::event::RunBudget;
use baton_core::run::RunRecord;
use baton_ops::Project;
use baton_pipeline::{
    Decision, DetachedRun, ReviewMode, ReviewSent, RunStarted, RunState, RunSummary, Supplied,
};
use serde::Serialize;

use crate::error::ToolFailure;
use crate::params::{
    RunListParams, RunResumeParams, RunReviewParams, RunStartParams, RunStatusParams,
};
use crate::tools::{bounded, duration, non_empty};

/// Runs `run_list` returns when no `limit` is given (as `baton runs`).
const DEFAULT_RUN_LIMIT: u32 = 20;
/// Most runs one `run_list` call returns.
const MAX_RUN_LIMIT: u32 = 1000;

/// What `run_start` answers: the run started, or, for a dry run, the spec and plan checked.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum RunStartReply {
    Started(RunStarted),
    Checked(Box<RunSummary>),
}

/// `review` as a mode; `model` when absent.
fn review_mode(text: Option<&str>) -> Result<ReviewMode, ToolFailure> {
    match text {
        None | Some("model") => Ok(ReviewMode::Model),
        Some("external") => Ok(ReviewMode::External),
        Some(other) => Err(ToolFailure::invalid(format!(
            "`review` must be `model` or `external`, got `{other}`"
        ))
        .with_hint("`external` stops the run in `awaiting_review` for `run_review`")),
    }
}

/// Exactly one of a text argument and a path argument, or neither when `required` is false.
fn text_or_path(
    text_name: &str,
    text: Option<String>,
    path_name: &str,
    path: Option<String>,
    required: bool,
) -> Result<Option<Supplied>, ToolFailure> {
    match (text, path) {
        (Some(_), Some(_)) => Err(ToolFailure::invalid(format!(
            "give `{text_name}` or `{path_name}`, not both"
        ))),
        (Some(text), None) => {
            non_empty(text_name, &text)?;
            Ok(Some(Supplied::Text(text)))
        }
        (None, Some(path)) => {
            non_empty(path_name, &path)?;
            Ok(Some(Supplied::Path(path.into())))
        }
        (None, None) if required => Err(ToolFailure::invalid(format!(
            "give the ticket: `{text_name}` (its Markdown) or `{path_name}` (a file)"
        ))),
        (None, None) => Ok(None),
    }
}

pub(crate) async fn run_start(
    project: &Project,
    params: RunStartParams,
) -> Result<RunStartReply, ToolFailure> {
    let ticket = text_or_path(
        "ticket",
        params.ticket,
        "ticket_path",
        params.ticket_path,
        true,
    )?
    .ok_or_else(|| ToolFailure::invalid("give the ticket"))?;
    // A plan object is taken as its JSON text: the plan file the run reads is JSON.
    let plan_text = match params.plan {
        None => None,
        Some(serde_json::Value::String(text)) => Some(text),
        Some(value @ serde_json::Value::Object(_)) => Some(value.to_string()),
        Some(other) => {
            return Err(ToolFailure::invalid(format!(
                "`plan` must be a JSON object or its text, got {other}"
            )));
        }
    };
    let plan = text_or_path("plan", plan_text, "plan_path", params.plan_path, false)?;
    let timeout = duration("timeout", params.timeout.as_deref())?;
    let run = DetachedRun {
        ticket,
        plan,
        review: review_mode(params.review.as_deref())?,
        merge: params.merge.unwrap_or(false),
        budget: RunBudget {
            max_cloud_tokens: params.max_cloud_tokens,
            max_iterations: params.max_iterations,
            timeout_ms: timeout
                .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        },
        publish: baton_pipeline::publish::PublishAsk {
            targets: params.publish.map(|targets| vec![targets]),
            github_issue: params.github_issue,
            linear_issue: params.linear_issue,
        },
    };
    if params.dry_run.unwrap_or(false) {
        // Nothing is created, so nothing needs to outlive the connection: checked here.
        let checked = baton_pipeline::dry_run(project, &run).await?;
        return Ok(RunStartReply::Checked(Box::new(checked)));
    }
    Ok(RunStartReply::Started(
        baton_pipeline::start_detached(project, run).await?,
    ))
}

pub(crate) async fn run_status(
    project: &Project,
    params: RunStatusParams,
) -> Result<RunState, ToolFailure> {
    let run = non_empty("run", &params.run)?;
    Ok(baton_pipeline::state(project, run, params.events.unwrap_or(false)).await?)
}

pub(crate) async fn run_review(
    project: &Project,
    params: RunReviewParams,
) -> Result<ReviewSent, ToolFailure> {
    let run = non_empty("run", &params.run)?;
    let decision = match (params.approve, params.notes) {
        (true, _) => Decision::Approve,
        (false, Some(notes)) if !notes.trim().is_empty() => Decision::Reject(notes),
        (false, _) => {
            return Err(ToolFailure::invalid(
                "a rejection (`approve: false`) needs `notes`: what must change",
            )
            .with_hint("say what must change, for example: handle an empty list"));
        }
    };
    Ok(baton_pipeline::review_detached(project, run, decision).await?)
}

pub(crate) async fn run_list(
    project: &Project,
    params: RunListParams,
) -> Result<Vec<RunRecord>, ToolFailure> {
    let limit = bounded("limit", params.limit, DEFAULT_RUN_LIMIT, MAX_RUN_LIMIT)?;
    Ok(baton_pipeline::runs(project, limit).await?)
}

pub(crate) async fn run_resume(
    project: &Project,
    params: RunResumeParams,
) -> Result<RunStarted, ToolFailure> {
    let run = non_empty("run", &params.run)?;
    let review = review_mode(params.review.as_deref())?;
    Ok(baton_pipeline::resume_detached(project, run, review).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_review_mode_is_named_with_the_known_ones() {
        let failure = review_mode(Some("none")).unwrap_err();
        assert_eq!(
            failure.message,
            "`review` must be `model` or `external`, got `none`"
        );
        assert_eq!(review_mode(None).unwrap(), ReviewMode::Model);
    }

    #[test]
    fn a_ticket_is_its_text_or_its_path_never_both_nor_neither() {
        let both = text_or_path(
            "ticket",
            Some("x".into()),
            "ticket_path",
            Some("T.md".into()),
            true,
        )
        .unwrap_err();
        assert!(both.message.contains("not both"), "{both:?}");
        let neither = text_or_path("ticket", None, "ticket_path", None, true).unwrap_err();
        assert!(neither.message.contains("`ticket_path`"), "{neither:?}");
        assert_eq!(
            text_or_path("plan", None, "plan_path", None, false).unwrap(),
            None
        );
    }
}
