//! A worker that floods its output (`yes` for 2 s) under a 64 KiB log cap: the file stays
//! under the cap with its head, the omitted marker and its tail, and the supervisor's memory
//! stays flat. A test binary of its own so that other tests do not move this process's RSS.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::time::Duration;

use baton_core::{WorkerSpec, WorkerStatus};
use baton_exec::proc::group_alive;
use baton_exec::{Observer, Started, supervise};
use tokio::sync::mpsc;

const CAP_BYTES: u64 = 64 * 1024;
/// The most one read from the pipe can add past the cap.
const CHUNK_BYTES: u64 = 64 * 1024;
/// Growth of the supervisor's RSS that still counts as flat.
const MAX_RSS_GROWTH_KIB: u64 = 4 * 1024;

#[derive(Default)]
struct Starts(Vec<Started>);

impl Observer for Starts {
    fn started(&mut self, started: &Started) {
        self.0.push(started.clone());
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_flooding_worker_keeps_the_log_under_its_cap_and_the_supervisor_flat() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("flood.log");
    let spec = WorkerSpec {
        timeout_ms: Some(2_000),
        grace_ms: 500,
        max_parallel: 1,
        log_cap_bytes: CAP_BYTES,
        ..WorkerSpec::new(
            "flood",
            vec!["yes".into()],
            dir.path().display().to_string(),
        )
    };
    let mut starts = Starts::default();
    let (_stop, stop_rx) = mpsc::channel(1);

    let rss_before = rss_kib();
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        supervise(&spec, &log, &mut starts, stop_rx),
    )
    .await
    .expect("supervise did not return in time")
    .expect("supervise failed");
    let rss_after = rss_kib();

    assert_eq!(outcome.status, WorkerStatus::TimedOut);
    assert!(!group_alive(starts.0[0].pgid));
    assert!(
        rss_after.saturating_sub(rss_before) <= MAX_RSS_GROWTH_KIB,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );

    let bytes = std::fs::read(&log).unwrap();
    assert!(
        bytes.len() as u64 <= CAP_BYTES + CHUNK_BYTES,
        "log is {} bytes",
        bytes.len()
    );
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Head: the first lines, as written.
    assert!(lines[0].ends_with("Z y"), "{}", lines[0]);
    // One marker, far from the start: gigabytes went by and were omitted.
    let markers: Vec<usize> = (0..lines.len())
        .filter(|&index| lines[index].contains("bytes omitted"))
        .collect();
    assert_eq!(markers.len(), 1, "one marker line");
    let omitted: u64 = lines[markers[0]]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(omitted > 10 * CAP_BYTES, "only {omitted} bytes omitted");
    // Tail: the newest lines, ending with the supervisor's note about the deadline.
    let tail = &lines[markers[0] + 1..];
    assert!(tail.len() > 100, "tail of {} lines", tail.len());
    assert!(
        tail[..tail.len() - 1]
            .iter()
            .all(|line| line.ends_with("Z y"))
    );
    assert!(
        tail.last()
            .unwrap()
            .ends_with("baton: ran past its 2s deadline"),
        "{}",
        tail.last().unwrap()
    );
    assert!(outcome.log_tail.len() <= 4096);
    assert!(
        outcome
            .log_tail
            .ends_with("baton: ran past its 2s deadline\n")
    );
}
