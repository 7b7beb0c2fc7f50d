#!/usr/bin/env bash
# Worker supervision benchmarks, each against a baseline in the same run (bench/README.md):
#   1. deadline to process group gone: 100 workers `sh -c 'sleep 30 & sleep 30 & wait'` with
#      `--timeout 300ms`, all running at once; a python watcher polls /proc (1 ms) for members
#      of each group (field 5 of /proc/PID/stat) and says when all are dead and when none is
#      left. Baselines: the 5-minute poll it replaces (a constant) and coreutils `timeout`
#      under a shell `&` loop (burst, paced at Baton's spawn rate, and --foreground), measured
#      the same way. Goal: p99 <= 100 ms.
#   2. resident memory of one `baton __supervise` while its worker idles and while it floods
#      stdout (`yes`, default log cap), against a plain `sleep` and `bash`.
#   3. wall time to spawn and reap 200 trivial workers (`baton spawn -- true` x200, then
#      `baton wait --all`) against a shell `&` loop, 3 rounds each, alternating; medians.
# Everything runs in a temp dir; at the end nothing it started may be left running (checked:
# stragglers are killed by PID and the run fails).
#
#   bash bench/workers.sh                 # all three
#   bash bench/workers.sh deadline rss    # some of them (deadline, rss, spawn)
#
# Needs target/release/baton (bench/run.sh builds it; CARGO_TARGET_DIR and BATON_BIN are
# respected), python3, bash 5 (EPOCHREALTIME), coreutils timeout and setsid. Exit 2 when a
# tool is missing. Knobs: BENCH_DEADLINE_N (100), BENCH_DEADLINE_BATCH (100), BENCH_SPAWN_N
# (200), BENCH_SPAWN_ROUNDS (3), BENCH_RSS_SAMPLES (12); BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
HELPER="$ROOT/bench/workers.py"

say() { echo "[workers] $*" >&2; }

missing=()
for tool in python3 timeout setsid; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "workers: error: missing ${missing[*]}; hint: install python3 and coreutils/util-linux" >&2
  exit 2
fi
if [ ! -x "$BATON" ]; then
  echo "workers: error: $BATON not found; hint: cargo build --release -p baton (or bash bench/run.sh)" >&2
  exit 2
fi
if [ -z "${EPOCHREALTIME:-}" ]; then
  echo "workers: error: bash 5 or newer is needed (EPOCHREALTIME)" >&2
  exit 2
fi

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(deadline rss spawn)

TMP="$(mktemp -d "${TMPDIR:-/tmp}/baton-bench-workers.XXXXXX")"
TMP="$(cd "$TMP" && pwd -P)"
cleanup() {
  # Whatever of this run is still running is killed (by PID, after checking its start time).
  python3 "$HELPER" sweep "$TMP" --quiet >&2 || true
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing from the caller's Baton config leaks in; each benchmark sets its own BATON_HOME.
unset BATON_CONFIG BATON_PROFILE BATON_ROUTE BATON_LOG BATON_HOME
export XDG_CONFIG_HOME="$TMP/xdg"
mkdir -p "$XDG_CONFIG_HOME"

say "temp dir $TMP, load: $(uptime | sed 's/.*load average: //')"
for part in "${parts[@]}"; do
  case "$part" in
    deadline | rss | spawn) ;;
    *) echo "workers: error: unknown benchmark \`$part\`; known: deadline rss spawn" >&2; exit 1 ;;
  esac
  say "$part (load $(cut -d' ' -f1-3 /proc/loadavg))"
  python3 -u "$HELPER" "$part" "$BATON" "$TMP"
  echo
done
# The check every benchmark ends with, once more for the whole run.
python3 "$HELPER" sweep "$TMP"
