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

/// aider, from PyPI, as the worker of a subtask against the rig's llama-server (the larger
/// model: aider's prompts are more than the small one follows), with nothing configured but
/// the path of the program: Baton points it at the local backend.
#[test]
fn llama_aider_from_pypi_does_a_subtask_of_a_run_and_only_its_owned_file_is_committed() {
    let aider = std::env::var("BATON_TEST_AIDER").unwrap_or_else(|_| {
        panic!("BATON_TEST_AIDER is not set; run the tests with `bash scripts/test.sh`, which installs aider")
    });
    let server =
        baton_test_support::rig::LlamaServer::start_agent_model(&["-np", "1", "-c", "8192"])
            .unwrap();
    let sandbox = sandbox(&server);
    sandbox.write("calc.py", "def add(a, b):\n    return a + b\n");
    sandbox.write(
        "test_calc.py",
        "import unittest\nfrom calc import add, clamp\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n    def test_clamp(self):\n        self.assertEqual(clamp(5, 0, 3), 3)\n        self.assertEqual(clamp(-1, 0, 3), 0)\n        self.assertEqual(clamp(2, 0, 3), 2)\n",
    );
    sandbox.write(
        "baton.toml",
        &format!(
            "[workers.aider]\ncommand = [\"{aider}\", \"--yes-always\", \"--message\", \"{{prompt}}\"]\n\n[verify]\ntest = \"python3 -m unittest -q test_calc\"\nmax_fix_iterations = 0\n"
        ),
    );
    sandbox.write(
        "T-1.md",
        "---\nid: T-1\ntitle: Add clamp\n---\n\nAdd clamp(value, low, high) to calc.py.\n\n## Acceptance criteria\n\n- clamp(5, 0, 3) returns 3\n- clamp(-1, 0, 3) returns 0\n",
    );
    sandbox.write(
        "plan.json",
        r#"{"summary": "clamp in calc.py", "subtasks": [{"id": "clamp", "title": "clamp", "what": "Add a function clamp(value, low, high) to calc.py that returns low if value < low, high if value > high, else value. Keep add as it is.", "files": ["calc.py"], "context": ["test_calc.py"], "worker": "aider"}]}"#,
    );
    crate::run::git(&sandbox, &["init", "--quiet", "-b", "main"]);
    crate::run::git(&sandbox, &["add", "-A"]);
    crate::run::git(&sandbox, &["commit", "--quiet", "-m", "start"]);

    let run = sandbox.run(&[
        "run",
        "T-1.md",
        "--plan",
        "plan.json",
        "--review",
        "external",
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(
        run.stdout
            .lines()
            .last()
            .unwrap_or_else(|| panic!("{}", run.stderr)),
    )
    .unwrap();
    let id = summary["run"]["id"].as_str().unwrap().to_string();
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    let dispatched: Vec<&serde_json::Value> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "subtask.dispatched" && e["data"]["subtask"] == "clamp")
        .collect();
    let data = &dispatched[0]["data"];
    assert_eq!(data["worker"]["kind"], "aider", "{shown}");
    assert_eq!(data["worker"]["status"], "succeeded", "{shown}");
    // aider's own files (chat history, tag cache) are neither taken nor refused.
    assert_eq!(data["worker"]["refused"], serde_json::json!([]), "{shown}");
    assert_eq!(data["files"], serde_json::json!(["calc.py"]), "{shown}");
    assert!(data["prompt_tokens"].as_u64().unwrap() > 100, "{data}");
    assert_eq!(data["locality"], "local");

    // Every commit on the branch is Baton's (aider was told not to commit), and the file it
    // wrote has clamp and still has add.
    let branch = format!("baton/{id}");
    let log = std::process::Command::new("git")
        .args([
            "log",
            "--format=%H %(trailers:key=Baton-Run,valueonly)",
            &format!("main..{branch}"),
        ])
        .current_dir(sandbox.path())
        .output()
        .unwrap();
    let log = String::from_utf8(log.stdout).unwrap();
    assert!(!log.trim().is_empty());
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.trim_end().ends_with(&id),
            "a commit not made by Baton: {log}"
        );
    }
    let calc = std::process::Command::new("git")
        .args(["show", &format!("{branch}:calc.py")])
        .current_dir(sandbox.path())
        .output()
        .unwrap();
    let calc = String::from_utf8(calc.stdout).unwrap();
    assert!(calc.contains("def clamp"), "{calc}");
    assert!(calc.contains("def add"), "{calc}");
    // The usage aider reported is in the run's ledger.
    let usage = shown["usage"].as_array().unwrap();
    assert!(
        usage
            .iter()
            .any(|u| u["profile"] == "worker:aider" && u["prompt_tokens"].as_u64() > Some(0)),
        "{usage:?}"
    );
    sandbox.assert_nothing_left();
}
