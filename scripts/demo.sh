#!/usr/bin/env bash
# Installs what is missing, builds, then takes the bundled MiniCPM-SALA-style
# module (examples/minicpm_sala.mlir) through the compiler: verifies and
# round-trips it with hybrid-opt, compiles it for the CPU, runs every layer on
# generated inputs, and prints per-layer timings with the sparsity exploited;
# then runs an ONNX model through hybrid-import and hybrid-run.
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

# An ONNX model through the front door: ONNX's own GQA attention node test
# (Attention-23, 9 query heads over 3 KV heads), imported to hybrid.attention
# and run by hybrid-run on random inputs, checked against numpy.
onnx_model="$HYBRID_ROOT/test/ONNX/node/test_attention_4d_gqa/model.onnx"
echo "==> ONNX: hybrid-import + hybrid-run on ${onnx_model#$HYBRID_ROOT/}"
"$HYBRID_BUILD/bin/hybrid-import" "$onnx_model" | grep -o "hybrid.attention[^:]*" | sed 's/^/    /'
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
work = sys.argv[1]
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal(s, dtype=np.float32)
           for s in ((2, 9, 4, 8), (2, 3, 6, 8), (2, 3, 6, 8)))
for name, a in zip("qkv", (q, k, v)):
    np.save(f"{work}/{name}.npy", a)
kk, vv = np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1)
s = q @ kk.transpose(0, 1, 3, 2) / np.sqrt(8)
p = np.exp(s - s.max(-1, keepdims=True))
np.save(f"{work}/expected.npy", (p / p.sum(-1, keepdims=True)) @ vv)
PY
"$HYBRID_BUILD/bin/hybrid-run" "$onnx_model" --input "$work/q.npy" --input "$work/k.npy" \
  --input "$work/v.npy" --output "$work/y.npy"
/usr/bin/python3 -c "import numpy as np; y = np.load('$work/y.npy'); e = np.load('$work/expected.npy'); \
print('    output %s, max |error| vs numpy %.1e' % (y.shape, np.abs(y - e).max()))"
