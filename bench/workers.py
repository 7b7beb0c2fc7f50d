#!/usr/bin/env python3
"""Helper of bench/workers.sh: worker supervision benchmarks, measured from outside Baton.

    python3 bench/workers.py deadline BATON WORKDIR   # 1. deadline to process group gone
    python3 bench/workers.py rss BATON WORKDIR        # 2. supervisor resident memory
    python3 bench/workers.py spawn BATON WORKDIR      # 3. spawn and reap 200 trivial workers
    python3 bench/workers.py watch MARKER OUT STOP    # the /proc watcher used by `deadline`
    python3 bench/workers.py sweep WORKDIR [--quiet]  # kill what is left of a run; fail if any stays

Everything it starts runs with its working directory under WORKDIR (the supervisors too:
they inherit it from `baton spawn`), which is how `sweep` finds stragglers. Only processes
whose cwd or command line is under WORKDIR, or that are in a process group this run tracked,
are ever signalled, and always by PID after checking the process start time.
"""

import ctypes
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

WORKER_CMD = "sleep 30 & sleep 30 & wait"
HZ = os.sysconf("SC_CLK_TCK")


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def say(*parts):
    print("[workers]", *parts, file=sys.stderr, flush=True)


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, -(-p * len(s) // 100) - 1))
    return s[int(k)]


def read_stat(pid):
    """(state, ppid, pgrp, start, utime+stime ticks) of /proc/PID/stat, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            line = f.read()
    except OSError:
        return None
    fields = line[line.rindex(b")") + 2:].split()
    # fields[0] is field 3: state 3, ppid 4, pgrp 5, utime 14, stime 15, start 22.
    return (fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[19]),
            int(fields[11]) + int(fields[12]))


def read_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def status_kib(pid):
    """VmRSS, VmHWM (KiB) and Threads of /proc/PID/status, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
    except OSError:
        return None
    got = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            got[key] = int(value.split()[0])
    if "VmRSS" not in got:  # a zombie has no memory lines
        return None
    return got


def read_io(pid):
    """(time, wchar) of /proc/PID/io, or None."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("wchar:"):
                    return time.time(), int(line.split()[1])
    except OSError:
        return None
    return None


def pids_now():
    return {int(n) for n in os.listdir("/proc") if n[0].isdigit()}


# ---------------------------------------------------------------------------------------------
# The watcher: which process groups exist, from /proc alone.


def watch(marker, out_path, stop_path, hot_after_s=0.2, linger_s=5.0):
    """Polls /proc (1 ms when a group is near its deadline, else 5 ms) for process groups
    whose leader's command line contains MARKER, and records for each: when it was first
    seen, when every member was dead (zombie or gone) and when no member was left at all
    (every zombie reaped). Membership is field 5 (pgrp) of /proc/PID/stat. A group counts as
    "hot" `hot_after_s` after it was first seen: from then on every member's stat is read on
    every poll (to see zombies); before, the directory listing alone says who is there.
    Stops once STOP exists and every group is gone, or `linger_s` after STOP appeared."""
    marker = marker.encode()
    groups = {}     # pgid -> dict
    member_of = {}  # pid -> (pgid, start)
    young = {}      # pid -> first seen: not classified yet, re-read (it may setpgid or exec)
    prev = set()
    periods = []
    last_t = None
    stop_seen = None
    expired = []
    cpu0 = time.process_time()
    open(out_path + ".ready", "w").close()
    while True:
        t = time.time()
        now = pids_now()
        hot = [g for g in groups.values() if g["gone_at"] is None and t >= g["first_seen"] + hot_after_s]
        if hot and last_t is not None:
            periods.append(t - last_t)
        last_t = t
        for pid in now - prev:
            young[pid] = t
        for pid in prev - now:
            young.pop(pid, None)
        prev = now
        for pid, seen in list(young.items()):
            # Re-read for its first 200 ms: a new process may still setpgid or exec.
            st = read_stat(pid)
            if st is None:
                del young[pid]
                continue
            state, _ppid, pgrp, start, _cpu = st
            if pgrp == pid and pgrp not in groups and is_leader(read_cmdline(pid), marker):
                groups[pgrp] = {"pgid": pgrp, "first_seen": seen, "dead_at": None, "gone_at": None,
                                "last_present": seen, "members": {}, "left": []}
            old = member_of.get(pid)
            if old is not None and old[0] != pgrp and old[0] in groups:
                groups[old[0]]["members"].pop(pid, None)
                del member_of[pid]
            if pgrp in groups and groups[pgrp]["gone_at"] is None:
                groups[pgrp]["members"][pid] = start
                member_of[pid] = (pgrp, start)
            if t - seen > 0.2:
                del young[pid]
                if pid not in member_of:
                    expired.append([pid, seen, t, pgrp, state, read_cmdline(pid)[:60].decode(errors="replace")])
        for g in groups.values():
            if g["gone_at"] is not None:
                continue
            present = [p for p in g["members"] if p in now]
            is_hot = t >= g["first_seen"] + hot_after_s
            alive = 0
            if is_hot and g["dead_at"] is None:
                still = []
                for p in present:
                    st = read_stat(p)
                    if st is None or st[2] != g["pgid"] or st[3] != g["members"][p]:
                        continue  # gone, left the group, or its PID was reused
                    still.append(p)
                    if st[0] != "Z":
                        alive += 1
                present = still
            if not present:
                g["gone_at"] = t
                if g["dead_at"] is None:
                    g["dead_at"] = t
                continue
            g["last_present"] = t
            if is_hot and alive == 0 and g["dead_at"] is None:
                g["dead_at"] = t
        if stop_seen is None and os.path.exists(stop_path):
            stop_seen = t
        if stop_seen is not None and (all(g["gone_at"] is not None for g in groups.values())
                                      or t - stop_seen >= linger_s):
            break
        busy = any(g["gone_at"] is None and t >= g["first_seen"] + hot_after_s - 0.02
                   for g in groups.values())
        time.sleep(max(0.0, t + (0.001 if busy else 0.005) - time.time()))
    # What is left of groups that never went: their members, for the caller to kill.
    for g in groups.values():
        if g["gone_at"] is None:
            for p, start in g["members"].items():
                st = read_stat(p)
                if st is not None and st[2] == g["pgid"] and st[3] == start:
                    g["left"].append([p, start, st[0]])
        g["members"] = len(g["members"])
    result = {
        "groups": list(groups.values()),
        "poll_p50_ms": pct(periods, 50) * 1e3 if periods else None,
        "poll_p99_ms": pct(periods, 99) * 1e3 if periods else None,
        "poll_max_ms": max(periods) * 1e3 if periods else None,
        "cpu_s": time.process_time() - cpu0,
        "expired": expired,
    }
    with open(out_path, "w") as f:
        json.dump(result, f)


def raise_priority():
    try:
        os.nice(-10)
    except OSError:
        pass


def is_leader(cmdline, marker):
    """A tracked group's leader: a command line that ends with `sh -c MARKER`, run as itself
    (sh) or under timeout/setsid; not `baton spawn ... -- sh -c MARKER`, nor the copy of it
    that forks off to become a supervisor (it leads its own group until it execs)."""
    args = cmdline.split(b"\0")
    return (cmdline.endswith(b"sh\0-c\0" + marker + b"\0")
            and os.path.basename(args[0]) in (b"sh", b"dash", b"timeout", b"setsid"))


def start_watcher(work, name):
    out = os.path.join(work, "watch-%s.json" % name)
    stop = os.path.join(work, "watch-%s.stop" % name)
    # At nice -10 (when allowed), so that the measuring instrument is not the one running late.
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", WORKER_CMD, out, stop],
                            cwd=work, preexec_fn=raise_priority)
    for _ in range(500):
        if os.path.exists(out + ".ready"):
            break
        time.sleep(0.01)
    else:
        proc.kill()
        sys.exit("workers: error: the watcher did not start")
    return proc, out, stop


def stop_watcher(proc, out, stop):
    open(stop, "w").close()
    if proc.wait(timeout=60) != 0:
        sys.exit("workers: error: the watcher failed")
    with open(out) as f:
        return json.load(f)


def kill_exact(pid, start):
    """SIGKILL one process, only if it is still the one that started at `start`."""
    st = read_stat(pid)
    if st is None or st[3] != start or st[0] == "Z":
        return False
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


# ---------------------------------------------------------------------------------------------
# 1. Deadline to group gone.


def baton_env(home):
    env = dict(os.environ)
    for name in ("BATON_CONFIG", "BATON_PROFILE", "BATON_ROUTE", "BATON_LOG"):
        env.pop(name, None)
    env["BATON_HOME"] = home
    return env


def latency_rows(groups, due_of, limit_s):
    """For each group with a due time: (dead latency, gone latency) in ms, None when not
    within `limit_s` of the deadline."""
    rows = {}
    for g in groups:
        due = due_of.get(g["pgid"])
        if due is None:
            continue
        dead = None if g["dead_at"] is None or g["dead_at"] - due > limit_s else (g["dead_at"] - due) * 1e3
        gone = None if g["gone_at"] is None or g["gone_at"] - due > limit_s else (g["gone_at"] - due) * 1e3
        rows[g["pgid"]] = (dead, gone)
    return rows


def describe(values):
    got = [v for v in values if v is not None]
    missing = len(values) - len(got)
    if not got:
        return "never within 5 s (%d of %d)" % (missing, len(values))
    text = "p50 %7.1f  p99 %7.1f  max %7.1f" % (pct(got, 50), pct(got, 99), max(got))
    if missing:
        text += "  + %d of %d never within 5 s" % (missing, len(values))
    return text


def deadline(baton, work):
    n = int(os.environ.get("BENCH_DEADLINE_N", "100"))
    batch = int(os.environ.get("BENCH_DEADLINE_BATCH", "100"))
    timeout_ms = 300
    results = {}

    # --- Baton: `baton spawn --timeout 300ms`, BATCH at a time, then `baton wait` on them.
    home = os.path.join(work, "deadline-baton")
    os.makedirs(home)
    env = baton_env(os.path.join(home, ".baton"))
    subprocess.run([baton, "ps"], cwd=home, env=env, check=True, stdout=subprocess.DEVNULL)
    load0 = load()
    proc, out, stop = start_watcher(work, "baton")
    ids = []
    for first in range(0, n, batch):
        these = []
        for _ in range(min(batch, n - first)):
            done = subprocess.run([baton, "spawn", "--timeout", "%dms" % timeout_ms, "--max-parallel", "100",
                                   "--", "sh", "-c", WORKER_CMD],
                                  cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit("workers: error: baton spawn exited %d: %s" % (done.returncode, done.stderr))
            these.append(done.stdout.strip())
        subprocess.run([baton, "wait", *these], cwd=home, env=env, stdout=subprocess.DEVNULL)
        ids += these
    watched = stop_watcher(proc, out, stop)
    load1 = load()
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(home, ".baton", "baton.db"), uri=True)
    workers = {row[0]: row[1:] for row in db.execute(
        "SELECT id, pid, pgid, started_at_ms, ended_at_ms, status FROM workers")}
    supervised = dict(db.execute("SELECT subject, at_ms FROM events WHERE kind = 'worker.supervised'"))
    db.close()
    statuses = sorted({w[4] for w in workers.values()})
    if len(workers) != n or statuses != ["timed_out"]:
        sys.exit("workers: error: expected %d timed_out workers, got %d with statuses %s"
                 % (n, len(workers), statuses))
    due_late = {}   # started_at_ms + 300: recorded just after the spawn, so at or after the true due time
    due_early = {}  # supervised + 300: recorded before the deadline is armed, so at or before it
    ended_at = {}
    for wid, (pid, pgid, started, ended, _status) in workers.items():
        due_late[pgid] = (started + timeout_ms) / 1e3
        due_early[pgid] = (supervised[wid] + timeout_ms) / 1e3
        ended_at[pgid] = ended / 1e3
    groups = watched["groups"]
    seen = {g["pgid"] for g in groups}
    if not set(due_late) <= seen:
        missed = sorted(set(due_late) - seen)
        sys.exit("workers: error: the watcher missed %d of Baton's process groups: %s (seen: %s)"
                 % (len(missed), missed, sorted(seen)))
    lat = latency_rows(groups, due_late, 5.0)
    lat_upper = latency_rows(groups, due_early, 5.0)
    by_pgid = {g["pgid"]: g for g in groups}
    # ended_at_ms is truncated to the ms: the true end is within 1 ms after it. The watcher
    # last saw a member at `last_present`, so an end recorded before that is a false claim.
    claims_early = [pg for pg in due_late if ended_at[pg] + 0.001 < by_pgid[pg]["last_present"]]
    claim_gap = [(ended_at[pg] - by_pgid[pg]["gone_at"]) * 1e3 for pg in due_late
                 if by_pgid[pg]["gone_at"] is not None]
    resolution = [(g["gone_at"] - g["last_present"]) * 1e3 for g in groups if g["gone_at"] is not None]
    first_seen = {g["pgid"]: g["first_seen"] + timeout_ms / 1e3 for g in groups}
    results["baton"] = {
        "refs": [("started_at_ms + 300", latency_rows(groups, due_late, 5.0)),
                 ("supervised event + 300", latency_rows(groups, due_early, 5.0)),
                 ("watcher's first sight + 300", latency_rows(groups, first_seen, 5.0))],
        "watched": watched, "load": (load0, load1), "groups": groups,
        "claims_early": claims_early, "claim_gap": claim_gap,
        "spread_ms": [(due_late[pg] - due_early[pg]) * 1e3 for pg in due_late],
        "resolution": resolution,
        # Deadlines that fell while `baton spawn` was still starting others (CPU contention)
        # against those after the last start.
        "during": [lat_gone for pg, lat_gone in ((pg, v[1]) for pg, v in latency_rows(groups, due_late, 5.0).items())
                   if due_late[pg] <= max(due_late.values()) - timeout_ms / 1e3 and lat_gone is not None],
        "after": [lat_gone for pg, lat_gone in ((pg, v[1]) for pg, v in latency_rows(groups, due_late, 5.0).items())
                  if due_late[pg] > max(due_late.values()) - timeout_ms / 1e3 and lat_gone is not None],
    }
    sweep(work, quiet=True)

    # --- Baselines: coreutils timeout under a shell `&` loop, BATCH at a time.
    # A shell loop starts its 100 at once (a burst: 100 deadlines within a few ms); Baton's
    # spawns come one every few ms. The paced variant starts them at Baton's measured rate,
    # so that both kill the same number of groups per second.
    starts = sorted(due_late.values())
    pace = (starts[-1] - starts[0]) / max(len(starts) - 1, 1)
    plain = "timeout -s TERM 0.3 sh -c '%s'" % WORKER_CMD
    variants = [
        ("timeout, burst", plain, 0.0),
        ("timeout, paced", plain, pace),
        ("timeout --foreground", "setsid timeout --foreground -s TERM 0.3 sh -c '%s'" % WORKER_CMD, 0.0),
    ]
    for name, line, gap in variants:
        slug = "".join(c for c in name if c.isalnum())
        d = os.path.join(work, "deadline-" + slug)
        os.makedirs(d)
        load0 = load()
        proc, out, stop = start_watcher(work, slug)
        # `read -t` on a FIFO nobody writes to: a sleep without starting a process.
        wait_gap = "    read -t %.4f -u 9 || true\n" % gap if gap > 0 else ""
        script = ("set -e\nmkfifo pace.fifo\nexec 9<>pace.fifo\nfor b in $(seq %d); do\n  for i in $(seq %d); do\n"
                  "    %s &\n    echo \"$! $EPOCHREALTIME\" >> starts\n%s  done\n  wait\ndone\n"
                  % (n // batch, batch, line, wait_gap))
        subprocess.run(["bash", "-c", script], cwd=d, check=False)
        watched = stop_watcher(proc, out, stop)
        load1 = load()
        due = {}
        with open(os.path.join(d, "starts")) as f:
            for row in f:
                pid, at = row.split()
                due[int(pid)] = float(at) + timeout_ms / 1e3
        groups = watched["groups"]
        if len(due) != n or not set(due) <= {g["pgid"] for g in groups}:
            sys.exit("workers: error: %s: %d starts, watcher saw %d of their groups"
                     % (name, len(due), len(set(due) & {g["pgid"] for g in groups})))
        first_seen = {g["pgid"]: g["first_seen"] + timeout_ms / 1e3 for g in groups if g["pgid"] in due}
        t_starts = sorted(due.values())
        print("  %s: one start every %.2f ms (mean)" % (name, (t_starts[-1] - t_starts[0]) / max(len(t_starts) - 1, 1)
                                                       * 1e3), file=sys.stderr)
        results[name] = {"refs": [("$EPOCHREALTIME after fork + 300", latency_rows(groups, due, 5.0)),
                                  ("watcher's first sight + 300", latency_rows(groups, first_seen, 5.0))],
                         "watched": watched, "load": (load0, load1)}
        # The survivors (the grandchildren `--foreground` leaves behind): killed here.
        killed = []
        for g in groups:
            for pid, start, _state in g["left"]:
                if kill_exact(pid, start):
                    killed.append((pid, start))
        results[name]["killed"] = len(killed)
        end = time.time() + 5
        while time.time() < end and any((read_stat(p) or "Z")[0] != "Z" and read_stat(p)[3] == s
                                        for p, s in killed):
            time.sleep(0.01)
        sweep(work, quiet=True)

    # --- Report.
    print("deadline to process group gone: %d workers `sh -c '%s'` (a process group with two"
          " grandchildren), deadline 300 ms, %d at a time; ms after the deadline fell due" % (n, WORKER_CMD, batch))
    print("  dead = every member has exited (zombies count as dead); gone = no member left in /proc"
          " (zombies reaped too); due time = the reference + 300 ms")
    print("  %-21s %-32s %-9s %-44s %s" % ("variant", "reference (due time)", "", "ms after due", ""))
    for name, r in results.items():
        for i, (ref, lat) in enumerate(r["refs"]):
            for j, what in enumerate(("dead", "gone")):
                print("  %-21s %-32s %-9s %s" % (name if i == 0 and j == 0 else "", ref if j == 0 else "", what,
                                                 describe([v[j] for v in lat.values()])))
    for name, r in results.items():
        w = r["watched"]
        print("  %-21s load %s -> %s; watcher poll p50 %.2f ms, p99 %.2f ms, max %.1f ms; watcher CPU %.1f s%s"
              % (name, r["load"][0], r["load"][1], w["poll_p50_ms"] or 0, w["poll_p99_ms"] or 0,
                 w["poll_max_ms"] or 0, w["cpu_s"],
                 "; %d grandchildren still running after the observation, killed by the benchmark" % r["killed"]
                 if r.get("killed") else ""))
    b = results["baton"]
    print("baton: started_at_ms is recorded after the spawn (at or after the true due time), the supervised event"
          " before the deadline is armed (at or before it); they differ by p50 %.1f ms, max %.1f ms"
          % (pct(b["spread_ms"], 50), max(b["spread_ms"])))
    print("baton: gone, due while other workers were still being spawned: n=%d p50 %.1f p99 %.1f ms;"
          " due after the last spawn: n=%d p50 %.1f max %.1f ms"
          % (len(b["during"]), pct(b["during"], 50), pct(b["during"], 99), len(b["after"]),
             pct(b["after"], 50), max(b["after"]) if b["after"] else float("nan")))
    print("baton: gone is the first poll that found no member; the poll before still saw one %.1f ms (p50),"
          " %.1f ms (max) earlier" % (pct(b["resolution"], 50), max(b["resolution"])))
    print("baton: ended_at_ms minus the watcher's gone: p50 %.1f ms, min %.1f ms, max %.1f ms;"
          " ended recorded while the watcher still saw a member: %d"
          % (pct(b["claim_gap"], 50), min(b["claim_gap"]), max(b["claim_gap"]), len(b["claims_early"])))

    def p99_of(name, ref, j):
        vals = [v[j] for v in dict(results[name]["refs"])[ref].values()]
        got = [v for v in vals if v is not None]
        return pct(got, 99) if len(got) == len(vals) else float("inf")

    p99 = p99_of("baton", "started_at_ms + 300", 1)
    print("baseline (the procedure it replaces): `baton wait --poll 5m` notices after up to 300000 ms, a constant:"
          " ratio gone p99 baton/poll %.5fx" % (p99 / 300000))
    fs = "watcher's first sight + 300"
    print("the paced shell loop started one `timeout` every %.1f ms (Baton's spawn rate in this run)" % (pace * 1e3))
    for base in ("timeout, burst", "timeout, paced"):
        print("ratios of p99, same reference (watcher's first sight), baton/%s: dead %.2fx, gone %.3fx"
              % (base, p99_of("baton", fs, 0) / p99_of(base, fs, 0), p99_of("baton", fs, 1) / p99_of(base, fs, 1)))
    print("baton/timeout --foreground: its groups were never gone within 5 s (the grandchildren survive)")
    # The watcher's resolution: a group went between the last poll that saw a member and the
    # first that saw none. "gone" above is the latter (an upper bound); this is the former.
    lower = [(g["last_present"] - due_late[g["pgid"]]) * 1e3 for g in results["baton"]["groups"]
             if g["pgid"] in due_late and g["gone_at"] is not None]
    print("goal p99 <= 100 ms (gone, due = started_at_ms + 300): %s (p99 %.1f ms; with the earliest due time,"
          " supervised + 300: %.1f ms; lower bound, the last poll that still saw a member: p99 %.1f ms)"
          % ("met" if p99 <= 100 else "MISSED", p99, p99_of("baton", "supervised event + 300", 1), pct(lower, 99)))


# ---------------------------------------------------------------------------------------------
# 2. Supervisor resident memory.


def wait_supervisor(db_path, wid, limit_s=10):
    end = time.time() + limit_s
    while time.time() < end:
        try:
            db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
            row = db.execute("SELECT supervisor_pid, pid FROM workers WHERE id = ?", (wid,)).fetchone()
            db.close()
        except sqlite3.Error:
            row = None
        if row and row[0] and row[1]:
            return row
        time.sleep(0.01)
    sys.exit("workers: error: worker %s did not start" % wid)


def rss(baton, work):
    samples_n = int(os.environ.get("BENCH_RSS_SAMPLES", "12"))
    home = os.path.join(work, "rss")
    os.makedirs(home)
    env = baton_env(os.path.join(home, ".baton"))
    db_path = os.path.join(home, ".baton", "baton.db")
    subprocess.run([baton, "ps"], cwd=home, env=env, check=True, stdout=subprocess.DEVNULL)
    print("supervisor resident memory: one `baton __supervise`, %d samples 0.4 s apart (KiB, /proc/PID/status)"
          % samples_n)
    print("%-44s %-16s %8s %8s %8s %8s %8s" % ("process", "load", "RSS p50", "RSS min", "RSS max", "HWM", "threads"))
    rows = {}

    def sample(label, pid, series=False):
        got, l0 = [], load()
        cpu0 = read_stat(pid)
        for _ in range(samples_n):
            s = status_kib(pid)
            if s is None:
                break
            got.append(s)
            time.sleep(0.4)
        cpu1 = read_stat(pid)
        if not got:
            sys.exit("workers: error: %s (pid %d) ended before it could be sampled" % (label, pid))
        values = [s["VmRSS"] for s in got]
        rows[label] = statistics.median(values)
        print("%-44s %-16s %8d %8d %8d %8d %8d" % (label, l0, statistics.median(values), min(values), max(values),
                                                  max(s["VmHWM"] for s in got), got[-1]["Threads"]))
        if series:
            print("    RSS over time (KiB, every 0.4 s): %s" % " ".join(str(v) for v in values))
        if cpu0 and cpu1:
            busy = (cpu1[4] - cpu0[4]) / HZ
            return busy, len(got) * 0.4
        return None

    # Baselines for scale: a plain sleep, and bash (kept alive: `sleep; :` stops bash from exec'ing sleep).
    plain = subprocess.Popen(["sleep", "5"], cwd=home)
    shell = subprocess.Popen(["bash", "-c", "sleep 5; :"], cwd=home)
    time.sleep(0.1)
    sample("plain `sleep 5` (baseline)", plain.pid)
    sample("`bash -c 'sleep 5; :'` (baseline)", shell.pid)
    plain.wait()
    shell.wait()

    for label, argv in [("supervisor of `sleep 5` (idle)", ["--", "sleep", "5"]),
                        ("supervisor of `yes` (5 s, 10 MiB log cap)", ["--timeout", "5s", "--", "yes"])]:
        wid = subprocess.run([baton, "spawn", *argv], cwd=home, env=env, check=True, stdout=subprocess.PIPE,
                             text=True).stdout.strip()
        sup, child = wait_supervisor(db_path, wid)
        worker_kib = status_kib(child)
        io0 = read_io(child)
        cpu = sample(label, sup, series="yes" in label)
        io1 = read_io(child)
        if label.startswith("supervisor of `sleep") and worker_kib:
            print("%-44s %-16s %8d %8s %8s %8d %8d" % ("  its worker, `sleep 5` (one sample)", load(),
                                                      worker_kib["VmRSS"], "", "", worker_kib["VmHWM"],
                                                      worker_kib["Threads"]))
        subprocess.run([baton, "wait", wid], cwd=home, env=env, stdout=subprocess.DEVNULL)
        if cpu:
            print("    supervisor CPU while sampled: %.2f s in %.1f s (%.0f%% of one core)"
                  % (cpu[0], cpu[1], 100 * cpu[0] / cpu[1]))
        if "yes" in label:
            log = os.path.join(home, ".baton", "workers", wid + ".log")
            size = os.path.getsize(log)
            with open(log, "rb") as f:
                text = f.read()
            omitted = 0
            for line in text.splitlines():
                if b"bytes omitted" in line:
                    omitted = int(line.split(b"bytes omitted")[0].split()[-1])
            print("    log: %d bytes kept (cap 10485760), %d bytes omitted (bytes of timestamped lines)"
                  % (size, omitted))
            if io0 and io1:
                print("    `yes` wrote %.1f MB/s into the supervisor's pipe while sampled (/proc/PID/io wchar)"
                      % ((io1[1] - io0[1]) / (io1[0] - io0[0]) / 1e6))
    # For scale: how fast `yes` writes into a pipe that `cat` empties into /dev/null.
    pipe = subprocess.Popen(["bash", "-c", "yes | cat > /dev/null"], cwd=home)
    time.sleep(0.3)
    kids = [p for p in pids_now() if (read_stat(p) or (0, 0))[1] == pipe.pid and read_cmdline(p).startswith(b"yes")]
    if kids:
        a = read_io(kids[0])
        time.sleep(2)
        b = read_io(kids[0])
        if a and b:
            print("baseline: `yes | cat > /dev/null` moves %.1f MB/s (load %s)" % ((b[1] - a[1]) / (b[0] - a[0]) / 1e6,
                                                                               load()))
    for p in kids:
        st = read_stat(p)
        if st:
            kill_exact(p, st[3])  # cat then sees end of file and bash exits
    pipe.wait()
    sup_idle = rows["supervisor of `sleep 5` (idle)"]
    print("ratios (RSS p50): idle supervisor / sleep %.1fx, / bash %.1fx; flooding supervisor / idle supervisor %.1fx"
          % (sup_idle / rows["plain `sleep 5` (baseline)"], sup_idle / rows["`bash -c 'sleep 5; :'` (baseline)"],
             rows["supervisor of `yes` (5 s, 10 MiB log cap)"] / sup_idle))
    sweep(work, quiet=True)


# ---------------------------------------------------------------------------------------------
# 3. Spawn and reap 200 trivial workers.

PR_SET_CHILD_SUBREAPER = 36


def reap_all(limit_s=60):
    """Reaps every child (we are a subreaper: orphaned supervisors land here) until none is
    left. Returns how many were reaped and their CPU seconds (their own reaped children,
    the workers, included)."""
    end = time.time() + limit_s
    count, cpu = 0, 0.0
    while time.time() < end:
        try:
            pid, _status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return count, cpu
        if pid == 0:
            time.sleep(0.001)
        else:
            count += 1
            cpu += usage.ru_utime + usage.ru_stime
    sys.exit("workers: error: children still running %d s after the round" % limit_s)


def children_cpu():
    r = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def spawn(baton, work):
    n = int(os.environ.get("BENCH_SPAWN_N", "200"))
    rounds = int(os.environ.get("BENCH_SPAWN_ROUNDS", "3"))
    # Orphaned supervisors are re-parented to this process, which reaps them: so their CPU
    # time is counted (RUSAGE_CHILDREN) and "all gone" is known exactly.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("workers: error: prctl(PR_SET_CHILD_SUBREAPER) failed")
    scripts = {
        "baton": ('t0=$EPOCHREALTIME\nfor i in $(seq %d); do "$BATON" spawn --max-parallel %d -- true >/dev/null'
                  ' || exit 1; done\nt1=$EPOCHREALTIME\n"$BATON" wait --all >/dev/null || exit 1\n'
                  't2=$EPOCHREALTIME\necho "$t0 $t1 $t2"\n' % (n, n)),
        "shell (builtin true)": ('t0=$EPOCHREALTIME\nfor i in $(seq %d); do true > log.$i 2>&1 & echo $! >> pids;'
                                 ' done\nt1=$EPOCHREALTIME\nwait\nt2=$EPOCHREALTIME\necho "$t0 $t1 $t2"\n' % n),
        "shell (/bin/true)": ('t0=$EPOCHREALTIME\nfor i in $(seq %d); do /bin/true > log.$i 2>&1 & echo $! >> pids;'
                              ' done\nt1=$EPOCHREALTIME\nwait\nt2=$EPOCHREALTIME\necho "$t0 $t1 $t2"\n' % n),
    }
    names = list(scripts)
    res = {name: [] for name in names}
    splits = []
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            d = os.path.join(work, "spawn-%d-%s" % (r, name.split()[0] + str(names.index(name))))
            os.makedirs(d)
            env = baton_env(os.path.join(d, ".baton"))
            env["BATON"] = baton
            if name == "baton":
                # The store exists beforehand (its creation is not what is timed).
                subprocess.run([baton, "ps"], cwd=d, env=env, check=True, stdout=subprocess.DEVNULL)
            l0 = load()
            cpu0 = children_cpu()
            t_start = time.time()
            done = subprocess.run(["bash", "-c", scripts[name]], cwd=d, env=env, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                sys.exit("workers: error: %s round %d exited %d" % (name, r, done.returncode))
            orphans, orphans_cpu = reap_all()
            t_all = time.time()
            cpu1 = children_cpu()
            t0, t1, t2 = (float(x) for x in done.stdout.split())
            row = {"load": l0, "spawn": t1 - t0, "wait": t2 - t1, "wall": t2 - t0, "all_gone": t_all - t0,
                   "cpu": cpu1 - cpu0, "driver": t0 - t_start, "orphans": orphans, "orphans_cpu": orphans_cpu}
            if name == "baton":
                db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d, ".baton", "baton.db"), uri=True)
                statuses = dict(db.execute("SELECT status, count(*) FROM workers GROUP BY 1"))
                ev = {}
                for at, kind, sub in db.execute("SELECT at_ms, kind, subject FROM events"):
                    ev.setdefault(sub, {})[kind] = at
                db.close()
                if statuses != {"succeeded": n}:
                    sys.exit("workers: error: baton round %d: statuses %s" % (r, statuses))
                splits.append(ev)
            else:
                with open(os.path.join(d, "pids")) as f:
                    if len(f.read().split()) != n:
                        sys.exit("workers: error: %s round %d: not %d pids" % (name, r, n))
            res[name].append(row)
            say("%s round %d: %.3f s (load %s)" % (name, r, row["wall"], l0))
    print("spawn and reap %d trivial workers, %d rounds each, alternating; medians (s)" % (n, rounds))
    print("%-22s %8s %8s %8s %9s %8s %10s  %s" % ("", "wall", "spawn", "wait", "all gone", "CPU s", "wall/wkr",
                                                 "load per round"))
    med = {}
    for name in names:
        rows = res[name]
        m = {k: statistics.median(row[k] for row in rows) for k in ("wall", "spawn", "wait", "all_gone", "cpu")}
        med[name] = m
        print("%-22s %8.3f %8.3f %8.3f %9.3f %8.3f %8.2f ms  %s" % (
            name, m["wall"], m["spawn"], m["wait"], m["all_gone"], m["cpu"], m["wall"] / n * 1e3,
            " | ".join(row["load"] for row in rows)))
    for base in names[1:]:
        print("ratio baton/%s: wall %.1fx, CPU %.1fx" % (base, med["baton"]["wall"] / med[base]["wall"],
                                                        med["baton"]["cpu"] / med[base]["cpu"]))
    print("baton per worker: `baton spawn` %.2f ms wall; %.2f ms CPU in all (spawn, supervisor, `true`, bash)"
          % (med["baton"]["spawn"] / n * 1e3, med["baton"]["cpu"] / n * 1e3))
    orph = [(row["orphans"], row["orphans_cpu"]) for row in res["baton"]]
    print("    of which the supervisors that outlived their `baton spawn` (re-parented to the driver and reaped"
          " by it, %s of %d per round): %.2f ms CPU each, with their `true`"
          % ("/".join(str(o[0]) for o in orph), n, statistics.median(o[1] / max(o[0], 1) for o in orph) * 1e3))
    steps = [("worker.queued", "worker.starting", "spawn: queued -> claimed"),
             ("worker.starting", "worker.supervised", "supervisor process start + store open"),
             ("worker.supervised", "worker.started", "supervisor: child spawned"),
             ("worker.started", "worker.ended", "child ran, swept, outcome written")]
    print("baton per worker from the store's events (all rounds; ms, 1 ms resolution):")
    for a, b, label in steps:
        v = [e[b] - e[a] for ev in splits for e in ev.values() if a in e and b in e]
        print("    %-40s p50 %5.1f  p90 %5.1f  max %5.1f" % (label, pct(v, 50), pct(v, 90), max(v)))
    sweep(work, quiet=True)


# ---------------------------------------------------------------------------------------------
# What is left: processes whose cwd or command line is under WORKDIR.


def ancestors():
    """This process and its ancestors: never stragglers, whatever their cwd."""
    chain, pid = set(), os.getpid()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        st = read_stat(pid)
        pid = st[1] if st else 0
    return chain


def ours(work):
    found = []
    skip = ancestors()
    for pid in pids_now():
        if pid in skip:
            continue
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            cwd = ""
        cmd = read_cmdline(pid)
        if cwd == work or cwd.startswith(work + "/") or work.encode() in cmd:
            st = read_stat(pid)
            if st is not None and st[0] != "Z":
                found.append((pid, st[3], cmd.replace(b"\0", b" ").decode(errors="replace").strip()))
    return found


def sweep(work, quiet=False, limit_s=5.0):
    """Kills whatever of this run is still running, waits up to `limit_s` for it to go, and
    fails if anything is left."""
    work = os.path.realpath(work)
    left = ours(work)
    for pid, start, cmd in left:
        say("straggler: pid %d: %s: killing it" % (pid, cmd))
        kill_exact(pid, start)
    end = time.time() + limit_s
    while time.time() < end:
        still = ours(work)
        if not still:
            break
        time.sleep(0.05)
    else:
        sys.exit("workers: error: processes left: %s" % ours(work))
    if left:
        # Every part waits for what it started (and kills what a baseline leaves behind on
        # purpose) before this: anything found here is a failure, reported once killed.
        print("left running: %d straggler(s), killed: %s" % (len(left), "; ".join(c for _, _, c in left)))
        sys.exit("workers: error: %d process(es) were still running at the end" % len(left))
    if not quiet:
        print("left running: none")
    return 0


def main():
    what = sys.argv[1]
    if what == "watch":
        watch(sys.argv[2], sys.argv[3], sys.argv[4])
    elif what == "sweep":
        sweep(sys.argv[2], quiet="--quiet" in sys.argv[3:])
    else:
        baton, work = sys.argv[2], os.path.realpath(sys.argv[3])
        {"deadline": deadline, "rss": rss, "spawn": spawn}[what](baton, work)


if __name__ == "__main__":
    main()
