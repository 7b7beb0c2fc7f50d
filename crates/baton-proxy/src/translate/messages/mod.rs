//! Anthropic Messages and the chat pivot, both ways. Ingress (a Messages client such as
//! Claude Code, a chat backend): [`request_to_chat`], [`response_from_chat`] and the stream
//! translator [`ToMessages`]. Egress (a chat client falling back to an Anthropic backend):
//! [`request_from_chat`], [`response_to_chat`] and [`FromMessages`]. Shared: the Messages
//! error shape ([`error_body`]) and the usage a passed-through Messages answer reports
//! ([`usage_of_response`], [`usage_of_event`]). Pure functions over JSON values, no I/O.

mod egress;
#[cfg(test)]
mod egress_tests;
mod stream;
#[cfg(test)]
mod tests;

pub use egress::{FromMessages, StreamError, request_from_chat, response_to_chat};
pub use stream::ToMessages;

use std::time::{SystemTime, UNIX_EPOCH};

use baton_llm::wire::ReportedUsage;
use serde_json::{Map, Value, json};

use super::Unsupported;

/// Top-level request fields that change nothing of the answer a chat backend gives (request
/// metadata, cache hints, the extended-thinking switch, the service tier, Anthropic's own
/// context editing): left out rather than refused.
const ADVISORY_FIELDS: &[&str] = &[
    "metadata",
    "cache_control",
    "thinking",
    "service_tier",
    "context_management",
];

/// The hint for anything that only runs on Anthropic's side.
const ANTHROPIC_ONLY: &str =
    "it runs on Anthropic's side only; route this request to an Anthropic backend or leave it out";

/// A refusal of `what` on the way to a chat backend.
fn refuse(what: impl std::fmt::Display, hint: &str) -> Unsupported {
    Unsupported(format!(
        "{what} is not supported by a chat backend; hint: {hint}"
    ))
}

/// Translates a Messages request into a chat request. Every field is mapped, left out (when
/// it is advisory) or refused; fields neither dialect defines go on unchanged, since
/// OpenAI-compatible servers take extras of their own (llama-server's `cache_prompt`,
/// `id_slot`). `model` is copied: the caller puts in the backend's.
pub fn request_to_chat(body: &Value) -> Result<Value, Unsupported> {
    let fields = body
        .as_object()
        .ok_or_else(|| Unsupported("the request body is not a JSON object".into()))?;
    let mut chat = Map::new();
    let mut messages = Vec::new();
    if let Some(system) = fields.get("system")
        && let Some(text) = system_to_chat(system)?
    {
        messages.push(json!({ "role": "system", "content": text }));
    }
    match fields.get("messages") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (index, message) in list.iter().enumerate() {
                messages.extend(message_to_chat(index, message)?);
            }
        }
        Some(_) => return Err(Unsupported("`messages` is not an array".into())),
    }
    for (key, value) in fields {
        match key.as_str() {
            "system" | "messages" => {}
            // An explicit null says "not set" on either side.
            "tools" | "tool_choice" | "stop_sequences" | "output_format" if value.is_null() => {}
            "tools" => {
                chat.insert("tools".into(), tools_to_chat(value)?);
            }
            "tool_choice" => tool_choice_to_chat(value, &mut chat)?,
            "stop_sequences" => {
                chat.insert("stop".into(), value.clone());
            }
            "stream" => {
                chat.insert("stream".into(), value.clone());
                if value == &Value::Bool(true) {
                    // Without it a chat stream ends with no usage for the closing
                    // `message_delta` (and the ledger).
                    chat.insert("stream_options".into(), json!({ "include_usage": true }));
                }
            }
            "output_format" => {
                chat.insert("response_format".into(), output_format_to_chat(value)?);
            }
            "container" => {
                return Err(refuse(
                    "`container` (Anthropic's code execution container)",
                    ANTHROPIC_ONLY,
                ));
            }
            "mcp_servers" => {
                return Err(refuse(
                    "`mcp_servers` (Anthropic's MCP connector)",
                    "connect the MCP server to the agent itself, or route this request to an Anthropic backend",
                ));
            }
            key if ADVISORY_FIELDS.contains(&key) => {}
            // `model`, `max_tokens`, `temperature`, `top_p`, `top_k` have the same name and
            // meaning in chat; anything else is the backend's own extra.
            _ => {
                chat.insert(key.clone(), value.clone());
            }
        }
    }
    chat.insert("messages".into(), Value::Array(messages));
    Ok(Value::Object(chat))
}

