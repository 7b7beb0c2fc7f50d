use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::translate::SseEvent;

fn chat(body: Value) -> Value {
    request_to_chat(&body).expect("the request translates")
}

fn refused(body: Value) -> String {
    request_to_chat(&body)
        .expect_err("the request is refused")
        .0
}

/// The events' data, each checked to be named by its own `type`.
fn values(events: Vec<SseEvent>) -> Vec<Value> {
    events
        .into_iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data).expect("event data is JSON");
            assert_eq!(event.event.as_deref(), data["type"].as_str());
            data
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap_or_default())
        .collect()
}

/// A chunk of the completion `chatcmpl-7` with `delta`.
fn chunk(delta: Value) -> Value {
    json!({
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "qwen3-coder-30b.gguf",
        "choices": [{"index": 0, "delta": delta, "finish_reason": null}],
    })
}

fn finish_chunk(reason: &str) -> Value {
    json!({
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "qwen3-coder-30b.gguf",
        "choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
    })
}

fn usage_chunk(prompt: u64, completion: u64, cached: u64) -> Value {
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

fn run(translator: &mut ToResponses, chunks: &[Value]) -> Vec<Value> {
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(translator.push(chunk));
    }
    events.extend(translator.finish());
    values(events)
}

const APPLY_PATCH_GRAMMAR: &str = "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF\nend_patch: \"*** End Patch\" LF?\nhunk: add_hunk | update_hunk\n%import common.LF";

fn apply_patch_tool() -> Value {
    json!({
        "type": "custom",
        "name": "apply_patch",
        "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
        "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
    })
}

/// The chat function `apply_patch_tool` becomes.
fn apply_patch_function() -> Value {
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

fn exec_command_parameters() -> Value {
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

fn exec_command_tool() -> Value {
    json!({
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
        "strict": false,
        "parameters": exec_command_parameters(),
    })
}

// ----- Requests ------------------------------------------------------------------------------

#[test]
fn instructions_and_a_string_input_become_a_system_and_a_user_message() {
    let body = json!({
        "model": "qwen3-coder",
        "instructions": "Be brief.",
        "input": "Hi",
        "stream": true,
        "max_output_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "store": false,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "low", "summary": "auto"},
        "prompt_cache_key": "0199-abc",
        "truncation": "auto",
        "metadata": {"run": "1"},
        "service_tier": "auto",
        "user": "someone",
        "safety_identifier": "someone-hashed",
        "client_metadata": {"x": "y"},
        "stream_options": {"include_obfuscation": false},
        "text": {"verbosity": "low"},
        "previous_response_id": null,
        "background": false,
        "cache_prompt": true,
    });
    assert_eq!(
        chat(body),
        json!({
            "model": "qwen3-coder",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "cache_prompt": true,
        })
    );
}

#[test]
fn message_items_keep_their_roles_and_content_and_leading_system_text_is_one_message() {
    let body = json!({
        "model": "m",
        "instructions": "Base instructions.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only."}]},
            {"role": "user", "content": [
                {"type": "input_text", "text": "Look:"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
            ]},
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "A cat"},
                {"type": "output_text", "text": " on a mat."},
            ]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
            {"type": "message", "role": "developer", "content": "Now answer in French."},
        ],
    });
    assert_eq!(
        chat(body)["messages"],
        json!([
            {"role": "system", "content": "Base instructions.\n\nSandbox: read-only."},
            {"role": "user", "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}},
            ]},
            {"role": "assistant", "content": "A cat on a mat."},
            {"role": "user", "content": "Thanks"},
            {"role": "system", "content": "Now answer in French."},
        ])
    );
}

#[test]
fn function_calls_join_the_assistant_text_before_them_and_their_outputs_become_tool_messages() {
    let body = json!({
        "model": "m",
        "input": [
            {"role": "user", "content": "List the files"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
            {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
            {"type": "function_call", "call_id": "call_2", "name": "shell", "arguments": "{\"command\":[\"pwd\"]}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
            {"type": "function_call_output", "call_id": "call_2", "output": [
                {"type": "input_text", "text": "/work"},
                {"type": "input_text", "text": "(exit 0)"},
            ]},
            {"type": "message", "role": "assistant", "content": "Done."},
        ],
    });
    assert_eq!(
        chat(body)["messages"],
        json!([
            {"role": "user", "content": "List the files"},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
                {"id": "call_2", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"pwd\"]}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
            {"role": "tool", "tool_call_id": "call_2", "content": "/work\n(exit 0)"},
            {"role": "assistant", "content": "Done."},
        ])
    );
}

#[test]
fn a_custom_tool_call_travels_as_a_function_call_with_its_text_as_input() {
    let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n";
    let body = json!({
        "model": "m",
        "input": [
            {"type": "custom_tool_call", "status": "completed", "call_id": "call_p", "name": "apply_patch", "input": patch},
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Success. Updated the following files:\nA a.txt\n"},
        ],
    });
    assert_eq!(
        chat(body)["messages"],
        json!([
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_p", "type": "function", "function": {
                    "name": "apply_patch",
                    "arguments": json!({"input": patch}).to_string(),
                }},
            ]},
            {"role": "tool", "tool_call_id": "call_p", "content": "Success. Updated the following files:\nA a.txt\n"},
        ])
    );
}

