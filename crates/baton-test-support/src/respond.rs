//! Turns one [`Reply`] into an HTTP response for one chat request: picks stream or object by
//! the request, spaces the events in time, and ends the body normally, by aborting the
//! connection, or by hanging until shutdown. A loop is generated chunk by chunk and reports,
//! when its body goes, how far it got and whether the client left.
//!
//! Every wait here also watches the server's shutdown signal, because axum's graceful shutdown
//! waits for each open response to finish: a reply that slept without watching would keep
//! `shutdown()` (and the test) waiting for it.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::watch;

use crate::script::{Reply, SCRIPTED_PROMPT_TOKENS, UsageSpec};
use crate::scripted::{LoopEnd, LoopReport};
use crate::wire::{self, Completion, Finish};

/// Which API the request came in on; decides how a reply is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    OpenAi,
    Anthropic,
}

/// Where a loop stream's [`LoopReport`] goes when it ends.
pub(crate) type LoopReporter = Box<dyn FnOnce(LoopReport) + Send + Sync + 'static>;

/// What the reply needs to know about the request.
pub(crate) struct ChatContext {
    pub(crate) dialect: Dialect,
    /// The request's `max_tokens` (a default when it names none): where a loop stops.
    pub(crate) max_tokens: u64,
    pub(crate) report_loop: LoopReporter,
    /// The request had `"stream": true`.
    pub(crate) stream: bool,
    /// The request had `"stream_options": {"include_usage": true}`.
    pub(crate) include_usage: bool,
    pub(crate) model: String,
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Something held for as long as the response is being served (the in-flight counter): it is
/// dropped with the handler for whole bodies, and with the body stream for streamed ones.
pub(crate) type Guard = Box<dyn Send + Sync + 'static>;

/// How a timed body ends after its last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// End the body normally.
    Finish,
    /// Let hyper flush what was sent, then yield an error: hyper drops the connection
    /// mid-body, so the client gets the events and then a body that stops without its end
    /// (no final chunk of the chunked encoding).
    Abort,
    /// Yield an error at once: hyper drops the connection without flushing the head it has
    /// buffered, so the client gets no response at all.
    Vanish,
    /// Send nothing more until shutdown, then abort.
    Hang,
}

/// One body event and the wait before it.
#[derive(Debug)]
struct Step {
    delay_ms: u64,
    bytes: Bytes,
    /// A generated token, counted by a loop's report.
    token: bool,
}

/// The text of a stream reply, whatever its dialect.
struct TextReply {
    chunks: Vec<String>,
    usage: Option<UsageSpec>,
    first_delay_ms: u64,
    chunk_delay_ms: u64,
}

pub(crate) async fn chat_response(
    mut reply: Reply,
    mut context: ChatContext,
    guard: Guard,
) -> Response {
    // Unwrap nested delays first: each is service time before anything is sent.
    while let Reply::Delay { ms, then } = reply {
        if !sleep_unless_shutdown(&mut context.shutdown, ms).await {
            return aborted(context.shutdown);
        }
        reply = *then;
    }
    match reply {
        Reply::OpenAiStream {
            chunks,
            usage,
            first_delay_ms,
            chunk_delay_ms,
        } => {
            let text = TextReply {
                chunks,
                usage,
                first_delay_ms,
                chunk_delay_ms,
            };
            text_response(text, context, guard).await
        }
        Reply::AnthropicStream {
            chunks,
            input_tokens,
            output_tokens,
            first_delay_ms,
            chunk_delay_ms,
        } => {
            let text = TextReply {
                chunks,
                usage: Some(UsageSpec::new(input_tokens, output_tokens)),
                first_delay_ms,
                chunk_delay_ms,
            };
            text_response(text, context, guard).await
        }
        Reply::Status {
            code,
            body,
            retry_after,
        } => status_response(code, body, retry_after.as_deref()),
        Reply::HangBeforeHeaders => {
            wait_for_shutdown(&mut context.shutdown).await;
            aborted(context.shutdown)
        }
        Reply::HangBeforeFirstToken => {
            let headers = if context.stream {
                Headers::EventStream
            } else {
                Headers::Json
            };
            timed_response(headers, Vec::new(), Ending::Hang, context.shutdown, guard)
        }
        Reply::CutMidway {
            chunks,
            chunk_delay_ms,
        } => cut_midway(&chunks, chunk_delay_ms, context, guard),
        Reply::MalformedSse => malformed(context, guard),
        Reply::Events {
            events,
            chunk_delay_ms,
        } => {
            let frames = events.into_iter().map(|event| {
                let mut text = String::new();
                if let Some(name) = event.event {
                    text.push_str(&format!("event: {name}\n"));
                }
                text.push_str(&format!("data: {}\n\n", event.data));
                Bytes::from(text)
            });
            let steps = spaced(frames, 0, chunk_delay_ms).collect();
            timed_response(
                Headers::EventStream,
                steps,
                Ending::Finish,
                context.shutdown,
                guard,
            )
        }
        Reply::Json { body } => {
            whole_response(StatusCode::OK, Headers::Json, Bytes::from(body.to_string()))
        }
        Reply::Loop {
            head,
            cycle,
            chunk_delay_ms,
        } => loop_response(head, cycle, chunk_delay_ms, context, guard),
        // Unwrapped by the loop above.
        Reply::Delay { .. } => aborted(context.shutdown),
    }
}

