//! `baton run --detach`: the run's coordinator is a supervised process of its own; the
//! command answers at once with the run and its worker, and `baton show`, `baton runs` and
//! `baton ps` follow the run from other processes. A coordinator that fails before it
//! records the run is the command's error, with the end of its log.

use std::time::{Duration, Instant};

use baton_test_support::{BlockingScriptedServer, Reply, Script};

use crate::run::repo;
use crate::support::Sandbox;

/// How long a detached run may take to stop for its review, and its processes to end.
const STATE_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two reads of a run's state.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `baton show RUN --json` until the run's status is `status` and no process of its is
/// left (its coordinator's worker ended); the last `show`.
#[track_caller]
pub(crate) fn until(sandbox: &Sandbox, run: &str, status: &str) -> serde_json::Value {
    let deadline = Instant::now() + STATE_TIMEOUT;
    loop {
        let shown = sandbox.run(&["show", run, "--json"]);
        shown.assert_ok();
        let shown = shown.json();
        let worker = sandbox.run(&["ps", "--json"]).json();
        let coordinator_ended = worker.as_array().unwrap().iter().any(|worker| {
            worker["name"] == format!("run:{run}") && worker["status"] == "succeeded"
        });
        if shown["run"]["status"] == status && coordinator_ended {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} never got to {status} with its process ended: {shown}\nworkers: {worker}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

#[test]
fn run_detach_answers_at_once_with_the_run_and_its_worker_and_show_and_runs_follow_it() {
    let server = BlockingScriptedServer::start(Script::always(Reply::text(
        "clamp.py\n```python\nX = 1\n```\n",
    )))
    .unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);

    let started = sandbox.run(&[
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
        "--review",
        "external",
        "--detach",
        "--json",
    ]);
    started.assert_ok();
    assert_eq!(started.stderr, "", "--json printed on stderr");
    let started = started.json();
    let run = started["run"].as_str().unwrap().to_string();
    let worker = started["worker"].as_str().unwrap().to_string();
    assert!(worker.starts_with('w'), "{started}");
    assert_eq!(
        started["ticket"],
        sandbox.path().join("T-9.md").to_string_lossy().as_ref()
    );
    assert_eq!(
        started["plan"],
        sandbox.path().join("plan.json").to_string_lossy().as_ref()
    );
    // Recorded before the answer; it may even have reached its review already.
    assert!(
        ["running", "awaiting_review"].contains(&started["status"].as_str().unwrap_or_default()),
        "{started}"
    );
    assert!(
        std::path::Path::new(started["log"].as_str().unwrap()).is_file(),
        "{started}"
    );

    let shown = until(&sandbox, &run, "awaiting_review");
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"subtask.committed"), "{kinds:?}");
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(listed[0]["id"], run.as_str(), "{listed}");
    assert_eq!(listed[0]["status"], "awaiting_review");
    let logs = sandbox.run(&["logs", &worker]);
    logs.assert_ok();
    assert!(
        logs.stdout.contains("implementation: done"),
        "{}",
        logs.stdout
    );
    // The run goes on as any other: a verdict from the command line signs it off.
    sandbox.run(&["review", &run, "--approve"]).assert_ok();
    let shown = sandbox.run(&["show", &run, "--json"]).json();
    assert_eq!(shown["run"]["status"], "approved", "{shown}");

    // Without `--json`: the run and its worker, then how to follow it.
    let text = sandbox.run(&[
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
        "--review",
        "external",
        "--detach",
    ]);
    text.assert_ok();
    let first = text.stdout.lines().next().unwrap_or_default();
    let second_run = first
        .strip_prefix("run ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in {:?}", text.stdout))
        .to_string();
    assert!(
        first.contains(" started (") && first.contains("), worker w"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("follow it with `baton show {second_run}`")),
        "{}",
        text.stdout
    );
    until(&sandbox, &second_run, "awaiting_review");
    sandbox.assert_nothing_left();
}

#[test]
fn run_detach_of_a_run_whose_coordinator_fails_at_once_is_an_error_with_its_log() {
    // The orchestrator drafts the spec of a ticket without acceptance criteria, before the run
    // is recorded; it listens nowhere (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = Sandbox::offline();
    repo(&sandbox);
    sandbox.write(
        "baton.toml",
        &format!(
            "[backends.dead]\nurls = [\"http://127.0.0.1:{port}/v1\"]\nretries = 0\n\n\
             [profiles.spec]\nbackend = \"dead\"\nmodel = \"m\"\nfallback = []\n\n\
             [roles]\norchestrator = \"spec\"\n"
        ),
    );
    sandbox.write(
        "vague.md",
        "---\nid: T-10\ntitle: Vague\n---\n\nMake clamp better.\n",
    );

    let failed = sandbox.run(&["run", "vague.md", "--plan", "plan.json", "--detach"]);

    assert_eq!(failed.code, 7, "{failed:?}");
    let first = failed.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: run `"), "{}", failed.stderr);
    assert!(
        first.contains("did not start: its process (worker `w"),
        "{}",
        failed.stderr
    );
    assert!(
        first.contains("ended failed (exited with code 4); its log ends: cannot connect to"),
        "{}",
        failed.stderr
    );
    assert!(
        first.contains(&port.to_string()),
        "the log names the orchestrator it could not reach: {}",
        failed.stderr
    );
    // One line of error, one of hint: the coordinator's own, and where its log is.
    assert_eq!(failed.stderr.lines().count(), 2, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .lines()
            .nth(1)
            .is_some_and(|hint| hint.starts_with("hint: start the model server")
                && hint.contains("; the whole log is in `baton logs w")),
        "{}",
        failed.stderr
    );
    assert_eq!(
        sandbox.run(&["runs", "--json"]).json(),
        serde_json::json!([])
    );
    // A dry run creates nothing, so there is nothing to detach.
    let both = sandbox.run(&["run", "T-9.md", "--detach", "--dry-run"]);
    assert_eq!(both.code, 2, "{both:?}");
    sandbox.assert_nothing_left();
}
