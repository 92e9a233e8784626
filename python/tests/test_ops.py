"""The hybrid ops through Python against numpy references written from
shared/reference/semantics.md: linear recurrence (section 4, every rule,
chunked and step forms), chunk-level MoE (section 5, BlockFFN router) and
greedy tree verification (section 6)."""

import numpy as np
import pytest

import hybrid

B, HQ, H, T, DK, DV = 1, 4, 2, 37, 16, 8


def recurrence_reference(rule, q, k, v, g, beta, s0, scale):
    """Section 4, step by step, in float64."""
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    s = s0.astype(np.float64).copy()
    o = np.zeros((B, HQ, T, DV))
    group = HQ // H
    for b in range(B):
        for h in range(H):
            state = s[b, h]
            for t in range(T):
                if rule in ("gated", "gated_delta"):
                    state = state * np.exp(g[b, h, t])
                vt = v[b, h, t]
                if rule in ("delta", "gated_delta"):
                    vt = beta[b, h, t] * (vt - state.T @ k[b, h, t])
                state = state + np.outer(k[b, h, t], vt)
                for j in range(group):
                    o[b, h * group + j, t] = scale * state.T @ q[b, h * group + j, t]
            s[b, h] = state
    return o, s


RECURRENCE = """
func.func @rec(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x8xf32>,
               %g: tensor<1x2x?xf32>, %beta: tensor<1x2x?xf32>, %s0: tensor<1x2x16x8xf32>)
    -> (tensor<1x4x?x8xf32>, tensor<1x2x16x8xf32>) {{
  %o, %s = hybrid.linear_recurrence {rule} %q, %k, %v {operands} state(%s0 : tensor<1x2x16x8xf32>)
      {{chunk_size = {chunk}, scale = 0.25 : f32}}
      : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x8xf32>
  return %o, %s : tensor<1x4x?x8xf32>, tensor<1x2x16x8xf32>
}}
"""

OPERANDS = {
    "linear": "",
    "gated": "decay(%g : tensor<1x2x?xf32>)",
    "delta": "beta(%beta : tensor<1x2x?xf32>)",
    "gated_delta": "decay(%g : tensor<1x2x?xf32>) beta(%beta : tensor<1x2x?xf32>)",
}


@pytest.mark.parametrize("chunk", [1, 16])
@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
def test_linear_recurrence(rule, chunk):
    text = RECURRENCE.format(rule=rule, operands=OPERANDS[rule], chunk=chunk)
    # The unused decay/beta arguments of linear rules are still arguments.
    m = hybrid.compile(text)
    rng = np.random.default_rng(4)
    q = rng.standard_normal((B, HQ, T, DK), dtype=np.float32)
    k = rng.standard_normal((B, H, T, DK), dtype=np.float32) / 4
    v = rng.standard_normal((B, H, T, DV), dtype=np.float32)
    g = -rng.uniform(0.01, 0.3, (B, H, T)).astype(np.float32)
    beta = rng.uniform(0.1, 0.9, (B, H, T)).astype(np.float32)
    s0 = rng.standard_normal((B, H, DK, DV), dtype=np.float32) / 4
    o, s = m.rec(q, k, v, g, beta, s0)
    ref_o, ref_s = recurrence_reference(rule, q, k, v, g, beta, s0, 0.25)
    tol = 1e-4 * max(1.0, np.abs(ref_o).max())
    np.testing.assert_allclose(o, ref_o, atol=tol, rtol=1e-4)
    np.testing.assert_allclose(s, ref_s, atol=1e-4 * max(1.0, np.abs(ref_s).max()), rtol=1e-4)


MOE = """
func.func @moe(%x: tensor<?x32xf32>, %wr: tensor<6x32xf32>, %gamma: tensor<6xf32>,
               %up: tensor<6x12x32xf32>, %down: tensor<6x32x12xf32>) -> tensor<?x32xf32> {
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%gamma : tensor<6xf32>)
      experts(%up, %down : tensor<6x12x32xf32>, tensor<6x32x12xf32>)
      {chunk = 4, epsilon = 1.0e-6 : f32} : tensor<?x32xf32>, tensor<6x32xf32>
  return %y : tensor<?x32xf32>
}
"""