#[test]
fn a_local_shell_call_travels_as_a_call_of_the_local_shell_function() {
    let body = json!({
        "model": "m",
        "tools": [{"type": "local_shell"}],
        "input": [
            {"type": "local_shell_call", "id": "lsh_1", "call_id": "call_s", "status": "completed", "action": {
                "type": "exec", "command": ["ls", "-l"], "timeout_ms": 1000,
                "working_directory": "/tmp", "env": null, "user": null,
            }},
            {"type": "local_shell_call_output", "id": "call_s", "output": "total 0"},
        ],
    });
    let translated = chat(body);
    assert_eq!(
        translated["messages"],
        json!([
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_s", "type": "function", "function": {
                    "name": "local_shell",
                    "arguments": json!({"command": ["ls", "-l"], "timeout_ms": 1000, "workdir": "/tmp"}).to_string(),
                }},
            ]},
            {"role": "tool", "tool_call_id": "call_s", "content": "total 0"},
        ])
    );
    assert_eq!(
        translated["tools"],
        json!([{
            "type": "function",
            "function": {
                "name": "local_shell",
                "description": "Runs a command on the user's machine and returns its output.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "command": {"type": "array", "items": {"type": "string"}, "description": "The program and its arguments, one string each."},
                        "workdir": {"type": "string", "description": "The directory to run the command in."},
                        "timeout_ms": {"type": "integer", "description": "How long the command may run, in milliseconds."},
                    },
                    "required": ["command"],
                },
            },
        }])
    );
}

#[test]
fn images_a_tool_returned_follow_the_run_of_tool_results_in_a_user_message() {
    let body = json!({
        "model": "m",
        "input": [
            {"type": "function_call", "call_id": "call_1", "name": "view_image", "arguments": "{\"path\":\"a.png\"}"},
            {"type": "function_call", "call_id": "call_2", "name": "view_image", "arguments": "{\"path\":\"b.png\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": [
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ]},
            {"type": "function_call_output", "call_id": "call_2", "output": [
                {"type": "input_text", "text": "b.png:"},
                {"type": "input_image", "image_url": "data:image/png;base64,BBBB", "detail": "high"},
            ]},
            {"role": "user", "content": "What do they show?"},
        ],
    });
    assert_eq!(
        chat(body)["messages"],
        json!([
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "view_image", "arguments": "{\"path\":\"a.png\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "view_image", "arguments": "{\"path\":\"b.png\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "(the tool returned images; they follow in the next message)"},
            {"role": "tool", "tool_call_id": "call_2", "content": "b.png:"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,BBBB", "detail": "high"}},
            ]},
            {"role": "user", "content": "What do they show?"},
        ])
    );
}

#[test]
fn function_custom_and_namespace_tools_become_chat_functions() {
    let body = json!({
        "model": "m",
        "input": "hi",
        "tools": [
            exec_command_tool(),
            apply_patch_tool(),
            {"type": "custom", "name": "note", "description": "Writes a note.", "format": {"type": "text"}},
            {"type": "custom", "name": "sql", "format": {"type": "grammar", "grammar": {"syntax": "regex", "definition": "SELECT .*"}}},
            {"type": "namespace", "name": "mcp__calendar", "description": "Tools for working with Calendar.", "tools": [
                {"type": "function", "name": "create_event", "description": "Creates an event.", "strict": false, "defer_loading": true,
                 "parameters": {"type": "object", "properties": {"title": {"type": "string"}}}},
            ]},
            {"type": "function", "name": "ping"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
    });
    assert_eq!(
        chat(body),
        json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {"type": "function", "function": {
                    "name": "exec_command",
                    "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
                    "parameters": exec_command_parameters(),
                    "strict": false,
                }},
                apply_patch_function(),
                {"type": "function", "function": {
                    "name": "note",
                    "description": "Writes a note.\n\nThis tool takes free-form text, not JSON: pass the whole text, unchanged, as the string argument `input`.",
                    "parameters": {
                        "type": "object",
                        "properties": {"input": {"type": "string", "description": "The tool's whole free-form input text."}},
                        "required": ["input"],
                    },
                }},
                {"type": "function", "function": {
                    "name": "sql",
                    "description": "This tool takes free-form text, not JSON: pass the whole text, unchanged, as the string argument `input`.\nThe text must match this regex grammar:\nSELECT .*",
                    "parameters": {
                        "type": "object",
                        "properties": {"input": {"type": "string", "description": "The tool's whole free-form input text."}},
                        "required": ["input"],
                    },
                }},
                {"type": "function", "function": {
                    "name": "mcp__calendar__create_event",
                    "description": "Creates an event.",
                    "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
                    "strict": false,
                }},
                {"type": "function", "function": {
                    "name": "ping",
                    "parameters": {"type": "object", "properties": {}},
                }},
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": true,
        })
    );
}

