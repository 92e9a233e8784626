#!/usr/bin/env bash
# The soak run of issue 13 (not in CI: minutes): 10,000 runtime invocations
# and 1,000 generation steps with speculative decoding in one process,
# twice:
#   1. as built (build/): the resident set must stay flat after the
#      warm-up (at most 1 MB of growth);
#   2. built with AddressSanitizer and LeakSanitizer (build-sanitize/, as
#      scripts/test.sh --sanitize builds it): no leak at exit, no finding.
#
#   scripts/soak.sh [--calls N] [--steps N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# soak plain|sanitized [ARGS]: builds (or brings up to date) build/ or
# build-sanitize/, then runs the soak there with ARGS.
soak() {
  (
    source "$root/scripts/lib/setup.sh"
    [ "$1" = sanitized ] && hybrid_use_sanitized_build
    hybrid_install_missing
    hybrid_build hybrid-soak hybrid-run
    "$HYBRID_BUILD/bin/hybrid-run" "$root/unittests/Runtime/concurrent-calls.mlir" \
      --compile-only --emit-so "$work/calls-$1.so"
    HYBRID_CACHE_DIR="$work/cache-$1" "$HYBRID_BUILD/bin/hybrid-soak" \
      "$work/calls-$1.so" "$root/models/sala-kjv" \
      --draft "$root/models/sala-kjv-draft" "${@:2}"
  )
}

echo "==> soak as built: memory must stay flat"
soak plain "$@"
echo "==> soak under ASan and LSan: no leak, no finding"
soak sanitized --no-growth-check "$@"
echo "==> soak passed: memory flat, no leak, no sanitizer finding"
