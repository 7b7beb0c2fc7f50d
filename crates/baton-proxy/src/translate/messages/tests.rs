use super::*;
use crate::translate::SseEvent;
use pretty_assertions::assert_eq;

/// Events as (name, data) pairs, the data parsed, so that they compare as JSON.
pub(super) fn parsed(events: Vec<SseEvent>) -> Vec<(String, Value)> {
    events
        .into_iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            (event.event.unwrap_or_default(), data)
        })
        .collect()
}

/// The refusal's text, for a request that must be refused.
pub(super) fn refusal(result: Result<Value, Unsupported>) -> String {
    result.unwrap_err().0
}

// ---- Ingress: Messages request → chat request ----

#[test]
fn the_system_prompt_becomes_one_leading_system_message() {
    let body = json!({
        "model": "claude-sonnet",
        "max_tokens": 100,
        "system": [
            { "type": "text", "text": "You are Claude Code.", "cache_control": { "type": "ephemeral" } },
            { "type": "text", "text": "Be brief." },
        ],
        "messages": [{ "role": "user", "content": "hi" }],
    });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({
            "model": "claude-sonnet",
            "max_tokens": 100,
            "messages": [
                { "role": "system", "content": "You are Claude Code.\n\nBe brief." },
                { "role": "user", "content": "hi" },
            ],
        })
    );
    let plain = json!({ "system": "Be brief.", "messages": [] });
    assert_eq!(
        request_to_chat(&plain).unwrap(),
        json!({ "messages": [{ "role": "system", "content": "Be brief." }] })
    );
}

#[test]
fn text_and_image_blocks_become_chat_content_parts() {
    let body = json!({ "messages": [
        { "role": "user", "content": [
            { "type": "text", "text": "What is in these?" },
            { "type": "image", "source": { "type": "base64", "media_type": "image/jpeg", "data": "AAAA" } },
            { "type": "image", "source": { "type": "url", "url": "https://example.com/a.png" } },
        ] },
        { "role": "user", "content": [
            { "type": "text", "text": "first" },
            { "type": "text", "text": "second", "cache_control": { "type": "ephemeral" } },
        ] },
    ] });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({ "messages": [
            { "role": "user", "content": [
                { "type": "text", "text": "What is in these?" },
                { "type": "image_url", "image_url": { "url": "data:image/jpeg;base64,AAAA" } },
                { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } },
            ] },
            // Text alone is one string, the form every server takes.
            { "role": "user", "content": "first\n\nsecond" },
        ] })
    );
}

#[test]
fn an_assistant_tool_use_becomes_a_tool_call_beside_its_text_and_thinking_is_left_out() {
    let body = json!({ "messages": [
        { "role": "user", "content": "list the files" },
        { "role": "assistant", "content": [
            { "type": "thinking", "thinking": "I should run ls.", "signature": "sig" },
            { "type": "redacted_thinking", "data": "xyz" },
            { "type": "text", "text": "Listing them." },
            { "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": { "command": "ls" } },
        ] },
        { "role": "assistant", "content": [
            { "type": "tool_use", "id": "toolu_2", "name": "Read", "input": {} },
        ] },
    ] });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({ "messages": [
            { "role": "user", "content": "list the files" },
            { "role": "assistant", "content": "Listing them.", "tool_calls": [{
                "id": "toolu_1",
                "type": "function",
                "function": { "name": "Bash", "arguments": "{\"command\":\"ls\"}" },
            }] },
            { "role": "assistant", "content": null, "tool_calls": [{
                "id": "toolu_2",
                "type": "function",
                "function": { "name": "Read", "arguments": "{}" },
            }] },
        ] })
    );
}

#[test]
fn a_tool_result_becomes_a_tool_message_before_the_users_text() {
    let body = json!({ "messages": [
        { "role": "user", "content": [
            { "type": "text", "text": "and now this" },
            { "type": "tool_result", "tool_use_id": "toolu_1", "content": "a.rs\nb.rs" },
            { "type": "tool_result", "tool_use_id": "toolu_2", "is_error": true, "content": [
                { "type": "text", "text": "No such file" },
                { "type": "text", "text": "exit 1" },
            ] },
            { "type": "tool_result", "tool_use_id": "toolu_3" },
        ] },
    ] });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({ "messages": [
            { "role": "tool", "tool_call_id": "toolu_1", "content": "a.rs\nb.rs" },
            { "role": "tool", "tool_call_id": "toolu_2", "content": "No such file\n\nexit 1" },
            { "role": "tool", "tool_call_id": "toolu_3", "content": "" },
            { "role": "user", "content": "and now this" },
        ] })
    );
}

