//! One streamed chat call to one endpoint, with its three timeouts: connect (in the HTTP
//! client), first token, and total. Text is handed to the caller as it arrives; a reply that
//! loops on itself is cut as it streams (see [`crate::repetition`]), which closes the
//! connection so that the server stops generating.

use std::time::Duration;

use baton_config::{BackendKind, BackendSettings};
use baton_core::{ChatRequest, Usage, estimate_tokens};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use tokio::time::{Instant, timeout_at};

use crate::error::{CallError, TimeoutPhase, parse_retry_after};
use crate::repetition::RepetitionGuard;
use crate::secret::{ApiKey, redact_url};
use crate::wire::{self, ReportedUsage, StreamEvent};

/// Largest error body read from a failed response.
const ERROR_BODY_MAX_BYTES: usize = 16 * 1024;

/// A complete reply from one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    pub ttft: Option<Duration>,
    pub latency: Duration,
    /// What the server reported before any estimate filled gaps (for truncation checks).
    pub reported_prompt_tokens: Option<u64>,
}

/// Why a call stopped.
#[derive(Debug)]
pub enum StreamFailure {
    /// The endpoint failed; `received_chars` of reply had already been handed out.
    Call {
        error: CallError,
        received_chars: usize,
        ttft: Option<Duration>,
        latency: Duration,
    },
    /// The caller could not take the text (e.g. stdout closed).
    Sink(std::io::Error),
}

/// Where the call goes.
pub struct CallTarget<'a> {
    pub backend_name: &'a str,
    pub backend: &'a BackendSettings,
    pub base_url: &'a str,
    pub api_key: Option<&'a ApiKey>,
    /// Cut the reply when it loops on itself ([`CallError::Repetition`]).
    pub cut_repetition: bool,
}

