//! OpenAI Responses and the chat pivot, ingress side: a Responses client (the Codex CLI with
//! `wire_api = "responses"`) in front of a chat backend. [`request_to_chat`] turns a
//! `POST /v1/responses` body into a chat request; [`response_from_chat`] and the stream
//! translator [`ToResponses`] turn the backend's answer back into a Response object or the
//! Responses event stream. Shared: the OpenAI error shape ([`error_body`], which the chat
//! ingress uses too) and the usage a passed-through Responses answer reports
//! ([`usage_of_response`], [`usage_of_event`]). Pure functions over JSON values, no I/O.
//!
//! Responses tools chat has no kind for travel as chat functions and come back as their own
//! kind: a freeform `custom` tool (Codex's `apply_patch`, with its grammar) as a function
//! taking one string `input`, `local_shell` as the function `local_shell`, the functions of
//! a `namespace` (Codex's MCP tools) under the joined name `namespace__name`. The request's
//! `tools` say which is which on the way back, so the answer side reads them again.

mod request;
#[cfg(test)]
mod request_tests;
mod stream;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

pub use request::request_to_chat;
pub use stream::ToResponses;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use baton_llm::wire::ReportedUsage;
use serde_json::{Map, Value, json};

use super::Unsupported;

/// Top-level request fields that change nothing of the answer a chat backend gives: storage
/// and cache hints, what to include of server-side state, reasoning settings (a local model
/// reasons as its template says), truncation policy, request metadata, the service tier and
/// user tags, and Responses' own `stream_options` (obfuscation padding). Left out rather than
/// refused.
const ADVISORY_FIELDS: &[&str] = &[
    "store",
    "include",
    "reasoning",
    "prompt_cache_key",
    "truncation",
    "metadata",
    "service_tier",
    "user",
    "safety_identifier",
    "client_metadata",
    "stream_options",
];

/// The name a chat function carries for Responses' `local_shell` tool.
const LOCAL_SHELL: &str = "local_shell";

/// The hint for anything that runs on OpenAI's side only.
const OPENAI_ONLY: &str = "it runs on OpenAI's side only; leave it out of the request";

/// A refusal of `what` on the way to a chat backend (the same wording as the Messages
/// ingress, so that a client sees one voice).
fn refuse(what: impl std::fmt::Display, hint: &str) -> Unsupported {
    Unsupported(format!(
        "{what} is not supported by a chat backend; hint: {hint}"
    ))
}

// ----- The tools a request declared --------------------------------------------------------

/// The Responses kind of a declared tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Function,
    Custom,
    LocalShell,
}

/// A declared tool under its Responses name (and namespace, for a namespace's function).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Declared {
    kind: Kind,
    name: String,
    namespace: Option<String>,
}

/// The request's tools by the name their chat function carries, so that a call coming back
/// becomes the item kind the client declared. A name the table lacks is a plain function.
#[derive(Debug, Clone, Default)]
struct ToolTable {
    tools: HashMap<String, Declared>,
}