def test_chunk_moe_blockffn():
    m = hybrid.compile(MOE)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 32), dtype=np.float32)
    wr = rng.standard_normal((6, 32), dtype=np.float32)
    gamma = rng.uniform(0.5, 1.5, 6).astype(np.float32)
    up = rng.standard_normal((6, 12, 32), dtype=np.float32) / 4
    down = rng.standard_normal((6, 32, 12), dtype=np.float32) / 4
    # Section 5: r = RMSNorm(ReLU(x W_r^T)); y_t = sum_e r_te W_e SiLU(U_e x_t).
    x64 = x.astype(np.float64)
    a = np.maximum(x64 @ wr.T, 0)
    r = a / np.sqrt((a * a).mean(-1, keepdims=True) + 1e-6) * gamma
    assert (r == 0).any()  # some experts are inactive for some tokens
    y = np.zeros_like(x64)
    for t in range(10):
        for e in range(6):
            if r[t, e] > 0:
                h = up[e] @ x64[t]
                y[t] += r[t, e] * (down[e] @ (h / (1 + np.exp(-h))))
    np.testing.assert_allclose(m(x, wr, gamma, up, down), y, rtol=1e-4, atol=1e-4)


VERIFY = """
func.func @verify(%parents: tensor<7xi32>, %draft: tensor<7xi32>, %logits: tensor<7x50xf32>)
    -> (tensor<7xi32>, tensor<i32>, tensor<i32>) {
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %logits
      : tensor<7xi32>, tensor<7xi32>, tensor<7x50xf32>
  return %path, %len, %bonus : tensor<7xi32>, tensor<i32>, tensor<i32>
}
"""


def verify_reference(parents, draft, logits):
    """Section 6, greedy: node i > 0 is correct iff draft[i] ==
    argmax(logits[parent]); the deepest node whose path is all correct
    (ties: lowest index); the path root..node, then the bonus argmax."""
    a = logits.argmax(-1)
    depth, ok = [0] * len(parents), [True] * len(parents)
    for i in range(1, len(parents)):
        p = parents[i]
        depth[i] = depth[p] + 1
        ok[i] = ok[p] and draft[i] == a[p]
    best = max((i for i in range(len(parents)) if ok[i]), key=lambda i: (depth[i], -i))
    path = [best]
    while path[-1] != 0:
        path.append(parents[path[-1]])
    path.reverse()
    return path, a[best]


def test_tree_verify_against_reference():
    m = hybrid.compile(VERIFY)
    rng = np.random.default_rng(6)
    parents = np.array([-1, 0, 0, 1, 1, 2, 3], np.int32)
    for trial in range(20):
        logits = rng.standard_normal((7, 50), dtype=np.float32)
        a = logits.argmax(-1)
        # Drafts that agree with the target's choice at random.
        draft = np.array([0] + [a[p] if rng.random() < 0.6 else (a[p] + 1) % 50
                                for p in parents[1:]], np.int32)
        path, length, bonus = m.verify(parents, draft, logits)
        ref_path, ref_bonus = verify_reference(parents, draft, logits)
        assert int(length) == len(ref_path)
        assert list(path[:len(ref_path)]) == ref_path
        assert (path[len(ref_path):] == -1).all()
        assert int(bonus) == ref_bonus


SPARSE = """
func.func @sparse(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>)
    -> (tensor<1x2x?x3xi32>, tensor<1x4x?x16xf32>) {
  %sel = hybrid.block_select %q, %k config(#hybrid.sparse_config<kernel_size = 32,
      kernel_stride = 16, block_size = 64, topk = 3, init_blocks = 1, window_size = 128,
      dense_len = 64>) : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%sel : tensor<1x2x?x3xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
      topk = 3, init_blocks = 1, window_size = 128, dense_len = 64>)
      : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return %sel, %o : tensor<1x2x?x3xi32>, tensor<1x4x?x16xf32>
}
"""
KERNEL, STRIDE, BLOCK, TOPK, INIT, WINDOW = 32, 16, 64, 3, 1, 128


