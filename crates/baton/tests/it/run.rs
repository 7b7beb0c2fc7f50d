//! `baton run` through the binary: what a person at a terminal does to a run (Ctrl-C) and
//! what it leaves behind, and `baton runs`, `show` and `rollback` on the result.

use std::process::Stdio;
use std::time::{Duration, Instant};

use baton_test_support::{BlockingScriptedServer, Reply, Script};

use crate::support::Sandbox;

const TICKET: &str = "---\nid: T-9\ntitle: Clamp\n---\n\nclamp(value, low, high) in clamp.py.\n\n## Acceptance criteria\n\n- clamp keeps values in range\n";
const PLAN: &str = r#"{"summary": "clamp.py", "subtasks": [{"id": "clamp", "title": "clamp", "what": "Write clamp(value, low, high).", "files": ["clamp.py"]}]}"#;

pub(crate) fn git(sandbox: &Sandbox, args: &[&str]) {
    git_in(sandbox.path(), args);
}

/// `git ARGS` as a test user in `dir`, which must succeed.
fn git_in(dir: &std::path::Path, args: &[&str]) {
    baton_test_support::host::git(dir, args);
}

pub(crate) fn repo(sandbox: &Sandbox) {
    sandbox.write("README.md", "# clamp\n");
    git(sandbox, &["init", "--quiet", "-b", "main"]);
    git(sandbox, &["add", "README.md"]);
    git(sandbox, &["commit", "--quiet", "-m", "start"]);
    sandbox.write("T-9.md", TICKET);
    sandbox.write("plan.json", PLAN);
}

#[test]
fn ctrl_c_during_a_run_marks_it_interrupted_with_exit_19_and_leaves_nothing_running() {
    let server =
        BlockingScriptedServer::start(Script::always(Reply::HangBeforeFirstToken)).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    let child = sandbox
        .command(&["run", "T-9.md", "--plan", "plan.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The coder's request is in flight (and hangs): the run is in implementation.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.in_flight() == 0 {
        assert!(Instant::now() < deadline, "the run never dispatched");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(19), "{stderr}");
    assert!(stderr.contains("stopped by Ctrl-C"), "{stderr}");
    assert!(stderr.contains("hint: `baton resume "), "{stderr}");

    let runs = sandbox.run(&["runs", "--json"]);
    runs.assert_ok();
    let listed = runs.json();
    assert_eq!(listed[0]["status"], "interrupted", "{listed}");
    assert_eq!(listed[0]["ticket"], "T-9");
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let shown = sandbox.run(&["show", &id, "--json"]);
    shown.assert_ok();
    let events = shown.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.last().unwrap()["kind"], "run.ended");
    assert_eq!(events.last().unwrap()["data"]["status"], "interrupted");
    let jsonl = std::fs::read_to_string(
        sandbox
            .path()
            .join(format!(".baton/runs/{id}/events.jsonl")),
    )
    .unwrap();
    assert!(
        jsonl.lines().last().unwrap().contains("\"interrupted\""),
        "{jsonl}"
    );

    let rolled = sandbox.run(&["rollback", &id, "--json"]);
    rolled.assert_ok();
    assert_eq!(rolled.json()["worktree_removed"], true);
    assert!(
        !sandbox
            .path()
            .join(format!(".baton/worktrees/{id}"))
            .exists()
    );
    sandbox.assert_nothing_left();
}

const TWO: &str = r#"{"summary": "two modules", "subtasks": [
  {"id": "first", "title": "first", "what": "Write first.py.", "files": ["first.py"]},
  {"id": "second", "title": "second", "what": "Write second.py.", "files": ["second.py"]}]}"#;

/// Runs the two-subtask plan, one subtask at a time, and kills it (SIGKILL) once `first` is
/// committed and `second`'s request hangs.
/// A reviewer's approval, as the reviewer's JSON answer.
fn approve() -> String {
    serde_json::json!({"approved": true, "findings": [], "required_fixes": []}).to_string()
}

/// The coder writes `clamp.py` at once and the reviewer approves.
fn clamp_then_approve() -> Script {
    Script::new()
        .when(
            "Subtask clamp:",
            Reply::text("clamp.py\n```python\nX = 1\n```\n"),
        )
        .when("Review this change", Reply::text(approve()))
}

