#!/usr/bin/env bash
# Baton's first set-up command (README): installs baton, a local model server with a small
# coder model, starts the server on :11438, checks it with `baton doctor`, and sends one
# coding subtask to it with `baton dispatch`. Re-running it is cheap: every step is
# idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
step() { echo "==> $*" >&2; }

step "installing baton (cargo install --path crates/baton)"
cargo install --locked --quiet --path "$ROOT/crates/baton"
BIN_DIR="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
export PATH="$BIN_DIR:$PATH"

step "installing llama-server and a coder model (first time: ~15 min build)"
bash "$ROOT/scripts/install-llm.sh" >/dev/null

step "starting llama-server on 127.0.0.1:11438"
bash "$ROOT/scripts/start-llm.sh" 11438 >/dev/null
export CODER_MODEL="${BATON_LLM_MODEL:-qwen2.5-coder-0.5b}"

step "baton doctor"
baton doctor --backend local

step "baton dispatch (the reply streams below)"
printf 'def add(a, b):\n    return a + b\n' |
  baton dispatch --local "Write pytest tests for this function. Reply with only the code."
echo >&2
step "baton stats"
baton stats
