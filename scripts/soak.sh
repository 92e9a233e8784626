#!/usr/bin/env bash
# The soak run of issue 13 (not in CI: minutes): 10,000 runtime invocations
# and 1,000 generation steps with speculative decoding in one process,
# built with AddressSanitizer and LeakSanitizer (build-sanitize/, as
# scripts/test.sh --sanitize builds it). Fails on a leak at exit, any
# sanitizer finding, or a resident set that grows by more than 1 MB after
# the warm-up.
#
#   scripts/soak.sh [--calls N] [--steps N]
set -euo pipefail
export HYBRID_BUILD="${HYBRID_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build-sanitize}"
HYBRID_CMAKE_OPTIONS=(-DHYBRID_SANITIZE=ON "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG"
                      "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG")
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
hybrid_install_missing
if [ ! -f "$HYBRID_BUILD/build.ninja" ]; then
  hybrid_build
else
  ninja -C "$HYBRID_BUILD" hybrid-soak hybrid-run
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$HYBRID_BUILD/bin/hybrid-run" "$HYBRID_ROOT/unittests/Runtime/concurrent-calls.mlir" \
  --compile-only --emit-so "$work/calls.so"
# allow_user_poisoning=0: see scripts/test.sh --sanitize.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allow_user_poisoning=0}"
export HYBRID_CACHE_DIR="$work/cache"
"$HYBRID_BUILD/bin/hybrid-soak" "$work/calls.so" "$HYBRID_ROOT/models/sala-kjv" \
  --draft "$HYBRID_ROOT/models/sala-kjv-draft" "$@"
echo "==> soak passed: no leak, no sanitizer finding, memory flat"
