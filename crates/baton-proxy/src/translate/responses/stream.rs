//! [`ToResponses`]: a chat completion stream as the Responses event stream.
//!
//! What a Responses client reads of it (Codex's parser, the OpenAI SDKs): `response.created`
//! first; each output item opened by `response.output_item.added` and finished by
//! `response.output_item.done` with the whole item, which is what Codex acts on (it runs a
//! tool call when its `done` arrives); text as `response.output_text.delta`; and the end as
//! `response.completed` (or `response.incomplete`, `response.failed`) whose response has an
//! `id` and a full `usage`. Without that last event Codex takes the stream as broken.

use serde_json::{Value, json};

use super::{
    Call, Echo, Head, Kind, Tokens, ToolTable, chat_arguments, incomplete_reason, message_item,
};
use crate::translate::SseEvent;

/// The assistant message being streamed.
#[derive(Debug, Clone)]
struct OpenText {
    output_index: usize,
    id: String,
    text: String,
}

/// A tool call being streamed.
#[derive(Debug, Clone)]
struct OpenCall {
    /// The call's `index` in the chat stream.
    chat_index: u64,
    output_index: usize,
    call_id: Option<String>,
    /// The chat function's name.
    name: String,
    arguments: String,
    /// Its `response.output_item.added` went out (or, for a local shell call, is held for
    /// the end: its item has no form before the action is whole).
    announced: bool,
}

/// Translates a stream of chat completion chunks into Responses events, for the Responses
/// request it answers. Each event is named by its `type` and numbered by `sequence_number`
/// from 0.
#[derive(Debug)]
pub struct ToResponses {
    tools: ToolTable,
    echo: Echo,
    /// The prompt's size as estimated before sending, reported when the server reports none.
    input_estimate: u64,
    /// Set by the first event: the response has begun.
    head: Option<Head>,
    sequence: u64,
    finished: bool,
    /// Finished output items, with their output index.
    done: Vec<(usize, Value)>,
    next_index: usize,
    text: Option<OpenText>,
    calls: Vec<OpenCall>,
    usage: Option<Tokens>,
    timings: Option<Tokens>,
    /// Chunks that carried reply text or a tool call piece: local servers send one token per
    /// chunk, so this is the reply's size when the server reports none.
    pieces: u64,
    finish_reason: Option<String>,
}

impl ToResponses {
    /// A translator for the answer to `request` (its `tools` say which calls come back as
    /// custom or local shell calls), with `input_tokens` the estimated prompt, reported until
    /// the server reports its own count.
    pub fn new(request: &Value, input_tokens: u64) -> Self {
        Self {
            tools: ToolTable::of(request),
            echo: Echo::of(request),
            input_estimate: input_tokens,
            head: None,
            sequence: 0,
            finished: false,
            done: Vec::new(),
            next_index: 0,
            text: None,
            calls: Vec::new(),
            usage: None,
            timings: None,
            pieces: 0,
            finish_reason: None,
        }
    }

    /// Whether any event went out (the client has the response's start).
    pub fn started(&self) -> bool {
        self.head.is_some()
    }