#[test]
fn an_image_inside_a_tool_result_is_refused() {
    let body = json!({ "messages": [
        { "role": "user", "content": "shoot" },
        { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "toolu_1", "content": [
            { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "AA" } },
        ] }] },
    ] });
    assert_eq!(
        refusal(request_to_chat(&body)),
        "an image inside a `tool_result` (message 1) is not supported by a chat backend; \
         hint: a chat tool message carries text only; describe the image in text or route \
         this request to an Anthropic backend"
    );
}

#[test]
fn blocks_a_chat_backend_cannot_carry_are_refused_naming_the_block_and_the_message() {
    let only = "it runs on Anthropic's side only; route this request to an Anthropic backend or leave it out";
    let cases = [
        (
            "user",
            "document",
            "send the document's text as a `text` block",
        ),
        (
            "user",
            "search_result",
            "send the search result's text as a `text` block",
        ),
        ("assistant", "server_tool_use", only),
        ("assistant", "web_search_tool_result", only),
        ("user", "container_upload", only),
        (
            "user",
            "hologram",
            "leave the block out or route this request to an Anthropic backend",
        ),
        (
            "user",
            "tool_use",
            "a `tool_use` block belongs in an assistant message",
        ),
    ];
    for (role, kind, hint) in cases {
        let body = json!({ "messages": [
            { "role": "user", "content": "hi" },
            { "role": role, "content": [{ "type": kind }] },
        ] });
        assert_eq!(
            refusal(request_to_chat(&body)),
            format!(
                "a `{kind}` block (message 1) is not supported by a chat backend; hint: {hint}"
            )
        );
    }
}

#[test]
fn custom_tools_become_functions_and_the_tool_choice_maps() {
    let body = json!({
        "tools": [
            {
                "name": "Bash",
                "description": "Run a command",
                "input_schema": { "type": "object", "properties": { "command": { "type": "string" } } },
                "cache_control": { "type": "ephemeral" },
            },
            { "type": "custom", "name": "Noop" },
        ],
        "tool_choice": { "type": "any", "disable_parallel_tool_use": true },
        "messages": [],
    });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({
            "tools": [
                { "type": "function", "function": {
                    "name": "Bash",
                    "description": "Run a command",
                    "parameters": { "type": "object", "properties": { "command": { "type": "string" } } },
                } },
                { "type": "function", "function": { "name": "Noop", "parameters": { "type": "object" } } },
            ],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "messages": [],
        })
    );
}

#[test]
fn each_tool_choice_has_its_chat_form() {
    for (choice, chat) in [
        (json!({ "type": "auto" }), json!("auto")),
        (json!({ "type": "any" }), json!("required")),
        (json!({ "type": "none" }), json!("none")),
        (
            json!({ "type": "tool", "name": "Bash" }),
            json!({ "type": "function", "function": { "name": "Bash" } }),
        ),
    ] {
        let body = request_to_chat(&json!({ "tool_choice": choice, "messages": [] })).unwrap();
        assert_eq!(body, json!({ "tool_choice": chat, "messages": [] }));
    }
}

#[test]
fn a_server_tool_is_refused_naming_it() {
    for (name, kind) in [
        ("web_search", "web_search_20250305"),
        ("bash", "bash_20250124"),
        ("str_replace_based_edit_tool", "text_editor_20250728"),
        ("computer", "computer_20250124"),
        ("code_execution", "code_execution_20250825"),
    ] {
        let body = json!({ "tools": [{ "type": kind, "name": name }], "messages": [] });
        assert_eq!(
            refusal(request_to_chat(&body)),
            format!(
                "the tool `{name}` of type `{kind}` (an Anthropic server or built-in tool) is not \
                 supported by a chat backend; hint: declare it as a custom tool with an \
                 `input_schema`, leave it out, or route this request to an Anthropic backend"
            )
        );
    }
}

