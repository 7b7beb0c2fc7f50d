//! What a scripted server answers: [`Script`] (a queue of replies, a default reply, and the
//! server-wide settings such as `n_ctx` and health) and [`Reply`] (one answer to one chat
//! request, from a normal stream to a hang or a cut connection).
//!
//! Both are serde types so that the `scripted-server` binary can read a script from a JSON file:
//!
//! ```json
//! {
//!   "replies": [{"type": "status", "code": 429, "body": "{}", "retry_after": "1"}],
//!   "default": {"type": "openai_stream", "chunks": ["Hel", "lo"],
//!               "usage": {"prompt_tokens": 10, "completion_tokens": 2}},
//!   "n_ctx": 4096
//! }
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Prompt tokens that [`Reply::text`] and [`Reply::stream`] report: the reply is fixed before
/// any request is seen, so the count is a stand-in rather than a measure of the prompt.
pub const SCRIPTED_PROMPT_TOKENS: u64 = 10;

/// How many pieces [`Reply::text`] cuts its text into, so that clients see a real stream.
const TEXT_PIECES: usize = 3;

/// The tokens a [`Reply::Loop`] stops at when the request has no `max_tokens`.
pub const LOOP_MAX_TOKENS: u64 = 4096;

/// Replies for the requests that contain a text (see [`Script::routes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub contains: String,
    pub replies: VecDeque<Reply>,
}

/// The whole behaviour of one scripted server.
///
/// Chat requests (`POST /v1/chat/completions`, `POST /v1/messages`) take the replies of
/// `replies` one each, in order; once the queue is empty every further chat request gets
/// `default`. The other fields describe the server itself and apply to every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Script {
    /// Replies consumed one per chat request, front first.
    pub replies: VecDeque<Reply>,
    /// Replies for the chat requests whose messages contain a text, consumed one per such
    /// request before `replies` (the first route that matches and has a reply left wins):
    /// concurrent requests of a pipeline arrive in any order, so their replies are matched
    /// to what they ask.
    pub routes: Vec<Route>,
    /// The reply to every chat request after `replies` ran out.
    pub default: Reply,
    /// Context size served at `GET /props` (llama-server), in `/v1/models` `meta.n_ctx` and as
    /// `num_ctx` at `POST /api/show` (Ollama). `None` plays a server that does not say: no
    /// `/props` (404), no `meta`, and an `/api/show` without `parameters`.
    pub n_ctx: Option<u64>,
    /// Model ids listed at `GET /v1/models` and `GET /api/tags`.
    pub models: Vec<String>,
    /// `GET /health` answers 200 when true, and 503 "Loading model" as llama-server does
    /// while it loads when false. Can be flipped later with `set_health`.
    pub health: bool,
    /// `total_slots` at `GET /props`.
    pub total_slots: u32,
    /// Whether requests are kept for `requests()`. Benchmarks that send many requests turn it
    /// off so that memory stays flat; the request count is kept either way.
    pub record_requests: bool,
    /// Length of the vectors `POST /v1/embeddings` returns; `None` plays a server without
    /// embeddings (404, as llama-server started without `--embeddings` answers). The vectors
    /// are deterministic: each lowercase word's first four characters, hashed with the model
    /// name, add to one of `dim` components, so texts sharing words (or word beginnings:
    /// `auth` and `authentication`) are close, and two models' vectors are unrelated.
    pub embedding_dim: Option<usize>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            replies: VecDeque::new(),
            routes: Vec::new(),
            default: Reply::text("ok"),
            n_ctx: None,
            models: vec!["scripted".to_owned()],
            health: true,
            total_slots: 1,
            record_requests: true,
            embedding_dim: None,
        }
    }
}

impl Script {
    /// An empty queue whose default reply is `Reply::text("ok")`.
    pub fn new() -> Self {
        <Self as Default>::default()
    }

    /// Every chat request gets `reply`.
    pub fn always(reply: Reply) -> Self {
        Self::new().default(reply)
    }

    /// Queues `reply` for the next chat request not yet scripted.
    pub fn then(mut self, reply: Reply) -> Self {
        self.replies.push_back(reply);
        self
    }

    /// Queues `reply` for the next chat request whose messages contain `contains`.
    pub fn when(mut self, contains: impl Into<String>, reply: Reply) -> Self {
        let contains = contains.into();
        match self
            .routes
            .iter_mut()
            .find(|route| route.contains == contains)
        {
            Some(route) => route.replies.push_back(reply),
            None => self.routes.push(Route {
                contains,
                replies: VecDeque::from([reply]),
            }),
        }
        self
    }

    /// Sets the reply used once the queue is empty.
    pub fn default(mut self, reply: Reply) -> Self {
        self.default = reply;
        self
    }

