//! rmcp's own client against [`BatonMcp`] in the same process, over `tokio::io::duplex`.

use std::sync::Arc;

use baton_mcp::BatonMcp;
use pretty_assertions::assert_eq;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::{ServiceExt, model::JsonObject};
use serde_json::{Value, json};

use crate::common::{FakeActions, Fixture, TOOL_NAMES, fixture};

struct Session {
    client: RunningService<RoleClient, ()>,
    server: tokio::task::JoinHandle<()>,
    actions: FakeActions,
    _fixture: Fixture,
}

async fn connect() -> Session {
    let fixture = fixture();
    let actions = FakeActions::default();
    let server = BatonMcp::new(&fixture.db, Arc::new(actions.clone()));
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        let running = server.serve(server_io).await.unwrap();
        running.waiting().await.unwrap();
    });
    let client = ().serve(client_io).await.unwrap();
    Session {
        client,
        server,
        actions,
        _fixture: fixture,
    }
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
async fn lists_all_ten_tools_with_descriptions_and_object_schemas() {
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
    assert_eq!(stored["created"], json!(true));
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
    assert!(again.contains("hint: pass `upsert: true`"), "{again}");

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
    assert!(missing.contains("no memory entry `note`"), "{missing}");
    session.close().await;
}

#[tokio::test]
async fn worker_tools_read_the_store() {
    let session = connect().await;
    let swarm = session.ok("swarm_status", json!({})).await;
    assert_eq!(swarm["runs"], json!([]));
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

#[tokio::test]
async fn spawn_and_dispatch_go_through_actions() {
    let session = connect().await;
    let spawned = session
        .ok(
            "worker_spawn",
            json!({"kind": "codex", "prompt": "fix the tests", "name": "fixer"}),
        )
        .await;
    assert_eq!(spawned["id"], json!("w-fake-1"));
    let reply = session
        .ok(
            "dispatch",
            json!({"task": "write fn add", "route": "local", "context_files": ["src/lib.rs"]}),
        )
        .await;
    assert_eq!(reply["reply"], json!("done: write fn add"));
    assert_eq!(reply["usage"]["output_tokens"], json!(3));

    let failed = session
        .tool_error("dispatch", json!({"task": "fail"}))
        .await;
    assert!(failed.contains("hint: `baton doctor`"), "{failed}");
    let refused = session
        .tool_error("worker_spawn", json!({"name": "broken", "kind": "nope"}))
        .await;
    assert!(refused.contains("no worker template"), "{refused}");
    {
        let calls = session.actions.calls.lock().unwrap();
        assert_eq!(calls.spawned.len(), 2);
        assert_eq!(calls.dispatched.len(), 2);
        assert_eq!(
            calls.dispatched[0].context_files,
            Some(vec!["src/lib.rs".to_owned()])
        );
    }
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
        worker.contains("no worker `w-nobody`") && worker.contains("swarm_status"),
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
    assert_eq!(swarm["runs"], json!([]));
    session.close().await;
}
