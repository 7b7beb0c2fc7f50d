//! Commands run to completion with `baton_exec::run`: exit codes and signals, captured
//! streams and the output cap, stdin, the environment, deadlines, cancellation and the kill
//! ladder, leftovers, pipes held open, start errors, and a run beside a supervisor in one
//! process. Every run ends by checking that its process group has no live member.

use std::path::Path;
use std::time::Duration;

use baton_exec::proc::{is_same_process, start_time};
use baton_exec::{
    ExecError, Exit, RunOutput, RunRequest, Signal, Stdin, Streams, Termination, run,
};
use pretty_assertions::assert_eq;
use tokio_util::sync::CancellationToken;

use crate::support::{
    Seen, UPPER_BOUND, group_has_live_members, read_pids, run_controlled, sleep_is_gone, spec,
    wait_for, wait_until,
};

/// `sh -c SCRIPT` in `dir`, with a short grace so that stubborn scripts end soon.
fn sh(dir: &Path, script: &str) -> RunRequest {
    RunRequest::new("sh", dir)
        .args(["-c", script])
        .grace(Duration::from_millis(300))
}

/// Runs `request`, which must start, and checks that nothing of its group is left.
async fn finished(request: &RunRequest) -> RunOutput {
    let output = tokio::time::timeout(UPPER_BOUND, run(request))
        .await
        .expect("run did not return in time")
        .expect("run failed");
    assert!(
        !group_has_live_members(output.pid),
        "group {} still has live members",
        output.pid
    );
    output
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// Waits (up to the bound) for a file a script writes, without blocking the runtime.
async fn file_appears(path: &Path) {
    tokio::time::timeout(UPPER_BOUND, async {
        while !path.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} did not appear", path.display()));
}

#[tokio::test]
async fn a_command_that_exits_0_succeeded_with_stdout_and_stderr_apart() {
    let dir = tempfile::tempdir().unwrap();
    let output = finished(&sh(dir.path(), "echo out; echo err >&2; echo more")).await;
    assert!(output.success());
    assert_eq!(output.exit, Exit::Code(0));
    assert_eq!(output.termination, Termination::Exited);
    assert_eq!(text(&output.stdout.head), "out\nmore\n");
    assert_eq!(text(&output.stderr.head), "err\n");
    assert!(output.stdout.is_whole() && output.stderr.is_whole());
    assert!(!output.drain_timed_out);
}

#[tokio::test]
async fn a_non_zero_exit_is_a_result_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let output = finished(&sh(dir.path(), "echo failing >&2; exit 3")).await;
    assert!(!output.success());
    assert_eq!(output.exit, Exit::Code(3));
    assert_eq!(output.exit.to_string(), "exited with code 3");
    assert_eq!(output.termination, Termination::Exited);
    assert_eq!(output.stderr.text(), "failing\n");
}

#[tokio::test]
async fn a_command_ended_by_a_signal_reports_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let output = finished(&sh(dir.path(), "kill -SEGV $$")).await;
    assert_eq!(output.exit, Exit::Signal(Signal::SIGSEGV));
    assert_eq!(output.exit.code(), None);
    assert_eq!(output.termination, Termination::Exited);
    assert!(!output.success());
}

#[tokio::test]
async fn merged_streams_keep_the_order_they_were_written_in() {
    let dir = tempfile::tempdir().unwrap();
    let request = sh(
        dir.path(),
        "echo 1; echo 2 >&2; echo 3; echo 4 >&2; printf 5 >&2",
    )
    .streams(Streams::Merged);
    let output = finished(&request).await;
    assert_eq!(output.stdout.text(), "1\n2\n3\n4\n5");
    assert_eq!(output.stderr.total_bytes(), 0);
}

#[tokio::test]
async fn the_output_cap_keeps_head_and_tail_and_counts_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (1..=100_000).map(|line| format!("{line}\n")).collect();
    let all = lines.concat();
    let request = sh(dir.path(), "seq 1 100000; echo tiny >&2").output_cap_bytes(4096);
    let output = finished(&request).await;
    assert!(output.success());
    let stdout = &output.stdout;
    assert_eq!(stdout.total_bytes(), all.len() as u64);
    assert!(!stdout.is_whole());
    // A quarter of the cap for the head, the rest for the tail, cut at line ends.
    assert!(stdout.head.len() <= 1024 && stdout.tail.len() <= 3072);
    assert!(all.starts_with(text(&stdout.head)), "head is not the start");
    assert!(all.ends_with(text(&stdout.tail)), "tail is not the end");
    // Whole lines: the head ends one, the tail starts one.
    assert!(text(&stdout.head).ends_with('\n'));
    assert!(all[..all.len() - stdout.tail.len()].ends_with('\n'));
    assert!(stdout.head.len() > 900 && stdout.tail.len() > 2900);
    assert_eq!(
        stdout.dropped_bytes,
        (all.len() - stdout.head.len() - stdout.tail.len()) as u64
    );
    assert!(
        stdout
            .text()
            .contains(&format!("\n… {} bytes omitted …\n", stdout.dropped_bytes))
    );
    // The cap is per stream: stderr is whole.
    assert_eq!(output.stderr.text(), "tiny\n");
}

