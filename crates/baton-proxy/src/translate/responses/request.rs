//! The request side: a Responses request as a chat request ([`request_to_chat`]).

use serde_json::{Map, Value, json};

use super::{ADVISORY_FIELDS, LOCAL_SHELL, OPENAI_ONLY, chat_name, refuse};
use crate::translate::Unsupported;

/// Translates a Responses request into a chat request. Every field is mapped, left out (when
/// it is advisory) or refused; fields neither dialect defines go on unchanged, since
/// OpenAI-compatible servers take extras of their own (llama-server's `cache_prompt`).
/// `model` is copied: the caller puts in the backend's.
pub fn request_to_chat(body: &Value) -> Result<Value, Unsupported> {
    let fields = body
        .as_object()
        .ok_or_else(|| Unsupported("the request body is not a JSON object".into()))?;
    let mut conversation = Conversation::default();
    match fields.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(Value::String(text)) => conversation.system(text.clone()),
        Some(_) => return Err(Unsupported("`instructions` is not a string".into())),
    }
    match fields.get("input") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => conversation.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                conversation.item(index, item)?;
            }
        }
        Some(_) => {
            return Err(Unsupported(
                "`input` is neither a string nor an array of items".into(),
            ));
        }
    }
    let mut chat = Map::new();
    for (key, value) in fields {
        match key.as_str() {
            "instructions" | "input" => {}
            key if ADVISORY_FIELDS.contains(&key) => {}
            // An explicit null says "not set".
            "previous_response_id"
            | "conversation"
            | "prompt"
            | "background"
            | "tools"
            | "tool_choice"
            | "parallel_tool_calls"
            | "max_output_tokens"
            | "text"
            | "temperature"
            | "top_p"
            | "stream"
                if value.is_null() =>
            {
                // Nothing to map.
            }
            "previous_response_id" => {
                return Err(refuse(
                    "`previous_response_id`",
                    "this gateway keeps no responses: send the whole conversation in `input` (store: false)",
                ));
            }
            "conversation" => {
                return Err(refuse(
                    "`conversation`",
                    "this gateway keeps no conversations: send the whole conversation in `input` (store: false)",
                ));
            }
            "prompt" => {
                return Err(refuse(
                    "`prompt` (a stored prompt template)",
                    "send the prompt's text as `instructions`",
                ));
            }
            "background" => {
                if value == &Value::Bool(true) {
                    return Err(refuse(
                        "`background: true`",
                        "this gateway keeps no responses to poll: stream the answer (`stream: true`) or wait for it",
                    ));
                }
            }
            "tools" => {
                let tools = tools_to_chat(value)?;
                // OpenAI refuses an empty list (and Codex sends one when it has no tools).
                if !tools.is_empty() {
                    chat.insert("tools".into(), Value::Array(tools));
                }
            }
            "tool_choice" => {
                chat.insert("tool_choice".into(), tool_choice_to_chat(value)?);
            }
            "max_output_tokens" => {
                chat.insert("max_tokens".into(), value.clone());
            }
            "text" => text_to_chat(value, &mut chat)?,
            "stream" => {
                chat.insert("stream".into(), value.clone());
                if value == &Value::Bool(true) {
                    // The usage chunk at the end is what `response.completed` reports.
                    chat.insert("stream_options".into(), json!({"include_usage": true}));
                }
            }
            // model, temperature, top_p, parallel_tool_calls and the server's own extras.
            _ => {
                chat.insert(key.clone(), value.clone());
            }
        }
    }
    if !chat.contains_key("tools") {
        // Chat servers refuse a tool choice (and `parallel_tool_calls`) without tools; with
        // none declared there is nothing they could change.
        chat.remove("tool_choice");
        chat.remove("parallel_tool_calls");
    }
    chat.insert("messages".into(), Value::Array(conversation.finish()));
    Ok(Value::Object(chat))
}

/// The chat messages an `input` list becomes, built item by item.
#[derive(Debug, Default)]
struct Conversation {
    messages: Vec<Value>,
    /// Images that tool outputs returned. A chat tool message carries text only, so they
    /// follow the run of tool results in one user message (the tool messages must stay
    /// right after the assistant message that called them).
    images: Vec<Value>,
}