fn kill_when_second_hangs(sandbox: &Sandbox, server: &BlockingScriptedServer) {
    let mut child = sandbox
        .command(&[
            "-c",
            "run.parallel=1",
            "run",
            "T-9.md",
            "--plan",
            "two.json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Chat requests only: the probes of the server (`/props`, `/v1/models`) count as
    // requests too, and would let the kill fall while the first subtask is still at work.
    let second_asked = || {
        server.requests().iter().any(|request| {
            request.is_chat() && request.body.to_string().contains("Subtask second:")
        })
    };
    while !second_asked() || server.in_flight() == 0 {
        assert!(
            Instant::now() < deadline,
            "the run never reached its second subtask"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn commits(sandbox: &Sandbox, branch: &str) -> Vec<String> {
    let done = std::process::Command::new("git")
        .args([
            "log",
            "--reverse",
            "--format=%H %s",
            &format!("main..{branch}"),
        ])
        .current_dir(sandbox.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&done.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_run_killed_during_implementation_resumes_without_redoing_its_commit() {
    let approve = approve();
    let script = Script::new()
        .when(
            "Subtask first:",
            Reply::text("first.py\n```python\nFIRST = 1\n```\n"),
        )
        .when("Subtask second:", Reply::HangBeforeFirstToken)
        .when(
            "Subtask second:",
            Reply::text("second.py\n```python\nSECOND = 2\n```\n"),
        )
        .when("Review this change", Reply::text(approve));
    let server = BlockingScriptedServer::start(script).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    sandbox.write("two.json", TWO);
    kill_when_second_hangs(&sandbox, &server);
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(
        listed[0]["status"], "running",
        "a killed run cannot say otherwise: {listed}"
    );
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let branch = format!("baton/{id}");
    let before = commits(&sandbox, &branch);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(
        before[0].ends_with("(implementation, dispatch 1)"),
        "{before:?}"
    );

    let resumed = sandbox.run(&["-c", "run.parallel=1", "resume", &id[..10], "--json"]);
    resumed.assert_ok();
    let after = commits(&sandbox, &branch);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], before[0], "the committed subtask was not redone");
    assert!(
        after[1].ends_with("(implementation, dispatch 2)"),
        "{after:?}"
    );
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["run"]["status"], "approved", "{shown}");
    let kinds: Vec<String> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"run.resumed".to_string()), "{kinds:?}");
    let first_dispatches = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "subtask.dispatched" && e["data"]["subtask"] == "first")
        .count();
    assert_eq!(first_dispatches, 1);
    sandbox.assert_nothing_left();
}

#[test]
fn a_run_whose_coder_cannot_be_reached_ends_failed_with_the_reason_and_exit_4() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = Sandbox::new().coder_url(&format!("http://127.0.0.1:{port}/v1"));
    repo(&sandbox);
    let run = sandbox.run(&[
        "-c",
        "backends.local.retries=0",
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
    ]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(listed[0]["status"], "failed", "{listed}");
    assert!(
        listed[0]["why"]
            .as_str()
            .unwrap()
            .contains(&port.to_string()),
        "{listed}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn an_external_review_waits_then_a_rejection_is_fixed_and_an_approval_signs_it_off() {
    let script = Script::new()
        .when(
            "Subtask clamp:",
            Reply::text("clamp.py\n```python\ndef clamp(v, lo, hi):\n    return v\n```\n"),
        )
        .when(
            "The reviewer rejected",
            Reply::text(
                "clamp.py\n```python\ndef clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n```\n",
            ),
        );
    let server = BlockingScriptedServer::start(script).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    let run = sandbox.run(&[
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
        "--review",
        "external",
        "--json",
    ]);
    run.assert_ok();
    let summary: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["run"]["status"], "awaiting_review", "{summary}");
    let id = summary["run"]["id"].as_str().unwrap().to_string();
    // Every line before the summary is an event.
    assert!(
        run.stdout
            .lines()
            .next()
            .unwrap()
            .contains("\"kind\":\"run.started\""),
        "{}",
        run.stdout
    );
    let chats_before = server.request_count();

    let empty = sandbox.run(&["review", &id, "--reject", " "]);
    assert_eq!(empty.code, 7, "{}", empty.stderr);
    assert!(empty.stderr.contains("hint:"), "{}", empty.stderr);

    let rejected = sandbox.run(&["review", &id, "--reject", "clamp must keep values in range"]);
    rejected.assert_ok();
    assert!(
        server.request_count() > chats_before,
        "the rejection went to the coder"
    );
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["run"]["status"], "awaiting_review", "{shown}");
    let worktree = shown["run"]["worktree"].as_str().unwrap();
    let clamp = std::fs::read_to_string(std::path::Path::new(worktree).join("clamp.py")).unwrap();
    assert!(clamp.contains("max(lo, min(v, hi))"), "{clamp}");

    let approved = sandbox.run(&["review", &id, "--approve"]);
    approved.assert_ok();
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["run"]["status"], "approved", "{shown}");
    let verdicts: Vec<bool> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "review.verdict")
        .map(|e| e["data"]["verdict"]["approved"].as_bool().unwrap())
        .collect();
    assert_eq!(verdicts, vec![false, true]);
    let again = sandbox.run(&["review", &id, "--approve"]);
    assert_eq!(again.code, 7, "{}", again.stderr);
    assert!(
        again.stderr.contains("not awaiting a review"),
        "{}",
        again.stderr
    );
    sandbox.assert_nothing_left();
}

