#!/usr/bin/env bash
# Installs what is missing, builds, then takes the bundled MiniCPM-SALA-style
# module (examples/minicpm_sala.mlir) through the compiler: verifies and
# round-trips it with hybrid-opt, compiles it for the CPU, runs every layer on
# generated inputs, and prints per-layer timings with the sparsity exploited;
# then takes a torch-exported ONNX LM and a Hugging Face checkpoint folder
# (MiniCPM-SALA: sparse attention and lightning layers) through hybrid-import
# and hybrid-run, and generates text with the bundled trained model
# (models/sala-kjv), plainly and with speculative decoding.
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

# The hybrid ops of an imported module, counted; the max error of logits
# against torch's.
count_hybrid_ops() {
  grep -oE "= hybrid\.[a-z_]+" "$1" | sort | uniq -c | sed "s/^ *\([0-9]*\) = /    \1 x /"
}
compare_logits() {
  /usr/bin/python3 -c "import numpy as np; y = np.load('$1'); e = np.load('$2'); \
print('    logits %s, max |error| vs torch %.1e' % (y.shape, np.abs(y - e).max()))"
}

# An ONNX model through the front door: a Llama-style GQA decoder LM that
# torch.onnx.export wrote (test/ONNX/lms, 2 layers, symbolic batch and
# sequence). hybrid-import raises its spelled-out attention, RMSNorm and
# RoPE to hybrid ops; hybrid-run imports, compiles (phases timed) and runs
# it; the logits are checked against torch's.
lms="$HYBRID_ROOT/test/ONNX/lms"
echo "==> ONNX: hybrid-import ${lms#$HYBRID_ROOT/}/llama_gqa.onnx (exported by torch 1.13)"
"$HYBRID_BUILD/bin/hybrid-import" "$lms/llama_gqa.onnx" -o "$work/llama_gqa.mlir"
count_hybrid_ops "$work/llama_gqa.mlir"
echo "==> ONNX: hybrid-run on input_ids [2, 11]"
"$HYBRID_BUILD/bin/hybrid-run" "$lms/llama_gqa.onnx" --input "input_ids=$lms/llama_gqa.input_ids.npy" \
  --output "$work/llama_gqa.npy" --verbose 2>&1 | sed 's/^/    /'
compare_logits "$work/llama_gqa.npy" "$lms/llama_gqa.logits.npy"

# A Hugging Face checkpoint folder: a tiny MiniCPM-SALA (test/HF,
# config.json + model.safetensors, random weights): one InfLLM-V2 sparse
# layer to three Lightning Attention layers, whose 40-token prompt passes
# dense_len. hybrid-import builds forward, prefill, decode, verify,
# verify_chain and commit with
# the weights as parameters; hybrid-run maps them from the folder and
# returns the logits of forward, checked against the torch reference.
hf="$HYBRID_ROOT/test/HF/minicpm-sala-tiny"
echo "==> Hugging Face: hybrid-import ${hf#$HYBRID_ROOT/}"
"$HYBRID_BUILD/bin/hybrid-import" "$hf" -o "$work/sala.mlir"
grep -oE "func.func @[a-z_]+" "$work/sala.mlir" | sed 's/func.func @/    entry point /'
count_hybrid_ops "$work/sala.mlir"
echo "==> Hugging Face: hybrid-run (entry forward) on input_ids [2, 40]"
"$HYBRID_BUILD/bin/hybrid-run" "$hf" --input "input_ids=$hf/input_ids.npy" \
  --output "$work/sala.npy" --verbose 2>&1 | sed 's/^/    /'
compare_logits "$work/sala.npy" "$hf/logits.npy"

# Text from the bundled model (models/sala-kjv: MiniCPM-SALA-style, trained
# here on the King James Bible by models/train_sala.py), first plainly, then
# with speculative decoding (its one-layer draft, 16-node trees), greedy:
# the same text, fewer target calls. Compiled once, then cached.
prompt="And the LORD spake unto Moses, saying, Speak unto the children of Israel, and say unto them,"
echo "==> Generation: hybrid-generate models/sala-kjv --prompt \"$prompt\""
"$HYBRID_BUILD/bin/hybrid-generate" "$HYBRID_ROOT/models/sala-kjv" --prompt "$prompt" \
  --max-new-tokens 96 --json > "$work/plain.json"
"$HYBRID_BUILD/bin/hybrid-generate" "$HYBRID_ROOT/models/sala-kjv" --prompt "$prompt" \
  --max-new-tokens 96 --draft "$HYBRID_ROOT/models/sala-kjv-draft" --tree-size 16 \
  --json > "$work/speculative.json"
"$HYBRID_BUILD/bin/hybrid-generate" "$HYBRID_ROOT/models/sala-kjv" --prompt "In the beginning" \
  --max-new-tokens 48 --temperature 0.8 --top-p 0.9 --seed 7 --json > "$work/sampled.json"
/usr/bin/python3 - "$work" <<'PY'
import json, sys, textwrap
work = sys.argv[1]
runs = {name: json.load(open(f"{work}/{name}.json")) for name in ("plain", "speculative", "sampled")}
for name in ("plain", "speculative"):
    print(f"    {name}:")
    print(textwrap.indent(textwrap.fill(runs[name]["text"], 76), "      "))
print("    same text:", runs["plain"]["tokens"] == runs["speculative"]["tokens"])
print("    sampled (T 0.8, top-p 0.9, seed 7):")
print(textwrap.indent(textwrap.fill(runs["sampled"]["text"], 76), "      "))
print("    %-12s %8s %10s %12s %10s %14s" % ("", "prompt", "TTFT ms", "decode tok/s", "target calls", "tokens/call"))
for name in ("plain", "speculative"):
    r, t = runs[name], runs[name]["timings"]
    print("    %-12s %8d %10.1f %12.0f %10d %14.2f" % (
        name, r["prompt_tokens"], 1e3 * t["time_to_first_token_s"], t["decode_tokens_per_s"],
        r["steps"], r["mean_accepted"]))
PY
