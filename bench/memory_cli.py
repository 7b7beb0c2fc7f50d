#!/usr/bin/env python3
"""`baton memory store|search` against claude-flow's `memory store|search`, as processes.

Usage: memory_cli.py BATON_BIN CLAUDE_FLOW_BIN WORKDIR

Both CLIs are per-process, so every operation is one process, timed wall-clock from spawn to
exit. The same entries (keys `pattern-<topic>-<n>`, ~200-byte JSON values from a seeded
vocabulary, tags, 3 namespaces) are stored in both, alternating entry by entry (which goes
first alternates too); then the same queries are searched in both, alternating the same way.
Each tool has its own HOME, cwd and data directory under WORKDIR. Prints per-operation
medians and p90, the ratio baton/claude-flow, and whether each search found what it should.

Environment: BENCH_MEM_CLI_N (stores, default 200), BENCH_MEM_CLI_SEARCHES (default 40),
BENCH_MEM_CLI_SEED (42). Exit 1 when Baton's own correctness check fails (claude-flow's
results are reported, not checked).
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time

TOPICS = ["auth-retry", "cache-invalidation", "db-migration", "rate-limit", "error-handling",
          "config-reload", "token-refresh", "queue-backpressure", "schema-validation",
          "log-rotation", "circuit-breaker", "deploy-rollback", "feature-flag",
          "session-expiry", "index-rebuild", "batch-import", "webhook-delivery",
          "lock-contention", "memory-leak", "test-flake"]
# Searches run through Baton, claude-flow's default search (semantic) and its `-t keyword`.
SEARCHERS = ("baton", "cf", "cf-kw")
NAMESPACES = ["patterns", "swarm", "project"]
BASE = ("the use when call with error request value before after check return fails service "
        "client server should handler response state retry cache timeout update write read "
        "store query load task worker agent config result input output null empty list map key "
        "data event stream buffer file path token user session backoff jitter exponential "
        "idempotent transaction rollback commit index schema field column table migration "
        "version deploy build test mock fixture assert panic").split()


def vocabulary(rng):
    words, seen = list(BASE), set(BASE)
    while len(words) < 2000:
        w = "".join(rng.choice("bcdfghjklmnprstvw") + rng.choice("aeiou")
                    for _ in range(rng.randint(2, 3))) + rng.choice("dkmnprt")
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def zipf(rng, n):
    import math
    return min(n - 1, int(math.exp(math.log(n + 1) * rng.random()) - 1))


def make_entries(n, rng, vocab):
    entries = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        words = [vocab[zipf(rng, len(vocab))] for _ in range(rng.randint(20, 27))]
        value = json.dumps({"pattern": " ".join(words[:-7]), "context": " ".join(words[-7:]),
                            "confidence": round(0.5 + rng.random() / 2, 2),
                            "uses": rng.randint(0, 49),
                            "outcome": "failure" if rng.random() < 0.25 else "success"},
                           separators=(",", ":"))
        entries.append({"ns": NAMESPACES[i % 3], "key": f"pattern-{topic}-{i}", "value": value,
                        "tags": topic.split("-"), "words": set(words), "topic": topic})
    return entries


def run(argv, env, cwd):
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - t, p


def main():
    baton, cf, work = sys.argv[1:4]
    n = int(os.environ.get("BENCH_MEM_CLI_N", "200"))
    searches = int(os.environ.get("BENCH_MEM_CLI_SEARCHES", "40"))
    rng = random.Random(int(os.environ.get("BENCH_MEM_CLI_SEED", "42")))
    vocab = vocabulary(rng)
    entries = make_entries(n, rng, vocab)

    base_env = {k: v for k, v in os.environ.items()
                if k in ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR")}
    envs, cwds = {}, {}
    for tool in ("baton", "cf"):
        d = os.path.join(work, tool)
        os.makedirs(os.path.join(d, "home"), exist_ok=True)
        os.makedirs(os.path.join(d, "xdg"), exist_ok=True)
        envs[tool] = dict(base_env, HOME=os.path.join(d, "home"),
                          XDG_CONFIG_HOME=os.path.join(d, "xdg"),
                          BATON_HOME=os.path.join(d, "baton-home"), NO_COLOR="1")
        cwds[tool] = d

    # claude-flow refuses to store before `memory init` (not timed; Baton needs no init).
    t, p = run([cf, "memory", "init"], envs["cf"], cwds["cf"])
    print(f"claude-flow `memory init`: {t * 1000:.0f} ms, exit {p.returncode} (not in the figures)")
    if p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:])
        sys.exit(2)

    def store(tool, e):
        if tool == "baton":
            argv = [baton, "memory", "store", e["key"], e["value"], "-n", e["ns"]]
            for tag in e["tags"]:
                argv += ["-t", tag]
        else:
            argv = [cf, "memory", "store", "-k", e["key"], "--value", e["value"], "-n", e["ns"],
                    "--tags", ",".join(e["tags"])]
        return run(argv, envs[tool], cwds[tool])

    def search(tool, q):
        if tool == "baton":
            argv = [baton, "memory", "search", q, "--json"]
        else:
            argv = [cf, "memory", "search", "-q", q, "--format", "json"]
            if tool == "cf-kw":
                argv += ["-t", "keyword"]
            tool = "cf"
        return run(argv, envs[tool], cwds[tool])

    times = {("store", t): [] for t in ("baton", "cf")}
    failures = {"baton": 0, "cf": 0}
    for i, e in enumerate(entries):
        order = ("baton", "cf") if i % 2 == 0 else ("cf", "baton")
        for tool in order:
            t, p = store(tool, e)
            times[("store", tool)].append(t)
            if p.returncode != 0 or "ERROR" in p.stdout + p.stderr:
                failures[tool] += 1
                if failures[tool] <= 2:
                    print(f"{tool} store failed (exit {p.returncode}): "
                          f"{(p.stdout + p.stderr).strip()[-400:]}")
    print(f"stored {n} entries in each; failed stores: baton {failures['baton']}, "
          f"claude-flow {failures['cf']}")

    # Queries: what should come back is known from the data.
    counts = {}
    for e in entries:
        for w in e["words"]:
            counts[w] = counts.get(w, 0) + 1
    queries = []
    for j in range(searches):
        kind = ("rare", "key-like", "two-word", "miss")[j % 4]
        if kind == "rare":
            e = rng.choice(entries)
            word = min(e["words"], key=lambda w: (counts[w], w))
            expect = {x["key"] for x in entries if word in x["words"]}
            queries.append((kind, word, expect))
        elif kind == "key-like":
            topic = "auth-retry" if j % 8 == 1 else rng.choice(TOPICS)
            expect = {x["key"] for x in entries if x["topic"] == topic}
            queries.append((kind, topic.replace("-", " "), expect))
        elif kind == "two-word":
            e = rng.choice(entries)
            ws = sorted(e["words"], key=lambda w: (counts[w], w))[:2]
            expect = {x["key"] for x in entries if set(ws) & x["words"]}
            queries.append((kind, " ".join(ws), expect))
        else:
            queries.append((kind, f"q{rng.randint(0, 999999)}zx", set()))

    found = {(tool, kind): [0, 0, 0] for tool in SEARCHERS
             for kind in ("rare", "key-like", "two-word", "miss")}  # [right, empty, n]
    samples = {}
    for j, (kind, q, expect) in enumerate(queries):
        order = SEARCHERS if j % 2 == 0 else SEARCHERS[::-1]
        for tool in order:
            t, p = search(tool, q)
            times.setdefault(("search", tool), []).append(t)
            if tool == "baton":
                try:
                    keys = {h["key"] for h in json.loads(p.stdout)["hits"]}
                except (ValueError, KeyError):
                    keys = set()
            else:
                try:
                    reply = json.loads(p.stdout[p.stdout.index("{"):])
                    keys = {r["key"] for r in reply.get("results", [])}
                except (ValueError, KeyError, TypeError):
                    keys = set()
            f = found[(tool, kind)]
            f[2] += 1
            if not keys:
                f[1] += 1
            if (expect and keys & expect) or (not expect and not keys):
                f[0] += 1
            elif (tool, kind) not in samples:
                samples[(tool, kind)] = (q, sorted(keys)[:3], p.stdout.strip()[-200:])

    def ms(v):
        return statistics.median(v) * 1000

    def p90(v):
        v = sorted(v)
        return v[max(0, -(-len(v) * 9 // 10) - 1)] * 1000

    print(f"\nper operation, wall from spawn to exit (ms)")
    print(f"{'operation':<16} {'n':>5} {'baton p50':>10} {'p90':>8} {'cf p50':>10} {'p90':>8} "
          f"{'baton/cf':>9}")
    for op, cf_op in (("store", ("store", "cf")), ("search", ("search", "cf")),
                      ("search -t keyword", ("search", "cf-kw"))):
        b, c = times[("store" if op == "store" else "search", "baton")], times[cf_op]
        print(f"{op:<16} {len(b):>5} {ms(b):>10.2f} {p90(b):>8.2f} {ms(c):>10.2f} {p90(c):>8.2f} "
              f"{ms(b) / ms(c):>8.3f}x")
    print("\nsearch results: right = an expected entry in the top 10 (a miss: no hit at all)")
    print("(claude-flow: its default `memory search`, semantic, and `-t keyword`)")
    print(f"{'kind':<10} {'n':>4} {'baton right':>12} {'empty':>6} {'cf right':>9} {'empty':>6} "
          f"{'cf-kw right':>12} {'empty':>6}")
    for kind in ("rare", "key-like", "two-word", "miss"):
        b, c, k = found[("baton", kind)], found[("cf", kind)], found[("cf-kw", kind)]
        print(f"{kind:<10} {b[2]:>4} {b[0]:>12} {b[1]:>6} {c[0]:>9} {c[1]:>6} {k[0]:>12} {k[1]:>6}")
    for (tool, kind), (q, keys, out) in sorted(samples.items()):
        print(f"  first wrong {tool} {kind} {q!r}: got {keys}"
              + (f"\n    output tail: {out!r}" if tool.startswith("cf") and not keys else ""))
    # claude-flow starts a background daemon (`daemon start --foreground --workspace CWD`) that
    # outlives the command; end every process still running with our work dir in its command
    # line, by PID, and say so.
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if work in cmd and int(pid) != os.getpid():
            left.append((int(pid), cmd.strip()))
    for pid, cmd in left:
        print(f"left running, killed: {pid} {cmd[:160]}")
        try:
            os.kill(pid, 15)
        except OSError:
            pass
    if left:
        time.sleep(1)
        for pid, _ in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    baton_ok = all(found[("baton", k)][0] == found[("baton", k)][2]
                   for k in ("rare", "key-like", "two-word", "miss")) and failures["baton"] == 0
    print(f"\nbaton correctness: {'ok' if baton_ok else 'FAILED'}")
    sys.exit(0 if baton_ok else 1)


if __name__ == "__main__":
    main()
