//! Anthropic Messages replies: the event sequence of a stream, the whole `message` object, and
//! the same script content written in either dialect.

use baton_test_support::{Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{SseEvent, client, sse_events};

async fn post_messages(server: &ScriptedServer, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", "test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn stream_events(server: &ScriptedServer) -> Vec<SseEvent> {
    let response = post_messages(
        server,
        json!({"model": "claude-test", "max_tokens": 100, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    sse_events(&response.text().await.expect("body"))
}

fn names(events: &[SseEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event.name.as_deref().unwrap_or("<none>"))
        .collect()
}

#[tokio::test]
async fn anthropic_stream_sends_the_messages_event_sequence() {
    let reply = Reply::AnthropicStream {
        chunks: vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
        input_tokens: 12,
        output_tokens: 3,
        first_delay_ms: 0,
        chunk_delay_ms: 0,
    };
    let server = ScriptedServer::start(Script::always(reply))
        .await
        .expect("server");
    let events = stream_events(&server).await;
    assert_eq!(
        names(&events),
        vec![
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    // Each data object's `type` repeats its event name.
    for event in &events {
        assert_eq!(event.json()["type"], event.name.clone().expect("named"));
    }
    let start = events[0].json();
    assert_eq!(start["message"]["model"], "claude-test");
    assert_eq!(start["message"]["role"], "assistant");
    assert_eq!(
        start["message"]["usage"],
        json!({"input_tokens": 12, "output_tokens": 1})
    );
    assert_eq!(
        events[3].json(),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}})
    );
    let delta = events[7].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"], json!({"output_tokens": 3}));
}

#[tokio::test]
async fn anthropic_request_without_stream_gets_a_message_object() {
    let server = ScriptedServer::start(Script::always(Reply::anthropic_text("Hello there")))
        .await
        .expect("server");
    let response = post_messages(&server, json!({"model": "claude-test", "messages": []})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let message: Value = response.json().await.expect("JSON");
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(
        message["usage"],
        json!({"input_tokens": 10, "output_tokens": 3})
    );
}

#[tokio::test]
async fn openai_text_reply_on_the_messages_endpoint_is_written_as_anthropic_events() {
    let server = ScriptedServer::start(Script::always(Reply::text("abc")))
        .await
        .expect("server");
    let events = stream_events(&server).await;
    assert_eq!(
        events.first().and_then(|e| e.name.as_deref()),
        Some("message_start")
    );
    assert_eq!(
        events.last().and_then(|e| e.name.as_deref()),
        Some("message_stop")
    );
    let text: String = events
        .iter()
        .filter(|event| event.name.as_deref() == Some("content_block_delta"))
        .map(|event| {
            event.json()["delta"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(text, "abc");
}

#[tokio::test]
async fn anthropic_reply_on_chat_completions_is_written_as_openai_chunks() {
    let server = ScriptedServer::start(Script::always(Reply::anthropic_text("xyz")))
        .await
        .expect("server");
    let response = client()
        .post(format!("{}/chat/completions", server.openai_url()))
        .json(&json!({"stream": true, "stream_options": {"include_usage": true}}))
        .send()
        .await
        .expect("request");
    let text = response.text().await.expect("body");
    assert!(text.ends_with("data: [DONE]\n\n"));
    let events = sse_events(&text);
    let usage = &events[events.len() - 2].json()["usage"];
    assert_eq!(
        usage,
        &json!({"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11})
    );
}

#[tokio::test]
async fn malformed_sse_on_the_messages_endpoint_has_a_data_line_that_is_not_json() {
    let server = ScriptedServer::start(Script::always(Reply::MalformedSse))
        .await
        .expect("server");
    let response = post_messages(&server, json!({"stream": true})).await;
    assert_eq!(response.status(), 200);
    let events = sse_events(&response.text().await.expect("body"));
    assert_eq!(names(&events), vec!["content_block_delta", "message_stop"]);
    assert!(serde_json::from_str::<Value>(&events[0].data).is_err());
}
