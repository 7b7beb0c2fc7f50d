//! Agent workers under supervision: how they end, deadlines, the kill ladder, leftovers,
//! checkpoints, environment and output.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use baton_core::WorkerStatus;
use baton_exec::StopRequest;
use baton_exec::proc::group_alive;
use pretty_assertions::assert_eq;

use crate::support::{
    Recorder, Seen, group_has_live_members, log_bodies, read_pids, run, run_controlled,
    sleep_is_gone, spec, wait_for,
};

#[tokio::test]
async fn a_worker_that_exits_0_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &spec(dir.path(), "echo all done")).await;
    assert_eq!(run.outcome.status, WorkerStatus::Succeeded);
    assert_eq!(run.outcome.why, None);
    assert_eq!(run.outcome.exit_code, Some(0));
    assert!(
        run.outcome.log_tail.ends_with("all done\n"),
        "{:?}",
        run.outcome.log_tail
    );
    let started = run.recorder.started();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].pgid, started[0].pid,
        "the child leads its own group"
    );
    assert_eq!(started[0].restarts, 0);
    assert!(started[0].process_start > 0);
}

#[tokio::test]
async fn a_worker_that_exits_3_failed_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &spec(dir.path(), "echo oops >&2; exit 3")).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert_eq!(run.outcome.why.as_deref(), Some("exited with code 3"));
    assert_eq!(run.outcome.exit_code, Some(3));
    assert!(run.outcome.log_tail.contains("oops"));
}

#[tokio::test]
async fn a_worker_killed_by_a_signal_failed_naming_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &spec(dir.path(), "kill -SEGV $$")).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert_eq!(run.outcome.why.as_deref(), Some("killed by signal SIGSEGV"));
    assert_eq!(run.outcome.exit_code, None);
}

#[tokio::test]
async fn a_worker_past_its_deadline_is_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "echo working; sleep 300");
    spec.timeout_ms = Some(300);
    spec.grace_ms = 10_000;
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::TimedOut);
    assert_eq!(
        run.outcome.why.as_deref(),
        Some("ran past its 300ms deadline")
    );
    assert!(run.took >= Duration::from_millis(300));
    // `sleep` goes at SIGTERM: the ladder does not wait out the grace period.
    assert!(
        run.took < Duration::from_millis(10_000),
        "took {:?}",
        run.took
    );
    assert!(log_bodies(&run.log).contains(&"baton: ran past its 300ms deadline".to_string()));
}

#[tokio::test]
async fn a_worker_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(
        dir.path(),
        "trap '' TERM; echo stubborn; while :; do sleep 0.1; done",
    );
    spec.timeout_ms = Some(200);
    spec.grace_ms = 400;
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::TimedOut);
    assert_eq!(
        run.outcome.why.as_deref(),
        Some("ran past its 200ms deadline")
    );
    // Killed by SIGKILL, so no exit code; and only after the grace period.
    assert_eq!(run.outcome.exit_code, None);
    assert!(
        run.took >= Duration::from_millis(200 + 400),
        "took {:?}",
        run.took
    );
}

#[tokio::test]
async fn grandchildren_are_gone_with_their_group_after_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let script = "sleep 300 & echo $! >> kids.tmp; sleep 300 & echo $! >> kids.tmp; \
                  mv kids.tmp kids; echo forked; wait";
    let mut spec = spec(dir.path(), script);
    spec.timeout_ms = Some(1_000);
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::TimedOut);
    let kids = read_pids(&dir.path().join("kids"));
    assert_eq!(kids.len(), 2);
    assert!(
        kids.iter().all(|&kid| sleep_is_gone(kid)),
        "grandchildren left: {kids:?}"
    );
    assert!(!group_alive(run.recorder.started()[0].pgid));
}

#[tokio::test]
async fn grandchildren_left_behind_by_a_worker_that_succeeded_are_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let script = "sleep 300 & echo $! > kid.tmp; mv kid.tmp kid; exit 0";
    let run = run(dir.path(), &spec(dir.path(), script)).await;
    assert_eq!(run.outcome.status, WorkerStatus::Succeeded);
    let kid = read_pids(&dir.path().join("kid"))[0];
    assert!(sleep_is_gone(kid), "grandchild {kid} left running");
}