impl Conversation {
    /// A system message. Leading ones (instructions, then Codex's developer messages) join
    /// into one: many chat templates refuse a system message anywhere but first.
    fn system(&mut self, text: String) {
        if self.images.is_empty()
            && self
                .messages
                .iter()
                .all(|message| message["role"] == "system")
            && let Some(last) = self.messages.last_mut()
            && let Some(previous) = last["content"].as_str()
        {
            last["content"] = Value::String(format!("{previous}\n\n{text}"));
        } else {
            self.push(json!({"role": "system", "content": text}));
        }
    }

    /// Any message but a tool result.
    fn push(&mut self, message: Value) {
        self.flush_images();
        self.messages.push(message);
    }

    /// One tool call. Consecutive calls, and the assistant text just before them, are one
    /// assistant message in chat.
    fn tool_call(&mut self, call: Value) {
        self.flush_images();
        match self.messages.last_mut() {
            Some(last) if last["role"] == "assistant" => match last.get_mut("tool_calls") {
                Some(Value::Array(calls)) => calls.push(call),
                _ => last["tool_calls"] = json!([call]),
            },
            _ => self.messages.push(json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [call],
            })),
        }
    }

    /// One tool result: its text in a tool message, its images held for the user message
    /// after the run of results.
    fn tool_result(&mut self, call_id: &str, text: String, images: Vec<Value>) {
        let content = if text.is_empty() && !images.is_empty() {
            "(the tool returned images; they follow in the next message)".to_owned()
        } else {
            text
        };
        self.messages.push(json!({
            "role": "tool",
            "tool_call_id": call_id,
            "content": content,
        }));
        self.images.extend(images);
    }

    fn flush_images(&mut self) {
        if !self.images.is_empty() {
            let images = std::mem::take(&mut self.images);
            self.messages
                .push(json!({"role": "user", "content": images}));
        }
    }

    fn finish(mut self) -> Vec<Value> {
        self.flush_images();
        self.messages
    }

    /// One `input` item.
    fn item(&mut self, index: usize, item: &Value) -> Result<(), Unsupported> {
        let kind = match item["type"].as_str() {
            Some(kind) => kind,
            // An easy input message (`{role, content}`) has no type.
            None if item.get("role").is_some() => "message",
            None => return Err(Unsupported(format!("input[{index}] has no `type`"))),
        };
        match kind {
            "message" => self.message(index, item),
            "function_call" => {
                let name = chat_name(item["namespace"].as_str(), required(index, item, "name")?);
                let arguments = match &item["arguments"] {
                    Value::String(arguments) => arguments.clone(),
                    Value::Null => "{}".to_owned(),
                    other => other.to_string(),
                };
                self.tool_call(chat_call(call_id(index, item)?, &name, &arguments));
                Ok(())
            }
            "custom_tool_call" => {
                let name = chat_name(item["namespace"].as_str(), required(index, item, "name")?);
                // The function the custom tool became takes its text as `input`.
                let input = item["input"].as_str().unwrap_or_default();
                let arguments = json!({"input": input}).to_string();
                self.tool_call(chat_call(call_id(index, item)?, &name, &arguments));
                Ok(())
            }
            "local_shell_call" => {
                let arguments = shell_arguments(&item["action"]).to_string();
                self.tool_call(chat_call(call_id(index, item)?, LOCAL_SHELL, &arguments));
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let call_id = call_id(index, item)?;
                let (text, images) = output_content(index, &item["output"])?;
                self.tool_result(call_id, text, images);
                Ok(())
            }
            // The model's own earlier reasoning: a chat backend takes none back, and the
            // answer does not depend on it (Codex sends it encrypted for OpenAI anyway).
            "reasoning" => Ok(()),
            _ => Err(unsupported_item(index, kind)),
        }
    }

    /// A message item.
    fn message(&mut self, index: usize, item: &Value) -> Result<(), Unsupported> {
        let role = match item["role"].as_str() {
            Some(role @ ("user" | "assistant" | "system")) => role,
            // Codex's permission and environment instructions: system text to a chat model.
            Some("developer") => "system",
            Some(other) => {
                return Err(Unsupported(format!(
                    "input[{index}] has the role `{other}`, which chat has no counterpart for"
                )));
            }
            None => return Err(Unsupported(format!("input[{index}] has no `role`"))),
        };
        let parts = content_parts(index, &item["content"])?;
        if role == "user" {
            self.push(json!({"role": "user", "content": user_content(parts)}));
            return Ok(());
        }
        let mut text = String::new();
        for part in parts {
            match part {
                Part::Text(piece) => text.push_str(&piece),
                Part::Image(_) => {
                    return Err(refuse(
                        format!(
                            "input[{index}]: an image in a{} {role} message",
                            if role == "assistant" { "n" } else { "" }
                        ),
                        "chat takes images in user messages only",
                    ));
                }
            }
        }
        if role == "system" {
            self.system(text);
        } else {
            self.push(json!({"role": "assistant", "content": text}));
        }
        Ok(())
    }
}