def block_select_reference(q, k):
    """Section 2 for a prefill (query t at position t): compressed keys,
    kernel scores summed over the group, max-pooled block scores, forced
    first blocks, local and future blocks excluded, top-k ascending (ties:
    the lower block), -1 padding."""
    _, hq, s, d = q.shape
    hkv = k.shape[1]
    group = hq // hkv
    kernels = (s - KERNEL) // STRIDE + 1
    local = WINDOW // BLOCK
    stride, pad = BLOCK // STRIDE, KERNEL // STRIDE - 1
    out = -np.ones((1, hkv, s, TOPK), np.int32)
    for h in range(hkv):
        k1 = np.stack([k[0, h, c * STRIDE:c * STRIDE + KERNEL].astype(np.float64).mean(0)
                       for c in range(kernels)])
        for t in range(s):
            visible = sum(1 for c in range(kernels) if c * STRIDE + KERNEL - 1 <= t)
            score = np.zeros(visible)
            for g in range(group):
                logits = k1[:visible] @ q[0, h * group + g, t] / np.sqrt(d)
                if visible:
                    p = np.exp(logits - logits.max())
                    score += p / p.sum()
            qb = t // BLOCK
            candidates = []
            for blk in range((s + BLOCK - 1) // BLOCK):
                if blk > qb - local:  # the window's blocks and the future
                    continue
                window = [score[c] for c in range(blk * stride - pad, blk * stride - pad + stride + pad)
                          if 0 <= c < visible]
                best = np.inf if blk < INIT else max(window, default=-np.inf)
                if best > -np.inf:
                    candidates.append((-best, blk))
            chosen = sorted(blk for _, blk in sorted(candidates)[:TOPK])
            out[0, h, t, :len(chosen)] = chosen
    return out


def block_sparse_reference(q, k, v, blocks):
    """Section 3: dense attention over the selected blocks, the local
    window's blocks and causality."""
    _, hq, s, d = q.shape
    group = hq // k.shape[1]
    local = WINDOW // BLOCK
    out = np.zeros(q.shape)
    for h in range(hq):
        kv = h // group
        for t in range(s):
            qb = t // BLOCK
            allowed = {b for b in blocks[0, kv, t] if b >= 0}
            allowed |= set(range(max(qb - local + 1, 0), qb + 1))
            keys = [j for j in range(t + 1) if j // BLOCK in allowed]
            logits = k[0, kv, keys].astype(np.float64) @ q[0, h, t] / np.sqrt(d)
            p = np.exp(logits - logits.max())
            out[0, h, t] = (p / p.sum()) @ v[0, kv, keys]
    return out


def test_block_select_and_block_sparse_attention():
    m = hybrid.compile(SPARSE)
    rng = np.random.default_rng(7)
    s = 300
    q = rng.standard_normal((1, 4, s, 16), dtype=np.float32)
    k = rng.standard_normal((1, 2, s, 16), dtype=np.float32)
    v = rng.standard_normal((1, 2, s, 16), dtype=np.float32)
    blocks, out = m.sparse(q, k, v)
    ref_blocks = block_select_reference(q, k)
    np.testing.assert_array_equal(blocks, ref_blocks)
    assert (ref_blocks[..., 1:] >= 0).any()  # some rows select past the forced block
    np.testing.assert_allclose(out, block_sparse_reference(q, k, v, ref_blocks),
                               rtol=1e-4, atol=1e-5)


ROTARY = """
func.func @rope(%x: tensor<1x2x5x8xf32>, %cos: tensor<16x3xf32>, %sin: tensor<16x3xf32>,
                %pos: tensor<1x5xi64>) -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) {
  %a = hybrid.rotary_embedding %x, %cos, %sin positions(%pos : tensor<1x5xi64>)
      {rotary_embedding_dim = 6 : i64} : tensor<1x2x5x8xf32>, tensor<16x3xf32>, tensor<16x3xf32>
  %b = hybrid.rotary_embedding %x, %cos, %sin positions(%pos : tensor<1x5xi64>)
      {interleaved, rotary_embedding_dim = 6 : i64}
      : tensor<1x2x5x8xf32>, tensor<16x3xf32>, tensor<16x3xf32>
  return %a, %b : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
}
"""


def test_rotary_embedding_halves_and_interleaved():
    m = hybrid.compile(ROTARY)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 5, 8), dtype=np.float32)
    angles = rng.uniform(-3, 3, (16, 3))
    cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    pos = np.array([[3, 0, 15, 7, 7]], np.int64)
    halves, interleaved = m.rope(x, cos, sin, pos)
    # ONNX RotaryEmbedding-23: the first 6 features rotate, the rest pass.
    c, s = cos[pos[0]][None, None], sin[pos[0]][None, None]
    x64 = x.astype(np.float64)
    a, b = x64[..., 0:3], x64[..., 3:6]
    ref = np.concatenate([a * c - b * s, b * c + a * s, x64[..., 6:]], -1)
    np.testing.assert_allclose(halves, ref, rtol=1e-5, atol=1e-6)
    a, b = x64[..., 0:6:2], x64[..., 1:6:2]
    ref = x64.copy()
    ref[..., 0:6:2], ref[..., 1:6:2] = a * c - b * s, b * c + a * s
    np.testing.assert_allclose(interleaved, ref, rtol=1e-5, atol=1e-6)


