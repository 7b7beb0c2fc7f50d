//! A structured answer (the architect's plan, the reviewer's verdict) asked of an agent CLI
//! instead of a model: `[roles] architect` or `reviewer` naming a worker kind.
//!
//! Each attempt is one worker of that kind under a supervisor, started as a subtask's agent
//! is (`agent.rs`): in a worktree of its own, detached at the commit it is to judge, so that
//! nothing it does reaches the run's branch, and stopped if the run is. It gets the prompt a
//! model would, the JSON schema, and a memory key to store its answer under (a key per
//! attempt, so that an earlier answer never stands for a later one). Its answer is read from
//! that key, else from its final message (the JSON object taken out of prose or a fence),
//! and checked as a model's is; an invalid one goes to a new worker with its problems.
//! Whatever it changed is thrown away and reported: an agent that designs or judges does not
//! write. The usage its CLI reports goes into the ledger under its role.

use std::path::{Path, PathBuf};

use baton_core::plan::extract_json_object;
use baton_core::{Phase, WorkerStatus};
use baton_ops::Project;
use baton_ops::workers::{AgentScope, SpawnRequest};
use baton_store::RunRole;

use crate::PipelineError;
use crate::agent::{self, Doer, RESULTS_NAMESPACE};
use crate::answer::{Answered, Question, answer_format, retry};
use crate::ctx::Ctx;
use crate::record::Recorder;

/// Where and for whom an agent answers.
pub(crate) struct Seat<'a> {
    pub project: &'a Project,
    /// The checkout its worktrees are added from, and the commit they start at.
    pub from: &'a Path,
    pub at: String,
    /// Where its worktrees go (`.baton/worktrees`).
    pub dir: PathBuf,
    /// The run it answers for; `None` before one exists (a dry run): nothing is tagged.
    pub run: Option<&'a str>,
    /// The run's id, or a dry run's stand-in: the first part of the names below.
    pub owner: String,
    /// What it is in the run (`architect`, `review-2`): it names the worker
    /// (`OWNER/architect`, which `stop_leftovers` finds), its worktrees
    /// (`OWNER.architect.N`) and memory keys (`OWNER/architect.N`).
    pub stem: String,
    pub phase: Phase,
    /// The run's git lock, when other work may run git in the same repository.
    pub lock: Option<&'a tokio::sync::Mutex<()>>,
    /// Where what it changed (and lost) is told; `None`: a dry run, which keeps nothing.
    pub recorder: Option<&'a Recorder<'a>>,
}

impl<'a> Seat<'a> {
    /// The architect's seat: worktrees in `dir` (`.baton/worktrees`) at the run's base
    /// commit, taken from the repository (the run's worktree may not exist yet, as in a dry
    /// run). `run`: the run's id and recorder; `None` in a dry run.
    pub(crate) fn architect(
        project: &'a Project,
        repo: &'a Path,
        dir: PathBuf,
        base: &str,
        run: Option<(&'a str, &'a Recorder<'a>)>,
    ) -> Seat<'a> {
        let (run, recorder) = run.unzip();
        let owner = run.map_or_else(
            || {
                let nonce = uuid::Uuid::now_v7().simple().to_string();
                format!("dry-run-{}", &nonce[nonce.len() - 8..])
            },
            str::to_string,
        );
        Seat {
            project,
            from: repo,
            at: base.to_string(),
            dir,
            run,
            owner,
            stem: "architect".into(),
            phase: Phase::Architecture,
            lock: None,
            recorder,
        }
    }

    /// The reviewer's seat in review round `round`: worktrees at the run branch's head.
    pub(crate) fn reviewer(ctx: &'a Ctx<'a>, round: u32) -> Seat<'a> {
        Seat {
            project: ctx.project,
            from: &ctx.worktree,
            at: "HEAD".into(),
            dir: agent::worktrees_dir(&ctx.worktree),
            run: Some(&ctx.run.id),
            owner: ctx.run.id.clone(),
            stem: format!("review-{round}"),
            phase: Phase::Review,
            lock: Some(&ctx.git_lock),
            recorder: Some(&ctx.recorder),
        }
    }

    fn note(&self, text: &str) {
        if let Some(recorder) = self.recorder {
            recorder.note(text);
        }
    }
}

