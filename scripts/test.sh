#!/usr/bin/env bash
# Installs what is missing, builds into build/, and runs every test: the lit
# suite (ninja check-hybrid), the GoogleTest binaries (CTest) and the
# Python module's pytest suite. Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
hybrid_setup

echo "==> lit: ninja check-hybrid"
ninja -C "$HYBRID_BUILD" check-hybrid
echo "==> GoogleTest: ctest"
ctest --test-dir "$HYBRID_BUILD" --output-on-failure -j "$(nproc)"
echo "==> Python: pytest (import hybrid)"
PYTHONPATH="$HYBRID_BUILD/python" /usr/bin/python3 -m pytest -q "$HYBRID_ROOT/python/tests"
echo "==> all tests passed"
