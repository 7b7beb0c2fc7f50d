//! `baton mcp`: the real binary as an MCP server over stdio, driven by raw JSON-RPC lines
//! (the official Python SDK drives the same server in `baton-mcp`'s tests), for the tools
//! that need the whole binary: `dispatch` against the scripted server and `worker_spawn`
//! under a real supervisor. Nothing but protocol may reach stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use baton_test_support::{BlockingScriptedServer, Reply, Script};

use crate::support::Sandbox;

struct Session {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    next_id: u64,
}

impl Session {
    fn start(sandbox: &Sandbox) -> Session {
        let mut child = sandbox
            .command(&["mcp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut session = Session {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        let init = session.request(
            "initialize",
            serde_json::json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "baton-test", "version": "0" } }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "baton", "{init}");
        session
            .send(serde_json::json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        session
    }

    fn send(&mut self, message: serde_json::Value) {
        writeln!(self.stdin, "{message}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }),
        );
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server closed stdout"
            );
            let message: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON-RPC on stdout ({e}): {line}"));
            if message["id"] == id {
                return message;
            }
        }
    }

    fn call(&mut self, tool: &str, arguments: serde_json::Value) -> serde_json::Value {
        let reply = self.request(
            "tools/call",
            serde_json::json!({ "name": tool, "arguments": arguments }),
        );
        reply["result"].clone()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn payload(result: &serde_json::Value) -> serde_json::Value {
    if let Some(structured) = result.get("structuredContent").filter(|v| !v.is_null()) {
        return structured.clone();
    }
    serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap()
}

#[test]
fn the_mcp_dispatch_tool_sends_a_subtask_and_returns_the_reply_and_usage() {
    let server =
        BlockingScriptedServer::start(Script::always(Reply::text("def add(a, b): return a + b")))
            .unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let mut session = Session::start(&sandbox);
    let result = session.call(
        "dispatch",
        serde_json::json!({ "task": "write add", "route": "local" }),
    );
    assert_ne!(result["isError"], true, "{result}");
    let reply = payload(&result);
    assert_eq!(reply["reply"], "def add(a, b): return a + b");
    assert_eq!(reply["usage"]["prompt_tokens"], 10);
    assert_eq!(sandbox.calls().len(), 1, "the call is in the ledger");
    let bad = session.call(
        "dispatch",
        serde_json::json!({ "task": "x", "profile": "nope" }),
    );
    assert_eq!(bad["isError"], true, "{bad}");
    assert!(
        bad["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("unknown profile")
    );
}

#[test]
fn the_mcp_worker_tools_spawn_watch_and_read_a_real_worker() {
    let sandbox = Sandbox::new();
    let mut session = Session::start(&sandbox);
    let spawned = session.call(
        "worker_spawn",
        serde_json::json!({ "command": ["sh", "-c", "echo from the worker"], "name": "mcp-made" }),
    );
    assert_ne!(spawned["isError"], true, "{spawned}");
    let id = payload(&spawned)["id"].as_str().unwrap().to_string();
    sandbox.run(&["wait", &id]).assert_ok();
    let status = payload(&session.call("worker_status", serde_json::json!({ "id": id })));
    assert_eq!(status["status"], "succeeded", "{status}");
    let logs = session.call("worker_logs", serde_json::json!({ "id": id }));
    assert!(
        logs["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("from the worker"),
        "{logs}"
    );
    let swarm = payload(&session.call("swarm_status", serde_json::json!({})));
    assert!(swarm.to_string().contains("mcp-made"), "{swarm}");
    drop(session);
    sandbox.assert_nothing_left();
}

#[test]
fn mcp_memory_tools_embed_and_rank_hybrid_when_embeddings_are_configured() {
    let embeddings = BlockingScriptedServer::start(Script::new().embedding_dim(16)).unwrap();
    let sandbox = Sandbox::new();
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.emb]\nurls = [\"{}\"]\n\n[memory]\nembeddings = \"emb\"\nembedding_model = \"tiny-embed\"\n",
            embeddings.openai_url()
        ),
    );
    let mut session = Session::start(&sandbox);
    let stored = payload(&session.call(
        "memory_store",
        serde_json::json!({ "key": "pattern-auth", "value": { "approach": "refresh the auth token then retry" }, "namespace": "patterns" }),
    ));
    assert_eq!(stored["embedding"]["model"], "tiny-embed", "{stored}");
    assert_eq!(stored["embedding"]["dim"], 16);
    let found = payload(&session.call(
        "memory_search",
        serde_json::json!({ "query": "auth token", "namespace": "patterns" }),
    ));
    assert_eq!(found["method"], "hybrid", "{found}");
    assert_eq!(
        found["hits"][0]["ranked_by"], "hybrid(fts5-bm25+cosine:tiny-embed)",
        "{found}"
    );
}
