use pretty_assertions::assert_eq;
use serde_json::{Value, json};

#[allow(unused_imports, reason = "the shared helpers, each file uses some")]
use super::tests::*;
use super::*;

// ---- Egress: chat request → Messages request ----

#[test]
fn a_chat_request_becomes_a_messages_request() {
    let chat = json!({
        "model": "claude-sonnet",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "developer", "content": [{ "type": "text", "text": "Use Rust." }] },
            { "role": "user", "content": [
                { "type": "text", "text": "What is this?" },
                { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBOR" } },
                { "type": "image_url", "image_url": { "url": "https://example.com/x.jpg", "detail": "high" } },
            ] },
        ],
        "tools": [{ "type": "function", "function": {
            "name": "Bash",
            "description": "Run a command",
            "parameters": { "type": "object", "properties": { "command": { "type": "string" } } },
            "strict": true,
        } }, { "type": "function", "function": { "name": "Noop" } }],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "max_completion_tokens": 300,
        "max_tokens": 9999,
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 20,
        "stop": "</end>",
        "stream": true,
        "stream_options": { "include_usage": true },
        "response_format": { "type": "json_schema", "json_schema": { "name": "x", "schema": { "type": "object" }, "strict": true } },
        "user": "u",
        "seed": 1,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.1,
        "logit_bias": { "1": 2 },
        "store": false,
        "metadata": { "a": "b" },
        "repeat_penalty": 1.1,
        "min_p": 0.05,
        "dry_multiplier": 0.8,
        "cache_prompt": true,
        "id_slot": 0,
        "n": 1,
        "logprobs": false,
    });
    assert_eq!(
        request_from_chat(&chat).unwrap(),
        json!({
            "model": "claude-sonnet",
            "system": "Be brief.\n\nUse Rust.",
            "messages": [{ "role": "user", "content": [
                { "type": "text", "text": "What is this?" },
                { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBOR" } },
                { "type": "image", "source": { "type": "url", "url": "https://example.com/x.jpg" } },
            ] }],
            "max_tokens": 300,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 20,
            "stop_sequences": ["</end>"],
            "stream": true,
            "tools": [
                {
                    "name": "Bash",
                    "description": "Run a command",
                    "input_schema": { "type": "object", "properties": { "command": { "type": "string" } } },
                },
                { "name": "Noop", "input_schema": { "type": "object" } },
            ],
            "tool_choice": { "type": "any", "disable_parallel_tool_use": true },
            "output_format": { "type": "json_schema", "schema": { "type": "object" } },
        })
    );
}

#[test]
fn tool_messages_merge_into_one_user_turn_and_turns_of_one_role_merge() {
    let chat = json!({ "messages": [
        { "role": "user", "content": "one" },
        { "role": "user", "content": "two" },
        { "role": "assistant", "content": "", "tool_calls": [
            { "id": "call_1", "type": "function", "function": { "name": "Read", "arguments": "{\"path\":\"a\"}" } },
            { "id": "call_2", "type": "function", "function": { "name": "Ls", "arguments": "" } },
        ] },
        { "role": "tool", "tool_call_id": "call_1", "content": "A" },
        { "role": "tool", "tool_call_id": "call_2", "content": [{ "type": "text", "text": "" }] },
        { "role": "user", "content": "thanks" },
    ] });
    assert_eq!(
        request_from_chat(&chat).unwrap(),
        json!({
            "messages": [
                { "role": "user", "content": [
                    { "type": "text", "text": "one" },
                    { "type": "text", "text": "two" },
                ] },
                { "role": "assistant", "content": [
                    { "type": "tool_use", "id": "call_1", "name": "Read", "input": { "path": "a" } },
                    { "type": "tool_use", "id": "call_2", "name": "Ls", "input": {} },
                ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "call_1", "content": "A" },
                    { "type": "tool_result", "tool_use_id": "call_2" },
                    { "type": "text", "text": "thanks" },
                ] },
            ],
            "max_tokens": 4096,
        })
    );
}