    /// The events for one chat chunk. The first chunk starts the response
    /// (`response.created`, `response.in_progress`). `reasoning_content` is not read: a
    /// Responses client takes no reasoning it cannot send back.
    pub fn push(&mut self, chunk: &Value) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        self.begin(chunk, &mut events);
        if let Some(tokens) = Tokens::of_chat(chunk) {
            self.usage = Some(tokens);
        }
        if let Some(tokens) = Tokens::of_timings(chunk) {
            self.timings = Some(tokens);
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            // One answer is asked for; other choices a server sends are not read.
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
                self.pieces += 1;
                self.text(text, &mut events);
            }
            if let Some(calls) = delta["tool_calls"]
                .as_array()
                .filter(|calls| !calls.is_empty())
            {
                self.pieces += 1;
                for call in calls {
                    self.tool_piece(call, &mut events);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish_reason = Some(reason.to_owned());
            }
        }
        events
    }

    /// The end of the chat stream: the open items finished (`…done` events with the whole
    /// text or arguments), then `response.completed` with every item and the usage (or
    /// `response.incomplete` for a reply cut at the token limit). Once only: later calls, and
    /// calls after [`fail`](Self::fail), give nothing.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        self.begin(&Value::Null, &mut events);
        let status = if incomplete_reason(self.finish_reason.as_deref()).is_some() {
            "incomplete"
        } else {
            "completed"
        };
        self.close_text(status, &mut events);
        self.close_calls(status, &mut events);
        self.finished = true;
        let tokens = self.usage.or(self.timings).unwrap_or(Tokens {
            input: self.input_estimate,
            output: self.pieces,
            ..Tokens::default()
        });
        let output = self.output();
        let Some(head) = &self.head else {
            return events;
        };
        let (name, response) =
            head.finished(&self.echo, output, tokens, self.finish_reason.as_deref());
        events.push(self.emit(name, json!({"response": response})));
        events
    }

    /// A failure after the response began (the backend broke off): `response.failed`, whose
    /// `error.code` is `server_error`, which Codex retries as a broken stream (the whole
    /// request again). Items still open are left unfinished, not closed: a client would run
    /// a half-written tool call. Once only, like [`finish`](Self::finish).
    pub fn fail(&mut self, message: &str) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        self.begin(&Value::Null, &mut events);
        self.finished = true;
        self.text = None;
        self.calls.clear();
        let output = self.output();
        let Some(head) = &self.head else {
            return events;
        };
        let mut response = head.response(&self.echo, "failed", output, Value::Null);
        response["error"] = json!({"code": "server_error", "message": message});
        events.push(self.emit("response.failed", json!({"response": response})));
        events
    }

    /// Starts the response on its first event.
    fn begin(&mut self, chunk: &Value, events: &mut Vec<SseEvent>) {
        if self.head.is_some() {
            return;
        }
        let head = Head::of(chunk, &self.echo);
        let response = head.response(&self.echo, "in_progress", Vec::new(), Value::Null);
        self.head = Some(head);
        events.push(self.emit("response.created", json!({"response": response})));
        events.push(self.emit("response.in_progress", json!({"response": response})));
    }

    /// An event named by its `type`, numbered.
    fn emit(&mut self, name: &str, mut data: Value) -> SseEvent {
        data["type"] = name.into();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        SseEvent::named(name, &data)
    }

    fn take_index(&mut self) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        index
    }

    fn item_id(&self, prefix: &str, output_index: usize) -> String {
        self.head
            .as_ref()
            .map(|head| head.item_id(prefix, output_index))
            .unwrap_or_default()
    }

    fn kind(&self, chat_name: &str) -> Kind {
        self.tools
            .get(chat_name)
            .map_or(Kind::Function, |declared| declared.kind)
    }

    /// A piece of reply text. Text after tool calls is a new message: the calls are done.
    fn text(&mut self, piece: &str, events: &mut Vec<SseEvent>) {
        self.close_calls("completed", events);
        let (output_index, id) = match &self.text {
            Some(open) => (open.output_index, open.id.clone()),
            None => {
                let output_index = self.take_index();
                let id = self.item_id("msg", output_index);
                let added = json!({
                    "output_index": output_index,
                    "item": {
                        "type": "message",
                        "id": id,
                        "status": "in_progress",
                        "role": "assistant",
                        "content": [],
                    },
                });
                events.push(self.emit("response.output_item.added", added));
                let part = json!({
                    "item_id": id,
                    "output_index": output_index,
                    "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []},
                });
                events.push(self.emit("response.content_part.added", part));
                self.text = Some(OpenText {
                    output_index,
                    id: id.clone(),
                    text: String::new(),
                });
                (output_index, id)
            }
        };
        if let Some(open) = &mut self.text {
            open.text.push_str(piece);
        }
        let delta = json!({
            "item_id": id,
            "output_index": output_index,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
        });
        events.push(self.emit("response.output_text.delta", delta));
    }

    /// A piece of a tool call: OpenAI streams the call's index, id and name first, then its
    /// arguments in pieces. A call is announced once its name is known (the name says which
    /// item kind it is); arguments that came before are sent with the announcement.
    fn tool_piece(&mut self, piece: &Value, events: &mut Vec<SseEvent>) {
        self.close_text("completed", events);
        let chat_index = match piece["index"].as_u64() {
            Some(index) => index,
            // A server that numbers no calls: a new id starts the next call.
            None => match (piece["id"].as_str(), self.calls.last()) {
                (Some(id), Some(last)) if last.call_id.as_deref() != Some(id) => {
                    last.chat_index + 1
                }
                (_, Some(last)) => last.chat_index,
                (_, None) => 0,
            },
        };
        let at = match self
            .calls
            .iter()
            .position(|call| call.chat_index == chat_index)
        {
            Some(at) => at,
            None => {
                let output_index = self.take_index();
                self.calls.push(OpenCall {
                    chat_index,
                    output_index,
                    call_id: None,
                    name: String::new(),
                    arguments: String::new(),
                    announced: false,
                });
                self.calls.len() - 1
            }
        };
        let function = &piece["function"];
        let fragment = chat_arguments(&function["arguments"]);
        let Some(call) = self.calls.get_mut(at) else {
            return;
        };
        if call.call_id.is_none() {
            call.call_id = piece["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned);
        }
        if !call.announced
            && let Some(name) = function["name"].as_str()
        {
            call.name.push_str(name);
        }
        let announce = !call.announced && !call.name.is_empty();
        if announce {
            call.announced = true;
        }
        let snapshot = call.clone();
        if announce {
            self.announce(&snapshot, events);
        }
        if fragment.is_empty() {
            return;
        }
        if let Some(call) = self.calls.get_mut(at) {
            call.arguments.push_str(&fragment);
        }
        if snapshot.announced && self.kind(&snapshot.name) == Kind::Function {
            let delta = json!({
                "item_id": self.item_id("fc", snapshot.output_index),
                "output_index": snapshot.output_index,
                "delta": fragment,
            });
            events.push(self.emit("response.function_call_arguments.delta", delta));
        }
    }

    /// The finished item for `call`.
    fn item_of(&self, call: &OpenCall, status: &str) -> Value {
        let fallback_id = self.item_id("call", call.output_index);
        let call = Call {
            call_id: call.call_id.as_deref().unwrap_or(&fallback_id),
            name: &call.name,
            arguments: &call.arguments,
            output_index: call.output_index,
        };
        match &self.head {
            Some(head) => call.item(&self.tools, head, status),
            None => Value::Null,
        }
    }

    /// `response.output_item.added` for a function or custom call, the arguments so far
    /// following as one delta. A custom tool's text travels wrapped as `{"input": …}`, which
    /// is whole only at the end: it is sent then, unwrapped.
    fn announce(&mut self, call: &OpenCall, events: &mut Vec<SseEvent>) {
        let kind = self.kind(&call.name);
        if kind == Kind::LocalShell {
            return;
        }
        let mut item = self.item_of(call, "in_progress");
        match kind {
            Kind::Custom => item["input"] = "".into(),
            _ => item["arguments"] = "".into(),
        }
        let item_id = item["id"].clone();
        let added = json!({"output_index": call.output_index, "item": item});
        events.push(self.emit("response.output_item.added", added));
        if kind == Kind::Function && !call.arguments.is_empty() {
            let delta = json!({
                "item_id": item_id,
                "output_index": call.output_index,
                "delta": call.arguments,
            });
            events.push(self.emit("response.function_call_arguments.delta", delta));
        }
    }

    /// Finishes the open message.
    fn close_text(&mut self, status: &str, events: &mut Vec<SseEvent>) {
        let Some(open) = self.text.take() else {
            return;
        };
        let done = json!({
            "item_id": open.id,
            "output_index": open.output_index,
            "content_index": 0,
            "text": open.text,
            "logprobs": [],
        });
        events.push(self.emit("response.output_text.done", done));
        let part = json!({
            "item_id": open.id,
            "output_index": open.output_index,
            "content_index": 0,
            "part": {"type": "output_text", "text": open.text, "annotations": []},
        });
        events.push(self.emit("response.content_part.done", part));
        let item = message_item(&open.id, &open.text, status);
        let done = json!({"output_index": open.output_index, "item": item});
        events.push(self.emit("response.output_item.done", done));
        self.done.push((open.output_index, item));
    }

    /// Finishes the open tool calls, in the order they began.
    fn close_calls(&mut self, status: &str, events: &mut Vec<SseEvent>) {
        for call in std::mem::take(&mut self.calls) {
            self.close_call(call, status, events);
        }
    }

    fn close_call(&mut self, call: OpenCall, status: &str, events: &mut Vec<SseEvent>) {
        let kind = self.kind(&call.name);
        if !call.announced {
            // The name never came: the call is still one, for the client to refuse.
            self.announce(&call, events);
        }
        let item = self.item_of(&call, status);
        let item_id = item["id"].clone();
        let output_index = call.output_index;
        match kind {
            Kind::Function => {
                let done = json!({
                    "item_id": item_id,
                    "output_index": output_index,
                    "arguments": item["arguments"],
                });
                events.push(self.emit("response.function_call_arguments.done", done));
            }
            Kind::Custom => {
                let input = item["input"].clone();
                if input.as_str().is_some_and(|input| !input.is_empty()) {
                    let delta = json!({
                        "item_id": item_id,
                        "output_index": output_index,
                        "delta": input,
                    });
                    events.push(self.emit("response.custom_tool_call_input.delta", delta));
                }
                let done = json!({
                    "item_id": item_id,
                    "output_index": output_index,
                    "input": input,
                });
                events.push(self.emit("response.custom_tool_call_input.done", done));
            }
            Kind::LocalShell => {
                let mut added = item.clone();
                added["status"] = "in_progress".into();
                let added = json!({"output_index": output_index, "item": added});
                events.push(self.emit("response.output_item.added", added));
            }
        }
        let done = json!({"output_index": output_index, "item": item});
        events.push(self.emit("response.output_item.done", done));
        self.done.push((output_index, item));
    }

    /// The finished items in output order.
    fn output(&self) -> Vec<Value> {
        let mut done = self.done.clone();
        done.sort_by_key(|(index, _)| *index);
        done.into_iter().map(|(_, item)| item).collect()
    }
}