impl ToolTable {
    /// The tools `request` declares. Nothing is refused here: the request side already did.
    fn of(request: &Value) -> Self {
        let mut table = Self::default();
        for tool in request["tools"].as_array().into_iter().flatten() {
            match tool["type"].as_str() {
                Some("function") => table.add(Kind::Function, tool, None),
                Some("custom") => table.add(Kind::Custom, tool, None),
                Some("local_shell") => {
                    table.add(Kind::LocalShell, &json!({"name": LOCAL_SHELL}), None)
                }
                Some("namespace") => {
                    let namespace = tool["name"].as_str();
                    for inner in tool["tools"].as_array().into_iter().flatten() {
                        match inner["type"].as_str() {
                            Some("function") => table.add(Kind::Function, inner, namespace),
                            Some("custom") => table.add(Kind::Custom, inner, namespace),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        table
    }

    fn add(&mut self, kind: Kind, tool: &Value, namespace: Option<&str>) {
        let Some(name) = tool["name"].as_str() else {
            return;
        };
        self.tools.insert(
            chat_name(namespace, name),
            Declared {
                kind,
                name: name.to_owned(),
                namespace: namespace.map(str::to_owned),
            },
        );
    }

    fn get(&self, chat_name: &str) -> Option<&Declared> {
        self.tools.get(chat_name)
    }
}

/// The chat function name of tool `name` in `namespace`. Chat has no namespaces, so the two
/// are joined the way Codex named MCP tools before it had namespaces (`mcp__server__tool`).
fn chat_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) if namespace.ends_with('_') => format!("{namespace}{name}"),
        Some(namespace) if !namespace.is_empty() => format!("{namespace}__{name}"),
        _ => name.to_owned(),
    }
}

// ----- Answer: chat → Responses -------------------------------------------------------------

/// What a Response object repeats of the request (SDKs read these fields; Codex reads none),
/// with the Responses defaults where the request left one out.
#[derive(Debug, Clone)]
struct Echo {
    model: Option<String>,
    fields: Map<String, Value>,
}

impl Echo {
    fn of(request: &Value) -> Self {
        let defaults = [
            ("parallel_tool_calls", json!(true)),
            ("tool_choice", json!("auto")),
            ("tools", json!([])),
            ("temperature", Value::Null),
            ("top_p", Value::Null),
            ("max_output_tokens", Value::Null),
            ("text", json!({"format": {"type": "text"}})),
        ];
        let fields = defaults
            .into_iter()
            .map(|(key, default)| {
                let value = request
                    .get(key)
                    .filter(|value| !value.is_null())
                    .cloned()
                    .unwrap_or(default);
                (key.to_owned(), value)
            })
            .collect();
        Self {
            model: request["model"].as_str().map(str::to_owned),
            fields,
        }
    }
}

/// Who a Response is: its id (and the base its items' ids are made of), when it was made and
/// for which model.
#[derive(Debug, Clone)]
struct Head {
    base: String,
    created_at: u64,
    model: String,
}

impl Head {
    /// The head for the chat completion (or first chunk) `chat`: ids carry the completion's
    /// own, so that one answer is one id in both dialects' logs. The model is the one the
    /// client asked for (a backend reports its file name, which a client may take for a
    /// reroute).
    fn of(chat: &Value, echo: &Echo) -> Self {
        let base = match chat["id"].as_str() {
            Some(id) if !id.is_empty() => {
                let id = id
                    .strip_prefix("chatcmpl-")
                    .or_else(|| id.strip_prefix("chatcmpl_"))
                    .unwrap_or(id);
                id.to_owned()
            }
            // No id to carry: a fresh one.
            _ => uuid::Uuid::now_v7().simple().to_string(),
        };
        let created_at = chat["created"].as_u64().unwrap_or_else(unix_now);
        let model = echo
            .model
            .clone()
            .or_else(|| chat["model"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            base,
            created_at,
            model,
        }
    }

    fn id(&self) -> String {
        format!("resp_{}", self.base)
    }

    /// The id of the output item at `index`, with the prefix OpenAI gives its kind.
    fn item_id(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}_{}_{index}", self.base)
    }

    /// A Response object with `status`, `output` and `usage`; the caller sets
    /// `incomplete_details` or `error` where they apply.
    fn response(&self, echo: &Echo, status: &str, output: Vec<Value>, usage: Value) -> Value {
        let mut response = json!({
            "id": self.id(),
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": self.model,
            "output": output,
            "usage": usage,
        });
        for (key, value) in &echo.fields {
            response[key] = value.clone();
        }
        response
    }

    /// The finished Response for a chat finish reason, and the event that carries it: a
    /// reply cut at the token limit (or by a filter) is `incomplete`, as OpenAI reports it.
    fn finished(
        &self,
        echo: &Echo,
        output: Vec<Value>,
        tokens: Tokens,
        finish_reason: Option<&str>,
    ) -> (&'static str, Value) {
        let incomplete = incomplete_reason(finish_reason);
        let status = if incomplete.is_some() {
            "incomplete"
        } else {
            "completed"
        };
        let mut response = self.response(echo, status, output, tokens.to_json());
        match incomplete {
            Some(reason) => {
                response["incomplete_details"] = json!({"reason": reason});
                ("response.incomplete", response)
            }
            None => ("response.completed", response),
        }
    }
}

/// Why a reply with `finish_reason` is incomplete, in Responses' terms (`None`: it is not).
fn incomplete_reason(finish_reason: Option<&str>) -> Option<&'static str> {
    match finish_reason {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    }
}

/// The current unix time in seconds.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Token counts, as a Response reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tokens {
    input: u64,
    output: u64,
    cached: u64,
    reasoning: u64,
}