#[test]
fn each_tool_choice_maps_to_its_chat_form() {
    let cases = [
        (json!("auto"), json!("auto")),
        (json!("none"), json!("none")),
        (json!("required"), json!("required")),
        (
            json!({"type": "function", "name": "exec_command"}),
            json!({"type": "function", "function": {"name": "exec_command"}}),
        ),
        (
            json!({"type": "custom", "name": "apply_patch"}),
            json!({"type": "function", "function": {"name": "apply_patch"}}),
        ),
        (
            json!({"type": "local_shell"}),
            json!({"type": "function", "function": {"name": "local_shell"}}),
        ),
    ];
    for (choice, expected) in cases {
        let body = json!({"model": "m", "input": "hi", "tools": [exec_command_tool()], "tool_choice": choice});
        assert_eq!(chat(body)["tool_choice"], expected);
    }
}

#[test]
fn without_tools_the_tool_choice_and_parallel_calls_are_left_out_and_nulls_are_not_set() {
    let body = json!({
        "model": "m",
        "input": "hi",
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        // Explicit nulls are "not set".
        "temperature": null,
        "text": null,
        "previous_response_id": null,
    });
    assert_eq!(
        chat(body),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    );
}

#[test]
fn text_formats_become_response_formats() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let cases = [
        (
            json!({"format": {"type": "json_schema", "name": "codex_output_schema", "schema": schema, "strict": true}, "verbosity": "medium"}),
            Some(
                json!({"type": "json_schema", "json_schema": {"name": "codex_output_schema", "schema": schema, "strict": true}}),
            ),
        ),
        (
            json!({"format": {"type": "json_object"}}),
            Some(json!({"type": "json_object"})),
        ),
        (json!({"format": {"type": "text"}}), None),
    ];
    for (text, expected) in cases {
        let translated = chat(json!({"model": "m", "input": "hi", "text": text}));
        assert_eq!(translated.get("response_format").cloned(), expected);
    }
}