#[test]
fn sampling_stop_sequences_streaming_and_the_output_format_are_mapped() {
    let body = json!({
        "model": "m",
        "max_tokens": 512,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["</answer>"],
        "stream": true,
        "output_format": { "type": "json_schema", "schema": { "type": "object" } },
        "messages": [],
    });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({
            "model": "m",
            "max_tokens": 512,
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "stop": ["</answer>"],
            "stream": true,
            "stream_options": { "include_usage": true },
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": "output", "schema": { "type": "object" }, "strict": true },
            },
            "messages": [],
        })
    );
}

#[test]
fn advisory_fields_are_left_out_and_unknown_extras_go_on_unchanged() {
    let body = json!({
        "model": "m",
        "metadata": { "user_id": "u" },
        "cache_control": { "type": "ephemeral" },
        "thinking": { "type": "enabled", "budget_tokens": 1024 },
        "service_tier": "auto",
        "context_management": { "edits": [] },
        "cache_prompt": true,
        "id_slot": 2,
        "stream": false,
        "messages": [],
    });
    assert_eq!(
        request_to_chat(&body).unwrap(),
        json!({
            "model": "m",
            "cache_prompt": true,
            "id_slot": 2,
            "stream": false,
            "messages": [],
        })
    );
}

#[test]
fn a_container_or_mcp_servers_are_refused() {
    assert_eq!(
        refusal(request_to_chat(
            &json!({ "container": "cntr_1", "messages": [] })
        )),
        "`container` (Anthropic's code execution container) is not supported by a chat backend; \
         hint: it runs on Anthropic's side only; route this request to an Anthropic backend or \
         leave it out"
    );
    assert_eq!(
        refusal(request_to_chat(
            &json!({ "mcp_servers": [{ "type": "url", "url": "https://mcp" }], "messages": [] })
        )),
        "`mcp_servers` (Anthropic's MCP connector) is not supported by a chat backend; hint: \
         connect the MCP server to the agent itself, or route this request to an Anthropic backend"
    );
}

#[test]
fn other_refusals_say_what_is_wrong() {
    assert_eq!(
        refusal(request_to_chat(
            &json!({ "messages": [{ "role": "system", "content": "x" }] })
        )),
        "message 0 has role `system`; Messages takes `user` and `assistant` (the system prompt goes in `system`)"
    );
    assert_eq!(
        refusal(request_to_chat(&json!({ "messages": [
            { "role": "user", "content": [{ "type": "image", "source": { "type": "file", "file_id": "f" } }] },
        ] }))),
        "an image with source type `file` (message 0) is not supported by a chat backend; hint: \
         send the image as base64 data or a URL"
    );
    assert_eq!(
        refusal(request_to_chat(
            &json!({ "output_format": { "type": "grammar" }, "messages": [] })
        )),
        "`output_format` of type `grammar` is not supported by a chat backend; hint: use `json_schema`"
    );
    assert_eq!(
        refusal(request_to_chat(&json!(["not", "an", "object"]))),
        "the request body is not a JSON object"
    );
}

// ---- Ingress: chat completion → Messages response ----