impl Tokens {
    /// The usage a chat completion or chunk reports, when it reports one.
    fn of_chat(value: &Value) -> Option<Self> {
        let usage = value.get("usage").filter(|usage| usage.is_object())?;
        Some(Self {
            input: usage["prompt_tokens"].as_u64().unwrap_or(0),
            output: usage["completion_tokens"].as_u64().unwrap_or(0),
            cached: usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
            reasoning: usage["completion_tokens_details"]["reasoning_tokens"]
                .as_u64()
                .unwrap_or(0),
        })
    }

    /// llama-server's `timings`, for a stream that sent no usage: `prompt_n` counts only the
    /// tokens evaluated now, `cache_n` the reused ones.
    fn of_timings(value: &Value) -> Option<Self> {
        let timings = value.get("timings").filter(|timings| timings.is_object())?;
        let cached = timings["cache_n"].as_u64().unwrap_or(0);
        Some(Self {
            input: timings["prompt_n"].as_u64()? + cached,
            output: timings["predicted_n"].as_u64().unwrap_or(0),
            cached,
            reasoning: 0,
        })
    }

    /// The Responses `usage` object. Every count is there: Codex refuses a `usage` that
    /// lacks `input_tokens`, `output_tokens` or `total_tokens`.
    fn to_json(self) -> Value {
        json!({
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        })
    }
}

/// A finished assistant message item.
fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// One tool call coming back, as an item of the kind the client declared its tool as.
struct Call<'a> {
    call_id: &'a str,
    /// The chat function's name.
    name: &'a str,
    arguments: &'a str,
    output_index: usize,
}

impl Call<'_> {
    /// The finished item (`status` for the kinds that have one).
    fn item(&self, tools: &ToolTable, head: &Head, status: &str) -> Value {
        let declared = tools.get(self.name);
        let kind = declared.map_or(Kind::Function, |declared| declared.kind);
        let name = declared.map_or(self.name, |declared| declared.name.as_str());
        let mut item = match kind {
            Kind::Custom => json!({
                "type": "custom_tool_call",
                "id": head.item_id(item_prefix(kind), self.output_index),
                "call_id": self.call_id,
                "name": name,
                "input": custom_input(self.arguments),
            }),
            Kind::LocalShell => json!({
                "type": "local_shell_call",
                "id": head.item_id(item_prefix(kind), self.output_index),
                "call_id": self.call_id,
                "status": status,
                "action": shell_action(self.arguments),
            }),
            Kind::Function => json!({
                "type": "function_call",
                "id": head.item_id(item_prefix(kind), self.output_index),
                "call_id": self.call_id,
                "name": name,
                "arguments": function_arguments(self.arguments),
                "status": status,
            }),
        };
        if let Some(namespace) = declared.and_then(|declared| declared.namespace.as_deref()) {
            item["namespace"] = namespace.into();
        }
        item
    }
}

/// A function call's arguments: a call without any has the empty object, as OpenAI reports
/// it (a client parses the arguments as JSON).
fn function_arguments(arguments: &str) -> &str {
    if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    }
}

/// The id prefix OpenAI gives an item kind.
fn item_prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Function => "fc",
        Kind::Custom => "ctc",
        Kind::LocalShell => "lsh",
    }
}

/// A custom tool's text from the arguments of the function it travelled as: the `input`
/// string of `{"input": …}`, or the raw arguments when the model wrote something else (the
/// tool then sees what the model wrote and can say what is wrong with it).
fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(fields)) => match fields.get("input") {
            Some(Value::String(input)) => input.clone(),
            _ => arguments.to_owned(),
        },
        _ => arguments.to_owned(),
    }
}

