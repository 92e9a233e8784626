#!/usr/bin/env bash
# Installs what is missing, builds, and runs hybrid-opt on the bundled
# MiniCPM-SALA-style module (examples/minicpm_sala.mlir): it parses and
# verifies every op, checks that the module round-trips through the custom
# and bytecode forms, and prints what it verified.
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
echo "==> functions"
grep -o "func.func \(private \)\?@[a-z_]*" "$module" | sed 's/func.func \(private \)\?/    /'
