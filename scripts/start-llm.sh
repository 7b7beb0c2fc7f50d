#!/usr/bin/env bash
# Start the llama-server installed by scripts/install-llm.sh on 127.0.0.1:PORT (default
# 11438, the port `baton dispatch` and the old dispatch.sh use), in the background, and wait
# until it answers /health. Idempotent: a healthy server already on PORT is left alone.
#
#   bash scripts/start-llm.sh [PORT]        start (or reuse); prints the OpenAI base URL
#   bash scripts/start-llm.sh stop [PORT]   stop the server this script started
#
# Settings (env): BATON_LLM_HOME, BATON_LLM_MODEL (as install-llm.sh), BATON_LLM_CTX (context
# per slot, default 16384: the default local budget of 8000 tokens plus a 4096-token reply fit), BATON_LLM_SLOTS (parallel requests, default 2).
# Exit codes: 0 ok, 1 the server did not start, 3 not installed, 4 port taken by another program.
set -euo pipefail

HOME_DIR="${BATON_LLM_HOME:-$HOME/.cache/baton/llm}"
MODEL="${BATON_LLM_MODEL:-qwen2.5-coder-0.5b}"
CTX="${BATON_LLM_CTX:-16384}"
SLOTS="${BATON_LLM_SLOTS:-2}"
ACTION=start
if [ "${1:-}" = stop ]; then ACTION=stop; shift; fi
PORT="${1:-11438}"
RUN="$HOME_DIR/run"
PIDF="$RUN/llama-server-$PORT.pid"
LOG="$RUN/llama-server-$PORT.log"
URL="http://127.0.0.1:$PORT"
log() { echo "[start-llm] $*" >&2; }
healthy() { curl -fsS --noproxy '*' -m 2 "$URL/health" 2>/dev/null | grep -q ok; }
alive() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

if [ "$ACTION" = stop ]; then
  if alive; then
    pid=$(cat "$PIDF")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped pid $pid"
  fi
  rm -f "$PIDF"
  exit 0
fi

BIN="$HOME_DIR/bin/llama-server"
GGUF="$HOME_DIR/models/$MODEL.gguf"
if [ ! -x "$BIN" ] || [ ! -f "$GGUF" ]; then
  echo "start-llm: error: $BIN or $GGUF is missing; hint: run bash scripts/install-llm.sh" >&2
  exit 3
fi
mkdir -p "$RUN"
if healthy; then
  if alive; then echo "$URL/v1"; exit 0; fi
  echo "start-llm: error: port $PORT already answers /health but was not started here; hint: use it as it is (CODER_API_URL=$URL/v1/chat/completions) or pick another port" >&2
  exit 4
fi
rm -f "$PIDF"
# OMP_WAIT_POLICY=passive: spinning OpenMP threads make generation ~10x slower whenever
# another process wants the same cores.
OMP_WAIT_POLICY=passive setsid "$BIN" -m "$GGUF" --alias "$MODEL" --host 127.0.0.1 --port "$PORT" \
  -np "$SLOTS" -c $((CTX * SLOTS)) -t "$(nproc)" --no-webui --metrics >"$LOG" 2>&1 </dev/null &
echo $! >"$PIDF"
for _ in $(seq 1800); do
  if ! alive; then
    echo "start-llm: error: llama-server exited; hint: see $LOG" >&2
    tail -n 15 "$LOG" >&2
    rm -f "$PIDF"
    exit 1
  fi
  if healthy; then log "llama-server (pid $(cat "$PIDF")) serves $MODEL at $URL"; echo "$URL/v1"; exit 0; fi
  sleep 0.1
done
echo "start-llm: error: no /health after 180 s; hint: see $LOG" >&2
bash "$0" stop "$PORT"
exit 1
