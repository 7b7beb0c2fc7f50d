//! What the proxy changes in a request for the backend that serves it (`[proxy.local]`,
//! `[proxy.cloud]`): heavy tools trimmed, the profile's sampling where the client sent none,
//! `max_tokens` capped at the profile's and at the room the server's slot leaves, and a
//! demanded tool call held to a schema of the declared tools. Everything else the client
//! sent, unknown fields included, goes on as sent.

use std::collections::BTreeSet;

use baton_config::{Dialect, ProxyAdapt};
use baton_core::usage::estimate_tokens_from_chars;
use baton_llm::router::Target;
use baton_llm::wire::sampling_fields;
use serde_json::{Map, Value, json};

/// Tokens left for the reply below which a request is not worth sending.
pub const MIN_REPLY_ROOM: u64 = 256;

/// The name of a declared tool, in `dialect`'s shape.
pub fn tool_name(dialect: Dialect, tool: &Value) -> Option<&str> {
    match dialect {
        Dialect::Chat => tool
            .get("function")
            .and_then(|function| function.get("name"))
            .and_then(Value::as_str),
        Dialect::Messages | Dialect::Responses => tool.get("name").and_then(Value::as_str),
    }
}

/// The names of the tools a request declares.
pub fn declared_tools(dialect: Dialect, body: &Map<String, Value>) -> BTreeSet<String> {
    body.get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tool| tool_name(dialect, tool))
        .map(str::to_owned)
        .collect()
}

/// The field that bounds the reply's length in `dialect`.
fn max_tokens_field(dialect: Dialect, body: &Map<String, Value>) -> &'static str {
    match dialect {
        Dialect::Chat if body.contains_key("max_completion_tokens") => "max_completion_tokens",
        Dialect::Chat | Dialect::Messages => "max_tokens",
        Dialect::Responses => "max_output_tokens",
    }
}

/// Estimated prompt tokens of a request: its messages (or input), system text and tools.
pub fn prompt_tokens(body: &Map<String, Value>) -> u64 {
    let chars: usize = ["messages", "input", "instructions", "system", "tools"]
        .iter()
        .filter_map(|key| body.get(*key))
        .map(|value| match value {
            Value::String(text) => text.chars().count(),
            other => other.to_string().chars().count(),
        })
        .sum();
    estimate_tokens_from_chars(chars)
}

/// The adjustments for one step of the chain.
pub struct Adjust<'a> {
    pub adapt: &'a ProxyAdapt,
    pub target: &'a Target,
    /// Tokens the server's slot leaves for the reply, when its context is known.
    pub room: Option<u64>,
}

impl Adjust<'_> {
    /// Applies the adjustments to `body`, a request in `dialect` for the step's backend.
    /// `sampling` adds the profile's sampling fields the backend takes (chat bodies only:
    /// the other dialects have no names for them).
    pub fn apply(&self, dialect: Dialect, body: &mut Map<String, Value>) {
        let adapt = self.adapt;
        if !adapt.trim_tools.is_empty()
            && let Some(Value::Array(tools)) = body.get_mut("tools")
        {
            tools.retain(|tool| {
                tool_name(dialect, tool)
                    .is_none_or(|name| !adapt.trim_tools.iter().any(|t| t == name))
            });
        }
        if adapt.default_sampling {
            body.entry("temperature")
                .or_insert_with(|| json!(self.target.temperature));
            if dialect == Dialect::Chat && self.target.backend.kind.dialect() == Dialect::Chat {
                for (name, value) in
                    sampling_fields(self.target.backend.sampling_params, &self.target.sampling)
                {
                    body.entry(name).or_insert(value);
                }
            }
        }
        if adapt.cap_max_tokens {
            let field = max_tokens_field(dialect, body);
            let mut cap = u64::from(self.target.max_tokens);
            if let Some(room) = self.room {
                cap = cap.min(room.max(MIN_REPLY_ROOM));
            }
            let asked = body.get(field).and_then(Value::as_u64);
            body.insert(
                field.into(),
                json!(asked.map_or(cap, |asked| asked.min(cap))),
            );
        }
    }
}

/// Where a chat request demands a tool call (`tool_choice` "required" or one function) and
/// declares tools, the answer is held to a JSON schema of `{name, arguments}` over those
/// tools, the one place llama-server enforces a shape (a grammar); the tools are described
/// in the system prompt instead, since llama-server takes no grammar beside tools. Returns
/// the names the answer may call, for the rescue to turn the answer into a call.
pub fn force_tool_choice(chat: &mut Map<String, Value>) -> Option<BTreeSet<String>> {
    let forced: Option<String> = match chat.get("tool_choice")? {
        Value::String(choice) if choice == "required" => None,
        Value::Object(choice) => Some(
            choice
                .get("function")
                .and_then(|function| function.get("name"))
                .and_then(Value::as_str)?
                .to_owned(),
        ),
        _ => return None,
    };
    let tools: Vec<Value> = chat
        .get("tools")?
        .as_array()?
        .iter()
        .filter(|tool| {
            forced
                .as_deref()
                .is_none_or(|name| tool_name(Dialect::Chat, tool) == Some(name))
        })
        .cloned()
        .collect();
    if tools.is_empty() {
        return None;
    }
    let mut names = BTreeSet::new();
    let mut shapes = Vec::new();
    let mut described = Vec::new();
    for tool in &tools {
        let Some(name) = tool_name(Dialect::Chat, tool) else {
            continue;
        };
        let function = &tool["function"];
        let parameters = function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({ "type": "object" }));
        shapes.push(json!({
            "type": "object",
            "properties": { "name": { "const": name }, "arguments": parameters },
            "required": ["name", "arguments"],
        }));
        described.push(format!(
            "- {name}: {}\n  arguments: {}",
            function
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or(""),
            parameters
        ));
        names.insert(name.to_owned());
    }
    chat.remove("tools");
    chat.remove("tool_choice");
    chat.remove("parallel_tool_calls");
    let schema = if shapes.len() == 1 {
        shapes.remove(0)
    } else {
        json!({ "anyOf": shapes })
    };
    chat.insert(
        "response_format".into(),
        json!({ "type": "json_schema", "json_schema": { "name": "tool_call", "strict": true, "schema": schema } }),
    );
    let note = format!(
        "Call one of these tools. Answer with one JSON object {{\"name\": TOOL, \"arguments\": {{...}}}} and nothing else.\n{}",
        described.join("\n")
    );
    add_system_note(chat, &note);
    Some(names)
}