/// Asks `question` of the worker kind `question.profile` names until an answer reads, or the
/// attempts run out (`Err` with the last problems): [`crate::answer::ask`] of
/// [`crate::answer::By::Agent`]. The request ids are the workers'.
pub(crate) async fn ask<T>(
    seat: &Seat<'_>,
    question: &Question<'_, T>,
) -> Result<Result<Answered<T>, (u32, String)>, PipelineError> {
    retry(question.max_attempts, |attempt, problems| async move {
        let key = format!("{}/{}.{attempt}", seat.owner, seat.stem);
        // A key an earlier coordinator of this run left (stopped, then resumed) must not
        // stand as this worker's answer.
        baton_ops::memory::delete(seat.project, RESULTS_NAMESPACE, &key).await?;
        let mut task = (question.prompt)(problems.as_deref());
        task.push_str(&instructions(question, &key));
        let place = seat
            .dir
            .join(format!("{}.{}.{attempt}", seat.owner, seat.stem));
        agent::in_scratch_worktree(
            seat.from,
            &seat.at,
            &place,
            seat.lock,
            |error| seat.note(&format!("{}: worktree not removed: {error}", seat.stem)),
            once(seat, question, &place, &task, &key),
        )
        .await
    })
    .await
}

/// What the agent's prompt adds to the model's: the schema, and how to answer.
fn instructions<T>(question: &Question<'_, T>, key: &str) -> String {
    format!(
        "\n\n{}\n\n\
         How to work:\n\
         - You are in a checkout of the repository as it stands for this {}; read what you \
         need. Change no file: changes are thrown away.\n\
         - If you have Baton's MCP tools, store the JSON object with `memory_store` \
         (namespace `{RESULTS_NAMESPACE}`, key `{key}`).\n\
         - End with the JSON object alone as your final message: no prose, no fence.\n",
        answer_format(&question.schema),
        question.schema_name
    )
}

/// One worker: spawned, waited for, its usage recorded and its changes reported. Its id and
/// its answer read (or why it gives none).
async fn once<T>(
    seat: &Seat<'_>,
    question: &Question<'_, T>,
    place: &Path,
    task: &str,
    key: &str,
) -> Result<(String, Result<T, String>), PipelineError> {
    let kind = question.profile;
    let doer = Doer::Kind(kind.to_string());
    let settings = seat.project.settings()?;
    let request = SpawnRequest {
        name: Some(format!("{}/{}", seat.owner, seat.stem)),
        kind: Some(kind.to_string()),
        prompt: Some(task.to_string()),
        cwd: Some(place.to_path_buf()),
        scope: Some(AgentScope {
            // It is to change nothing; CLIs that commit on their own are told not to.
            baton_commits: true,
            files: Vec::new(),
            read: Vec::new(),
            run: seat.run.map(str::to_string),
            subtask: Some(seat.stem.clone()),
        }),
        ..SpawnRequest::default()
    };
    let started = std::time::Instant::now();
    let (last, report) = agent::supervised(seat.project, request).await?;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if report.usage.is_some() {
        let (backend, model, locality) =
            agent::target_of(&settings, &doer, report.model.as_deref());
        let used = agent::Used {
            worker: &last.id,
            kind,
            backend: &backend,
            model: &model,
            locality,
            report: &report,
            latency_ms,
        };
        let tag = seat.run.map(|run| agent::UsageTag {
            run,
            subtask: None,
            role: question.role,
            phase: seat.phase,
        });
        agent::record_usage(seat.project, &used, tag.as_ref())?;
    }
    let changed = agent::changes(&settings, &doer, place).await?;
    if !changed.is_empty() {
        seat.note(&format!(
            "{}: `{kind}` changed {}; its changes were discarded ({} changes nothing)",
            seat.stem,
            changed.join(", "),
            role_name(question.role),
        ));
    }
    if last.status != WorkerStatus::Succeeded {
        return Ok((
            last.id.clone(),
            Err(format!(
                "the agent `{kind}` (worker {}) {}",
                last.id,
                agent::how_it_ended(&last)
            )),
        ));
    }
    let stored = baton_ops::memory::get(seat.project, RESULTS_NAMESPACE, key)
        .await
        .ok()
        .map(|entry| entry.value);
    let read = read_answer(
        [stored.as_deref(), report.message.as_deref()],
        question.read,
    );
    Ok((last.id, read))
}

