#!/usr/bin/env bash
# The repetition guard of baton-llm (a streamed reply that loops on itself is cut): what it
# would cut, streamed in pieces of about a token through the repetition_corpus example.
#
#   1. replies of the rig's model that ended by themselves (bench/repetition/replies, finish
#      "stop" in labels.tsv): none may be cut; prints the closest calls and their margins, and
#      the guard's cost per token against the same stream without it (ratio);
#   2. replies that ran to max_tokens (finish "length"): where each one is cut, or that it is
#      not (labels.tsv says which are exact loops and which merely long or counting);
#   3. source files, streamed as if they were replies: this repository's, and the system
#      Python's standard library when there is one (files under 200 KB): none may be cut.
#
#   bash bench/repetition.sh
#
# The replies were written by bench/repetition_replies.py (qwen2.5-coder-0.5b through
# llama-server, 40 prompts at temperature 0.2 and 0). Exits 1 when a normal reply or a source
# file is cut: a false positive is a broken guard, not a missed goal.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CORPUS="$ROOT/bench/repetition"

step() { echo "==> $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

step "cargo build --release -p baton-llm --example repetition_corpus"
cargo build --release --locked -p baton-llm --example repetition_corpus
GUARD="$TARGET_DIR/release/examples/repetition_corpus"

replies() { awk -v finish="$1" -v dir="$CORPUS/replies" '$2 == finish { print dir "/" $1 }' "$CORPUS/labels.tsv"; }

failed=0
check_normal() {
  local out
  out="$("$GUARD" normal "$@")"
  echo "$out"
  grep -q '^cut (false positives): 0$' <<<"$out" || failed=1
}

step "replies that ended by themselves: none may be cut"
mapfile -t normal < <(replies stop)
check_normal "${normal[@]}"

step "replies that ran to max_tokens"
mapfile -t long < <(replies length)
"$GUARD" loops "${long[@]}"

step "source files streamed as replies: none may be cut"
mapfile -t sources < <(
  git ls-files -- 'crates/*.rs' 'scripts/*' 'bench/*.sh' 'bench/*.py' '*.md' '*.toml' | sed "s#^#$ROOT/#"
  find /usr/lib/python3* -name '*.py' -size -200k 2>/dev/null | sort || true
)
check_normal "${sources[@]}"

if [ "$failed" -ne 0 ]; then
  echo "repetition: error: the guard cut a reply or file that does not loop (see above); hint: raise the thresholds in crates/baton-llm/src/repetition.rs or fix the guard" >&2
  exit 1
fi
