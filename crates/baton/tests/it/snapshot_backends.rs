//! Snapshots of what reaches a model server, against the scripted server: every `--json`
//! shape of `dispatch` (a reply, a cache miss and hit, `-o`, `--apply`), `apply`, `doctor`
//! (a server up and one down), `stats` and `stats --edits`; and each way a server fails a
//! dispatch: refused (exit 4), answering 401, 404 or 500 (exit 5), serving too small a
//! context (exit 6), a server of `[servers]` down with `--no-start` (exit 4), and `doctor`
//! finding a local endpoint down (exit 10).

use baton_test_support::{BlockingScriptedServer, Reply, Script};

use crate::support::{Sandbox, json_shapes, snapshot};

fn server(script: Script) -> BlockingScriptedServer {
    BlockingScriptedServer::start(script).unwrap()
}

/// A port that was free a moment ago: connecting to it is refused.
fn refused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn dispatch_json_shapes_for_a_reply_a_cache_miss_and_hit_and_an_output_file() {
    let server = server(Script::always(Reply::text("fn main() {}\n")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("src/main.rs", "fn main() {\n    todo!()\n}\n");
    let cases = [
        (
            "dispatch-json",
            sandbox.run(&["dispatch", "write main", "--json"]),
        ),
        (
            "dispatch-cache-miss-json",
            sandbox.run(&[
                "dispatch",
                "write main",
                "--context",
                "src/main.rs",
                "--cache",
                "--json",
            ]),
        ),
        (
            "dispatch-cache-hit-json",
            sandbox.run(&[
                "dispatch",
                "write main",
                "--context",
                "src/main.rs",
                "--cache",
                "--json",
            ]),
        ),
        (
            "dispatch-output-file-json",
            sandbox.run(&["dispatch", "write main", "-o", "main.rs", "--json"]),
        ),
        ("stats-json", sandbox.run(&["stats", "--json"])),
    ];
    json_shapes!(sandbox, cases);
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("main.rs")).unwrap(),
        "fn main() {}\n"
    );
}

#[test]
fn a_dispatch_prints_the_reply_alone_on_stdout() {
    let server = server(Script::always(Reply::text("fn main() {}")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let run = sandbox.run(&["dispatch", "write main"]);
    run.assert_ok();
    snapshot!(sandbox, run);
}

const LIB: &str = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n";

const EDIT: &str = "src/lib.rs\n```rust\n<<<<<<< SEARCH\n    a + b\n=======\n    a.wrapping_add(b)\n>>>>>>> REPLACE\n```\n";

#[test]
fn dispatch_apply_shows_the_diffstat_or_the_reply_with_what_applying_did() {
    let server = server(Script::always(Reply::text(EDIT)));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("src/lib.rs", LIB);
    let args = ["dispatch", "use wrapping add", "--context", "src/lib.rs"];
    let dry = sandbox.run(&[&args[..], &["--apply", "--dry-run", "--json"]].concat());
    assert_eq!(dry.code, 0, "{dry:?}");
    let text = sandbox.run(&[&args[..], &["--apply"]].concat());
    text.assert_ok();
    let again = sandbox.run(&[&args[..], &["--apply", "--json"]].concat());
    again.assert_ok();
    snapshot!(sandbox, dry, "dispatch-apply-dry-run-json");
    snapshot!(sandbox, text, "dispatch-apply");
    snapshot!(sandbox, again, "dispatch-apply-already-applied-json");
}

#[test]
fn apply_json_and_stats_edits_json_count_the_reply_for_its_model() {
    let sandbox = Sandbox::new();
    sandbox.write("src/lib.rs", LIB);
    sandbox.write("reply.md", EDIT);
    let cases = [
        (
            "apply-json",
            sandbox.run(&["apply", "reply.md", "--model", "qwen-coder", "--json"]),
        ),
        (
            "apply-already-applied-json",
            sandbox.run(&["apply", "reply.md", "--model", "qwen-coder", "--json"]),
        ),
        (
            "stats-edits-json",
            sandbox.run(&["stats", "--edits", "--json"]),
        ),
    ];
    json_shapes!(sandbox, cases);
    let table = sandbox.run(&["stats", "--edits"]);
    table.assert_ok();
    snapshot!(sandbox, table, "stats-edits");
}

#[test]
fn doctor_reports_a_server_that_is_up_in_text_and_json() {
    let server = server(
        Script::always(Reply::text("ok"))
            .n_ctx(4096)
            .models(["qwen3-coder"]),
    );
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let json = sandbox.run(&["doctor", "--json"]);
    let text = sandbox.run(&["doctor"]);
    json_shapes!(sandbox, [("doctor-up-json", json)]);
    text.assert_ok();
    snapshot!(sandbox, text, "doctor-up");
}

#[test]
fn doctor_finds_a_local_server_down_with_exit_10_in_text_and_json() {
    let sandbox = Sandbox::new().coder_url(&format!("http://127.0.0.1:{}/v1", refused_port()));
    for (name, args) in [
        ("doctor-down", &["doctor"][..]),
        ("doctor-down-json", &["doctor", "--json"][..]),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, 10, "{run:?}");
        snapshot!(sandbox, run, name);
    }
}

#[test]
fn a_refused_connection_names_the_url_with_a_hint_and_exit_4() {
    let sandbox = Sandbox::new().coder_url(&format!("http://127.0.0.1:{}/v1", refused_port()));
    for (name, args) in [
        ("dispatch-refused", &["dispatch", "x"][..]),
        (
            "dispatch-refused-json",
            &["dispatch", "x", "--json", "-c", "backends.local.retries=0"][..],
        ),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, 4, "{run:?}");
        snapshot!(sandbox, run, name);
    }
}

