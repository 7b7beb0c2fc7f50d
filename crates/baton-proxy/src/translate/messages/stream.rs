//! The stream translator for a Messages client of a chat backend ([`ToMessages`]).

use serde_json::{Value, json};

use super::{ChatUsage, message_id, stop_reason};
use crate::translate::SseEvent;

/// The content block open in a [`ToMessages`] stream.
#[derive(Debug, Clone)]
struct OpenBlock {
    /// The block's index in the message.
    index: u64,
    /// Set for a tool-use block.
    tool: Option<OpenTool>,
}

/// The chat tool call a tool-use block carries.
#[derive(Debug, Clone)]
struct OpenTool {
    /// The call's `index` in chat's `tool_calls`, when the server gave one.
    position: Option<u64>,
    id: String,
}

/// The stream translator for a Messages client of a chat backend: chat.completion.chunk
/// values in, Messages events out. Blocks open and close as the kind of delta changes (text,
/// then each tool call in turn); the closing `message_delta` carries the real usage, which
/// a chat stream gives only at its end.
#[derive(Debug, Clone)]
pub struct ToMessages {
    model: String,
    /// The prompt's estimated tokens, for `message_start` (the real count comes last).
    estimate: u64,
    id: String,
    /// Whether `message_start` went out.
    began: bool,
    /// Whether any event went out.
    produced: bool,
    /// Whether the stream is over (finished or failed).
    ended: bool,
    /// The next block's index.
    next_index: u64,
    open: Option<OpenBlock>,
    /// The chat positions of the tool calls already streamed.
    positions_seen: Vec<u64>,
    called_tools: bool,
    finish_reason: Option<String>,
    usage: Option<ChatUsage>,
}

impl ToMessages {
    /// A translator answering as `model`, with `input_tokens` the prompt's estimated size.
    pub fn new(model: &str, input_tokens: u64) -> Self {
        Self {
            model: model.to_owned(),
            estimate: input_tokens,
            id: String::new(),
            began: false,
            produced: false,
            ended: false,
            next_index: 0,
            open: None,
            positions_seen: Vec::new(),
            called_tools: false,
            finish_reason: None,
            usage: None,
        }
    }

    /// Whether any event has been produced (after that, a failure must go in the stream).
    pub fn started(&self) -> bool {
        self.produced
    }

    /// The events for one chat chunk.
    pub fn push(&mut self, chunk: &Value) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.ended {
            return events;
        }
        if let Some(usage) = ChatUsage::of(chunk) {
            self.usage = Some(usage);
        }
        if !self.began {
            self.begin(chunk["id"].as_str(), &mut events);
        }
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        // `reasoning_content` is not read: a thinking block needs a signature Anthropic
        // makes, and a client that did not ask for thinking has no use for it.
        if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
            self.text(text, &mut events);
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            for call in calls {
                self.tool_piece(call, &mut events);
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
        }
        self.produced |= !events.is_empty();
        events
    }

    /// The end of the stream: the open block closed, the stop reason and usage, and
    /// `message_stop`. Nothing on a second call.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.ended {
            return events;
        }
        self.ended = true;
        if !self.began {
            self.begin(None, &mut events);
        }
        self.close(&mut events);
        let (input, output, cached) = match self.usage {
            Some(usage) => (usage.input(), usage.completion, usage.cached),
            None => (self.estimate, 0, 0),
        };
        events.push(event(json!({
            "type": "message_delta",
            "delta": {
                "stop_reason": stop_reason(self.finish_reason.as_deref(), self.called_tools),
                "stop_sequence": null,
            },
            "usage": {
                "output_tokens": output,
                "input_tokens": input,
                "cache_read_input_tokens": cached,
            },
        })));
        events.push(event(json!({ "type": "message_stop" })));
        self.produced = true;
        events
    }

    /// A failure after the stream began: Messages' `error` event, and nothing after it.
    pub fn fail(&mut self, message: &str) -> Vec<SseEvent> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        self.produced = true;
        vec![event(json!({
            "type": "error",
            "error": { "type": "api_error", "message": message },
        }))]
    }

    /// `message_start`, with the id of the first chunk when it has one.
    fn begin(&mut self, chunk_id: Option<&str>, events: &mut Vec<SseEvent>) {
        self.began = true;
        self.id = message_id(chunk_id);
        let input = self.usage.map_or(self.estimate, ChatUsage::input);
        events.push(event(json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": { "input_tokens": input, "output_tokens": 0 },
            },
        })));
    }

    /// A text delta, in the open text block or a new one.
    fn text(&mut self, text: &str, events: &mut Vec<SseEvent>) {
        let index = match &self.open {
            Some(open) if open.tool.is_none() => open.index,
            _ => self.open_block(json!({ "type": "text", "text": "" }), None, events),
        };
        events.push(event(json!({
            "type": "content_block_delta",
            "index": index,
            "delta": { "type": "text_delta", "text": text },
        })));
    }

    /// One piece of a streamed tool call: the first (with id and name) opens its block,
    /// the others add argument fragments.
    fn tool_piece(&mut self, call: &Value, events: &mut Vec<SseEvent>) {
        let position = call["index"].as_u64();
        let id = call["id"].as_str().filter(|id| !id.is_empty());
        let same = match &self.open {
            Some(OpenBlock {
                tool: Some(tool), ..
            }) => match (position, id) {
                (Some(position), _) => tool.position == Some(position),
                (None, Some(id)) => tool.id == id,
                (None, None) => true,
            },
            _ => false,
        };
        let index = match &self.open {
            Some(open) if same => open.index,
            _ => {
                // OpenAI-compatible servers stream calls one after another. A late piece
                // of a call whose block is closed cannot go anywhere in Messages (a block
                // does not reopen), so it is dropped rather than opening a nameless call.
                if position.is_some_and(|position| self.positions_seen.contains(&position)) {
                    return;
                }
                let id = id.map_or_else(
                    || format!("toolu_{}_{}", self.id, self.next_index),
                    str::to_owned,
                );
                let block = json!({
                    "type": "tool_use",
                    "id": id,
                    "name": call["function"]["name"].as_str().unwrap_or_default(),
                    "input": {},
                });
                self.called_tools = true;
                if let Some(position) = position {
                    self.positions_seen.push(position);
                }
                self.open_block(block, Some(OpenTool { position, id }), events)
            }
        };
        if let Some(fragment) = call["function"]["arguments"]
            .as_str()
            .filter(|fragment| !fragment.is_empty())
        {
            events.push(event(json!({
                "type": "content_block_delta",
                "index": index,
                "delta": { "type": "input_json_delta", "partial_json": fragment },
            })));
        }
    }

    /// Closes the open block and opens `block`; gives its index.
    fn open_block(
        &mut self,
        block: Value,
        tool: Option<OpenTool>,
        events: &mut Vec<SseEvent>,
    ) -> u64 {
        self.close(events);
        let index = self.next_index;
        self.next_index += 1;
        events.push(event(json!({
            "type": "content_block_start",
            "index": index,
            "content_block": block,
        })));
        self.open = Some(OpenBlock { index, tool });
        index
    }

    /// Closes the open block, if any.
    fn close(&mut self, events: &mut Vec<SseEvent>) {
        if let Some(open) = self.open.take() {
            events.push(event(
                json!({ "type": "content_block_stop", "index": open.index }),
            ));
        }
    }
}

/// A Messages event named by its own `type`.
fn event(data: Value) -> SseEvent {
    let name = data["type"].as_str().unwrap_or_default().to_owned();
    SseEvent::named(&name, &data)
}
