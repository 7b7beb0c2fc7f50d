//! Egress: a chat client whose request falls back to an Anthropic backend. The chat request
//! becomes a Messages request, and the Messages answer (whole or streamed) becomes chat.

use serde_json::{Map, Value, json};

use super::{Unsupported, chat_usage_of, unix_now};

/// `max_tokens` when the chat client set none: Messages requires one.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// A refusal of `what` on the way to an Anthropic backend.
fn refuse(what: impl std::fmt::Display, hint: &str) -> Unsupported {
    Unsupported(format!(
        "{what} is not supported by an Anthropic backend; hint: {hint}"
    ))
}

/// Translates a chat request into a Messages request. The output carries only fields
/// Messages defines: chat-only tuning (penalties, seeds, logit bias, llama.cpp's extras) and
/// advisory fields (`user`, `store`, `metadata`, `stream_options`) are left out, and what
/// would change the answer but has no Messages form is refused.
pub fn request_from_chat(chat: &Value) -> Result<Value, Unsupported> {
    let fields = chat
        .as_object()
        .ok_or_else(|| Unsupported("the request body is not a JSON object".into()))?;
    refuse_chat_only(fields)?;
    let mut body = Map::new();
    if let Some(model) = fields.get("model") {
        body.insert("model".into(), model.clone());
    }
    let (system, messages) = messages_from_chat(fields.get("messages"))?;
    if !system.is_empty() {
        body.insert("system".into(), Value::String(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    let max_tokens = fields
        .get("max_completion_tokens")
        .and_then(Value::as_u64)
        .or_else(|| fields.get("max_tokens").and_then(Value::as_u64))
        .unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), Value::from(max_tokens));
    for key in ["temperature", "top_p", "top_k", "stream"] {
        if let Some(value) = fields.get(key).filter(|value| !value.is_null()) {
            body.insert(key.into(), value.clone());
        }
    }
    match fields.get("stop") {
        Some(Value::String(stop)) => {
            body.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) if !stops.is_empty() => {
            body.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        _ => {}
    }
    let tools = match fields.get("tools") {
        Some(Value::Array(tools)) => tools_from_chat(tools)?,
        _ => Vec::new(),
    };
    // Messages refuses a `tool_choice` without tools; with none declared the choice
    // changes nothing, so it is left out.
    if !tools.is_empty() {
        let choice = match fields.get("tool_choice") {
            None | Some(Value::Null) => None,
            Some(choice) => Some(tool_choice_from_chat(choice)?),
        };
        let serial = fields.get("parallel_tool_calls") == Some(&Value::Bool(false));
        let choice = match choice {
            // `none` takes no other field.
            Some(choice) if choice["type"] == "none" => Some(choice),
            Some(mut choice) if serial => {
                choice["disable_parallel_tool_use"] = Value::Bool(true);
                Some(choice)
            }
            None if serial => Some(json!({ "type": "auto", "disable_parallel_tool_use": true })),
            choice => choice,
        };
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = choice {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(format) = fields.get("response_format").filter(|f| !f.is_null()) {
        match format["type"].as_str() {
            Some("json_schema") => {
                body.insert(
                    "output_format".into(),
                    json!({ "type": "json_schema", "schema": format["json_schema"]["schema"] }),
                );
            }
            Some("text") => {}
            Some("json_object") => {
                return Err(refuse(
                    "`response_format` of type `json_object`",
                    "give a `json_schema` response format (Messages holds output to a schema only)",
                ));
            }
            other => {
                return Err(refuse(
                    format_args!("`response_format` of type `{}`", other.unwrap_or("none")),
                    "use `json_schema` or `text`",
                ));
            }
        }
    }
    Ok(Value::Object(body))
}

/// Refuses the chat fields that change the answer and have no Messages counterpart.
fn refuse_chat_only(fields: &Map<String, Value>) -> Result<(), Unsupported> {
    if fields
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 1)
    {
        return Err(refuse(
            "`n` above 1",
            "Messages gives one choice per request; send the request once per choice",
        ));
    }
    let logprobs = fields.get("logprobs") == Some(&Value::Bool(true));
    let top_logprobs = fields
        .get("top_logprobs")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 0);
    if logprobs || top_logprobs {
        return Err(refuse(
            "`logprobs`",
            "Messages reports no token probabilities; leave `logprobs` out or route this request to a chat backend",
        ));
    }
    let audio_out = fields.get("audio").is_some_and(|audio| !audio.is_null())
        || fields
            .get("modalities")
            .and_then(Value::as_array)
            .is_some_and(|modalities| modalities.iter().any(|m| m == "audio"));
    if audio_out {
        return Err(refuse(
            "audio output (`audio`, `modalities`)",
            "Messages answers in text only; ask for text",
        ));
    }
    Ok(())
}

/// The system texts and the Messages messages of a chat conversation. System and developer
/// messages, wherever they stand, go to `system` (Messages has no system turns); tool
/// results go in user turns; turns of one role in a row are merged, as Messages wants the
/// roles to alternate.
fn messages_from_chat(list: Option<&Value>) -> Result<(Vec<String>, Vec<Value>), Unsupported> {
    let list = match list {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Unsupported("`messages` is not an array".into())),
    };
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (index, message) in list.iter().enumerate() {
        let (role, blocks) = match message["role"].as_str() {
            Some("system" | "developer") => {
                system.extend(system_texts(index, &message["content"])?);
                continue;
            }
            Some("user") => ("user", user_blocks(index, &message["content"])?),
            Some("assistant") => ("assistant", assistant_blocks(index, message)?),
            Some("tool") => ("user", vec![tool_result(index, message)?]),
            other => {
                return Err(refuse(
                    format_args!("message {index} with role `{}`", other.unwrap_or("none")),
                    "use `system`, `developer`, `user`, `assistant` or `tool` (`function` messages are the legacy form of `tool`)",
                ));
            }
        };
        // Messages refuses empty turns; one with nothing to say is left out.
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, mut blocks)| {
            // One text block is written as a plain string, the form people read.
            let content = if blocks.len() == 1 && blocks[0]["type"] == "text" {
                blocks[0]["text"].take()
            } else {
                Value::Array(blocks)
            };
            json!({ "role": role, "content": content })
        })
        .collect();
    Ok((system, messages))
}