/// A request as Codex (`codex exec`, `wire_api = "responses"`) sends it on a second turn:
/// developer and environment messages, an `exec_command` call and an `apply_patch` call with
/// their outputs, and its usual tools (`exec_command`, `update_plan`, the freeform
/// `apply_patch`, `view_image`).
#[test]
fn a_codex_request_translates_into_a_chat_request() {
    let patch = "*** Begin Patch\n*** Update File: README.md\n@@\n-teh README\n+the README\n*** End Patch\n";
    let update_plan = json!({
        "type": "function",
        "name": "update_plan",
        "description": "Updates the task plan.",
        "strict": false,
        "parameters": {
            "type": "object",
            "properties": {
                "explanation": {"type": "string"},
                "plan": {"type": "array", "description": "The list of steps", "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {"type": "string", "description": "One of: pending, in_progress, completed"},
                    },
                    "required": ["step", "status"],
                    "additionalProperties": false,
                }},
            },
            "required": ["plan"],
            "additionalProperties": false,
        },
    });
    let view_image = json!({
        "type": "function",
        "name": "view_image",
        "description": "Attach a local image to the conversation context.",
        "strict": false,
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Local filesystem path to an image file"}},
            "required": ["path"],
            "additionalProperties": false,
        },
    });
    let body = json!({
        "model": "qwen3-coder",
        "instructions": "You are a coding agent running in the Codex CLI.",
        "input": [
            {"type": "message", "role": "developer", "content": [
                {"type": "input_text", "text": "<permissions instructions>Filesystem sandboxing: workspace-write.</permissions instructions>"},
            ]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "<environment_context>\n  <cwd>/work</cwd>\n  <shell>bash</shell>\n</environment_context>"},
            ]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix the typo in README.md"}]},
            {"type": "reasoning", "summary": [], "content": null, "encrypted_content": null},
            {"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\":\"cat README.md\"}", "call_id": "call_a"},
            {"type": "function_call_output", "call_id": "call_a", "output": "Process exited with code 0\nOutput:\nteh README\n"},
            {"type": "custom_tool_call", "status": "completed", "call_id": "call_b", "name": "apply_patch", "input": patch},
            {"type": "custom_tool_call_output", "call_id": "call_b", "output": "Exit code: 0\nOutput:\nSuccess. Updated the following files:\nM README.md\n"},
        ],
        "tools": [exec_command_tool(), update_plan, apply_patch_tool(), view_image],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": null,
        "store": false,
        "stream": true,
        "include": [],
        "prompt_cache_key": "0199c3a8-7c2e-7d41-9a0e-5f1b2c3d4e5f",
    });
    assert_eq!(
        chat(body),
        json!({
            "model": "qwen3-coder",
            "messages": [
                {"role": "system", "content": "You are a coding agent running in the Codex CLI.\n\n<permissions instructions>Filesystem sandboxing: workspace-write.</permissions instructions>"},
                {"role": "user", "content": "<environment_context>\n  <cwd>/work</cwd>\n  <shell>bash</shell>\n</environment_context>"},
                {"role": "user", "content": "Fix the typo in README.md"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"cat README.md\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "call_a", "content": "Process exited with code 0\nOutput:\nteh README\n"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_b", "type": "function", "function": {"name": "apply_patch", "arguments": json!({"input": patch}).to_string()}},
                ]},
                {"role": "tool", "tool_call_id": "call_b", "content": "Exit code: 0\nOutput:\nSuccess. Updated the following files:\nM README.md\n"},
            ],
            "tools": [
                {"type": "function", "function": {
                    "name": "exec_command",
                    "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
                    "parameters": exec_command_parameters(),
                    "strict": false,
                }},
                {"type": "function", "function": {
                    "name": "update_plan",
                    "description": "Updates the task plan.",
                    "parameters": update_plan_parameters(),
                    "strict": false,
                }},
                apply_patch_function(),
                {"type": "function", "function": {
                    "name": "view_image",
                    "description": "Attach a local image to the conversation context.",
                    "parameters": {
                        "type": "object",
                        "properties": {"path": {"type": "string", "description": "Local filesystem path to an image file"}},
                        "required": ["path"],
                        "additionalProperties": false,
                    },
                    "strict": false,
                }},
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "stream": true,
            "stream_options": {"include_usage": true},
        })
    );
}

fn update_plan_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "explanation": {"type": "string"},
            "plan": {"type": "array", "description": "The list of steps", "items": {
                "type": "object",
                "properties": {
                    "step": {"type": "string"},
                    "status": {"type": "string", "description": "One of: pending, in_progress, completed"},
                },
                "required": ["step", "status"],
                "additionalProperties": false,
            }},
        },
        "required": ["plan"],
        "additionalProperties": false,
    })
}

#[test]
fn server_side_state_is_refused_with_a_hint() {
    let cases = [
        (
            json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
            "`previous_response_id` is not supported by a chat backend; hint: this gateway keeps no responses: send the whole conversation in `input` (store: false)",
        ),
        (
            json!({"model": "m", "input": "hi", "background": true}),
            "`background: true` is not supported by a chat backend; hint: this gateway keeps no responses to poll: stream the answer (`stream: true`) or wait for it",
        ),
        (
            json!({"model": "m", "input": "hi", "conversation": "conv_1"}),
            "`conversation` is not supported by a chat backend; hint: this gateway keeps no conversations: send the whole conversation in `input` (store: false)",
        ),
        (
            json!({"model": "m", "prompt": {"id": "pmpt_1"}}),
            "`prompt` (a stored prompt template) is not supported by a chat backend; hint: send the prompt's text as `instructions`",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refused(body), message);
    }
}

