//! The kill ladder and the sweep that leaves nothing of a child running, for a worker's
//! supervisor and for [`run`](crate::run()).
//!
//! Ladder: SIGTERM (and SIGCONT, so that a stopped process can act on it) to every target,
//! wait up to the grace period for all of them to be gone, reaping as we go, then SIGKILL.
//! Sweep: after the child ended for any reason, its process group (and, for a supervisor,
//! every process that was re-parented to it: a subreaper, it is where a grandchild that
//! escaped with `setsid` lands) gets the ladder, round after round, until none is left.
//!
//! The two callers differ in what they may reap ([`Reaping`]) and so in when a group counts
//! as gone.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::{proc, reap};

/// How often the ladder checks whether its targets are gone. Short: the grace period is
/// often small, and `baton kill` should return as soon as the worker is gone.
const GONE_POLL: Duration = Duration::from_millis(3);
/// With [`Reaping::Own`], how often a group that still has members is checked for live
/// ones by reading /proc (zombies we may not reap stay members), rather than on every poll.
const LIVE_SCAN_EVERY: Duration = Duration::from_millis(50);
/// After SIGKILL, how long to wait for the kernel to finish the targets off.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// A daemon that keeps forking is caught in later rounds; this bounds the rounds.
const MAX_SWEEP_ROUNDS: usize = 8;

/// What the caller may reap while it waits for its targets to go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reaping {
    /// A supervisor: a subreaper, it reaps every ended child of the process
    /// (`waitpid(-1)`), so a group is gone once its last zombie is reaped.
    All,
    /// [`run`](crate::run()): only its own child and the members of its group that are our
    /// children. Other zombies of the group are their parent's to reap (init, usually), so a
    /// group whose members are all zombies counts as gone.
    Own,
}

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

    /// `scan`: with [`Reaping::Own`], whether to read /proc for live members of a group
    /// that still has some (costly: every process is read).
    fn gone(self, reaping: Reaping, scan: bool) -> bool {
        match self {
            Target::Group(pgid) => match reaping {
                Reaping::All => !proc::group_alive(pgid),
                Reaping::Own => {
                    !proc::group_alive(pgid) || (scan && !proc::group_has_live_member(pgid))
                }
            },
            Target::Process { pid, start } => {
                proc::read_stat(pid).is_none_or(|stat| stat.start != start || stat.is_zombie())
            }
        }
    }
}

/// One round of reaping for `reaping`, around a child that leads group `pgid`.
fn reap(reaping: Reaping, leader: u32, pgid: u32) {
    match reaping {
        Reaping::All => {
            reap::reap_now();
        }
        Reaping::Own => reap::reap_own(leader, pgid),
    }
}

/// Stops every target: SIGTERM, up to `grace` for them to go, then SIGKILL.
async fn ladder(targets: &[Target], grace: Duration, reaping: Reaping, leader: u32, pgid: u32) {
    for target in targets {
        target.signal(Signal::SIGTERM);
        target.signal(Signal::SIGCONT);
    }
    if wait_gone(targets, grace, reaping, leader, pgid).await {
        return;
    }
    tracing::info!(?targets, "still running after the grace period: SIGKILL");
    for target in targets {
        target.signal(Signal::SIGKILL);
    }
    if !wait_gone(targets, KILL_WAIT, reaping, leader, pgid).await {
        tracing::warn!(?targets, "still there after SIGKILL");
    }
}

async fn wait_gone(
    targets: &[Target],
    limit: Duration,
    reaping: Reaping,
    leader: u32,
    pgid: u32,
) -> bool {
    let deadline = Instant::now() + limit;
    // The first look at a group that has members reads /proc at once: they may all be
    // zombies already.
    let mut next_scan = Instant::now();
    loop {
        // Zombies count as group members until reaped, and ours are reaped only here.
        reap(reaping, leader, pgid);
        let scan = Instant::now() >= next_scan;
        if scan {
            next_scan = Instant::now() + LIVE_SCAN_EVERY;
        }
        if targets.iter().all(|target| target.gone(reaping, scan)) {
            // The last ones may have just died: reap them, so that no zombie of ours is left.
            reap(reaping, leader, pgid);
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(GONE_POLL).await;
    }
}

/// Stops everything left of the child `leader` (which leads group `pgid`): the group, the
/// leader itself should it have left the group, and, with [`Reaping::All`], any orphan
/// re-parented to us.
pub(crate) async fn sweep(
    leader: u32,
    leader_start: Option<u64>,
    pgid: u32,
    grace: Duration,
    reaping: Reaping,
) {
    for _round in 0..MAX_SWEEP_ROUNDS {
        reap(reaping, leader, pgid);
        let mut targets = Vec::new();
        // Safe to signal by number even once the leader is reaped: a process group's ID
        // cannot be handed out again while any member of the group is alive.
        let group = Target::Group(pgid);
        if !group.gone(reaping, /*scan*/ true) {
            targets.push(group);
        }
        if let Some(start) = leader_start
            && reap::exit_of(leader).is_none()
        {
            let leader = Target::Process { pid: leader, start };
            if !leader.gone(reaping, /*scan*/ true) {
                targets.push(leader);
            }
        }
        // The group first: finding escaped descendants means reading every process in
        // /proc, which should not delay the signal to the group (milliseconds on a busy
        // machine).
        let group_signalled = !targets.is_empty();
        if group_signalled {
            ladder(&targets, grace, reaping, leader, pgid).await;
        }
        let orphans: Vec<Target> = match reaping {
            Reaping::All => reap::orphans(pgid)
                .into_iter()
                .map(|stat| Target::Process {
                    pid: stat.pid,
                    start: stat.start,
                })
                .collect(),
            // Not necessarily a subreaper, and children of ours that are not registered are
            // someone else's (a test harness, say): nothing to look for.
            Reaping::Own => Vec::new(),
        };
        if orphans.is_empty() {
            if group_signalled {
                continue;
            }
            return;
        }
        ladder(&orphans, grace, reaping, leader, pgid).await;
    }
    tracing::warn!(
        pgid,
        "processes still left after {MAX_SWEEP_ROUNDS} sweep rounds"
    );
}
