//! Fault replies: statuses, hangs (before headers, before the first token), cut and malformed
//! streams, service delays, and a shutdown that ends them all instead of waiting on them.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use baton_test_support::{Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{client, raw_http, raw_send, read_until_closed, split_response, sse_events};

/// How long a client waits before calling a reply hung. Short, since the replies under test
/// never answer; not a synchronisation sleep.
const CLIENT_PATIENCE: Duration = Duration::from_millis(200);

/// A bound on anything that should finish promptly, so a regression fails instead of hanging.
const PROMPTLY: Duration = Duration::from_secs(10);

fn chat_url(server: &ScriptedServer) -> String {
    format!("{}/chat/completions", server.openai_url())
}

/// POSTs `body` to the chat endpoint; returns once the response headers are in.
async fn post_chat(server: &ScriptedServer, body: Value) -> reqwest::Response {
    client()
        .post(chat_url(server))
        .json(&body)
        .send()
        .await
        .expect("the response headers arrive")
}

async fn start(reply: Reply) -> ScriptedServer {
    ScriptedServer::start(Script::always(reply))
        .await
        .expect("server")
}

#[tokio::test]
async fn status_reply_sends_its_code_json_body_and_retry_after() {
    let server = start(Reply::rate_limited(2)).await;
    let response = post_chat(&server, json!({"stream": true})).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], 429);
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn status_reply_sends_its_body_verbatim_and_no_retry_after_unless_given() {
    let server = start(Reply::status(503, r#"{"error":"busy"}"#)).await;
    let response = post_chat(&server, json!({})).await;
    assert_eq!(response.status(), 503);
    assert!(!response.headers().contains_key("retry-after"));
    assert_eq!(response.text().await.expect("body"), r#"{"error":"busy"}"#);
}

#[tokio::test]
async fn hang_before_headers_times_out_a_client_waiting_for_headers() {
    let server = start(Reply::HangBeforeHeaders).await;
    let error = client()
        .post(chat_url(&server))
        .json(&json!({"stream": true}))
        .timeout(CLIENT_PATIENCE)
        .send()
        .await
        .expect_err("no response may arrive");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn hang_before_headers_closes_the_connection_without_a_byte_at_shutdown() {
    let server = start(Reply::HangBeforeHeaders).await;
    let addr = server.addr();
    let reader = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PROMPTLY)).expect("timeout");
        raw_send(&mut stream, "POST", "/v1/chat/completions", "{}");
        let started = Instant::now();
        (read_until_closed(&mut stream), started.elapsed())
    });
    server.wait_for_requests(1).await;
    tokio::time::timeout(PROMPTLY, server.shutdown())
        .await
        .expect("shutdown must not wait on the hung reply")
        .expect("clean shutdown");
    let (received, waited) = reader.join().expect("reader");
    assert_eq!(String::from_utf8_lossy(&received), "");
    assert!(
        waited < PROMPTLY,
        "the connection was not closed: {waited:?}"
    );
}

