#!/usr/bin/env bash
# Fuzzes the reply parsers of baton-edit: every cargo-fuzz target of crates/baton-edit/fuzz
# (parse_whole, parse_search_replace, parse_udiff, parse_auto) runs for the given time.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 20)
#
# - Installs cargo-fuzz with `cargo install --locked cargo-fuzz` when `cargo fuzz` is missing.
# - RUSTC_BOOTSTRAP=1 lets the stable toolchain take the nightly-only flags cargo-fuzz passes
#   (sanitizer coverage), so no nightly toolchain is needed.
# - Builds with debug assertions (overflow checks) into $CARGO_TARGET_DIR/fuzz when
#   CARGO_TARGET_DIR is set (a separate directory: the fuzz RUSTFLAGS differ from a normal
#   build's, and sharing one directory would rebuild everything each time), else into
#   crates/baton-edit/fuzz/target.
# - Each target keeps what it finds in crates/baton-edit/fuzz/corpus/<target> and starts from
#   the replies of crates/baton-edit/tests/corpus too; a crash leaves its input in
#   crates/baton-edit/fuzz/artifacts/<target>/ (reproduce: cargo fuzz run <target> <file>).
# Every target runs even after a crash; the exit code is non-zero if any target crashed or
# failed to build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
FUZZ_DIR="$ROOT/crates/baton-edit/fuzz"
SEEDS="$ROOT/crates/baton-edit/tests/corpus"
log() { echo "[fuzz] $*" >&2; }

seconds="${1:-20}"
case "$seconds" in
  '' | *[!0-9]*)
    echo "fuzz: error: SECONDS_PER_TARGET must be a whole number of seconds, got \`$seconds\`" >&2
    echo "hint: bash scripts/fuzz.sh 20" >&2
    exit 2
    ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "cargo fuzz is missing: cargo install --locked cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1
build_args=(--fuzz-dir "$FUZZ_DIR" --debug-assertions)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  build_args+=(--target-dir "$CARGO_TARGET_DIR/fuzz")
fi

mapfile -t targets < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: error: no fuzz targets found in $FUZZ_DIR; hint: see its Cargo.toml [[bin]] entries" >&2
  exit 1
fi

failed=()
summary=()
for target in "${targets[@]}"; do
  corpus="$FUZZ_DIR/corpus/$target"
  mkdir -p "$corpus"
  output="$(mktemp)"
  log "$target: ${seconds}s"
  # libFuzzer writes new inputs to the first corpus directory only; the seeds stay as they are.
  if cargo fuzz run "${build_args[@]}" "$target" "$corpus" "$SEEDS" -- \
    -max_total_time="$seconds" -print_final_stats=1 2>&1 | tee "$output" >&2; then
    status=ok
  else
    status=FAILED
    failed+=("$target")
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$output" | tail -n 1)"
  summary+=("$target: $status, ${runs:-?} executions in ${seconds}s")
  rm -f "$output"
done

for line in "${summary[@]}"; do
  echo "$line"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: error: ${failed[*]} crashed or failed to build" >&2
  echo "hint: the crashing input is in $FUZZ_DIR/artifacts/<target>/; rerun with: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir $FUZZ_DIR <target> <file>" >&2
  exit 1
fi