    /// Sets the context size the server reports.
    pub fn n_ctx(mut self, n_ctx: u64) -> Self {
        self.n_ctx = Some(n_ctx);
        self
    }

    /// Replaces the model list.
    pub fn models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }

    /// Sets what `GET /health` reports at start.
    pub fn health(mut self, healthy: bool) -> Self {
        self.health = healthy;
        self
    }

    /// Sets `total_slots` at `GET /props`.
    pub fn total_slots(mut self, slots: u32) -> Self {
        self.total_slots = slots;
        self
    }

    /// Serves `POST /v1/embeddings` with vectors of `dim` values (see [`Script::embedding_dim`]).
    pub fn embedding_dim(mut self, dim: usize) -> Self {
        self.embedding_dim = Some(dim);
        self
    }

    /// Turns the request log on or off (see [`Script::record_requests`]).
    pub fn record_requests(mut self, record: bool) -> Self {
        self.record_requests = record;
        self
    }
}

/// Token counts a reply reports as its usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSpec {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl UsageSpec {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
        }
    }
}

/// One answer to one chat request.
///
/// The text variants describe content, and the endpoint picks the dialect: an `OpenAiStream`
/// sent to `POST /v1/messages` is written as an Anthropic event stream (its usage becoming
/// `input_tokens`/`output_tokens`) and an `AnthropicStream` sent to `/v1/chat/completions` as
/// OpenAI chunks, so that one script can serve both kinds of client. A request without
/// `"stream": true` gets the same content as one JSON object instead of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// An OpenAI chat-completions stream: content chunks, a `finish_reason: "stop"` chunk, a
    /// usage chunk when the request asked for one with `stream_options.include_usage` and
    /// `usage` is set, then `data: [DONE]`.
    #[serde(rename = "openai_stream")]
    OpenAiStream {
        chunks: Vec<String>,
        #[serde(default)]
        usage: Option<UsageSpec>,
        /// Wait before the first chunk (time to first token).
        #[serde(default)]
        first_delay_ms: u64,
        /// Wait between two content chunks.
        #[serde(default)]
        chunk_delay_ms: u64,
    },
    /// An Anthropic Messages event stream, `message_start` to `message_stop`.
    AnthropicStream {
        chunks: Vec<String>,
        #[serde(default)]
        input_tokens: u64,
        #[serde(default)]
        output_tokens: u64,
        #[serde(default)]
        first_delay_ms: u64,
        #[serde(default)]
        chunk_delay_ms: u64,
    },
    /// That status code with `body` (sent as JSON) and a `Retry-After` header if given.
    Status {
        code: u16,
        #[serde(default)]
        body: String,
        #[serde(default)]
        retry_after: Option<String>,
    },
    /// Never sends a status line; holds the connection until the client goes away or the
    /// server shuts down (then the connection is dropped without a response).
    HangBeforeHeaders,
    /// Sends `200` and the stream headers, then nothing, until the client goes away or the
    /// server shuts down (then the connection is aborted).
    HangBeforeFirstToken,
    /// Streams these chunks, then aborts the connection: no finish chunk, no `[DONE]`, no end
    /// of the chunked body.
    CutMidway {
        chunks: Vec<String>,
        #[serde(default)]
        chunk_delay_ms: u64,
    },
    /// A `200` stream whose data lines are not valid JSON, then the normal end of stream.
    MalformedSse,
    /// A model stuck in a loop: `head`, then `cycle` over and over, one chunk per token,
    /// until the client goes away, the request's `max_tokens` chunks have gone out (then it
    /// finishes with `finish_reason: "length"`, as llama-server does; [`LOOP_MAX_TOKENS`]
    /// when the request names none) or the server shuts down. Each one leaves a
    /// [`crate::LoopReport`] saying how far it got and why it ended.
    Loop {
        head: Vec<String>,
        cycle: Vec<String>,
        /// Wait between two chunks: the pace of generation.
        #[serde(default)]
        chunk_delay_ms: u64,
    },
    /// Waits `ms` (service time), then answers with `then`.
    Delay { ms: u64, then: Box<Reply> },
    /// Exactly these server-sent events, whatever the endpoint and the request ask: tool
    /// calls, another dialect's events, anything a test needs sent as written.
    Events {
        events: Vec<RawEvent>,
        #[serde(default)]
        chunk_delay_ms: u64,
    },
    /// Exactly this JSON body with status 200.
    Json { body: serde_json::Value },
}

/// One server-sent event of [`Reply::Events`]: `event:` when named, and its `data:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    #[serde(default)]
    pub event: Option<String>,
    pub data: String,
}

impl RawEvent {
    /// An unnamed event (OpenAI chat chunks) carrying `data`.
    pub fn data(data: impl std::fmt::Display) -> Self {
        RawEvent {
            event: None,
            data: data.to_string(),
        }
    }

