//! Running a planned request: for each step of the chain, take a slot from the backend's
//! pool, stream the reply, retry retryable failures with backoff (honouring `Retry-After`),
//! then fall back to the next step. Every attempt becomes a ledger record; the caller
//! writes them. A reply that breaks midway is taken back from the sink before the next try;
//! so is one cut because it looped on itself, which is then retried once on the same step
//! with anti-repetition sampling (where the backend takes it) before the chain falls back.

use baton_core::now_ms;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_config::{DEFAULT_SYSTEM_PROMPT, Settings};
use baton_core::{
    CallOutcome, CallRecord, ChatMessage, ChatRequest, ErrorClass, Locality, Route, Usage,
};
use tokio::time::Instant;

use crate::client::{CallTarget, Completion, StreamFailure, http_client, stream_chat};
use crate::error::{CallError, DispatchError};
use crate::pool::Pool;
use crate::router::{RoutePlan, Target};
use crate::secret::{ApiKey, redact_url};
use crate::wire::sampling_sent;

/// Where reply text goes as it arrives.
pub trait ReplySink: Send {
    /// More text of the current attempt.
    fn delta(&mut self, text: &str) -> std::io::Result<()>;
    /// The current attempt's text is not the reply (its stream broke): take it back.
    fn discard(&mut self) -> std::io::Result<()>;
    /// Something the user should be told (retries, fallbacks), on stderr.
    fn notice(&mut self, text: &str);
}

/// A sink that keeps nothing and says nothing (classification, tests).
pub struct NullSink;

impl ReplySink for NullSink {
    fn delta(&mut self, _text: &str) -> std::io::Result<()> {
        Ok(())
    }
    fn discard(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn notice(&mut self, _text: &str) {}
}

/// What to send.
#[derive(Debug, Clone)]
pub struct DispatchInput {
    pub request_id: String,
    /// The user message: the task with its context.
    pub user: String,
    /// A system prompt that replaces each profile's own (`--system`).
    pub system_override: Option<String>,
    /// Instructions appended to the system prompt, whichever it is: how the reply must be
    /// written (the edit format of `dispatch --apply`).
    pub answer_format: Option<String>,
    /// The JSON schema the answer must follow, sent as structured output.
    pub answer_schema: Option<baton_core::AnswerSchema>,
}

impl DispatchInput {
    /// Estimated tokens of the prompt (system and user messages) a step sends.
    pub fn prompt_tokens(&self, target: &Target) -> u64 {
        baton_core::usage::estimate_tokens_from_chars(chat_request(target, self).content_chars())
    }
}

/// Below this many estimated prompt tokens, a server's lower count is not worth a warning.
const TRUNCATION_CHECK_MIN_TOKENS: u64 = 256;

/// A reply and how it was obtained.
#[derive(Debug, Clone)]
pub struct DispatchResult {
    pub reply: String,
    pub target: Target,
    pub endpoint: String,
    pub usage: Usage,
    pub ttft: Option<Duration>,
    /// Wall time of the whole dispatch, retries and fallbacks included.
    pub latency: Duration,
    pub reported_prompt_tokens: Option<u64>,
    pub attempts: Vec<CallRecord>,
}

impl DispatchResult {
    /// `(counted, sent)` when the server counted far fewer prompt tokens than were sent:
    /// the mark of a server silently truncating context.
    pub fn suspected_truncation(&self, input: &DispatchInput) -> Option<(u64, u64)> {
        let counted = self.reported_prompt_tokens?;
        let sent = input.prompt_tokens(&self.target);
        (sent >= TRUNCATION_CHECK_MIN_TOKENS && counted * 2 < sent).then_some((counted, sent))
    }
}

/// A dispatch that got no reply, with the attempts it made.
#[derive(Debug)]
pub struct DispatchFailure {
    pub error: DispatchError,
    pub attempts: Vec<CallRecord>,
}

/// The chat request a step sends.
pub fn chat_request(target: &Target, input: &DispatchInput) -> ChatRequest {
    let system = input
        .system_override
        .clone()
        .or_else(|| target.system_prompt.clone())
        .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_string());
    let system = match &input.answer_format {
        Some(format) => format!("{system}\n\n{format}"),
        None => system,
    };
    ChatRequest {
        model: target.model.clone(),
        messages: vec![
            ChatMessage::system(system),
            ChatMessage::user(input.user.clone()),
        ],
        temperature: target.temperature,
        max_tokens: target.max_tokens,
        sampling: target.sampling,
        answer_schema: input.answer_schema.clone(),
    }
}

