//! One attempt at one endpoint: the request written for the backend's dialect (with its own
//! key, never the client's), sent within the backend's deadlines, and its answer opened as a
//! stream of server-sent events or read whole. Failures are classed as `baton dispatch`
//! classes them ([`CallError`]), so retries and fallback follow the same rules.

use std::pin::Pin;

use baton_config::{BackendKind, Dialect};
use baton_llm::CallError;
use baton_llm::client::{http_error, read_error_body, transport_error};
use baton_llm::error::TimeoutPhase;
use baton_llm::router::Target;
use baton_llm::secret::{ApiKey, redact_url};
use baton_llm::wire::anthropic::API_VERSION;
use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde_json::{Map, Value};
use tokio::time::{Instant, timeout_at};

/// Headers of the client's passed on to a backend of its own dialect.
#[derive(Debug, Clone, Default)]
pub struct Passed {
    pub anthropic_version: Option<String>,
    pub anthropic_beta: Option<String>,
}

/// What to send: the body in `dialect`, to `base_url` of `target`'s backend.
pub struct Outgoing<'a> {
    pub target: &'a Target,
    pub base_url: &'a str,
    pub dialect: Dialect,
    pub body: &'a Map<String, Value>,
    pub key: Option<&'a ApiKey>,
    pub passed: &'a Passed,
    /// Passed through (the client's beta headers go on only then).
    pub passthrough: bool,
}

/// A server-sent event stream from the backend.
pub type Events =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// An answer whose status was a success.
pub enum Opened {
    /// `text/event-stream`.
    Stream(Events),
    /// One JSON document (a request without `stream`, or a server that ignored it).
    Whole(Value),
}

/// The deadlines of one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub started: Instant,
    pub first: Instant,
    pub total: Instant,
}

impl Deadlines {
    pub fn of(target: &Target) -> Self {
        let started = Instant::now();
        let backend = &target.backend;
        Deadlines {
            started,
            first: started + backend.first_token_timeout.min(backend.total_timeout),
            total: started + backend.total_timeout,
        }
    }

    /// The timeout error of `deadline` at `url`.
    pub fn timeout(&self, url: &str, first_token: bool) -> CallError {
        let (phase, deadline) = if first_token && self.first < self.total {
            (TimeoutPhase::FirstToken, self.first)
        } else {
            (TimeoutPhase::Total, self.total)
        };
        CallError::Timeout {
            url: redact_url(url),
            phase,
            after: deadline.saturating_duration_since(self.started),
        }
    }
}

/// Sends `outgoing` and opens its answer. The key is redacted from any error text.
pub async fn open(
    http: &reqwest::Client,
    outgoing: &Outgoing<'_>,
    deadlines: &Deadlines,
) -> Result<Opened, CallError> {
    let opened = open_unredacted(http, outgoing, deadlines).await;
    match (opened, outgoing.key) {
        (Err(error), Some(key)) => Err(error.redact_key(key)),
        (opened, _) => opened,
    }
}

async fn open_unredacted(
    http: &reqwest::Client,
    outgoing: &Outgoing<'_>,
    deadlines: &Deadlines,
) -> Result<Opened, CallError> {
    let url = format!(
        "{}{}",
        outgoing.base_url.trim_end_matches('/'),
        outgoing.dialect.path()
    );
    let shown = redact_url(outgoing.base_url);
    let mut builder = http.post(&url).json(outgoing.body);
    match outgoing.target.backend.kind {
        BackendKind::Anthropic => {
            let version = outgoing
                .passed
                .anthropic_version
                .as_deref()
                .filter(|_| outgoing.passthrough)
                .unwrap_or(API_VERSION);
            builder = builder.header("anthropic-version", version);
            if let Some(key) = outgoing.key {
                builder = builder.header("x-api-key", key.expose());
            }
        }
        BackendKind::Openai => {
            if let Some(key) = outgoing.key {
                builder = builder.bearer_auth(key.expose());
            }
        }
    }
    if outgoing.passthrough
        && let Some(beta) = &outgoing.passed.anthropic_beta
    {
        builder = builder.header("anthropic-beta", beta);
    }
    let response = match timeout_at(deadlines.first, builder.send()).await {
        Err(_) => return Err(deadlines.timeout(&shown, true)),
        Ok(Err(error)) => return Err(transport_error(&shown, &error, deadlines.started)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(baton_llm::error::parse_retry_after);
        let body = read_error_body(response, deadlines.total).await;
        return Err(http_error(&shown, status.as_u16(), &body, retry_after));
    }
    let is_stream = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    if is_stream {
        return Ok(Opened::Stream(Box::pin(
            response.bytes_stream().eventsource(),
        )));
    }
    let body: Bytes = match timeout_at(deadlines.total, response.bytes()).await {
        Err(_) => return Err(deadlines.timeout(&shown, false)),
        Ok(Err(error)) => return Err(transport_error(&shown, &error, deadlines.started)),
        Ok(Ok(body)) => body,
    };
    serde_json::from_slice(&body)
        .map(Opened::Whole)
        .map_err(|error| CallError::Malformed {
            url: shown,
            reason: format!("the answer is not JSON: {error}"),
        })
}

/// The next event of a stream within the attempt's deadline; `Ok(None)` at its end.
pub async fn next_event(
    events: &mut Events,
    deadlines: &Deadlines,
    first: bool,
    url: &str,
    received_chars: usize,
) -> Result<Option<Event>, CallError> {
    let deadline = if first {
        deadlines.first
    } else {
        deadlines.total
    };
    match timeout_at(deadline, events.next()).await {
        Err(_) => Err(deadlines.timeout(url, first)),
        Ok(None) => Ok(None),
        Ok(Some(Ok(event))) => Ok(Some(event)),
        Ok(Some(Err(error))) => Err(CallError::StreamBroken {
            url: redact_url(url),
            received_chars,
            reason: match error {
                EventStreamError::Transport(inner) => baton_llm::client::error_chain(&inner),
                other => other.to_string(),
            },
        }),
    }
}
