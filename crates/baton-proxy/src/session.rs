//! One answer on its way back to the client. Passed through, the backend's events go on
//! byte for byte while the proxy reads their usage; through the pivot, the backend's events
//! become chat chunks (from Messages when the backend speaks it), pass the tool-call rescue
//! and the repetition guard, and become the client's dialect again. Each event is handed on
//! as it comes: nothing is buffered but text that may turn out to be a tool call.

use baton_config::Dialect;
use baton_llm::CallError;
use baton_llm::repetition::RepetitionGuard;
use baton_llm::secret::redact_url;
use baton_llm::wire::ReportedUsage;
use bytes::Bytes;
use eventsource_stream::Event;
use serde_json::{Value, json};

use crate::rescue::{Rescue, Rescued, calls_chunk};
use crate::translate::{SseEvent, messages, responses};
use crate::upstream::{Deadlines, Events, next_event};

/// The client's side of the pivot: chat chunks in, the client's events out.
pub enum Out {
    /// A chat client; `usage_asked`: whether it asked for the usage chunk itself.
    Chat {
        usage_asked: bool,
    },
    Messages(messages::ToMessages),
    Responses(Box<responses::ToResponses>),
}

impl Out {
    fn push(&mut self, chunk: &Value) -> Vec<SseEvent> {
        match self {
            Out::Chat { usage_asked } => {
                if !*usage_asked && is_usage_only(chunk) {
                    return Vec::new();
                }
                vec![SseEvent::data(chunk)]
            }
            Out::Messages(out) => out.push(chunk),
            Out::Responses(out) => out.push(chunk),
        }
    }

    fn finish(&mut self) -> Vec<SseEvent> {
        match self {
            Out::Chat { .. } => vec![SseEvent {
                event: None,
                data: "[DONE]".into(),
            }],
            Out::Messages(out) => out.finish(),
            Out::Responses(out) => out.finish(),
        }
    }

    fn fail(&mut self, message: &str) -> Vec<SseEvent> {
        match self {
            Out::Chat { .. } => vec![SseEvent::data(
                &json!({ "error": { "message": message, "type": "server_error", "code": null } }),
            )],
            Out::Messages(out) => out.fail(message),
            Out::Responses(out) => out.fail(message),
        }
    }
}

/// A chunk that carries only usage (`choices` empty).
fn is_usage_only(chunk: &Value) -> bool {
    chunk.get("usage").is_some_and(|usage| !usage.is_null())
        && chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// The usage a chat chunk or completion reports (llama-server's `timings.cache_n` counts the
/// prompt tokens it took from its cache when no `cached_tokens` is given).
pub fn chat_usage(value: &Value) -> Option<ReportedUsage> {
    let usage = value.get("usage").filter(|usage| usage.is_object())?;
    Some(ReportedUsage {
        prompt_tokens: usage["prompt_tokens"].as_u64(),
        completion_tokens: usage["completion_tokens"].as_u64(),
        cached_tokens: usage["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .or_else(|| value["timings"]["cache_n"].as_u64()),
    })
}

/// How the answer is shaped on its way.
pub enum Shape {
    /// The backend speaks the client's dialect.
    Pass {
        dialect: Dialect,
        /// A chat client that did not ask for the usage chunk the proxy asked for.
        hide_usage: bool,
    },
    Pivot(Box<Pivot>),
}

/// The pivot's state.
pub struct Pivot {
    /// Set when the backend speaks Messages.
    pub from: Option<messages::FromMessages>,
    pub rescue: Option<Rescue>,
    pub guard: Option<RepetitionGuard>,
    pub out: Out,
    pub model: String,
    finished: bool,
}

impl Pivot {
    pub fn new(
        from: Option<messages::FromMessages>,
        rescue: Option<Rescue>,
        guard: Option<RepetitionGuard>,
        out: Out,
        model: String,
    ) -> Self {
        Pivot {
            from,
            rescue,
            guard,
            out,
            model,
            finished: false,
        }
    }

    /// One chat chunk from the backend; `true` in the pair when the reply was cut.
    fn chunk(&mut self, mut chunk: Value, received: &mut usize) -> (Vec<SseEvent>, bool) {
        let mut events = Vec::new();
        let mut cut = false;
        let finish = chunk
            .pointer_mut("/choices/0/finish_reason")
            .map(Value::take)
            .filter(|reason| !reason.is_null());
        if let Some(delta) = chunk.pointer_mut("/choices/0/delta")
            && let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .map(str::to_owned)
        {
            *received += text.len();
            if let Some(guard) = &mut self.guard
                && guard.push(&text).is_some()
            {
                cut = true;
            }
            let shown = match &mut self.rescue {
                Some(rescue) => rescue.push(&text),
                None => text,
            };
            if shown.is_empty() {
                if let Some(fields) = delta.as_object_mut() {
                    fields.remove("content");
                }
            } else {
                delta["content"] = Value::String(shown);
            }
        }
        if !is_empty_delta(&chunk) {
            events.extend(self.out.push(&chunk));
        }
        if cut {
            events.extend(self.end_reply(Some(json!("length"))));
        } else if let Some(reason) = finish {
            events.extend(self.end_reply(Some(reason)));
        }
        (events, cut)
    }

    /// The reply is over: what the rescue held goes out (as calls or as text), then the
    /// finish reason.
    fn end_reply(&mut self, reason: Option<Value>) -> Vec<SseEvent> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let mut events = Vec::new();
        let mut reason = reason.unwrap_or_else(|| json!("stop"));
        if let Some(rescue) = &mut self.rescue {
            match rescue.finish() {
                Rescued::Calls(calls) => {
                    events.extend(self.out.push(&calls_chunk(&self.model, &calls)));
                    reason = json!("tool_calls");
                }
                Rescued::Text | Rescued::Undeclared(_) => {
                    let held = rescue.take_held();
                    if !held.is_empty() {
                        events.extend(self.out.push(&text_chunk(&self.model, &held)));
                    }
                }
            }
        }
        events.extend(self.out.push(&json!({
            "object": "chat.completion.chunk",
            "model": self.model,
            "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }],
        })));
        events
    }
}

/// A chunk with nothing for the client: no content, tool calls, role or usage.
fn is_empty_delta(chunk: &Value) -> bool {
    let delta_empty = chunk
        .pointer("/choices/0/delta")
        .and_then(Value::as_object)
        .is_none_or(|delta| {
            delta
                .iter()
                .all(|(key, value)| value.is_null() || (key == "content" && value == ""))
        });
    let has_choice = chunk
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(|choices| !choices.is_empty());
    (has_choice && delta_empty) || (!has_choice && !is_usage_only(chunk))
}

fn text_chunk(model: &str, text: &str) -> Value {
    json!({
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }],
    })
}

