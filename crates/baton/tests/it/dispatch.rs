//! `baton dispatch` against the scripted server: output, context framing, the `dispatch.sh`
//! variables, the ledger, fallback on broken streams, the cache, and every bad-input path.

use baton_core::CallOutcome;
use baton_test_support::{BlockingScriptedServer, Reply, Script};
use pretty_assertions::assert_eq;

use crate::support::Sandbox;

fn server(script: Script) -> BlockingScriptedServer {
    BlockingScriptedServer::start(script).unwrap()
}

fn user_message(request: &baton_test_support::RecordedRequest) -> String {
    request.body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_reply_goes_to_stdout_whole_and_one_ledger_row_is_written() {
    let server = server(Script::always(Reply::text("fn main() {}\n")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let run = sandbox.run(&["dispatch", "write main"]);
    run.assert_ok();
    assert_eq!(run.stdout, "fn main() {}\n");
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, CallOutcome::Ok);
    assert_eq!(calls[0].backend, "local");
    assert!(!calls[0].usage.estimated);
}

#[test]
fn stdin_and_context_files_reach_the_model_framed_with_their_paths() {
    let server = server(Script::always(Reply::text("ok")));
    let sandbox = Sandbox::new()
        .coder_url(&server.openai_url())
        .var("CODER_MODEL", "qwen-test")
        .var("CODER_MAX_TOKENS", "321")
        .var("CODER_TEMPERATURE", "0.5");
    sandbox.write("src/a.rs", "pub struct Receipt;\n");
    sandbox.write("src/b.rs", "pub struct Order;\n");
    sandbox
        .run_with_stdin(
            &["dispatch", "Implement the service", "--context", "src/*.rs"],
            "PIPED-ENTITY",
        )
        .assert_ok();
    let request = &server.requests()[server.requests().len() - 1];
    assert_eq!(request.body["model"], "qwen-test");
    assert_eq!(request.body["max_tokens"], 321);
    assert_eq!(request.body["temperature"], 0.5);
    assert_eq!(request.body["stream"], true);
    let user = user_message(request);
    assert!(
        user.contains("File: src/a.rs\n```\npub struct Receipt;\n```"),
        "{user}"
    );
    assert!(user.contains("File: src/b.rs"), "{user}");
    assert!(user.contains("PIPED-ENTITY"), "{user}");
    assert!(user.trim_end().ends_with("Implement the service"), "{user}");
}

#[test]
fn the_system_prompt_comes_from_the_variable_and_the_flag_wins() {
    let server = server(Script::always(Reply::text("ok")));
    let sandbox = Sandbox::new()
        .coder_url(&server.openai_url())
        .var("SYSTEM_PROMPT", "You write xUnit tests only.");
    sandbox.run(&["dispatch", "tests please"]).assert_ok();
    sandbox
        .run(&["dispatch", "tests please", "--system", "Be terse."])
        .assert_ok();
    let requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.is_chat())
        .collect();
    assert_eq!(
        requests[0].body["messages"][0]["content"],
        "You write xUnit tests only."
    );
    assert_eq!(requests[1].body["messages"][0]["content"], "Be terse.");
}

#[test]
fn json_output_reports_backend_model_route_usage_and_timing() {
    let server = server(Script::always(Reply::text("hello")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let json = sandbox
        .run(&["dispatch", "say hello", "--json"])
        .assert_ok()
        .json();
    assert_eq!(json["reply"], "hello");
    assert_eq!(json["backend"], "local");
    assert_eq!(json["model"], "qwen3-coder");
    assert_eq!(json["route"]["taken"], "local");
    assert!(json["route"]["why"].as_str().unwrap().starts_with("auto:"));
    assert_eq!(json["usage"]["estimated"], false);
    assert_eq!(json["usage"]["prompt_tokens"], 10);
    assert!(json["latency_ms"].is_u64() && json["ttft_ms"].is_u64());
}

#[test]
fn an_output_file_gets_the_reply_and_stdout_stays_empty() {
    let server = server(Script::always(Reply::text("contents")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let run = sandbox.run(&["dispatch", "x", "-o", "out/impl.txt"]);
    assert_eq!(
        run.code, 9,
        "a missing directory cannot be written: {run:?}"
    );
    std::fs::create_dir_all(sandbox.path().join("out")).unwrap();
    let run = sandbox.run(&["dispatch", "x", "-o", "out/impl.txt"]);
    run.assert_ok();
    assert_eq!(run.stdout, "");
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("out/impl.txt")).unwrap(),
        "contents"
    );
    let leftovers: Vec<_> = std::fs::read_dir(sandbox.path().join("out"))
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp file left behind");
}

#[test]
fn an_unreachable_server_is_one_line_naming_the_url_with_a_hint_and_exit_4() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sandbox = Sandbox::new()
        .coder_url(&format!("http://127.0.0.1:{port}/v1"))
        .var("BATON_LOG", "off");
    let run = sandbox.run(&["dispatch", "x", "-c", "backends.local.retries=0"]);
    assert_eq!(run.code, 4, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let error = lines.iter().find(|l| l.starts_with("error:")).unwrap();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("hint:") && l.contains("baton doctor")),
        "{run:?}"
    );
    let calls = sandbox.calls();
    assert_eq!(calls.len(), 1, "the failed attempt is in the ledger");
    assert_eq!(calls[0].outcome, CallOutcome::Error);
}

fn fallback_sandbox(primary: &BlockingScriptedServer, second: &BlockingScriptedServer) -> Sandbox {
    let sandbox = Sandbox::new().coder_url(&primary.openai_url());
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.second]\nurls = [\"{}\"]\nlocality = \"local\"\n\n[profiles.code]\nfallback = [\"second:model-b\"]\n\n[backends.local]\nretries = 0\n",
            second.openai_url()
        ),
    );
    sandbox
}

