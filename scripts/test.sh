#!/usr/bin/env bash
# Baton's test command: installs what the tests need, then runs every test of the workspace.
#
#   bash scripts/test.sh [extra cargo-nextest arguments, e.g. -E 'test(/llama/)']
#
# Each install happens only when its part is missing, so a second run installs nothing and
# prints nothing about it. A failed install ends the run with one `test: error: ...; hint: ...`
# line (after the tail of its log, ~/.cache/baton/test-setup.log).
# 1. jq, curl, tmux (the worker tests' `--tmux`, the benchmarks), from apt when one is
#    missing, as root or through sudo.
# 2. The official Python MCP SDK, the real MCP client of baton-mcp's tests, and pytest, which
#    verifies the Python projects of the pipeline's tests; both run with BATON_TEST_PYTHON: a
#    caller's BATON_TEST_PYTHON must import `mcp` and `pytest` already; else python3 when it
#    does; else a venv of its own, ~/.cache/baton/python-mcp, with `pip install mcp pytest`
#    (apt's python3-venv first when python3 cannot make a venv). Needs Python 3.10 or newer.
# 3. scripts/install-llm.sh: llama-server and the small coder model the real-model tests use
#    (the first time ~12-20 min for the build on 2 cores, then a fraction of a second);
#    skipped when the caller already set BATON_TEST_LLAMA_SERVER and BATON_TEST_LLAMA_MODEL
#    to existing files.
# 4. The larger rig model (qwen2.5-coder-1.5b, BATON_TEST_LLAMA_AGENT_MODEL) and aider from
#    PyPI in ~/.cache/baton/aider (BATON_TEST_AIDER), for the agent CLI worker tests; each
#    skipped when the caller's variable already points at one.
# 4b. cargo-nextest, installed with `cargo install --locked cargo-nextest` only if missing.
# 5. cargo test --doc --workspace (nextest does not run doc tests), then cargo nextest run
#    --workspace --no-fail-fast (profile from NEXTEST_PROFILE, default "default"; see
#    .config/nextest.toml). Both always run; the exit code is non-zero if either failed.
# A caller's CARGO_TARGET_DIR is respected (cargo reads it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
log() { echo "[test] $*" >&2; }
fail() { # fail MESSAGE HINT
  echo "test: error: $1; hint: $2" >&2
  exit 1
}

CACHE="$HOME/.cache/baton"
SETUP_LOG="$CACHE/test-setup.log"
# setup_step WHAT HINT COMMAND...: runs an install step with its output in the setup log; on
# failure shows the log's tail and fails with WHAT and HINT.
setup_step() {
  local what="$1" hint="$2" status=0
  shift 2
  mkdir -p "$CACHE"
  echo "== $what ($(date -u +%Y-%m-%dT%H:%M:%SZ))" >>"$SETUP_LOG"
  local start_line
  start_line=$(($(wc -l <"$SETUP_LOG") + 1))
  "$@" >>"$SETUP_LOG" 2>&1 </dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n +"$start_line" "$SETUP_LOG" | tail -n 20 >&2
    fail "$what failed (exit $status)" "$hint (full output: $SETUP_LOG)"
  fi
}