#[test]
fn each_tool_choice_and_the_parallel_switch_map_and_need_tools() {
    let tools = json!([{ "type": "function", "function": { "name": "Bash" } }]);
    for (choice, parallel, messages) in [
        (json!("auto"), Value::Null, json!({ "type": "auto" })),
        (json!("none"), json!(false), json!({ "type": "none" })),
        (json!("required"), json!(true), json!({ "type": "any" })),
        (
            json!({ "type": "function", "function": { "name": "Bash" } }),
            json!(false),
            json!({ "type": "tool", "name": "Bash", "disable_parallel_tool_use": true }),
        ),
        (
            Value::Null,
            json!(false),
            json!({ "type": "auto", "disable_parallel_tool_use": true }),
        ),
    ] {
        let body = request_from_chat(&json!({
            "tools": tools,
            "tool_choice": choice,
            "parallel_tool_calls": parallel,
            "messages": [],
        }))
        .unwrap();
        assert_eq!(body["tool_choice"], messages, "for {choice} / {parallel}");
    }
    // Messages refuses a choice without tools; with none the choice changes nothing.
    assert_eq!(
        request_from_chat(
            &json!({ "tool_choice": "none", "parallel_tool_calls": false, "messages": [] })
        )
        .unwrap(),
        json!({ "messages": [], "max_tokens": 4096 })
    );
}

#[test]
fn chat_features_messages_lacks_are_refused() {
    let user = |content: Value| json!({ "messages": [{ "role": "user", "content": content }] });
    let cases = [
        (
            json!({ "n": 2, "messages": [] }),
            "`n` above 1 is not supported by an Anthropic backend; hint: Messages gives one choice per request; send the request once per choice",
        ),
        (
            json!({ "logprobs": true, "messages": [] }),
            "`logprobs` is not supported by an Anthropic backend; hint: Messages reports no token probabilities; leave `logprobs` out or route this request to a chat backend",
        ),
        (
            json!({ "top_logprobs": 3, "messages": [] }),
            "`logprobs` is not supported by an Anthropic backend; hint: Messages reports no token probabilities; leave `logprobs` out or route this request to a chat backend",
        ),
        (
            json!({ "audio": { "voice": "alloy", "format": "wav" }, "messages": [] }),
            "audio output (`audio`, `modalities`) is not supported by an Anthropic backend; hint: Messages answers in text only; ask for text",
        ),
        (
            json!({ "modalities": ["text", "audio"], "messages": [] }),
            "audio output (`audio`, `modalities`) is not supported by an Anthropic backend; hint: Messages answers in text only; ask for text",
        ),
        (
            json!({ "response_format": { "type": "json_object" }, "messages": [] }),
            "`response_format` of type `json_object` is not supported by an Anthropic backend; hint: give a `json_schema` response format (Messages holds output to a schema only)",
        ),
        (
            user(
                json!([{ "type": "input_audio", "input_audio": { "data": "AA", "format": "wav" } }]),
            ),
            "an `input_audio` part (message 0) is not supported by an Anthropic backend; hint: Messages takes no audio; send a transcript as text",
        ),
        (
            user(json!([{ "type": "file", "file": { "file_id": "f" } }])),
            "a `file` part (message 0) is not supported by an Anthropic backend; hint: send the file's text as a text part",
        ),
        (
            user(json!([{ "type": "image_url", "image_url": { "url": "ftp://x/y.png" } }])),
            "an image URL that is neither base64 data nor http(s) (message 0) is not supported by an Anthropic backend; hint: send the image as a `data:…;base64,…` URL or an http(s) URL",
        ),
        (
            json!({ "messages": [{ "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_9", "type": "function", "function": { "name": "Bash", "arguments": "{\"command\": " } },
            ] }] }),
            "tool call `call_9` (message 0) with arguments that are not a JSON object is not supported by an Anthropic backend; hint: Messages takes a call's input as a JSON object; fix or drop the call in the history",
        ),
        (
            json!({ "tools": [{ "type": "custom", "custom": { "name": "grammar" } }], "messages": [] }),
            "the tool `grammar` of type `custom` is not supported by an Anthropic backend; hint: declare it as a `function` tool with JSON-schema parameters",
        ),
    ];
    for (chat, message) in cases {
        assert_eq!(refusal(request_from_chat(&chat)), message, "for {chat}");
    }
}

// ---- Egress: Messages response → chat completion ----