#[test]
fn a_stream_cut_midway_falls_back_and_the_reply_is_printed_once() {
    let primary = server(Script::always(Reply::cut_midway(["PARTIAL-", "TEXT-"])));
    let second = server(Script::always(Reply::text("the full reply")));
    let sandbox = fallback_sandbox(&primary, &second);
    let run = sandbox.run(&["dispatch", "x"]);
    run.assert_ok();
    assert_eq!(run.stdout, "the full reply");
    assert!(run.stderr.contains("discarded"), "{run:?}");
    assert!(
        run.stderr.contains("falling back to second:model-b"),
        "{run:?}"
    );
    let outcomes: Vec<_> = sandbox
        .calls()
        .iter()
        .map(|c| (c.backend.clone(), c.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("local".into(), CallOutcome::Error),
            ("second".into(), CallOutcome::Ok)
        ]
    );
}

#[test]
fn a_broken_stream_written_to_a_file_is_truncated_back_before_the_fallback() {
    let primary = server(Script::always(Reply::cut_midway(["PARTIAL-", "TEXT-"])));
    let second = server(Script::always(Reply::text("the full reply")));
    let sandbox = fallback_sandbox(&primary, &second);
    let out_path = sandbox.path().join("impl.txt");
    std::fs::write(&out_path, "earlier line\n").unwrap();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&out_path)
        .unwrap();
    let status = sandbox
        .command(&["dispatch", "x"])
        .stdout(file)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "earlier line\nthe full reply"
    );
}

