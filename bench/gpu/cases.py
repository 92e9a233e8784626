"""The GPU check's cases: their inputs (seeded), shared by prepare.py (which
records the CPU's results for the small ones) and check.py (which makes the
large ones' inputs on the GPU machine and checks them against PyTorch)."""

import numpy as np


def tree_parents(n):
    # A draft tree: node 0 the root, each later node under an earlier one.
    rng = np.random.default_rng(7)
    return np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)],
                    np.int32)


def inputs(name, rng):
    f32, f16 = np.float32, np.float16
    r = lambda *s, t=f32: rng.standard_normal(s).astype(t)
    if name == "mlp":
        return [r(37, 256), r(256, 320) * 0.1, r(320)]
    if name.startswith("matmul_f32"):
        m, k, n = {"matmul_f32": (100, 300, 130),
                   "matmul_f32_2048": (2048, 2048, 2048)}[name]
        return [r(m, k), r(k, n)]
    if name.startswith("matmul_f16"):
        m, k, n = {"matmul_f16": (100, 300, 130),
                   "matmul_f16_4096": (4096, 4096, 4096)}[name]
        return [r(m, k, t=f16), r(k, n, t=f16)]
    if name == "matmul_bf16_f32":
        # A bf16 checkpoint's projection: bf16 weights (raw '<u2' words)
        # against f32 activations, on tensor cores with the activations
        # split into two bf16 parts: checked at nearly f32 tolerance.
        weights = (r(200, 300) * 0.1).view(np.uint32) >> 16
        return [weights.astype(np.uint16), r(300, 70)]
    if name == "rms_norm":
        return [r(7, 2048), r(2048)]
    if name == "rope":
        s = 33
        return [r(1, 8, s, 64), np.cos(r(128, 32)), np.sin(r(128, 32)),
                rng.integers(0, 128, (1, s)).astype(np.int64)]
    if name.startswith("attention_gqa_causal"):
        s = {"attention_gqa_causal": 77,
             "attention_gqa_causal_4096": 4096}[name]
        return [r(1, 16, s, 128, t=f16), r(1, 2, s, 128, t=f16),
                r(1, 2, s, 128, t=f16)]
    if name == "attention_tree":
        prefix, n = 40, 9
        s = prefix + n
        mask = np.where(rng.random((1, 1, s, s)) < 0.1, -np.inf, 0).astype(f32)
        return [r(1, 4, s, 64), r(1, 4, s, 64), r(1, 4, s, 64), mask,
                tree_parents(n)]
    if name == "attention_tree_f16":
        # The tensor-core form with a draft tree, a mask and softcap; head
        # dims 72 and 40 are padded to fragments (16 and 8) in its tiles.
        prefix, n = 70, 9
        s = prefix + n
        mask = np.where(rng.random((1, 1, s, s)) < 0.1, -np.inf, 0).astype(f16)
        return [r(1, 6, s, 72, t=f16), r(1, 2, s, 72, t=f16),
                r(1, 2, s, 40, t=f16), mask, tree_parents(n)]
    if name == "recurrence_gated_delta":
        # Per-key decays: 2 chunks of 16 (Γ per key dim), then 13 steps.
        t = 45
        k = r(1, 4, t, 64)
        k /= np.linalg.norm(k, axis=-1, keepdims=True)  # as gated DeltaNet
        return [r(1, 8, t, 64), k, r(1, 4, t, 48),
                -np.abs(r(1, 4, t, 64)) * 0.1,
                (1 / (1 + np.exp(-r(1, 4, t)))).astype(f32),
                r(1, 4, 64, 48) * 0.1]
    if name.startswith("recurrence_gated_prefill"):
        # The chunked form: 18 chunks of 16, then 12 steps; a per-head
        # log-decay input, GQA, 80 value columns (a partial column block).
        # The speed shape: a 4096-token prefill.
        t = {"recurrence_gated_prefill": 300,
             "recurrence_gated_prefill_4096": 4096}[name]
        k = r(1, 2, t, 128)
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
        return [r(1, 4, t, 128), k, r(1, 2, t, 80),
                -np.abs(r(1, 2, t)) * 0.2, r(1, 2, 128, 80) * 0.1]
    if name == "recurrence_gated_deltanet_prefill":
        # Gated DeltaNet in chunks (the forward substitution): 9 chunks of
        # 16, then 7 steps.
        t = 151
        k = r(1, 2, t, 64)
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
        return [r(1, 4, t, 64), k, r(1, 2, t, 48),
                -np.abs(r(1, 2, t)) * 0.1,
                (1 / (1 + np.exp(-r(1, 2, t)))).astype(f32)]
    if name == "recurrence_lightning_tree":
        # A prefix of 2 chunks and 8 steps, then the tree's nodes.
        prefix, n = 40, 7
        t = prefix + n
        return [r(1, 2, t, 64), r(1, 2, t, 64) * 0.1, r(1, 2, t, 64),
                tree_parents(n)]
    if name == "moe_blockffn":
        t = 29
        return [r(t, 256), r(16, 256) * 0.1, r(16), r(16, 64, 256) * 0.1,
                r(16, 256, 64) * 0.1, r(128, 256) * 0.1, r(256, 128) * 0.1]
    if name == "moe_topk":
        return [r(13, 64), r(8, 64), r(8, 32, 64) * 0.1, r(8, 64, 32) * 0.1]
    if name == "sparse_attention":
        # 600 keys, blocks of 64: past dense_len (256), so each query sees
        # its selected blocks (some repeated, some -1) and its window.
        t = 600
        nb = (t + 63) // 64
        sel = rng.integers(-1, nb, (1, 2, t, 4)).astype(np.int32)
        qb = np.arange(t) // 64
        sel = np.where(sel <= qb[None, None, :, None], sel, -1).astype(np.int32)
        return [r(1, 8, t, 64), r(1, 2, t, 64), r(1, 2, t, 64), sel]
    if name == "attention_odd_dims":
        return [r(2, 3, 5, 8), r(2, 3, 7, 8), r(2, 3, 7, 10)]
    raise KeyError(name)


