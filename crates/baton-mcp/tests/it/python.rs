//! The official Python MCP SDK (`pip install mcp`) against the `mcp_fixture` example, over
//! stdio and over streamable HTTP: `tests/client.py` does the talking and prints one JSON
//! summary, asserted on here. Without the SDK these tests fail with the install command;
//! they never pass silently.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::TOOL_NAMES;

/// How long one client run (start, ten calls, close) may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// How to get the SDK: `scripts/test.sh` installs it into a venv of its own and points
/// `BATON_TEST_PYTHON` at it; by hand, pip does.
pub(crate) const INSTALL: &str = "run `bash scripts/test.sh` (it installs the SDK), or install it with \
    `python3 -m pip install --user mcp`";

pub(crate) fn python() -> String {
    std::env::var("BATON_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client.py")
}

/// `target/debug/examples/mcp_fixture`, next to this test's `deps/` directory. `cargo test`
/// builds examples before running tests.
pub(crate) fn fixture_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir
        .join("examples")
        .join(format!("mcp_fixture{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing; run `cargo build -p baton-mcp --examples` (plain `cargo test -p baton-mcp` builds it)",
        binary.display()
    );
    binary
}

/// Fails the test, with the install command, unless Python and its `mcp` package are there.
async fn require_python_sdk() {
    let output = Command::new(python())
        .args(["-c", "import mcp"])
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run `{}`: {error}; install Python 3", python()));
    assert!(
        output.status.success(),
        "the Python MCP SDK is missing: {}\nhint: {INSTALL}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Runs `client.py ARGS…` and returns its JSON summary.
async fn run_client(args: &[&str]) -> Value {
    let mut command = Command::new(python());
    command
        .arg(client_script())
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(CLIENT_TIMEOUT, command.output())
        .await
        .expect("the Python client timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client.py {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("client.py printed no JSON summary ({error}): {stdout}"))
}

fn assert_summary(summary: &Value) {
    assert_eq!(summary["server_name"], json!("baton"));
    assert_eq!(summary["has_instructions"], json!(true));
    assert_eq!(summary["tools"], json!(TOOL_NAMES));
    assert_eq!(summary["described"], json!(true));
    assert_eq!(summary["store_is_error"], json!(false));
    assert_eq!(summary["search_is_error"], json!(false));
    assert_eq!(summary["search_hits"], json!(["pattern-python"]));
    assert!(
        summary["search_top_score"].as_f64().unwrap() > 0.7,
        "{summary}"
    );
    assert_eq!(summary["namespaces_searched"], json!(["patterns"]));
    assert_eq!(
        summary["get_value"],
        json!({"how": "official python sdk round trip"})
    );
    assert_eq!(summary["bad_is_error"], json!(true));
    assert!(
        summary["bad_message"]
            .as_str()
            .unwrap()
            .contains("argument `limit`: invalid type"),
        "{summary}"
    );
    assert_eq!(summary["alive_after_bad"], json!(true));
}

#[tokio::test]
async fn python_sdk_client_works_over_stdio() {
    require_python_sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let fixture = fixture_binary();
    let summary = run_client(&[
        "stdio",
        fixture.to_str().unwrap(),
        "stdio",
        db.to_str().unwrap(),
    ])
    .await;
    assert_summary(&summary);
}

#[tokio::test]
async fn python_sdk_client_works_over_streamable_http_and_the_server_stops_cleanly() {
    require_python_sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let mut server = Command::new(fixture_binary())
        .args(["http", db.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let mut url = String::new();
    tokio::time::timeout(CLIENT_TIMEOUT, BufReader::new(stdout).read_line(&mut url))
        .await
        .expect("the fixture printed no URL")
        .unwrap();
    let url = url.trim();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );

    let summary = run_client(&["http", url]).await;
    assert_summary(&summary);

    // Closing its stdin cancels the server's token: it drains and exits 0.
    drop(server.stdin.take());
    let status = tokio::time::timeout(CLIENT_TIMEOUT, server.wait())
        .await
        .expect("the HTTP server did not shut down")
        .unwrap();
    assert!(status.success(), "{status}");
}
