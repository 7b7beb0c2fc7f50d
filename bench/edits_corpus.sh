#!/usr/bin/env bash
# The corpus of real replies (crates/baton-edit/tests/corpus/real/<model>/<format>/<task>.md)
# and the well-formedness of each rig model per edit format.
#
#   bash bench/edits_corpus.sh collect   # ask each model every task of bench/edits_corpus/, keep the replies
#   bash bench/edits_corpus.sh replay    # apply the kept replies again with this build's parsers
#
# collect: for each model (qwen2.5-coder-0.5b, then qwen2.5-coder-1.5b), starts the rig's
# llama-server on a free loopback port (scripts/start-llm.sh under nice -n 10: one slot, as
# many threads as cores), and for each task of
# bench/edits_corpus/tasks.tsv and each of its formats runs, in a fresh copy of the task's
# files, exactly what a user runs: `baton dispatch --local --apply --json` with the context
# files and `profiles.code.edit_format` set (so the prompt is Baton's: the default system
# prompt, the format's instructions, the framed context). The reply is kept byte for byte in
# the corpus; the verdict (well-formed in the format asked for, every edit applied, the task's
# check passes in bench/edits_corpus/checks/) goes to the results table.
# replay: no model; each kept reply goes through `baton apply --json` (with `--file` for a
# single context file, as dispatch does) on a fresh copy of its task's files, and is judged
# the same way: what this build's parsers make of the same replies.
#
# Needs python3, node and rustc (for the checks), and for collect llama-server and the models
# (scripts/install-llm.sh, cached: `--model qwen2.5-coder-1.5b --only model` adds the 1.5B).
# Knobs: BATON_BIN (else a release baton is built; CARGO_TARGET_DIR respected),
# BENCH_CORPUS_MODELS ("qwen2.5-coder-0.5b qwen2.5-coder-1.5b"), BENCH_CORPUS_TASKS (a regex
# on task names, default all), BENCH_CORPUS_FORMATS ("whole search-replace udiff"),
# BENCH_CORPUS_MAX_TOKENS (768), BENCH_CORPUS_DIR (where replies go), BENCH_CORPUS_RESULTS (a
# file to copy the per-reply results to), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BATON="${BATON_BIN:-$TARGET_DIR/release/baton}"
BENCH="$ROOT/bench/edits_corpus"
HELPER="$ROOT/bench/edits_corpus.py"
CORPUS="${BENCH_CORPUS_DIR:-$ROOT/crates/baton-edit/tests/corpus/real}"
MODELS="${BENCH_CORPUS_MODELS:-qwen2.5-coder-0.5b qwen2.5-coder-1.5b}"
ONLY="${BENCH_CORPUS_TASKS:-.}"
FORMATS="${BENCH_CORPUS_FORMATS:-whole search-replace udiff}"
MAX_TOKENS="${BENCH_CORPUS_MAX_TOKENS:-768}"
MODE="${1:-}"
say() { echo "[edits-corpus] $*" >&2; }

case "$MODE" in
  collect | replay) ;;
  *)
    echo "edits_corpus: error: unknown mode \`$MODE\`; hint: bash bench/edits_corpus.sh collect (or replay)" >&2
    exit 2
    ;;
esac
for tool in python3 node rustc; do
  command -v "$tool" >/dev/null || {
    echo "edits_corpus: error: $tool not found; hint: the task checks need python3, node and rustc" >&2
    exit 2
  }
done
if [ -z "${BATON_BIN:-}" ]; then
  say "cargo build --release -p baton"
  cargo build --release --locked -q -p baton --manifest-path "$ROOT/Cargo.toml"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/baton-edits-corpus.XXXXXX")"
