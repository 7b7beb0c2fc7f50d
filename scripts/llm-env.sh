# Sourced, not run: `llm_env NAME` runs scripts/install-llm.sh (which installs llama-server and
# the model once, then finds them cached) and sets LLAMA_SERVER and LLAMA_MODEL to the paths it
# prints. On failure it prints `NAME: error: ...` with a hint and returns non-zero.
# Used by scripts/quickstart.sh, scripts/test.sh and bench/edits.sh.

llm_env() {
  local who="$1" lines rc
  lines="$(bash "$(dirname "${BASH_SOURCE[0]}")/install-llm.sh")" || {
    rc=$?
    echo "$who: error: scripts/install-llm.sh failed (exit $rc); hint: see its error line above" >&2
    return "$rc"
  }
  LLAMA_SERVER="$(sed -n 's/^BATON_LLAMA_SERVER=//p' <<<"$lines")"
  LLAMA_MODEL="$(sed -n 's/^BATON_LLAMA_MODEL=//p' <<<"$lines")"
  if [ -z "$LLAMA_SERVER" ] || [ -z "$LLAMA_MODEL" ]; then
    echo "$who: error: scripts/install-llm.sh printed no BATON_LLAMA_SERVER/BATON_LLAMA_MODEL; hint: run it by hand to see why" >&2
    return 1
  fi
}
