//! Structured answers: the architect's plan and the reviewer's verdict. Each is asked for as
//! JSON against its schema, sent as structured output (`response_format` with a
//! `json_schema`, which llama-server enforces with a grammar) and in the prompt for servers
//! that ignore it; parsed and checked; and an invalid answer is asked again with its problems
//! (bounded). An agent CLI may answer instead of a model (`agent_answer.rs`).

use baton_core::AnswerSchema;
use baton_ops::dispatch::{DispatchRequest, dispatch};
use baton_ops::notice::Silent;
use baton_ops::{NullSink, Project};
use baton_store::RunRole;

use crate::PipelineError;
use crate::agent_answer::Seat;

/// A valid answer and what it took.
pub(crate) struct Answered<T> {
    pub value: T,
    /// Answers asked for, the valid one included.
    pub attempts: u32,
    pub request_ids: Vec<String>,
}

/// Where a run's requests are tagged.
pub(crate) struct Tag<'a> {
    pub run_id: &'a str,
    pub phase: &'a str,
}

/// What to ask and how to read the answer.
pub(crate) struct Question<'a, T> {
    pub role: RunRole,
    pub profile: &'a str,
    pub schema_name: &'a str,
    pub schema: serde_json::Value,
    pub max_attempts: u32,
    /// The prompt, given the last answer's problems.
    pub prompt: &'a (dyn Fn(Option<&str>) -> String + Sync),
    /// Parses and checks an answer: the value, or its problems in one line.
    pub read: &'a (dyn Fn(&str) -> Result<T, String> + Sync),
}

/// What a question's answer must be, as its prompt says it: for servers that ignore
/// structured output, and for agent CLIs, which have none.
pub(crate) fn answer_format(schema: &serde_json::Value) -> String {
    format!("Answer with one JSON object and nothing else, following this JSON schema:\n{schema}")
}

/// Who answers a question.
pub(crate) enum By<'a> {
    /// A model, through a dispatch from `project`; its requests are tagged with `tag` when
    /// there is a run to join.
    Model {
        project: &'a Project,
        tag: Option<Tag<'a>>,
    },
    /// An agent CLI of the worker kind the question's `profile` names, in its seat.
    Agent(Seat<'a>),
}

/// Asks `question` of `by` until an answer reads, or the attempts run out (`Err` with the
/// last problems).
pub(crate) async fn ask<T>(
    by: &By<'_>,
    question: &Question<'_, T>,
) -> Result<Result<Answered<T>, (u32, String)>, PipelineError> {
    match by {
        By::Model { project, tag } => dispatched(project, question, tag.as_ref()).await,
        By::Agent(seat) => crate::agent_answer::ask(seat, question).await,
    }
}

/// [`ask`] of a model: the request ids are the dispatches'.
async fn dispatched<T>(
    project: &Project,
    question: &Question<'_, T>,
    tag: Option<&Tag<'_>>,
) -> Result<Result<Answered<T>, (u32, String)>, PipelineError> {
    retry(question.max_attempts, |_, problems| async move {
        let request = DispatchRequest {
            task: (question.prompt)(problems.as_deref()),
            profile: Some(question.profile.to_string()),
            start_servers: true,
            answer_schema: Some(AnswerSchema {
                name: question.schema_name.to_string(),
                schema: question.schema.clone(),
            }),
            answer_format: Some(answer_format(&question.schema)),
            ..DispatchRequest::default()
        };
        let response = dispatch(project, request, &mut NullSink, &Silent).await?;
        if let Some(tag) = tag {
            project.store()?.tag_run_request(
                &response.request_id,
                tag.run_id,
                None,
                question.role,
                tag.phase,
            )?;
        }
        let read = (question.read)(&response.reply);
        Ok((response.request_id, read))
    })
    .await
}

/// Asks with `once` (given the attempt, from 1, and the last answer's problems) until an
/// answer reads, at most `max_attempts` times. `once` gives the id of who answered (a
/// request, a worker) and the answer read, or its problems.
pub(crate) async fn retry<T, F, Fut>(
    max_attempts: u32,
    mut once: F,
) -> Result<Result<Answered<T>, (u32, String)>, PipelineError>
where
    F: FnMut(u32, Option<String>) -> Fut,
    Fut: Future<Output = Result<(String, Result<T, String>), PipelineError>>,
{
    let attempts = max_attempts.max(1);
    let mut problems: Option<String> = None;
    let mut request_ids = Vec::new();
    for attempt in 1..=attempts {
        let (id, read) = once(attempt, problems.take()).await?;
        request_ids.push(id);
        match read {
            Ok(value) => {
                return Ok(Ok(Answered {
                    value,
                    attempts: attempt,
                    request_ids,
                }));
            }
            Err(found) => problems = Some(found),
        }
    }
    Ok(Err((
        attempts,
        problems.unwrap_or_else(|| "no answer".into()),
    )))
}
