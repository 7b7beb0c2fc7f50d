#!/usr/bin/env bash
# Memory benchmarks:
#   1. the memory_bench example of baton-store (in-process): store throughput, and search
#      latency p50/p99 by query kind at 1k, 10k and 100k entries (goal: p99 <= 2 ms at 100k);
#   2. bench/memory_cli.py: `baton memory store|search` against claude-flow's
#      `memory store|search` (npm), as processes, alternating, with medians, ratios and whether
#      each search found what it should.
# Part 2 installs claude-flow into a temp dir (`npm install`, several minutes: it compiles
# better-sqlite3 and hnswlib-node when no prebuilt binary downloads), unless BENCH_CF_PREFIX
# names an existing install (a dir with node_modules/.bin/claude-flow). Without npm, or when the
# install fails, part 2 is skipped with the reason (exit 0 for that part; BENCH_CF_REQUIRED=1
# makes it an error).
#
#   bash bench/memory.sh              # both
#   bash bench/memory.sh store        # part 1 only ("store"), or part 2 only ("cli")
#
# BENCH_MEM_SIZES (1000,10000,100000), BENCH_MEM_SEARCHES (1000), BENCH_MEM_CLI_N (200 stores),
# BENCH_MEM_CLI_SEARCHES (40), BENCH_CF_VERSION (default: `npm view claude-flow version`),
# BENCH_KEEP=1 keeps the temp dir. Exits non-zero when a correctness check of Baton fails; a
# missed speed goal is printed ("MISSED"), not an error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PARTS="${*:-store cli}"

step() { echo "==> $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/baton-memory-bench.XXXXXX")"
cleanup() {
    # claude-flow leaves a daemon per workspace (memory_cli.py ends them; this catches a crash).
    local p pid
    for p in /proc/[0-9]*; do
        pid="${p#/proc/}"
        [[ "$pid" != "$$" ]] || continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$WORK/"; then
            echo "killing leftover $pid: $(tr '\0' ' ' <"$p/cmdline" | cut -c1-120)" >&2
            kill "$pid" 2>/dev/null || true
        fi
    done
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

if [[ " $PARTS " == *" store "* ]]; then
    step "cargo build --release -p baton-store --example memory_bench"
    cargo build --release --locked -p baton-store --example memory_bench
    step "memory_bench"
    echo "load: $(uptime | sed 's/.*load average: //')"
    "$TARGET_DIR/release/examples/memory_bench" \
        --sizes "${BENCH_MEM_SIZES:-1000,10000,100000}" \
        --searches "${BENCH_MEM_SEARCHES:-1000}"
    echo "load at end: $(uptime | sed 's/.*load average: //')"
    echo
fi

if [[ " $PARTS " == *" cli "* ]]; then
    skip() {
        echo "claude-flow side by side SKIPPED: $*"
        if [[ "${BENCH_CF_REQUIRED:-0}" == 1 ]]; then exit 2; fi
    }
    run_cli() {
        BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
        if [[ -z "${BATON_BIN:-}" ]]; then
            step "cargo build --release -p baton"
            cargo build --release --locked -p baton
        fi
        command -v python3 >/dev/null || { skip "python3 not found"; return 0; }
        if [[ -n "${BENCH_CF_PREFIX:-}" ]]; then
            PREFIX="$BENCH_CF_PREFIX"
        else
            command -v npm >/dev/null || { skip "npm not found"; return 0; }
            VERSION="${BENCH_CF_VERSION:-$(npm view claude-flow version 2>/dev/null || true)}"
            [[ -n "$VERSION" ]] || { skip "\`npm view claude-flow version\` failed"; return 0; }
            PREFIX="$WORK/claude-flow"
            step "npm install --prefix $PREFIX claude-flow@$VERSION"
            if ! npm install --prefix "$PREFIX" --no-audit --no-fund "claude-flow@$VERSION" \
                >"$WORK/npm-install.log" 2>&1; then
                tail -20 "$WORK/npm-install.log"
                skip "npm install claude-flow@$VERSION failed (log above)"
                return 0
            fi
        fi
        CF="$PREFIX/node_modules/.bin/claude-flow"
        [[ -x "$CF" ]] || { skip "no $CF"; return 0; }
        echo "claude-flow: $(node -p "require('$PREFIX/node_modules/claude-flow/package.json').version") ($CF), node $(node --version)"
        echo "baton:       $("$BATON" --version)"
        echo "load: $(uptime | sed 's/.*load average: //')"
        step "bench/memory_cli.py"
        mkdir -p "$WORK/cli"
        python3 "$ROOT/bench/memory_cli.py" "$BATON" "$CF" "$WORK/cli"
        echo "load at end: $(uptime | sed 's/.*load average: //')"
    }
    run_cli
fi
