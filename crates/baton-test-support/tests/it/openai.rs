//! OpenAI chat-completions replies: stream framing, the include_usage rule, whole objects for
//! non-streaming requests, and the order in which a script's replies are used.

use std::time::{Duration, Instant};

use baton_test_support::{Reply, Script, ScriptedServer, UsageSpec};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{SseEvent, client, sse_events};

async fn post_chat(server: &ScriptedServer, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", server.openai_url()))
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn stream_events(server: &ScriptedServer, body: Value) -> Vec<SseEvent> {
    let response = post_chat(server, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.expect("body");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    sse_events(&text)
}

#[tokio::test]
async fn openai_stream_sends_role_content_finish_and_done_events() {
    let server = ScriptedServer::start(Script::always(Reply::stream(["Hel", "lo"])))
        .await
        .expect("server");
    let events = stream_events(
        &server,
        json!({"model": "qwen", "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.iter().all(|event| event.name.is_none()));

    let first = events[0].json();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], "qwen");
    assert!(
        first["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert!(first["created"].as_u64().is_some());
    assert_eq!(
        first["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": null}])
    );
    assert_eq!(
        events[1].json()["choices"][0]["delta"],
        json!({"content": "lo"})
    );
    let finish = events[2].json();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    // No usage was asked for: no usage field anywhere.
    assert!(
        events[..3]
            .iter()
            .all(|event| event.json().get("usage").is_none())
    );
    assert_eq!(events[3].data, "[DONE]");
    // All chunks of one stream share its id.
    assert_eq!(events[2].json()["id"], first["id"]);
}

#[tokio::test]
async fn openai_stream_sends_usage_chunk_only_when_include_usage_is_requested() {
    let reply = Reply::OpenAiStream {
        chunks: vec!["a".to_owned()],
        usage: Some(UsageSpec::new(11, 4)),
        first_delay_ms: 0,
        chunk_delay_ms: 0,
    };
    let server = ScriptedServer::start(Script::always(reply))
        .await
        .expect("server");

    let asked = stream_events(
        &server,
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    assert_eq!(asked.len(), 4, "{asked:?}");
    let usage_chunk = asked[2].json();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15})
    );
    // The other chunks carry `"usage": null`, as OpenAI sends them.
    assert_eq!(asked[0].json()["usage"], Value::Null);
    assert!(asked[0].json().get("usage").is_some());

    let not_asked = stream_events(&server, json!({"stream": true})).await;
    assert_eq!(not_asked.len(), 3, "{not_asked:?}");
    assert!(not_asked.iter().all(|event| !event.data.contains("usage")));

    let declined = stream_events(
        &server,
        json!({"stream": true, "stream_options": {"include_usage": false}}),
    )
    .await;
    assert_eq!(declined.len(), 3, "{declined:?}");
}

#[tokio::test]
async fn openai_stream_without_usage_sends_no_usage_chunk_even_when_asked() {
    let reply = Reply::OpenAiStream {
        chunks: vec!["a".to_owned()],
        usage: None,
        first_delay_ms: 0,
        chunk_delay_ms: 0,
    };
    let server = ScriptedServer::start(Script::always(reply))
        .await
        .expect("server");
    let events = stream_events(
        &server,
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events
            .iter()
            .all(|event| !event.data.contains("total_tokens"))
    );
}

#[tokio::test]
async fn openai_request_without_stream_gets_a_chat_completion_object() {
    let server = ScriptedServer::start(Script::always(Reply::stream(["Hel", "lo"])))
        .await
        .expect("server");
    for body in [
        json!({"model": "m"}),
        json!({"model": "m", "stream": false}),
    ] {
        let response = post_chat(&server, body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers().contains_key("content-length"));
        let object: Value = response.json().await.expect("JSON");
        assert_eq!(object["object"], "chat.completion");
        assert_eq!(object["model"], "m");
        assert_eq!(
            object["choices"],
            json!([{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}])
        );
        assert_eq!(
            object["usage"],
            json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
        );
    }
}

#[tokio::test]
async fn script_replies_are_consumed_in_order_then_default_repeats() {
    let script = Script::new()
        .then(Reply::text("first"))
        .then(Reply::error(500, "boom"))
        .default(Reply::text("again"));
    let server = ScriptedServer::start(script).await.expect("server");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let response = post_chat(&server, json!({})).await;
        let status = response.status().as_u16();
        let object: Value = response.json().await.expect("JSON");
        let content = object["choices"][0]["message"]["content"].clone();
        seen.push((status, content));
    }
    assert_eq!(
        seen,
        vec![
            (200, json!("first")),
            (500, Value::Null),
            (200, json!("again")),
            (200, json!("again")),
        ]
    );
}

#[tokio::test]
async fn model_defaults_to_the_first_scripted_model_when_the_request_names_none() {
    let server = ScriptedServer::start(Script::new().models(["local-coder"]))
        .await
        .expect("server");
    let object: Value = post_chat(&server, json!({}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(object["model"], "local-coder");
}

#[tokio::test]
async fn first_delay_holds_back_the_first_chunk() {
    const FIRST_DELAY: Duration = Duration::from_millis(150);
    let reply = Reply::text("abc").with_delays(150, 0);
    let server = ScriptedServer::start(Script::always(reply))
        .await
        .expect("server");
    let started = Instant::now();
    let mut response = post_chat(&server, json!({"stream": true})).await;
    let first = response.chunk().await.expect("read").expect("a chunk");
    assert!(started.elapsed() >= FIRST_DELAY, "{:?}", started.elapsed());
    assert!(String::from_utf8_lossy(&first).contains("\"role\":\"assistant\""));
}