    /// An event named `event` (Anthropic Messages, OpenAI Responses).
    pub fn named(event: &str, data: impl std::fmt::Display) -> Self {
        RawEvent {
            event: Some(event.to_owned()),
            data: data.to_string(),
        }
    }
}

impl Reply {
    /// An OpenAI stream of `text` cut into about three chunks, with usage
    /// ([`SCRIPTED_PROMPT_TOKENS`] prompt tokens, one completion token per four characters).
    pub fn text(text: impl AsRef<str>) -> Self {
        Self::stream(split_text(text.as_ref(), TEXT_PIECES))
    }

    /// An OpenAI stream of exactly these chunks, with usage as in [`Reply::text`].
    pub fn stream<I, S>(chunks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let chunks: Vec<String> = chunks.into_iter().map(Into::into).collect();
        let completion_tokens = estimate_tokens(&chunks);
        Self::OpenAiStream {
            chunks,
            usage: Some(UsageSpec::new(SCRIPTED_PROMPT_TOKENS, completion_tokens)),
            first_delay_ms: 0,
            chunk_delay_ms: 0,
        }
    }

    /// An Anthropic stream of `text` cut into about three chunks, with token counts as in
    /// [`Reply::text`].
    pub fn anthropic_text(text: impl AsRef<str>) -> Self {
        let chunks = split_text(text.as_ref(), TEXT_PIECES);
        let output_tokens = estimate_tokens(&chunks);
        Self::AnthropicStream {
            chunks,
            input_tokens: SCRIPTED_PROMPT_TOKENS,
            output_tokens,
            first_delay_ms: 0,
            chunk_delay_ms: 0,
        }
    }

    /// A status with a JSON body.
    pub fn status(code: u16, body: impl Into<String>) -> Self {
        Self::Status {
            code,
            body: body.into(),
            retry_after: None,
        }
    }

    /// A status with an OpenAI-style error body
    /// `{"error":{"message":..,"type":..,"code":..}}`.
    pub fn error(code: u16, message: &str) -> Self {
        let body = serde_json::json!({
            "error": {"message": message, "type": error_type(code), "code": code}
        });
        Self::status(code, body.to_string())
    }

    /// `429 Too Many Requests` with an OpenAI-style error body and `Retry-After: seconds`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        match Self::error(429, "Rate limit reached") {
            Self::Status { code, body, .. } => Self::Status {
                code,
                body,
                retry_after: Some(retry_after_seconds.to_string()),
            },
            other => other,
        }
    }

    /// Streams `chunks`, then aborts the connection.
    pub fn cut_midway<I, S>(chunks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::CutMidway {
            chunks: chunks.into_iter().map(Into::into).collect(),
            chunk_delay_ms: 0,
        }
    }

    /// `head`, then `cycle` over and over (see [`Reply::Loop`]), each chunk `chunk_delay_ms`
    /// after the one before.
    pub fn looping<H, C, S>(head: H, cycle: C, chunk_delay_ms: u64) -> Self
    where
        H: IntoIterator<Item = S>,
        C: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::Loop {
            head: head.into_iter().map(Into::into).collect(),
            cycle: cycle.into_iter().map(Into::into).collect(),
            chunk_delay_ms,
        }
    }

    /// Waits `ms`, then answers with `then`.
    pub fn delayed(ms: u64, then: Reply) -> Self {
        Self::Delay {
            ms,
            then: Box::new(then),
        }
    }

    /// Sets the stream delays of a stream reply (the chunk delay only, for `CutMidway`); other
    /// replies, and the reply inside a `Delay`, are returned as they are.
    pub fn with_delays(self, first_ms: u64, chunk_ms: u64) -> Self {
        match self {
            Self::OpenAiStream { chunks, usage, .. } => Self::OpenAiStream {
                chunks,
                usage,
                first_delay_ms: first_ms,
                chunk_delay_ms: chunk_ms,
            },
            Self::AnthropicStream {
                chunks,
                input_tokens,
                output_tokens,
                ..
            } => Self::AnthropicStream {
                chunks,
                input_tokens,
                output_tokens,
                first_delay_ms: first_ms,
                chunk_delay_ms: chunk_ms,
            },
            Self::CutMidway { chunks, .. } => Self::CutMidway {
                chunks,
                chunk_delay_ms: chunk_ms,
            },
            Self::Loop { head, cycle, .. } => Self::Loop {
                head,
                cycle,
                chunk_delay_ms: chunk_ms,
            },
            Self::Events { events, .. } => Self::Events {
                events,
                chunk_delay_ms: chunk_ms,
            },
            other @ (Self::Status { .. }
            | Self::HangBeforeHeaders
            | Self::HangBeforeFirstToken
            | Self::MalformedSse
            | Self::Json { .. }
            | Self::Delay { .. }) => other,
        }
    }
}