#[test]
fn budgets_end_a_run_as_exhausted_with_exit_18_and_its_reports_written() {
    let script = Script::new()
        .when(
            "Subtask clamp:",
            Reply::text("clamp.py\n```python\nX = 1\n```\n"),
        )
        .default(Reply::HangBeforeFirstToken);
    let server = BlockingScriptedServer::start(script).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    // The gate fails and no fix is allowed.
    let run = sandbox.run(&[
        "-c",
        "verify.test=exit 1",
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
        "--max-iterations",
        "0",
    ]);
    assert_eq!(run.code, 18, "{}", run.stderr);
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(listed[0]["status"], "budget_exhausted", "{listed}");
    assert!(
        listed[0]["why"]
            .as_str()
            .unwrap()
            .contains("fix iterations"),
        "{listed}"
    );
    let id = listed[0]["id"].as_str().unwrap();
    assert!(
        sandbox
            .path()
            .join(format!(".baton/runs/{id}/PR.md"))
            .is_file()
    );

    // A fix that hangs past the run's wall time is cancelled.
    let timed = sandbox.run(&[
        "-c",
        "verify.test=exit 1",
        "run",
        "T-9.md",
        "--plan",
        "plan.json",
        "--timeout",
        "2s",
    ]);
    assert_eq!(timed.code, 18, "{}", timed.stderr);
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert!(
        listed[0]["why"].as_str().unwrap().contains("wall time"),
        "{listed}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_commit_made_but_not_recorded_before_a_kill_is_found_by_its_trailers_and_not_redone() {
    let approve = approve();
    let script = Script::new()
        .when(
            "Subtask first:",
            Reply::text("first.py\n```python\nFIRST = 1\n```\n"),
        )
        .when("Subtask second:", Reply::HangBeforeFirstToken)
        .when("Review this change", Reply::text(approve));
    let server = BlockingScriptedServer::start(script).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    sandbox.write("two.json", TWO);
    kill_when_second_hangs(&sandbox, &server);
    let id = sandbox.run(&["runs", "--json"]).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What a coordinator killed between its commit and its event leaves: the commit alone.
    let worktree = sandbox.path().join(format!(".baton/worktrees/{id}"));
    std::fs::write(worktree.join("second.py"), "SECOND = 2\n").unwrap();
    git_in(&worktree, &["add", "second.py"]);
    git_in(
        &worktree,
        &[
            "commit",
            "--quiet",
            "-m",
            "T-9: Clamp (implementation, dispatch 2)\n\nBaton-Run: x\nBaton-Subtask: second\nBaton-Dispatch: 2\n",
        ],
    );
    let requests_before = server.request_count();
    let resumed = sandbox.run(&["resume", &id]);
    resumed.assert_ok();
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["run"]["status"], "approved", "{shown}");
    let events = shown["events"].as_array().unwrap();
    let resumed_event = events.iter().find(|e| e["kind"] == "run.resumed").unwrap();
    assert_eq!(
        resumed_event["data"]["found_by_trailers"],
        serde_json::json!(["second"])
    );
    let second_dispatches = events
        .iter()
        .filter(|e| e["kind"] == "subtask.dispatched" && e["data"]["subtask"] == "second")
        .count();
    assert_eq!(second_dispatches, 0, "second was redone");
    // Only the reviewer was asked after the resume.
    assert_eq!(server.request_count(), requests_before + 1);
    assert_eq!(commits(&sandbox, &format!("baton/{id}")).len(), 2);
    sandbox.assert_nothing_left();
}

