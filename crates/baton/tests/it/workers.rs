//! `baton spawn`, `ps`, `logs`, `wait`, `kill` with real processes: exits, deadlines, kill
//! ladders, grandchildren, floods, checkpoints, queues, remediation chains, lost supervisors.
//! Every test ends by asserting that nothing it started is still running.

use std::time::Duration;

use crate::support::Sandbox;

fn ps(sandbox: &Sandbox, id: &str) -> serde_json::Value {
    let rows = sandbox.run(&["ps", "--all", "--json"]).assert_ok().json();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not listed: {rows}"))
}

#[test]
fn a_worker_that_exits_0_succeeds_and_its_log_is_timestamped() {
    let sandbox = Sandbox::new();
    let id = sandbox.spawn(&["--", "sh", "-c", "echo hello from the worker"]);
    assert!(id.starts_with('w'), "{id}");
    sandbox.run(&["wait", &id]).assert_ok();
    let worker = ps(&sandbox, &id);
    assert_eq!(worker["status"], "succeeded");
    assert_eq!(worker["exit_code"], 0);
    let log = sandbox.run(&["logs", &id]).assert_ok().stdout.clone();
    let line = log
        .lines()
        .find(|l| l.contains("hello from the worker"))
        .unwrap();
    assert!(line.starts_with("20") && line.contains("Z "), "{line}");
    sandbox.assert_nothing_left();
}