#[test]
fn a_chat_completion_becomes_a_messages_response() {
    let chat = json!({
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Reading both.",
                "reasoning_content": "hmm",
                "tool_calls": [
                    { "id": "call_a", "type": "function", "function": { "name": "Read", "arguments": "{\"path\":\"a.rs\"}" } },
                    { "id": "call_b", "type": "function", "function": { "name": "Read", "arguments": "{\"path\": " } },
                ],
            },
            "finish_reason": "tool_calls",
        }],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 20,
            "total_tokens": 1020,
            "prompt_tokens_details": { "cached_tokens": 800 },
        },
        "timings": { "cache_n": 999 },
    });
    assert_eq!(
        response_from_chat(&chat, "claude-sonnet"),
        json!({
            "id": "msg_chatcmpl-7",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet",
            "content": [
                { "type": "text", "text": "Reading both." },
                { "type": "tool_use", "id": "call_a", "name": "Read", "input": { "path": "a.rs" } },
                // Arguments the model botched: an empty input, not an unreadable answer.
                { "type": "tool_use", "id": "call_b", "name": "Read", "input": {} },
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": { "input_tokens": 200, "output_tokens": 20, "cache_read_input_tokens": 800 },
        })
    );
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    for (finish, stop) in [
        (json!("stop"), "end_turn"),
        (json!("length"), "max_tokens"),
        (json!("tool_calls"), "tool_use"),
        (json!("function_call"), "tool_use"),
        (json!("content_filter"), "refusal"),
        (Value::Null, "end_turn"),
    ] {
        let chat = json!({
            "id": "c",
            "choices": [{ "message": { "content": "" }, "finish_reason": finish }],
        });
        assert_eq!(
            response_from_chat(&chat, "m"),
            json!({
                "id": "msg_c",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": stop,
                "stop_sequence": null,
                "usage": { "input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0 },
            })
        );
    }
}

#[test]
fn a_reply_with_tool_calls_stops_for_tool_use_whatever_the_server_said() {
    let chat = json!({
        "id": "c",
        "choices": [{ "message": { "content": null, "tool_calls": [
            { "id": "call_1", "type": "function", "function": { "name": "Bash", "arguments": "{}" } },
        ] }, "finish_reason": "stop" }],
    });
    let response = response_from_chat(&chat, "m");
    assert_eq!(response["stop_reason"], "tool_use");
    assert_eq!(
        response["content"],
        json!([{ "type": "tool_use", "id": "call_1", "name": "Bash", "input": {} }])
    );
}

// ---- Ingress: chat chunks → Messages events ----

pub(super) fn text_chunk(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }],
    })
}

pub(super) fn tool_chunk(call: Value) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": { "tool_calls": [call] }, "finish_reason": null }],
    })
}

#[test]
fn a_stream_of_text_then_two_tool_calls_then_usage_gives_the_exact_events() {
    let chunks = [
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }],
        }),
        json!({
            "id": "chatcmpl-1",
            "choices": [{ "index": 0, "delta": { "reasoning_content": "thinking..." }, "finish_reason": null }],
        }),
        text_chunk("Let me "),
        text_chunk("look."),
        tool_chunk(json!({
            "index": 0, "id": "call_a", "type": "function",
            "function": { "name": "Read", "arguments": "" },
        })),
        tool_chunk(json!({ "index": 0, "function": { "arguments": "{\"path\":" } })),
        tool_chunk(json!({ "index": 0, "function": { "arguments": "\"a.rs\"}" } })),
        tool_chunk(json!({
            "index": 1, "id": "call_b", "type": "function",
            "function": { "name": "Bash", "arguments": "{\"command\":\"ls\"}" },
        })),
        json!({
            "id": "chatcmpl-1",
            "choices": [{ "index": 0, "delta": {}, "finish_reason": "tool_calls" }],
        }),
        json!({
            "id": "chatcmpl-1",
            "choices": [],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "prompt_tokens_details": { "cached_tokens": 100 },
            },
        }),
    ];
    let mut stream = ToMessages::new("claude-sonnet", 90);
    assert!(!stream.started());
    let mut events = Vec::new();
    for chunk in &chunks {
        events.extend(stream.push(chunk));
    }
    assert!(stream.started());
    events.extend(stream.finish());
    assert_eq!(stream.finish(), Vec::new());
    let delta = |index: u64, delta: Value| {
        (
            "content_block_delta".to_owned(),
            json!({ "type": "content_block_delta", "index": index, "delta": delta }),
        )
    };
    let stop = |index: u64| {
        (
            "content_block_stop".to_owned(),
            json!({ "type": "content_block_stop", "index": index }),
        )
    };
    assert_eq!(
        parsed(events),
        vec![
            (
                "message_start".to_owned(),
                json!({ "type": "message_start", "message": {
                    "id": "msg_chatcmpl-1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet",
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": { "input_tokens": 90, "output_tokens": 0 },
                } })
            ),
            (
                "content_block_start".to_owned(),
                json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } })
            ),
            delta(0, json!({ "type": "text_delta", "text": "Let me " })),
            delta(0, json!({ "type": "text_delta", "text": "look." })),
            stop(0),
            (
                "content_block_start".to_owned(),
                json!({ "type": "content_block_start", "index": 1, "content_block": {
                    "type": "tool_use", "id": "call_a", "name": "Read", "input": {},
                } })
            ),
            delta(
                1,
                json!({ "type": "input_json_delta", "partial_json": "{\"path\":" })
            ),
            delta(
                1,
                json!({ "type": "input_json_delta", "partial_json": "\"a.rs\"}" })
            ),
            stop(1),
            (
                "content_block_start".to_owned(),
                json!({ "type": "content_block_start", "index": 2, "content_block": {
                    "type": "tool_use", "id": "call_b", "name": "Bash", "input": {},
                } })
            ),
            delta(
                2,
                json!({ "type": "input_json_delta", "partial_json": "{\"command\":\"ls\"}" })
            ),
            stop(2),
            (
                "message_delta".to_owned(),
                json!({
                    "type": "message_delta",
                    "delta": { "stop_reason": "tool_use", "stop_sequence": null },
                    "usage": { "output_tokens": 30, "input_tokens": 20, "cache_read_input_tokens": 100 },
                })
            ),
            ("message_stop".to_owned(), json!({ "type": "message_stop" })),
        ]
    );
}