#[tokio::test]
async fn stdin_bytes_reach_the_command_while_its_output_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // Four times a pipe buffer each way: written and read one after the other, `cat` and
    // `run` would block on each other.
    let input: Vec<u8> = (0..256 * 1024)
        .map(|index| b'a' + (index % 26) as u8)
        .collect();
    let request = RunRequest::new("cat", dir.path()).stdin(Stdin::Bytes(input.clone()));
    let output = finished(&request).await;
    assert!(output.success());
    assert!(output.stdout.is_whole());
    assert_eq!(
        output.stdout.head.len() + output.stdout.tail.len(),
        input.len()
    );
    assert_eq!([output.stdout.head, output.stdout.tail].concat(), input);
}

#[tokio::test]
async fn stdin_is_at_end_of_file_by_default() {
    let dir = tempfile::tempdir().unwrap();
    // `cat` would wait for ever on an open stdin.
    let output = finished(&RunRequest::new("cat", dir.path())).await;
    assert!(output.success());
    assert_eq!(output.stdout.total_bytes(), 0);
}

#[tokio::test]
async fn the_command_gets_only_allowed_passed_and_set_variables() {
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
         echo \"set=$MODE\"; echo \"path=${{PATH:+yes}}\""
    );
    let request = sh(dir.path(), &script)
        .pass_env(passed)
        .set_env("MODE", "fast");
    let output = finished(&request).await;
    assert_eq!(
        output.stdout.text(),
        format!(
            "unset=absent\npassed={}\nset=fast\npath=yes\n",
            std::env::var(passed).unwrap()
        )
    );
}

#[tokio::test]
async fn the_command_runs_in_the_working_directory_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let output = finished(&RunRequest::new("pwd", dir.path())).await;
    let expected = dir.path().canonicalize().unwrap();
    assert_eq!(output.stdout.text(), format!("{}\n", expected.display()));
}

#[tokio::test]
async fn a_deadline_kills_a_command_that_ignores_sigterm_and_its_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    // Ignored signals are inherited: the grandchildren ignore SIGTERM too.
    let script = "trap '' TERM; sleep 300 & echo $! >> kids.tmp; \
                  sh -c 'sleep 300' & echo $! >> kids.tmp; mv kids.tmp kids; echo forked; \
                  while :; do sleep 0.05; done";
    let timeout = Duration::from_millis(1500);
    let output = finished(&sh(dir.path(), script).timeout(timeout)).await;
    assert_eq!(output.termination, Termination::TimedOut);
    // SIGTERM did nothing: it took SIGKILL, after the grace period.
    assert_eq!(output.exit, Exit::Signal(Signal::SIGKILL));
    assert!(output.duration >= timeout + Duration::from_millis(300));
    assert_eq!(output.stdout.text(), "forked\n");
    let kids = read_pids(&dir.path().join("kids"));
    assert_eq!(kids.len(), 2);
    assert!(
        kids.iter().all(|&kid| sleep_is_gone(kid)),
        "grandchildren left: {kids:?}"
    );
}

#[tokio::test]
async fn a_command_that_goes_at_sigterm_is_not_kept_waiting_for_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // Waiting out this grace would outlast the test's upper bound.
    let request = RunRequest::new("sleep", dir.path())
        .arg("300")
        .timeout(Duration::from_millis(200))
        .grace(UPPER_BOUND * 2);
    let output = finished(&request).await;
    assert_eq!(output.termination, Termination::TimedOut);
    assert_eq!(output.exit, Exit::Signal(Signal::SIGTERM));
}

#[tokio::test]
async fn cancelling_stops_the_command_before_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let request = sh(dir.path(), "touch started; exec sleep 300")
        .timeout(UPPER_BOUND * 2)
        .cancel_on(token.clone());
    let (output, ()) = tokio::join!(finished(&request), async {
        file_appears(&dir.path().join("started")).await;
        token.cancel();
    });
    assert_eq!(output.termination, Termination::Cancelled);
    assert_eq!(output.exit, Exit::Signal(Signal::SIGTERM));
}

#[tokio::test]
async fn a_background_process_left_behind_is_stopped_before_run_returns() {
    let dir = tempfile::tempdir().unwrap();
    // The `sleep` also holds stdout open: without stopping it the drain would time out.
    let output = finished(&sh(dir.path(), "sleep 300 & echo $! > kid; echo done")).await;
    assert!(output.success());
    assert_eq!(output.stdout.text(), "done\n");
    assert!(!output.drain_timed_out);
    let kid = read_pids(&dir.path().join("kid"))[0];
    assert!(sleep_is_gone(kid), "{kid} left running");
}