#[test]
fn a_server_answering_401_404_or_500_is_a_backend_error_with_exit_5() {
    for code in [401, 404, 500] {
        let server = server(Script::always(Reply::error(code, "scripted failure")));
        let sandbox = Sandbox::new().coder_url(&server.openai_url());
        let run = sandbox.run(&["dispatch", "x", "-c", "backends.local.retries=0"]);
        assert_eq!(run.code, 5, "{run:?}");
        snapshot!(sandbox, run, format!("dispatch-http-{code}").as_str());
    }
}

#[test]
fn a_server_failing_every_retry_says_how_many_attempts_failed() {
    let server = server(Script::always(Reply::error(500, "scripted failure")));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    let run = sandbox.run(&["dispatch", "x", "--json"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(server.requests().iter().filter(|r| r.is_chat()).count(), 3);
    snapshot!(sandbox, run);
}

#[test]
fn a_prompt_over_the_served_context_is_refused_before_sending_with_exit_6() {
    let server = server(Script::always(Reply::text("ok")).n_ctx(64));
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    sandbox.write("big.rs", &"let x = 1;\n".repeat(100));
    for (name, args) in [
        (
            "dispatch-over-served-context",
            &["dispatch", "x", "--context", "big.rs"][..],
        ),
        (
            "dispatch-over-served-context-json",
            &["dispatch", "x", "--context", "big.rs", "--json"][..],
        ),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, 6, "{run:?}");
        snapshot!(sandbox, run, name);
    }
    assert_eq!(server.requests().iter().filter(|r| r.is_chat()).count(), 0);
}

#[test]
fn a_backend_whose_server_is_down_is_refused_with_no_start_and_exit_4() {
    let port = refused_port();
    let sandbox = Sandbox::new().redact(port.to_string(), "SERVER_PORT");
    sandbox.write(
        "baton.toml",
        &format!(
            "[servers.coder]\ncommand = [\"true\"]\nhealth = \"http://127.0.0.1:{port}/health\"\n\n\
             [backends.local]\nurls = [\"http://127.0.0.1:{port}/v1\"]\nserver = \"coder\"\n"
        ),
    );
    let run = sandbox.run(&["dispatch", "x", "--local", "--no-start"]);
    assert_eq!(run.code, 4, "{run:?}");
    snapshot!(sandbox, run);
}