async fn text_response(text: TextReply, mut context: ChatContext, guard: Guard) -> Response {
    let completion = Completion {
        id: &context.id,
        model: &context.model,
        created: context.created,
        chunks: &text.chunks,
        usage: text.usage,
        finish: Finish::Stop,
    };
    if !context.stream {
        // A non-streaming server answers once the whole text is generated.
        let pieces = u64::try_from(text.chunks.len().saturating_sub(1)).unwrap_or(u64::MAX);
        let total_ms = text
            .first_delay_ms
            .saturating_add(text.chunk_delay_ms.saturating_mul(pieces));
        let body = match context.dialect {
            Dialect::OpenAi => wire::openai_object(&completion),
            Dialect::Anthropic => wire::anthropic_object(&completion),
        };
        if !sleep_unless_shutdown(&mut context.shutdown, total_ms).await {
            return aborted(context.shutdown);
        }
        drop(guard);
        return whole_response(StatusCode::OK, Headers::Json, body);
    }
    let steps = match context.dialect {
        Dialect::OpenAi => {
            let events = wire::openai_stream(&completion, context.include_usage);
            let content = spaced(events.content, text.first_delay_ms, text.chunk_delay_ms);
            content.chain(immediate(events.tail)).collect()
        }
        Dialect::Anthropic => {
            let events = wire::anthropic_stream(&completion);
            // Nothing reaches the client before the first delay: it stands for the time to the
            // first token, and `message_start` is what a client times it from.
            let head = spaced(events.head, text.first_delay_ms, 0);
            let content = spaced(events.content, 0, text.chunk_delay_ms);
            head.chain(content).chain(immediate(events.tail)).collect()
        }
    };
    timed_response(
        Headers::EventStream,
        steps,
        Ending::Finish,
        context.shutdown,
        guard,
    )
}

fn cut_midway(
    chunks: &[String],
    chunk_delay_ms: u64,
    context: ChatContext,
    guard: Guard,
) -> Response {
    let completion = Completion {
        id: &context.id,
        model: &context.model,
        created: context.created,
        chunks,
        usage: None,
        finish: Finish::Stop,
    };
    let (headers, steps) = if !context.stream {
        // Half of the object, then the connection goes: a body shorter than promised.
        let body = match context.dialect {
            Dialect::OpenAi => wire::openai_object(&completion),
            Dialect::Anthropic => wire::anthropic_object(&completion),
        };
        let half = body.slice(..body.len() / 2);
        (Headers::Json, immediate(vec![half]).collect())
    } else {
        let steps = match context.dialect {
            Dialect::OpenAi => spaced(
                wire::openai_stream(&completion, false).content,
                0,
                chunk_delay_ms,
            )
            .collect(),
            Dialect::Anthropic => {
                let events = wire::anthropic_stream(&completion);
                immediate(events.head)
                    .chain(spaced(events.content, 0, chunk_delay_ms))
                    .collect()
            }
        };
        (Headers::EventStream, steps)
    };
    timed_response(headers, steps, Ending::Abort, context.shutdown, guard)
}