#[test]
fn a_messages_response_becomes_a_chat_completion() {
    let message = json!({
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            { "type": "thinking", "thinking": "Check the file.", "signature": "s" },
            { "type": "text", "text": "Reading " },
            { "type": "text", "text": "it." },
            { "type": "tool_use", "id": "toolu_1", "name": "Read", "input": { "path": "a.rs" } },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5,
            "output_tokens": 7,
        },
    });
    let mut chat = response_to_chat(&message);
    assert!(chat["created"].as_u64().unwrap() > 1_700_000_000);
    chat["created"] = json!(0);
    assert_eq!(
        chat,
        json!({
            "id": "msg_1",
            "object": "chat.completion",
            "created": 0,
            "model": "claude-sonnet-4-5",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Reading it.",
                    "reasoning_content": "Check the file.",
                    "tool_calls": [{
                        "id": "toolu_1",
                        "type": "function",
                        "function": { "name": "Read", "arguments": "{\"path\":\"a.rs\"}" },
                    }],
                },
                "finish_reason": "tool_calls",
            }],
            "usage": {
                "prompt_tokens": 115,
                "completion_tokens": 7,
                "total_tokens": 122,
                "prompt_tokens_details": { "cached_tokens": 100 },
            },
        })
    );
}

#[test]
fn stop_reasons_map_to_finish_reasons() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ] {
        let chat = response_to_chat(&json!({ "content": [], "stop_reason": stop }));
        assert_eq!(chat["choices"][0]["finish_reason"], finish, "for {stop}");
        assert_eq!(chat["choices"][0]["message"]["content"], Value::Null);
    }
}

// ---- Egress: Messages events → chat chunks ----

#[test]
fn a_messages_event_stream_becomes_chat_chunks() {
    let events = [
        (
            "message_start",
            json!({ "type": "message_start", "message": {
                "id": "msg_9", "type": "message", "role": "assistant", "content": [],
                "usage": { "input_tokens": 12, "cache_read_input_tokens": 30, "output_tokens": 1 },
            } }),
        ),
        ("ping", json!({ "type": "ping" })),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "thinking", "thinking": "" } }),
        ),
        (
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "thinking_delta", "thinking": "Hmm." } }),
        ),
        (
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "signature_delta", "signature": "s" } }),
        ),
        (
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": 0 }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 1, "content_block": { "type": "text", "text": "" } }),
        ),
        (
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 1, "delta": { "type": "text_delta", "text": "Sure." } }),
        ),
        (
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": 1 }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 2, "content_block": { "type": "tool_use", "id": "toolu_a", "name": "Bash", "input": {} } }),
        ),
        (
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 2, "delta": { "type": "input_json_delta", "partial_json": "{\"command\":" } }),
        ),
        (
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 2, "delta": { "type": "input_json_delta", "partial_json": "\"ls\"}" } }),
        ),
        (
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": 2 }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 3, "content_block": { "type": "tool_use", "id": "toolu_b", "name": "Read", "input": {} } }),
        ),
        (
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 3, "delta": { "type": "input_json_delta", "partial_json": "{}" } }),
        ),
        (
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": 3 }),
        ),
        (
            "message_delta",
            json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use", "stop_sequence": null }, "usage": { "output_tokens": 40 } }),
        ),
        ("message_stop", json!({ "type": "message_stop" })),
    ];
    let mut stream = FromMessages::new("gpt-ish");
    let mut chunks = Vec::new();
    for (name, data) in &events {
        chunks.extend(stream.push(name, data).unwrap());
    }
    for chunk in &mut chunks {
        assert!(chunk["created"].as_u64().unwrap() > 1_700_000_000);
        chunk["created"] = json!(0);
    }
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "msg_9",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-ish",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        })
    };
    assert_eq!(
        chunks,
        vec![
            chunk(json!({ "role": "assistant", "content": "" }), Value::Null),
            chunk(json!({ "reasoning_content": "Hmm." }), Value::Null),
            chunk(json!({ "content": "Sure." }), Value::Null),
            chunk(
                json!({ "tool_calls": [{ "index": 0, "id": "toolu_a", "type": "function", "function": { "name": "Bash", "arguments": "" } }] }),
                Value::Null
            ),
            chunk(
                json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"command\":" } }] }),
                Value::Null
            ),
            chunk(
                json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "\"ls\"}" } }] }),
                Value::Null
            ),
            chunk(
                json!({ "tool_calls": [{ "index": 1, "id": "toolu_b", "type": "function", "function": { "name": "Read", "arguments": "" } }] }),
                Value::Null
            ),
            chunk(
                json!({ "tool_calls": [{ "index": 1, "function": { "arguments": "{}" } }] }),
                Value::Null
            ),
            chunk(json!({}), json!("tool_calls")),
            json!({
                "id": "msg_9",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "gpt-ish",
                "choices": [],
                "usage": {
                    "prompt_tokens": 42,
                    "completion_tokens": 40,
                    "total_tokens": 82,
                    "prompt_tokens_details": { "cached_tokens": 30 },
                },
            }),
        ]
    );
}

