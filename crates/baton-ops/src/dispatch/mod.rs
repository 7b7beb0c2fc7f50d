//! Dispatch: one coding subtask to a model, in steps — gather the context (`context.rs`),
//! plan the route (pinned, or `auto` by rules and an optional classifier), check the request
//! fits what the servers really serve (`preflight.rs`, starting a step's server first when it
//! is down), serve it from the cache or stream it along the chain, record every attempt in
//! the ledger (`record.rs`), and apply the reply to files when asked.
//!
//! The reply goes to the caller's [`ReplySink`] as it streams (and is taken back from it when
//! an attempt breaks); notices go to the caller's [`Notices`] and into the response.

mod context;
mod preflight;
mod record;

use std::path::PathBuf;

use baton_core::{CallRecord, Locality, Route, Usage, estimate_tokens};
use baton_llm::ReplySink;
use baton_llm::dispatch::{DispatchInput, chat_request};
use baton_llm::router::{self, Target};
use serde::Serialize;

use crate::apply::{ApplyRequest, ApplyResponse, ApplyTarget};
use crate::notice::{Kept, Notice, Notices};
use crate::{OpsError, Project};

/// Whether the exact-request cache serves and keeps this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CachePolicy {
    /// As the profile (or `dispatch.cache`) says.
    #[default]
    Profile,
    /// Serve an identical earlier request from the cache, and cache this one.
    Use,
    /// Never, even if the profile asks for it.
    Skip,
}

/// One coding subtask.
#[derive(Debug, Clone, Default)]
pub struct DispatchRequest {
    /// The task, stated fully.
    pub task: String,
    /// Context the caller read (the CLI's piped stdin).
    pub stdin: Option<String>,
    /// Files or globs, relative to the working directory, framed with their paths.
    pub context: Vec<String>,
    /// Long documents to take the sections most relevant to the task from.
    pub context_from: Vec<PathBuf>,
    /// A system prompt replacing each profile's own.
    pub system: Option<String>,
    /// The profile (default: `dispatch.profile`).
    pub profile: Option<String>,
    /// The route (default: `dispatch.route`).
    pub route: Option<Route>,
    pub cache: CachePolicy,
    /// Start a step's `[servers.NAME]` server when it is down (else that is an error).
    pub start_servers: bool,
    /// Ask for the profile's edit format and apply the reply to files.
    pub apply: Option<ApplyTarget>,
    /// The JSON schema the answer must follow (structured output; a plan, a verdict).
    pub answer_schema: Option<baton_core::AnswerSchema>,
    /// Instructions appended to the system prompt (when not applying edits, whose format
    /// instructions take this place).
    pub answer_format: Option<String>,
}

/// The route asked for and taken, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteTaken {
    pub requested: Route,
    pub taken: Route,
    pub why: String,
    /// Steps left out, with why (e.g. an API key variable that is not set).
    pub skipped: Vec<(String, String)>,
}

/// An attempt that gave no reply (a retry or a fallback followed it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedAttempt {
    pub backend: String,
    pub endpoint: String,
    pub model: String,
    pub attempt: u32,
    pub error_class: Option<baton_core::ErrorClass>,
    pub error: String,
    /// The reply looped on itself and was cut (`degenerate repetition: …`); the next attempt
    /// was sent with anti-repetition sampling.
    pub cut_for_repetition: bool,
}

/// A dispatch's answer: the one shape `dispatch --json`, the MCP `dispatch` tool and the
/// pipeline read.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchResponse {
    pub request_id: String,
    pub reply: String,
    pub backend: String,
    /// The endpoint that answered; `None` for a reply from the cache.
    pub endpoint: Option<String>,
    pub model: String,
    pub profile: String,
    pub locality: Locality,
    pub route: RouteTaken,
    pub usage: Usage,
    /// Wall time of the whole dispatch, retries and fallbacks included (0 from the cache).
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    /// The attempt number that answered; 0 for a reply from the cache (nothing was sent).
    pub attempts: u32,
    pub cache_hit: bool,
    pub cost_usd: f64,
    /// The attempts before the one that answered, and why each failed.
    pub failed_attempts: Vec<FailedAttempt>,
    /// Where the reply was written, when not to the caller's stream (set by the front end).
    pub output: Option<String>,
    /// What applying the reply did, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<ApplyResponse>,
    /// What the dispatch said on the way: retries, fallbacks, warnings.
    pub notices: Vec<Notice>,
}

/// A reply sink that sends the dispatcher's notices to the caller's [`Notices`].
struct Sink<'a> {
    reply: &'a mut dyn ReplySink,
    notices: &'a dyn Notices,
}

impl ReplySink for Sink<'_> {
    fn delta(&mut self, text: &str) -> std::io::Result<()> {
        self.reply.delta(text)
    }

    fn discard(&mut self) -> std::io::Result<()> {
        self.reply.discard()
    }

    fn notice(&mut self, text: &str) {
        self.notices.notice(Notice::info(text));
    }
}

/// What applying needs once the reply is in.
struct ApplyPlan {
    format: baton_core::EditFormat,
    options: baton_edit::ApplyOptions,
    /// The context files under the root, relative to it (see `ApplyRequest::context_files`).
    context_files: Vec<String>,
}