/// The system prompt as one text (a string, or text blocks joined by blank lines); `None`
/// when there is none.
fn system_to_chat(system: &Value) -> Result<Option<String>, Unsupported> {
    let text = match system {
        Value::Null => return Ok(None),
        Value::String(text) => text.clone(),
        Value::Array(blocks) => {
            let mut texts = Vec::new();
            for block in blocks {
                match block_type(block) {
                    "text" => texts.push(block["text"].as_str().unwrap_or_default()),
                    other => {
                        return Err(refuse(
                            format_args!("a `{other}` block in `system`"),
                            "the system prompt of a chat backend is text only; send text blocks",
                        ));
                    }
                }
            }
            texts.join("\n\n")
        }
        _ => {
            return Err(Unsupported(
                "`system` is neither a string nor an array of text blocks".into(),
            ));
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

/// A content block's `type` ("" when it has none).
fn block_type(block: &Value) -> &str {
    block["type"].as_str().unwrap_or_default()
}

/// The chat messages for Messages message `index`: one, or for a user message carrying tool
/// results, one `tool` message per result and then the user's own content.
fn message_to_chat(index: usize, message: &Value) -> Result<Vec<Value>, Unsupported> {
    let content = &message["content"];
    match message["role"].as_str() {
        Some("user") => user_to_chat(index, content),
        Some("assistant") => assistant_to_chat(index, content).map(|message| vec![message]),
        other => Err(Unsupported(format!(
            "message {index} has role {}; Messages takes `user` and `assistant` (the system prompt goes in `system`)",
            other.map_or_else(|| "none".to_owned(), |role| format!("`{role}`"))
        ))),
    }
}

/// A user message. Tool results become `tool` messages ahead of the rest: chat wants each
/// result right after the assistant's calls, before anything the user says.
fn user_to_chat(index: usize, content: &Value) -> Result<Vec<Value>, Unsupported> {
    let blocks = match content {
        Value::String(text) => return Ok(vec![json!({ "role": "user", "content": text })]),
        Value::Array(blocks) => blocks,
        _ => return Err(not_content(index)),
    };
    let mut messages = Vec::new();
    let mut parts = Vec::new();
    for block in blocks {
        match block_type(block) {
            "text" => parts.push(json!({ "type": "text", "text": block["text"] })),
            "image" => parts.push(image_to_chat(index, block)?),
            "tool_result" => messages.push(tool_result_to_chat(index, block)?),
            other => return Err(unsupported_block(index, other)),
        }
    }
    if !parts.is_empty() {
        messages.push(json!({ "role": "user", "content": parts_content(parts) }));
    }
    Ok(messages)
}

/// Chat content for user parts: one string when all are text (the form every
/// OpenAI-compatible server takes), the parts themselves when an image is among them.
fn parts_content(parts: Vec<Value>) -> Value {
    if parts.iter().all(|part| part["type"] == "text") {
        let texts: Vec<&str> = parts
            .iter()
            .map(|part| part["text"].as_str().unwrap_or_default())
            .collect();
        Value::String(texts.join("\n\n"))
    } else {
        Value::Array(parts)
    }
}

/// An image block as a chat `image_url` part (base64 data as a data URL).
fn image_to_chat(index: usize, block: &Value) -> Result<Value, Unsupported> {
    let source = &block["source"];
    let url = match (source["type"].as_str(), source["url"].as_str()) {
        (Some("base64"), _) => {
            let media_type = source["media_type"].as_str().unwrap_or("image/png");
            let data = source["data"].as_str().unwrap_or_default();
            format!("data:{media_type};base64,{data}")
        }
        (Some("url"), Some(url)) => url.to_owned(),
        (kind, _) => {
            return Err(refuse(
                format_args!(
                    "an image with source type `{}` (message {index})",
                    kind.unwrap_or("none")
                ),
                "send the image as base64 data or a URL",
            ));
        }
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// A `tool_result` block as a chat `tool` message. `is_error` has no chat counterpart; the
/// text itself says what went wrong, so it goes on as it is.
fn tool_result_to_chat(index: usize, block: &Value) -> Result<Value, Unsupported> {
    let content = match &block["content"] {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(blocks) => {
            let mut texts = Vec::new();
            for inner in blocks {
                match block_type(inner) {
                    "text" => texts.push(inner["text"].as_str().unwrap_or_default()),
                    "image" => {
                        return Err(refuse(
                            format_args!("an image inside a `tool_result` (message {index})"),
                            "a chat tool message carries text only; describe the image in text or route this request to an Anthropic backend",
                        ));
                    }
                    other => {
                        return Err(refuse(
                            format_args!(
                                "a `{other}` block inside a `tool_result` (message {index})"
                            ),
                            "a chat tool message carries text only; send the result as text",
                        ));
                    }
                }
            }
            texts.join("\n\n")
        }
        _ => return Err(not_content(index)),
    };
    Ok(json!({
        "role": "tool",
        "tool_call_id": block["tool_use_id"],
        "content": content,
    }))
}

/// An assistant message: its text as `content`, its tool uses as `tool_calls`. Thinking
/// blocks are the model's own earlier reasoning, signed for Anthropic: a chat backend has
/// no use for them, so they are left out.
fn assistant_to_chat(index: usize, content: &Value) -> Result<Value, Unsupported> {
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    match content {
        Value::String(text) => texts.push(text.as_str()),
        Value::Array(blocks) => {
            for block in blocks {
                match block_type(block) {
                    "text" => texts.push(block["text"].as_str().unwrap_or_default()),
                    "tool_use" => calls.push(json!({
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
                    "thinking" | "redacted_thinking" => {}
                    other => return Err(unsupported_block(index, other)),
                }
            }
        }
        _ => return Err(not_content(index)),
    }
    texts.retain(|text| !text.is_empty());
    let content = match (texts.is_empty(), calls.is_empty()) {
        // Only calls: chat's own form is a null content.
        (true, false) => Value::Null,
        // Nothing at all (a turn of thinking only): an empty text, which every server takes.
        (true, true) => Value::String(String::new()),
        (false, _) => Value::String(texts.join("\n\n")),
    };
    let mut message = json!({ "role": "assistant", "content": content });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(message)
}

/// Content that is neither a string nor an array of blocks.
fn not_content(index: usize) -> Unsupported {
    Unsupported(format!(
        "the content of message {index} is neither a string nor an array of blocks"
    ))
}

/// A block of a type a chat message cannot carry, with what to do instead.
fn unsupported_block(index: usize, kind: &str) -> Unsupported {
    let hint = match kind {
        "document" => "send the document's text as a `text` block",
        "search_result" => "send the search result's text as a `text` block",
        "container_upload" => ANTHROPIC_ONLY,
        "tool_use" => "a `tool_use` block belongs in an assistant message",
        "tool_result" => "a `tool_result` block belongs in a user message",
        "server_tool_use" | "mcp_tool_use" | "mcp_tool_result" => ANTHROPIC_ONLY,
        kind if kind.ends_with("_tool_result") => ANTHROPIC_ONLY,
        _ => "leave the block out or route this request to an Anthropic backend",
    };
    let kind = if kind.is_empty() { "untyped" } else { kind };
    refuse(format_args!("a `{kind}` block (message {index})"), hint)
}

/// Messages tools as chat functions. A typed tool other than `custom` is one of Anthropic's
/// server or built-in tools: the chat backend has nothing behind it.
fn tools_to_chat(tools: &Value) -> Result<Value, Unsupported> {
    let list = tools
        .as_array()
        .ok_or_else(|| Unsupported("`tools` is not an array".into()))?;
    let mut out = Vec::new();
    for tool in list {
        let name = tool["name"].as_str().unwrap_or_default();
        match tool["type"].as_str() {
            None | Some("custom") => {}
            Some(kind) => {
                return Err(refuse(
                    format_args!(
                        "the tool `{name}` of type `{kind}` (an Anthropic server or built-in tool)"
                    ),
                    "declare it as a custom tool with an `input_schema`, leave it out, or route this request to an Anthropic backend",
                ));
            }
        }
        let mut function = Map::new();
        function.insert("name".into(), Value::String(name.to_owned()));
        if let Some(description) = tool.get("description").filter(|d| !d.is_null()) {
            function.insert("description".into(), description.clone());
        }
        let parameters = match &tool["input_schema"] {
            Value::Null => json!({ "type": "object" }),
            schema => schema.clone(),
        };
        function.insert("parameters".into(), parameters);
        if let Some(strict) = tool.get("strict").filter(|strict| strict.is_boolean()) {
            function.insert("strict".into(), strict.clone());
        }
        out.push(json!({ "type": "function", "function": function }));
    }
    Ok(Value::Array(out))
}

/// `tool_choice` (and its `disable_parallel_tool_use`) into `chat`.
fn tool_choice_to_chat(choice: &Value, chat: &mut Map<String, Value>) -> Result<(), Unsupported> {
    let mapped = match choice["type"].as_str() {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => json!({ "type": "function", "function": { "name": choice["name"] } }),
        other => {
            return Err(refuse(
                format_args!("`tool_choice` of type `{}`", other.unwrap_or("none")),
                "use `auto`, `any`, `tool` or `none`",
            ));
        }
    };
    chat.insert("tool_choice".into(), mapped);
    if choice["disable_parallel_tool_use"] == true {
        chat.insert("parallel_tool_calls".into(), Value::Bool(false));
    }
    Ok(())
}

/// Structured output: Messages' `output_format` as chat's strict `response_format`.
fn output_format_to_chat(format: &Value) -> Result<Value, Unsupported> {
    match format["type"].as_str() {
        Some("json_schema") => Ok(json!({
            "type": "json_schema",
            "json_schema": { "name": "output", "schema": format["schema"], "strict": true },
        })),
        other => Err(refuse(
            format_args!("`output_format` of type `{}`", other.unwrap_or("none")),
            "use `json_schema`",
        )),
    }
}

/// The Messages id for a chat completion's id.
fn message_id(chat_id: Option<&str>) -> String {
    match chat_id {
        Some(id) if id.starts_with("msg_") => id.to_owned(),
        Some(id) if !id.is_empty() => format!("msg_{id}"),
        // No id to carry: a fresh one, unique enough for a client's bookkeeping.
        _ => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos());
            format!("msg_{nanos:x}")
        }
    }
}

/// The current unix time in seconds (chat's `created`).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The Messages stop reason for a chat finish reason. A reply that called tools stopped to
/// use them, whatever a lax server put (some say `stop` beside tool calls): the client
/// decides on `tool_use` whether to run them.
fn stop_reason(finish_reason: Option<&str>, called_tools: bool) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ if called_tools => "tool_use",
        _ => "end_turn",
    }
}

/// Token counts from a chat `usage` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ChatUsage {
    prompt: u64,
    completion: u64,
    cached: u64,
}

impl ChatUsage {
    /// The usage a chat completion or chunk reports, when it reports one. llama-server's
    /// `timings.cache_n` is not read: `cached_tokens` is what the OpenAI shape promises.
    fn of(value: &Value) -> Option<Self> {
        let usage = value.get("usage").filter(|usage| usage.is_object())?;
        Some(Self {
            prompt: usage["prompt_tokens"].as_u64().unwrap_or(0),
            completion: usage["completion_tokens"].as_u64().unwrap_or(0),
            cached: usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
        })
    }

    /// Anthropic's `input_tokens`, which leaves out the tokens read from the cache.
    fn input(self) -> u64 {
        self.prompt.saturating_sub(self.cached)
    }
}

/// Translates a non-streamed chat completion into a Messages response for `model`.
pub fn response_from_chat(chat: &Value, model: &str) -> Value {
    let choice = &chat["choices"][0];
    let message = &choice["message"];
    let mut content = Vec::new();
    let text = match &message["content"] {
        Value::String(text) => text.clone(),
        // Some servers answer in parts; their text is the reply.
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        content.push(json!({ "type": "text", "text": text }));
    }
    let id = message_id(chat["id"].as_str());
    let calls = message["tool_calls"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for (position, call) in calls.iter().enumerate() {
        // The client must get an object; arguments the model botched give an empty one
        // rather than an answer the client cannot read.
        let input = call["function"]["arguments"]
            .as_str()
            .and_then(|arguments| serde_json::from_str::<Value>(arguments).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let call_id = call["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map_or_else(|| format!("toolu_{id}_{position}"), str::to_owned);
        content.push(json!({
            "type": "tool_use",
            "id": call_id,
            "name": call["function"]["name"],
            "input": input,
        }));
    }
    let usage = ChatUsage::of(chat).unwrap_or_default();
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str(), !calls.is_empty()),
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input(),
            "output_tokens": usage.completion,
            "cache_read_input_tokens": usage.cached,
        },
    })
}

/// A Messages error body for an HTTP `status`, typed as Anthropic types its own (other 4xx
/// are `invalid_request_error`, as Anthropic documents).
pub fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    };
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// A Messages `usage` object read into the ledger's terms: the prompt counts cache reads and
/// writes too (Anthropic's `input_tokens` leaves them out). `None` for the prompt when the
/// object has no `input_tokens`.
fn reported(usage: &Value) -> ReportedUsage {
    let cached = usage["cache_read_input_tokens"].as_u64();
    let created = usage["cache_creation_input_tokens"].as_u64();
    ReportedUsage {
        prompt_tokens: usage["input_tokens"]
            .as_u64()
            .map(|input| input + cached.unwrap_or(0) + created.unwrap_or(0)),
        completion_tokens: usage["output_tokens"].as_u64(),
        cached_tokens: cached,
    }
}

/// The usage of a passed-through (non-streamed) Messages response.
pub fn usage_of_response(body: &Value) -> ReportedUsage {
    reported(&body["usage"])
}

/// The usage a passed-through Messages event reports: `message_start` the prompt (its
/// `output_tokens` is a placeholder, not read), `message_delta` the reply's tokens (and, from
/// newer servers, the prompt again). `None` for any other event.
pub fn usage_of_event(data: &Value) -> Option<ReportedUsage> {
    match data["type"].as_str() {
        Some("message_start") => {
            let usage = &data["message"]["usage"];
            usage.is_object().then(|| ReportedUsage {
                completion_tokens: None,
                ..reported(usage)
            })
        }
        Some("message_delta") => {
            let usage = &data["usage"];
            usage.is_object().then(|| reported(usage))
        }
        _ => None,
    }
}

/// A Messages `usage` object in chat's terms (the prompt counting cache reads and writes).
fn chat_usage_of(usage: &Value) -> Value {
    let read = usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
    let prompt = usage["input_tokens"].as_u64().unwrap_or(0)
        + read
        + usage["cache_creation_input_tokens"].as_u64().unwrap_or(0);
    let completion = usage["output_tokens"].as_u64().unwrap_or(0);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": read },
    })
}
