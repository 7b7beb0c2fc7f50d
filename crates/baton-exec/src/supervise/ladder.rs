//! The kill ladder and the sweep that leaves nothing of a worker running.
//!
//! Ladder: SIGTERM (and SIGCONT, so that a stopped process can act on it) to every target,
//! wait up to the grace period for all of them to be gone, reaping as we go, then SIGKILL.
//! Sweep: after the child ended for any reason, its process group and every process that was
//! re-parented to us (we are a subreaper: a grandchild that escaped with `setsid` lands
//! here) get the ladder, round after round, until none is left.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::{proc, reap};

/// How often the ladder checks whether its targets are gone. Short: the grace period is
/// often small, and `baton kill` should return as soon as the worker is gone.
const GONE_POLL: Duration = Duration::from_millis(3);
/// After SIGKILL, how long to wait for the kernel to finish the targets off.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// A daemon that keeps forking is caught in later rounds; this bounds the rounds.
const MAX_SWEEP_ROUNDS: usize = 8;

/// Something the ladder stops.
#[derive(Debug, Clone, Copy)]
enum Target {
    Group(u32),
    /// One process, by identity: only ever our own children, whose PIDs cannot be reused
    /// before we reap them.
    Process {
        pid: u32,
        start: u64,
    },
}

impl Target {
    fn signal(self, signal: Signal) {
        match self {
            Target::Group(pgid) => {
                if let Err(error) = proc::signal_group(pgid, signal) {
                    tracing::warn!(%error, "kill ladder");
                }
            }
            Target::Process { pid, start } => {
                proc::signal_process(pid, start, signal);
            }
        }
    }

    fn gone(self) -> bool {
        match self {
            Target::Group(pgid) => !proc::group_alive(pgid),
            Target::Process { pid, start } => {
                proc::read_stat(pid).is_none_or(|stat| stat.start != start || stat.is_zombie())
            }
        }
    }
}

/// Stops every target: SIGTERM, up to `grace` for them to go, then SIGKILL.
async fn ladder(targets: &[Target], grace: Duration) {
    for target in targets {
        target.signal(Signal::SIGTERM);
        target.signal(Signal::SIGCONT);
    }
    if wait_gone(targets, grace).await {
        return;
    }
    tracing::info!(?targets, "still running after the grace period: SIGKILL");
    for target in targets {
        target.signal(Signal::SIGKILL);
    }
    if !wait_gone(targets, KILL_WAIT).await {
        tracing::warn!(?targets, "still there after SIGKILL");
    }
}

async fn wait_gone(targets: &[Target], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        // Zombies count as group members until reaped, and ours are reaped only here.
        reap::reap_now();
        if targets.iter().all(|target| target.gone()) {
            // The last ones may have just died: reap them, so that no zombie of ours is left.
            reap::reap_now();
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(GONE_POLL).await;
    }
}

/// Stops everything left of the child `leader` (which leads group `pgid`): the group, the
/// leader itself should it have left the group, and any orphan re-parented to us.
pub(super) async fn sweep(leader: u32, leader_start: Option<u64>, pgid: u32, grace: Duration) {
    for _round in 0..MAX_SWEEP_ROUNDS {
        reap::reap_now();
        let mut targets = Vec::new();
        // Safe to signal by number even once the leader is reaped: a process group's ID
        // cannot be handed out again while any member of the group is alive.
        if proc::group_alive(pgid) {
            targets.push(Target::Group(pgid));
        }
        if let Some(start) = leader_start
            && reap::exit_of(leader).is_none()
        {
            let leader = Target::Process { pid: leader, start };
            if !leader.gone() {
                targets.push(leader);
            }
        }
        // The group first: finding escaped descendants means reading every process in
        // /proc, which should not delay the signal to the group (milliseconds on a busy
        // machine).
        let group_signalled = !targets.is_empty();
        if group_signalled {
            ladder(&targets, grace).await;
        }
        let orphans: Vec<Target> = reap::orphans(pgid)
            .into_iter()
            .map(|stat| Target::Process {
                pid: stat.pid,
                start: stat.start,
            })
            .collect();
        if orphans.is_empty() {
            if group_signalled {
                continue;
            }
            return;
        }
        ladder(&orphans, grace).await;
    }
    tracing::warn!(
        pgid,
        "processes still left after {MAX_SWEEP_ROUNDS} sweep rounds"
    );
}