/// `head`, then `cycle` over and over, until `max_tokens` chunks: generated as they are sent,
/// so a loop costs no memory for the tokens it will never reach.
fn loop_response(
    head: Vec<String>,
    cycle: Vec<String>,
    chunk_delay_ms: u64,
    context: ChatContext,
    guard: Guard,
) -> Response {
    let max_tokens = context.max_tokens;
    let limit = usize::try_from(max_tokens).unwrap_or(usize::MAX);
    // With no cycle the reply is the head alone and ends as a finished one.
    let total = if cycle.is_empty() {
        head.len().min(limit)
    } else {
        limit
    };
    let finish = if total == limit {
        Finish::Length
    } else {
        Finish::Stop
    };
    // Chunk `index` of the reply: the head, then the cycle round and round.
    let text_at = move |index: usize| -> String {
        match head.get(index) {
            Some(text) => text.clone(),
            None => cycle
                .get((index - head.len()) % cycle.len().max(1))
                .cloned()
                .unwrap_or_default(),
        }
    };
    let completion_tokens = u64::try_from(total).unwrap_or(u64::MAX);
    let usage = Some(UsageSpec::new(SCRIPTED_PROMPT_TOKENS, completion_tokens));
    if !context.stream {
        // Nothing to cut: the whole loop is generated before the answer.
        let chunks: Vec<String> = (0..total).map(text_at).collect();
        let completion = Completion {
            id: &context.id,
            model: &context.model,
            created: context.created,
            chunks: &chunks,
            usage,
            finish,
        };
        let body = match context.dialect {
            Dialect::OpenAi => wire::openai_object(&completion),
            Dialect::Anthropic => wire::anthropic_object(&completion),
        };
        (context.report_loop)(LoopReport {
            chunks_sent: completion_tokens,
            max_tokens,
            ended: LoopEnd::Finished,
        });
        drop(guard);
        return whole_response(StatusCode::OK, Headers::Json, body);
    }
    let ChatContext {
        dialect,
        include_usage,
        id,
        model,
        created,
        shutdown,
        report_loop,
        ..
    } = context;
    let meta = Completion {
        id: &id,
        model: &model,
        created,
        chunks: &[],
        usage,
        finish,
    };
    let (head_events, tail_events) = match dialect {
        Dialect::OpenAi => (Vec::new(), wire::openai_tail(&meta, include_usage)),
        Dialect::Anthropic => (wire::anthropic_head(&meta), wire::anthropic_tail(&meta)),
    };
    let content = (0..total).map(move |index| {
        let text = text_at(index);
        let bytes = match dialect {
            Dialect::OpenAi => {
                let meta = Completion {
                    id: &id,
                    model: &model,
                    created,
                    chunks: &[],
                    usage: None,
                    finish,
                };
                wire::openai_content_event(&meta, index == 0, &text, include_usage)
            }
            Dialect::Anthropic => wire::anthropic_content_event(&text),
        };
        Step {
            delay_ms: if index == 0 { 0 } else { chunk_delay_ms },
            bytes,
            token: true,
        }
    });
    let steps = immediate(head_events)
        .chain(content)
        .chain(immediate(tail_events));
    let progress = LoopProgress {
        chunks_sent: 0,
        max_tokens,
        ended: None,
        report: Some(report_loop),
    };
    timed_stream(
        Headers::EventStream,
        Box::new(steps),
        Ending::Finish,
        shutdown,
        guard,
        Some(progress),
    )
}

fn malformed(context: ChatContext, guard: Guard) -> Response {
    let (headers, events): (Headers, &[&'static [u8]]) = match (context.dialect, context.stream) {
        (Dialect::OpenAi, true) => (
            Headers::EventStream,
            &[wire::OPENAI_MALFORMED, wire::OPENAI_DONE],
        ),
        (Dialect::Anthropic, true) => (
            Headers::EventStream,
            &[wire::ANTHROPIC_MALFORMED, wire::ANTHROPIC_STOP],
        ),
        (Dialect::OpenAi, false) => (Headers::Json, &[wire::OPENAI_MALFORMED_OBJECT]),
        (Dialect::Anthropic, false) => (Headers::Json, &[wire::ANTHROPIC_MALFORMED_OBJECT]),
    };
    let steps = immediate(events.iter().map(|event| Bytes::from_static(event))).collect();
    timed_response(headers, steps, Ending::Finish, context.shutdown, guard)
}

/// Events with `first_ms` before the first and `between_ms` before each later one.
fn spaced(
    events: impl IntoIterator<Item = Bytes>,
    first_ms: u64,
    between_ms: u64,
) -> impl Iterator<Item = Step> {
    events
        .into_iter()
        .enumerate()
        .map(move |(index, bytes)| Step {
            delay_ms: if index == 0 { first_ms } else { between_ms },
            bytes,
            token: false,
        })
}

fn immediate(events: impl IntoIterator<Item = Bytes>) -> impl Iterator<Item = Step> {
    spaced(events, 0, 0)
}

/// The content type of a response.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Headers {
    EventStream,
    Json,
}