/// The texts of a system or developer message (empty ones left out).
fn system_texts(index: usize, content: &Value) -> Result<Vec<String>, Unsupported> {
    Ok(text_parts(index, content)?
        .into_iter()
        .filter(|text| !text.is_empty())
        .collect())
}

/// The texts of content that may only be text: a string, or `text` (and `refusal`) parts.
fn text_parts(index: usize, content: &Value) -> Result<Vec<String>, Unsupported> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part["type"].as_str() {
                Some("text") => Ok(part["text"].as_str().unwrap_or_default().to_owned()),
                Some("refusal") => Ok(part["refusal"].as_str().unwrap_or_default().to_owned()),
                other => Err(refuse(
                    format_args!("a `{}` part in message {index}", other.unwrap_or("untyped")),
                    "this message takes text only",
                )),
            })
            .collect(),
        _ => Err(not_content(index)),
    }
}

/// Content that is neither a string nor an array of parts.
fn not_content(index: usize) -> Unsupported {
    Unsupported(format!(
        "the content of message {index} is neither a string nor an array of parts"
    ))
}

/// A text block, or nothing for an empty text (Messages refuses empty text blocks).
fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({ "type": "text", "text": text }))
}

/// A user message's blocks: text and images.
fn user_blocks(index: usize, content: &Value) -> Result<Vec<Value>, Unsupported> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(text) => return Ok(text_block(text).into_iter().collect()),
        Value::Array(parts) => parts,
        _ => return Err(not_content(index)),
    };
    let mut blocks = Vec::new();
    for part in parts {
        match part["type"].as_str() {
            Some("text") => blocks.extend(text_block(part["text"].as_str().unwrap_or_default())),
            Some("image_url") => blocks.push(image_block(index, part)?),
            Some("input_audio") => {
                return Err(refuse(
                    format_args!("an `input_audio` part (message {index})"),
                    "Messages takes no audio; send a transcript as text",
                ));
            }
            Some("file") => {
                return Err(refuse(
                    format_args!("a `file` part (message {index})"),
                    "send the file's text as a text part",
                ));
            }
            other => {
                return Err(refuse(
                    format_args!("a `{}` part (message {index})", other.unwrap_or("untyped")),
                    "send text or `image_url` parts",
                ));
            }
        }
    }
    Ok(blocks)
}

/// An `image_url` part as an image block: a data URL as base64 data, an http(s) URL as a URL
/// source.
fn image_block(index: usize, part: &Value) -> Result<Value, Unsupported> {
    // The URL sits in `image_url.url`; a few clients put the string itself.
    let url = part["image_url"]["url"]
        .as_str()
        .or_else(|| part["image_url"].as_str())
        .unwrap_or_default();
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media_type, data)) = rest.split_once(";base64,")
    {
        return Ok(json!({
            "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data },
        }));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err(refuse(
        format_args!("an image URL that is neither base64 data nor http(s) (message {index})"),
        "send the image as a `data:…;base64,…` URL or an http(s) URL",
    ))
}