#[tokio::test]
async fn a_grandchild_that_escaped_with_setsid_is_killed_too() {
    let dir = tempfile::tempdir().unwrap();
    // The daemon leaves the group and the session; once its parent exits it is re-parented to
    // the supervisor (a subreaper), which must find and stop it.
    let script = "setsid sh -c 'echo $$ > daemon.tmp; mv daemon.tmp daemon; exec sleep 300' \
                    </dev/null >/dev/null 2>&1 & \
                  while [ ! -f daemon ]; do sleep 0.01; done; echo parent exits";
    let run = run(dir.path(), &spec(dir.path(), script)).await;
    assert_eq!(run.outcome.status, WorkerStatus::Succeeded);
    let daemon = read_pids(&dir.path().join("daemon"))[0];
    assert!(
        sleep_is_gone(daemon),
        "escaped daemon {daemon} left running"
    );
}

#[tokio::test]
async fn an_escaped_daemon_holding_the_output_pipe_does_not_hold_up_the_end() {
    let dir = tempfile::tempdir().unwrap();
    // Same as above, but the daemon keeps stdout: the pipe closes only once it is killed.
    let script = "setsid sh -c 'echo $$ > daemon.tmp; mv daemon.tmp daemon; exec sleep 300' & \
                  while [ ! -f daemon ]; do sleep 0.01; done";
    let run = run(dir.path(), &spec(dir.path(), script)).await;
    assert_eq!(run.outcome.status, WorkerStatus::Succeeded);
    assert!(run.took < Duration::from_secs(2), "took {:?}", run.took);
    assert!(sleep_is_gone(read_pids(&dir.path().join("daemon"))[0]));
}

#[tokio::test]
async fn a_silent_worker_is_hung_at_its_idle_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "echo thinking; sleep 300");
    spec.idle_timeout_ms = Some(300);
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Hung);
    assert_eq!(run.outcome.why.as_deref(), Some("no output for 300ms"));
}

#[tokio::test]
async fn output_keeps_the_idle_deadline_away() {
    let dir = tempfile::tempdir().unwrap();
    // Talks every 50 ms for about 1.5 s, well past a 700 ms idle deadline.
    let script = "i=0; while [ $i -lt 30 ]; do echo tick $i; sleep 0.05; i=$((i+1)); done";
    let mut spec = spec(dir.path(), script);
    spec.idle_timeout_ms = Some(700);
    let run = run(dir.path(), &spec).await;
    assert_eq!(
        run.outcome.status,
        WorkerStatus::Succeeded,
        "{:?}",
        run.outcome.why
    );
    assert!(run.took >= Duration::from_millis(700));
}

#[tokio::test]
async fn a_kill_request_stops_the_worker_as_killed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "echo waiting; sleep 300");
    let run = run_controlled(dir.path(), &spec, |mut events, stop| async move {
        wait_for(&mut events, |seen| matches!(seen, Seen::Started(_))).await;
        stop.send(StopRequest::Kill).await.unwrap();
    })
    .await;
    assert_eq!(run.outcome.status, WorkerStatus::Killed);
    assert_eq!(run.outcome.why.as_deref(), Some("stopped on request"));
}

#[tokio::test]
async fn a_hung_request_stops_the_worker_as_hung_with_the_given_reason() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "sleep 300");
    let run = run_controlled(dir.path(), &spec, |mut events, stop| async move {
        wait_for(&mut events, |seen| matches!(seen, Seen::Started(_))).await;
        stop.send(StopRequest::Hung("outlived 3 wait cycles".into()))
            .await
            .unwrap();
    })
    .await;
    assert_eq!(run.outcome.status, WorkerStatus::Hung);
    assert_eq!(run.outcome.why.as_deref(), Some("outlived 3 wait cycles"));
}

#[tokio::test]
async fn met_checkpoints_make_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(
        dir.path(),
        "mkdir -p reports && echo 'QA: PASS' > reports/qa.md",
    );
    spec.expect = vec!["reports/*.md".into()];
    spec.expect_pass = true;
    let run = run(dir.path(), &spec).await;
    assert_eq!(
        run.outcome.status,
        WorkerStatus::Succeeded,
        "{:?}",
        run.outcome.why
    );
}

#[tokio::test]
async fn a_missing_checkpoint_fails_an_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "echo forgot the report");
    spec.expect = vec!["reports/qa.md".into()];
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert_eq!(
        run.outcome.why.as_deref(),
        Some("checkpoint reports/qa.md: missing")
    );
    assert_eq!(run.outcome.exit_code, Some(0));
}