fn set_headers(response: &mut Response, headers: Headers) {
    let map = response.headers_mut();
    match headers {
        Headers::EventStream => {
            map.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            map.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        Headers::Json => {
            map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
    }
}

/// A response with a body known in full (sent with `Content-Length`).
pub(crate) fn whole_response(status: StatusCode, headers: Headers, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    set_headers(&mut response, headers);
    response
}

fn status_response(code: u16, body: String, retry_after: Option<&str>) -> Response {
    let Ok(status) = StatusCode::from_u16(code) else {
        return whole_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            Headers::Json,
            Bytes::from(format!("scripted status {code} is not a valid HTTP status")),
        );
    };
    let mut response = whole_response(status, Headers::Json, Bytes::from(body));
    if let Some(value) = retry_after {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            Err(_) => {
                return whole_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Headers::Json,
                    Bytes::from("scripted Retry-After is not a valid header value"),
                );
            }
        }
    }
    response
}

/// A response that ends the connection without any answer: its body fails at once, and
/// hyper drops the connection before the head it buffered is flushed.
fn aborted(shutdown: watch::Receiver<bool>) -> Response {
    timed_response(
        Headers::Json,
        Vec::new(),
        Ending::Vanish,
        shutdown,
        Box::new(()),
    )
}

/// State of a timed body stream.
struct Timed {
    steps: Box<dyn Iterator<Item = Step> + Send>,
    ending: Ending,
    shutdown: watch::Receiver<bool>,
    /// A loop's count of what went out; reports when the stream is dropped.
    progress: Option<LoopProgress>,
    /// Dropped with the stream, which ends the in-flight count of a streamed reply.
    _guard: Guard,
}

/// How far a loop stream got. Its report goes out when it is dropped, which is when hyper
/// drops the body: at the end, on shutdown, or once a write fails because the client left.
struct LoopProgress {
    chunks_sent: u64,
    max_tokens: u64,
    /// Set when the stream ends by itself; still `None` on drop means the client left.
    ended: Option<LoopEnd>,
    report: Option<LoopReporter>,
}

impl Drop for LoopProgress {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            report(LoopReport {
                chunks_sent: self.chunks_sent,
                max_tokens: self.max_tokens,
                ended: self.ended.unwrap_or(LoopEnd::ClientLeft),
            });
        }
    }
}

fn timed_response(
    headers: Headers,
    steps: Vec<Step>,
    ending: Ending,
    shutdown: watch::Receiver<bool>,
    guard: Guard,
) -> Response {
    timed_stream(
        headers,
        Box::new(steps.into_iter()),
        ending,
        shutdown,
        guard,
        None,
    )
}

fn timed_stream(
    headers: Headers,
    steps: Box<dyn Iterator<Item = Step> + Send>,
    ending: Ending,
    shutdown: watch::Receiver<bool>,
    guard: Guard,
    progress: Option<LoopProgress>,
) -> Response {
    let state = Timed {
        steps,
        ending,
        shutdown,
        progress,
        _guard: guard,
    };
    let stream = futures::stream::unfold(Some(state), |state| async move {
        let mut timed = state?;
        let mark = |timed: &mut Timed, ended: LoopEnd| {
            if let Some(progress) = &mut timed.progress {
                progress.ended = Some(ended);
            }
        };
        if let Some(step) = timed.steps.next() {
            if !sleep_unless_shutdown(&mut timed.shutdown, step.delay_ms).await {
                mark(&mut timed, LoopEnd::Shutdown);
                return Some((Err(shutting_down()), None));
            }
            if step.token
                && let Some(progress) = &mut timed.progress
            {
                progress.chunks_sent += 1;
            }
            return Some((Ok(step.bytes), Some(timed)));
        }
        match timed.ending {
            Ending::Finish => {
                mark(&mut timed, LoopEnd::Finished);
                None
            }
            Ending::Abort => {
                // hyper polls a ready body to the end before it flushes, and drops its write
                // buffer when the body fails; one pending poll makes it flush first.
                tokio::task::yield_now().await;
                Some((Err(cut()), None))
            }
            Ending::Vanish => Some((Err(cut()), None)),
            Ending::Hang => {
                wait_for_shutdown(&mut timed.shutdown).await;
                Some((Err(shutting_down()), None))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    set_headers(&mut response, headers);
    response
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "scripted reply cuts the connection",
    )
}

fn shutting_down() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "scripted server is shutting down",
    )
}

/// Waits until the server shuts down (or its state is gone, which means the same).
pub(crate) async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the server no longer exists.
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// Sleeps `ms`; false if the server began shutting down first.
async fn sleep_unless_shutdown(shutdown: &mut watch::Receiver<bool>, ms: u64) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    if ms == 0 {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(ms)) => true,
        () = wait_for_shutdown(shutdown) => false,
    }
}