/// A chat tool call.
fn chat_call(call_id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    })
}

/// A string field an item must have.
fn required<'a>(index: usize, item: &'a Value, field: &str) -> Result<&'a str, Unsupported> {
    item[field].as_str().ok_or_else(|| {
        Unsupported(format!(
            "input[{index}] (`{}`) has no `{field}`",
            item["type"].as_str().unwrap_or("item")
        ))
    })
}

/// The call an item belongs to: `call_id`, or for Responses' local shell items the `id`
/// they used before `call_id` existed.
fn call_id(index: usize, item: &Value) -> Result<&str, Unsupported> {
    match item["call_id"].as_str() {
        Some(call_id) => Ok(call_id),
        None if item["type"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("local_shell")) =>
        {
            required(index, item, "id")
        }
        None => required(index, item, "call_id"),
    }
}

/// The arguments of the `local_shell` function for a shell action, named as the function
/// declares them (`workdir` for the action's `working_directory`), so that the model sees
/// one shape whether it reads its history or calls the tool.
fn shell_arguments(action: &Value) -> Value {
    let mut arguments = Map::new();
    for (key, value) in action.as_object().into_iter().flatten() {
        match key.as_str() {
            "type" => {}
            _ if value.is_null() => {}
            "working_directory" => {
                arguments.insert("workdir".into(), value.clone());
            }
            _ => {
                arguments.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(arguments)
}

/// The refusal of an item type chat has no form for.
fn unsupported_item(index: usize, kind: &str) -> Unsupported {
    let hint = match kind {
        "item_reference" => "this gateway keeps no items: send the referenced item itself",
        "compaction" | "compaction_summary" => {
            "it is OpenAI's encrypted compaction state, which only OpenAI reads; compact the conversation locally"
        }
        "web_search_call"
        | "file_search_call"
        | "computer_call"
        | "computer_call_output"
        | "code_interpreter_call"
        | "image_generation_call"
        | "tool_search_call"
        | "tool_search_output" => {
            "it records a built-in tool that runs on OpenAI's side only; leave the item out of `input`"
        }
        kind if kind.starts_with("mcp_") => {
            "it records a remote MCP call made on OpenAI's side; leave the item out of `input`"
        }
        _ => "leave the item out of `input`",
    };
    refuse(format!("input[{index}] is a `{kind}` item, which"), hint)
}

/// One content part, in chat's terms.
enum Part {
    Text(String),
    Image(Value),
}

/// The parts of a message's `content` (a string is one text part).
fn content_parts(index: usize, content: &Value) -> Result<Vec<Part>, Unsupported> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![Part::Text(text.clone())]),
        Value::Array(parts) => parts,
        _ => {
            return Err(Unsupported(format!(
                "input[{index}]: `content` is neither a string nor an array of parts"
            )));
        }
    };
    parts.iter().map(|part| content_part(index, part)).collect()
}

fn content_part(index: usize, part: &Value) -> Result<Part, Unsupported> {
    match part["type"].as_str() {
        Some("input_text" | "output_text" | "text") => Ok(Part::Text(
            part["text"].as_str().unwrap_or_default().to_owned(),
        )),
        // An earlier refusal is what the model said.
        Some("refusal") => Ok(Part::Text(
            part["refusal"].as_str().unwrap_or_default().to_owned(),
        )),
        Some("input_image") => image_part(index, part).map(Part::Image),
        Some("input_file") => Err(refuse(
            format!("input[{index}]: an `input_file` part"),
            "send the file's text as `input_text`",
        )),
        Some(kind) => Err(refuse(
            format!("input[{index}]: a `{kind}` content part"),
            "send text (`input_text`) or images (`input_image` with `image_url`)",
        )),
        None => Err(Unsupported(format!(
            "input[{index}]: a content part has no `type`"
        ))),
    }
}