COMPACT = """
func.func @commit(%path: tensor<5xi32>, %len: tensor<i32>, %cache: tensor<1x2x12x4xf32>,
                  %states: tensor<1x2x5x3x2xf32>) -> (tensor<1x2x12x4xf32>, tensor<1x2x3x2xf32>) {
  %c6 = arith.constant 6 : index
  %c, %s = hybrid.kv_compact %path, %len at %c6 caches(%cache : tensor<1x2x12x4xf32>)
      states(%states : tensor<1x2x5x3x2xf32>) : tensor<5xi32>, tensor<i32>
  return %c, %s : tensor<1x2x12x4xf32>, tensor<1x2x3x2xf32>
}
"""


def test_kv_compact_moves_the_accepted_rows():
    m = hybrid.compile(COMPACT)
    rng = np.random.default_rng(9)
    cache = rng.standard_normal((1, 2, 12, 4), dtype=np.float32)
    states = rng.standard_normal((1, 2, 5, 3, 2), dtype=np.float32)
    path = np.array([0, 2, 4, -1, -1], np.int32)  # a root-down path
    out, state = m.commit(path, np.array(3, np.int32), cache, states)
    # Section 6: rows prefix + path[i] move to prefix + i; the accepted
    # node's state is the committed one; the prefix stays.
    ref = cache.copy()
    for i, node in enumerate(path[:3]):
        ref[:, :, 6 + i] = cache[:, :, 6 + node]
    np.testing.assert_array_equal(out[:, :, :9], ref[:, :, :9])
    np.testing.assert_array_equal(state, states[:, :, 4])


SCANS = """
func.func @cumsum(%x: tensor<3x5xi32>, %axis: tensor<i64>) -> (tensor<3x5xi32>, tensor<3x5xi32>) {
  %a = hybrid.cumsum %x, %axis : tensor<3x5xi32>, tensor<i64>
  %b = hybrid.cumsum %x, %axis {exclusive, reverse} : tensor<3x5xi32>, tensor<i64>
  return %a, %b : tensor<3x5xi32>, tensor<3x5xi32>
}
func.func @topk(%x: tensor<3x6xf64>, %k: tensor<1xi64>) -> (tensor<3x?xf64>, tensor<3x?xi64>) {
  %v, %i = hybrid.topk %x, %k {axis = 1 : i64, largest} : tensor<3x6xf64>, tensor<1xi64>
      -> tensor<3x?xf64>, tensor<3x?xi64>
  return %v, %i : tensor<3x?xf64>, tensor<3x?xi64>
}
"""