#[test]
fn a_worker_that_exits_3_fails_and_wait_says_so() {
    let sandbox = Sandbox::new();
    let id = sandbox.spawn(&["--", "sh", "-c", "exit 3"]);
    let run = sandbox.run(&["wait", &id]);
    assert_eq!(run.code, 11, "{run:?}");
    let worker = ps(&sandbox, &id);
    assert_eq!(worker["status"], "failed");
    assert!(
        worker["why"].as_str().unwrap().contains("code 3"),
        "{worker}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_worker_ignoring_sigterm_is_killed_after_the_grace_period_with_its_grandchildren() {
    let sandbox = Sandbox::new();
    let script = "trap '' TERM; sleep 300 & echo $! > grandchild.pid; while :; do sleep 0.05; done";
    let id = sandbox.spawn(&[
        "--timeout",
        "500ms",
        "--grace",
        "300ms",
        "--",
        "sh",
        "-c",
        script,
    ]);
    let run = sandbox.run(&["wait", &id]);
    assert_eq!(run.code, 11, "{run:?}");
    let worker = ps(&sandbox, &id);
    assert_eq!(worker["status"], "timed_out");
    let grandchild: i32 = std::fs::read_to_string(sandbox.path().join("grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{grandchild}")).exists()
            || std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .unwrap_or_default()
                .contains(") Z")
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_silent_worker_is_hung_at_its_idle_deadline() {
    let sandbox = Sandbox::new();
    let id = sandbox.spawn(&[
        "--idle-timeout",
        "400ms",
        "--",
        "sh",
        "-c",
        "echo started; sleep 60",
    ]);
    sandbox.run(&["wait", &id]);
    let worker = ps(&sandbox, &id);
    assert_eq!(worker["status"], "hung", "{worker}");
    assert!(
        worker["why"].as_str().unwrap().contains("no output"),
        "{worker}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_flooding_worker_keeps_its_log_under_the_cap_with_head_and_tail() {
    let sandbox = Sandbox::new();
    let script = "echo FIRST-LINE; i=0; while [ $i -lt 40000 ]; do echo line $i of the flood; i=$((i+1)); done; echo LAST-LINE";
    let id = sandbox.spawn(&["--log-cap", "65536", "--", "sh", "-c", script]);
    sandbox.run(&["wait", &id]).assert_ok();
    let log_path = ps(&sandbox, &id)["log_path"].as_str().unwrap().to_string();
    let size = std::fs::metadata(&log_path).unwrap().len();
    assert!(size <= 65536 + 65536, "log is {size} bytes");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("FIRST-LINE") && log.contains("LAST-LINE") && log.contains("omitted"),
        "{}",
        &log[..200]
    );
    sandbox.assert_nothing_left();
}

#[test]
fn checkpoints_decide_success() {
    let sandbox = Sandbox::new();
    let met = sandbox.spawn(&[
        "--expect",
        "reports/*.md",
        "--expect-pass",
        "--",
        "sh",
        "-c",
        "mkdir -p reports && echo 'QA: PASS' > reports/qa.md",
    ]);
    let fail = sandbox.spawn(&[
        "--expect",
        "verdict.txt",
        "--expect-pass",
        "--",
        "sh",
        "-c",
        "echo 'FAIL: 2 tests' > verdict.txt",
    ]);
    let missing = sandbox.spawn(&["--expect", "done.flag", "--", "true"]);
    sandbox.run(&["wait", &met]).assert_ok();
    assert_eq!(sandbox.run(&["wait", &fail]).code, 11);
    assert_eq!(sandbox.run(&["wait", &missing]).code, 11);
    assert!(
        ps(&sandbox, &fail)["why"]
            .as_str()
            .unwrap()
            .contains("verdict.txt")
    );
    assert!(
        ps(&sandbox, &missing)["why"]
            .as_str()
            .unwrap()
            .contains("done.flag")
    );
    sandbox.assert_nothing_left();
}

#[test]
fn a_failed_worker_is_remediated_with_its_task_and_log_and_the_chain_succeeds() {
    let sandbox = Sandbox::new();
    let script = r#"case "$BATON_PROMPT" in *"previous worker"*) echo "$BATON_PROMPT" > remediation-prompt.txt; exit 0;; *) echo "boom: missing semicolon"; exit 1;; esac"#;
    let id = sandbox.spawn(&[
        "--remediate",
        "2",
        "--name",
        "impl",
        "Implement the parser",
        "--",
        "sh",
        "-c",
        script,
    ]);
    let run = sandbox.run(&["wait", &id]);
    assert_eq!(run.code, 0, "the chain ended in success: {run:?}");
    let prompt = std::fs::read_to_string(sandbox.path().join("remediation-prompt.txt")).unwrap();
    assert!(
        prompt.contains("Implement the parser") && prompt.contains("boom: missing semicolon"),
        "{prompt}"
    );
    let rows = sandbox.run(&["ps", "--all", "--json"]).assert_ok().json();
    let fix = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["remediation_of"] == id.as_str())
        .unwrap();
    assert_eq!(fix["status"], "succeeded");
    let table = sandbox.run(&["ps", "--all"]).assert_ok().stdout.clone();
    assert!(
        table.contains(&format!("└ {}", fix["id"].as_str().unwrap())),
        "{table}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn fifty_workers_with_max_parallel_8_never_run_more_than_8_at_once() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path().join("running")).unwrap();
    let script = "touch running/$$; ls running | wc -l >> counts; sleep 0.2; rm running/$$";
    for _ in 0..50 {
        sandbox.spawn(&["--max-parallel", "8", "--", "sh", "-c", script]);
    }
    sandbox
        .run(&["wait", "--all", "--timeout", "120s"])
        .assert_ok();
    let counts: Vec<u32> = std::fs::read_to_string(sandbox.path().join("counts"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 50);
    assert!(counts.iter().all(|c| *c <= 8), "{counts:?}");
    assert!(
        counts.iter().any(|c| *c >= 4),
        "they did run in parallel: {counts:?}"
    );
    sandbox.assert_nothing_left();
}

#[test]
fn kill_stops_a_running_worker_and_a_queued_one() {
    let sandbox = Sandbox::new();
    let running = sandbox.spawn(&["--max-parallel", "1", "--", "sh", "-c", "echo up; sleep 60"]);
    let queued = sandbox.spawn(&["--max-parallel", "1", "--", "sleep", "60"]);
    assert_eq!(ps(&sandbox, &queued)["status"], "queued");
    let run = sandbox.run(&["kill", &queued, &running]);
    run.assert_ok();
    assert_eq!(ps(&sandbox, &running)["status"], "killed");
    assert_eq!(ps(&sandbox, &queued)["status"], "killed");
    sandbox.assert_nothing_left();
}

#[test]
fn a_supervisor_killed_with_sigkill_leaves_its_worker_lost_and_nothing_running() {
    let sandbox = Sandbox::new();
    let id = sandbox.spawn(&["--", "sh", "-c", "echo up; sleep 60"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let worker = loop {
        let worker = ps(&sandbox, &id);
        if worker["status"] == "running" {
            break worker;
        }
        assert!(std::time::Instant::now() < deadline, "never ran: {worker}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let store = sandbox.store();
    let record = store.worker(&id).unwrap().unwrap();
    let supervisor = record.supervisor_pid.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{supervisor}/cmdline")).exists()
        && !std::fs::read_to_string(format!("/proc/{supervisor}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = ps(&sandbox, &id);
    assert_eq!(after["status"], "lost", "{after}");
    assert!(
        after["why"]
            .as_str()
            .unwrap()
            .contains(&supervisor.to_string())
    );
    let _ = worker;
    sandbox.assert_nothing_left();
}

#[test]
fn a_reused_pid_is_never_signalled() {
    let sandbox = Sandbox::new();
    // A process that is not ours, standing where a dead supervisor and worker used to be.
    let mut bystander = std::process::Command::new("sleep")
        .arg("30")
        .current_dir("/")
        .spawn()
        .unwrap();
    let pid = bystander.id();
    let store = sandbox.store();
    let spec = baton_core::WorkerSpec::new("old", vec!["true".into()], "/");
    let mut record = baton_core::WorkerRecord::queued("wdeadbeef", spec, "/nonexistent", 0);
    store.insert_worker(&record).unwrap();
    store.claim_next_queued().unwrap().unwrap();
    // Same PIDs, but start times that are not the bystander's: a PID that was reused.
    store.mark_supervisor(&record.id, pid, 1).unwrap();
    store.mark_started(&record.id, pid, pid, 1, 0, 0).unwrap();
    record.status = baton_core::WorkerStatus::Running;
    let listed = ps(&sandbox, &record.id);
    assert_eq!(listed["status"], "lost");
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander was signalled"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn wait_with_poll_and_max_cycles_stops_what_still_runs_as_hung() {
    let sandbox = Sandbox::new();
    let id = sandbox.spawn(&["--", "sh", "-c", "echo working; sleep 60"]);
    let run = sandbox.run(&["wait", &id, "--poll", "100ms", "--max-cycles", "3"]);
    assert_eq!(run.code, 11, "{run:?}");
    let cycles: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" cycle "))
        .collect();
    assert_eq!(cycles.len(), 3, "{run:?}");
    assert!(cycles[2].contains("cycle 3/3"));
    assert_eq!(ps(&sandbox, &id)["status"], "hung");
    sandbox.assert_nothing_left();
}

#[test]
fn a_worker_in_tmux_can_be_attached_while_it_runs() {
    let sandbox = Sandbox::new();
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        panic!("tmux is not installed; .ci/run installs it");
    }
    std::fs::write(sandbox.path().join("go"), "").unwrap();
    let id = sandbox.spawn(&[
        "--tmux",
        "--",
        "sh",
        "-c",
        "echo in tmux; while [ -f go ]; do sleep 0.05; done",
    ]);
    let session = format!("baton-{id}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::process::Command::new("tmux")
        .args(["has-session", "-t", &session])
        .status()
        .unwrap()
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no tmux session {session}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_file(sandbox.path().join("go")).unwrap();
    sandbox.run(&["wait", &id]).assert_ok();
    sandbox.assert_nothing_left();
}

#[test]
fn spawn_refuses_an_unknown_kind_and_a_kind_without_its_task() {
    let sandbox = Sandbox::new();
    let unknown = sandbox.run(&["spawn", "--kind", "nope", "x"]);
    assert_eq!(unknown.code, 3, "{unknown:?}");
    assert!(unknown.stderr.contains("known: aider") && unknown.stderr.contains("hint:"));
    let no_task = sandbox.run(&["spawn", "--kind", "codex"]);
    assert_eq!(no_task.code, 2, "{no_task:?}");
    assert!(no_task.stderr.contains("needs a task"));
}

#[test]
fn a_kind_template_puts_the_task_in_its_command() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "baton.toml",
        "[workers.echo]\ncommand = [\"sh\", \"-c\", \"echo task was: $0\", \"{prompt}\"]\n",
    );
    let json = sandbox
        .run(&["spawn", "--kind", "echo", "write the tests", "--json"])
        .assert_ok()
        .json();
    let id = json["id"].as_str().unwrap().to_string();
    assert_eq!(json["command"][3], "write the tests");
    sandbox.run(&["wait", &id]).assert_ok();
    assert!(
        sandbox
            .run(&["logs", &id])
            .stdout
            .contains("task was: write the tests")
    );
    sandbox.assert_nothing_left();
}
