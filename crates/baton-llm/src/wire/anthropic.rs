//! Anthropic Messages: the system prompt travels apart from the messages, and the stream is
//! typed events (`message_start`, `content_block_delta`, `message_delta`, `message_stop`).

use baton_core::{ChatRequest, Role};
use serde_json::{Value, json};

use super::{ReportedUsage, StreamEvent, number};

/// The `anthropic-version` header value this client speaks.
pub const API_VERSION: &str = "2023-06-01";

/// The request body. Nothing of the request's sampling is sent: Messages has no repetition
/// penalties, and newer models refuse `top_p` beside a temperature.
pub fn body(request: &ChatRequest) -> Value {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.content.as_str())
        .collect();
    let messages: Vec<Value> = request
        .messages
        .iter()
        .filter(|message| message.role != Role::System)
        .map(|message| json!({ "role": message.role, "content": message.content }))
        .collect();
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "messages": messages,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = Value::String(system.join("\n\n"));
    }
    // Structured output on Messages is a tool the model must call: its input is the answer,
    // held to the schema, and it streams as `input_json_delta`s (read as the reply's text).
    if let Some(schema) = &request.answer_schema {
        body["tools"] = json!([{
            "name": schema.name,
            "description": format!("Give the answer: the {} as one JSON object.", schema.name),
            "input_schema": schema.schema,
        }]);
        body["tool_choice"] = json!({ "type": "tool", "name": schema.name });
    }
    body
}

/// Reads one event (its `event:` name and `data:` payload).
pub fn parse(event: &str, data: &str) -> Result<Vec<StreamEvent>, String> {
    let value: Value = serde_json::from_str(data.trim()).map_err(|error| {
        format!(
            "event `{event}` data is not JSON ({error}): {}",
            super::openai::preview(data)
        )
    })?;
    let kind = value.get("type").and_then(Value::as_str).unwrap_or(event);
    Ok(match kind {
        "message_start" => {
            let usage = value
                .get("message")
                .and_then(|message| message.get("usage"));
            usage
                .map(|usage| {
                    let cached = number(usage, "cache_read_input_tokens");
                    let prompt = number(usage, "input_tokens").map(|input| {
                        input
                            + cached.unwrap_or(0)
                            + number(usage, "cache_creation_input_tokens").unwrap_or(0)
                    });
                    vec![StreamEvent::Usage(ReportedUsage {
                        prompt_tokens: prompt,
                        completion_tokens: None,
                        cached_tokens: cached,
                    })]
                })
                .unwrap_or_default()
        }
        "content_block_delta" => {
            let delta = value.get("delta");
            let text = match delta.and_then(|d| d.get("type")).and_then(Value::as_str) {
                Some("text_delta") => delta.and_then(|d| d.get("text")),
                // The forced tool's input: the structured answer, piece by piece.
                Some("input_json_delta") => delta.and_then(|d| d.get("partial_json")),
                _ => None,
            };
            text.and_then(Value::as_str)
                .map(|text| vec![StreamEvent::Delta(text.to_string())])
                .unwrap_or_default()
        }
        "message_delta" => {
            let mut events = Vec::new();
            if let Some(usage) = value.get("usage") {
                events.push(StreamEvent::Usage(ReportedUsage {
                    prompt_tokens: None,
                    completion_tokens: number(usage, "output_tokens"),
                    cached_tokens: None,
                }));
            }
            if value
                .get("delta")
                .and_then(|delta| delta.get("stop_reason"))
                .is_some_and(|r| !r.is_null())
            {
                events.push(StreamEvent::Finished);
            }
            events
        }
        "message_stop" => vec![StreamEvent::Done],
        "error" => {
            let error = value.get("error").cloned().unwrap_or(Value::Null);
            let error_type = error
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            vec![StreamEvent::Error {
                message: super::openai::error_message(&error),
                retryable: matches!(
                    error_type,
                    "overloaded_error" | "api_error" | "rate_limit_error"
                ),
            }]
        }
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::ChatMessage;

    #[test]
    fn an_answer_schema_becomes_a_forced_tool_whose_input_streams_as_the_reply() {
        let request = ChatRequest {
            model: "claude".into(),
            messages: vec![ChatMessage::user("plan it")],
            temperature: 0.0,
            max_tokens: 5,
            sampling: baton_core::Sampling::default(),
            answer_schema: Some(baton_core::AnswerSchema {
                name: "plan".into(),
                schema: json!({"type": "object", "properties": {"summary": {"type": "string"}}}),
            }),
        };
        let body = body(&request);
        assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "plan"}));
        assert_eq!(body["tools"][0]["name"], "plan");
        assert_eq!(
            body["tools"][0]["input_schema"]["properties"]["summary"]["type"],
            "string"
        );
        let events = parse(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"summary\": \"s"}}"#,
        )
        .unwrap();
        assert_eq!(events, vec![StreamEvent::Delta(r#"{"summary": "s"#.into())]);
        let without = body_of_plain();
        assert!(without.get("tools").is_none() && without.get("tool_choice").is_none());
    }

    fn body_of_plain() -> Value {
        body(&ChatRequest {
            model: "claude".into(),
            messages: vec![ChatMessage::user("hi")],
            temperature: 0.0,
            max_tokens: 5,
            sampling: baton_core::Sampling::default(),
            answer_schema: None,
        })
    }

    #[test]
    fn the_system_prompt_moves_out_of_the_messages() {
        let request = ChatRequest {
            model: "claude".into(),
            messages: vec![ChatMessage::system("be brief"), ChatMessage::user("hi")],
            temperature: 0.0,
            max_tokens: 5,
            answer_schema: None,
            sampling: baton_core::Sampling {
                top_k: Some(40),
                repeat_penalty: Some(1.1),
                ..baton_core::Sampling::default()
            },
        };
        let body = body(&request);
        assert_eq!(body["system"], "be brief");
        assert!(
            body.get("top_k").is_none() && body.get("repeat_penalty").is_none(),
            "Messages has no repetition penalties, and nothing else is sent: {body}"
        );
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_whole_event_stream_gives_text_usage_and_the_end() {
        let mut events = Vec::new();
        for (name, data) in [
            (
                "message_start",
                r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}"#,
            ),
            ("ping", r#"{"type":"ping"}"#),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ] {
            events.extend(parse(name, data).unwrap());
        }
        assert_eq!(events.len(), 5);
        assert_eq!(events[1], StreamEvent::Delta("Hi".into()));
        assert_eq!(events[4], StreamEvent::Done);
    }

    #[test]
    fn overloaded_errors_are_retryable() {
        let events = parse(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .unwrap();
        assert_eq!(
            events,
            vec![StreamEvent::Error {
                message: "Overloaded".into(),
                retryable: true
            }]
        );
    }
}