def test_cumsum_and_topk_dtypes():
    m = hybrid.compile(SCANS)
    x = np.arange(15, dtype=np.int32).reshape(3, 5) - 7
    for axis in (0, 1, -1):
        a, b = m.cumsum(x, np.array(axis, np.int64))
        np.testing.assert_array_equal(a, np.cumsum(x, axis))
        flipped = np.flip(x, axis)
        exclusive = np.cumsum(flipped, axis) - flipped
        np.testing.assert_array_equal(b, np.flip(exclusive, axis))
    with pytest.raises(hybrid.RuntimeError, match="axis"):
        m.cumsum(x, np.array(2, np.int64))
    y = np.array([[1, 5, 5, 2, 9, 0], [3, 3, 3, 3, 3, 3], [-1, -2, -3, -4, -5, -6]], np.float64)
    values, indices = m.topk(y, np.array([3], np.int64))
    order = np.argsort(-y, axis=1, kind="stable")[:, :3]  # ties: lower index first
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(y, order, 1))


SCORES_AND_COMPRESSION = """
func.func @scores(%q: tensor<1x4x3x16xf32>, %k: tensor<1x2x5x16xf32>)
    -> (tensor<1x4x3x5xf32>, tensor<1x4x3x5xf32>) {
  %l = hybrid.attention_scores %q, %k {causal, stage = #hybrid.score_stage<logits>}
      : tensor<1x4x3x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x4x3x5xf32>
  %p = hybrid.attention_scores %q, %k {causal, stage = #hybrid.score_stage<probabilities>}
      : tensor<1x4x3x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x4x3x5xf32>
  return %l, %p : tensor<1x4x3x5xf32>, tensor<1x4x3x5xf32>
}
func.func @compress(%cache: tensor<1x2x8x16xf32>, %k: tensor<1x2x150x16xf32>) -> tensor<1x2x8x16xf32> {
  %c100 = arith.constant 100 : index
  %c150 = arith.constant 150 : index
  %r = hybrid.compress_keys %cache, %k key_length(%c150) since(%c100)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
      topk = 3, init_blocks = 1, window_size = 128, dense_len = 64>)
      : tensor<1x2x8x16xf32>, tensor<1x2x150x16xf32>
  return %r : tensor<1x2x8x16xf32>
}
"""


def test_attention_scores_and_compress_keys():
    m = hybrid.compile(SCORES_AND_COMPRESSION)
    rng = np.random.default_rng(10)
    q = rng.standard_normal((1, 4, 3, 16), dtype=np.float32)
    k = rng.standard_normal((1, 2, 5, 16), dtype=np.float32)
    logits, probs = m.scores(q, k)
    # Section 1: the 3 queries are the last of 5 keys (positions 2..4).
    ref = np.einsum("bhqd,bhkd->bhqk", q.astype(np.float64),
                    np.repeat(k, 2, axis=1).astype(np.float64)) / 4.0
    np.testing.assert_allclose(logits, ref, rtol=1e-5, atol=1e-5)
    biased = ref + np.where(np.arange(5)[None, :] <= np.arange(2, 5)[:, None], 0, -np.inf)
    p = np.exp(biased - biased.max(-1, keepdims=True))
    np.testing.assert_allclose(probs, p / p.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)

    # Section 2 step 1, incrementally: windows ending in (100, 150] are
    # computed (c = 5, 6, 7: ends 111, 127, 143), every other row is kept.
    cache = rng.standard_normal((1, 2, 8, 16), dtype=np.float32)
    keys = rng.standard_normal((1, 2, 150, 16), dtype=np.float32)
    out = m.compress(cache, keys)
    ref = cache.astype(np.float64).copy()
    for c in (5, 6, 7):
        ref[:, :, c] = keys[:, :, c * 16:c * 16 + 32].astype(np.float64).mean(2)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
