//! Tool-call rescue: small local models asked to call a tool often write the call as text (a
//! fenced ```json block, bare JSON, or Qwen's `<tool_call>` tags) instead of the server's tool
//! call syntax, and the agent CLI then sees a plain answer and stops having done nothing. On
//! the chat pivot, text that may be such a call is held back (nothing else is), and at the end
//! of the reply it becomes a real `tool_calls` item when it names a declared tool. A call to a
//! tool that was not declared is reported so the caller can refuse it back to the model.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// How text that looked like a tool call turned out.
#[derive(Debug, Clone, PartialEq)]
pub enum Rescued {
    /// Calls of declared tools: `(name, arguments as a JSON string)`.
    Calls(Vec<(String, String)>),
    /// A call-shaped object naming a tool that was not declared.
    Undeclared(String),
    /// Not a tool call after all: the text stands.
    Text,
}

/// What was held so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but whitespace, or the start of a fence or tag, has come yet.
    Undecided,
    /// The reply opened like a tool call: held until it ends.
    Held,
    /// Ordinary text: passed on as it comes.
    Text,
}

/// Openings that may start a tool call written as text.
const OPENINGS: [&str; 3] = ["```", "<tool_call>", "{"];

/// The rescue state of one streamed reply.
#[derive(Debug, Clone)]
pub struct Rescue {
    declared: BTreeSet<String>,
    mode: Mode,
    held: String,
}

impl Rescue {
    /// A rescue for a reply to a request that declared the tools `declared`.
    pub fn new(declared: BTreeSet<String>) -> Self {
        Rescue {
            declared,
            mode: Mode::Undecided,
            held: String::new(),
        }
    }

    /// Takes one piece of reply text; returns what may go on to the client now.
    pub fn push(&mut self, text: &str) -> String {
        match self.mode {
            Mode::Text => text.to_owned(),
            Mode::Held => {
                self.held.push_str(text);
                self.maybe_release()
            }
            Mode::Undecided => {
                self.held.push_str(text);
                let start = self.held.trim_start();
                if start.is_empty() || OPENINGS.iter().any(|open| open.starts_with(start)) {
                    return String::new();
                }
                if OPENINGS.iter().any(|open| start.starts_with(open)) {
                    self.mode = Mode::Held;
                    return self.maybe_release();
                }
                self.mode = Mode::Text;
                std::mem::take(&mut self.held)
            }
        }
    }

    /// A fence whose first line shows another language (```python) holds code, not a call:
    /// release it at once rather than at the end of the reply.
    fn maybe_release(&mut self) -> String {
        let start = self.held.trim_start();
        if let Some(rest) = start.strip_prefix("```")
            && let Some((info, _)) = rest.split_once('\n')
        {
            let info = info.trim().to_ascii_lowercase();
            if !matches!(info.as_str(), "" | "json" | "tool_call" | "tool_code") {
                self.mode = Mode::Text;
                return std::mem::take(&mut self.held);
            }
        }
        String::new()
    }

    /// Whether text is being held back.
    pub fn holding(&self) -> bool {
        self.mode != Mode::Text && !self.held.is_empty()
    }

    /// The reply ended: what the held text is. On [`Rescued::Text`] the held text is
    /// returned by [`Rescue::take_held`].
    pub fn finish(&mut self) -> Rescued {
        if self.mode == Mode::Text || self.held.trim().is_empty() {
            return Rescued::Text;
        }
        match parse_calls(&self.held) {
            Some(calls) if !calls.is_empty() => {
                if let Some((name, _)) =
                    calls.iter().find(|(name, _)| !self.declared.contains(name))
                {
                    return Rescued::Undeclared(name.clone());
                }
                self.held.clear();
                Rescued::Calls(calls)
            }
            _ => Rescued::Text,
        }
    }

    /// The text held back (after a [`Rescued::Text`] or [`Rescued::Undeclared`] finish).
    pub fn take_held(&mut self) -> String {
        self.mode = Mode::Text;
        std::mem::take(&mut self.held)
    }

    /// Starts over for a new reply (a re-ask after an undeclared call).
    pub fn reset(&mut self) {
        self.mode = Mode::Undecided;
        self.held.clear();
    }

    /// The declared tools, sorted.
    pub fn declared(&self) -> &BTreeSet<String> {
        &self.declared
    }
}

/// The tool calls written in `text`: one JSON object or an array of them, or several objects
/// one after another, each optionally fenced or tagged. `None` when it is not all calls.
pub fn parse_calls(text: &str) -> Option<Vec<(String, String)>> {
    let mut body = text.trim();
    for (open, close) in [("<tool_call>", "</tool_call>")] {
        if body.starts_with(open) {
            let stripped = body.replace(open, "").replace(close, "");
            return parse_json_calls(stripped.trim());
        }
    }
    if let Some(rest) = body.strip_prefix("```") {
        let rest = rest.split_once('\n').map_or(rest, |(_, after)| after);
        body = rest.trim_end().strip_suffix("```")?.trim();
    }
    parse_json_calls(body)
}

