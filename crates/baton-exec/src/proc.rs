//! Process identity and process-group signalling, read from `/proc` (Linux).
//!
//! A PID alone is not an identity: the kernel hands it out again once the process is reaped.
//! PID plus start time (field 22 of `/proc/PID/stat`, clock ticks since boot) is, and every
//! signal sent on behalf of a stored record goes through that check first.

use std::fs;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp};

use crate::error::ExecError;

/// The fields of `/proc/PID/stat` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) pid: u32,
    /// `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), ...
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) pgrp: u32,
    /// Field 22: clock ticks after boot at which the process started.
    pub(crate) start: u64,
}

impl Stat {
    pub(crate) fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Parses one `/proc/PID/stat` line. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so the fields after it are found from the LAST `)`.
pub(crate) fn parse_stat(pid: u32, line: &str) -> Option<Stat> {
    let after_comm = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // `fields[0]` is field 3 (state), so field N is at index N - 3.
    Some(Stat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn read_stat(pid: u32) -> Option<Stat> {
    let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &line)
}

/// Every process visible in `/proc` (thread-group leaders only; threads are not listed).
pub(crate) fn all_stats() -> Vec<Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        // A process can exit between the listing and the read: skip it.
        .filter_map(read_stat)
        .collect()
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`), or `None`
/// when there is no such process. A zombie still has one (its PID is not free yet).
pub fn start_time(pid: u32) -> Option<u64> {
    read_stat(pid).map(|stat| stat.start)
}

/// Whether `pid` is still the process that started at `start` (zombies included: the PID
/// cannot be reused before its parent reaps it).
pub fn is_same_process(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// Whether `pid` is still the process that started at `start` and has not exited: a
/// zombie waiting for its reaper counts as gone here (it can no longer act).
pub fn is_running(pid: u32, start: u64) -> bool {
    read_stat(pid).is_some_and(|stat| stat.start == start && !stat.is_zombie())
}

/// Sends `signal` to process group `pgid` only if its leader is still the process recorded
/// as (`leader_pid`, `leader_start`). Returns whether the signal went out: `false` when the
/// leader is gone or was replaced by an unrelated process that got its PID, or when the
/// group has no member left.
pub fn signal_group_if_ours(
    pgid: u32,
    leader_pid: u32,
    leader_start: u64,
    signal: Signal,
) -> Result<bool, ExecError> {
    if !is_same_process(leader_pid, leader_start) {
        return Ok(false);
    }
    signal_group(pgid, signal)
}

/// `killpg` with the guards every caller needs: never group 0 or 1 (that would be our own
/// group or init's) and never the caller's own group. `Ok(false)` when the group is empty.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> Result<bool, ExecError> {
    let Some(group) = as_pid(pgid) else {
        return Ok(false);
    };
    if group == getpgrp() {
        return Ok(false);
    }
    match killpg(group, signal) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(source) => Err(ExecError::Signal {
            pgid,
            signal: signal.as_str(),
            source,
        }),
    }
}

/// Sends `signal` to one process, only if it is still the one that started at `start`.
/// Returns whether the signal went out.
pub fn signal_process(pid: u32, start: u64, signal: Signal) -> bool {
    let Some(target) = as_pid(pid) else {
        return false;
    };
    is_same_process(pid, start) && kill(target, signal).is_ok()
}

/// Whether process group `pgid` has any member left (zombies count until they are reaped).
pub fn group_alive(pgid: u32) -> bool {
    let Some(group) = as_pid(pgid) else {
        return false;
    };
    // Signal 0 checks without sending. EPERM means it exists but belongs to someone else.
    !matches!(killpg(group, None), Err(Errno::ESRCH))
}

/// Whether process group `pgid` has a member that has not exited (zombies do not count).
/// Reads every process in /proc: call it only once [`group_alive`] said the group exists.
pub(crate) fn group_has_live_member(pgid: u32) -> bool {
    all_stats()
        .iter()
        .any(|stat| stat.pgrp == pgid && !stat.is_zombie())
}

/// PIDs of the processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    all_stats()
        .into_iter()
        .filter(|stat| stat.ppid == pid)
        .map(|stat| stat.pid)
        .collect()
}

/// Kills (SIGKILL) every process group that has a member whose environment holds
/// `name=value`: what a coordinator killed with `kill -9` left running of the commands it
/// had started with that variable set (it could not stop them itself). Returns the groups
/// signalled. Processes of other users (whose environment cannot be read) are never touched,
/// nor this process's own group.
pub fn kill_groups_with_env(name: &str, value: &str) -> Vec<u32> {
    let needle = format!("{name}={value}");
    let own = u32::try_from(getpgrp().as_raw()).unwrap_or(0);
    let mut groups: Vec<u32> = all_stats()
        .iter()
        .filter(|stat| stat.pgrp != own && !stat.is_zombie())
        .filter(|stat| {
            fs::read(format!("/proc/{}/environ", stat.pid)).is_ok_and(|environ| {
                environ
                    .split(|byte| *byte == 0)
                    .any(|entry| entry == needle.as_bytes())
            })
        })
        .map(|stat| stat.pgrp)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups.retain(|pgid| as_pid(*pgid).is_some_and(|group| killpg(group, Signal::SIGKILL).is_ok()));
    groups
}

/// PIDs 0 and 1 mean "my own group" and init to kill(2): never a target here.
fn as_pid(pid: u32) -> Option<Pid> {
    let raw = i32::try_from(pid).ok()?;
    (raw > 1).then(|| Pid::from_raw(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn stat_fields_are_found_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (my (odd) cmd) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 200 18446744073709551615";
        let stat = parse_stat(4242, line).unwrap();
        assert_eq!(
            stat,
            Stat {
                pid: 4242,
                state: 'S',
                ppid: 17,
                pgrp: 4242,
                start: 987_654
            }
        );
    }

    #[test]
    fn a_truncated_stat_line_is_not_a_process() {
        assert_eq!(parse_stat(1, "1 (init) S 0 1"), None);
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn this_process_has_a_start_time_and_is_itself() {
        let me = std::process::id();
        let start = start_time(me).unwrap();
        assert!(is_same_process(me, start));
        assert!(!is_same_process(me, start + 1));
    }

    #[test]
    fn a_recorded_leader_that_is_gone_is_never_signalled() {
        // No process has this start time, so nothing may be signalled. SIGCONT: harmless
        // should the check ever break.
        let me = std::process::id();
        let start = start_time(me).unwrap();
        let sent = signal_group_if_ours(me, me, start + 12_345, Signal::SIGCONT).unwrap();
        assert!(!sent);
    }

    #[test]
    fn groups_zero_and_one_and_our_own_are_refused() {
        // SIGCONT: harmless should a guard ever break.
        assert!(!signal_group(0, Signal::SIGCONT).unwrap());
        assert!(!signal_group(1, Signal::SIGCONT).unwrap());
        let own = u32::try_from(getpgrp().as_raw()).unwrap();
        assert!(!signal_group(own, Signal::SIGCONT).unwrap());
        assert!(!group_alive(0));
    }
}
