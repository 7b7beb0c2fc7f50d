//! The `scripted-server` binary: one URL line on stdout, serving, and exit at end of stdin or
//! on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{raw_http, split_response};

/// A bound on the child's exit, so that a regression fails instead of hanging the suite.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

fn spawn(args: &[&str]) -> (Child, BufReader<ChildStdout>, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scripted-server"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn scripted-server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("URL line");
    let url = line.strip_suffix('\n').expect("a whole line");
    let addr = url
        .strip_prefix("http://")
        .and_then(|addr| addr.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("not a base URL: {line:?}"));
    assert!(addr.ip().is_loopback());
    assert_eq!(url, format!("http://{addr}"));
    (child, stdout, addr)
}

/// Waits for the child on a helper thread, failing after [`EXIT_WITHIN`].
fn wait_for_exit(mut child: Child) -> ExitStatus {
    let (done_tx, done_rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    match done_rx.recv_timeout(EXIT_WITHIN) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("scripted-server did not exit within {EXIT_WITHIN:?}");
        }
    }
}

fn chat_content(addr: SocketAddr) -> String {
    let (head, body) = split_response(&raw_http(addr, "POST", "/v1/chat/completions", "{}"));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let object: Value = serde_json::from_str(&body).expect("JSON");
    object["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned()
}

#[test]
fn binary_prints_its_url_serves_and_exits_when_stdin_closes() {
    let (mut child, mut stdout, addr) = spawn(&["--reply", "hello there"]);
    assert_eq!(chat_content(addr), "hello there");

    drop(child.stdin.take());
    let status = wait_for_exit(child);
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout");
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[test]
fn binary_exits_cleanly_on_sigterm() {
    let (mut child, _stdout, addr) = spawn(&["--ignore-stdin"]);
    assert_eq!(chat_content(addr), "ok");
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    // stdin stays open: only the signal can end it.
    let stdin = child.stdin.take();
    let status = wait_for_exit(child);
    drop(stdin);
    assert!(status.success(), "{status:?}");
}

#[test]
fn binary_serves_a_script_file_with_n_ctx_from_the_command_line() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let script = json!({
        "replies": [{"type": "status", "code": 503, "body": "{}"}],
        "default": {"type": "openai_stream", "chunks": ["scr", "ipted"]},
        "n_ctx": 1234
    });
    file.write_all(script.to_string().as_bytes())
        .expect("write script");
    let path = file.path().to_str().expect("UTF-8 path");
    let (mut child, _stdout, addr) = spawn(&["--script", path, "--n-ctx", "2048"]);

    let (head, body) = split_response(&raw_http(addr, "GET", "/props", ""));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let props: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(props["default_generation_settings"]["n_ctx"], 2048);

    let (head, _) = split_response(&raw_http(addr, "POST", "/v1/chat/completions", "{}"));
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert_eq!(chat_content(addr), "scripted");

    drop(child.stdin.take());
    assert!(wait_for_exit(child).success());
}

#[test]
fn binary_rejects_an_unreadable_script() {
    let output = Command::new(env!("CARGO_BIN_EXE_scripted-server"))
        .args(["--script", "/nonexistent/script.json"])
        .stdin(Stdio::null())
        .output()
        .expect("run scripted-server");
    assert!(!output.status.success());
    assert_eq!(output.stdout, b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/script.json"), "{stderr}");
}
