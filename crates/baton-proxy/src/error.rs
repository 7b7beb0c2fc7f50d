//! A request the proxy cannot serve, answered in the client's own error shape (Anthropic's
//! `{type: "error", error: {type, message}}`, OpenAI's `{error: {message, type, code}}`) with
//! an HTTP status a CLI acts on: 400 for what the request itself asks wrongly (a feature the
//! backend cannot express, a prompt that cannot fit), 401 for a refused key, 429 for a spent
//! budget or a busy backend (with `Retry-After`), 502/504 when every backend failed.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_config::Dialect;
use baton_llm::CallError;
use bytes::Bytes;

use crate::translate::{messages, responses};

/// Why a request was not served.
#[derive(Debug, Clone)]
pub struct ProxyError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<Duration>,
    /// A backend's own error body in the client's dialect, passed on as it came.
    pub body: Option<Bytes>,
}

impl ProxyError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ProxyError {
            status,
            message: message.into(),
            retry_after: None,
            body: None,
        }
    }

    /// A request the client must change.
    pub fn invalid(message: impl Into<String>) -> Self {
        ProxyError::new(StatusCode::BAD_REQUEST, message)
    }

    /// The answer to give after the last attempt failed with `error`.
    pub fn from_call(error: &CallError) -> Self {
        let status = match error {
            CallError::Http { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            CallError::ContextOverflow { .. } => StatusCode::BAD_REQUEST,
            CallError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            CallError::MissingKey { .. }
            | CallError::Connect { .. }
            | CallError::StreamBroken { .. }
            | CallError::Malformed { .. }
            | CallError::Remote { .. }
            | CallError::Repetition { .. } => StatusCode::BAD_GATEWAY,
        };
        let message = match error {
            // Claude Code compacts its conversation when it reads these words.
            CallError::ContextOverflow {
                prompt_tokens,
                n_ctx,
                ..
            } => format!(
                "prompt is too long: {prompt_tokens} tokens > {n_ctx} maximum (the model server's context per slot)"
            ),
            other => other.to_string(),
        };
        ProxyError {
            status,
            message,
            retry_after: error.retry_after(),
            body: None,
        }
    }

    /// The response in `dialect`'s error shape.
    pub fn into_response(self, dialect: Dialect) -> Response {
        let body = match self.body {
            Some(body) => body,
            None => {
                let value = match dialect {
                    Dialect::Messages => messages::error_body(self.status.as_u16(), &self.message),
                    Dialect::Chat | Dialect::Responses => {
                        responses::error_body(self.status.as_u16(), &self.message)
                    }
                };
                Bytes::from(value.to_string())
            }
        };
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(after) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
