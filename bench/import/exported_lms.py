#!/usr/bin/python3
"""Exported decoder LMs in Hybrid and in ONNX Runtime 1.30, same file.

test/ONNX/lms/export_lms.py exports the Llama-GQA and BlockFFN LMs (torch
1.13, opset 17) at a benchmark shape (hidden 1024, 4 layers, 16 query / 4
KV heads, vocabulary 8192) into a temporary folder. Each .onnx is compiled
by `hybrid-run --compile-only` (import, raising, CPU pipeline) and loaded
through the runtime's C API with its weights mapped from the model's
folder; ONNX Runtime (onnxruntime-node, all graph optimisations,
intra_op_num_threads equal to ours) loads the same file. Cases: prefill of
512 tokens and one decode step (one token; the exported graphs have no KV
cache, so a step recomputes nothing but that token). Hybrid and ORT
alternate, median of --calls after warm-up; logits are compared.

Run by scripts/bench.sh with HYBRID_BENCH_IMPORT=1.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
from compare import HybridRuntime, OrtPeer, median_spread  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hybrid-lms-", dir=os.path.abspath(args.build))
    rt = HybridRuntime(args.build)
    ort = OrtPeer(args.node_modules, args.threads)
    rows = []
    try:
        print("==> exporting the LMs at the benchmark shape", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "test", "ONNX", "lms", "export_lms.py"),
                        "--out", work, "--bench-shape"], check=True,
                       stdout=subprocess.DEVNULL)
        for name in ("llama_gqa", "blockffn"):
            model = os.path.join(work, name + ".onnx")
            so = os.path.join(work, name + ".so")
            start = time.perf_counter()
            subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), model,
                            "--compile-only", "--emit-so", so], check=True)
            compile_s = time.perf_counter() - start
            module = rt.load(so, args.threads)
            rt.bind_parameters(module, work)
            ort.load(model)
            vocab = np.load(os.path.join(work, name + ".logits.npy")).shape[-1]
            for case, seq in (("prefill 512", 512), ("decode step", 1)):
                ids = np.random.default_rng(seq).integers(0, vocab, (1, seq)).astype(np.int64)
                ids_path = os.path.join(work, "ids.npy")
                np.save(ids_path, ids)
                tensor = rt.wrap(ids)
                times = {"hybrid": [], "ort": []}
                ort_out = os.path.join(work, "ort.npy")
                for call in range(args.calls + 2):
                    ms, ours = rt.invoke(module, "torch_jit", [tensor], (1, seq, vocab))
                    ort_ms = ort.run({"input_ids": ids_path},
                                     ort_out if call == 0 else None)
                    if call == 0:
                        theirs = np.load(ort_out)
                        err = np.abs(ours - theirs).max() / max(1.0, np.abs(theirs).max())
                    if call >= 2:
                        times["hybrid"].append(ms)
                        times["ort"].append(ort_ms)
                h, o = median_spread(times["hybrid"]), median_spread(times["ort"])
                rows.append((name, case, h, o, err, compile_s))
                print(f"  {name} {case}: Hybrid {h[0]:.2f} ms, ORT {o[0]:.2f} ms", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"Exported LMs (torch 1.13 -> ONNX opset 17), hidden 1024, 4 layers, 16/4 heads, "
          f"vocabulary 8192, batch 1, {args.threads} threads, median of {args.calls}")
    print("| model | case | Hybrid ms (min-max) | ORT 1.30 ms (min-max) | ORT / Hybrid "
          "| max rel. diff | Hybrid compile s |")
    print("|---|---|---|---|---|---|---|")
    for name, case, h, o, err, compile_s in rows:
        print(f"| {name} | {case} | {h[0]:.2f} ({h[1]:.2f}-{h[2]:.2f}) | "
              f"{o[0]:.2f} ({o[1]:.2f}-{o[2]:.2f}) | {o[0] / h[0]:.2f}x | {err:.1e} | "
              f"{compile_s:.1f} |")


if __name__ == "__main__":
    main()
