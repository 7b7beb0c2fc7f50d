//! rmcp's own client against [`BatonMcp`] in the same process, over `tokio::io::duplex`.

use std::sync::Arc;

use baton_mcp::BatonMcp;
use baton_test_support::{Reply, Script, ScriptedServer};
use pretty_assertions::assert_eq;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::{ServiceExt, model::JsonObject};
use serde_json::{Value, json};

use crate::common::{Fixture, TOOL_NAMES, fixture, project};

struct Session {
    client: RunningService<RoleClient, ()>,
    server: tokio::task::JoinHandle<()>,
    project: Arc<baton_ops::Project>,
    _fixture: Fixture,
}

/// A session over the fixture's store, configured by `env`.
async fn connect_with(fixture: Fixture, env: &[(&str, &str)]) -> Session {
    let project = project(&fixture, env);
    let server = BatonMcp::new(Arc::clone(&project));
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let running = server.serve(server_io).await.unwrap();
        running.waiting().await.unwrap();
    });
    let client = ().serve(client_io).await.unwrap();
    Session {
        client,
        server,
        project,
        _fixture: fixture,
    }
}

async fn connect() -> Session {
    connect_with(fixture(), &[]).await
}

impl Session {
    async fn call(
        &self,
        tool: &'static str,
        arguments: Value,
    ) -> Result<CallToolResult, ServiceError> {
        let arguments: JsonObject = match arguments {
            Value::Object(map) => map,
            other => panic!("arguments must be an object, got {other}"),
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
            .await
    }

    /// Calls `tool` and returns its JSON reply, failing the test on an error result.
    async fn ok(&self, tool: &'static str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await.unwrap();
        assert_eq!(result.is_error, Some(false), "{tool}: {}", text(&result));
        serde_json::from_str(&text(&result)).unwrap()
    }

    /// Calls `tool` and returns the message of its error result.
    async fn tool_error(&self, tool: &'static str, arguments: Value) -> String {
        let result = self.call(tool, arguments).await.unwrap();
        assert_eq!(result.is_error, Some(true), "{tool}: {}", text(&result));
        text(&result)
    }

    async fn close(mut self) {
        self.client.close().await.unwrap();
        self.server.await.unwrap();
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn lists_every_tool_with_descriptions_and_object_schemas() {
    let session = connect().await;
    let info = session.client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "baton");
    assert!(
        info.instructions
            .as_deref()
            .unwrap()
            .contains("memory_search")
    );

    let tools = session.client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, TOOL_NAMES);
    for tool in &tools {
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(
            description.len() > 60,
            "{} has a short description",
            tool.name
        );
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            tool.name
        );
    }
    let search = tools.iter().find(|t| t.name == "memory_search").unwrap();
    let properties = search.input_schema.get("properties").unwrap();
    assert!(
        properties["query"]["description"]
            .as_str()
            .unwrap()
            .contains("Words")
    );
    assert_eq!(search.input_schema.get("required"), Some(&json!(["query"])));
    session.close().await;
}