/// A streamed answer in progress.
pub struct Session {
    pub events: Events,
    pub url: String,
    pub deadlines: Deadlines,
    pub shape: Shape,
    pub usage: ReportedUsage,
    pub received_chars: usize,
    /// Whether the first event has come.
    pub first_seen: bool,
    ended: bool,
}

/// What one step of a session gave.
pub struct Step {
    pub bytes: Vec<Bytes>,
    pub ended: bool,
}

impl Session {
    pub fn new(events: Events, url: &str, deadlines: Deadlines, shape: Shape) -> Self {
        Session {
            events,
            url: url.to_owned(),
            deadlines,
            shape,
            usage: ReportedUsage::default(),
            received_chars: 0,
            first_seen: false,
            ended: false,
        }
    }

    /// Reads the backend's next event and gives what goes to the client for it.
    pub async fn step(&mut self) -> Result<Step, CallError> {
        if self.ended {
            return Ok(Step {
                bytes: Vec::new(),
                ended: true,
            });
        }
        let event = next_event(
            &mut self.events,
            &self.deadlines,
            !self.first_seen,
            &self.url,
            self.received_chars,
        )
        .await?;
        let Some(event) = event else {
            return Err(CallError::StreamBroken {
                url: redact_url(&self.url),
                received_chars: self.received_chars,
                reason: "the connection closed before the end of the reply".into(),
            });
        };
        self.first_seen = true;
        let (events, ended) = match &mut self.shape {
            Shape::Pass {
                dialect,
                hide_usage,
            } => {
                let dialect = *dialect;
                let hide = *hide_usage;
                self.pass(dialect, hide, &event)?
            }
            Shape::Pivot(_) => self.pivot(&event)?,
        };
        self.ended = ended;
        Ok(Step {
            bytes: events,
            ended,
        })
    }

    fn malformed(&self, reason: String) -> CallError {
        CallError::Malformed {
            url: redact_url(&self.url),
            reason,
        }
    }

