"""Notebook-style walk through `import hybrid`: import an ONNX model, apply a
pass, compare sparse and dense outputs, and plot the speed-up of sparse
attention against context length.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/sparse_speedup.py \
        --out speedup.png

The model is the Llama-style LM that torch.onnx.export wrote for the
importer's tests (test/ONNX/lms/llama_gqa.onnx: 2 layers, 4 query heads and
2 KV heads of 16). Its causal attention is raised to hybrid.attention at
import; hybrid-sparsify-attention turns it into InfLLM-V2 block selection
plus block-sparse attention, dense below `dense_len` keys.
"""

import argparse
import os
import time

import numpy as np

import hybrid

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "test", "ONNX", "lms", "llama_gqa.onnx")


def median_ms(fn, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    ap.add_argument("--dense-len", type=int, default=1024)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--out", default="sparse_speedup.png")
    args = ap.parse_args()

    # 1. Import: the model's IR, weights left in the .onnx as parameters.
    dense_ir = hybrid.import_model(MODEL)
    print("imported: %d hybrid.attention ops" % dense_ir.count("hybrid.attention "))

    # 2. A pass: training-free block-sparse attention.
    # (hybrid-dense-sparse-switch: below dense_len keys, skip the block
    # selection and run dense attention.)
    sparse_ir = hybrid.opt(
        dense_ir, "hybrid-sparsify-attention{block-size=64 topk=4 window-size=256 "
        "dense-len=%d},hybrid-dense-sparse-switch" % args.dense_len)
    print("sparsified: %d block selections" % sparse_ir.count("hybrid.block_select "))
    before = hybrid.cost_report(dense_ir, context_length=max(args.lengths))[-1]
    after = hybrid.cost_report(sparse_ir, context_length=max(args.lengths))[-1]
    print("cost model, one decode step at %d keys: FLOPs %.3g -> %.3g" % (
        max(args.lengths), before["flops"], after["flops"]))

    # 3. Compile both; the weights come from the model's folder.
    folder = os.path.dirname(MODEL)
    dense = hybrid.compile(dense_ir, parameters=folder)
    sparse = hybrid.compile(sparse_ir, parameters=folder)

    # 4. Compare and time them at each context length.
    rng = np.random.default_rng(0)
    rows = []
    for length in args.lengths:
        ids = rng.integers(0, 256, (1, length), dtype=np.int64)
        a, b = dense(ids), sparse(ids)
        same_argmax = float((a.argmax(-1) == b.argmax(-1)).mean())
        dense_ms = median_ms(lambda: dense(ids), args.calls)
        sparse_ms = median_ms(lambda: sparse(ids), args.calls)
        rows.append((length, dense_ms, sparse_ms, float(np.abs(a - b).max()), same_argmax))
        print("%6d tokens: dense %8.1f ms, sparse %8.1f ms, speed-up %.2fx, "
              "max |dense - sparse| %.2e, same argmax %.0f%%"
              % (length, dense_ms, sparse_ms, dense_ms / sparse_ms, rows[-1][3],
                 100 * same_argmax))
        if length < args.dense_len:
            # Below dense_len the sparse module runs dense attention.
            assert rows[-1][3] <= 1e-4 * max(1.0, float(np.abs(a).max())), rows[-1]

    # 5. The plot.
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lengths = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lengths, [r[1] / r[2] for r in rows], marker="o")
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.axvline(args.dense_len, color="gray", linestyle=":", label="dense_len")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens, one prefill)")
    ax.set_ylabel("dense time / sparse time")
    ax.set_title("InfLLM-V2 block-sparse attention, %s" % os.path.basename(MODEL))
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