#[tokio::test]
async fn memory_tools_store_search_get_list_and_delete() {
    let session = connect().await;
    let stored = session
        .ok(
            "memory_store",
            json!({
                "key": "pattern-retry",
                "value": {"pattern": "retry with exponential backoff", "worked": true},
                "namespace": "patterns",
                "upsert": true,
                "tags": ["http"],
            }),
        )
        .await;
    assert_eq!(stored["outcome"], json!("created"));
    assert_eq!(stored["is_json"], json!(true));
    let text = session
        .ok(
            "memory_store",
            json!({"key": "note", "value": "plain text backoff note", "ttl_seconds": 60}),
        )
        .await;
    assert_eq!(text["namespace"], json!("default"));
    assert_eq!(text["is_json"], json!(false));
    assert!(text["expires_at_ms"].is_i64());

    let again = session
        .tool_error(
            "memory_store",
            json!({"key": "pattern-retry", "value": 1, "namespace": "patterns"}),
        )
        .await;
    assert!(again.contains("already exists"), "{again}");
    assert!(again.contains("hint: store it with upsert"), "{again}");

    let search = session
        .ok(
            "memory_search",
            json!({"query": "backoff", "namespace": "patterns", "limit": 5}),
        )
        .await;
    assert_eq!(search["namespaces_searched"], json!(["patterns"]));
    assert_eq!(search["hits"][0]["key"], json!("pattern-retry"));
    assert!(search["hits"][0]["score"].as_f64().unwrap() > 0.7);
    assert!(search.get("method").is_some() && search.get("dropped_below_min_score").is_some());
    let everywhere = session
        .ok("memory_search", json!({"query": "backoff"}))
        .await;
    assert_eq!(everywhere["hits"].as_array().unwrap().len(), 2);

    let got = session
        .ok(
            "memory_get",
            json!({"key": "pattern-retry", "namespace": "patterns"}),
        )
        .await;
    assert_eq!(got["tags"], json!(["http"]));
    let value: Value = serde_json::from_str(got["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["worked"], json!(true));

    let listed = session.ok("memory_list", json!({})).await;
    assert_eq!(listed["count"], json!(2));
    let deleted = session.ok("memory_delete", json!({"key": "note"})).await;
    assert_eq!(deleted["deleted"], json!(true));
    let missing = session
        .tool_error("memory_get", json!({"key": "note"}))
        .await;
    assert!(
        missing.contains("no entry `note` in namespace `default`"),
        "{missing}"
    );
    session.close().await;
}

#[tokio::test]
async fn worker_tools_read_the_store() {
    let session = connect().await;
    let swarm = session.ok("swarm_status", json!({})).await;
    assert_eq!(swarm["running"], json!(0));
    assert_eq!(swarm["counts"], json!({"queued": 1, "succeeded": 1}));
    let ids: Vec<&str> = swarm["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    // Oldest first; `w-done` has no log file, so no last line.
    assert_eq!(ids, ["w-done", "w-test-1"]);
    assert_eq!(swarm["workers"][0]["last_log_line"], Value::Null);
    let worker = &swarm["workers"][1];
    assert_eq!(worker["id"], json!("w-test-1"));
    assert_eq!(worker["last_log_line"], json!("compiled 3 crates"));
    assert!(worker["age_ms"].as_i64().unwrap() >= 1000);

    let status = session.ok("worker_status", json!({"id": "builder"})).await;
    assert_eq!(status["id"], json!("w-test-1"));
    assert_eq!(status["status"], json!("queued"));
    assert_eq!(status["remediations"], json!([]));

    let logs = session
        .ok("worker_logs", json!({"id": "w-test-1", "tail_lines": 1}))
        .await;
    assert!(
        logs["text"]
            .as_str()
            .unwrap()
            .ends_with("compiled 3 crates\n"),
        "{logs}"
    );
    session.close().await;
}

/// A temp dir with an empty store.
fn empty_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    Fixture { dir, db }
}

#[tokio::test]
async fn a_spawned_worker_runs_under_its_supervisor_and_its_log_is_read_back() {
    let session = connect_with(empty_fixture(), &[]).await;
    let spawned = session
        .ok(
            "worker_spawn",
            json!({"command": ["sh", "-c", "echo hello from the worker"], "name": "greeter"}),
        )
        .await;
    let id = spawned["id"].as_str().unwrap().to_owned();
    assert_eq!(spawned["name"], json!("greeter"));
    assert!(spawned["log_path"].as_str().unwrap().ends_with(".log"));
    let mut ignore = |_: &baton_ops::workers::Cycle| Ok(());
    let waited = baton_ops::workers::wait(
        &session.project,
        baton_ops::workers::WaitRequest {
            workers: vec![id.clone()],
            timeout: Some(std::time::Duration::from_secs(30)),
            ..Default::default()
        },
        &mut ignore,
    )
    .await
    .unwrap();
    assert!(waited.succeeded, "{waited:?}");
    let status = session.ok("worker_status", json!({"id": "greeter"})).await;
    assert_eq!(status["id"], json!(id));
    assert_eq!(status["status"], json!("succeeded"));
    assert_eq!(status["exit_code"], json!(0));
    let logs = session.ok("worker_logs", json!({"id": id})).await;
    assert!(
        logs["text"]
            .as_str()
            .unwrap()
            .contains("hello from the worker"),
        "{logs}"
    );
    let refused = session
        .tool_error("worker_spawn", json!({"kind": "nope", "prompt": "x"}))
        .await;
    assert!(refused.contains("unknown worker kind `nope`"), "{refused}");
    assert!(refused.contains("hint: "), "{refused}");
    session.close().await;
}

#[tokio::test]
async fn dispatch_sends_the_task_and_its_context_to_the_model_and_records_the_call() {
    let server = ScriptedServer::start(Script::always(Reply::text(
        "def add(a, b):\n    return a + b\n",
    )))
    .await
    .unwrap();
    let fixture = empty_fixture();
    std::fs::write(fixture.dir.path().join("lib.py"), "# the module\n").unwrap();
    let url = format!("{}/chat/completions", server.openai_url());
    let session = connect_with(fixture, &[("CODER_API_URL", &url)]).await;
    let reply = session
        .ok(
            "dispatch",
            json!({"task": "write fn add", "route": "local", "context_files": ["lib.py"]}),
        )
        .await;
    assert_eq!(reply["reply"], json!("def add(a, b):\n    return a + b\n"));
    assert_eq!(reply["locality"], json!("local"));
    assert_eq!(reply["route"]["taken"], json!("local"));
    let chat: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.is_chat())
        .collect();
    assert_eq!(chat.len(), 1);
    let body = chat[0].body.to_string();
    assert!(
        body.contains("write fn add") && body.contains("# the module"),
        "{body}"
    );
    let stats = baton_ops::stats::calls(&session.project, None)
        .await
        .unwrap();
    assert_eq!(stats.overall.calls, 1);
    session.close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dispatch_to_a_dead_server_is_a_tool_error_with_the_hint_every_front_end_shows() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let session = connect_with(empty_fixture(), &[("CODER_API_URL", &url)]).await;
    let failed = session
        .tool_error(
            "dispatch",
            json!({"task": "write fn add", "route": "local"}),
        )
        .await;
    assert!(failed.contains("cannot connect"), "{failed}");
    assert!(failed.contains("hint: start the model server"), "{failed}");
    session.close().await;
}

#[tokio::test]
async fn bad_arguments_are_errors_naming_the_argument_and_the_server_lives_on() {
    let session = connect().await;
    // Missing, mistyped or unknown arguments: rmcp's parameter check, as a tool error
    // naming the field.
    let missing = session
        .tool_error("memory_search", json!({"namespace": "patterns"}))
        .await;
    assert!(missing.contains("missing field `query`"), "{missing}");
    let mistyped = session
        .tool_error("memory_search", json!({"query": 42}))
        .await;
    assert!(
        mistyped.contains("argument `query`: invalid type"),
        "{mistyped}"
    );
    let unknown = session
        .tool_error("memory_get", json!({"key": "k", "nmespace": "x"}))
        .await;
    assert!(unknown.contains("nmespace"), "{unknown}");

    // Values the schema allows but baton refuses: tool errors.
    let limit = session
        .tool_error("memory_search", json!({"query": "x", "limit": 0}))
        .await;
    assert!(limit.contains("`limit`"), "{limit}");
    let score = session
        .tool_error("memory_search", json!({"query": "x", "min_score": 2.0}))
        .await;
    assert!(score.contains("`min_score`"), "{score}");
    let route = session
        .tool_error("dispatch", json!({"task": "t", "route": "moon"}))
        .await;
    assert!(route.contains("`route`"), "{route}");
    let nothing = session.tool_error("worker_spawn", json!({})).await;
    assert!(nothing.contains("`command`"), "{nothing}");
    let worker = session
        .tool_error("worker_status", json!({"id": "w-nobody"}))
        .await;
    assert!(
        worker.contains("no worker `w-nobody`") && worker.contains("hint: "),
        "{worker}"
    );
    let logs = session
        .tool_error("worker_logs", json!({"id": "w-nobody"}))
        .await;
    assert!(logs.contains("no worker"), "{logs}");
    let null = session
        .tool_error("memory_store", json!({"key": "k", "value": null}))
        .await;
    assert!(null.contains("`value`"), "{null}");

    // Still serving.
    let swarm = session.ok("swarm_status", json!({})).await;
    assert!(swarm["workers"].is_array(), "{swarm}");
    session.close().await;
}

#[tokio::test]
async fn a_server_scoped_to_a_run_tags_what_it_stores_with_the_run_and_subtask() {
    let session = connect_with(
        fixture(),
        &[
            ("BATON_RUN", "20261203-120000-abcd"),
            ("BATON_SUBTASK", "s1"),
        ],
    )
    .await;
    session
        .ok(
            "memory_store",
            json!({"key": "20261203-120000-abcd/s1", "value": "wrote clamp", "namespace": "results", "tags": ["python"]}),
        )
        .await;
    let entry = session
        .ok(
            "memory_get",
            json!({"key": "20261203-120000-abcd/s1", "namespace": "results"}),
        )
        .await;
    assert_eq!(
        entry["tags"],
        json!(["python", "run:20261203-120000-abcd", "subtask:s1"]),
        "{entry}"
    );
    session.close().await;
}
