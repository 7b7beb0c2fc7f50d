#!/usr/bin/env bash
# Where a worker's cost goes, for bench/RESULTS.md (a diagnostic, not a benchmark: strace and
# perf slow processes down). Three looks:
#   1. the delay between a supervisor noticing its deadline (its first `kill(-PGID, 0)`
#      probe) and its SIGTERM to the group, with few processes on the machine and with 400
#      more (idle `sleep`s): the sweep reads /proc/*/stat of every process before it signals;
#   2. what opening the store costs a short-lived command when no other connection is open
#      and the WAL holds ~1000 frames (SQLite then rebuilds its index from the whole WAL),
#      against the same store checkpointed: `baton kill ID` (an ended worker: open, one
#      lookup, exit), perf stat and the number of pread64 calls;
#   3. on-CPU call paths of 100 `baton spawn -- true` plus `baton wait --all` (perf record,
#      DWARF call graphs), the functions that matter, children %.
#
#   bash bench/profile_workers.sh    # needs strace and perf (a part is skipped without them)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
[ -x "$BATON" ] || { echo "profile: error: $BATON not found; hint: bash bench/run.sh builds it" >&2; exit 2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/baton-bench-profile-workers.XXXXXX")"
TMP="$(cd "$TMP" && pwd -P)"
SLEEPS=()
cleanup() {
  cd "$ROOT"
  if [ ${#SLEEPS[@]} -gt 0 ]; then kill "${SLEEPS[@]}" 2>/dev/null || true; fi
  python3 "$ROOT/bench/workers.py" sweep "$TMP" --quiet >&2 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset BATON_CONFIG BATON_PROFILE BATON_ROUTE BATON_LOG
export XDG_CONFIG_HOME="$TMP/xdg"
procs() { find /proc -maxdepth 1 -name '[0-9]*' | wc -l; }

echo "load: $(uptime | sed 's/.*load average: //')"
if command -v strace >/dev/null; then
  echo "== 1. deadline noticed -> SIGTERM to the group (strace --seccomp-bpf -f -e trace=kill), 3 workers each"
  mkdir -p "$TMP/one" && cd "$TMP/one"
  export BATON_HOME="$TMP/one/.baton"
  for extra in 0 400; do
    for _ in $(seq "$extra"); do sleep 60 & SLEEPS+=($!); done
    sleep 0.3
    for k in 1 2 3; do
      strace -f --seccomp-bpf -e trace=kill -tt -o "$TMP/kill.$extra.$k" \
        "$BATON" spawn --timeout 300ms -- sh -c 'sleep 30 & sleep 30 & wait' >/dev/null
      "$BATON" wait --all >/dev/null || true
      python3 - "$TMP/kill.$extra.$k" "$(procs)" <<'PY'
import datetime, re, sys
lines = open(sys.argv[1]).read().splitlines()
at = lambda l: datetime.datetime.strptime(l.split()[1], "%H:%M:%S.%f")
probe = next(l for l in lines if re.search(r"kill\(-\d+, 0\)", l))
term = next(l for l in lines if re.search(r"kill\(-\d+, SIGTERM", l))
print("  %4s processes on the machine: probe -> SIGTERM %.2f ms" % (sys.argv[2], (at(term) - at(probe)).total_seconds() * 1e3))
PY
    done
    if [ ${#SLEEPS[@]} -gt 0 ]; then kill "${SLEEPS[@]}"; wait "${SLEEPS[@]}" 2>/dev/null || true; SLEEPS=(); fi
  done
fi

echo "== 2. opening the store alone with a ~1000-frame WAL, against the same store checkpointed"
mkdir -p "$TMP/wal" && cd "$TMP/wal"
export BATON_HOME="$TMP/wal/.baton"
for _ in $(seq 35); do "$BATON" spawn -- true >/dev/null; done
"$BATON" wait --all >/dev/null
id="$("$BATON" ps --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')"
cp -r "$TMP/wal/.baton" "$TMP/big" && cp -r "$TMP/wal/.baton" "$TMP/small"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()' \
  "$TMP/small/baton.db"
for variant in big small; do
  export BATON_HOME="$TMP/$variant"
  wal=$(stat -c %s "$TMP/$variant/baton.db-wal" 2>/dev/null || echo 0)
  echo "  $variant: WAL $wal bytes ($((wal / 4120)) frames of 4 KiB pages)"
  if command -v perf >/dev/null; then
    perf stat -r 40 "$BATON" kill "$id" 2>&1 >/dev/null | grep -E "task-clock|elapsed" | sed 's/^ */    /'
  fi
  if command -v strace >/dev/null; then
    strace -c -e trace=pread64 -o "$TMP/pread.$variant" "$BATON" kill "$id" >/dev/null
    echo "    pread64 calls: $(awk '$NF == "pread64" {print $4}' "$TMP/pread.$variant")"
  fi
done

if command -v perf >/dev/null; then
  echo "== 3. perf record: 100 x \`baton spawn -- true\` then \`baton wait --all\` (children %, all processes)"
  mkdir -p "$TMP/rec" && cd "$TMP/rec"
  export BATON_HOME="$TMP/rec/.baton"
  "$BATON" ps >/dev/null
  # shellcheck disable=SC2016 # $1 expands in the inner bash, on purpose
  perf record -q -F 4000 --call-graph dwarf,16384 -o "$TMP/perf.data" -- \
    bash -c 'for _ in $(seq 100); do "$1" spawn --max-parallel 200 -- true >/dev/null; done; "$1" wait --all >/dev/null' \
    _ "$BATON" 2>/dev/null
  perf report -i "$TMP/perf.data" --sort comm --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -4
  perf report -i "$TMP/perf.data" --comm baton --children --sort symbol --stdio 2>/dev/null \
    | grep -E "^ +[0-9]" \
    | sed -E 's/ +-? +-? *$//' \
    | grep -E "\] (std::rt::lang_start_internal|baton::commands::spawn::run|baton::commands::supervise::run::\{\{closure\}\}|baton_exec::supervise::supervise::\{\{closure\}\}|baton_exec::reap::orphans|baton_store::Store::open|sqlite3LockAndPrepare|walChecksumBytes|baton_config::load|baton::workers::promote|_dl_relocate_object|intel_check_word.constprop.0|do_fault|__x64_sys_openat|__x64_sys_execve|__x64_sys_exit_group)$" \
    | awk '!seen[$4]++' | cut -c1-120
fi
