//! `baton server up|down|status|logs`: a model server that crashes is restarted and becomes
//! healthy; the real llama-server of the rig is brought up and down; a dispatch starts its
//! backend's server on first use, and `--no-start` refuses instead.

use crate::support::Sandbox;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_server_that_crashes_is_restarted_and_comes_up_healthy() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let script = format!(
        "if [ ! -f crashed-once ]; then touch crashed-once; echo crashing; exit 1; fi; exec python3 -m http.server {port} --bind 127.0.0.1"
    );
    sandbox.write(
        "baton.toml",
        &format!("[servers.web]\ncommand = [\"sh\", \"-c\", '''{script}''']\nhealth = \"http://127.0.0.1:{port}/\"\nstart_timeout = \"60s\"\n"),
    );
    let up = sandbox.run(&["server", "up", "web"]);
    up.assert_ok();
    assert!(up.stdout.contains("web is up"), "{up:?}");
    let status = sandbox
        .run(&["server", "status", "--json"])
        .assert_ok()
        .json();
    assert_eq!(status[0]["healthy"], true);
    assert_eq!(status[0]["worker"]["status"], "running");
    assert!(
        status[0]["worker"]["restarts"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(
        sandbox
            .run(&["server", "logs", "web"])
            .stdout
            .contains("crashing")
    );
    sandbox.run(&["server", "down", "web"]).assert_ok();
    let after = sandbox
        .run(&["server", "status", "--json"])
        .assert_ok()
        .json();
    assert_eq!(after[0]["healthy"], false);
    sandbox.assert_nothing_left();
}

#[test]
fn llama_server_is_brought_up_for_a_dispatch_and_down_again() {
    let binary = std::env::var("BATON_TEST_LLAMA_SERVER").unwrap_or_else(|_| {
        format!(
            "{}/.cache/baton/llm/bin/llama-server",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let model = std::env::var("BATON_TEST_LLAMA_MODEL").unwrap_or_else(|_| {
        format!(
            "{}/.cache/baton/llm/models/qwen2.5-coder-0.5b.gguf",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    assert!(
        std::path::Path::new(&binary).exists(),
        "{binary} missing: run bash scripts/install-llm.sh"
    );
    let port = free_port();
    let sandbox = Sandbox::new()
        .var("CODER_MAX_TOKENS", "16")
        .var("CODER_TEMPERATURE", "0");
    sandbox.write(
        "baton.toml",
        &format!(
            "[servers.coder]\ncommand = [\"{binary}\", \"-m\", \"{model}\", \"--port\", \"{port}\", \"--host\", \"127.0.0.1\", \"-c\", \"4096\", \"-np\", \"1\", \"--no-webui\"]\nhealth = \"http://127.0.0.1:{port}/health\"\n\n[servers.coder.env]\nOMP_WAIT_POLICY = \"passive\"\n\n[backends.local]\nurls = [\"http://127.0.0.1:{port}/v1\"]\nserver = \"coder\"\n"
        ),
    );
    let refused = sandbox.run(&["dispatch", "say hi", "--local", "--no-start"]);
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(
        refused.stderr.contains("baton server up coder"),
        "{refused:?}"
    );
    let run = sandbox.run(&["dispatch", "Write a Python hello world.", "--local"]);
    run.assert_ok();
    assert!(run.stderr.contains("starting server `coder`"), "{run:?}");
    assert!(!run.stdout.is_empty());
    let status = sandbox
        .run(&["server", "status", "--json"])
        .assert_ok()
        .json();
    assert_eq!(status[0]["healthy"], true);
    sandbox.run(&["server", "down", "coder"]).assert_ok();
    sandbox.assert_nothing_left();
}