#[test]
fn input_items_chat_has_no_form_for_are_refused_naming_type_and_index() {
    let built_in =
        "it records a built-in tool that runs on OpenAI's side only; leave the item out of `input`";
    let cases = [
        (
            json!({"type": "item_reference", "id": "msg_1"}),
            "`item_reference`",
            "this gateway keeps no items: send the referenced item itself",
        ),
        (
            json!({"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}}),
            "`web_search_call`",
            built_in,
        ),
        (
            json!({"type": "file_search_call", "id": "fs_1", "queries": []}),
            "`file_search_call`",
            built_in,
        ),
        (
            json!({"type": "computer_call", "id": "cu_1"}),
            "`computer_call`",
            built_in,
        ),
        (
            json!({"type": "image_generation_call", "id": "ig_1"}),
            "`image_generation_call`",
            built_in,
        ),
        (
            json!({"type": "mcp_call", "id": "mcp_1"}),
            "`mcp_call`",
            "it records a remote MCP call made on OpenAI's side; leave the item out of `input`",
        ),
        (
            json!({"type": "compaction", "encrypted_content": "gAAAA"}),
            "`compaction`",
            "it is OpenAI's encrypted compaction state, which only OpenAI reads; compact the conversation locally",
        ),
    ];
    for (item, kind, hint) in cases {
        let body = json!({"model": "m", "input": [{"role": "user", "content": "hi"}, item]});
        assert_eq!(
            refused(body),
            format!(
                "input[1] is a {kind} item, which is not supported by a chat backend; hint: {hint}"
            )
        );
    }
}

#[test]
fn content_chat_has_no_form_for_is_refused() {
    let cases = [
        (
            json!({"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}),
            "input[0]: an `input_file` part is not supported by a chat backend; hint: send the file's text as `input_text`",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}),
            "input[0]: an `input_image` given by `file_id` is not supported by a chat backend; hint: this gateway has no file store: put the image inline in `image_url` (a data: URL)",
        ),
        (
            json!({"type": "message", "role": "assistant", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}),
            "input[0]: an image in an assistant message is not supported by a chat backend; hint: chat takes images in user messages only",
        ),
        (
            json!({"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_file", "file_data": "…"}]}),
            "input[0]: an `input_file` part is not supported by a chat backend; hint: send the file's text as `input_text`",
        ),
        (
            json!({"type": "message", "role": "tool", "content": "x"}),
            "input[0] has the role `tool`, which chat has no counterpart for",
        ),
        (
            json!({"type": "function_call", "name": "shell", "arguments": "{}"}),
            "input[0] (`function_call`) has no `call_id`",
        ),
    ];
    for (item, message) in cases {
        assert_eq!(refused(json!({"model": "m", "input": [item]})), message);
    }
}

#[test]
fn built_in_tools_are_refused_naming_the_tool_type() {
    assert_eq!(
        refused(
            json!({"model": "m", "input": "hi", "tools": [exec_command_tool(), {"type": "web_search", "external_web_access": false}]})
        ),
        "tools[1] is the built-in tool `web_search`, which is not supported by a chat backend; hint: it runs on OpenAI's side only; Codex declares it unless its config.toml sets `web_search = \"disabled\"`"
    );
    assert_eq!(
        refused(json!({"model": "m", "input": "hi", "tools": [{"type": "web_search_preview"}]})),
        "tools[0] is the built-in tool `web_search_preview`, which is not supported by a chat backend; hint: it runs on OpenAI's side only; Codex declares it unless its config.toml sets `web_search = \"disabled\"`"
    );
    for kind in [
        "file_search",
        "computer_use_preview",
        "image_generation",
        "code_interpreter",
        "mcp",
        "tool_search",
    ] {
        assert_eq!(
            refused(json!({"model": "m", "input": "hi", "tools": [{"type": kind}]})),
            format!(
                "tools[0] is the built-in tool `{kind}`, which is not supported by a chat backend; hint: it runs on OpenAI's side only; leave it out of the request"
            )
        );
    }
}