/// A chat `image_url` part for an `input_image` part.
fn image_part(index: usize, part: &Value) -> Result<Value, Unsupported> {
    match part["image_url"].as_str() {
        Some(url) => {
            let mut image = json!({"url": url});
            if let Some(detail) = part.get("detail").filter(|detail| !detail.is_null()) {
                image["detail"] = detail.clone();
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        None if part.get("file_id").is_some_and(|id| !id.is_null()) => Err(refuse(
            format!("input[{index}]: an `input_image` given by `file_id`"),
            "this gateway has no file store: put the image inline in `image_url` (a data: URL)",
        )),
        None => Err(Unsupported(format!(
            "input[{index}]: an `input_image` part has no `image_url`"
        ))),
    }
}

/// A user message's chat content: one text part stays a plain string (what every chat
/// template takes); anything else is a list of parts.
fn user_content(parts: Vec<Part>) -> Value {
    if let [Part::Text(text)] = parts.as_slice() {
        return Value::String(text.clone());
    }
    if parts.is_empty() {
        return Value::String(String::new());
    }
    Value::Array(
        parts
            .into_iter()
            .map(|part| match part {
                Part::Text(text) => json!({"type": "text", "text": text}),
                Part::Image(image) => image,
            })
            .collect(),
    )
}

/// A tool output (a string, or text and image parts) as the tool message's text and the
/// images that follow it. Separate text parts are separate blocks: one per line.
fn output_content(index: usize, output: &Value) -> Result<(String, Vec<Value>), Unsupported> {
    if let Value::String(text) = output {
        return Ok((text.clone(), Vec::new()));
    }
    if !output.is_array() && !output.is_null() {
        return Err(Unsupported(format!(
            "input[{index}]: `output` is neither a string nor an array of parts"
        )));
    }
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for part in content_parts(index, output)? {
        match part {
            Part::Text(text) => texts.push(text),
            Part::Image(image) => images.push(image),
        }
    }
    Ok((texts.join("\n"), images))
}

/// The chat tools for Responses `tools`.
fn tools_to_chat(tools: &Value) -> Result<Vec<Value>, Unsupported> {
    let list = tools
        .as_array()
        .ok_or_else(|| Unsupported("`tools` is not an array".into()))?;
    let mut chat = Vec::new();
    for (index, tool) in list.iter().enumerate() {
        match tool["type"].as_str() {
            Some("function") => chat.push(function_tool(index, tool, None)?),
            Some("custom") => chat.push(custom_tool(index, tool, None)?),
            Some("local_shell") => chat.push(local_shell_tool()),
            Some("namespace") => {
                let namespace = tool["name"].as_str().ok_or_else(|| {
                    Unsupported(format!("tools[{index}] (`namespace`) has no `name`"))
                })?;
                for inner in tool["tools"].as_array().into_iter().flatten() {
                    match inner["type"].as_str() {
                        Some("function") => {
                            chat.push(function_tool(index, inner, Some(namespace))?)
                        }
                        Some("custom") => chat.push(custom_tool(index, inner, Some(namespace))?),
                        other => {
                            return Err(refuse(
                                format!(
                                    "tools[{index}]: a `{}` tool in the namespace `{namespace}`",
                                    other.unwrap_or("untyped")
                                ),
                                "a namespace can carry function and custom tools only",
                            ));
                        }
                    }
                }
            }
            Some(kind) if kind.starts_with("web_search") => {
                return Err(refuse(
                    format!("tools[{index}] is the built-in tool `{kind}`, which"),
                    "it runs on OpenAI's side only; Codex declares it unless its config.toml sets `web_search = \"disabled\"`",
                ));
            }
            Some(kind) => {
                return Err(refuse(
                    format!("tools[{index}] is the built-in tool `{kind}`, which"),
                    OPENAI_ONLY,
                ));
            }
            None => return Err(Unsupported(format!("tools[{index}] has no `type`"))),
        }
    }
    Ok(chat)
}

/// A tool's `name`.
fn tool_name(index: usize, tool: &Value) -> Result<&str, Unsupported> {
    tool["name"]
        .as_str()
        .ok_or_else(|| Unsupported(format!("tools[{index}] has no `name`")))
}

/// A chat function for a Responses function tool (flat: chat nests it under `function`).
fn function_tool(
    index: usize,
    tool: &Value,
    namespace: Option<&str>,
) -> Result<Value, Unsupported> {
    let mut function = Map::new();
    function.insert(
        "name".into(),
        chat_name(namespace, tool_name(index, tool)?).into(),
    );
    if let Some(description) = tool.get("description").filter(|value| !value.is_null()) {
        function.insert("description".into(), description.clone());
    }
    let parameters = match tool.get("parameters") {
        Some(parameters) if !parameters.is_null() => parameters.clone(),
        // Some chat servers want a schema even for a function without arguments.
        _ => json!({"type": "object", "properties": {}}),
    };
    function.insert("parameters".into(), parameters);
    if let Some(strict) = tool.get("strict").filter(|value| !value.is_null()) {
        function.insert("strict".into(), strict.clone());
    }
    Ok(json!({"type": "function", "function": function}))
}

/// A chat function for a freeform custom tool: one string argument `input`, the tool's text.
/// Chat has no freeform tools, so the description says how the text travels and, for a
/// grammar, what it must look like (a chat backend cannot constrain the text to it).
fn custom_tool(index: usize, tool: &Value, namespace: Option<&str>) -> Result<Value, Unsupported> {
    let name = chat_name(namespace, tool_name(index, tool)?);
    let mut description = tool["description"].as_str().unwrap_or_default().to_owned();
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str(
        "This tool takes free-form text, not JSON: pass the whole text, unchanged, as the string argument `input`.",
    );
    if let Some((syntax, definition)) = grammar(&tool["format"]) {
        description.push_str(&format!(
            "\nThe text must match this {syntax} grammar:\n{definition}"
        ));
    }
    Ok(json!({
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {
                    "input": {
                        "type": "string",
                        "description": "The tool's whole free-form input text.",
                    },
                },
                "required": ["input"],
            },
        },
    }))
}

