//! OpenAI chat completions: llama-server, Ollama `/v1`, vLLM, LM Studio, OpenAI, OpenRouter.
//! Tolerant on purpose: servers omit `created`/`object`, send numeric error codes, add
//! `reasoning_content` and llama.cpp `timings`; unknown fields are ignored.

use baton_config::settings::SamplingParams;
use baton_core::ChatRequest;
use serde_json::{Value, json};

use super::{ReportedUsage, StreamEvent, number, sampling_fields};

/// The request body. `include_usage` asks for a usage chunk at the end of the stream;
/// `params` says which of the request's sampling settings the server takes.
pub fn body(request: &ChatRequest, include_usage: bool, params: SamplingParams) -> Value {
    let mut body = json!({
        "model": request.model,
        "messages": request.messages,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "stream": true,
    });
    if include_usage {
        body["stream_options"] = json!({ "include_usage": true });
    }
    // llama-server turns the schema into a grammar the sampler cannot leave; OpenAI and vLLM
    // enforce it too. Servers that ignore the field still get the schema in the prompt.
    if let Some(schema) = &request.answer_schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": { "name": schema.name, "strict": true, "schema": schema.schema },
        });
    }
    if let Value::Object(fields) = &mut body {
        fields.extend(sampling_fields(params, &request.sampling));
    }
    body
}

/// Reads one `data:` payload of the stream.
pub fn parse(data: &str) -> Result<Vec<StreamEvent>, String> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(vec![StreamEvent::Done]);
    }
    let value: Value = serde_json::from_str(data)
        .map_err(|error| format!("event data is not JSON ({error}): {}", preview(data)))?;
    let mut events = Vec::new();
    if let Some(error) = value.get("error") {
        let message = error_message(error);
        let retryable = error_is_retryable(error);
        events.push(StreamEvent::Error { message, retryable });
        return Ok(events);
    }
    if let Some(choice) = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        let content = choice
            .get("delta")
            .and_then(|delta| delta.get("content"))
            .or_else(|| {
                choice
                    .get("message")
                    .and_then(|message| message.get("content"))
            })
            .and_then(Value::as_str);
        if let Some(text) = content.filter(|text| !text.is_empty()) {
            events.push(StreamEvent::Delta(text.to_string()));
        }
        if choice
            .get("finish_reason")
            .is_some_and(|reason| !reason.is_null())
        {
            events.push(StreamEvent::Finished);
        }
    }
    if let Some(usage) = value.get("usage").filter(|usage| usage.is_object()) {
        events.push(StreamEvent::Usage(ReportedUsage {
            prompt_tokens: number(usage, "prompt_tokens"),
            completion_tokens: number(usage, "completion_tokens"),
            cached_tokens: usage
                .get("prompt_tokens_details")
                .and_then(|details| number(details, "cached_tokens")),
        }));
    }
    if let Some(timings) = value.get("timings").filter(|timings| timings.is_object()) {
        // llama.cpp: prompt_n counts only the tokens evaluated now; cache_n the reused ones.
        let cached = number(timings, "cache_n");
        events.push(StreamEvent::Timings(ReportedUsage {
            prompt_tokens: number(timings, "prompt_n").map(|n| n + cached.unwrap_or(0)),
            completion_tokens: number(timings, "predicted_n"),
            cached_tokens: cached,
        }));
    }
    Ok(events)
}

/// The message of an OpenAI-style error object (or string).
pub fn error_message(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        _ => error
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| preview(&error.to_string())),
    }
}

fn error_is_retryable(error: &Value) -> bool {
    let code = error.get("code").and_then(Value::as_u64).unwrap_or(0);
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    code == 429 || code >= 500 || matches!(kind, "server_error" | "unavailable_error")
}