#[test]
fn tool_choices_chat_cannot_express_are_refused() {
    let tools = json!([exec_command_tool()]);
    assert_eq!(
        refused(
            json!({"model": "m", "input": "hi", "tools": tools, "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}})
        ),
        "`tool_choice` of type `allowed_tools` is not supported by a chat backend; hint: declare only the allowed tools in `tools`"
    );
    assert_eq!(
        refused(
            json!({"model": "m", "input": "hi", "tools": tools, "tool_choice": {"type": "file_search"}})
        ),
        "`tool_choice` naming the built-in tool `file_search` is not supported by a chat backend; hint: it runs on OpenAI's side only; leave it out of the request"
    );
}

// ----- Non-streamed answers --------------------------------------------------------------------

/// The Responses request the answers below answer.
fn answered_request() -> Value {
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
fn response(status: &str, output: Value, usage: Value) -> Value {
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

fn usage(input: u64, output: u64, cached: u64) -> Value {
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + output,
    })
}

fn completion(message: Value, finish_reason: &str) -> Value {
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

// ----- Streamed answers ------------------------------------------------------------------------

fn in_progress() -> Value {
    response("in_progress", json!([]), Value::Null)
}

#[test]
fn a_text_reply_streams_as_one_message_item() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    assert!(!translator.started());
    let events = run(
        &mut translator,
        &[
            chunk(json!({"role": "assistant", "content": ""})),
            chunk(json!({"reasoning_content": "Thinking."})),
            chunk(json!({"content": "Hel"})),
            chunk(json!({"content": "lo"})),
            finish_chunk("stop"),
            usage_chunk(45, 2, 0),
        ],
    );
    assert!(translator.started());
    let message = json!({"type": "message", "id": "msg_7_0", "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "text": "Hello", "annotations": []}]});
    assert_eq!(
        events,
        vec![
            json!({"type": "response.created", "sequence_number": 0, "response": in_progress()}),
            json!({"type": "response.in_progress", "sequence_number": 1, "response": in_progress()}),
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                   "item": {"type": "message", "id": "msg_7_0", "status": "in_progress", "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "delta": "Hel", "logprobs": []}),
            json!({"type": "response.output_text.delta", "sequence_number": 5, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "delta": "lo", "logprobs": []}),
            json!({"type": "response.output_text.done", "sequence_number": 6, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "text": "Hello", "logprobs": []}),
            json!({"type": "response.content_part.done", "sequence_number": 7, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "Hello", "annotations": []}}),
            json!({"type": "response.output_item.done", "sequence_number": 8, "output_index": 0, "item": message}),
            json!({"type": "response.completed", "sequence_number": 9,
                   "response": response("completed", json!([message]), usage(45, 2, 0))}),
        ]
    );
}

#[test]
fn a_stream_of_text_a_function_call_and_an_apply_patch_call_becomes_the_responses_event_sequence() {
    let patch = "*** Begin Patch\n*** End Patch\n";
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = run(
        &mut translator,
        &[
            chunk(json!({"role": "assistant", "content": "I'll fix it."})),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": ""}}]}),
            ),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":"}}]})),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]})),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_2", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin"}}]}),
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "function": {"arguments": " Patch\\n*** End Patch\\n\"}"}}]}),
            ),
            finish_chunk("tool_calls"),
            usage_chunk(120, 30, 100),
        ],
    );
    let message = json!({"type": "message", "id": "msg_7_0", "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "text": "I'll fix it.", "annotations": []}]});
    let call = json!({"type": "function_call", "id": "fc_7_1", "call_id": "call_1", "name": "exec_command",
                      "arguments": "{\"cmd\":\"ls\"}", "status": "completed"});
    let custom = json!({"type": "custom_tool_call", "id": "ctc_7_2", "call_id": "call_2", "name": "apply_patch", "input": patch});
    assert_eq!(
        events,
        vec![
            json!({"type": "response.created", "sequence_number": 0, "response": in_progress()}),
            json!({"type": "response.in_progress", "sequence_number": 1, "response": in_progress()}),
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                   "item": {"type": "message", "id": "msg_7_0", "status": "in_progress", "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "delta": "I'll fix it.", "logprobs": []}),
            json!({"type": "response.output_text.done", "sequence_number": 5, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "text": "I'll fix it.", "logprobs": []}),
            json!({"type": "response.content_part.done", "sequence_number": 6, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "I'll fix it.", "annotations": []}}),
            json!({"type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": message}),
            json!({"type": "response.output_item.added", "sequence_number": 8, "output_index": 1,
                   "item": {"type": "function_call", "id": "fc_7_1", "call_id": "call_1", "name": "exec_command",
                            "arguments": "", "status": "in_progress"}}),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 9, "item_id": "fc_7_1",
                   "output_index": 1, "delta": "{\"cmd\":"}),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 10, "item_id": "fc_7_1",
                   "output_index": 1, "delta": "\"ls\"}"}),
            json!({"type": "response.output_item.added", "sequence_number": 11, "output_index": 2,
                   "item": {"type": "custom_tool_call", "id": "ctc_7_2", "call_id": "call_2", "name": "apply_patch", "input": ""}}),
            json!({"type": "response.function_call_arguments.done", "sequence_number": 12, "item_id": "fc_7_1",
                   "output_index": 1, "arguments": "{\"cmd\":\"ls\"}"}),
            json!({"type": "response.output_item.done", "sequence_number": 13, "output_index": 1, "item": call}),
            json!({"type": "response.custom_tool_call_input.delta", "sequence_number": 14, "item_id": "ctc_7_2",
                   "output_index": 2, "delta": patch}),
            json!({"type": "response.custom_tool_call_input.done", "sequence_number": 15, "item_id": "ctc_7_2",
                   "output_index": 2, "input": patch}),
            json!({"type": "response.output_item.done", "sequence_number": 16, "output_index": 2, "item": custom}),
            json!({"type": "response.completed", "sequence_number": 17,
                   "response": response("completed", json!([message, call, custom]), usage(120, 30, 100))}),
        ]
    );
}

