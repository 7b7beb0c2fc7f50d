#!/usr/bin/env bash
# Baton's first set-up command (README): installs baton, llama-server and a small coder
# model, configures the model server for Baton to start on first use, and sends one coding
# subtask with `baton dispatch` (which brings the server up). Every step is idempotent.
#
# It writes $XDG_CONFIG_HOME/baton/config.toml (default ~/.config/baton/config.toml) only
# when that file does not exist; an existing one is left alone and the same settings are
# passed for this run with -c instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
step() { echo "==> $*" >&2; }

step "installing baton (cargo install --path crates/baton)"
cargo install --locked --quiet --path "$ROOT/crates/baton"
export PATH="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin:$PATH"

step "installing llama-server and a coder model (first time: ~15 min build)"
# shellcheck source=scripts/llm-env.sh
source "$ROOT/scripts/llm-env.sh"
llm_env quickstart || exit $?
server="$LLAMA_SERVER" model="$LLAMA_MODEL"
alias_name="$(basename "$model" .gguf)"
port="${BATON_LLM_PORT:-11438}"
command_toml="[\"$server\", \"-m\", \"$model\", \"--alias\", \"$alias_name\", \"--host\", \"127.0.0.1\", \"--port\", \"$port\", \"-c\", \"32768\", \"-np\", \"2\", \"--no-webui\", \"--metrics\"]"

config="${XDG_CONFIG_HOME:-$HOME/.config}/baton/config.toml"
overrides=()
if [ ! -e "$config" ]; then
  step "writing $config (the model server Baton starts on first use)"
  mkdir -p "$(dirname "$config")"
  cat >"$config" <<TOML
# Written by baton's scripts/quickstart.sh. \`baton config show --origins\` shows every value.
[servers.coder]             # started by \`baton dispatch\` when down; \`baton server up|down|status\`
command = $command_toml
health = "http://127.0.0.1:$port/health"
env = { OMP_WAIT_POLICY = "passive" }

[backends.local]
urls = ["http://127.0.0.1:$port/v1"]
server = "coder"

[profiles.code]
model = "$alias_name"
TOML
elif ! grep -q '^\[servers\.coder\]' "$config"; then
  step "$config exists without [servers.coder]: passing the server settings for this run only"
  overrides=(-c "servers.coder.command=$command_toml" -c "servers.coder.health=http://127.0.0.1:$port/health"
    -c "backends.local.urls=[\"http://127.0.0.1:$port/v1\"]" -c "backends.local.server=coder" -c "profiles.code.model=$alias_name")
fi

step "baton dispatch (starts the model server on first use; the reply streams below)"
printf 'def add(a, b):\n    return a + b\n' |
  baton "${overrides[@]}" dispatch --local "Write pytest tests for this function. Reply with only the code."
echo >&2
step "baton server status / baton doctor / baton stats"
baton "${overrides[@]}" server status
baton "${overrides[@]}" doctor --backend local
baton stats
