//! The second part of the store access benchmark: a writer held up by another process. While
//! tasks run, a child process (this program with `--hold-lock`) takes the write lock for the
//! hold and releases it; what each strategy still serves meanwhile, and whether the runtime
//! itself keeps running (a 1 ms timer task), is what it costs to be stuck in SQLite's busy
//! handler, which sleeps in the calling thread (1, 2, 5, 10, ... 100 ms) until the lock is
//! free or the busy timeout passes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::MissedTickBehavior;

use super::{
    Access, BEFORE_WINDOW, BoxError, Kind, LEAD, Options, Rng, Strategy, TAIL, TICK, load,
};

/// Which tasks run beside the held lock.
#[derive(Clone, Copy)]
enum Tasks {
    /// 4 tasks looking up workers and 1 recording calls: an MCP server answering status
    /// questions while a dispatch finishes.
    ReadersAndWriter,
    /// 12 tasks looking up workers and 4 recording calls: more writers than runtime threads.
    ManyWriters,
}

impl Tasks {
    fn kinds(self) -> Vec<Kind> {
        match self {
            Tasks::ReadersAndWriter => vec![
                Kind::Worker,
                Kind::Worker,
                Kind::Worker,
                Kind::Worker,
                Kind::Record,
            ],
            Tasks::ManyWriters => {
                let mut kinds = vec![Kind::Worker; 12];
                kinds.extend([Kind::Record; 4]);
                kinds
            }
        }
    }

    fn what(self) -> &'static str {
        match self {
            Tasks::ReadersAndWriter => "4 tasks of worker lookups and 1 task of record_calls",
            Tasks::ManyWriters => "12 tasks of worker lookups and 4 tasks of record_calls",
        }
    }
}

/// One call: when it started and ended, and whether it only read.
struct Span {
    start: Instant,
    end: Instant,
    read: bool,
}

/// When the other process held the lock, as its own lines on stdout say.
struct Hold {
    held: Instant,
    released: Instant,
}

struct Outcome {
    reads_before: f64,
    reads_during: f64,
    /// Reads that ended while the lock was held.
    served_during: usize,
    slowest_read: Duration,
    slowest_write: Duration,
    /// The longest the timer task waited beyond its period, from the hold to the end.
    timer_late: Duration,
}