#[tokio::test]
async fn hang_before_first_token_sends_sse_headers_then_nothing() {
    let server = start(Reply::HangBeforeFirstToken).await;
    let mut response = post_chat(&server, json!({"stream": true})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let waited = tokio::time::timeout(CLIENT_PATIENCE, response.chunk()).await;
    assert!(waited.is_err(), "a chunk arrived: {waited:?}");
    assert_eq!(server.in_flight(), 1);

    tokio::time::timeout(PROMPTLY, server.shutdown())
        .await
        .expect("shutdown must not wait on the hung stream")
        .expect("clean shutdown");
    let after = tokio::time::timeout(PROMPTLY, response.chunk())
        .await
        .expect("the stream ends at shutdown");
    assert!(
        after.is_err(),
        "the stream must break, not end cleanly: {after:?}"
    );
}

#[tokio::test]
async fn cut_midway_stream_ends_without_done_marker() {
    let server = start(Reply::cut_midway(["par", "tial"])).await;
    let mut response = post_chat(&server, json!({"stream": true})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut received = Vec::new();
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    assert!(outcome.is_err(), "the body must break off, not end");
    let text = String::from_utf8_lossy(&received);
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(!text.contains("finish_reason\":\"stop"), "{text}");
    let content: String = sse_events(&text)
        .iter()
        .map(|event| {
            event.json()["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(content, "partial");
}

#[tokio::test]
async fn cut_midway_leaves_the_chunked_body_unterminated() {
    let server = start(Reply::cut_midway(["par", "tial"])).await;
    let addr = server.addr();
    let response = tokio::task::spawn_blocking(move || {
        raw_http(addr, "POST", "/v1/chat/completions", r#"{"stream":true}"#)
    })
    .await
    .expect("reader");
    let (head, body) = split_response(&response);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(body.contains("\"content\":\"tial\""), "{body}");
    // The last chunk of a complete chunked body is `0\r\n\r\n`; an aborted one lacks it.
    assert!(!body.ends_with("0\r\n\r\n"), "{body:?}");
}

#[tokio::test]
async fn cut_midway_for_a_non_streaming_request_breaks_off_mid_object() {
    let server = start(Reply::cut_midway(["whole", " text"])).await;
    let response = post_chat(&server, json!({})).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.bytes().await.is_err());
}

#[tokio::test]
async fn malformed_sse_sends_unparseable_data_then_done() {
    let server = start(Reply::MalformedSse).await;
    let response = post_chat(&server, json!({"stream": true})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_events(&response.text().await.expect("a complete body"));
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(serde_json::from_str::<Value>(&events[0].data).is_err());
    assert_eq!(events[1].data, "[DONE]");
}

#[tokio::test]
async fn delay_holds_the_reply_for_its_service_time() {
    const SERVICE_TIME: Duration = Duration::from_millis(200);
    let server = start(Reply::delayed(200, Reply::text("late"))).await;
    let started = Instant::now();
    let response = post_chat(&server, json!({})).await;
    assert!(started.elapsed() >= SERVICE_TIME, "{:?}", started.elapsed());
    let object: Value = response.json().await.expect("JSON");
    assert_eq!(object["choices"][0]["message"]["content"], "late");
}

#[tokio::test]
async fn shutdown_ends_slow_streams_instead_of_waiting_for_them() {
    // A minute between chunks: only the shutdown signal can end this stream in time.
    let server = start(Reply::text("abc").with_delays(0, 60_000)).await;
    let mut response = post_chat(&server, json!({"stream": true})).await;
    let first = response.chunk().await.expect("read").expect("first chunk");
    assert!(String::from_utf8_lossy(&first).contains("\"content\":\"a\""));
    tokio::time::timeout(PROMPTLY, server.shutdown())
        .await
        .expect("shutdown must not wait a minute")
        .expect("clean shutdown");
    assert!(response.chunk().await.is_err());
}

#[tokio::test]
async fn dropping_the_server_releases_a_client_stuck_before_headers() {
    let server = start(Reply::HangBeforeHeaders).await;
    let url = chat_url(&server);
    let request = tokio::spawn(async move { client().post(url).json(&json!({})).send().await });
    server.wait_for_requests(1).await;
    drop(server);
    let result = tokio::time::timeout(PROMPTLY, request)
        .await
        .expect("the client is released")
        .expect("task");
    assert!(result.is_err(), "no response may arrive: {result:?}");
}

#[tokio::test]
async fn hung_replies_are_released_when_the_client_goes_away() {
    for reply in [Reply::HangBeforeHeaders, Reply::HangBeforeFirstToken] {
        let server = start(reply.clone()).await;
        let mut stream = tokio::net::TcpStream::connect(server.addr())
            .await
            .expect("connect");
        let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                       Content-Length: 15\r\n\r\n{\"stream\":true}";
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .expect("send");
        server.wait_for_requests(1).await;
        server.wait_for_in_flight(|count| count == 1).await;
        drop(stream);
        tokio::time::timeout(PROMPTLY, server.wait_for_in_flight(|count| count == 0))
            .await
            .unwrap_or_else(|_| panic!("{reply:?} kept serving a client that left"));
    }
}