/// Appends `note` to the leading system message, or adds one.
pub fn add_system_note(chat: &mut Map<String, Value>, note: &str) {
    let Some(Value::Array(messages)) = chat.get_mut("messages") else {
        return;
    };
    match messages.first_mut() {
        Some(first) if first.get("role").and_then(Value::as_str) == Some("system") => {
            let text = match first.get("content") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(|part| part.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                _ => String::new(),
            };
            first["content"] = Value::String(format!("{text}\n\n{note}"));
        }
        _ => messages.insert(0, json!({ "role": "system", "content": note })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn target() -> Target {
        let settings = baton_config::load(&baton_config::LoadOptions {
            cwd: std::env::temp_dir().join("baton-proxy-adapt-tests-none"),
            ..Default::default()
        })
        .unwrap()
        .settings;
        baton_llm::router::chain(&settings, "code")
            .unwrap()
            .remove(0)
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn local_steps_get_the_profiles_sampling_and_a_capped_max_tokens() {
        let target = target();
        let adapt = ProxyAdapt::LOCAL;
        let adjust = Adjust {
            adapt: &adapt,
            target: &target,
            room: Some(3000),
        };
        let mut body = object(json!({ "model": "m", "max_tokens": 32000, "messages": [] }));
        adjust.apply(Dialect::Messages, &mut body);
        assert_eq!(body["max_tokens"], json!(3000));
        assert_eq!(body["temperature"], json!(target.temperature));
        assert!(
            !body.contains_key("top_k"),
            "Messages has no name for the sampling fields"
        );

        let mut body = object(json!({ "temperature": 0.7, "messages": [] }));
        adjust.apply(Dialect::Responses, &mut body);
        assert_eq!(
            body["temperature"],
            json!(0.7),
            "the client's own value stands"
        );
        assert_eq!(body["max_output_tokens"], json!(3000));
    }

    #[test]
    fn cloud_steps_get_what_the_client_sent() {
        let target = target();
        let adapt = ProxyAdapt::CLOUD;
        let adjust = Adjust {
            adapt: &adapt,
            target: &target,
            room: Some(100),
        };
        let sent =
            object(json!({ "max_tokens": 32000, "messages": [], "tools": [{"name": "Bash"}] }));
        let mut body = sent.clone();
        adjust.apply(Dialect::Messages, &mut body);
        assert_eq!(body, sent);
    }

    #[test]
    fn trimmed_tools_are_left_out_in_each_dialect() {
        let target = target();
        let adapt = ProxyAdapt {
            trim_tools: vec!["NotebookEdit".into()],
            ..ProxyAdapt::CLOUD
        };
        let adjust = Adjust {
            adapt: &adapt,
            target: &target,
            room: None,
        };
        let mut body = object(json!({ "tools": [{"name": "NotebookEdit"}, {"name": "Bash"}] }));
        adjust.apply(Dialect::Messages, &mut body);
        assert_eq!(body["tools"], json!([{"name": "Bash"}]));
        let mut body = object(json!({ "tools": [
            {"type": "function", "function": {"name": "NotebookEdit"}},
            {"type": "function", "function": {"name": "Bash"}}] }));
        adjust.apply(Dialect::Chat, &mut body);
        assert_eq!(
            declared_tools(Dialect::Chat, &body),
            ["Bash".to_owned()].into()
        );
    }

    #[test]
    fn a_demanded_call_becomes_a_schema_over_the_declared_tools() {
        let mut chat = object(json!({
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "go"}],
            "tools": [
                {"type": "function", "function": {"name": "Bash", "description": "run",
                    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "Write", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "Bash"}},
        }));
        let names = force_tool_choice(&mut chat).unwrap();
        assert_eq!(names, ["Bash".to_owned()].into());
        assert!(!chat.contains_key("tools") && !chat.contains_key("tool_choice"));
        assert_eq!(
            chat["response_format"]["json_schema"]["schema"],
            json!({"type": "object",
                "properties": {"name": {"const": "Bash"}, "arguments": {"type": "object", "properties": {"command": {"type": "string"}}}},
                "required": ["name", "arguments"]})
        );
        let system = chat["messages"][0]["content"].as_str().unwrap();
        assert!(
            system.starts_with("Be brief.\n\nCall one of these tools."),
            "{system}"
        );
        assert!(system.contains("- Bash: run"), "{system}");
    }

    #[test]
    fn a_free_tool_choice_is_not_forced() {
        let mut chat = object(
            json!({ "messages": [], "tools": [{"type": "function", "function": {"name": "Bash"}}], "tool_choice": "auto" }),
        );
        assert_eq!(force_tool_choice(&mut chat), None);
        assert!(chat.contains_key("tools"));
    }
}