/// An assistant message's blocks: its text, then its tool calls as `tool_use` blocks.
fn assistant_blocks(index: usize, message: &Value) -> Result<Vec<Value>, Unsupported> {
    if message
        .get("function_call")
        .is_some_and(|call| !call.is_null())
    {
        return Err(refuse(
            format_args!("the legacy `function_call` (message {index})"),
            "send the call in `tool_calls`",
        ));
    }
    let mut blocks: Vec<Value> = text_parts(index, &message["content"])?
        .iter()
        .filter_map(|text| text_block(text))
        .collect();
    let calls = message["tool_calls"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for call in calls {
        let id = call["id"].as_str().unwrap_or_default();
        let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
        // No arguments at all is a call without parameters; anything else must be the
        // object Messages takes as the input.
        let input = if arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str::<Value>(arguments)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    refuse(
                        format_args!(
                            "tool call `{id}` (message {index}) with arguments that are not a JSON object"
                        ),
                        "Messages takes a call's input as a JSON object; fix or drop the call in the history",
                    )
                })?
        };
        blocks.push(json!({
            "type": "tool_use",
            "id": id,
            "name": call["function"]["name"],
            "input": input,
        }));
    }
    Ok(blocks)
}

/// A `tool` message as a `tool_result` block (its text; no content when it is empty).
fn tool_result(index: usize, message: &Value) -> Result<Value, Unsupported> {
    let text = text_parts(index, &message["content"])?.join("\n\n");
    let mut block = json!({ "type": "tool_result", "tool_use_id": message["tool_call_id"] });
    if !text.is_empty() {
        block["content"] = Value::String(text);
    }
    Ok(block)
}

/// Chat function tools as Messages tools.
fn tools_from_chat(tools: &[Value]) -> Result<Vec<Value>, Unsupported> {
    tools
        .iter()
        .map(|tool| {
            let function = &tool["function"];
            // A non-function tool keeps its name under its own type (`custom.name`).
            let name = function["name"]
                .as_str()
                .or_else(|| tool["custom"]["name"].as_str())
                .unwrap_or_default();
            match tool["type"].as_str() {
                None | Some("function") => {}
                Some(kind) => {
                    return Err(refuse(
                        format_args!("the tool `{name}` of type `{kind}`"),
                        "declare it as a `function` tool with JSON-schema parameters",
                    ));
                }
            }
            let mut out = json!({ "name": name });
            if let Some(description) = function.get("description").filter(|d| !d.is_null()) {
                out["description"] = description.clone();
            }
            out["input_schema"] = match &function["parameters"] {
                Value::Null => json!({ "type": "object" }),
                schema => schema.clone(),
            };
            Ok(out)
        })
        .collect()
}

/// A chat `tool_choice` as Messages'.
fn tool_choice_from_chat(choice: &Value) -> Result<Value, Unsupported> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(json!({ "type": "auto" })),
            "none" => Ok(json!({ "type": "none" })),
            "required" => Ok(json!({ "type": "any" })),
            other => Err(refuse(
                format_args!("`tool_choice` `{other}`"),
                "use `auto`, `none`, `required` or a function",
            )),
        },
        _ if choice["type"] == "function" => {
            Ok(json!({ "type": "tool", "name": choice["function"]["name"] }))
        }
        _ => Err(refuse(
            format_args!(
                "`tool_choice` of type `{}`",
                choice["type"].as_str().unwrap_or("none")
            ),
            "use `auto`, `none`, `required` or a function",
        )),
    }
}

/// The chat finish reason for a Messages stop reason.
fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn, or none said.
        _ => "stop",
    }
}

/// Translates a non-streamed Messages response into a chat completion. Text blocks are one
/// generation split up (around citations, say), so they are joined as they are; thinking
/// goes in `reasoning_content`, as in the stream.
pub fn response_to_chat(message: &Value) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in message["content"].as_array().map_or(&[][..], Vec::as_slice) {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("thinking") => reasoning.push_str(block["thinking"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {
                    "name": block["name"],
                    "arguments": match &block["input"] {
                        Value::Null => "{}".to_owned(),
                        input => input.to_string(),
                    },
                },
            })),
            _ => {}
        }
    }
    let mut reply = json!({
        "role": "assistant",
        "content": if text.is_empty() { Value::Null } else { Value::String(text) },
    });
    if !calls.is_empty() {
        reply["tool_calls"] = Value::Array(calls);
    }
    if !reasoning.is_empty() {
        reply["reasoning_content"] = Value::String(reasoning);
    }
    json!({
        "id": message["id"],
        "object": "chat.completion",
        "created": unix_now(),
        "model": message["model"],
        "choices": [{
            "index": 0,
            "message": reply,
            "finish_reason": finish_reason(message["stop_reason"].as_str()),
        }],
        "usage": chat_usage_of(&message["usage"]),
    })
}

