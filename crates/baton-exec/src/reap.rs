//! Reaping for the whole process: one registry of the children this crate started, so that
//! several supervisions (and detached launches) can live in one process without stealing
//! each other's exit statuses.
//!
//! Why not `Child::wait` or `tokio::process`: a supervisor is a child subreaper, so orphaned
//! grandchildren are re-parented to it and only `waitpid(-1)` reaps them. But `waitpid(-1)`
//! also reaps the direct children of every other supervision in the process. So each status
//! reaped is filed here under its PID, and whoever started that PID takes it from here.
//!
//! Ordering rule that makes it race-free: `waitpid(-1)` runs only with the registry locked,
//! and a child is started and registered under the same lock, so no status can be reaped
//! before its PID is known to be wanted. Statuses of PIDs nobody registered (orphans) are
//! dropped. Every reap bumps a version in a `watch` channel, which wakes the supervisions
//! whose child another supervision happened to reap.
//!
//! Two ways to reap: a supervisor reaps everything ([`reap_now`], `waitpid(-1)`: a
//! subreaper, it must), while [`run`](crate::run()) reaps only its own child and its own
//! group ([`reap_one`], [`reap_own`]), so that it takes no status from anyone in a process
//! that also starts children some other way.

#![allow(
    clippy::disallowed_methods,
    reason = "baton-exec is the crate that spawns processes: every child starts here"
)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::process::{Child, Command};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::sync::watch;

use crate::proc;

/// How a direct child ended: its exit code, or the signal that ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(nix::sys::signal::Signal),
}

impl Exit {
    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The exit code, unless a signal ended it.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(code) => Some(code),
            Exit::Signal(_) => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(formatter, "exited with code {code}"),
            Exit::Signal(signal) => write!(formatter, "killed by signal {}", signal.as_str()),
        }
    }
}

#[derive(Default)]
struct Registry {
    /// Direct children someone waits for, with their exit once reaped.
    watched: HashMap<u32, Option<Exit>>,
    /// Process groups of supervisions under way: their members are nobody's leftovers.
    groups: HashSet<u32>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);
static REAPED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::Sender::new(0));

fn registry() -> MutexGuard<'static, Registry> {
    // The registry stays consistent even if a holder panicked: every update is one insert
    // or remove.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A started, registered child.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    /// Its start time, read before anyone could reap it (`None` only if /proc is missing).
    pub(crate) start: Option<u64>,
}

/// Starts `command` and registers its PID before any reaper can see it exit. With
/// `own_group`, the new process group is registered as one under supervision.
pub(crate) fn spawn(command: &mut Command, own_group: bool) -> io::Result<Spawned> {
    let mut registry = registry();
    let child = command.spawn()?;
    let pid = child.id();
    registry.watched.insert(pid, None);
    if own_group {
        registry.groups.insert(pid);
    }
    // Still under the lock: the child is at worst a zombie nobody has reaped, so /proc has it.
    let start = proc::start_time(pid);
    Ok(Spawned { child, start })
}

/// Reaps every child of this process that has ended, filing the statuses of registered ones.
/// Returns whether anything was reaped.
pub(crate) fn reap_now() -> bool {
    let mut registry = registry();
    let mut reaped = false;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                file(&mut registry, pid, Exit::Code(code));
                reaped = true;
            }
            Ok(WaitStatus::Signaled(pid, signal, _core_dumped)) => {
                file(&mut registry, pid, Exit::Signal(signal));
                reaped = true;
            }
            // Nothing more has ended (StillAlive), or no children at all (ECHILD).
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            // Stops and continues are not asked for (no WUNTRACED); skip if one shows up.
            Ok(_) | Err(Errno::EINTR) => {}
            Err(error) => {
                tracing::warn!(%error, "waitpid failed");
                break;
            }
        }
    }
    drop(registry);
    if reaped {
        REAPED.send_modify(|version| *version = version.wrapping_add(1));
    }
    reaped
}

fn file(registry: &mut Registry, pid: Pid, exit: Exit) {
    let Ok(pid) = u32::try_from(pid.as_raw()) else {
        return;
    };
    if let Some(slot) = registry.watched.get_mut(&pid) {
        *slot = Some(exit);
    }
}

/// What [`reap_one`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    Running,
    Ended(Exit),
    /// Not a child of ours any more and no status filed: something outside this registry
    /// waited for it (or SIGCHLD is ignored, and the kernel reaped it).
    Lost,
}

