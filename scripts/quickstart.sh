#!/usr/bin/env bash
# Baton's first set-up command (README): installs baton, llama-server and a small coder
# model, configures the model server for Baton to start on first use, and runs the main job:
# `baton run` takes the example ticket (examples/calc) to a reviewed, tested branch with every
# role on the local model (the run brings the server up). Every step is idempotent.
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

# The main job: a ticket taken to a reviewed, tested branch by the local model. The example
# project is copied into a fresh git repository of its own, so nothing of this checkout is
# touched; the run's branch, worktree and reports stay there to look at.
work="${BATON_QUICKSTART_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/baton/quickstart}/calc-$(date -u +%Y%m%d-%H%M%S)"
step "baton run examples/calc/TICKET.md in $work (every role on the local model; it starts the server on first use)"
mkdir -p "$work"
cp -R "$ROOT/examples/calc/." "$work/"
git -C "$work" init --quiet -b main
git -C "$work" add -A
git -C "$work" -c user.name=quickstart -c user.email=quickstart@localhost commit --quiet -m "calc example"
(cd "$work" && baton "${overrides[@]}" run TICKET.md --plan PLAN.json)
run_id="$(cd "$work" && baton runs --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')"
step "the run's PR description: $work/.baton/runs/$run_id/PR.md"
cat "$work/.baton/runs/$run_id/PR.md"
echo >&2
step "baton server status / baton doctor / baton stats (in $work, whose store the run wrote)"
cd "$work"
baton "${overrides[@]}" server status
baton "${overrides[@]}" doctor --backend local
baton stats