/// Runs requests; owns one HTTP client and one pool per backend, shared by concurrent
/// dispatches.
pub struct Dispatcher {
    settings: Arc<Settings>,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

impl Dispatcher {
    pub fn new(settings: Arc<Settings>) -> Self {
        Self {
            settings,
            pools: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The pool of a backend, made on first use.
    pub fn pool(&self, target: &Target) -> Result<Arc<Pool>, CallError> {
        let mut pools = self
            .pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pool) = pools.get(&target.backend_name) {
            return Ok(Arc::clone(pool));
        }
        let http = http_client(&target.backend).map_err(|error| CallError::Connect {
            url: target
                .backend
                .urls
                .first()
                .map(|u| redact_url(u))
                .unwrap_or_default(),
            reason: format!("cannot build the HTTP client: {error}"),
        })?;
        let pool = Pool::new(
            &target.backend.urls,
            target.backend.slots,
            target.backend.failures_before_eject,
            http,
        );
        pools.insert(target.backend_name.clone(), Arc::clone(&pool));
        Ok(pool)
    }

    /// The HTTP client of a backend's pool.
    pub fn http(&self, target: &Target) -> Result<reqwest::Client, CallError> {
        Ok(self.pool(target)?.http().clone())
    }

    /// Sends the request along the plan's chain until a step answers.
    pub async fn dispatch(
        &self,
        plan: &RoutePlan,
        input: &DispatchInput,
        sink: &mut dyn ReplySink,
    ) -> Result<DispatchResult, DispatchFailure> {
        let started = Instant::now();
        let mut attempts: Vec<CallRecord> = Vec::new();
        let mut failures: Vec<(String, CallError)> = Vec::new();
        for (step, target) in plan.chain.iter().enumerate() {
            if step > 0 {
                let (_, last) = failures
                    .last()
                    .map_or(("", "it failed".to_string()), |(l, e)| {
                        (l.as_str(), e.to_string())
                    });
                sink.notice(&format!(
                    "falling back to {} ({}): {last}",
                    target.label(),
                    target.locality()
                ));
            }
            match self
                .run_step(plan, target, input, sink, &mut attempts, &mut failures)
                .await
            {
                Ok(Some((completion, endpoint))) => {
                    return Ok(DispatchResult {
                        reply: completion.text,
                        target: target.clone(),
                        endpoint,
                        usage: completion.usage,
                        ttft: completion.ttft,
                        latency: started.elapsed(),
                        reported_prompt_tokens: completion.reported_prompt_tokens,
                        attempts,
                    });
                }
                Ok(None) => {}
                Err(error) => return Err(DispatchFailure { error, attempts }),
            }
        }
        Err(DispatchFailure {
            error: DispatchError::Exhausted { failures },
            attempts,
        })
    }

    /// Tries one step with its retries. `Ok(None)`: the step failed, go on.
    async fn run_step(
        &self,
        plan: &RoutePlan,
        target: &Target,
        input: &DispatchInput,
        sink: &mut dyn ReplySink,
        attempts: &mut Vec<CallRecord>,
        failures: &mut Vec<(String, CallError)>,
    ) -> Result<Option<(Completion, String)>, DispatchError> {
        let mut request = chat_request(target, input);
        let api_key = match target.backend.api_key_env.as_deref() {
            Some(var) => match ApiKey::from_env(var) {
                Some(key) => Some(key),
                None => {
                    failures.push((
                        target.label(),
                        CallError::MissingKey {
                            backend: target.backend_name.clone(),
                            var: var.into(),
                        },
                    ));
                    return Ok(None);
                }
            },
            None => None,
        };
        let pool = match self.pool(target) {
            Ok(pool) => pool,
            Err(error) => {
                failures.push((target.label(), error));
                return Ok(None);
            }
        };
        let mut avoid: Option<String> = None;
        // Retries of retryable failures made so far; the one retry after a loop is apart.
        let mut try_index = 0;
        let mut retried_loop = false;
        loop {
            let step = Step {
                settings: &self.settings,
                plan,
                target,
                input,
                request: &request,
            };
            let attempt_started = Instant::now();
            let started_at_ms = now_ms();
            let lease = match pool
                .acquire(avoid.as_deref(), target.backend.queue_timeout)
                .await
            {
                Ok(lease) => lease,
                Err(error) => {
                    let failed = Err(Failed {
                        error: &error,
                        latency: attempt_started.elapsed(),
                        ttft: None,
                        received_chars: 0,
                    });
                    attempts.push(step.record(attempts.len(), started_at_ms, "", failed));
                    failures.push((target.label(), error));
                    return Ok(None);
                }
            };
            let call_target = CallTarget {
                backend_name: &target.backend_name,
                backend: &target.backend,
                base_url: &lease.url,
                api_key: api_key.as_ref(),
                cut_repetition: target.repetition.cut,
            };
            let endpoint = redact_url(&lease.url);
            tracing::debug!(step = %target.label(), %endpoint, attempt = attempts.len() + 1, "sending");
            let mut forward = |text: &str| sink.delta(text);
            let outcome = stream_chat(pool.http(), &call_target, &request, &mut forward).await;
            let (error, received_chars, ttft, latency) = match outcome {
                Ok(completion) => {
                    lease.report(true);
                    let record =
                        step.record(attempts.len(), started_at_ms, &endpoint, Ok(&completion));
                    attempts.push(record);
                    return Ok(Some((completion, endpoint)));
                }
                Err(StreamFailure::Sink(error)) => return Err(DispatchError::Output(error)),
                Err(StreamFailure::Call {
                    error,
                    received_chars,
                    ttft,
                    latency,
                }) => (error, received_chars, ttft, latency),
            };
            lease.report(!error.blames_endpoint());
            drop(lease);
            let failed = Err(Failed {
                error: &error,
                latency,
                ttft,
                received_chars,
            });
            attempts.push(step.record(attempts.len(), started_at_ms, &endpoint, failed));
            if received_chars > 0 {
                sink.discard().map_err(DispatchError::Output)?;
                sink.notice(&match &error {
                    CallError::Repetition { found, .. } => format!(
                        "the reply from {endpoint} looped on itself ({}); it was cut and discarded",
                        found.describe()
                    ),
                    _ => format!(
                        "the reply from {endpoint} broke after {received_chars} characters; that partial reply was discarded"
                    ),
                });
            }
            tracing::debug!(step = %target.label(), %endpoint, %error, "attempt failed");
            if let CallError::Repetition { .. } = error {
                failures.push((target.label(), error));
                // Once, and only with something the server takes: the same request would
                // loop the same way.
                let added = sampling_sent(&target.backend, &target.repetition.retry);
                if retried_loop || added.is_empty() {
                    return Ok(None);
                }
                retried_loop = true;
                request.sampling = request.sampling.overlay(&target.repetition.retry);
                let fields: Vec<String> = added
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                sink.notice(&format!(
                    "retrying {} once with anti-repetition sampling ({})",
                    target.label(),
                    fields.join(", ")
                ));
                continue;
            }
            let retry_after = error.retry_after();
            let retryable = error.class() == ErrorClass::Retryable;
            avoid = Some(endpoint.clone());
            failures.push((target.label(), error));
            if !retryable || try_index >= target.backend.retries {
                return Ok(None);
            }
            let wait = match retry_wait(&target.backend, try_index, retry_after) {
                Ok(wait) => wait,
                Err(asked) => {
                    sink.notice(&format!(
                        "{endpoint} asks to retry after {:.1}s, longer than max_backoff {:.1}s; not waiting",
                        asked.as_secs_f64(),
                        target.backend.max_backoff.as_secs_f64()
                    ));
                    return Ok(None);
                }
            };
            sink.notice(&format!(
                "retrying {} in {:.2}s (attempt {} of {})",
                target.label(),
                wait.as_secs_f64(),
                try_index + 2,
                target.backend.retries + 1
            ));
            tokio::time::sleep(wait).await;
            try_index += 1;
        }
    }

    /// Decides the route of `--route auto`: the `routes.auto.classifier` profile is asked
    /// whether the task needs the cloud; without one, or without a usable answer, the rules
    /// of [`crate::router::classify`] decide. Returns the route, why, and the classifier's
    /// ledger records.
    pub async fn auto_route(
        &self,
        task: &str,
        prompt_tokens: u64,
        request_id: &str,
    ) -> ((Route, String), Vec<CallRecord>) {
        let (by_model, records) = self.classify_with_model(task, request_id).await;
        let decided = by_model
            .unwrap_or_else(|| crate::router::classify(&self.settings, task, prompt_tokens));
        (decided, records)
    }

    /// The classifier's answer, `None` when no classifier is configured or it gave no
    /// usable answer.
    async fn classify_with_model(
        &self,
        task: &str,
        request_id: &str,
    ) -> (Option<(Route, String)>, Vec<CallRecord>) {
        let name = self.settings.routes.auto.classifier.clone();
        if name.is_empty() {
            return (None, Vec::new());
        }
        let Ok(mut plan) = crate::router::plan(&self.settings, &name, Route::Local, None) else {
            return (None, Vec::new());
        };
        plan.chain.truncate(1);
        for target in &mut plan.chain {
            target.max_tokens = 4;
            target.temperature = 0.0;
        }
        let input = DispatchInput {
            request_id: request_id.into(),
            user: format!("Task:\n{task}\n\nAnswer with one word."),
            system_override: Some(
                "You route coding tasks. Answer LOCAL if a small local code model can do the task \
                 (writing or fixing code, tests, refactoring). Answer API if it needs a strong \
                 model (architecture, design, security review, long multi-step reasoning)."
                    .into(),
            ),
            answer_format: None,
            answer_schema: None,
        };
        match self.dispatch(&plan, &input, &mut NullSink).await {
            Ok(result) => {
                let answer = result.reply.trim().to_uppercase();
                let route = if answer.starts_with("API") {
                    Some((
                        Route::Api,
                        format!("auto: classifier `{name}` answered API"),
                    ))
                } else if answer.starts_with("LOCAL") {
                    Some((
                        Route::Local,
                        format!("auto: classifier `{name}` answered LOCAL"),
                    ))
                } else {
                    None
                };
                (route, result.attempts)
            }
            Err(failure) => (None, failure.attempts),
        }
    }
}

/// A failed attempt, as its ledger record needs it.
struct Failed<'a> {
    error: &'a CallError,
    latency: Duration,
    /// When the first token came; `None` when none did.
    ttft: Option<Duration>,
    /// Characters of reply received before it failed.
    received_chars: usize,
}

/// What every attempt of one step of the chain shares.
struct Step<'a> {
    settings: &'a Settings,
    plan: &'a RoutePlan,
    target: &'a Target,
    input: &'a DispatchInput,
    request: &'a ChatRequest,
}

