//! Errors of one model call, classed once as retryable or final (DESIGN.md section 5).
//! Messages are built by Baton from status codes and parsed error fields, never from
//! request headers, so an API key cannot leak into them.

use std::time::Duration;

use baton_core::{ErrorClass, REPETITION_ERROR_PREFIX};

use crate::repetition::Repetition;
use crate::secret::ApiKey;

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    FirstToken,
    Total,
    QueueWait,
}

impl TimeoutPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::FirstToken => "first token",
            TimeoutPhase::Total => "total",
            TimeoutPhase::QueueWait => "waiting for a free slot",
        }
    }
}

/// Why one attempt at one endpoint failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// Retryable: nothing listens, DNS failed, or the connection was refused or reset.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// Retryable.
    #[error("{} timeout after {:.1}s at {url}", phase.as_str(), after.as_secs_f64())]
    Timeout {
        url: String,
        phase: TimeoutPhase,
        after: Duration,
    },
    /// Retryable for 408, 429 and 5xx; final for other statuses.
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Final: the prompt does not fit the context the server really serves.
    #[error("{url} refused the prompt: {prompt_tokens} tokens exceed its context of {n_ctx}")]
    ContextOverflow {
        url: String,
        prompt_tokens: u64,
        n_ctx: u64,
    },
    /// Retryable: the stream ended or broke before the reply was complete.
    #[error("stream from {url} broke after {received_chars} characters: {reason}")]
    StreamBroken {
        url: String,
        received_chars: usize,
        reason: String,
    },
    /// Final for this backend: the server sent something that is not the protocol.
    #[error("malformed reply from {url}: {reason}")]
    Malformed { url: String, reason: String },
    /// Retryable or final by the error type the server reported inside a stream.
    #[error("{url} reported an error mid-stream: {message}")]
    Remote {
        url: String,
        message: String,
        retryable: bool,
    },
    /// Final for this backend: its API key variable is not set.
    #[error("backend `{backend}` needs an API key in ${var}, which is not set")]
    MissingKey { backend: String, var: String },
    /// Final for the request as sent (it would loop again): the reply looped on itself and
    /// was cut while it streamed. The dispatcher retries once with anti-repetition sampling
    /// where the backend takes it.
    #[error("{REPETITION_ERROR_PREFIX} {} from {url}", found.describe())]
    Repetition { url: String, found: Repetition },
}

impl CallError {
    /// Whether trying again (same backend, maybe another endpoint) can help.
    pub fn class(&self) -> ErrorClass {
        match self {
            CallError::Connect { .. }
            | CallError::Timeout { .. }
            | CallError::StreamBroken { .. } => ErrorClass::Retryable,
            CallError::Http { status, .. } => {
                if *status == 408 || *status == 429 || *status >= 500 {
                    ErrorClass::Retryable
                } else {
                    ErrorClass::Final
                }
            }
            CallError::Remote {
                retryable: true, ..
            } => ErrorClass::Retryable,
            CallError::Remote {
                retryable: false, ..
            }
            | CallError::ContextOverflow { .. }
            | CallError::Malformed { .. }
            | CallError::MissingKey { .. }
            | CallError::Repetition { .. } => ErrorClass::Final,
        }
    }

    /// Tokens the server generated for a failed attempt, when known (a reply cut for
    /// repetition was generated up to the cut, and is counted as estimated).
    pub fn generated_tokens(&self) -> Option<u64> {
        match self {
            CallError::Repetition { found, .. } => Some(found.after_tokens),
            CallError::Connect { .. }
            | CallError::Timeout { .. }
            | CallError::Http { .. }
            | CallError::ContextOverflow { .. }
            | CallError::StreamBroken { .. }
            | CallError::Malformed { .. }
            | CallError::Remote { .. }
            | CallError::MissingKey { .. } => None,
        }
    }

    /// The delay the server asked for (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The same error with `key` redacted from every text it carries (a server may echo the
    /// key in its error message, which would otherwise reach the ledger and the terminal).
    pub fn redact_key(self, key: &ApiKey) -> CallError {
        let r = |text: String| key.redact_in(&text);
        match self {
            CallError::Connect { url, reason } => CallError::Connect {
                url: r(url),
                reason: r(reason),
            },
            CallError::Timeout { url, phase, after } => CallError::Timeout {
                url: r(url),
                phase,
                after,
            },
            CallError::Http {
                url,
                status,
                message,
                retry_after,
            } => CallError::Http {
                url: r(url),
                status,
                message: r(message),
                retry_after,
            },
            CallError::ContextOverflow {
                url,
                prompt_tokens,
                n_ctx,
            } => CallError::ContextOverflow {
                url: r(url),
                prompt_tokens,
                n_ctx,
            },
            CallError::StreamBroken {
                url,
                received_chars,
                reason,
            } => CallError::StreamBroken {
                url: r(url),
                received_chars,
                reason: r(reason),
            },
            CallError::Malformed { url, reason } => CallError::Malformed {
                url: r(url),
                reason: r(reason),
            },
            CallError::Remote {
                url,
                message,
                retryable,
            } => CallError::Remote {
                url: r(url),
                message: r(message),
                retryable,
            },
            missing @ CallError::MissingKey { .. } => missing,
            CallError::Repetition { url, found } => CallError::Repetition {
                url: r(url),
                found: Repetition {
                    unit: r(found.unit),
                    ..found
                },
            },
        }
    }

    /// Whether the endpoint itself looks unhealthy (counts towards taking it out of the
    /// pool), as opposed to the request being at fault.
    pub fn blames_endpoint(&self) -> bool {
        match self {
            CallError::Connect { .. } | CallError::Timeout { .. } => true,
            CallError::Http { status, .. } => *status >= 500,
            CallError::StreamBroken { .. } | CallError::Malformed { .. } => true,
            CallError::Remote { .. }
            | CallError::ContextOverflow { .. }
            | CallError::MissingKey { .. }
            | CallError::Repetition { .. } => false,
        }
    }
}

/// Why a whole dispatch failed: every step of the chain was tried.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("{}", summary(.failures))]
    Exhausted { failures: Vec<(String, CallError)> },
    #[error("no backend can take this request: {reason}")]
    NoTarget { reason: String },
    #[error("cannot write the reply: {0}")]
    Output(#[source] std::io::Error),
}

fn summary(failures: &[(String, CallError)]) -> String {
    match failures {
        [] => "no attempt was made".into(),
        [(_, only)] => only.to_string(),
        [.., (_, last)] => format!("all {} attempts failed; last: {last}", failures.len()),
    }
}

impl DispatchError {
    /// The last error of the chain, which decides the hint and the exit code.
    pub fn last_call_error(&self) -> Option<&CallError> {
        match self {
            DispatchError::Exhausted { failures } => failures.last().map(|(_, error)| error),
            DispatchError::NoTarget { .. } | DispatchError::Output(_) => None,
        }
    }
}

/// Parses a `Retry-After` header: seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classed_once() {
        let http = |status| CallError::Http {
            url: "u".into(),
            status,
            message: String::new(),
            retry_after: None,
        };
        assert_eq!(http(429).class(), ErrorClass::Retryable);
        assert_eq!(http(503).class(), ErrorClass::Retryable);
        assert_eq!(http(408).class(), ErrorClass::Retryable);
        assert_eq!(http(400).class(), ErrorClass::Final);
        assert_eq!(http(401).class(), ErrorClass::Final);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
