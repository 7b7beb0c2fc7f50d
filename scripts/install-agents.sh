#!/usr/bin/env bash
# Installs the real agent CLIs that `baton proxy` serves from local models: Claude Code
# (npm @anthropic-ai/claude-code) and Codex CLI (npm @openai/codex), at pinned versions, from
# the npm registry only.
#
#   bash scripts/install-agents.sh
#
# Both go into one npm prefix, $BATON_AGENTS_HOME (default ~/.cache/baton/agents), with
# `npm install --prefix DIR --no-audit --no-fund`. Each ships its native binary in an optional
# platform package (@anthropic-ai/claude-code-linux-x64, @openai/codex-linux-x64, ...), so
# optional dependencies are always included; Claude Code's postinstall copies its binary over
# bin/claude.exe, and it is run by hand when npm skipped it. A re-run with the pinned versions
# in place installs nothing and prints only the two paths.
#
# stdout: one KEY=VALUE line each (value raw to end of line):
#   BATON_CLAUDE=/abs/path/node_modules/.bin/claude
#   BATON_CODEX=/abs/path/node_modules/.bin/codex
# stderr: progress lines; on failure one last line "install-agents: error: ...; hint: ...",
# after the tail of the setup log (~/.cache/baton/agents-setup.log).
#
# Needs node and npm on PATH (Node.js 20 works: Claude Code's native binary does not run on
# Node, though its package.json asks for Node >= 22, so the engine check is turned off for it;
# Codex's launcher, bin/codex.js, needs Node >= 16).
set -euo pipefail

# Newest of each on the registry that installs and runs here (Node 20.20, linux x64 glibc).
CLAUDE_CODE_VERSION=2.1.332
CODEX_VERSION=0.171.0

log() { echo "[install-agents] $*" >&2; }
fail() { # fail MESSAGE HINT
  echo "install-agents: error: $1; hint: $2" >&2
  exit 1
}

CACHE="$HOME/.cache/baton"
SETUP_LOG="$CACHE/agents-setup.log"
PREFIX="${BATON_AGENTS_HOME:-$CACHE/agents}"
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

for tool in node npm; do
  command -v "$tool" >/dev/null \
    || fail "$tool is not on PATH" "install Node.js 20 or newer with npm (e.g. \`apt-get install nodejs npm\`), then run this again"
done

CLAUDE="$PREFIX/node_modules/.bin/claude"
CODEX="$PREFIX/node_modules/.bin/codex"

# installed_version PACKAGE: the version in the prefix's node_modules, or nothing.
installed_version() {
  node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
    "$PREFIX/node_modules/$1/package.json" 2>/dev/null || true
}
# platform_suffix: npm's name for this platform in the platform packages (linux-x64, ...).
platform_suffix() {
  node -p 'process.platform + "-" + process.arch' 2>/dev/null
}
# runs_as VERSION BINARY: whether `BINARY --version` runs and names VERSION.
runs_as() {
  local out
  out="$(timeout 60 "$2" --version 2>/dev/null </dev/null)" || return 1
  case "$out" in *"$1"*) return 0 ;; *) return 1 ;; esac
}
# codex_native_present: whether Codex's platform package (its native binary) is installed.
codex_native_present() {
  local dir="$PREFIX/node_modules/@openai/codex-$(platform_suffix)"
  compgen -G "$dir/vendor/*/bin/codex" >/dev/null || compgen -G "$dir/vendor/*/codex/codex" >/dev/null
}
ready() {
  [ "$(installed_version @anthropic-ai/claude-code)" = "$CLAUDE_CODE_VERSION" ] \
    && [ "$(installed_version @openai/codex)" = "$CODEX_VERSION" ] \
    && codex_native_present \
    && runs_as "$CLAUDE_CODE_VERSION" "$CLAUDE" \
    && runs_as "$CODEX_VERSION" "$CODEX"
}

if ! ready; then
  mkdir -p "$PREFIX"
  lock="$PREFIX/.install.lock"
  if command -v flock >/dev/null; then
    exec 9>"$lock"
    flock 9
  fi
  # Another run may have finished the install while this one waited for the lock.
  if ! ready; then
    log "installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION and @openai/codex@$CODEX_VERSION into $PREFIX (~1 min the first time, ~700 MB)"
    setup_step "npm install @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION @openai/codex@$CODEX_VERSION" \
      "needs the npm registry within reach (or npm's registry setting pointing at a mirror) and ~800 MB free under $PREFIX" \
      npm install --prefix "$PREFIX" --no-audit --no-fund --include=optional --engine-strict=false \
      "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION"

    # Claude Code: bin/claude.exe is a placeholder until its postinstall (install.cjs) copies
    # the platform package's binary over it; npm set to skip install scripts leaves it so.
    if ! runs_as "$CLAUDE_CODE_VERSION" "$CLAUDE"; then
      pkg="$PREFIX/node_modules/@anthropic-ai/claude-code"
      [ -f "$pkg/install.cjs" ] \
        || fail "Claude Code's package has no install.cjs in $pkg" "remove $PREFIX and run this again"
      setup_step "Claude Code's postinstall (node install.cjs)" \
        "check that @anthropic-ai/claude-code-$(platform_suffix) was installed under $PREFIX/node_modules (npm must not omit optional dependencies)" \
        bash -c 'cd "$1" && node install.cjs' install-cjs "$pkg"
    fi
    runs_as "$CLAUDE_CODE_VERSION" "$CLAUDE" \
      || fail "\`$CLAUDE --version\` does not run or does not print $CLAUDE_CODE_VERSION" \
        "check that @anthropic-ai/claude-code-$(platform_suffix) is under $PREFIX/node_modules; else remove $PREFIX and run this again"

    codex_native_present \
      || fail "Codex's native binary (npm @openai/codex-$(platform_suffix)) did not install" \
        "npm must not omit optional dependencies (check \`npm config get omit\`); Codex ships binaries for linux/darwin/win32 x64 and arm64 only"
    runs_as "$CODEX_VERSION" "$CODEX" \
      || fail "\`$CODEX --version\` does not run or does not print $CODEX_VERSION" \
        "run it by hand to see why; else remove $PREFIX and run this again"
    log "installed: $("$CLAUDE" --version 2>/dev/null), $("$CODEX" --version 2>/dev/null)"
  fi
fi

echo "BATON_CLAUDE=$CLAUDE"
echo "BATON_CODEX=$CODEX"