impl Step<'_> {
    /// The ledger record of one attempt of this step.
    fn record(
        &self,
        previous: usize,
        started_at_ms: i64,
        endpoint: &str,
        outcome: Result<&Completion, Failed<'_>>,
    ) -> CallRecord {
        let Step {
            settings,
            plan,
            target,
            input,
            request,
        } = *self;
        let (usage, latency, ttft, call_outcome, error_class, error) = match outcome {
            Ok(completion) => (
                completion.usage,
                completion.latency,
                completion.ttft,
                CallOutcome::Ok,
                None,
                None,
            ),
            Err(failed) => (
                failed_usage(request, &failed),
                failed.latency,
                failed.ttft,
                CallOutcome::Error,
                Some(failed.error.class()),
                Some(failed.error.to_string()),
            ),
        };
        let (cost_usd, avoided_usd) = price(settings, target, &usage);
        CallRecord {
            id: uuid::Uuid::now_v7().to_string(),
            request_id: input.request_id.clone(),
            started_at_ms,
            profile: target.profile.clone(),
            route: plan.route.to_string(),
            backend: target.backend_name.clone(),
            endpoint: endpoint.to_string(),
            model: target.model.clone(),
            locality: target.locality(),
            attempt: u32::try_from(previous + 1).unwrap_or(u32::MAX),
            usage,
            latency_ms: duration_ms(latency),
            ttft_ms: ttft.map(duration_ms),
            outcome: call_outcome,
            error_class,
            error,
            cache_hit: false,
            cost_usd,
            avoided_usd,
        }
    }
}

