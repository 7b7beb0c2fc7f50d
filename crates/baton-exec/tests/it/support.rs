//! Fixtures: worker specs around `sh -c` scripts, an observer that records what it is told
//! (and reports it on a channel so a test can act on it), and checks that nothing is left.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton_core::WorkerSpec;
use baton_exec::proc::{group_alive, is_same_process};
use baton_exec::{Observer, Outcome, Started, StopRequest, supervise};
use tokio::sync::mpsc;

/// No test should take near this long; it only turns a hang into a failure.
pub(crate) const UPPER_BOUND: Duration = Duration::from_secs(60);

pub(crate) fn spec(cwd: &Path, script: &str) -> WorkerSpec {
    let command = vec!["sh".into(), "-c".into(), script.into()];
    WorkerSpec {
        kind: Some("fake".into()),
        prompt: Some("do the thing".into()),
        grace_ms: 500,
        max_parallel: 1,
        log_cap_bytes: 1 << 20,
        ..WorkerSpec::new("test-worker", command, cwd.display().to_string())
    }
}

/// What the supervisor told its observer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Started(Started),
    Ready,
    Restarting(u32, String),
}

#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) seen: Vec<Seen>,
    events: Option<mpsc::UnboundedSender<Seen>>,
}

impl Recorder {
    pub(crate) fn with_events(events: mpsc::UnboundedSender<Seen>) -> Self {
        Recorder {
            seen: Vec::new(),
            events: Some(events),
        }
    }

    pub(crate) fn started(&self) -> Vec<Started> {
        self.seen
            .iter()
            .filter_map(|seen| match seen {
                Seen::Started(started) => Some(started.clone()),
                Seen::Ready | Seen::Restarting(..) => None,
            })
            .collect()
    }

    fn record(&mut self, seen: Seen) {
        if let Some(events) = &self.events {
            let _ = events.send(seen.clone());
        }
        self.seen.push(seen);
    }
}

impl Observer for Recorder {
    fn started(&mut self, started: &Started) {
        self.record(Seen::Started(started.clone()));
    }
    fn ready(&mut self) {
        self.record(Seen::Ready);
    }
    fn restarting(&mut self, restarts: u32, why: &str) {
        self.record(Seen::Restarting(restarts, why.into()));
    }
}

pub(crate) struct Run {
    pub(crate) outcome: Outcome,
    pub(crate) recorder: Recorder,
    pub(crate) log: PathBuf,
    pub(crate) took: Duration,
}

/// Supervises `spec` to its end, logging into `dir`.
pub(crate) async fn run(dir: &Path, spec: &WorkerSpec) -> Run {
    let (_stop, stop_rx) = mpsc::channel(1);
    run_with(dir, spec, stop_rx, Recorder::default()).await
}

/// Supervises `spec` while `control` watches what the observer sees and may send stop
/// requests.
pub(crate) async fn run_controlled<F, Fut>(dir: &Path, spec: &WorkerSpec, control: F) -> Run
where
    F: FnOnce(mpsc::UnboundedReceiver<Seen>, mpsc::Sender<StopRequest>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (stop, stop_rx) = mpsc::channel(4);
    let (events, events_rx) = mpsc::unbounded_channel();
    let recorder = Recorder::with_events(events);
    let (run, ()) = tokio::join!(
        run_with(dir, spec, stop_rx, recorder),
        control(events_rx, stop)
    );
    run
}

async fn run_with(
    dir: &Path,
    spec: &WorkerSpec,
    stop: mpsc::Receiver<StopRequest>,
    mut recorder: Recorder,
) -> Run {
    let log = dir.join("logs").join("worker.log");
    let began = Instant::now();
    let outcome = tokio::time::timeout(UPPER_BOUND, supervise(spec, &log, &mut recorder, stop))
        .await
        .expect("supervise did not return in time")
        .expect("supervise failed");
    let took = began.elapsed();
    assert_nothing_left(&recorder);
    Run {
        outcome,
        recorder,
        log,
        took,
    }
}

/// Every process the worker started is gone: its group is empty, and the pid is not the
/// process that was started (it was reaped).
pub(crate) fn assert_nothing_left(recorder: &Recorder) {
    for started in recorder.started() {
        assert!(
            !group_alive(started.pgid),
            "group {} is still alive",
            started.pgid
        );
        assert!(
            !is_same_process(started.pid, started.process_start),
            "{} is still there (not reaped?)",
            started.pid
        );
    }
}

/// Whether the process `pid` (a `sleep` the script started) is no longer running. A PID
/// handed to some other program since does not count as the same process. A zombie is dead:
/// with several supervisions in this test process, another one may have killed an escaped
/// daemon (it cannot tell whose it is) and be a few milliseconds from reaping it.
pub(crate) fn sleep_is_gone(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !stat.contains("(sleep)") || state == Some("Z")
}

/// PIDs a script wrote, one per line.
pub(crate) fn read_pids(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect()
}

/// Waits until `what` reports `Seen` matching `want`, up to the upper bound.
pub(crate) async fn wait_for(
    events: &mut mpsc::UnboundedReceiver<Seen>,
    want: impl Fn(&Seen) -> bool,
) {
    tokio::time::timeout(UPPER_BOUND, async {
        while let Some(seen) = events.recv().await {
            if want(&seen) {
                return;
            }
        }
        panic!("the supervisor ended before the awaited event");
    })
    .await
    .expect("event did not come in time");
}

/// The text after each line's `2026-11-21T18:40:00.123Z ` prefix.
pub(crate) fn log_bodies(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|line| line.get(25..).unwrap_or(line).to_string())
        .collect()
}

/// Waits (up to the bound) until `condition` holds, checking it every few milliseconds: for
/// what no event announces, such as a process dying.
pub(crate) fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let began = Instant::now();
    while !condition() {
        assert!(
            began.elapsed() < UPPER_BOUND,
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process group `pgid` has a member that is not a zombie (dead but not reaped).
pub(crate) fn group_has_live_members(pgid: u32) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Fields 3 (state) and 5 (process group) are at 0 and 2 after the command name.
            fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z"
        })
}