server_port=""
stop_server() {
  if [ -n "$server_port" ]; then
    bash "$ROOT/scripts/start-llm.sh" stop "$server_port" || true
    server_port=""
  fi
}
cleanup() {
  stop_server
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# Hermetic: no user config, one ledger for the whole run.
export XDG_CONFIG_HOME="$WORK/xdg" BATON_HOME="$WORK/home"
mkdir -p "$XDG_CONFIG_HOME" "$BATON_HOME"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server MODEL: the rig's llama-server for MODEL on a free port (scripts/start-llm.sh:
# one slot, niced, so the machine's other work keeps its share); sets PORT.
start_server() {
  local model="$1" lines
  lines="$(BATON_LLM_MODEL="$model" bash "$ROOT/scripts/install-llm.sh")"
  PORT="$(free_port)"
  BATON_LLM_MODEL="$model" BATON_LLM_SLOTS=1 BATON_LLM_CTX=8192 nice -n 10 \
    bash "$ROOT/scripts/start-llm.sh" "$PORT" >/dev/null
  server_port="$PORT"
  local server
  server="$(sed -n 's/^BATON_LLAMA_SERVER=//p' <<<"$lines")"
  echo "model: $model ($(sed -n 's/^BATON_LLAMA_MODEL=//p' <<<"$lines")), $("$server" --version 2>&1 | grep -m1 version || true), port $PORT"
}

# project TASK: a fresh copy of the task's files with a baton.toml for the running server.
project() {
  local dir="$WORK/project"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -R "$BENCH/files/$1/." "$dir/"
  cat >"$dir/baton.toml" <<TOML
[backends.local]
urls = ["http://127.0.0.1:${PORT:-9}/v1"]
total_timeout = "600s"
first_token_timeout = "300s"

[profiles.code]
backend = "local"
model = "${MODEL:-none}"
temperature = 0
max_tokens = $MAX_TOKENS
fallback = []
TOML
  git -C "$dir" init -q
  echo "$dir"
}

check_of() { ls "$BENCH/checks/$1".*; }
task_text() { awk -F'\t' -v name="$1" '$1 == name { print $4 }' "$BENCH/tasks.tsv"; }

results="$WORK/results.tsv"
: >"$results"
echo "mode: $MODE, started $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for MODEL in $MODELS; do
  if [ "$MODE" = collect ]; then start_server "$MODEL"; fi
  while IFS=$'\t' read -r task format context; do
    [[ "$task" =~ $ONLY ]] || continue
    [[ " $FORMATS " == *" $format "* ]] || continue
    dir="$(project "$task")"
    sole=()
    if [[ "$context" != *,* ]]; then sole=(--file "$context"); fi
    start=$(date +%s.%N)
    set +e
    if [ "$MODE" = collect ]; then
      context_args=()
      for file in ${context//,/ }; do context_args+=(--context "$file"); done
      (cd "$dir" && "$BATON" -c "profiles.code.edit_format=\"$format\"" dispatch --profile code --local \
        --no-stdin "${context_args[@]}" --apply --json "$(task_text "$task")" >"$WORK/out.json" 2>"$WORK/err.txt")
    else
      reply="$CORPUS/$MODEL/$format/$task.md"
      [ -f "$reply" ] || { say "no reply kept for $MODEL $format $task"; set -e; continue; }
      (cd "$dir" && "$BATON" apply --json --format "$format" "${sole[@]}" --model "$MODEL" "$reply" \
        >"$WORK/out.json" 2>"$WORK/err.txt")
    fi
    code=$?
    set -e
    secs=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")
    if [ "$MODE" = collect ]; then
      python3 "$HELPER" keep "$WORK/out.json" "$CORPUS" "$MODEL" "$format" "$task" "$context"
    fi
    verdict=$(python3 "$HELPER" judge "$WORK/out.json" "$dir" "$(check_of "$task")")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$MODEL" "$format" "$task" "$code" "$secs" "$verdict" >>"$results"
    say "$MODEL $format $task: exit $code, ${secs}s, $verdict"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then cp "$WORK/out.json" "$WORK/$MODEL-$format-$task.json"; fi
  done < <(python3 "$HELPER" tasks "$BENCH/tasks.tsv")
  stop_server
done
echo "ended: $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$HELPER" summary "$results" "$BENCH/tasks.tsv"
if [ -n "${BENCH_CORPUS_RESULTS:-}" ]; then cp "$results" "$BENCH_CORPUS_RESULTS"; fi
(cd "$WORK" && "$BATON" stats --edits) || true