/// The usage of a failed attempt, estimated: no server reports usage for a reply it did not
/// finish. Only an attempt a model answered (a first token came) counts tokens: its prompt,
/// and the reply received before it broke. One that never got a token (refused, an HTTP
/// error, a timeout before the first token, no free slot) counts none, so it adds nothing to
/// the local or cloud tokens, nor to the cost spent or avoided; the ledger still shows it as
/// an error, with its latency. `baton-store`'s stats read older rows by the same rule.
fn failed_usage(request: &ChatRequest, failed: &Failed<'_>) -> Usage {
    let estimate = baton_core::usage::estimate_tokens_from_chars;
    match failed.ttft {
        // A reply cut for looping knows how many tokens it ran to.
        Some(_) => Usage {
            prompt_tokens: estimate(request.content_chars()),
            completion_tokens: failed
                .error
                .generated_tokens()
                .unwrap_or_else(|| estimate(failed.received_chars)),
            cached_tokens: 0,
            estimated: true,
        },
        None => Usage {
            estimated: true,
            ..Usage::default()
        },
    }
}

/// The ledger record of a reply served from the cache in place of `plan`'s first step
/// `target`. `backend` and `model` are those that wrote the cached reply, `usage` what it
/// took then. Nothing is spent; whatever the call would have cost is avoided.
pub fn cache_hit_record(
    settings: &Settings,
    plan: &RoutePlan,
    target: &Target,
    request_id: &str,
    backend: &str,
    model: &str,
    usage: Usage,
) -> CallRecord {
    let (cloud_cost, local_avoided) = price(settings, target, &usage);
    CallRecord {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: request_id.into(),
        started_at_ms: now_ms(),
        profile: target.profile.clone(),
        route: plan.route.to_string(),
        backend: backend.into(),
        endpoint: String::new(),
        model: model.into(),
        locality: target.locality(),
        attempt: 1,
        usage,
        latency_ms: 0,
        ttft_ms: Some(0),
        outcome: CallOutcome::CacheHit,
        error_class: None,
        error: None,
        cache_hit: true,
        cost_usd: 0.0,
        avoided_usd: cloud_cost + local_avoided,
    }
}

