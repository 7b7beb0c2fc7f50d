use pretty_assertions::assert_eq;
use serde_json::{Value, json};

#[allow(unused_imports, reason = "the shared helpers, each file uses some")]
use super::tests::*;
use super::*;

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