#[test]
fn several_dispatches_at_once_all_succeed_and_all_are_recorded() {
    let server = server(Script::always(Reply::delayed(100, Reply::text("ok"))));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let children: Vec<_> = (0..6)
        .map(|i| {
            sandbox
                .command(&["dispatch", &format!("task {i}")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ok");
    }
    assert_eq!(sandbox.calls().len(), 6);
    assert!(server.max_in_flight() >= 2, "the calls overlapped");
}

#[test]
fn an_identical_request_with_cache_is_served_without_calling_the_model() {
    let server = server(Script::always(Reply::text("cached answer")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("a.rs", "fn a() {}");
    let first = sandbox.run(&["dispatch", "x", "--cache", "--context", "a.rs"]);
    first.assert_ok();
    let chats_before = server.requests().iter().filter(|r| r.is_chat()).count();
    let second = sandbox.run(&["dispatch", "x", "--cache", "--context", "a.rs"]);
    second.assert_ok();
    assert_eq!(second.stdout, "cached answer");
    assert_eq!(
        server.requests().iter().filter(|r| r.is_chat()).count(),
        chats_before
    );
    sandbox.write("a.rs", "fn a() { changed }");
    sandbox
        .run(&["dispatch", "x", "--cache", "--context", "a.rs"])
        .assert_ok();
    assert_eq!(
        server.requests().iter().filter(|r| r.is_chat()).count(),
        chats_before + 1,
        "a changed file misses"
    );
    let outcomes: Vec<_> = sandbox.calls().iter().map(|c| c.outcome).collect();
    assert_eq!(
        outcomes,
        vec![CallOutcome::Ok, CallOutcome::CacheHit, CallOutcome::Ok]
    );
}

#[test]
fn context_from_a_long_document_sends_only_the_relevant_sections() {
    let server = server(Script::always(Reply::text("ok")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let mut doc = String::from("# Contracts\n\n");
    doc.push_str(
        "## Receipts API\n\nGetReceiptById returns ReceiptDto or null. Receipts are immutable.\n\n",
    );
    for i in 0..40 {
        doc.push_str(&format!(
            "## Unrelated area {i}\n\n{}\n\n",
            "shipping logistics warehouse pallets ".repeat(20)
        ));
    }
    sandbox.write("CONTRACTS.md", &doc);
    sandbox
        .run(&[
            "dispatch",
            "Implement GetReceiptById for receipts",
            "--context-from",
            "CONTRACTS.md",
            "-c",
            "routes.local.context_budget=600",
        ])
        .assert_ok();
    let user = user_message(server.requests().iter().rfind(|r| r.is_chat()).unwrap());
    assert!(user.contains("GetReceiptById returns ReceiptDto"), "{user}");
    assert!(
        user.len() < doc.len() / 4,
        "only a slice of the document was sent"
    );
}

#[test]
fn a_request_larger_than_the_served_context_is_refused_before_sending() {
    let server = server(Script::always(Reply::text("ok")).n_ctx(64));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("big.rs", &"let x = 1;\n".repeat(100));
    let run = sandbox.run(&["dispatch", "x", "--context", "big.rs"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr.contains("serves a context of 64 tokens"),
        "{run:?}"
    );
    assert_eq!(
        server.requests().iter().filter(|r| r.is_chat()).count(),
        0,
        "nothing was sent"
    );
}

#[test]
fn a_server_counting_far_fewer_prompt_tokens_than_sent_is_reported() {
    let server = server(Script::always(Reply::text("ok")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("big.rs", &"let value = compute(1);\n".repeat(200));
    let run = sandbox.run(&["dispatch", "x", "--context", "big.rs"]);
    run.assert_ok();
    assert!(run.stderr.contains("counted 10 prompt tokens"), "{run:?}");
    assert!(run.stderr.contains("truncated"), "{run:?}");
}

#[test]
fn context_over_the_route_budget_is_refused_with_exit_6() {
    let server = server(Script::always(Reply::text("ok")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("big.rs", &"x".repeat(40_000));
    let run = sandbox.run(&["dispatch", "x", "--context", "big.rs"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr.contains("big.rs ~10000 tokens") && run.stderr.contains("hint:"),
        "{run:?}"
    );
}

#[test]
fn a_missing_context_file_is_bad_input_with_exit_7() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["dispatch", "x", "--context", "nope.rs"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert!(run.stderr.contains("`nope.rs` matches no file"), "{run:?}");
}

#[test]
fn an_unknown_profile_lists_the_known_ones_with_exit_3() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["dispatch", "x", "--profile", "bogus"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("unknown profile `bogus`; known profiles: cloud, code, fast"),
        "{run:?}"
    );
}

#[test]
fn a_malformed_config_names_file_line_and_key_with_exit_3() {
    let sandbox = Sandbox::new();
    sandbox.write("baton.toml", "[profiles.code]\ntemperature = \"hot\"\n");
    let run = sandbox.run(&["dispatch", "x"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("baton.toml:2:") && run.stderr.contains("temperature"),
        "{run:?}"
    );
}

#[test]
fn an_api_key_never_reaches_output_errors_or_the_store() {
    let server = server(Script::always(Reply::error(401, "invalid api key")));
    let sandbox = Sandbox::new().var("MY_TEST_KEY", "sk-very-secret-123");
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.paid]\nurls = [\"{}\"]\nlocality = \"cloud\"\napi_key_env = \"MY_TEST_KEY\"\n\n[profiles.cloud]\nbackend = \"paid\"\nmodel = \"big\"\n",
            server.openai_url()
        ),
    );
    let run = sandbox.run(&["dispatch", "x", "--api", "-v"]);
    assert_eq!(run.code, 5, "{run:?}");
    let chat = server.requests().into_iter().find(|r| r.is_chat()).unwrap();
    assert_eq!(
        chat.header("authorization"),
        Some("Bearer sk-very-secret-123")
    );
    assert!(!run.stderr.contains("sk-very-secret") && !run.stdout.contains("sk-very-secret"));
    for entry in std::fs::read_dir(sandbox.path().join(".baton")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(14).any(|w| w == b"sk-very-secret"),
            "the key is in the store"
        );
    }
}

#[test]
fn auto_routing_asks_the_classifier_model_when_configured_and_says_so() {
    let classifier = server(Script::always(Reply::text("API")));
    let coder = server(Script::always(Reply::text("done")));
    let sandbox = Sandbox::new().coder_url(&coder.openai_url());
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.tiny]\nurls = [\"{}\"]\n\n[profiles.fast]\nbackend = \"tiny\"\n\n[routes.auto]\nclassifier = \"fast\"\n",
            classifier.openai_url()
        ),
    );
    let json = sandbox
        .run(&["dispatch", "Implement the parser", "--json"])
        .assert_ok()
        .json();
    assert_eq!(json["route"]["why"], "auto: classifier `fast` answered API");
    // The cloud step has no key here, so the local coder still answers.
    assert_eq!(json["reply"], "done");
    assert_eq!(
        json["route"]["skipped"][0][1],
        "$ANTHROPIC_API_KEY is not set"
    );
    let asked = classifier
        .requests()
        .into_iter()
        .find(|r| r.is_chat())
        .unwrap();
    assert_eq!(asked.body["max_tokens"], 4);
    let backends: Vec<String> = sandbox.calls().iter().map(|c| c.backend.clone()).collect();
    assert_eq!(
        backends,
        vec!["tiny", "local"],
        "the classifier call is in the ledger too"
    );
}
