#!/usr/bin/python3
"""Compiles examples/minicpm_sala.mlir for the CPU and runs its layers.

Driven by scripts/demo.sh. Inputs are synthetic: random projections, and a
router built so that each 8-token chunk activates its own ~30% of the
experts (BlockFFN reports ~70% chunk-level sparsity for trained models).
Prints per-layer wall times (best of --repeat) and the sparsity each layer
exploited, then runs one speculative verification step.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

T_HEADS, KV_HEADS, HEAD, MODEL, EXPERTS, WIDTH = 4, 2, 64, 256, 16, 64
BLOCK, TOPK, WINDOW_BLOCKS, DENSE_LEN = 64, 16, 4, 2048


def run(tool, module, entry, inputs, outputs, workdir, repeat):
    paths = []
    for i, value in enumerate(inputs):
        if isinstance(value, str):  # a scalar literal such as i64=5
            paths.append(value)
            continue
        path = os.path.join(workdir, "%s_in%d.npy" % (entry, i))
        np.save(path, value)
        paths.append(path)
    outs = [os.path.join(workdir, "%s_out%d.npy" % (entry, i)) for i in range(outputs)]
    cmd = [tool, module, "--entry", entry, "--repeat", str(repeat), "--time"]
    for p in paths:
        cmd += ["--input", p]
    for p in outs:
        cmd += ["--output", p]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    best = float(re.search(r"min ([0-9.]+) ms", text).group(1))
    return best, [np.load(p) for p in outs]


def rotary_tables(rng):
    inv = 1.0 / (10000 ** (np.arange(0, HEAD, 2) / HEAD))
    angles = np.outer(np.arange(32768), inv)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def attended_fraction(blocks, length):
    """Keys attended (selected blocks + local window, causal) over causal keys."""
    attended = dense = 0
    for h in range(blocks.shape[1]):
        for t in range(length):
            qb = t // BLOCK
            window_start = max(0, qb - WINDOW_BLOCKS + 1)
            keys = t + 1 - window_start * BLOCK
            for b in blocks[0, h, t]:
                if 0 <= b < window_start:
                    keys += BLOCK
            attended += keys
            dense += t + 1
    return attended / dense


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hybrid-run", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--length", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    T = args.length
    f32 = np.float32

    with tempfile.TemporaryDirectory() as work:
        so = os.path.join(work, "minicpm_sala.so")
        subprocess.run([args.hybrid_run, args.module, "--emit-so", so, "--entry", "verify_step",
                        "--input", "i64=0"], capture_output=True)  # compile only
        if not os.path.exists(so):
            sys.exit("demo: compiling %s failed" % args.module)
        print("==> compiled %s (%d bytes); sequence length %d" % (
            os.path.basename(args.module), os.path.getsize(so), T))

        def r(*shape, scale=1.0):
            return (rng.standard_normal(shape) * scale).astype(f32)

        cos, sin = rotary_tables(rng)
        pos = np.arange(T, dtype=np.int64)[None, :]
        q, k, v = r(1, T_HEADS, T, HEAD), r(1, KV_HEADS, T, HEAD), r(1, KV_HEADS, T, HEAD)
        state = np.zeros((1, KV_HEADS, HEAD, HEAD), f32)
        rows = []

        ms, (blocks,) = run(args.hybrid_run, so, "attention_blocks", [q, k, cos, sin, pos], 1,
                            work, args.repeat)
        fraction = attended_fraction(blocks, T)
        rows.append(("block_select (InfLLM-V2)", ms, ""))
        ms, _ = run(args.hybrid_run, so, "sparse_attention_layer", [q, k, v, cos, sin, pos], 1,
                    work, args.repeat)
        rows.append(("block-sparse attention", ms,
                     "attended-key fraction %.3f (%.1fx fewer keys than dense)" %
                     (fraction, 1 / fraction)))
        ms, _ = run(args.hybrid_run, so, "lightning_layer", [q, k * 0.1, v, state], 2, work,
                    args.repeat)
        rows.append(("Lightning linear attention", ms, "chunked form, chunk 64"))
        g = np.full((1, KV_HEADS, T), -0.05, f32)
        beta = np.full((1, KV_HEADS, T), 0.5, f32)
        ms, _ = run(args.hybrid_run, so, "gated_delta_layer", [q, k * 0.1, v, g, beta, state], 2,
                    work, args.repeat)
        rows.append(("gated DeltaNet", ms, "chunked form, chunk 64"))

        # BlockFFN: every 8-token chunk is about one of 8 topics; each topic
        # activates its own 30% of the experts.
        basis = np.linalg.qr(rng.standard_normal((MODEL, MODEL)))[0].astype(f32)
        common, topics = basis[0], basis[1:9]
        x = np.stack([common + topics[(t // 8) % 8] + 0.01 * r(MODEL) for t in range(T)]).astype(f32)
        router = np.stack([-0.5 * common + sum(topics[c] for c in range(8) if rng.random() < 0.3)
                           for _ in range(EXPERTS)]).astype(f32)
        norm, router_norm = np.ones(MODEL, f32), np.ones(EXPERTS, f32)
        up, down = r(EXPERTS, WIDTH, MODEL, scale=0.05), r(EXPERTS, MODEL, WIDTH, scale=0.05)
        ms, _ = run(args.hybrid_run, so, "blockffn", [x, norm, router, router_norm, up, down], 1,
                    work, args.repeat)
        h = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
        active = (h @ router.T) > 0
        chunk_active = active.reshape(-1, 8, EXPERTS).any(axis=1)
        rows.append(("BlockFFN chunk MoE", ms,
                     "active experts: %.2f per token, %.2f per 8-token chunk (CLS %.2f)" %
                     (active.mean(), chunk_active.mean(), 1 - chunk_active.mean())))

        weights = [r(MODEL, MODEL, scale=0.05), r(MODEL, 128, scale=0.05),
                   r(MODEL, 128, scale=0.05), r(MODEL, MODEL, scale=0.05)]
        ms, _ = run(args.hybrid_run, so, "stack",
                    [x, pos, cos, sin] + weights + [g, beta, state, state, state, norm, router,
                                                    router_norm, up, down],
                    4, work, 1)
        rows.append(("whole 4-layer group (@stack)", ms,
                     "1 sparse-attention + 3 linear layers, each with BlockFFN"))

        # One verification step over an 8-node tree after a 1024-token prefix.
        prefix = 1024
        kc, vc = r(1, KV_HEADS, prefix + 8, HEAD), r(1, KV_HEADS, prefix + 8, HEAD)
        logits = r(8, 32000)
        target = logits.argmax(1)
        parents = [-1, 0, 0, 1, 1, 2, 3, 6]
        draft = np.array([0, target[0], (target[0] + 1) % 32000, target[1], 5, 7, target[3],
                          target[6]], np.int32)
        ms, outs = run(args.hybrid_run, so, "verify_step",
                       [r(1, T_HEADS, 8, HEAD), kc, vc, r(1, T_HEADS, 8, HEAD),
                        r(1, KV_HEADS, 8, HEAD) * 0.1, r(1, KV_HEADS, 8, HEAD), state, draft,
                        logits, "i64=%d" % prefix], 7, work, args.repeat)
        path, length, bonus = outs[1], int(outs[2]), int(outs[3])
        rows.append(("speculative verify step", ms,
                     "accepted path %s, %d tokens this step (bonus %d)" %
                     (list(path[:length]), length, bonus)))

    print("==> per-layer wall time (best of %d, %d threads)" % (args.repeat, os.cpu_count()))
    for name, ms, note in rows:
        print("    %-30s %9.2f ms   %s" % (name, ms, note))


if __name__ == "__main__":
    main()
