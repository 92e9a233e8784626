#!/usr/bin/env bash
# Installs what is missing, builds, and runs the kernel benchmarks: one JSON
# line per case from bench/hybrid-bench, then the PyTorch peer on the same
# shapes when Debian's python3-torch is installed (HYBRID_BENCH_PEERS=0
# skips it). Extra arguments go to hybrid-bench (e.g. --case attention).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
hybrid_setup

"$HYBRID_BUILD/bin/hybrid-bench" "$@"
if [ "${HYBRID_BENCH_PEERS:-1}" = 1 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
  /usr/bin/python3 "$HYBRID_ROOT/bench/peers/torch_peers.py"
fi