    fn pass(
        &mut self,
        dialect: Dialect,
        hide_usage: bool,
        event: &Event,
    ) -> Result<(Vec<Bytes>, bool), CallError> {
        let wire = wire_bytes(event);
        if event.data.trim() == "[DONE]" {
            return Ok((vec![wire], true));
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|error| self.malformed(format!("event data is not JSON: {error}")))?;
        self.received_chars += event.data.len();
        let (usage, ended) = match dialect {
            Dialect::Chat => (chat_usage(&data), false),
            Dialect::Messages => (
                messages::usage_of_event(&data),
                data["type"] == "message_stop",
            ),
            Dialect::Responses => (
                responses::usage_of_event(&data),
                matches!(
                    data["type"].as_str(),
                    Some("response.completed" | "response.incomplete" | "response.failed")
                ),
            ),
        };
        if let Some(usage) = usage {
            self.usage.merge(usage);
        }
        let error = match dialect {
            Dialect::Chat => data.get("error"),
            Dialect::Messages => (data["type"] == "error").then(|| &data["error"]),
            Dialect::Responses => (data["type"] == "error").then_some(&data),
        };
        if let Some(error) = error {
            // The client gets the backend's own error event; the attempt is an error.
            let message = error["message"]
                .as_str()
                .unwrap_or("an error event")
                .to_owned();
            return Err(CallError::Remote {
                url: redact_url(&self.url),
                message,
                retryable: false,
            });
        }
        if dialect == Dialect::Chat && hide_usage && is_usage_only(&data) {
            return Ok((Vec::new(), ended));
        }
        Ok((vec![wire], ended))
    }

    fn pivot(&mut self, event: &Event) -> Result<(Vec<Bytes>, bool), CallError> {
        let Shape::Pivot(pivot) = &mut self.shape else {
            return Ok((Vec::new(), false));
        };
        let mut chunks = Vec::new();
        let mut ended = false;
        match &mut pivot.from {
            None => {
                if event.data.trim() == "[DONE]" {
                    ended = true;
                } else {
                    let data: Value = serde_json::from_str(&event.data).map_err(|error| {
                        CallError::Malformed {
                            url: redact_url(&self.url),
                            reason: format!("event data is not JSON: {error}"),
                        }
                    })?;
                    if let Some(error) = data.get("error") {
                        return Err(CallError::Remote {
                            url: redact_url(&self.url),
                            message: error["message"]
                                .as_str()
                                .unwrap_or("an error event")
                                .to_owned(),
                            retryable: false,
                        });
                    }
                    chunks.push(data);
                }
            }
            Some(from) => {
                let data: Value =
                    serde_json::from_str(&event.data).map_err(|error| CallError::Malformed {
                        url: redact_url(&self.url),
                        reason: format!("event data is not JSON: {error}"),
                    })?;
                ended = data["type"] == "message_stop";
                let converted =
                    from.push(&event.event, &data)
                        .map_err(|error| CallError::Remote {
                            url: redact_url(&self.url),
                            message: error.message,
                            retryable: error.retryable,
                        })?;
                chunks.extend(converted);
            }
        }
        let mut out = Vec::new();
        for chunk in chunks {
            if let Some(usage) = chat_usage(&chunk) {
                self.usage.merge(usage);
            }
            let (events, cut) = pivot.chunk(chunk, &mut self.received_chars);
            out.extend(events);
            if cut {
                ended = true;
                break;
            }
        }
        if ended {
            out.extend(pivot.end_reply(None));
            out.extend(pivot.out.finish());
        }
        Ok((
            out.iter()
                .map(|event| Bytes::from(event.to_wire()))
                .collect(),
            ended,
        ))
    }

    /// The client's error event for a failure after its stream began.
    pub fn fail_bytes(&mut self, message: &str) -> Vec<Bytes> {
        match &mut self.shape {
            Shape::Pass { dialect, .. } => {
                let event = match dialect {
                    Dialect::Chat => SseEvent::data(
                        &json!({ "error": { "message": message, "type": "server_error" } }),
                    ),
                    Dialect::Messages => SseEvent::named(
                        "error",
                        &json!({ "type": "error", "error": { "type": "api_error", "message": message } }),
                    ),
                    Dialect::Responses => SseEvent::named(
                        "error",
                        &json!({ "type": "error", "code": "server_error", "message": message }),
                    ),
                };
                vec![Bytes::from(event.to_wire())]
            }
            Shape::Pivot(pivot) => pivot
                .out
                .fail(message)
                .iter()
                .map(|event| Bytes::from(event.to_wire()))
                .collect(),
        }
    }
}

/// An event as the backend sent it.
fn wire_bytes(event: &Event) -> Bytes {
    let mut text = String::new();
    if !event.event.is_empty() && event.event != "message" {
        text.push_str("event: ");
        text.push_str(&event.event);
        text.push('\n');
    }
    for line in event.data.split('\n') {
        text.push_str("data: ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    Bytes::from(text)
}