/// The server's message in a failed response's body: `error.message` (OpenAI, llama.cpp),
/// a top-level `message`, or a preview of the body itself.
pub fn body_error_message(body: &str) -> String {
    let json: Option<Value> = serde_json::from_str(body).ok();
    json.as_ref()
        .and_then(|value| value.get("error"))
        .map(error_message)
        .or_else(|| {
            json.as_ref()
                .and_then(|value| value.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            let trimmed = body.trim();
            if trimmed.is_empty() {
                "(empty body)".into()
            } else {
                preview(trimmed)
            }
        })
}

/// Reads llama-server's over-long-prompt error body:
/// `{"error":{"type":"exceed_context_size_error","n_prompt_tokens":..,"n_ctx":..}}`.
pub fn context_overflow(body: &Value) -> Option<(u64, u64)> {
    let error = body.get("error")?;
    let kind = error
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != "exceed_context_size_error" {
        return None;
    }
    Some((
        number(error, "n_prompt_tokens").unwrap_or(0),
        number(error, "n_ctx").unwrap_or(0),
    ))
}

/// The first 200 characters of a text, for error messages.
pub fn preview(text: &str) -> String {
    let mut preview: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        preview.push('…');
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_chunk_is_a_delta() {
        let events = parse(r#"{"choices":[{"index":0,"delta":{"content":"fn"}}]}"#).unwrap();
        assert_eq!(events, vec![StreamEvent::Delta("fn".into())]);
    }

    #[test]
    fn the_usage_chunk_and_llama_timings_are_read() {
        let events = parse(
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}},"timings":{"prompt_n":8,"cache_n":4,"predicted_n":3}}"#,
        )
        .unwrap();
        let expected = ReportedUsage {
            prompt_tokens: Some(12),
            completion_tokens: Some(3),
            cached_tokens: Some(4),
        };
        assert_eq!(
            events,
            vec![StreamEvent::Usage(expected), StreamEvent::Timings(expected)]
        );
    }

    #[test]
    fn a_numeric_error_code_is_tolerated() {
        let events = parse(r#"{"error":{"code":503,"message":"loading model"}}"#).unwrap();
        assert_eq!(
            events,
            vec![StreamEvent::Error {
                message: "loading model".into(),
                retryable: true
            }]
        );
    }

    #[test]
    fn data_that_is_not_json_is_an_error() {
        assert!(parse(r#"{"choices":[{"delta":{"content":"ok""#).is_err());
    }

    #[test]
    fn the_request_asks_for_usage_only_when_told() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![baton_core::ChatMessage::user("hi")],
            temperature: 0.2,
            max_tokens: 10,
            answer_schema: None,
            sampling: baton_core::Sampling::default(),
        };
        assert!(
            body(&request, true, SamplingParams::None)
                .get("stream_options")
                .is_some()
        );
        assert!(
            body(&request, false, SamplingParams::None)
                .get("stream_options")
                .is_none()
        );
    }

    #[test]
    fn sampling_goes_into_the_body_only_where_the_server_takes_it() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![baton_core::ChatMessage::user("hi")],
            temperature: 0.2,
            max_tokens: 10,
            answer_schema: None,
            sampling: baton_core::Sampling {
                top_k: Some(40),
                repeat_penalty: Some(1.05),
                ..baton_core::Sampling::default()
            },
        };
        let llama = body(&request, true, SamplingParams::LlamaCpp);
        assert_eq!(
            (llama["top_k"].clone(), llama["repeat_penalty"].clone()),
            (json!(40), json!(1.05))
        );
        let vllm = body(&request, true, SamplingParams::Vllm);
        assert_eq!(vllm["repetition_penalty"], json!(1.05));
        assert!(vllm.get("repeat_penalty").is_none());
        let cloud = body(&request, true, SamplingParams::None);
        let keys: Vec<&String> = cloud.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "max_tokens",
                "messages",
                "model",
                "stream",
                "stream_options",
                "temperature"
            ],
            "a cloud backend gets nothing beyond what it got before"
        );
    }
}