#[test]
fn a_custom_tool_call_streams_back_as_a_custom_tool_call_item() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = run(
        &mut translator,
        &[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_p", "type": "function", "function": {"name": "apply_patch", "arguments": ""}}]}),
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"input\": \"*** Begin Patch\\n"}}]}),
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "*** Delete File: a.txt\\n*** End Patch\\n\"}"}}]}),
            ),
            finish_chunk("tool_calls"),
        ],
    );
    let patch = "*** Begin Patch\n*** Delete File: a.txt\n*** End Patch\n";
    let item = json!({"type": "custom_tool_call", "id": "ctc_7_0", "call_id": "call_p", "name": "apply_patch", "input": patch});
    assert_eq!(
        events[2..],
        [
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                   "item": {"type": "custom_tool_call", "id": "ctc_7_0", "call_id": "call_p", "name": "apply_patch", "input": ""}}),
            json!({"type": "response.custom_tool_call_input.delta", "sequence_number": 3, "item_id": "ctc_7_0",
                   "output_index": 0, "delta": patch}),
            json!({"type": "response.custom_tool_call_input.done", "sequence_number": 4, "item_id": "ctc_7_0",
                   "output_index": 0, "input": patch}),
            json!({"type": "response.output_item.done", "sequence_number": 5, "output_index": 0, "item": item}),
            // No usage came: the estimate of the prompt and one token per chunk.
            json!({"type": "response.completed", "sequence_number": 6,
                   "response": response("completed", json!([item]), usage(40, 3, 0))}),
        ]
    );
}

#[test]
fn local_shell_and_namespace_calls_stream_back_as_their_own_items() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = run(
        &mut translator,
        &[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_s", "type": "function", "function": {"name": "local_shell", "arguments": "{\"command\":[\"ls\"]}"}}]}),
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_c", "type": "function", "function": {"name": "mcp__calendar__create_event", "arguments": "{}"}}]}),
            ),
            finish_chunk("tool_calls"),
        ],
    );
    let shell = json!({"type": "local_shell_call", "id": "lsh_7_0", "call_id": "call_s", "status": "completed", "action": {
        "type": "exec", "command": ["ls"], "timeout_ms": null, "working_directory": null, "env": null, "user": null,
    }});
    let mut shell_in_progress = shell.clone();
    shell_in_progress["status"] = json!("in_progress");
    let event = json!({"type": "function_call", "id": "fc_7_1", "call_id": "call_c", "name": "create_event",
                       "namespace": "mcp__calendar", "arguments": "{}", "status": "completed"});
    assert_eq!(
        events[2..9],
        [
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 1,
                   "item": {"type": "function_call", "id": "fc_7_1", "call_id": "call_c", "name": "create_event",
                            "namespace": "mcp__calendar", "arguments": "", "status": "in_progress"}}),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 3, "item_id": "fc_7_1",
                   "output_index": 1, "delta": "{}"}),
            json!({"type": "response.output_item.added", "sequence_number": 4, "output_index": 0, "item": shell_in_progress}),
            json!({"type": "response.output_item.done", "sequence_number": 5, "output_index": 0, "item": shell}),
            json!({"type": "response.function_call_arguments.done", "sequence_number": 6, "item_id": "fc_7_1",
                   "output_index": 1, "arguments": "{}"}),
            json!({"type": "response.output_item.done", "sequence_number": 7, "output_index": 1, "item": event}),
            json!({"type": "response.completed", "sequence_number": 8,
                   "response": response("completed", json!([shell, event]), usage(40, 2, 0))}),
        ]
    );
}

#[test]
fn a_stream_cut_at_the_token_limit_ends_with_response_incomplete() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = run(
        &mut translator,
        &[
            chunk(json!({"content": "Once upon"})),
            finish_chunk("length"),
        ],
    );
    let message = json!({"type": "message", "id": "msg_7_0", "status": "incomplete", "role": "assistant",
                         "content": [{"type": "output_text", "text": "Once upon", "annotations": []}]});
    let mut finished = response("incomplete", json!([message]), usage(40, 1, 0));
    finished["incomplete_details"] = json!({"reason": "max_output_tokens"});
    assert_eq!(
        events[5..],
        [
            json!({"type": "response.output_text.done", "sequence_number": 5, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "text": "Once upon", "logprobs": []}),
            json!({"type": "response.content_part.done", "sequence_number": 6, "item_id": "msg_7_0", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "Once upon", "annotations": []}}),
            json!({"type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": message}),
            json!({"type": "response.incomplete", "sequence_number": 8, "response": finished}),
        ]
    );
}

#[test]
fn llama_timings_stand_in_for_a_missing_usage_chunk() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let mut last = finish_chunk("stop");
    last["timings"] = json!({"prompt_n": 10, "cache_n": 90, "predicted_n": 5});
    let events = run(&mut translator, &[chunk(json!({"content": "Hi"})), last]);
    assert_eq!(
        events.last().map(|event| &event["response"]["usage"]),
        Some(&usage(100, 5, 90))
    );
}