/// How long to wait before retry number `try_index + 1` on `backend`: the backoff, doubling
/// up to `max_backoff`, or longer when the server asked (`Retry-After`). `Err(asked)` when
/// the server asks for more than `max_backoff`: not worth waiting on this backend.
pub fn retry_wait(
    backend: &baton_config::BackendSettings,
    try_index: u32,
    retry_after: Option<Duration>,
) -> Result<Duration, Duration> {
    let backoff = backend
        .backoff
        .saturating_mul(1 << try_index.min(16))
        .min(backend.max_backoff);
    match retry_after {
        Some(asked) if asked > backend.max_backoff => Err(asked),
        Some(asked) => Ok(asked.max(backoff)),
        None => Ok(backoff),
    }
}

/// What a call cost (cloud) and what it saved (local tokens at the reference cloud rate).
pub fn price(settings: &Settings, target: &Target, usage: &Usage) -> (f64, f64) {
    match target.locality() {
        Locality::Cloud => (
            target.backend.price_per_mtok.map_or(0.0, |price| {
                price.cost(usage.prompt_tokens, usage.completion_tokens)
            }),
            0.0,
        ),
        Locality::Local => (
            0.0,
            settings
                .stats
                .reference_price_per_mtok
                .cost(usage.prompt_tokens, usage.completion_tokens),
        ),
    }
}

/// Whole milliseconds of `duration`, saturating.
pub fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
