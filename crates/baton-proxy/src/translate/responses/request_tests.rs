use pretty_assertions::assert_eq;
use serde_json::{Value, json};

#[allow(unused_imports, reason = "the shared helpers, each file uses some")]
use super::tests::*;

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

pub(super) fn update_plan_parameters() -> Value {
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
