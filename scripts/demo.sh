#!/usr/bin/env bash
# Installs what is missing, builds, then takes the bundled MiniCPM-SALA-style
# module (examples/minicpm_sala.mlir) through the compiler: verifies and
# round-trips it with hybrid-opt, compiles it for the CPU, runs every layer on
# generated inputs, and prints per-layer timings with the sparsity exploited.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
hybrid_setup

module="${1:-$HYBRID_ROOT/examples/minicpm_sala.mlir}"
opt="$HYBRID_BUILD/bin/hybrid-opt"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> verifying $module"
"$opt" "$module" --verify-each -o "$work/printed.mlir"
"$opt" "$work/printed.mlir" -o "$work/reprinted.mlir"
"$opt" "$module" --emit-bytecode -o "$work/module.mlirbc"
"$opt" "$work/module.mlirbc" -o "$work/from-bytecode.mlir"
cmp -s "$work/printed.mlir" "$work/reprinted.mlir"
cmp -s "$work/printed.mlir" "$work/from-bytecode.mlir"
echo "    parsed, verified, and round-tripped (text and bytecode)"

echo "==> hybrid ops verified"
"$opt" "$module" --print-op-stats -o /dev/null 2>&1 | grep "hybrid\." | sed 's/^ */    /'

echo "==> cost model, one verification step over an 8-node tree at 32K keys"
"$opt" "$module" --hybrid-cost-report="context-length=32768 tree-size=8" -o /dev/null \
  | tail -n 1 | sed 's/^/    /'

/usr/bin/python3 "$HYBRID_ROOT/scripts/demo.py" --hybrid-run "$HYBRID_BUILD/bin/hybrid-run" \
  --module "$module" --length "${HYBRID_DEMO_LENGTH:-4096}"
