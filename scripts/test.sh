#!/usr/bin/env bash
# Baton's test command: installs what the tests need, then runs every test of the workspace.
#
#   bash scripts/test.sh [extra cargo-nextest arguments, e.g. -E 'test(/llama/)']
#
# 1. scripts/install-llm.sh: llama-server and the small coder model the real-model tests use
#    (the first time ~12-20 min for the build on 2 cores, then a fraction of a second);
#    skipped when the caller already set BATON_TEST_LLAMA_SERVER and BATON_TEST_LLAMA_MODEL
#    to existing files.
# 2. cargo-nextest, installed with `cargo install --locked cargo-nextest` only if missing.
# 3. cargo test --doc --workspace (nextest does not run doc tests), then cargo nextest run
#    --workspace --no-fail-fast (profile from NEXTEST_PROFILE, default "default"; see
#    .config/nextest.toml). Both always run; the exit code is non-zero if either failed.
# A caller's CARGO_TARGET_DIR is respected (cargo reads it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
log() { echo "[test] $*" >&2; }

if [ -n "${BATON_TEST_LLAMA_SERVER:-}" ] && [ -x "$BATON_TEST_LLAMA_SERVER" ] \
  && [ -n "${BATON_TEST_LLAMA_MODEL:-}" ] && [ -f "$BATON_TEST_LLAMA_MODEL" ]; then
  log "using BATON_TEST_LLAMA_SERVER=$BATON_TEST_LLAMA_SERVER BATON_TEST_LLAMA_MODEL=$BATON_TEST_LLAMA_MODEL"
else
  t0=$SECONDS
  # shellcheck source=scripts/llm-env.sh
  source "$ROOT/scripts/llm-env.sh"
  llm_env test || exit $?
  export BATON_TEST_LLAMA_SERVER="$LLAMA_SERVER" BATON_TEST_LLAMA_MODEL="$LLAMA_MODEL"
  log "llama-server and model ready in $((SECONDS - t0))s: $LLAMA_SERVER, $LLAMA_MODEL"
fi

if ! command -v cargo-nextest >/dev/null; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

status=0
# Doc tests first: the last lines printed are then nextest's summary of the whole run.
log "cargo test --doc --workspace"
cargo test --doc --workspace || status=$?
log "cargo nextest run --workspace --no-fail-fast $*"
cargo nextest run --workspace --no-fail-fast "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "test: error: some tests failed (exit $status); hint: see the failures listed above" >&2
fi
exit "$status"