#[tokio::test]
async fn a_pipe_held_open_outside_the_group_does_not_hold_up_the_end() {
    let dir = tempfile::tempdir().unwrap();
    // The holder stands for a grandchild that left the group (setsid): out of the sweep's
    // reach, it keeps stdout open after the command is gone. Here the holder is this test,
    // which opens the command's stdout through /proc: a real escapee could be killed by a
    // supervision running beside this test (this process is a subreaper), closing the pipe.
    let script = "echo before; echo $$ > pid.tmp; mv pid.tmp pid; \
                  while [ ! -e held ]; do sleep 0.01; done; echo after";
    let mut request = sh(dir.path(), script);
    request.drain_timeout = Duration::from_millis(300);
    let (output, holder) = tokio::join!(finished(&request), async {
        let pid_file = dir.path().join("pid");
        file_appears(&pid_file).await;
        let pid = read_pids(&pid_file)[0];
        let holder = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{pid}/fd/1"))
            .unwrap();
        std::fs::write(dir.path().join("held"), "").unwrap();
        holder
    });
    // `run` returned while the pipe was still open (the holder is dropped only now).
    assert!(output.drain_timed_out);
    assert!(output.success());
    assert_eq!(output.stdout.text(), "before\nafter\n");
    drop(holder);
}

#[tokio::test]
async fn dropping_a_run_kills_its_command_and_reaps_it() {
    let dir = tempfile::tempdir().unwrap();
    let request = sh(
        dir.path(),
        "echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 300",
    );
    let pid_file = dir.path().join("pid");
    tokio::select! {
        result = run(&request) => panic!("the run ended on its own: {result:?}"),
        () = file_appears(&pid_file) => {}
    }
    let pid = read_pids(&pid_file)[0];
    // Its start time, read while it is at worst a zombie of ours.
    let start = start_time(pid);
    wait_until("the dropped run's group is dead", || {
        !group_has_live_members(pid)
    });
    if let Some(start) = start {
        wait_until("the dropped run's command is reaped", || {
            !is_same_process(pid, start)
        });
    }
}

#[tokio::test]
async fn a_missing_program_is_a_start_error_that_names_it_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let error = run(&RunRequest::new("baton-no-such-program", dir.path()))
        .await
        .unwrap_err();
    let ExecError::NotFound { program, searched } = &error else {
        panic!("not NotFound: {error:?}");
    };
    assert_eq!(program, "baton-no-such-program");
    assert_eq!(searched.as_deref(), std::env::var("PATH").ok().as_deref());
    let message = error.to_string();
    assert!(
        message.starts_with("cannot start `baton-no-such-program`: no such program\nhint: "),
        "{message}"
    );
}

#[tokio::test]
async fn a_program_that_is_not_executable_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let program = script.display().to_string();
    let error = run(&RunRequest::new(&program, dir.path()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ExecError::NotExecutable { program: named, .. } if *named == program),
        "{error:?}"
    );
    assert!(error.to_string().contains("\nhint: make it executable"));
}

#[tokio::test]
async fn a_missing_working_directory_is_a_start_error_that_does_not_blame_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone");
    let error = run(&RunRequest::new("true", &missing)).await.unwrap_err();
    assert!(
        matches!(&error, ExecError::NoWorkingDirectory { cwd, .. } if *cwd == missing),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_once_on_a_multi_threaded_runtime_each_get_their_own_result() {
    let dir = tempfile::tempdir().unwrap();
    let tasks: Vec<_> = (1..=8)
        .map(|code| {
            let request = sh(dir.path(), &format!("echo {code}; exit {code}"));
            tokio::spawn(async move { finished(&request).await })
        })
        .collect();
    for (code, task) in (1..=8).zip(tasks) {
        let output = task.await.unwrap();
        assert_eq!(output.exit, Exit::Code(code));
        assert_eq!(output.stdout.text(), format!("{code}\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_beside_a_supervisor_in_one_process_get_their_own_exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    // The supervisor reaps with waitpid(-1) on every SIGCHLD, the runs' included: a run
    // whose child it took without the registry would see no status at all.
    let worker = spec(
        dir.path(),
        "while [ ! -e done ]; do sleep 0.01; done; exit 3",
    );
    let here = dir.path().to_path_buf();
    let supervised = run_controlled(dir.path(), &worker, |mut events, _stop| async move {
        wait_for(&mut events, |seen| matches!(seen, Seen::Started(_))).await;
        for code in 0..40 {
            let output = finished(&sh(&here, &format!("exit {code}"))).await;
            assert_eq!(output.exit, Exit::Code(code), "run {code}");
        }
        std::fs::write(here.join("done"), "").unwrap();
    })
    .await;
    assert_eq!(supervised.outcome.exit_code, Some(3));
}