/// The `type` of an OpenAI error body for a status, as OpenAI and llama-server name them.
fn error_type(code: u16) -> &'static str {
    match code {
        400 => "invalid_request_error",
        401 => "authentication_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 => "unavailable_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

/// One token per four characters, rounded up, and at least one for a non-empty reply.
fn estimate_tokens(chunks: &[String]) -> u64 {
    let chars: usize = chunks.iter().map(|chunk| chunk.chars().count()).sum();
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX)
}

/// Cuts `text` into at most `pieces` non-empty parts of about equal length, on character
/// boundaries. An empty text gives no chunks.
fn split_text(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(pieces.max(1));
    chars
        .chunks(size)
        .map(|piece| piece.iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn text_reply_splits_into_about_three_chunks_with_usage() {
        let Reply::OpenAiStream { chunks, usage, .. } = Reply::text("Hello, world") else {
            panic!("text must build an OpenAI stream");
        };
        assert_eq!(chunks, vec!["Hell", "o, w", "orld"]);
        assert_eq!(usage, Some(UsageSpec::new(SCRIPTED_PROMPT_TOKENS, 3)));
    }

    #[test]
    fn short_and_empty_texts_give_fewer_chunks() {
        assert_eq!(split_text("ok", 3), vec!["o", "k"]);
        assert_eq!(split_text("", 3), Vec::<String>::new());
        assert_eq!(split_text("héllo", 3), vec!["hé", "ll", "o"]);
    }

    #[test]
    fn script_builder_queues_replies_in_order() {
        let script = Script::new()
            .then(Reply::status(500, "{}"))
            .then(Reply::HangBeforeHeaders)
            .default(Reply::text("fine"))
            .n_ctx(4096);
        assert_eq!(
            script.replies,
            VecDeque::from([Reply::status(500, "{}"), Reply::HangBeforeHeaders])
        );
        assert_eq!(script.default, Reply::text("fine"));
        assert_eq!(script.n_ctx, Some(4096));
    }

    #[test]
    fn script_reads_from_json_with_defaults_for_missing_fields() {
        let json = r#"{
            "replies": [
                {"type": "status", "code": 429, "body": "{}", "retry_after": "2"},
                {"type": "delay", "ms": 5, "then": {"type": "malformed_sse"}},
                {"type": "cut_midway", "chunks": ["a"]},
                {"type": "hang_before_first_token"},
                {"type": "loop", "head": ["a"], "cycle": ["b", "c"]}
            ],
            "default": {"type": "openai_stream", "chunks": ["x"]},
            "n_ctx": 8192
        }"#;
        let script: Script = serde_json::from_str(json).expect("valid script");
        assert_eq!(
            script.replies[0],
            Reply::Status {
                code: 429,
                body: "{}".to_owned(),
                retry_after: Some("2".to_owned())
            }
        );
        assert_eq!(script.replies[1], Reply::delayed(5, Reply::MalformedSse));
        assert_eq!(script.replies[2], Reply::cut_midway(["a"]));
        assert_eq!(script.replies[4], Reply::looping(["a"], ["b", "c"], 0));
        assert_eq!(
            script.default,
            Reply::OpenAiStream {
                chunks: vec!["x".to_owned()],
                usage: None,
                first_delay_ms: 0,
                chunk_delay_ms: 0
            }
        );
        assert!(script.health);
        assert!(script.record_requests);
        assert_eq!(script.models, vec!["scripted"]);
    }

    #[test]
    fn script_survives_a_json_round_trip() {
        let script = Script::new()
            .then(Reply::rate_limited(3))
            .then(Reply::delayed(10, Reply::anthropic_text("hi there")))
            .then(Reply::text("a").with_delays(5, 6))
            .default(Reply::HangBeforeHeaders)
            .models(["a", "b"])
            .health(false);
        let json = serde_json::to_string(&script).expect("serializable");
        let back: Script = serde_json::from_str(&json).expect("readable");
        assert_eq!(back, script);
    }

    #[test]
    fn unknown_script_fields_are_rejected_to_catch_typos() {
        let result = serde_json::from_str::<Script>(r#"{"n_cxt": 5}"#);
        assert!(result.is_err());
    }

    #[test]
    fn rate_limited_reply_carries_retry_after_and_an_openai_error_body() {
        let Reply::Status {
            code,
            body,
            retry_after,
        } = Reply::rate_limited(7)
        else {
            panic!("rate_limited must build a status");
        };
        assert_eq!(code, 429);
        assert_eq!(retry_after.as_deref(), Some("7"));
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
        assert_eq!(body["error"]["type"], "rate_limit_error");
    }
}
