#!/usr/bin/env bash
# Where one `baton dispatch` spends its time, against the same instant scripted-server as
# bench/dispatch.sh: CPU vs wall (perf stat), syscall counts (strace -c), syscall wall time
# (perf trace -s), and the hottest call paths on CPU (perf record, DWARF call graphs).
# A diagnostic for RESULTS.md, not a benchmark: strace and perf slow the process down.
#
#   bash bench/profile_dispatch.sh     # needs perf and strace; skips what is missing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
SERVER="${SCRIPTED_SERVER_BIN:-$TARGET_DIR/release/scripted-server}"
for bin in "$BATON" "$SERVER"; do
  [ -x "$bin" ] || { echo "profile: error: $bin not found; hint: bash bench/run.sh builds it" >&2; exit 2; }
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/baton-bench-profile.XXXXXX")"
# shellcheck source=bench/scripted_server.sh
source "$ROOT/bench/scripted_server.sh"
cleanup() {
  scripted_server_stop
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
scripted_server_start "$SERVER" ok "$TMP" || exit 1
mkdir -p "$TMP/work" "$TMP/home" "$TMP/xdg"
cd "$TMP/work"
unset BATON_CONFIG BATON_PROFILE BATON_ROUTE BATON_LOG
CODER_API_URL="$SERVER_URL/v1/chat/completions"
export CODER_API_URL CODER_MODEL=scripted SYSTEM_PROMPT="Return only code."
export BATON_HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/xdg"
call=("$BATON" dispatch --no-stdin "Write a function that adds two integers")
"${call[@]}" >/dev/null # creates the ledger and stores the endpoint probe

echo "load: $(uptime | sed 's/.*load average: //')"
if command -v perf >/dev/null; then
  echo "== perf stat -r 30 (CPU vs wall)"
  perf stat -r 30 -e task-clock,context-switches,page-faults "${call[@]}" 2>&1 >/dev/null \
    | grep -E "task-clock|context|faults|elapsed"
fi
if command -v strace >/dev/null; then
  echo "== strace -f -c (syscalls of one call, counts)"
  strace -f -c -o "$TMP/strace.txt" "${call[@]}" >/dev/null
  grep -E "calls|fsync|unlink|openat|read |statx|connect|total" "$TMP/strace.txt"
  strace -f -e trace=openat -o "$TMP/open.txt" "${call[@]}" >/dev/null
  echo "files opened under /etc/ssl/certs: $(grep -c '/etc/ssl/certs/' "$TMP/open.txt")"
fi
if command -v perf >/dev/null; then
  echo "== perf trace -s (syscall wall time of one call, ms), three calls"
  for i in 1 2 3; do
    perf trace -s -o "$TMP/trace$i.txt" "${call[@]}" >/dev/null 2>&1 || true
    grep -E "^ +(fsync|unlink|read|statx|openat|epoll_wait) " "$TMP/trace$i.txt" \
      | awk -v i="$i" '{printf "call %s: %-10s calls %4s total %7s ms\n", i, $1, $2, $4}'
  done
  echo "== perf record (on-CPU call paths of 15 calls, children %)"
  # shellcheck disable=SC2016 # $@ expands in the inner bash, on purpose
  perf record -q -F 10000 --call-graph dwarf,16384 -o "$TMP/perf.data" -- \
    bash -c 'for _ in $(seq 15); do "$@" >/dev/null; done' _ "${call[@]}" 2>/dev/null
  perf report -i "$TMP/perf.data" --comm baton --children --sort symbol --stdio 2>/dev/null \
    | grep -E "^ +[0-9]" \
    | grep -E "dispatch::run|http_client|load_native_certs|open_store|record_calls|drop_in_place<baton_store::Store>|sqlite3WalClose|baton_config::load|lang_start_internal" \
    | sed -E 's/ +$//' | cut -c1-120
fi