pub(super) async fn report(access: &Arc<Access>, options: &Options) -> Result<(), BoxError> {
    println!(
        "\n== another process holds the write lock for {} ms (BEGIN IMMEDIATE in a child \
         process; the store's busy timeout is 5 s), {} round(s)",
        options.hold.as_millis(),
        options.lock_rounds
    );
    for tasks in [Tasks::ReadersAndWriter, Tasks::ManyWriters] {
        println!(
            "-- {}, beside a {} ms timer task",
            tasks.what(),
            TICK.as_millis()
        );
        println!(
            "{:<14} {:>14} {:>12} {:>9} {:>7} {:>11} {:>12} {:>13}",
            "strategy",
            "reads/s before",
            "reads/s held",
            "held/bef",
            "served",
            "read max ms",
            "write max ms",
            "timer late ms"
        );
        let mut outcomes: Vec<(Strategy, Outcome)> = Vec::new();
        for round in 0..options.lock_rounds {
            for i in 0..Strategy::ALL.len() {
                let strategy = Strategy::ALL[(i + round) % Strategy::ALL.len()];
                let seed = options.seed ^ (0x10C4 + round as u64);
                let outcome = one(access, strategy, tasks, options.hold, seed).await?;
                outcomes.push((strategy, outcome));
            }
        }
        // Rows in strategy order, one per round.
        for strategy in Strategy::ALL {
            for (_, outcome) in outcomes.iter().filter(|(s, _)| *s == strategy) {
                println!(
                    "{:<14} {:>14.0} {:>12.0} {:>8.2}x {:>7} {:>11.1} {:>12.1} {:>13.1}",
                    strategy.name(),
                    outcome.reads_before,
                    outcome.reads_during,
                    outcome.reads_during / outcome.reads_before,
                    outcome.served_during,
                    ms(outcome.slowest_read),
                    ms(outcome.slowest_write),
                    ms(outcome.timer_late)
                );
            }
        }
        println!("  (load {})", load());
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One run: the tasks and the timer start, the other process takes the lock after [`LEAD`],
/// holds it for `hold`, and everything stops [`TAIL`] after the release.
async fn one(
    access: &Arc<Access>,
    strategy: Strategy,
    tasks: Tasks,
    hold: Duration,
    seed: u64,
) -> Result<Outcome, BoxError> {
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = tasks
        .kinds()
        .into_iter()
        .enumerate()
        .map(|(t, kind)| {
            let (access, stop) = (Arc::clone(access), Arc::clone(&stop));
            let mut rng = Rng(seed ^ (t as u64).wrapping_mul(0x9E37_79B9));
            tokio::spawn(async move {
                let mut spans = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let op = access.fixture.op(kind, &mut rng);
                    let read = op.is_read();
                    let start = Instant::now();
                    if !access.call(strategy, op).await? {
                        return Err::<Vec<Span>, BoxError>("a lookup found nothing".into());
                    }
                    spans.push(Span {
                        start,
                        end: Instant::now(),
                        read,
                    });
                    tokio::task::yield_now().await;
                }
                Ok(spans)
            })
        })
        .collect();
    let timer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut ticks = Vec::new();
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                interval.tick().await;
                ticks.push(Instant::now());
            }
            ticks
        })
    };
    tokio::time::sleep(LEAD).await;
    let hold = hold_lock(&access.path, hold).await;
    tokio::time::sleep(TAIL).await;
    stop.store(true, Ordering::Relaxed);
    let mut spans = Vec::new();
    for worker in workers {
        spans.extend(worker.await??);
    }
    let ticks = timer.await?;
    let Hold { held, released } = hold?;

    let reads_ending = |from: Instant, to: Instant| {
        spans
            .iter()
            .filter(|s| s.read && s.end >= from && s.end < to)
            .count()
    };
    let before_from = held.checked_sub(BEFORE_WINDOW).unwrap_or(held);
    let served_before = reads_ending(before_from, held);
    let served_during = reads_ending(held, released);
    let slowest = |read: bool| {
        spans
            .iter()
            .filter(|s| s.read == read)
            .map(|s| s.end - s.start)
            .max()
            .unwrap_or_default()
    };
    let timer_late = ticks
        .windows(2)
        .filter(|w| w[1] >= held)
        .map(|w| (w[1] - w[0]).saturating_sub(TICK))
        .max()
        .unwrap_or_default();
    Ok(Outcome {
        reads_before: served_before as f64 / (held - before_from).as_secs_f64(),
        reads_during: served_during as f64 / (released - held).as_secs_f64(),
        served_during,
        slowest_read: slowest(true),
        slowest_write: slowest(false),
        timer_late,
    })
}

enum Said {
    Held(Instant),
    Released(Instant),
    Failed(String),
}

/// Runs the other process and returns when it had the lock and when it let go. Its lines are
/// read on a thread of their own, so that the times are right even while every runtime
/// thread is stuck in the busy handler.
#[allow(
    clippy::disallowed_methods,
    reason = "the other process is this benchmark itself, waited for on the thread below"
)]
async fn hold_lock(path: &Path, hold: Duration) -> Result<Hold, BoxError> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("--hold-lock")
        .arg(path)
        .arg(hold.as_millis().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("the lock holder has no stdout")?;
    let (said, mut heard) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        read_holder(BufReader::new(stdout), &said);
        match child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => drop(said.send(Said::Failed(format!("the lock holder {status}")))),
            Err(error) => drop(said.send(Said::Failed(format!("the lock holder: {error}")))),
        }
    });
    let mut held = None;
    while let Some(said) = heard.recv().await {
        match said {
            Said::Held(at) => held = Some(at),
            Said::Released(released) => {
                let held = held.ok_or("the lock holder released before it held")?;
                // Its exit status comes next; a failure after the release still counts.
                if let Some(Said::Failed(why)) = heard.recv().await {
                    return Err(why.into());
                }
                return Ok(Hold { held, released });
            }
            Said::Failed(why) => return Err(why.into()),
        }
    }
    Err("the lock holder ended without releasing the lock".into())
}

fn read_holder(stdout: impl BufRead, said: &UnboundedSender<Said>) {
    for line in stdout.lines() {
        let now = Instant::now();
        let message = match line.as_deref() {
            Ok("held") => Said::Held(now),
            Ok("released") => Said::Released(now),
            Ok(other) => Said::Failed(format!("the lock holder said `{other}`")),
            Err(error) => Said::Failed(format!("reading the lock holder: {error}")),
        };
        if said.send(message).is_err() {
            return;
        }
    }
}