#[tokio::test]
async fn a_checkpoint_that_says_fail_fails_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let script = "mkdir -p reports && printf 'lint: PASS\\ntests: FAIL\\n' > reports/qa.md";
    let mut spec = spec(dir.path(), script);
    spec.expect = vec!["reports/*.md".into()];
    spec.expect_pass = true;
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert_eq!(
        run.outcome.why.as_deref(),
        Some("checkpoint reports/qa.md: says FAIL")
    );
}

#[tokio::test]
async fn a_command_that_is_not_installed_fails_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "");
    spec.command = vec!["baton-no-such-agent-cli".into(), "exec".into()];
    spec.kind = Some("codex".into());
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert_eq!(
        run.outcome.why.as_deref(),
        Some(
            "cannot start `baton-no-such-agent-cli`: No such file or directory; \
             hint: install it or fix [workers.codex] command"
        )
    );
    assert!(run.recorder.seen.is_empty(), "nothing started");
    assert!(run.outcome.log_tail.contains("cannot start"));
}

#[tokio::test]
async fn a_command_that_is_not_executable_fails_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("agent.sh");
    std::fs::write(&program, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut spec = spec(dir.path(), "");
    spec.command = vec![program.display().to_string()];
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    let why = run.outcome.why.unwrap();
    assert!(
        why.contains(": Permission denied; hint: install it or fix"),
        "{why}"
    );
}

#[tokio::test]
async fn the_child_gets_only_allowed_passed_and_set_variables() {
    let dir = tempfile::tempdir().unwrap();
    // cargo sets these for the test process: one not allowed, one passed on purpose.
    let not_allowed = "CARGO_PKG_NAME";
    let passed = "CARGO_MANIFEST_DIR";
    assert!(
        std::env::var_os(not_allowed).is_some() && std::env::var_os(passed).is_some(),
        "run this test through cargo, which sets {not_allowed} and {passed}"
    );
    let script = format!(
        "echo \"unset=${{{not_allowed}-absent}}\"; echo \"passed=${passed}\"; \
         echo \"set=$FROM_KIND\"; echo \"prompt=$BATON_PROMPT\"; echo \"name=$BATON_WORKER_NAME\"; \
         echo \"path=${{PATH:+yes}}\""
    );
    let mut spec = spec(dir.path(), &script);
    spec.env_pass = vec![passed.into()];
    spec.env_set = vec![("FROM_KIND".into(), "template value".into())];
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Succeeded);
    assert_eq!(
        log_bodies(&run.log),
        [
            "unset=absent".to_string(),
            format!("passed={}", std::env::var(passed).unwrap()),
            "set=template value".into(),
            "prompt=do the thing".into(),
            "name=test-worker".into(),
            "path=yes".into(),
        ]
    );
}

#[tokio::test]
async fn stdout_and_stderr_share_one_log_in_order_and_stdin_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    // `cat` would wait forever on an open stdin; on /dev/null it ends at once.
    let script = "echo one; echo two >&2; cat; echo three; printf 'no newline'";
    let run = run(dir.path(), &spec(dir.path(), script)).await;
    assert_eq!(run.outcome.status, WorkerStatus::Succeeded);
    assert_eq!(log_bodies(&run.log), ["one", "two", "three", "no newline"]);
}

#[tokio::test]
async fn a_missing_working_directory_fails_without_blaming_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "true");
    spec.cwd = dir.path().join("gone").display().to_string();
    let run = run(dir.path(), &spec).await;
    assert_eq!(run.outcome.status, WorkerStatus::Failed);
    assert!(run.outcome.why.unwrap().contains("working directory"));
}

#[tokio::test]
async fn dropping_the_supervision_kills_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "sleep 300");
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut recorder = Recorder::with_events(events_tx);
    let (_stop, stop_rx) = tokio::sync::mpsc::channel(1);
    let log = dir.path().join("worker.log");
    tokio::select! {
        _ = baton_exec::supervise(&spec, &log, &mut recorder, stop_rx) => {
            panic!("the supervision ended on its own")
        }
        () = wait_for(&mut events, |seen| matches!(seen, Seen::Started(_))) => {}
    }
    // The `supervise` future is gone: its worker must be too (dead; maybe not reaped yet).
    let pgid = recorder.started()[0].pgid;
    crate::support::wait_until("the worker's group is dead", || {
        !group_has_live_members(pgid)
    });
}