/// Dispatches `request`; see the module documentation.
pub async fn dispatch(
    project: &Project,
    request: DispatchRequest,
    reply: &mut dyn ReplySink,
    notices: &dyn Notices,
) -> Result<DispatchResponse, OpsError> {
    let kept = Kept::new(notices);
    let mut sink = Sink {
        reply,
        notices: &kept,
    };
    let mut response = run(project, request, &mut sink, &kept).await?;
    response.notices = kept.into_notices();
    Ok(response)
}

async fn run(
    project: &Project,
    request: DispatchRequest,
    sink: &mut Sink<'_>,
    notices: &dyn Notices,
) -> Result<DispatchResponse, OpsError> {
    if request.task.trim().is_empty() {
        return Err(OpsError::invalid(
            "the task must not be empty",
            "state the subtask fully: the model sees nothing else but its context",
        ));
    }
    // Checked before any model is called: a bad root would waste the call.
    let apply_options = request
        .apply
        .as_ref()
        .map(|target| crate::apply::options(project, target))
        .transpose()?;
    let settings = project.settings()?;
    let dispatcher = project.dispatcher()?;
    let pool = project.pool()?;
    let profile = request
        .profile
        .clone()
        .unwrap_or_else(|| settings.dispatch.profile.clone());
    let requested = request.route.unwrap_or(settings.dispatch.route);
    let request_id = uuid::Uuid::now_v7().to_string();

    let (mut parts, files) = context::direct(project, request.stdin.clone(), &request.context)?;
    let direct_tokens: u64 =
        parts.iter().map(|part| part.tokens).sum::<u64>() + estimate_tokens(&request.task);

    // Route: pinned, or auto by rules (and a classifier model when configured).
    let mut ledger: Vec<CallRecord> = Vec::new();
    let decided = if requested == Route::Auto {
        let (decided, records) = dispatcher
            .auto_route(&request.task, direct_tokens, &request_id)
            .await;
        ledger.extend(records);
        Some(decided)
    } else {
        None
    };
    let mut plan = router::plan(&settings, &profile, requested, decided)?;
    tracing::info!(route = %plan.route, why = %plan.reason, chain = ?plan.chain.iter().map(Target::label).collect::<Vec<_>>(), "route chosen");
    let budget = plan.context_budget(&settings);
    context::sections(
        project,
        &request.context_from,
        &request.task,
        budget,
        &mut parts,
    )?;
    baton_llm::context::check_budget(&parts, budget)?;
    let user = baton_llm::context::user_message(&request.task, &parts);
    // The format the first step's profile asks for; fallbacks are asked the same, so that
    // the reply parses whichever step wrote it.
    let apply = match (apply_options, plan.chain.first()) {
        (Some(options), Some(first)) => Some(ApplyPlan {
            format: first.edit_format,
            context_files: match options.allow.as_deref() {
                // The one file the reply may change is the one a block without a path means,
                // however many files the model was shown.
                Some([only]) if !only.ends_with('/') => vec![only.clone()],
                _ => files
                    .iter()
                    .filter_map(|file| context::relative_to(&options.root, &project.resolve(file)))
                    .collect(),
            },
            options,
        }),
        _ => None,
    };
    let input = DispatchInput {
        request_id: request_id.clone(),
        user,
        system_override: request.system.clone(),
        answer_format: apply
            .as_ref()
            .map(|apply| baton_edit::prompt(apply.format).to_string())
            .or_else(|| request.answer_format.clone()),
        answer_schema: request.answer_schema.clone(),
    };

    // A first step served by a `[servers.NAME]` entry gets its server started if it is down.
    if let Some(first) = plan.chain.first()
        && let Some(server) = first.backend.server.clone()
    {
        crate::servers::ensure_up(
            project,
            &server,
            &first.label(),
            request.start_servers,
            notices,
        )
        .await?;
    }
    preflight::check(&dispatcher, &pool, &settings, &mut plan, &input, notices).await?;

    let first = plan
        .chain
        .first()
        .cloned()
        .ok_or_else(|| OpsError::internal("no backend left to try after the preflight"))?;
    let use_cache = match request.cache {
        CachePolicy::Use => true,
        CachePolicy::Skip => false,
        CachePolicy::Profile => settings.dispatch.cache || first.cache,
    };
    let cache_key =
        use_cache.then(|| baton_llm::cache::key(&first, &chat_request(&first, &input), &parts));
    let served = match record::from_cache(
        &pool,
        &settings,
        &plan,
        &first,
        &request_id,
        cache_key.as_deref(),
        &mut ledger,
    )? {
        Some(served) => {
            sink.delta(&served.reply)
                .map_err(|source| OpsError::Output {
                    what: "the reply".into(),
                    source,
                })?;
            served
        }
        None => {
            let result = dispatcher.dispatch(&plan, &input, sink).await;
            record::streamed(
                &pool,
                &plan,
                &input,
                cache_key.as_deref(),
                &mut ledger,
                result,
                notices,
            )?
        }
    };
    let applied = match apply {
        Some(apply) => Some(crate::apply::apply_with(
            &*pool.get()?,
            &ApplyRequest {
                reply: served.reply.clone(),
                format: Some(apply.format),
                target: ApplyTarget::default(),
                model: Some(served.record.model.clone()),
                request_id: Some(request_id.clone()),
                context_files: apply.context_files,
            },
            &apply.options,
        )?),
        None => None,
    };
    Ok(record::response(&plan, &request_id, served, applied))
}