# (case, entry in cases.mlir, relative tolerance, reference): "cpu" cases
# carry their inputs and the CPU module's results in the bundle; "torch"
# cases (the speed shapes, too large to carry) make their inputs on the GPU
# machine and are checked against PyTorch there.
CASES = [
    ("mlp", "mlp", 1e-4, "cpu"),
    ("matmul_f32", "matmul_f32", 1e-4, "cpu"),
    ("matmul_f32_2048", "matmul_f32", 1e-4, "torch"),
    ("matmul_f16", "matmul_f16", 1e-3, "cpu"),
    ("matmul_f16_4096", "matmul_f16", 1e-3, "torch"),
    ("matmul_bf16_f32", "matmul_bf16_f32", 1e-4, "cpu"),
    ("rms_norm", "rms_norm", 1e-5, "cpu"),
    ("rope", "rope", 1e-5, "cpu"),
    ("attention_gqa_causal", "attention_gqa_causal", 5e-3, "cpu"),
    ("attention_gqa_causal_4096", "attention_gqa_causal", 5e-3, "torch"),
    ("attention_tree", "attention_tree", 1e-4, "cpu"),
    ("attention_tree_f16", "attention_tree_f16", 5e-3, "cpu"),
    ("attention_odd_dims", "attention_odd_dims", 1e-5, "cpu"),
    ("recurrence_gated_delta", "recurrence_gated_delta", 1e-4, "cpu"),
    ("recurrence_lightning_tree", "recurrence_lightning_tree", 1e-4, "cpu"),
    ("recurrence_gated_prefill", "recurrence_gated_prefill", 1e-4, "cpu"),
    ("recurrence_gated_deltanet_prefill", "recurrence_gated_deltanet_prefill",
     1e-4, "cpu"),
    ("recurrence_gated_prefill_4096", "recurrence_gated_prefill", 1e-4,
     "torch"),
    ("moe_blockffn", "moe_blockffn", 1e-4, "cpu"),
    ("moe_topk", "moe_topk", 1e-4, "cpu"),
    ("sparse_attention", "sparse_attention", 1e-4, "cpu"),
]

# Results per entry (the recurrence returns its output and its state).
RESULTS = {"recurrence_gated_delta": 2, "recurrence_lightning_tree": 2,
           "recurrence_gated_prefill": 2,
           "recurrence_gated_deltanet_prefill": 2}

# Whole models: a Hugging Face checkpoint of test/HF (tiny, random weights)
# run by its `forward` entry on its input_ids.npy, checked against the
# logits of the torch modules written from transformers' modeling code
# (test/HF/make_checkpoints.py): (case, folder under test/HF, tolerance).
MODELS = [
    ("llama_tiny_forward", "llama-tiny", 1e-4),
    ("qwen3_tiny_forward", "qwen3-tiny-sharded", 1e-4),
    ("minicpm_tiny_bf16_forward", "minicpm-tiny-bf16", 2e-2),
    ("minicpm_blockffn_tiny_forward", "minicpm-blockffn-tiny", 1e-4),
    ("minicpm4_sparse_tiny_forward", "minicpm4-sparse-tiny", 1e-4),
    ("minicpm_sala_tiny_forward", "minicpm-sala-tiny", 1e-4),
    ("minicpm_sala_blockffn_tiny_bf16_forward",
     "minicpm-sala-blockffn-tiny-bf16", 2e-2),
]
