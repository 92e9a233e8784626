#!/usr/bin/env bash
# Hybrid against its peers, on this machine: installs what is missing (the
# build's packages, numpy on OpenBLAS's pthreads build, python3-onnx, and
# onnxruntime-node from npm), builds, and prints the peer table of
# bench/peers/compare.py. Extra arguments go to it (--threads=N, --calls N,
# --case NAME, --json). HYBRID_BENCH_KERNELS=1 then also runs hybrid-bench,
# the op-level cases (attention, recurrence, MoE) not yet in the table;
# HYBRID_BENCH_IMPORT=1 runs bench/import/weight_scaling.py (import and
# compile cost of one ONNX graph with 4 MB and with 1 GB of weights) and
# bench/import/hf_compile.py (HF Llama checkpoints at hidden 1024, 1 to 24
# layers: import, compile and first-run cost by depth);
# HYBRID_BENCH_GENERATE=1 runs bench/generate/generation_speed.py (the
# bundled model's TTFT and decode speed at 1K, 8K and 32K tokens: plain,
# dense, speculative) and its peer, bench/generate/torch_peer.py (torch
# eager on OpenBLAS, same weights, same threads), then hybrid-step-costs
# (what a verification and a drafted token cost against a decode step, at
# 8K tokens).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
HYBRID_PACKAGES+=(python3-onnx libopenblas0-pthread nodejs)
# Generation: the KJV prompts, the tokenizer's Python binding, torch (peer).
[ "${HYBRID_BENCH_GENERATE:-0}" = 1 ] &&
  HYBRID_PACKAGES+=(bible-kjv python3-sentencepiece python3-torch)
# Some nodejs builds ship npm themselves (and conflict with Debian's).
command -v npm >/dev/null || HYBRID_PACKAGES+=(npm)
hybrid_setup

PEERS="$HYBRID_BUILD/bench-peers"
if [ ! -d "$PEERS/node_modules/onnxruntime-node" ]; then
  echo "==> installing onnxruntime-node 1.30.0 into $PEERS"
  mkdir -p "$PEERS"
  (cd "$PEERS" && npm install --silent --no-save --ignore-scripts onnxruntime-node@1.30.0)
fi

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE pin some machines to an older kernel;
# a benchmark peer runs the kernel OpenBLAS picks for this CPU (the script
# prints which).
THREADS=2
for arg in "$@"; do
  case "$arg" in --threads=*) THREADS="${arg#--threads=}" ;; esac
done
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" \
  OMP_NUM_THREADS="$THREADS" /usr/bin/python3 "$HYBRID_ROOT/bench/peers/compare.py" \
  --build "$HYBRID_BUILD" --node-modules "$PEERS/node_modules" --threads "$THREADS" "$@"
if [ "${HYBRID_BENCH_KERNELS:-0}" = 1 ]; then
  "$HYBRID_BUILD/bin/hybrid-bench" --num-threads "$THREADS"
fi
if [ "${HYBRID_BENCH_IMPORT:-0}" = 1 ]; then
  /usr/bin/python3 "$HYBRID_ROOT/bench/import/weight_scaling.py" --build "$HYBRID_BUILD" \
    --threads "$THREADS"
  /usr/bin/python3 "$HYBRID_ROOT/bench/import/hf_compile.py" --build "$HYBRID_BUILD" \
    --threads "$THREADS"
fi
if [ "${HYBRID_BENCH_GENERATE:-0}" = 1 ]; then
  /usr/bin/python3 "$HYBRID_ROOT/bench/generate/generation_speed.py" --build "$HYBRID_BUILD" \
    --threads "$THREADS"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$THREADS" \
    OMP_NUM_THREADS="$THREADS" /usr/bin/python3 "$HYBRID_ROOT/bench/generate/torch_peer.py" \
    --threads "$THREADS"
  "$HYBRID_BUILD/bin/hybrid-step-costs" "$HYBRID_ROOT/models/sala-kjv" --context 8192 \
    --draft "$HYBRID_ROOT/models/sala-kjv-draft" --num-threads "$THREADS"
fi