#[test]
fn finishing_a_stream_that_got_no_chunk_still_starts_the_message() {
    let mut stream = ToMessages::new("m", 7);
    let mut events = parsed(stream.finish());
    assert!(
        events[0].1["message"]["id"]
            .as_str()
            .unwrap()
            .starts_with("msg_")
    );
    events[0].1["message"]["id"] = json!("msg_x");
    assert_eq!(
        events,
        vec![
            (
                "message_start".to_owned(),
                json!({ "type": "message_start", "message": {
                    "id": "msg_x",
                    "type": "message",
                    "role": "assistant",
                    "model": "m",
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": { "input_tokens": 7, "output_tokens": 0 },
                } })
            ),
            (
                "message_delta".to_owned(),
                json!({
                    "type": "message_delta",
                    "delta": { "stop_reason": "end_turn", "stop_sequence": null },
                    "usage": { "output_tokens": 0, "input_tokens": 7, "cache_read_input_tokens": 0 },
                })
            ),
            ("message_stop".to_owned(), json!({ "type": "message_stop" })),
        ]
    );
    assert_eq!(stream.finish(), Vec::new());
}

#[test]
fn a_failure_mid_stream_is_an_error_event_with_nothing_after_it() {
    let mut stream = ToMessages::new("m", 1);
    let began = stream.push(&text_chunk("Hel"));
    assert_eq!(began.len(), 3, "message_start, block start, delta");
    assert_eq!(
        parsed(stream.fail("the backend went away")),
        vec![(
            "error".to_owned(),
            json!({ "type": "error", "error": { "type": "api_error", "message": "the backend went away" } })
        )]
    );
    assert_eq!(stream.push(&text_chunk("lo")), Vec::new());
    assert_eq!(stream.finish(), Vec::new());
    assert_eq!(
        SseEvent::named("message_stop", &json!({"type": "message_stop"})).to_wire(),
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    );
}

#[test]
fn a_whole_call_in_one_piece_and_text_after_it_each_get_a_block() {
    // The tool-call rescue hands over whole calls, without an index-by-index stream.
    let mut stream = ToMessages::new("m", 1);
    let mut events = stream.push(&json!({
        "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": { "tool_calls": [
            { "index": 0, "id": "call_x", "type": "function", "function": { "name": "Write", "arguments": "{\"a\":1}" } },
        ] }, "finish_reason": null }],
    }));
    events.extend(stream.push(&text_chunk("done")));
    events.extend(stream.push(&json!({
        "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }],
    })));
    events.extend(stream.finish());
    let names: Vec<String> = parsed(events)
        .into_iter()
        .skip(1)
        .map(|(name, data)| format!("{name} {}", data["index"]))
        .collect();
    assert_eq!(
        names,
        [
            "content_block_start 0",
            "content_block_delta 0",
            "content_block_stop 0",
            "content_block_start 1",
            "content_block_delta 1",
            "content_block_stop 1",
            "message_delta null",
            "message_stop null",
        ]
    );
}
