use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::translate::SseEvent;

pub(super) fn chat(body: Value) -> Value {
    request_to_chat(&body).expect("the request translates")
}

pub(super) fn refused(body: Value) -> String {
    request_to_chat(&body)
        .expect_err("the request is refused")
        .0
}

/// The events' data, each checked to be named by its own `type`.
pub(super) fn values(events: Vec<SseEvent>) -> Vec<Value> {
    events
        .into_iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data).expect("event data is JSON");
            assert_eq!(event.event.as_deref(), data["type"].as_str());
            data
        })
        .collect()
}

pub(super) fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap_or_default())
        .collect()
}

/// A chunk of the completion `chatcmpl-7` with `delta`.
pub(super) fn chunk(delta: Value) -> Value {
    json!({
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "qwen3-coder-30b.gguf",
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}],
    })
}

pub(super) fn finish_chunk(reason: &str) -> Value {
    json!({
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "qwen3-coder-30b.gguf",
        "choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
    })
}

pub(super) fn usage_chunk(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "qwen3-coder-30b.gguf",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    })
}

pub(super) fn run(translator: &mut ToResponses, chunks: &[Value]) -> Vec<Value> {
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(translator.push(chunk));
    }
    events.extend(translator.finish());
    values(events)
}

pub(super) const APPLY_PATCH_GRAMMAR: &str = "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF\nend_patch: \"*** End Patch\" LF?\nhunk: add_hunk | update_hunk\n%import common.LF";

pub(super) fn apply_patch_tool() -> Value {
    json!({
        "type": "custom",
        "name": "apply_patch",
        "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
        "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
    })
}

/// The chat function `apply_patch_tool` becomes.
pub(super) fn apply_patch_function() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": "apply_patch",
            "description": format!(
                "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.\n\nThis tool takes free-form text, not JSON: pass the whole text, unchanged, as the string argument `input`.\nThe text must match this lark grammar:\n{APPLY_PATCH_GRAMMAR}"
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "input": {"type": "string", "description": "The tool's whole free-form input text."},
                },
                "required": ["input"],
            },
        },
    })
}

pub(super) fn exec_command_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "cmd": {"type": "string", "description": "The shell command to run."},
            "workdir": {"type": "string", "description": "Where to run it."},
            "yield_time_ms": {"type": "number", "description": "How long to wait for output."},
        },
        "required": ["cmd"],
        "additionalProperties": false,
    })
}

pub(super) fn exec_command_tool() -> Value {
    json!({
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
        "strict": false,
        "parameters": exec_command_parameters(),
    })
}

// ----- Non-streamed answers --------------------------------------------------------------------

/// The Responses request the answers below answer.
pub(super) fn answered_request() -> Value {
    json!({
        "model": "qwen3-coder",
        "input": "Fix it",
        "tools": [
            exec_command_tool(),
            apply_patch_tool(),
            {"type": "local_shell"},
            {"type": "namespace", "name": "mcp__calendar", "description": "Calendar.", "tools": [
                {"type": "function", "name": "create_event", "parameters": {"type": "object", "properties": {}}},
            ]},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "temperature": 0.2,
        "stream": true,
    })
}

/// A Response object for `answered_request`, as it repeats the request.
pub(super) fn response(status: &str, output: Value, usage: Value) -> Value {
    let request = answered_request();
    json!({
        "id": "resp_7",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": "qwen3-coder",
        "output": output,
        "usage": usage,
        "parallel_tool_calls": false,
        "tool_choice": "auto",
        "tools": request["tools"],
        "temperature": 0.2,
        "top_p": null,
        "max_output_tokens": null,
        "text": {"format": {"type": "text"}},
    })
}

pub(super) fn usage(input: u64, output: u64, cached: u64) -> Value {
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + output,
    })
}

pub(super) fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-7",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "qwen3-coder-30b.gguf",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 10,
            "total_tokens": 60,
            "prompt_tokens_details": {"cached_tokens": 32},
        },
    })
}

#[test]
fn a_chat_completion_becomes_a_completed_response() {
    let chat = completion(
        json!({
            "role": "assistant",
            "content": "Listing.",
            "reasoning_content": "The user wants a listing.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
            ],
        }),
        "tool_calls",
    );
    assert_eq!(
        response_from_chat(&chat, &answered_request()),
        response(
            "completed",
            json!([
                {"type": "message", "id": "msg_7_0", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Listing.", "annotations": []}]},
                {"type": "function_call", "id": "fc_7_1", "call_id": "call_1", "name": "exec_command",
                 "arguments": "{\"cmd\":\"ls\"}", "status": "completed"},
            ]),
            usage(50, 10, 32),
        )
    );
}

#[test]
fn calls_of_custom_local_shell_and_namespace_tools_come_back_as_their_own_items() {
    let patch = "*** Begin Patch\n*** End Patch\n";
    let chat = completion(
        json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [
                {"id": "call_p", "type": "function", "function": {"name": "apply_patch", "arguments": json!({"input": patch}).to_string()}},
                {"id": "call_q", "type": "function", "function": {"name": "apply_patch", "arguments": "*** Begin Patch"}},
                {"id": "call_s", "type": "function", "function": {"name": "local_shell", "arguments": "{\"command\":[\"ls\"],\"workdir\":\"/tmp\"}"}},
                {"id": "call_c", "type": "function", "function": {"name": "mcp__calendar__create_event", "arguments": ""}},
            ],
        }),
        "tool_calls",
    );
    assert_eq!(
        response_from_chat(&chat, &answered_request())["output"],
        json!([
            {"type": "custom_tool_call", "id": "ctc_7_0", "call_id": "call_p", "name": "apply_patch", "input": patch},
            {"type": "custom_tool_call", "id": "ctc_7_1", "call_id": "call_q", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "local_shell_call", "id": "lsh_7_2", "call_id": "call_s", "status": "completed", "action": {
                "type": "exec", "command": ["ls"], "timeout_ms": null, "working_directory": "/tmp", "env": null, "user": null,
            }},
            {"type": "function_call", "id": "fc_7_3", "call_id": "call_c", "name": "create_event", "namespace": "mcp__calendar",
             "arguments": "{}", "status": "completed"},
        ])
    );
}

#[test]
fn a_completion_cut_at_the_token_limit_is_an_incomplete_response() {
    let chat = completion(
        json!({"role": "assistant", "content": "Once upon"}),
        "length",
    );
    let mut expected = response(
        "incomplete",
        json!([
            {"type": "message", "id": "msg_7_0", "status": "incomplete", "role": "assistant",
             "content": [{"type": "output_text", "text": "Once upon", "annotations": []}]},
        ]),
        usage(50, 10, 32),
    );
    expected["incomplete_details"] = json!({"reason": "max_output_tokens"});
    assert_eq!(response_from_chat(&chat, &answered_request()), expected);
}
