#!/usr/bin/env bash
# Edit formats with the real model of the LLM rig: the same small change asked in each format
# (whole, search-replace, udiff) on the files of bench/edits/ (cases.tsv: file, task, a regex
# the changed file must match, one it must not), each through
# `baton dispatch --apply --json` with the profile's `edit_format` set to the format. Prints,
# per format: replies, well-formed (parsed in the format asked for), applied (no edit failed
# or was refused), and correct (the file then matches the case's check), and the ledger's own
# `baton stats --edits` table, which must agree.
#
#   bash bench/edits.sh                   # every case x every format, BENCH_EDIT_REPEATS times
#
# Needs llama-server and the model (scripts/install-llm.sh installs both, cached), python3,
# and a release baton (built here; CARGO_TARGET_DIR and BATON_BIN are respected). Knobs:
# BENCH_EDIT_REPEATS (1), BENCH_EDIT_PORT (11448), BENCH_EDIT_TEMPERATURE (0),
# BENCH_EDIT_FORMATS ("whole search-replace udiff"), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
CASES="$ROOT/bench/edits/cases.tsv"
PORT="${BENCH_EDIT_PORT:-11448}"
REPEATS="${BENCH_EDIT_REPEATS:-1}"
FORMATS="${BENCH_EDIT_FORMATS:-whole search-replace udiff}"
say() { echo "[edits] $*" >&2; }

if [ -z "${BATON_BIN:-}" ]; then
  say "cargo build --release -p baton"
  cargo build --release --locked -q -p baton --manifest-path "$ROOT/Cargo.toml"
fi
# shellcheck source=scripts/llm-env.sh
source "$ROOT/scripts/llm-env.sh"
llm_env edits || exit 2
server="$LLAMA_SERVER" model="$LLAMA_MODEL"
alias_name="$(basename "$model" .gguf)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/baton-edits-bench.XXXXXX")"
project="$WORK/project"
mkdir -p "$project"
cleanup() {
  (cd "$project" && "$BATON" server down coder >/dev/null 2>&1) || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cat >"$project/baton.toml" <<TOML
[servers.coder]
command = ["$server", "-m", "$model", "--alias", "$alias_name", "--host", "127.0.0.1", "--port", "$PORT", "-c", "8192", "-np", "1", "--no-webui"]
health = "http://127.0.0.1:$PORT/health"
env = { OMP_WAIT_POLICY = "passive" }

[backends.local]
urls = ["http://127.0.0.1:$PORT/v1"]
server = "coder"
total_timeout = "300s"
first_token_timeout = "120s"

[profiles.code]
backend = "local"
model = "$alias_name"
temperature = ${BENCH_EDIT_TEMPERATURE:-0}
max_tokens = 1536
fallback = []
TOML
git -C "$project" init -q

echo "model: $alias_name ($model), llama-server $("$server" --version 2>&1 | head -1), temperature ${BENCH_EDIT_TEMPERATURE:-0}"
echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
results="$WORK/results.tsv"
: >"$results"
for round in $(seq 1 "$REPEATS"); do
  for format in $FORMATS; do
    while IFS=$'\t' read -r file task check forbid; do
      [[ -z "$file" || "$file" == \#* ]] && continue
      cp "$ROOT/bench/edits/$file" "$project/$file"
      start=$(date +%s.%N)
      set +e
      (cd "$project" && "$BATON" -c "profiles.code.edit_format=\"$format\"" dispatch --profile code --local \
        --no-stdin --context "$file" --apply --json "$task" >"$WORK/out.json" 2>"$WORK/err.txt")
      code=$?
      set -e
      secs=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
      verdict=$(python3 "$ROOT/bench/edits_check.py" "$WORK/out.json" "$project/$file" "$check" "$forbid")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$format" "$file" "$code" "$secs" "$verdict" >>"$results"
      say "round $round $format $file: exit $code, ${secs}s, $verdict"
      if [ "${BENCH_KEEP:-0}" = 1 ]; then cp "$WORK/out.json" "$WORK/$round-$format-$file.json"; fi
      rm -f "$project/$file"
    done <"$CASES"
  done
done
echo "ended: $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/bench/edits_check.py" --summary "$results"
(cd "$project" && "$BATON" stats --edits)