# apt_install PACKAGE...: Debian packages, as root or through sudo.
apt_install() {
  command -v apt-get >/dev/null \
    || fail "missing $*, and there is no apt-get to install it" "install $* with the system's package manager, then run this again"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null \
      || fail "missing $*, and installing it needs root" "run \`apt-get install $*\` as root, then this again"
    sudo=(sudo)
  fi
  log "apt-get install $*"
  local hint="install them by hand (\`apt-get install $*\`), then run this again"
  setup_step "apt-get update" "$hint" "${sudo[@]}" apt-get update -qq
  setup_step "apt-get install $*" "$hint" \
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
for tool in jq curl tmux; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# has_mcp PYTHON: whether PYTHON finds the `mcp` package (the MCP SDK tests) and `pytest`
# (the Python projects the pipeline tests verify); found, not imported: importing takes a
# second or two.
has_mcp() {
  "$1" -c 'import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in ("mcp", "pytest")))' 2>/dev/null
}
if [ -n "${BATON_TEST_PYTHON:-}" ]; then
  has_mcp "$BATON_TEST_PYTHON" \
    || fail "BATON_TEST_PYTHON=$BATON_TEST_PYTHON cannot import mcp (the Python MCP SDK) and pytest" \
      "install them there (\`$BATON_TEST_PYTHON -m pip install mcp pytest\`) or unset BATON_TEST_PYTHON"
elif ! has_mcp python3; then
  venv="$CACHE/python-mcp"
  if ! has_mcp "$venv/bin/python"; then
    command -v python3 >/dev/null || apt_install python3 python3-venv
    log "installing the Python MCP SDK and pytest (pip install mcp pytest) into $venv"
    rm -rf "$venv"
    mkdir -p "$CACHE"
    if ! python3 -m venv "$venv" >>"$SETUP_LOG" 2>&1; then
      # Debian's python3 makes venvs only with python3-venv installed.
      rm -rf "$venv"
      apt_install python3-venv
      setup_step "python3 -m venv $venv" "install Python's venv module for $(command -v python3)" \
        python3 -m venv "$venv"
    fi
    setup_step "pip install mcp pytest" \
      "the SDK needs Python 3.10 or newer ($(python3 --version 2>&1)) and PyPI (or PIP_INDEX_URL) within reach" \
      env PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check mcp pytest
  fi
  export BATON_TEST_PYTHON="$venv/bin/python"
fi

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

# The larger rig model, for the agent CLI tests (aider's prompts are more than the small
# model follows): skipped when the caller set BATON_TEST_LLAMA_AGENT_MODEL to a file.
if [ -n "${BATON_TEST_LLAMA_AGENT_MODEL:-}" ] && [ -f "$BATON_TEST_LLAMA_AGENT_MODEL" ]; then
  log "using BATON_TEST_LLAMA_AGENT_MODEL=$BATON_TEST_LLAMA_AGENT_MODEL"
else
  agent_model="$(BATON_LLM_MODEL=qwen2.5-coder-1.5b bash "$ROOT/scripts/install-llm.sh" --only model)" \
    || fail "installing the agent tests' model (qwen2.5-coder-1.5b) failed" "see the install-llm error line above"
  BATON_TEST_LLAMA_AGENT_MODEL="$(sed -n 's/^BATON_LLAMA_MODEL=//p' <<<"$agent_model")"
  export BATON_TEST_LLAMA_AGENT_MODEL
fi

# aider from PyPI, the real agent CLI of the agent worker tests, in a venv of its own
# (~/.cache/baton/aider; its dependencies pin versions the MCP venv need not share).
AIDER_VERSION=0.86.2
if [ -n "${BATON_TEST_AIDER:-}" ]; then
  [ -x "$BATON_TEST_AIDER" ] \
    || fail "BATON_TEST_AIDER=$BATON_TEST_AIDER is not an executable" "point it at aider, or unset it to install one"
else
  aider_venv="$CACHE/aider"
  if [ "$(cat "$aider_venv/.version" 2>/dev/null)" != "$AIDER_VERSION" ]; then
    log "installing aider-chat==$AIDER_VERSION from PyPI into $aider_venv (~1 min the first time)"
    rm -rf "$aider_venv"
    setup_step "python3 -m venv $aider_venv" "install Python's venv module for $(command -v python3)" \
      python3 -m venv "$aider_venv"
    setup_step "pip install aider-chat==$AIDER_VERSION" \
      "aider needs Python 3.10-3.12 ($(python3 --version 2>&1)) and PyPI (or PIP_INDEX_URL) within reach" \
      env PIP_NO_INPUT=1 "$aider_venv/bin/python" -m pip install --quiet --disable-pip-version-check "aider-chat==$AIDER_VERSION"
    echo "$AIDER_VERSION" >"$aider_venv/.version"
  fi
  export BATON_TEST_AIDER="$aider_venv/bin/aider"
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