/// Reaps registered child `pid` if it has ended, without touching any other child; or
/// takes its status if a supervisor's [`reap_now`] got there first.
pub(crate) fn reap_one(pid: u32) -> Waited {
    let Ok(raw) = i32::try_from(pid) else {
        return Waited::Lost;
    };
    let mut registry = registry();
    if let Some(Some(exit)) = registry.watched.get(&pid) {
        return Waited::Ended(*exit);
    }
    loop {
        let exit = match waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Exit::Code(code),
            Ok(WaitStatus::Signaled(_, signal, _core_dumped)) => Exit::Signal(signal),
            Ok(WaitStatus::StillAlive) => return Waited::Running,
            // Stops and continues are not asked for (no WUNTRACED); skip if one shows up.
            Ok(_) | Err(Errno::EINTR) => continue,
            // Under the lock, so a supervisor that reaped it has filed it (checked above).
            Err(_) => return Waited::Lost,
        };
        if let Some(slot) = registry.watched.get_mut(&pid) {
            *slot = Some(exit);
        }
        return Waited::Ended(exit);
    }
}

/// Reaps the ended children of ours in process group `pgid` (`waitpid(-pgid)`: members
/// re-parented to us when this process is a subreaper, and `leader` itself), and `leader`
/// should it have left the group. Statuses of registered children are filed; nothing
/// outside the group is touched.
pub(crate) fn reap_own(leader: u32, pgid: u32) {
    let Ok(group) = i32::try_from(pgid) else {
        return;
    };
    let mut registry = registry();
    loop {
        match waitpid(Pid::from_raw(-group), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => file(&mut registry, pid, Exit::Code(code)),
            Ok(WaitStatus::Signaled(pid, signal, _core_dumped)) => {
                file(&mut registry, pid, Exit::Signal(signal));
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(error) => {
                tracing::warn!(%error, pgid, "waitpid on a process group failed");
                break;
            }
        }
    }
    drop(registry);
    // A leader that moved to another group is not reaped by the loop above.
    let _ = reap_one(leader);
}

/// The exit of a registered child, once reaped (by anyone).
pub(crate) fn exit_of(pid: u32) -> Option<Exit> {
    registry().watched.get(&pid).copied().flatten()
}

/// Stops tracking a child (after its exit was taken) and, if it led a supervised group,
/// the group.
pub(crate) fn forget(pid: u32) {
    let mut registry = registry();
    registry.watched.remove(&pid);
    registry.groups.remove(&pid);
}

/// Children of this process that belong to nobody: not a registered direct child and not in
/// a group under supervision. These are escaped grandchildren re-parented to us (we are a
/// subreaper), skipping zombies (reaping takes care of those).
///
/// Limit: an escapee cannot say which supervision it came from, so with several
/// supervisions in one process the first to clean up takes it. One supervisor per process
/// (how `baton spawn` runs them) has no such ambiguity.
pub(crate) fn orphans(own_pgid: u32) -> Vec<proc::Stat> {
    let me = std::process::id();
    let stats = proc::all_stats();
    let registry = registry();
    stats
        .into_iter()
        .filter(|stat| stat.ppid == me && !stat.is_zombie())
        .filter(|stat| !registry.watched.contains_key(&stat.pid))
        .filter(|stat| stat.pgrp != own_pgid && !registry.groups.contains(&stat.pgrp))
        .collect()
}

/// A receiver that changes whenever anything was reaped. Subscribe BEFORE checking
/// [`exit_of`], so that a reap in between is not missed.
pub(crate) fn subscribe() -> watch::Receiver<u64> {
    REAPED.subscribe()
}

/// Blocks until registered child `pid` has ended, without `waitpid(-1)`: for threads that wait
/// on one launched process. Returns its exit when known.
pub(crate) fn wait_blocking(pid: u32) -> Option<Exit> {
    let Ok(raw) = i32::try_from(pid) else {
        return None;
    };
    let exit = loop {
        match waitpid(Pid::from_raw(raw), None) {
            Ok(WaitStatus::Exited(_, code)) => break Some(Exit::Code(code)),
            Ok(WaitStatus::Signaled(_, signal, _core_dumped)) => break Some(Exit::Signal(signal)),
            Ok(_) | Err(Errno::EINTR) => {}
            // A supervisor's `waitpid(-1)` got there first; it filed the status (under the
            // lock, before we could take it).
            Err(_) => break exit_of(pid),
        }
    };
    forget(pid);
    exit
}