/// An `error` event from an Anthropic stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    pub message: String,
    /// Whether another attempt may succeed (overloaded, rate-limited, a server error).
    pub retryable: bool,
}

/// The stream translator for a chat client of an Anthropic backend: Messages events in,
/// chat.completion.chunk values out.
#[derive(Debug, Clone)]
pub struct FromMessages {
    model: String,
    id: String,
    created: u64,
    /// Tool-use blocks seen so far: the next one's chat `index`.
    tools: u64,
    /// Messages block index → chat tool-call index, for the tool-use blocks.
    tool_blocks: Vec<(u64, u64)>,
    /// The Messages usage fields reported so far (later reports win).
    usage: Map<String, Value>,
}

impl FromMessages {
    /// A translator whose chunks name `model`.
    pub fn new(model: &str) -> Self {
        let created = unix_now();
        Self {
            model: model.to_owned(),
            id: format!("chatcmpl-{created}"),
            created,
            tools: 0,
            tool_blocks: Vec::new(),
            usage: Map::new(),
        }
    }

    /// The chunks for one event (`event` its SSE name, `data` its payload; the payload's
    /// `type` wins). An `error` event is the error.
    pub fn push(&mut self, event: &str, data: &Value) -> Result<Vec<Value>, StreamError> {
        let kind = data["type"].as_str().unwrap_or(event);
        let mut chunks = Vec::new();
        match kind {
            "message_start" => {
                let message = &data["message"];
                if let Some(id) = message["id"].as_str() {
                    self.id = id.to_owned();
                }
                self.record_usage(&message["usage"]);
                chunks.push(self.chunk(json!({ "role": "assistant", "content": "" }), None));
            }
            "content_block_start" => {
                let block = &data["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let call = self.tools;
                        self.tools += 1;
                        if let Some(index) = data["index"].as_u64() {
                            self.tool_blocks.push((index, call));
                        }
                        chunks.push(self.chunk(
                            json!({ "tool_calls": [{
                                "index": call,
                                "id": block["id"],
                                "type": "function",
                                "function": { "name": block["name"], "arguments": "" },
                            }] }),
                            None,
                        ));
                    }
                    // A text block starts empty in a stream; should one carry text, it is
                    // the reply's.
                    Some("text") => {
                        if let Some(text) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            chunks.push(self.chunk(json!({ "content": text }), None));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        chunks.push(self.chunk(json!({ "content": delta["text"] }), None));
                    }
                    Some("input_json_delta") => {
                        let block = data["index"].as_u64();
                        let call = self
                            .tool_blocks
                            .iter()
                            .find(|(index, _)| Some(*index) == block)
                            .map_or(self.tools.saturating_sub(1), |(_, call)| *call);
                        chunks.push(self.chunk(
                            json!({ "tool_calls": [{
                                "index": call,
                                "function": { "arguments": delta["partial_json"] },
                            }] }),
                            None,
                        ));
                    }
                    Some("thinking_delta") => {
                        chunks.push(
                            self.chunk(json!({ "reasoning_content": delta["thinking"] }), None),
                        );
                    }
                    // signature_delta, citations_delta: nothing chat can carry.
                    _ => {}
                }
            }
            "message_delta" => {
                self.record_usage(&data["usage"]);
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    chunks.push(self.chunk(json!({}), Some(finish_reason(Some(reason)))));
                }
            }
            "message_stop" => {
                chunks.push(json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": chat_usage_of(&Value::Object(self.usage.clone())),
                }));
            }
            "error" => {
                let error = &data["error"];
                let message = error["message"]
                    .as_str()
                    .map_or_else(|| data.to_string(), str::to_owned);
                return Err(StreamError {
                    message,
                    retryable: matches!(
                        error["type"].as_str(),
                        Some("overloaded_error" | "api_error" | "rate_limit_error")
                    ),
                });
            }
            // ping, content_block_stop, and events newer than this code.
            _ => {}
        }
        Ok(chunks)
    }

    /// Keeps the usage fields an event reports.
    fn record_usage(&mut self, usage: &Value) {
        if let Some(fields) = usage.as_object() {
            for (key, value) in fields {
                if value.is_u64() {
                    self.usage.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// A chunk of one choice with `delta`.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
        })
    }
}
