#!/usr/bin/env bash
# Installs what is missing, builds into build/, and runs every test: the lit
# suite (ninja check-hybrid), the GoogleTest binaries (CTest), the Python
# module's pytest suite and a short smoke of each fuzz target. Exits
# non-zero on any failure.
#
#   scripts/test.sh [--sanitize]
#
# --sanitize builds into build-sanitize/ with AddressSanitizer and
# UndefinedBehaviorSanitizer (-DHYBRID_SANITIZE=ON) and runs the same suite
# there, the Python module under the preloaded ASan runtime; a finding
# fails the run. The fuzz targets and the ThreadSanitizer test belong to
# the plain build.
set -euo pipefail
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
  esac
done
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
[ "$sanitize" = 1 ] && hybrid_use_sanitized_build
hybrid_setup

echo "==> lit: ninja check-hybrid"
ninja -C "$HYBRID_BUILD" check-hybrid
echo "==> GoogleTest: ctest"
ctest --test-dir "$HYBRID_BUILD" --output-on-failure -j "$(nproc)"
echo "==> Python: pytest (import hybrid)"
if [ "$sanitize" = 1 ]; then
  # python3 is not instrumented: the extension's ASan runtime comes first,
  # and CPython's own allocations at exit are not the project's leaks.
  LD_PRELOAD="$("$LLVM_PREFIX/bin/clang" -print-file-name=libclang_rt.asan-x86_64.so)" \
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" \
    PYTHONPATH="$HYBRID_BUILD/python" /usr/bin/python3 -m pytest -q "$HYBRID_ROOT/python/tests"
  echo "==> all tests passed under ASan and UBSan"
  exit 0
fi
PYTHONPATH="$HYBRID_BUILD/python" /usr/bin/python3 -m pytest -q "$HYBRID_ROOT/python/tests"
# The fuzz targets, briefly, over their corpora (ASan + UBSan): new inputs
# go to a scratch folder, never into the checked-in corpus; a crashing
# input is kept in build/fuzz-crashes.
# A fixed seed and run count: the same inputs on every machine, so a smoke
# that passes here passes in CI.
for target in npy checkpoint onnx runtime mlir; do
  # MLIR text runs the whole CPU pipeline: fewer, slower inputs.
  runs=500000
  [ "$target" = mlir ] && runs=20000
  echo "==> fuzz smoke: hybrid-fuzz-$target ($runs runs)"
  if [ ! -x "$HYBRID_BUILD/bin/hybrid-fuzz-$target" ]; then
    echo "error: hybrid-fuzz-$target was not built: the build was configured" \
      "without clang's fuzzer runtime (libclang-rt-22-dev); remove" \
      "$HYBRID_BUILD/CMakeCache.txt and run this script again" >&2
    exit 1
  fi
  scratch="$(mktemp -d)"
  mkdir -p "$HYBRID_BUILD/fuzz-crashes"
  "$HYBRID_BUILD/bin/hybrid-fuzz-$target" -seed=1 -runs="$runs" -print_final_stats=1 \
    -artifact_prefix="$HYBRID_BUILD/fuzz-crashes/$target-" \
    $(test -f "$HYBRID_ROOT/fuzz/$target/$target.dict" && echo "-dict=$HYBRID_ROOT/fuzz/$target/$target.dict") \
    "$scratch" \
    "$HYBRID_ROOT/fuzz/$target/corpus" 2>&1 | tail -n 3
  rm -rf "$scratch"
done
echo "==> all tests passed"
