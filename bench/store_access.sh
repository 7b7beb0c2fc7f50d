#!/usr/bin/env bash
# How async tasks of one long-lived process should reach the store: the store_access example
# of baton-store (crates/baton-store/examples/store_access/) measures, in one process and one
# run, a connection opened per call (`Store::open`), the connection pool the code uses
# (`StorePool::get`, the baseline), the pool inside `spawn_blocking`, and an actor thread
# owning one connection (tokio mpsc + oneshot), for worker lookups, ledger writes, memory
# gets and a mixed loop with 1, 4 and 16 tasks on a 2-worker multi-thread runtime: p50/p99
# per call and throughput, each as a ratio to the pool. Then a child process holds the write
# lock for 500 ms while tasks run: reads served meanwhile, the slowest read and write, and
# how late a 1 ms timer task ran. No goal: it says which is cheapest.
#
#   bash bench/store_access.sh
#
# BENCH_STORE_OPS (3000 calls per cell), BENCH_STORE_ROUNDS (10), BENCH_STORE_TASKS (1,4,16),
# BENCH_STORE_HOLD_MS (500), BENCH_STORE_LOCK_ROUNDS (2), BENCH_KEEP=1 keeps the database.
# Exits non-zero when a check fails (a lookup found nothing, a ledger row is missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { echo "==> $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

step "cargo build --release -p baton-store --example store_access"
cargo build --release --locked -p baton-store --example store_access
step "store_access"
echo "load: $(uptime | sed 's/.*load average: //')"
"$TARGET_DIR/release/examples/store_access" \
    --ops "${BENCH_STORE_OPS:-3000}" \
    --rounds "${BENCH_STORE_ROUNDS:-10}" \
    --tasks "${BENCH_STORE_TASKS:-1,4,16}" \
    --hold-ms "${BENCH_STORE_HOLD_MS:-500}" \
    --lock-rounds "${BENCH_STORE_LOCK_ROUNDS:-2}"
echo "load at end: $(uptime | sed 's/.*load average: //')"
