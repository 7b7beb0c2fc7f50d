//! `baton proxy`: the real binary serving the three dialects on loopback, against scripted
//! backends (exact replies: tool calls, failures, hangs) on loopback; what each backend
//! received is checked as well as what the client got, and the ledger after every answer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use baton_test_support::{LoopEnd, RawEvent, Reply, Script, ScriptedServer};
use serde_json::{Value, json};

use crate::support::Sandbox;

/// A running `baton proxy`, stopped with SIGTERM when dropped.
struct Proxy {
    child: Child,
    base: String,
    /// Kept open: the proxy's later lines would meet a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Proxy {
    fn start(sandbox: &Sandbox) -> Proxy {
        let log = std::fs::File::create(sandbox.path().join("proxy.log")).unwrap();
        let mut child = sandbox
            .command(&["proxy", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("http://127.0.0.1:"),
            "first line: {line:?}"
        );
        Proxy {
            child,
            base: line.trim().to_owned(),
            _stdout: stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    baton_llm::init_tls();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The events of a finished stream: `(event name, data)`.
async fn events(response: reqwest::Response) -> Vec<(Option<String>, String)> {
    let text = response.text().await.unwrap();
    let mut events = Vec::new();
    for block in text.split("\n\n").filter(|block| !block.trim().is_empty()) {
        let mut name = None;
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event: ") {
                name = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("data: ") {
                data.push(value);
            }
        }
        events.push((name, data.join("\n")));
    }
    events
}

fn json_of(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or(Value::Null)
}

/// The chat requests a backend received.
fn chats(server: &ScriptedServer) -> Vec<baton_test_support::RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.is_chat())
        .collect()
}

/// A chat chunk stream that calls `Write` with `{"file_path": "hello.py"}`.
fn tool_call_stream() -> Reply {
    let chunk = |delta: Value, finish: Value| {
        RawEvent::data(
            json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] }),
        )
    };
    Reply::Events {
        events: vec![
            chunk(json!({ "role": "assistant" }), Value::Null),
            chunk(
                json!({ "tool_calls": [{ "index": 0, "id": "call_1", "type": "function",
                    "function": { "name": "Write", "arguments": "" } }] }),
                Value::Null,
            ),
            chunk(
                json!({ "tool_calls": [{ "index": 0, "function": { "arguments": "{\"file_path\": \"hello.py\"}" } }] }),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            RawEvent::data(
                json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m",
                "choices": [], "usage": { "prompt_tokens": 120, "completion_tokens": 9 } }),
            ),
            RawEvent::data("[DONE]"),
        ],
        chunk_delay_ms: 0,
    }
}

fn write_tool() -> Value {
    json!({ "name": "Write", "description": "Write a file",
        "input_schema": { "type": "object", "properties": { "file_path": { "type": "string" } } } })
}