#[test]
fn an_error_event_is_a_stream_error_retryable_by_its_type() {
    let mut stream = FromMessages::new("m");
    for (kind, retryable) in [
        ("overloaded_error", true),
        ("api_error", true),
        ("rate_limit_error", true),
        ("invalid_request_error", false),
    ] {
        let data = json!({ "type": "error", "error": { "type": kind, "message": "no" } });
        assert_eq!(
            stream.push("error", &data),
            Err(StreamError {
                message: "no".into(),
                retryable
            })
        );
    }
}

// ---- The round trip ----

#[test]
fn a_tool_conversation_survives_the_round_trip_chat_to_messages_to_chat() {
    let chat = json!({
        "model": "m",
        "max_tokens": 200,
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "What is in a.rs?" },
            { "role": "assistant", "content": "Reading it.", "tool_calls": [
                { "id": "call_1", "type": "function", "function": { "name": "Read", "arguments": "{\"path\":\"a.rs\"}" } },
            ] },
            { "role": "tool", "tool_call_id": "call_1", "content": "fn main() {}" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_2", "type": "function", "function": { "name": "Bash", "arguments": "{\"command\":\"cargo run\"}" } },
            ] },
            { "role": "tool", "tool_call_id": "call_2", "content": "ok" },
            { "role": "user", "content": "So?" },
        ],
        "tools": [{ "type": "function", "function": {
            "name": "Read",
            "description": "Read a file",
            "parameters": { "type": "object", "properties": { "path": { "type": "string" } } },
        } }],
        "tool_choice": { "type": "function", "function": { "name": "Read" } },
        "stream": false,
    });
    let messages = request_from_chat(&chat).unwrap();
    assert_eq!(request_to_chat(&messages).unwrap(), chat);
}

// ---- Shared ----

#[test]
fn error_bodies_are_typed_by_status() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (529, "overloaded_error"),
    ] {
        assert_eq!(
            error_body(status, "boom"),
            json!({ "type": "error", "error": { "type": kind, "message": "boom" } })
        );
    }
}

#[test]
fn passed_through_usage_counts_cache_reads_and_writes_in_the_prompt() {
    let response = json!({ "usage": {
        "input_tokens": 10,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 5,
        "output_tokens": 7,
    } });
    assert_eq!(
        usage_of_response(&response),
        ReportedUsage {
            prompt_tokens: Some(115),
            completion_tokens: Some(7),
            cached_tokens: Some(100),
        }
    );
    let start = json!({ "type": "message_start", "message": { "usage": {
        "input_tokens": 10, "cache_read_input_tokens": 100, "output_tokens": 1,
    } } });
    assert_eq!(
        usage_of_event(&start),
        Some(ReportedUsage {
            prompt_tokens: Some(110),
            completion_tokens: None,
            cached_tokens: Some(100),
        })
    );
    let delta = json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn" }, "usage": { "output_tokens": 33 } });
    assert_eq!(
        usage_of_event(&delta),
        Some(ReportedUsage {
            prompt_tokens: None,
            completion_tokens: Some(33),
            cached_tokens: None,
        })
    );
    let later =
        json!({ "type": "message_delta", "usage": { "input_tokens": 4, "output_tokens": 33 } });
    assert_eq!(
        usage_of_event(&later),
        Some(ReportedUsage {
            prompt_tokens: Some(4),
            completion_tokens: Some(33),
            cached_tokens: None,
        })
    );
    assert_eq!(usage_of_event(&json!({ "type": "ping" })), None);
}
