//! Server-wide behaviour: the request log, in-flight counts, the info endpoints of
//! llama-server/OpenAI/Ollama, runtime changes, and the blocking variant.

use baton_test_support::{Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{client, raw_http, split_response};

async fn get_json(url: String) -> (u16, Value) {
    let response = client().get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn urls_point_at_loopback_without_a_trailing_slash() {
    let server = ScriptedServer::start(Script::new()).await.expect("server");
    let base = server.base_url();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(!base.ends_with('/'));
    assert_eq!(server.openai_url(), format!("{base}/v1"));
    assert_ne!(server.addr().port(), 0);
}

#[tokio::test]
async fn requests_are_recorded_in_order_with_method_path_headers_and_body() {
    let server = ScriptedServer::start(Script::new()).await.expect("server");
    let http = client();
    http.get(format!("{}/health", server.base_url()))
        .send()
        .await
        .expect("health");
    http.post(format!("{}/chat/completions?x=1", server.openai_url()))
        .header("authorization", "Bearer sk-test")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("chat");
    http.post(format!("{}/api/show", server.base_url()))
        .body("not json")
        .send()
        .await
        .expect("show");
    let not_found = http
        .get(format!("{}/nowhere", server.base_url()))
        .send()
        .await
        .expect("unknown path");
    assert_eq!(not_found.status(), 404);

    let requests = server.requests();
    let summary: Vec<(&str, &str)> = requests
        .iter()
        .map(|request| (request.method.as_str(), request.path.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("GET", "/health"),
            ("POST", "/v1/chat/completions"),
            ("POST", "/api/show"),
            ("GET", "/nowhere"),
        ]
    );
    let chat = &requests[1];
    assert!(chat.is_chat());
    assert_eq!(chat.header("Authorization"), Some("Bearer sk-test"));
    assert_eq!(
        chat.body,
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    );
    assert_eq!(requests[0].body, Value::Null);
    assert_eq!(requests[2].body, Value::Null);
    assert_eq!(server.request_count(), 4);
}

#[tokio::test]
async fn unrecorded_servers_still_count_requests() {
    let server = ScriptedServer::start(Script::new().record_requests(false))
        .await
        .expect("server");
    client()
        .get(format!("{}/health", server.base_url()))
        .send()
        .await
        .expect("health");
    assert_eq!(server.requests(), Vec::new());
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn max_in_flight_counts_chat_requests_served_at_once() {
    let server = ScriptedServer::start(Script::always(Reply::HangBeforeFirstToken))
        .await
        .expect("server");
    let http = client();
    let url = format!("{}/chat/completions", server.openai_url());
    // `send` returns once the headers arrive, and the reply then holds its stream open, so
    // all three are in flight together when the last `send` returns.
    let mut open = Vec::new();
    for _ in 0..3 {
        let response = http
            .post(&url)
            .json(&json!({"stream": true}))
            .send()
            .await
            .expect("headers");
        open.push(response);
    }
    // Info requests are not chat requests.
    http.get(format!("{}/v1/models", server.openai_url()))
        .send()
        .await
        .expect("models");
    assert_eq!(server.in_flight(), 3);
    assert_eq!(server.max_in_flight(), 3);
}

#[tokio::test]
async fn sequential_chat_requests_never_count_as_concurrent() {
    let server = ScriptedServer::start(Script::new()).await.expect("server");
    for _ in 0..3 {
        client()
            .post(format!("{}/chat/completions", server.openai_url()))
            .json(&json!({"stream": true}))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
    }
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test]
async fn health_reports_loading_model_until_set_healthy() {
    let server = ScriptedServer::start(Script::new().health(false))
        .await
        .expect("server");
    let url = format!("{}/health", server.base_url());
    let (status, body) = get_json(url.clone()).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["message"], "Loading model");
    assert_eq!(body["error"]["code"], 503);

    server.set_health(true);
    assert_eq!(get_json(url).await, (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn props_and_models_report_n_ctx_like_llama_server() {
    let script = Script::new()
        .n_ctx(8192)
        .total_slots(4)
        .models(["coder.gguf", "other"]);
    let server = ScriptedServer::start(script).await.expect("server");

    let (status, props) = get_json(format!("{}/props", server.base_url())).await;
    assert_eq!(status, 200);
    assert_eq!(props["default_generation_settings"]["n_ctx"], 8192);
    assert_eq!(props["total_slots"], 4);

    let (status, models) = get_json(format!("{}/models", server.openai_url())).await;
    assert_eq!(status, 200);
    assert_eq!(models["object"], "list");
    let data = models["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["id"], "coder.gguf");
    assert_eq!(data[0]["object"], "model");
    assert_eq!(data[0]["owned_by"], "scripted");
    assert_eq!(data[0]["meta"], json!({"n_ctx": 8192}));
    assert_eq!(data[1]["id"], "other");
}

#[tokio::test]
async fn servers_without_n_ctx_have_no_props_and_no_model_meta() {
    let server = ScriptedServer::start(Script::new()).await.expect("server");
    let (status, _) = get_json(format!("{}/props", server.base_url())).await;
    assert_eq!(status, 404);
    let (_, models) = get_json(format!("{}/models", server.openai_url())).await;
    assert_eq!(models["data"][0].get("meta"), None);
}

#[tokio::test]
async fn ollama_show_reports_num_ctx_and_context_length() {
    let server = ScriptedServer::start(Script::new().n_ctx(4096))
        .await
        .expect("server");
    let response = client()
        .post(format!("{}/api/show", server.base_url()))
        .json(&json!({"model": "qwen2.5-coder"}))
        .send()
        .await
        .expect("show");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({
            "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
            "parameters": "num_ctx 4096"
        })
    );
}

#[tokio::test]
async fn push_reply_queues_a_reply_behind_the_script() {
    let server = ScriptedServer::start(Script::new().then(Reply::text("one")))
        .await
        .expect("server");
    server.push_reply(Reply::error(400, "bad"));
    let url = format!("{}/chat/completions", server.openai_url());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = client()
            .post(&url)
            .json(&json!({}))
            .send()
            .await
            .expect("chat");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 400, 200]);
}

#[test]
fn blocking_server_serves_sync_callers_from_its_own_runtime_thread() {
    let server =
        ScriptedServer::start_blocking(Script::always(Reply::text("sync"))).expect("server");
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.openai_url(), format!("{}/v1", server.base_url()));

    let response = raw_http(server.addr(), "POST", "/v1/chat/completions", "{}");
    let (head, body) = split_response(&response);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let object: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(object["choices"][0]["message"]["content"], "sync");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, json!({}));
    assert_eq!(server.request_count(), 1);
    assert_eq!(server.max_in_flight(), 1);
    server.shutdown().expect("clean shutdown");
}

#[test]
fn blocking_server_shuts_down_on_drop_even_with_a_hung_request() {
    let server = ScriptedServer::start_blocking(Script::always(Reply::HangBeforeFirstToken))
        .expect("server");
    let addr = server.addr();
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    crate::common::raw_send(
        &mut stream,
        "POST",
        "/v1/chat/completions",
        r#"{"stream":true}"#,
    );
    // Reading the head proves the request is in; then drop must still return.
    let mut head = [0_u8; 12];
    std::io::Read::read_exact(&mut stream, &mut head).expect("status line");
    assert_eq!(&head, b"HTTP/1.1 200");
    drop(server);
    let rest = crate::common::read_until_closed(&mut stream);
    assert!(!String::from_utf8_lossy(&rest).contains("data:"));
}

#[tokio::test]
async fn blocking_server_can_run_beside_an_async_test_runtime() {
    let server = ScriptedServer::start_blocking(Script::new()).expect("server");
    let (status, _) = get_json(format!("{}/health", server.base_url())).await;
    assert_eq!(status, 200);
    drop(server);
}

#[tokio::test]
async fn a_routed_reply_goes_to_the_request_that_asks_for_it_and_others_take_the_queue() {
    let script = Script::new()
        .default(Reply::text("default"))
        .when("Subtask s1:", Reply::text("one"))
        .when("Subtask s0:", Reply::text("zero"))
        .then(Reply::text("queued"));
    let server = ScriptedServer::start(script.record_requests(false))
        .await
        .expect("server");
    let http = client();
    let mut replies = Vec::new();
    for content in [
        "Subtask s0: write m0.py",
        "Subtask s1: x",
        "Subtask s0: again",
        "other",
        "other",
    ] {
        let body: Value = http
            .post(format!("{}/chat/completions", server.openai_url()))
            .json(&json!({"model": "m", "messages": [{"role": "user", "content": content}]}))
            .send()
            .await
            .expect("chat")
            .json()
            .await
            .expect("json");
        replies.push(
            body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    assert_eq!(replies, ["zero", "one", "queued", "default", "default"]);
    server.shutdown().await.expect("shutdown");
}