#[tokio::test]
async fn a_chat_client_streams_from_the_local_model_and_the_call_is_in_the_ledger() {
    let upstream =
        ScriptedServer::start(Script::always(Reply::text("hello from local")).n_ctx(8192))
            .await
            .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    let proxy = Proxy::start(&sandbox);
    let response = client()
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth("sk-client-key")
        .json(&json!({ "model": "gpt-4o", "stream": true,
            "messages": [{ "role": "user", "content": "say hello" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = events(response).await;
    let text: String = events
        .iter()
        .filter_map(|(_, data)| {
            json_of(data)["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "hello from local");
    assert_eq!(events.last().unwrap().1, "[DONE]");
    assert!(
        events.iter().all(|(_, data)| !data.contains("\"usage\":{")),
        "the client asked for no usage chunk: {events:?}"
    );

    let sent = chats(&upstream);
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    assert_eq!(
        body["model"], "qwen3-coder",
        "the profile's model, not the client's name"
    );
    assert_eq!(
        body["temperature"],
        json!(0.2),
        "the profile's temperature where the client sent none"
    );
    assert_eq!(body["stream_options"]["include_usage"], json!(true));
    assert!(
        sent[0].header("authorization").is_none(),
        "the client's key never goes on"
    );

    let calls = sandbox.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].backend, "local");
    assert_eq!(calls[0].outcome, baton_core::CallOutcome::Ok);
    assert_eq!(calls[0].usage.prompt_tokens, 10, "the server's own count");
    assert!(!calls[0].usage.estimated);
}

#[tokio::test]
async fn a_messages_client_gets_real_tool_use_from_a_chat_only_backend() {
    let upstream = ScriptedServer::start(Script::always(tool_call_stream()).n_ctx(8192))
        .await
        .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    let proxy = Proxy::start(&sandbox);
    let response = client()
        .post(proxy.url("/v1/messages"))
        .header("x-api-key", "sk-ant-client")
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({ "model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
            "system": [{ "type": "text", "text": "You are Claude Code." }],
            "tools": [write_tool()],
            "messages": [{ "role": "user", "content": "write hello.py" }] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = events(response).await;
    let names: Vec<&str> = events
        .iter()
        .filter_map(|(name, _)| name.as_deref())
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let start = events
        .iter()
        .map(|(_, data)| json_of(data))
        .find(|data| data["type"] == "content_block_start")
        .unwrap();
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "Write");
    let input: String = events
        .iter()
        .map(|(_, data)| json_of(data))
        .filter_map(|data| data["delta"]["partial_json"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(json_of(&input), json!({ "file_path": "hello.py" }));
    let delta = events
        .iter()
        .map(|(_, data)| json_of(data))
        .find(|data| data["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");

    let body = &chats(&upstream)[0].body;
    assert_eq!(
        body["messages"][0],
        json!({ "role": "system", "content": "You are Claude Code." })
    );
    assert_eq!(body["tools"][0]["function"]["name"], "Write");
    assert!(
        body["max_tokens"].as_u64().unwrap() <= 4096,
        "32000 capped at the profile's max_tokens: {}",
        body["max_tokens"]
    );
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].usage.prompt_tokens, 120);
}

#[tokio::test]
async fn a_tool_call_the_model_wrote_as_fenced_json_reaches_the_client_as_a_tool_call() {
    let written = "```json\n{\"name\": \"Write\", \"arguments\": {\"file_path\": \"hello.py\", \"content\": \"print('hi')\"}}\n```";
    let upstream = ScriptedServer::start(Script::always(Reply::text(written)).n_ctx(8192))
        .await
        .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    let proxy = Proxy::start(&sandbox);
    let response = client()
        .post(proxy.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({ "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
            "tools": [write_tool()],
            "messages": [{ "role": "user", "content": "write hello.py" }] }),
        )
        .send()
        .await
        .unwrap();
    let events: Vec<Value> = events(response)
        .await
        .iter()
        .map(|(_, data)| json_of(data))
        .collect();
    let blocks: Vec<&Value> = events
        .iter()
        .filter(|data| data["type"] == "content_block_start")
        .map(|data| &data["content_block"])
        .collect();
    assert_eq!(
        blocks.len(),
        1,
        "one tool_use block and no text: {events:?}"
    );
    assert_eq!(blocks[0]["type"], "tool_use");
    assert_eq!(blocks[0]["name"], "Write");
    let input: String = events
        .iter()
        .filter_map(|data| data["delta"]["partial_json"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(json_of(&input)["file_path"], "hello.py");
    let delta = events
        .iter()
        .find(|data| data["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn a_backend_that_speaks_messages_gets_the_request_passed_through_untouched() {
    let upstream =
        ScriptedServer::start(Script::always(Reply::anthropic_text("passed")).n_ctx(8192))
            .await
            .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    sandbox.write(
        "baton.toml",
        "[backends.local]\ndialects = [\"messages\"]\n",
    );
    let proxy = Proxy::start(&sandbox);
    let request = json!({ "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
        "temperature": 0.5, "metadata": { "user_id": "u1" }, "some_future_field": { "x": 1 },
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": "hi", "cache_control": { "type": "ephemeral" } }] }] });
    let response = client()
        .post(proxy.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(&request)
        .send()
        .await
        .unwrap();
    let events = events(response).await;
    let text: String = events
        .iter()
        .filter_map(|(_, data)| json_of(data)["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "passed");
    let sent = chats(&upstream);
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(
        sent[0].header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    let mut expected = request.clone();
    expected["model"] = json!("qwen3-coder");
    assert_eq!(sent[0].body, expected, "only the model name changes");
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].usage.prompt_tokens, 10,
        "read from the passed-through events"
    );
}

#[tokio::test]
async fn a_responses_client_is_served_by_a_chat_backend_with_its_function_calls() {
    let upstream = ScriptedServer::start(Script::always(tool_call_stream()).n_ctx(8192))
        .await
        .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    let proxy = Proxy::start(&sandbox);
    let response = client()
        .post(proxy.url("/v1/responses"))
        .bearer_auth("codex-key")
        .json(&json!({ "model": "gpt-5-codex", "stream": true, "store": false,
            "instructions": "You are Codex.",
            "input": [{ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "write hello.py" }] }],
            "tools": [{ "type": "function", "name": "Write", "description": "Write a file",
                "parameters": { "type": "object", "properties": { "file_path": { "type": "string" } } } }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events: Vec<Value> = events(response)
        .await
        .iter()
        .map(|(_, data)| json_of(data))
        .collect();
    let completed = events
        .iter()
        .find(|data| data["type"] == "response.completed")
        .unwrap();
    let call = completed["response"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "function_call")
        .unwrap();
    assert_eq!(call["name"], "Write");
    assert_eq!(
        json_of(call["arguments"].as_str().unwrap()),
        json!({ "file_path": "hello.py" })
    );
    assert_eq!(completed["response"]["usage"]["input_tokens"], 120);
    let body = &chats(&upstream)[0].body;
    assert_eq!(
        body["messages"][0],
        json!({ "role": "system", "content": "You are Codex." })
    );
    assert_eq!(body["tools"][0]["function"]["name"], "Write");
}

#[tokio::test]
async fn a_failing_local_backend_falls_back_to_the_anthropic_cloud_across_dialects() {
    let local = ScriptedServer::start(Script::always(Reply::error(500, "boom")).n_ctx(8192))
        .await
        .unwrap();
    let cloud = ScriptedServer::start(Script::always(Reply::anthropic_text("from the cloud")))
        .await
        .unwrap();
    let sandbox = Sandbox::new()
        .coder_url(&local.openai_url())
        .var("BATON_TEST_CLOUD_KEY", "sk-ant-secret-1234");
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.local]\nretries = 0\n\n[backends.cloud]\nkind = \"anthropic\"\nurls = [\"{}/v1\"]\nlocality = \"cloud\"\napi_key_env = \"BATON_TEST_CLOUD_KEY\"\nretries = 0\nprice_per_mtok = {{ input = 3.0, output = 15.0 }}\n\n[profiles.code]\nfallback = [\"cloud:claude-sonnet-4-5\"]\n",
            cloud.base_url()
        ),
    );
    let proxy = Proxy::start(&sandbox);
    let response = client()
        .post(proxy.url("/v1/chat/completions"))
        .json(&json!({ "model": "gpt-4o", "stream": true,
            "messages": [{ "role": "system", "content": "Be brief." }, { "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = events(response).await;
    let text: String = events
        .iter()
        .filter_map(|(_, data)| {
            json_of(data)["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "from the cloud");
    assert_eq!(events.last().unwrap().1, "[DONE]");

    let sent = chats(&cloud);
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].header("x-api-key"), Some("sk-ant-secret-1234"));
    assert_eq!(sent[0].body["system"], "Be brief.");
    assert_eq!(sent[0].body["model"], "claude-sonnet-4-5");

    let calls = sandbox.calls();
    let outcomes: Vec<(&str, baton_core::CallOutcome)> = calls
        .iter()
        .map(|call| (call.backend.as_str(), call.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("local", baton_core::CallOutcome::Error),
            ("cloud", baton_core::CallOutcome::Ok)
        ]
    );
    assert!(calls[1].cost_usd > 0.0);
    let log = std::fs::read_to_string(sandbox.path().join("proxy.log")).unwrap();
    let ledger = format!("{calls:?}");
    for place in [&log, &ledger] {
        assert!(
            !place.contains("sk-ant-secret-1234"),
            "the key leaked: {place}"
        );
    }
}

#[tokio::test]
async fn a_prompt_that_cannot_fit_the_servers_slot_is_refused_in_the_clients_error_shape() {
    let upstream = ScriptedServer::start(Script::always(Reply::text("never")).n_ctx(512))
        .await
        .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    let proxy = Proxy::start(&sandbox);
    let response = client()
        .post(proxy.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({ "model": "claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{ "role": "user", "content": "word ".repeat(3000) }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("prompt is too long"), "{message}");
    assert!(message.contains("512"), "{message}");
    assert!(chats(&upstream).is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_backends_request_and_the_attempt_is_recorded() {
    let looping = Reply::Loop {
        head: vec!["start ".into()],
        cycle: vec!["and again ".into()],
        chunk_delay_ms: 20,
    };
    let upstream = ScriptedServer::start(Script::always(looping).n_ctx(8192))
        .await
        .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    sandbox.write("baton.toml", "[proxy.local]\ncut_repetition = false\n");
    let proxy = Proxy::start(&sandbox);
    let mut response = client()
        .post(proxy.url("/v1/chat/completions"))
        .json(&json!({ "model": "m", "stream": true, "messages": [{ "role": "user", "content": "go" }] }))
        .send()
        .await
        .unwrap();
    assert!(response.chunk().await.unwrap().is_some());
    drop(response);
    let reports = upstream.wait_for_loop_reports(1).await;
    assert_eq!(reports[0].ended, LoopEnd::ClientLeft);
    // The proxy records the attempt once it has seen the client go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let calls = loop {
        let calls = sandbox.calls();
        if !calls.is_empty() || std::time::Instant::now() > deadline {
            break calls;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].error.as_deref(),
        Some(baton_proxy::ledger::CANCELLED)
    );
}

#[tokio::test]
async fn head_answers_and_the_models_list_reports_the_context_each_slot_really_serves() {
    let upstream = ScriptedServer::start(Script::always(Reply::text("x")).n_ctx(6144))
        .await
        .unwrap();
    let sandbox = Sandbox::new().coder_url(&upstream.openai_url());
    sandbox.write(
        "baton.toml",
        "[proxy.models]\n\"claude-sonnet-4-5\" = \"code\"\n",
    );
    let proxy = Proxy::start(&sandbox);
    let head = client().head(proxy.url("/")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let models: Value = client()
        .get(proxy.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["id"] == "claude-sonnet-4-5")
        .unwrap();
    assert_eq!(entry["context_length"], 6144);
    let missing = client()
        .post(proxy.url("/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/messages")
    );
}
