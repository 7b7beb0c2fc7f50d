//! Snapshots of the worker and server commands with real processes: the `--json` shapes of
//! `spawn`, `ps`, `wait` and `kill`, and of `server up`, `down` and `status` with a tiny
//! `[servers.web]` (Python's `http.server`); and their errors: an unknown worker (exit 7),
//! `wait --timeout` running out (exit 12), a remediation chain that fails (exit 11), an
//! unknown server (exit 3) and the log of a server that never ran (exit 7).
//!
//! Every test ends by asserting that nothing it started is still running.

use std::time::{Duration, Instant};

use crate::support::{Run, Sandbox, json_shapes, snapshot};

fn spawn_json(sandbox: &Sandbox, args: &[&str]) -> (String, Run) {
    let run = sandbox.run(&[&["spawn", "--json"][..], args].concat());
    run.assert_ok();
    let id = run.json()["id"].as_str().unwrap().to_string();
    (id, run)
}

/// Waits until `ps` reports the worker `running`: its supervisor has started it.
fn until_running(sandbox: &Sandbox, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = sandbox.run(&["ps", "--all", "--json"]).assert_ok().json();
        let status = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == id)
            .map(|w| w["status"].clone());
        if status.as_ref().is_some_and(|s| s == "running") {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never ran: {status:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn spawn_ps_wait_and_kill_json_shapes_for_a_worker_that_ends_one_that_runs_and_one_queued() {
    let sandbox = Sandbox::new();
    let (done, _) = spawn_json(
        &sandbox,
        &["--name", "hello", "--", "sh", "-c", "echo hello"],
    );
    let waited = sandbox.run(&["wait", &done, "--json"]);
    let listed = sandbox.run(&["ps", "--all", "--json"]);
    let (running, _) = spawn_json(
        &sandbox,
        &[
            "--name",
            "sleeper",
            "--max-parallel",
            "1",
            "--",
            "sh",
            "-c",
            "echo up; sleep 60",
        ],
    );
    until_running(&sandbox, &running);
    // Queued behind the running worker: spawn returns before any supervisor could start it.
    let (queued, spawned) = spawn_json(
        &sandbox,
        &[
            "--name",
            "waiting",
            "--max-parallel",
            "1",
            "--",
            "sleep",
            "60",
        ],
    );
    // The queued one first: stopping the running one would free its slot for it.
    let killed = sandbox.run(&["kill", &queued, &running, "--json"]);
    let again = sandbox.run(&["kill", &running, "--json"]);
    json_shapes!(
        sandbox,
        [
            ("wait-succeeded-json", waited),
            ("ps-json", listed),
            ("spawn-queued-json", spawned),
            ("kill-queued-and-running-json", killed),
            ("kill-already-ended-json", again),
        ],
    );
    sandbox.assert_nothing_left();
}

#[test]
fn an_unknown_worker_is_named_with_a_hint_and_exit_7() {
    let sandbox = Sandbox::new();
    for (name, args) in [
        ("logs-unknown-worker", &["logs", "wnope"][..]),
        ("wait-unknown-worker", &["wait", "wnope"][..]),
        ("kill-unknown-worker-json", &["kill", "wnope", "--json"][..]),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, 7, "{run:?}");
        snapshot!(sandbox, run, name);
    }
}

#[test]
fn wait_timeout_running_out_names_the_workers_still_running_with_exit_12() {
    let sandbox = Sandbox::new();
    let (id, _) = spawn_json(&sandbox, &["--name", "slow", "--", "sleep", "60"]);
    for (name, args) in [
        ("wait-timeout", &["wait", &id, "--timeout", "200ms"][..]),
        (
            "wait-timeout-json",
            &["wait", &id, "--timeout", "200ms", "--json"][..],
        ),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, 12, "{run:?}");
        snapshot!(sandbox, run, name);
    }
    sandbox.run(&["kill", &id]).assert_ok();
    sandbox.assert_nothing_left();
}

#[test]
fn a_failing_remediation_chain_makes_wait_name_the_chain_with_a_hint_and_exit_11() {
    let sandbox = Sandbox::new();
    let (id, _) = spawn_json(
        &sandbox,
        &[
            "--name",
            "broken",
            "--remediate",
            "1",
            "--",
            "sh",
            "-c",
            "echo boom; exit 3",
        ],
    );
    for (name, args) in [
        ("wait-chain-failed", &["wait", &id][..]),
        ("wait-chain-failed-json", &["wait", &id, "--json"][..]),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, 11, "{run:?}");
        snapshot!(sandbox, run, name);
    }
    sandbox.assert_nothing_left();
}

/// A sandbox with `[servers.web]`: Python's `http.server` on a free port, its output
/// discarded so that its log (and `last_log_line`) holds nothing that varies.
fn web_server() -> Sandbox {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = Sandbox::new().redact(port.to_string(), "WEB_PORT");
    sandbox.write(
        "baton.toml",
        &format!(
            "[servers.web]\ncommand = [\"sh\", \"-c\", \"exec python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1\"]\nhealth = \"http://127.0.0.1:{port}/\"\nstart_timeout = \"30s\"\n"
        ),
    );
    sandbox
}

#[test]
fn server_up_status_and_down_json_shapes() {
    let sandbox = web_server();
    let before = sandbox.run(&["server", "status", "--json"]);
    let up = sandbox.run(&["server", "up", "web", "--json"]);
    let status = sandbox.run(&["server", "status", "--json"]);
    let down = sandbox.run(&["server", "down", "web", "--json"]);
    let down_again = sandbox.run(&["server", "down", "web", "--json"]);
    let after = sandbox.run(&["server", "status", "--json"]);
    json_shapes!(
        sandbox,
        [
            ("server-status-never-started-json", before),
            ("server-up-json", up),
            ("server-status-up-json", status),
            ("server-down-json", down),
            ("server-down-not-running-json", down_again),
            ("server-status-down-json", after),
        ],
    );
    sandbox.assert_nothing_left();
}

#[test]
fn an_unknown_server_and_the_log_of_one_that_never_ran_are_errors_with_a_hint() {
    let sandbox = web_server();
    for (name, args, code) in [
        ("server-up-unknown", &["server", "up", "nope"][..], 3),
        (
            "server-up-unknown-json",
            &["server", "up", "nope", "--json"][..],
            3,
        ),
        ("server-logs-never-ran", &["server", "logs", "web"][..], 7),
        ("server-logs-unknown", &["server", "logs", "nope"][..], 3),
        // `down` of an unknown server is the same config error as `up`.
        ("server-down-unknown", &["server", "down", "nope"][..], 3),
    ] {
        let run = sandbox.run(args);
        assert_eq!(run.code, code, "{run:?}");
        snapshot!(sandbox, run, name);
    }
    sandbox.assert_nothing_left();
}
