//! `baton dispatch` and `baton doctor` against the real llama-server of the LLM rig, with a
//! small Qwen coder model on the CPU. These are the tests whose names contain `llama`; they
//! run one at a time (see `.config/nextest.toml`).

use std::io::Read;
use std::process::Stdio;

use baton_core::CallOutcome;
use baton_test_support::rig::LlamaServer;

use crate::support::Sandbox;

fn sandbox(server: &LlamaServer) -> Sandbox {
    Sandbox::new()
        .coder_url(&server.openai_url())
        .var("CODER_MODEL", server.model_alias())
        .var("CODER_TEMPERATURE", "0")
}

#[test]
fn llama_dispatch_with_piped_context_returns_code_and_real_usage() {
    let server = LlamaServer::start().unwrap();
    let sandbox = sandbox(&server).var("CODER_MAX_TOKENS", "120");
    sandbox.write(
        "src/shapes.py",
        "class Square:\n    def __init__(self, side):\n        self.side = side\n",
    );
    let run = sandbox.run_with_stdin(
        &[
            "dispatch",
            "Add an area() method to Square. Reply with only the Python class in a code block.",
            "--context",
            "src/shapes.py",
            "--json",
            "--local",
        ],
        "# shapes module, Python 3\n",
    );
    run.assert_ok();
    let json = run.json();
    let reply = json["reply"].as_str().unwrap();
    assert!(reply.contains("def area"), "{reply}");
    assert_eq!(
        json["usage"]["estimated"], false,
        "llama-server reports usage in streams"
    );
    assert!(json["usage"]["prompt_tokens"].as_u64().unwrap() > 40);
    assert!(json["ttft_ms"].as_u64().unwrap() <= json["latency_ms"].as_u64().unwrap());
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, CallOutcome::Ok);
    assert_eq!(
        calls[0].usage.prompt_tokens,
        json["usage"]["prompt_tokens"].as_u64().unwrap()
    );
}

#[test]
fn llama_reply_streams_to_a_pipe_before_the_call_ends() {
    let server = LlamaServer::start().unwrap();
    let sandbox = sandbox(&server).var("CODER_MAX_TOKENS", "150");
    let mut child = sandbox
        .command(&["dispatch", "Write a Python function that prints the numbers 1 to 50, one per line, with a comment on every line.", "--stream", "--local"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first bytes arrived while the model was still writing"
    );
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.len() > 20);
}

#[test]
fn llama_parallel_dispatches_all_complete_and_are_recorded() {
    let server = LlamaServer::start().unwrap();
    let sandbox = sandbox(&server).var("CODER_MAX_TOKENS", "24");
    let children: Vec<_> = ["fizzbuzz", "is_prime"]
        .iter()
        .map(|name| {
            sandbox
                .command(&[
                    "dispatch",
                    &format!("Write a Python function {name}(n)."),
                    "--local",
                ])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Wait for every child before judging any, so none outlives the server.
    let outputs: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for output in outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stdout.is_empty());
    }
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|c| c.outcome == CallOutcome::Ok && !c.usage.estimated)
    );
}

#[test]
fn llama_doctor_reads_the_context_size_the_server_really_serves() {
    let server = LlamaServer::start().unwrap();
    let sandbox = sandbox(&server);
    let json = sandbox
        .run(&["doctor", "--json", "--backend", "local"])
        .assert_ok()
        .json();
    let endpoint = &json["endpoints"][0];
    assert_eq!(endpoint["server"], "llama-server");
    assert_eq!(endpoint["n_ctx"], server.n_ctx_per_slot());
    assert_eq!(endpoint["models"][0], server.model_alias());
}

#[test]
fn llama_dispatch_apply_asks_for_whole_files_and_records_what_became_of_the_reply() {
    let server = LlamaServer::start().unwrap();
    let sandbox = sandbox(&server).var("CODER_MAX_TOKENS", "300");
    let original = "DEFAULT_PORT = 8080\nHOST = \"127.0.0.1\"\n";
    sandbox.write("settings.py", original);
    let run = sandbox.run(&[
        "-c",
        "profiles.code.edit_format=\"whole\"",
        "dispatch",
        "Change DEFAULT_PORT to 9090.",
        "--context",
        "settings.py",
        "--local",
        "--no-stdin",
        "--apply",
        "--json",
    ]);
    // The model may or may not follow the format; what must hold is that the outcome is
    // recorded, the exit code says it, and the file changed only when the reply applied.
    let store = sandbox.store();
    let edits = store.edits(None).unwrap();
    assert_eq!(edits.len(), 1, "{run:?}");
    let record = &edits[0];
    assert_eq!(record.format, baton_core::EditFormat::Whole);
    assert_eq!(record.model.as_deref(), Some(server.model_alias()));
    assert_eq!(
        record.request_id.as_deref(),
        Some(sandbox.calls()[0].request_id.as_str())
    );
    let now = std::fs::read_to_string(sandbox.path().join("settings.py")).unwrap();
    match run.code {
        // Whether the model made the right change is the benchmark's question
        // (bench/edits.sh); here: what the reply said is what the file holds.
        0 => {
            assert!(record.written, "{record:?}");
            let reply = run.json()["reply"].as_str().unwrap().to_string();
            let written = now.lines().find(|line| !line.trim().is_empty()).unwrap();
            assert!(reply.contains(written), "{now} vs {reply}");
        }
        13 | 15 => assert_eq!(now, original, "{run:?}"),
        other => panic!("unexpected exit {other}: {run:?}"),
    }
    assert_eq!(run.json()["apply"]["record_id"], record.id.as_str());
}
