#!/usr/bin/env bash
# baton run's own cost and its parallelism: the pipeline_bench example of baton-pipeline
# (crates/baton-pipeline/examples/pipeline_bench.rs), in one process and one run.
#   1. Overhead per subtask: a plan of N independent one-file subtasks run whole by
#      `baton_pipeline::start` against an instant scripted server (no gates, an approving
#      reviewer), wall time minus the model time its ledger recorded, per subtask (scheduling,
#      prompts, apply, commit, events, reports), against dispatch + apply alone per dispatch.
#   2. Three independent subtasks whose replies take 500 ms each, on two endpoints of one slot,
#      against the same plan one subtask at a time (`run.parallel = 1`). Ideal: 0.67x.
#   3. The run of 1. publishing every event to a webhook on loopback, against publishing
#      nowhere.
#
#   bash bench/pipeline.sh
#
# BENCH_PIPELINE_SUBTASKS (10), BENCH_PIPELINE_ROUNDS (5, medians), BENCH_PIPELINE_SERVICE_MS
# (500). Exits non-zero when a run does not end approved with one commit per subtask.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { echo "==> $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

step "cargo build --release -p baton-pipeline --example pipeline_bench"
cargo build --release --locked -p baton-pipeline --example pipeline_bench
step "pipeline_bench"
echo "load: $(uptime | sed 's/.*load average: //')"
"$TARGET_DIR/release/examples/pipeline_bench" \
    --subtasks "${BENCH_PIPELINE_SUBTASKS:-10}" \
    --rounds "${BENCH_PIPELINE_ROUNDS:-5}" \
    --service-ms "${BENCH_PIPELINE_SERVICE_MS:-500}"
echo "load at end: $(uptime | sed 's/.*load average: //')"