fn role_name(role: RunRole) -> &'static str {
    match role {
        RunRole::Architect => "an architect",
        RunRole::Reviewer => "a reviewer",
        _ => "this role",
    }
}

/// The JSON object of an agent's reply: the whole reply, or the object it wraps in prose or
/// a ```json fence. A reply with none is a problem the agent is told of in words it can act
/// on (a parser's "expected value at line 1" is not).
pub(crate) fn answer_json(text: &str) -> Result<&str, String> {
    extract_json_object(text).ok_or_else(|| {
        let said: String = text.trim().chars().take(120).collect();
        format!(
            "the answer holds no JSON object (it began: {said:?}); answer with the JSON object only"
        )
    })
}

/// The first of `candidates` (the answer stored in memory, the final message) whose JSON
/// object reads; else the problems of the first one given.
fn read_answer<T>(
    candidates: [Option<&str>; 2],
    read: &(dyn Fn(&str) -> Result<T, String> + Sync),
) -> Result<T, String> {
    let mut first: Option<String> = None;
    for text in candidates.into_iter().flatten() {
        if text.trim().is_empty() {
            continue;
        }
        match answer_json(text).and_then(read) {
            Ok(value) => return Ok(value),
            Err(problems) => {
                first.get_or_insert(problems);
            }
        }
    }
    Err(first.unwrap_or_else(|| {
        "no answer: nothing stored under the memory key and no final message".into()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::plan::Verdict;

    const APPROVE: &str = r#"{"approved": true, "findings": [], "required_fixes": []}"#;

    fn verdict(text: &str) -> Result<Verdict, String> {
        Verdict::from_json(text)
    }

    #[test]
    fn a_bare_json_answer_is_taken_whole() {
        assert_eq!(answer_json(&format!("  {APPROVE}\n")), Ok(APPROVE));
    }

    #[test]
    fn the_json_object_is_taken_out_of_prose_and_a_json_fence() {
        let reply = format!(
            "I read the diff; it looks right.\n\n```json\n{APPROVE}\n```\n\nLet me know {{if}} more."
        );
        assert_eq!(answer_json(&reply), Ok(APPROVE));
    }

    #[test]
    fn braces_inside_strings_do_not_end_the_object() {
        let object =
            r#"{"approved": false, "findings": [], "required_fixes": ["close the } in `f()`"]}"#;
        let reply = format!("Verdict: {object} (done)");
        assert_eq!(answer_json(&reply), Ok(object));
    }

    #[test]
    fn a_reply_without_a_json_object_is_a_problem_that_says_so() {
        let problem = answer_json("Looks fine to me, ship it.").unwrap_err();
        assert!(problem.contains("holds no JSON object"), "{problem}");
        assert!(problem.contains("Looks fine to me"), "{problem}");
    }

    #[test]
    fn the_stored_answer_wins_and_the_final_message_stands_in_when_it_does_not_read() {
        let rejection = r#"{"approved": false, "findings": [], "required_fixes": ["test it"]}"#;
        let read = &verdict;
        assert!(
            !read_answer([Some(rejection), Some(APPROVE)], read)
                .unwrap()
                .approved
        );
        assert!(
            read_answer([Some("my account: done"), Some(APPROVE)], read)
                .unwrap()
                .approved
        );
        assert!(read_answer([None, Some(APPROVE)], read).unwrap().approved);
    }

    #[test]
    fn the_problems_are_the_first_answers_and_no_answer_at_all_is_said_so() {
        let read = &verdict;
        let problem = read_answer([Some("prose"), Some(r#"{"approved": 1}"#)], read).unwrap_err();
        assert!(problem.contains("holds no JSON object"), "{problem}");
        let problem = read_answer([None, Some(r#"{"approved": true}"#)], read).unwrap_err();
        assert!(problem.contains("findings"), "{problem}");
        let problem = read_answer([None, Some("  ")], read).unwrap_err();
        assert!(problem.starts_with("no answer"), "{problem}");
    }
}