#[test]
fn merge_fast_forwards_the_base_branch_once_approved_and_keeps_the_users_changes() {
    let server = BlockingScriptedServer::start(clamp_then_approve()).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    sandbox.write("README.md", "# clamp, edited by hand\n");
    let run = sandbox.run(&["run", "T-9.md", "--plan", "plan.json", "--merge"]);
    run.assert_ok();
    let listed = sandbox.run(&["runs", "--json"]).json();
    assert_eq!(listed[0]["status"], "approved");
    let branch = listed[0]["branch"].as_str().unwrap();
    let rev = |name: &str| {
        let done = std::process::Command::new("git")
            .args(["rev-parse", name])
            .current_dir(sandbox.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&done.stdout).trim().to_string()
    };
    assert_eq!(rev("main"), rev(branch), "main was fast-forwarded");
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("clamp.py")).unwrap(),
        "X = 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("README.md")).unwrap(),
        "# clamp, edited by hand\n",
        "the user's uncommitted change is kept"
    );
    // A merged run is reverted on a branch of its own; the user's branch and tree stay.
    let id = listed[0]["id"].as_str().unwrap();
    let main_before = rev("main");
    let rollback = sandbox.run(&["rollback", id, "--json"]);
    rollback.assert_ok();
    let done = rollback.json();
    let revert_branch = done["revert_branch"].as_str().unwrap().to_string();
    assert_eq!(revert_branch, format!("{branch}-revert"));
    assert_eq!(done["revert_commit"].as_str().unwrap(), rev(&revert_branch));
    assert_eq!(rev("main"), main_before, "the user's branch did not move");
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("clamp.py")).unwrap(),
        "X = 1\n"
    );
    let tree = |name: &str| rev(&format!("{name}^{{tree}}"));
    let base = listed[0]["base_commit"].as_str().unwrap();
    assert_eq!(
        tree(&revert_branch),
        tree(base),
        "the revert undoes the run's changes"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_run_killed_during_verification_resumes_stopping_its_orphaned_gate_and_keeping_its_commits() {
    let server = BlockingScriptedServer::start(clamp_then_approve()).unwrap();
    let sandbox = Sandbox::new().coder_url(&server.openai_url());
    repo(&sandbox);
    // The first run of the gate marks itself and hangs; the next one passes.
    let marker = sandbox.path().join("gate-ran");
    let gate = format!(
        "verify.test=if [ -e {m} ]; then exit 0; fi; touch {m}; sleep 60",
        m = marker.display()
    );
    let mut child = sandbox
        .command(&["-c", &gate, "run", "T-9.md", "--plan", "plan.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the gate never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let id = sandbox.run(&["runs", "--json"]).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let branch = format!("baton/{id}");
    let before = commits(&sandbox, &branch);
    assert_eq!(before.len(), 1, "{before:?}");

    let resumed = sandbox.run(&["-c", &gate, "resume", &id]);
    resumed.assert_ok();
    assert_eq!(commits(&sandbox, &branch), before, "nothing was redone");
    let shown = sandbox.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["run"]["status"], "approved", "{shown}");
    let gates: Vec<bool> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "verify.ran")
        .map(|e| e["data"]["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(
        gates,
        vec![true],
        "the killed gate left no result; the resumed one passed"
    );
    // The `sleep 60` the dead coordinator left behind was stopped by the resume.
    sandbox.assert_nothing_left();
}
