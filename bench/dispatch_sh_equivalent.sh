#!/usr/bin/env bash
# The baseline of bench/dispatch.sh: what a hand-written `dispatch.sh` does to send one task
# to a local model. One `jq -n` builds the request, one `curl -s` POSTs it (not streamed), one
# `jq -r` prints the reply. Nothing is logged, retried or checked.
#
#   CODER_API_URL=http://127.0.0.1:8080/v1/chat/completions bash bench/dispatch_sh_equivalent.sh "TASK"
#
# The defaults are Baton's own (crates/baton-config/src/defaults.toml, DEFAULT_SYSTEM_PROMPT),
# so that both send the same request when the same variables are set.
set -euo pipefail

task="${1:?usage: dispatch_sh_equivalent.sh \"TASK\"}"
url="${CODER_API_URL:-http://127.0.0.1:11438/v1/chat/completions}"
model="${CODER_MODEL:-qwen3-coder}"
max_tokens="${CODER_MAX_TOKENS:-4096}"
temperature="${CODER_TEMPERATURE:-0.2}"
system="${SYSTEM_PROMPT:-You are a specialized coding assistant. Implement code exactly according to the specification you are given. Follow the patterns of the code you are shown, write clean, maintainable code and tests, and return only code (no explanations).}"

request="$(jq -n \
  --arg model "$model" \
  --argjson max_tokens "$max_tokens" \
  --argjson temperature "$temperature" \
  --arg system "$system" \
  --arg task "$task" \
  '{model: $model, max_tokens: $max_tokens, temperature: $temperature, stream: false,
    messages: [{role: "system", content: $system}, {role: "user", content: $task}]}')"

curl -s -X POST "$url" -H 'Content-Type: application/json' -d "$request" \
  | jq -r '.choices[0].message.content'
