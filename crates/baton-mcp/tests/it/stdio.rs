//! Stdio mode writes nothing but protocol to stdout, even with debug logging on: every line
//! the `mcp_fixture` example prints is a JSON-RPC message, and the logs are on stderr.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::python::fixture_binary;

/// How long the whole exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn stdio_mode_writes_only_json_rpc_to_stdout_and_logs_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let mut server = Command::new(fixture_binary())
        .args(["stdio", db.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "memory_search", "arguments": {"query": 7}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "swarm_status", "arguments": {}}}),
    ];
    // Drained meanwhile so that debug logs cannot fill the pipe and stall the server.
    let mut stderr_pipe = server.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        stderr_pipe.read_to_string(&mut text).await.unwrap();
        text
    });
    let mut stdin = server.stdin.take().unwrap();
    for message in &messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    // Read replies until the last one, then close stdin: the server ends at end of input.
    let mut stdout = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    tokio::time::timeout(EXCHANGE_TIMEOUT, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            let done = line.contains("\"id\":4");
            lines.push(line);
            if done {
                break;
            }
        }
    })
    .await
    .expect("no reply to the last request");
    drop(stdin);
    let status = tokio::time::timeout(EXCHANGE_TIMEOUT, server.wait())
        .await
        .expect("the stdio server did not exit at end of input")
        .unwrap();
    assert!(status.success(), "{status}");
    while let Some(line) = stdout.next_line().await.unwrap() {
        lines.push(line);
    }
    let stderr = stderr.await.unwrap();

    let replies: Vec<Value> = lines
        .iter()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("non-JSON line on stdout ({error}): {line:?}"))
        })
        .collect();
    for reply in &replies {
        assert_eq!(reply["jsonrpc"], json!("2.0"), "{reply}");
    }
    let by_id = |id: i64| {
        replies
            .iter()
            .find(|reply| reply["id"] == json!(id))
            .unwrap_or_else(|| panic!("no reply {id} in {lines:?}"))
    };
    assert_eq!(
        by_id(2)["result"]["tools"].as_array().unwrap().len(),
        crate::common::TOOL_NAMES.len()
    );
    assert_eq!(by_id(3)["result"]["isError"], json!(true));
    assert_eq!(by_id(4)["result"]["isError"], json!(false));
    assert!(stderr.contains("serving MCP over stdio"), "logs: {stderr}");
}
