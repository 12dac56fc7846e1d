#!/usr/bin/env bash
# `make fuzz`, first half: every cargo-fuzz target of fuzz/ for SECONDS each.
# libFuzzer's instrumentation flags are nightly-only; RUSTC_BOOTSTRAP=1 lets
# the machine's stable toolchain take them. What it learns goes to a scratch
# corpus under ~/.cache/nubo; a crash is saved into crates/fuzz/corpus/TARGET/
# so that, once committed, `make test` replays it for ever.
# Usage: scripts/fuzz-targets.sh CARGO_FUZZ SECONDS
set -euo pipefail
CARGO_FUZZ=$1
SECONDS_EACH=${2:-60}
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/nubo/fuzz-target}
scratch=$HOME/.cache/nubo/fuzz-corpus
status=0
for target in $("$CARGO_FUZZ" list); do
  mkdir -p "$scratch/$target"
  echo "== $target: ${SECONDS_EACH}s"
  if ! "$CARGO_FUZZ" run "$target" "$scratch/$target" "../crates/fuzz/corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=30 \
      -artifact_prefix="../crates/fuzz/corpus/$target/crash-" -print_final_stats=1 2>&1 \
      | grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse)'; then
    echo "!! $target broke a property: the input is in crates/fuzz/corpus/$target/crash-*"
    status=1
  fi
done
exit $status