/// The syntax and definition of a custom tool's grammar format, in Responses' flat shape or
/// chat's nested one (`grammar: {syntax, definition}`).
fn grammar(format: &Value) -> Option<(&str, &str)> {
    if format["type"].as_str() != Some("grammar") {
        return None;
    }
    let nested = &format["grammar"];
    let definition = format["definition"]
        .as_str()
        .or_else(|| nested["definition"].as_str())?;
    let syntax = format["syntax"]
        .as_str()
        .or_else(|| nested["syntax"].as_str())
        .unwrap_or("lark");
    Some((syntax, definition))
}

/// The chat function for Responses' `local_shell` tool, with the arguments of its `exec`
/// action.
fn local_shell_tool() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": LOCAL_SHELL,
            "description": "Runs a command on the user's machine and returns its output.",
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "The program and its arguments, one string each.",
                    },
                    "workdir": {
                        "type": "string",
                        "description": "The directory to run the command in.",
                    },
                    "timeout_ms": {
                        "type": "integer",
                        "description": "How long the command may run, in milliseconds.",
                    },
                },
                "required": ["command"],
            },
        },
    })
}

/// A chat `tool_choice` for a Responses one.
fn tool_choice_to_chat(choice: &Value) -> Result<Value, Unsupported> {
    match choice {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::Object(_) => match choice["type"].as_str() {
            Some("function" | "custom") => {
                let name = choice["name"]
                    .as_str()
                    .ok_or_else(|| Unsupported("`tool_choice` names no tool (`name`)".into()))?;
                Ok(json!({"type": "function", "function": {"name": name}}))
            }
            Some("local_shell") => {
                Ok(json!({"type": "function", "function": {"name": LOCAL_SHELL}}))
            }
            Some("allowed_tools") => Err(refuse(
                "`tool_choice` of type `allowed_tools`",
                "declare only the allowed tools in `tools`",
            )),
            Some(kind) => Err(refuse(
                format!("`tool_choice` naming the built-in tool `{kind}`"),
                OPENAI_ONLY,
            )),
            None => Err(Unsupported("`tool_choice` has no `type`".into())),
        },
        _ => Err(Unsupported(format!(
            "`tool_choice` is {choice}, not `auto`, `none`, `required` or a named tool"
        ))),
    }
}

/// Chat's `response_format` for `text.format`. `text.verbosity` is advisory: chat has no
/// such knob, and the answer stays a valid answer without it.
fn text_to_chat(text: &Value, chat: &mut Map<String, Value>) -> Result<(), Unsupported> {
    let format = &text["format"];
    match format["type"].as_str() {
        None | Some("text") => {}
        Some("json_schema") => {
            let mut schema = Map::new();
            schema.insert(
                "name".into(),
                format
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| "response".into()),
            );
            for key in ["schema", "strict", "description"] {
                if let Some(value) = format.get(key).filter(|value| !value.is_null()) {
                    schema.insert(key.into(), value.clone());
                }
            }
            chat.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": schema}),
            );
        }
        Some("json_object") => {
            chat.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(kind) => {
            return Err(refuse(
                format!("`text.format` of type `{kind}`"),
                "ask for `text`, `json_schema` or `json_object`",
            ));
        }
    }
    Ok(())
}