/// The `exec` action of a local shell call for the arguments of the `local_shell` function.
fn shell_action(arguments: &str) -> Value {
    let arguments = serde_json::from_str::<Value>(arguments).unwrap_or(Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| arguments.get(*name).filter(|value| !value.is_null()))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "type": "exec",
        "command": field(&["command"]),
        "timeout_ms": field(&["timeout_ms", "timeout"]),
        "working_directory": field(&["workdir", "working_directory"]),
        "env": field(&["env"]),
        "user": field(&["user"]),
    })
}

/// The text of a chat message's `content` (some servers answer in parts).
fn chat_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// A chat tool call's arguments as the string chat promises (some servers send an object).
fn chat_arguments(arguments: &Value) -> String {
    match arguments {
        Value::String(arguments) => arguments.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Translates a non-streamed chat completion into a Response object, for the Responses
/// `request` it answers (its tools say which calls are custom or local shell calls; its
/// settings are repeated, as OpenAI repeats them).
pub fn response_from_chat(chat: &Value, request: &Value) -> Value {
    let tools = ToolTable::of(request);
    let echo = Echo::of(request);
    let head = Head::of(chat, &echo);
    let choice = &chat["choices"][0];
    let message = &choice["message"];
    let finish_reason = choice["finish_reason"].as_str();
    let status = if incomplete_reason(finish_reason).is_some() {
        "incomplete"
    } else {
        "completed"
    };
    let mut output = Vec::new();
    let text = chat_text(&message["content"]);
    if !text.is_empty() {
        output.push(message_item(&head.item_id("msg", 0), &text, status));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let output_index = output.len();
        let fallback_id = head.item_id("call", output_index);
        let arguments = chat_arguments(&call["function"]["arguments"]);
        let call = Call {
            call_id: call["id"].as_str().unwrap_or(&fallback_id),
            name: call["function"]["name"].as_str().unwrap_or_default(),
            arguments: &arguments,
            output_index,
        };
        output.push(call.item(&tools, &head, status));
    }
    let tokens = Tokens::of_chat(chat).unwrap_or_default();
    head.finished(&echo, output, tokens, finish_reason).1
}

// ----- Errors and usage ---------------------------------------------------------------------

/// An OpenAI error body for an HTTP `status` (the Responses and the chat ingress both answer
/// in it). A 429 is a plain rate limit (`type: requests`): Codex reads a 429 whose type is
/// `usage_limit_reached` or `usage_not_included` as the end of a ChatGPT plan, which a local
/// gateway never means.
pub fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("authentication_error", json!("invalid_api_key")),
        403 => ("permission_error", Value::Null),
        404 => ("not_found_error", Value::Null),
        429 => ("requests", json!("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", Value::Null),
        _ => ("server_error", Value::Null),
    };
    json!({
        "error": {
            "message": message,
            "type": kind,
            "param": null,
            "code": code,
        }
    })
}

/// A Responses `usage` object in the ledger's terms. Responses' `input_tokens` already
/// counts the cached ones, so it is the prompt as it stands.
fn reported(usage: &Value) -> ReportedUsage {
    ReportedUsage {
        prompt_tokens: usage["input_tokens"].as_u64(),
        completion_tokens: usage["output_tokens"].as_u64(),
        cached_tokens: usage["input_tokens_details"]["cached_tokens"].as_u64(),
    }
}

/// The usage of a passed-through (non-streamed) Response object.
pub fn usage_of_response(body: &Value) -> ReportedUsage {
    reported(&body["usage"])
}

/// The usage a passed-through Responses event reports: the finished response of
/// `response.completed` or `response.incomplete`. `None` for any other event, and for one
/// whose response carries no usage.
pub fn usage_of_event(data: &Value) -> Option<ReportedUsage> {
    match data["type"].as_str() {
        Some("response.completed" | "response.incomplete") => {
            let usage = &data["response"]["usage"];
            usage.is_object().then(|| reported(usage))
        }
        _ => None,
    }
}