/// Builds the HTTP client for one backend (connect timeout; no proxy for local servers).
pub fn http_client(backend: &BackendSettings) -> reqwest::Result<reqwest::Client> {
    crate::init_tls();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(backend.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")));
    if backend.locality == baton_core::Locality::Local {
        builder = builder.no_proxy();
    }
    // Loading the system's root certificates reads and parses every file in the CA
    // directory: about 40% of a short `baton dispatch` to a plain-http local server, and an
    // error where there are none. A backend with only http:// URLs needs no roots.
    if backend.urls.iter().all(|url| url.starts_with("http://")) {
        builder = builder.tls_certs_only(std::iter::empty());
    }
    builder.build()
}

/// Streams one chat request, calling `on_delta` with each piece of text as it arrives. The
/// API key never appears in the error of a failed call, even when the server echoed it.
pub async fn stream_chat(
    http: &reqwest::Client,
    target: &CallTarget<'_>,
    request: &ChatRequest,
    on_delta: &mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
) -> Result<Completion, StreamFailure> {
    match (
        stream_chat_unredacted(http, target, request, on_delta).await,
        target.api_key,
    ) {
        (
            Err(StreamFailure::Call {
                error,
                received_chars,
                ttft,
                latency,
            }),
            Some(key),
        ) => Err(StreamFailure::Call {
            error: error.redact_key(key),
            received_chars,
            ttft,
            latency,
        }),
        (outcome, _) => outcome,
    }
}

async fn stream_chat_unredacted(
    http: &reqwest::Client,
    target: &CallTarget<'_>,
    request: &ChatRequest,
    on_delta: &mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
) -> Result<Completion, StreamFailure> {
    let started = Instant::now();
    let first_deadline = started
        + target
            .backend
            .first_token_timeout
            .min(target.backend.total_timeout);
    let total_deadline = started + target.backend.total_timeout;
    let shown_url = redact_url(target.base_url);
    let fail =
        |error: CallError, received_chars: usize, ttft: Option<Duration>| StreamFailure::Call {
            error,
            received_chars,
            ttft,
            latency: started.elapsed(),
        };
    let timeout_error = |phase: TimeoutPhase, deadline: Instant| CallError::Timeout {
        url: shown_url.clone(),
        phase,
        after: deadline.saturating_duration_since(started),
    };

    let builder = match target.backend.kind {
        BackendKind::Openai => {
            let mut builder = http
                .post(format!(
                    "{}/chat/completions",
                    target.base_url.trim_end_matches('/')
                ))
                .json(&wire::openai::body(
                    request,
                    target.backend.stream_usage,
                    target.backend.sampling_params,
                ));
            if let Some(key) = target.api_key {
                builder = builder.bearer_auth(key.expose());
            }
            builder
        }
        BackendKind::Anthropic => {
            let mut builder = http
                .post(format!(
                    "{}/messages",
                    target.base_url.trim_end_matches('/')
                ))
                .header("anthropic-version", wire::anthropic::API_VERSION)
                .json(&wire::anthropic::body(request));
            if let Some(key) = target.api_key {
                builder = builder.header("x-api-key", key.expose());
            }
            builder
        }
    };
    let response = match timeout_at(first_deadline, builder.send()).await {
        Err(_) => {
            return Err(fail(
                timeout_error(phase_at(first_deadline, total_deadline), first_deadline),
                0,
                None,
            ));
        }
        Ok(Err(error)) => return Err(fail(transport_error(&shown_url, &error, started), 0, None)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body = read_error_body(response, total_deadline).await;
        return Err(fail(
            http_error(&shown_url, status.as_u16(), &body, retry_after),
            0,
            None,
        ));
    }
    let is_event_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    if !is_event_stream {
        // Some servers ignore `stream: true` and answer one JSON object.
        return read_whole_reply(response, target, request, started, total_deadline, on_delta)
            .await;
    }

    let mut events = response.bytes_stream().eventsource();
    let mut guard = target.cut_repetition.then(RepetitionGuard::new);
    let mut text = String::new();
    let mut ttft = None;
    let mut usage = ReportedUsage::default();
    let mut timings = ReportedUsage::default();
    let mut finished = false;
    loop {
        let deadline = if ttft.is_some() {
            total_deadline
        } else {
            first_deadline
        };
        let next = match timeout_at(deadline, events.next()).await {
            Err(_) => {
                let phase = if ttft.is_some() {
                    TimeoutPhase::Total
                } else {
                    phase_at(first_deadline, total_deadline)
                };
                return Err(fail(timeout_error(phase, deadline), text.len(), ttft));
            }
            Ok(next) => next,
        };
        let event = match next {
            None if finished => break,
            None | Some(Err(_)) => {
                let reason = match &next {
                    Some(Err(eventsource_stream::EventStreamError::Transport(inner))) => {
                        error_chain(inner)
                    }
                    Some(Err(other)) => other.to_string(),
                    _ => "the connection closed before the end of the reply".to_string(),
                };
                let error = CallError::StreamBroken {
                    url: shown_url.clone(),
                    received_chars: text.len(),
                    reason,
                };
                return Err(fail(error, text.len(), ttft));
            }
            Some(Ok(event)) => event,
        };
        let parsed = match target.backend.kind {
            BackendKind::Openai => wire::openai::parse(&event.data),
            BackendKind::Anthropic => wire::anthropic::parse(&event.event, &event.data),
        };
        let parsed = parsed.map_err(|reason| {
            fail(
                CallError::Malformed {
                    url: shown_url.clone(),
                    reason,
                },
                text.len(),
                ttft,
            )
        })?;
        let mut done = false;
        for item in parsed {
            match item {
                StreamEvent::Delta(piece) => {
                    if ttft.is_none() {
                        ttft = Some(started.elapsed());
                    }
                    on_delta(&piece).map_err(StreamFailure::Sink)?;
                    text.push_str(&piece);
                    if let Some(found) = guard.as_mut().and_then(|guard| guard.push(&piece)) {
                        // Returning drops the response body, which closes the connection:
                        // llama-server and the others stop generating when the client goes.
                        let error = CallError::Repetition {
                            url: shown_url.clone(),
                            found,
                        };
                        return Err(fail(error, text.len(), ttft));
                    }
                }
                StreamEvent::Usage(reported) => usage.merge(reported),
                StreamEvent::Timings(reported) => timings.merge(reported),
                StreamEvent::Finished => finished = true,
                StreamEvent::Done => done = true,
                StreamEvent::Error { message, retryable } => {
                    return Err(fail(
                        CallError::Remote {
                            url: shown_url.clone(),
                            message,
                            retryable,
                        },
                        text.len(),
                        ttft,
                    ));
                }
            }
        }
        if done {
            break;
        }
    }
    let reported_prompt_tokens = usage.prompt_tokens.or(timings.prompt_tokens);
    Ok(Completion {
        usage: resolve_usage(usage, timings, request, &text),
        text,
        ttft,
        latency: started.elapsed(),
        reported_prompt_tokens,
    })
}

/// Which timeout a first-token deadline stands for.
fn phase_at(first_deadline: Instant, total_deadline: Instant) -> TimeoutPhase {
    if first_deadline < total_deadline {
        TimeoutPhase::FirstToken
    } else {
        TimeoutPhase::Total
    }
}

/// Usage as reported, else llama.cpp timings, else an estimate (marked estimated).
fn resolve_usage(
    usage: ReportedUsage,
    timings: ReportedUsage,
    request: &ChatRequest,
    text: &str,
) -> Usage {
    let prompt = usage.prompt_tokens.or(timings.prompt_tokens);
    let completion = usage.completion_tokens.or(timings.completion_tokens);
    Usage {
        estimated: prompt.is_none() || completion.is_none(),
        prompt_tokens: prompt.unwrap_or_else(|| {
            baton_core::usage::estimate_tokens_from_chars(request.content_chars())
        }),
        completion_tokens: completion.unwrap_or_else(|| estimate_tokens(text)),
        cached_tokens: usage.cached_tokens.or(timings.cached_tokens).unwrap_or(0),
    }
}

/// Reads a non-streamed JSON completion (OpenAI `chat.completion` or Anthropic `message`).
async fn read_whole_reply(
    response: reqwest::Response,
    target: &CallTarget<'_>,
    request: &ChatRequest,
    started: Instant,
    total_deadline: Instant,
    on_delta: &mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
) -> Result<Completion, StreamFailure> {
    let shown_url = redact_url(target.base_url);
    let fail = |error: CallError| StreamFailure::Call {
        error,
        received_chars: 0,
        ttft: None,
        latency: started.elapsed(),
    };
    let body = match timeout_at(total_deadline, response.bytes()).await {
        Err(_) => {
            return Err(fail(CallError::Timeout {
                url: shown_url,
                phase: TimeoutPhase::Total,
                after: started.elapsed(),
            }));
        }
        Ok(Err(error)) => {
            return Err(fail(CallError::StreamBroken {
                url: shown_url,
                received_chars: 0,
                reason: error_chain(&error),
            }));
        }
        Ok(Ok(body)) => body,
    };
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        fail(CallError::Malformed {
            url: shown_url.clone(),
            reason: format!("reply is neither an event stream nor JSON: {error}"),
        })
    })?;
    let (text, usage) = match target.backend.kind {
        BackendKind::Openai => {
            let text = value["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let usage = &value["usage"];
            (
                text,
                ReportedUsage {
                    prompt_tokens: usage["prompt_tokens"].as_u64(),
                    completion_tokens: usage["completion_tokens"].as_u64(),
                    cached_tokens: usage["prompt_tokens_details"]["cached_tokens"].as_u64(),
                },
            )
        }
        BackendKind::Anthropic => {
            let text = value["content"]
                .as_array()
                .map(|blocks| {
                    blocks
                        .iter()
                        .filter_map(|block| block["text"].as_str())
                        .collect::<String>()
                })
                .unwrap_or_default();
            let usage = &value["usage"];
            (
                text,
                ReportedUsage {
                    prompt_tokens: usage["input_tokens"].as_u64(),
                    completion_tokens: usage["output_tokens"].as_u64(),
                    cached_tokens: usage["cache_read_input_tokens"].as_u64(),
                },
            )
        }
    };
    let ttft = started.elapsed();
    // The server generated all of it already; a loop is still not a reply.
    if target.cut_repetition
        && let Some(found) = RepetitionGuard::scan(&text)
    {
        return Err(fail(CallError::Repetition {
            url: shown_url,
            found,
        }));
    }
    on_delta(&text).map_err(StreamFailure::Sink)?;
    Ok(Completion {
        usage: resolve_usage(usage, ReportedUsage::default(), request, &text),
        reported_prompt_tokens: usage.prompt_tokens,
        text,
        ttft: Some(ttft),
        latency: started.elapsed(),
    })
}

/// The body of a failed response, up to a cap, read until `deadline`.
pub async fn read_error_body(response: reqwest::Response, deadline: Instant) -> String {
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_MAX_BYTES {
        match timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_MAX_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

/// Builds the error for a non-2xx answer from its status and body.
pub fn http_error(url: &str, status: u16, body: &str, retry_after: Option<Duration>) -> CallError {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    if let Some((prompt_tokens, n_ctx)) = json.as_ref().and_then(wire::openai::context_overflow) {
        return CallError::ContextOverflow {
            url: url.into(),
            prompt_tokens,
            n_ctx,
        };
    }
    let message = wire::openai::body_error_message(body);
    CallError::Http {
        url: url.into(),
        status,
        message,
        retry_after,
    }
}

/// Classes a transport error: refused or unreachable is a connect error; a timeout inside
/// the HTTP client is the connect timeout (the others are ours).
pub fn transport_error(url: &str, error: &reqwest::Error, started: Instant) -> CallError {
    if error.is_timeout() {
        return CallError::Timeout {
            url: url.into(),
            phase: TimeoutPhase::Connect,
            after: started.elapsed(),
        };
    }
    if error.is_connect() {
        return CallError::Connect {
            url: url.into(),
            reason: error_chain(error),
        };
    }
    CallError::StreamBroken {
        url: url.into(),
        received_chars: 0,
        reason: error_chain(error),
    }
}

/// The innermost cause of an error, which says what really happened ("Connection refused").
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    // reqwest's own message names the URL, which may carry a query: keep only the cause.
    if std::ptr::eq(
        innermost as *const _ as *const u8,
        error as *const _ as *const u8,
    ) {
        return redact_url(&text);
    }
    text
}
