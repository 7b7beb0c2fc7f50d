#!/usr/bin/env bash
# Runs Baton's benchmarks: builds the release binaries, then
#   1. bench/dispatch.sh: `baton dispatch` against the curl+jq pipeline it replaces;
#   2. the pool_throughput example of baton-llm: one Dispatcher against the endpoints' limit
#      (multi-thread runtime, then current-thread);
#   3. bench/workers.sh: worker supervision (deadline to process group gone, supervisor
#      memory, spawning and reaping 200 workers) against shell baselines;
#   4. bench/memory.sh: memory store throughput and search latency at 1k/10k/100k entries
#      (memory_bench example), then `baton memory` against claude-flow's memory CLI (npm;
#      skipped with the reason when it cannot be installed; BENCH_CF_PREFIX reuses an install);
#   5. the run_overhead example of baton-exec: `baton_exec::run` of `true` against std's
#      `Command::status()` and `output()` (current-thread, then multi-thread).
#   6. bench/repetition.sh: what the repetition guard would cut in replies of the rig's model
#      and in source files (none of the normal ones), and its cost per token.
#   7. bench/store_access.sh: tasks reaching the store through a connection per call, the
#      pool (baseline), the pool in spawn_blocking and an actor thread, steady and while
#      another process holds the write lock.
#   8. bench/pipeline.sh: baton run's own cost per subtask against dispatch + apply alone, and
#      three subtasks on two endpoints against one at a time.
# Prints the machine, the load and every figure; record them in bench/RESULTS.md with this
# command. Exits non-zero when a benchmark could not run or a correctness check failed; a
# missed speed goal is printed ("MISSED"), not an error.
#
#   bash bench/run.sh
#   BENCH_N=50 bash bench/run.sh    # fewer dispatch calls
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { echo "==> $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

step "cargo build --release -p baton -p baton-test-support -p baton-llm --example pool_throughput"
cargo build --release --locked -p baton -p baton-test-support
cargo build --release --locked -p baton-llm --example pool_throughput
step "cargo build --release -p baton-exec --example run_overhead"
cargo build --release --locked -p baton-exec --example run_overhead

echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
echo "load:    $(uptime | sed 's/.*load average: //')"
echo

step "bench/dispatch.sh"
bash "$ROOT/bench/dispatch.sh"
echo

step "pool_throughput (multi-thread)"
"$TARGET_DIR/release/examples/pool_throughput"
echo
step "pool_throughput (current-thread)"
"$TARGET_DIR/release/examples/pool_throughput" --current-thread
echo

step "bench/workers.sh"
bash "$ROOT/bench/workers.sh"
echo

step "bench/memory.sh"
BATON_BIN="${BATON_BIN:-$TARGET_DIR/release/baton}" bash "$ROOT/bench/memory.sh"
echo

step "run_overhead (current-thread)"
"$TARGET_DIR/release/examples/run_overhead"
echo
step "run_overhead (multi-thread)"
"$TARGET_DIR/release/examples/run_overhead" --multi-thread
echo
step "bench/repetition.sh"
bash "$ROOT/bench/repetition.sh"
echo

step "bench/store_access.sh"
bash "$ROOT/bench/store_access.sh"
echo

step "bench/pipeline.sh"
bash "$ROOT/bench/pipeline.sh"
echo
echo "load at end: $(uptime | sed 's/.*load average: //')"