fn parse_json_calls(body: &str) -> Option<Vec<(String, String)>> {
    let mut calls = Vec::new();
    for value in serde_json::Deserializer::from_str(body).into_iter::<Value>() {
        match value.ok()? {
            Value::Array(items) => {
                for item in items {
                    calls.push(call_of(&item)?);
                }
            }
            item => calls.push(call_of(&item)?),
        }
    }
    Some(calls)
}

/// `{"name": …, "arguments"|"parameters"|"input": {…}}` (arguments possibly a JSON string),
/// or OpenAI's own `{"function": {"name", "arguments"}}` written out.
fn call_of(value: &Value) -> Option<(String, String)> {
    let object = value.as_object()?;
    if let Some(function) = object.get("function").and_then(Value::as_object) {
        return call_of(&Value::Object(function.clone()));
    }
    let name = object.get("name")?.as_str()?.to_owned();
    let arguments = ["arguments", "parameters", "input"]
        .iter()
        .find_map(|key| object.get(*key))
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let arguments = match arguments {
        Value::String(text) => {
            let parsed: Value = serde_json::from_str(&text).ok()?;
            parsed.is_object().then_some(parsed)?
        }
        Value::Object(fields) => Value::Object(fields),
        _ => return None,
    };
    Some((name, arguments.to_string()))
}

/// The chat chunk that carries rescued calls, in the shape servers stream them.
pub fn calls_chunk(model: &str, calls: &[(String, String)]) -> Value {
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(index, (name, arguments))| {
            json!({
                "index": index,
                "id": format!("call_{}", uuid::Uuid::now_v7().simple()),
                "type": "function",
                "function": { "name": name, "arguments": arguments },
            })
        })
        .collect();
    json!({
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{ "index": 0, "delta": { "tool_calls": tool_calls }, "finish_reason": null }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn rescue() -> Rescue {
        Rescue::new(["Write".to_owned(), "Bash".to_owned()].into())
    }

    fn feed(rescue: &mut Rescue, pieces: &[&str]) -> String {
        pieces.iter().map(|piece| rescue.push(piece)).collect()
    }

    #[test]
    fn a_fenced_json_call_of_a_declared_tool_becomes_a_tool_call() {
        let mut rescue = rescue();
        let shown = feed(
            &mut rescue,
            &[
                "```",
                "json\n{\"name\": \"Write\", ",
                "\"arguments\": {\"file_path\": \"hello.py\"}}\n```",
            ],
        );
        assert_eq!(shown, "");
        assert_eq!(
            rescue.finish(),
            Rescued::Calls(vec![("Write".into(), r#"{"file_path":"hello.py"}"#.into())])
        );
    }

    #[test]
    fn bare_json_and_qwen_tags_and_string_arguments_are_calls_too() {
        assert_eq!(
            parse_calls(r#"{"name":"Bash","parameters":{"command":"ls"}}"#),
            Some(vec![("Bash".into(), r#"{"command":"ls"}"#.into())])
        );
        assert_eq!(
            parse_calls(
                "<tool_call>\n{\"name\":\"Bash\",\"arguments\":\"{\\\"command\\\":\\\"ls\\\"}\"}\n</tool_call>"
            ),
            Some(vec![("Bash".into(), r#"{"command":"ls"}"#.into())])
        );
        assert_eq!(
            parse_calls(r#"[{"name":"Bash","arguments":{}},{"name":"Write","arguments":{}}]"#)
                .map(|calls| calls.len()),
            Some(2)
        );
    }

    #[test]
    fn ordinary_text_passes_at_once_and_is_never_held() {
        let mut rescue = rescue();
        assert_eq!(
            feed(&mut rescue, &["  ", "Sure", ", done."]),
            "  Sure, done."
        );
        assert!(!rescue.holding());
        assert_eq!(rescue.finish(), Rescued::Text);
    }

    #[test]
    fn a_fence_of_another_language_is_released_when_its_first_line_ends() {
        let mut rescue = rescue();
        assert_eq!(feed(&mut rescue, &["``", "`pyth"]), "");
        assert_eq!(rescue.push("on\nprint()"), "```python\nprint()");
        assert_eq!(rescue.push("\n```"), "\n```");
    }

    #[test]
    fn json_that_is_not_a_call_is_given_back_as_text() {
        let mut rescue = rescue();
        assert_eq!(feed(&mut rescue, &["{\"answer\": 42}"]), "");
        assert_eq!(rescue.finish(), Rescued::Text);
        assert_eq!(rescue.take_held(), "{\"answer\": 42}");
    }

    #[test]
    fn a_call_of_an_undeclared_tool_is_named() {
        let mut rescue = rescue();
        rescue.push(r#"{"name": "WebSearch", "arguments": {"q": "x"}}"#);
        assert_eq!(rescue.finish(), Rescued::Undeclared("WebSearch".into()));
    }
}