#[test]
fn a_failure_mid_stream_ends_with_response_failed_and_leaves_open_items_unfinished() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let mut events = Vec::new();
    events.extend(translator.push(&chunk(json!({"content": "Let me look."}))));
    events.extend(translator.push(&chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
        "function": {"name": "exec_command", "arguments": "{\"cmd\":\"l"}}]}),
    )));
    events.extend(translator.fail("the backend closed the connection"));
    let events = values(events);
    let message = json!({"type": "message", "id": "msg_7_0", "status": "completed", "role": "assistant",
                         "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}]});
    let mut failed = response("failed", json!([message]), Value::Null);
    failed["error"] =
        json!({"code": "server_error", "message": "the backend closed the connection"});
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.failed",
        ]
    );
    assert_eq!(
        events.last(),
        Some(&json!({"type": "response.failed", "sequence_number": 10, "response": failed}))
    );
    // Nothing more once the response has ended.
    assert_eq!(translator.finish(), []);
    assert_eq!(translator.fail("again"), []);
    assert_eq!(translator.push(&chunk(json!({"content": "more"}))), []);
}

#[test]
fn finish_is_idempotent() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = run(
        &mut translator,
        &[chunk(json!({"content": "Hi"})), finish_chunk("stop")],
    );
    assert_eq!(types(&events).last(), Some(&"response.completed"));
    assert_eq!(translator.finish(), []);
    assert_eq!(translator.push(&chunk(json!({"content": "late"}))), []);
}

#[test]
fn a_stream_without_chunks_still_starts_and_completes_the_response() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = values(translator.finish());
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.in_progress",
            "response.completed"
        ]
    );
    let finished = &events[2]["response"];
    assert!(
        finished["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("resp_") && id.len() > 5),
        "{finished}"
    );
    assert_eq!(finished["output"], json!([]));
    assert_eq!(finished["usage"], usage(40, 0, 0));
}

#[test]
fn calls_from_a_server_that_numbers_none_are_told_apart_by_their_ids() {
    let mut translator = ToResponses::new(&answered_request(), 40);
    let events = run(
        &mut translator,
        &[
            chunk(
                json!({"tool_calls": [{"id": "call_1", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
            ),
            chunk(
                json!({"tool_calls": [{"id": "call_2", "function": {"name": "exec_command", "arguments": "{\"cmd\":"}}]}),
            ),
            chunk(json!({"tool_calls": [{"function": {"arguments": "\"pwd\"}"}}]})),
            finish_chunk("tool_calls"),
        ],
    );
    let output = &events
        .last()
        .map(|event| event["response"]["output"].clone());
    assert_eq!(
        output,
        &Some(json!([
            {"type": "function_call", "id": "fc_7_0", "call_id": "call_1", "name": "exec_command",
             "arguments": "{\"cmd\":\"ls\"}", "status": "completed"},
            {"type": "function_call", "id": "fc_7_1", "call_id": "call_2", "name": "exec_command",
             "arguments": "{\"cmd\":\"pwd\"}", "status": "completed"},
        ]))
    );
}

// ----- Errors and usage ------------------------------------------------------------------------

#[test]
fn error_bodies_take_openai_types_for_each_status() {
    let cases = [
        (400, "invalid_request_error", Value::Null),
        (401, "authentication_error", json!("invalid_api_key")),
        (403, "permission_error", Value::Null),
        (404, "not_found_error", Value::Null),
        (413, "invalid_request_error", Value::Null),
        (429, "requests", json!("rate_limit_exceeded")),
        (500, "server_error", Value::Null),
        (503, "server_error", Value::Null),
    ];
    for (status, kind, code) in cases {
        assert_eq!(
            error_body(status, "what went wrong"),
            json!({"error": {"message": "what went wrong", "type": kind, "param": null, "code": code}}),
            "{status}"
        );
    }
}

#[test]
fn usage_is_read_from_a_passed_through_response_and_its_final_events() {
    let finished = json!({"id": "resp_1", "usage": usage(100, 20, 60)});
    let expected = ReportedUsage {
        prompt_tokens: Some(100),
        completion_tokens: Some(20),
        cached_tokens: Some(60),
    };
    assert_eq!(usage_of_response(&finished), expected);
    assert_eq!(
        usage_of_response(&json!({"id": "resp_1"})),
        ReportedUsage::default()
    );
    for kind in ["response.completed", "response.incomplete"] {
        assert_eq!(
            usage_of_event(&json!({"type": kind, "response": finished})),
            Some(expected)
        );
    }
    assert_eq!(
        usage_of_event(
            &json!({"type": "response.completed", "response": {"id": "resp_1", "usage": null}})
        ),
        None
    );
    assert_eq!(
        usage_of_event(&json!({"type": "response.output_text.delta", "delta": "hi"})),
        None
    );
}
