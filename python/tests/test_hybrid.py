"""`import hybrid`: compile, run on numpy arrays, passes, errors.

References are written from shared/reference/semantics.md (attention,
RMSNorm) and numpy; the ONNX model is the importer's own test model.
"""

import os

import numpy as np
import pytest

import hybrid

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODELS = os.path.join(ROOT, "test", "ONNX", "models")

NORM = """
func.func @norm(%x: tensor<?x8xf32>, %w: tensor<8xf32>) -> tensor<?x8xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<?x8xf32>, tensor<8xf32>
  return %y : tensor<?x8xf32>
}
"""

ATTENTION = """
func.func @attn(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>,
                %v: tensor<1x2x?x16xf32>) -> tensor<1x4x?x16xf32> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return %o : tensor<1x4x?x16xf32>
}
"""

APPEND = """
func.func @append(%cache: tensor<?x4xf32> {hybrid.inout}, %row: tensor<1x4xf32>,
                  %at: tensor<i64>) -> tensor<1x4xf32> {
  %i = tensor.extract %at[] : tensor<i64>
  %p = arith.index_cast %i : i64 to index
  %u = tensor.insert_slice %row into %cache[%p, 0] [1, 4] [1, 1]
      : tensor<1x4xf32> into tensor<?x4xf32>
  hybrid.write_back %u into %cache : tensor<?x4xf32>
  %twice = arith.addf %row, %row : tensor<1x4xf32>
  return %twice : tensor<1x4xf32>
}
"""


@pytest.fixture(scope="module")
def norm():
    return hybrid.compile(NORM)


def rms_norm(x, w, eps=1e-5):
    x = x.astype(np.float64)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def causal_gqa_attention(q, k, v):
    """semantics.md section 1: softmax(q k^T / sqrt(d), causal) v, query
    head h reading KV head h // (Hq / Hkv)."""
    hq, hkv = q.shape[1], k.shape[1]
    s, d = q.shape[2], q.shape[3]
    out = np.zeros(q.shape, np.float64)
    for h in range(hq):
        kv = h // (hq // hkv)
        scores = q[0, h].astype(np.float64) @ k[0, kv].T.astype(np.float64)
        scores /= np.sqrt(d)
        scores[np.triu(np.ones((s, s), bool), 1)] = -np.inf
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        out[0, h] = p @ v[0, kv]
    return out


def test_compile_text_and_run(norm):
    assert norm.entries == ["norm"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 8), dtype=np.float32)
    w = rng.standard_normal(8, dtype=np.float32)
    for y in (norm(x, w), norm.norm(x, w), norm["norm"](x, w)):
        assert y.dtype == np.float32 and y.shape == (5, 8)
        np.testing.assert_allclose(y, rms_norm(x, w), rtol=1e-5, atol=1e-5)


def test_signature(norm):
    sig = norm.signature("norm")
    assert [a["shape"] for a in sig["args"]] == [(None, 8), (8,)]
    assert [a["dtype"] for a in sig["args"]] == ["f32", "f32"]
    assert sig["results"][0]["shape"] == (None, 8)
    assert not any(a["inout"] for a in sig["args"])


def test_attention_against_reference():
    m = hybrid.compile(ATTENTION)
    rng = np.random.default_rng(1)
    for s in (1, 7, 33):
        q = rng.standard_normal((1, 4, s, 16), dtype=np.float32)
        k = rng.standard_normal((1, 2, s, 16), dtype=np.float32)
        v = rng.standard_normal((1, 2, s, 16), dtype=np.float32)
        np.testing.assert_allclose(m.attn(q, k, v), causal_gqa_attention(q, k, v),
                                   rtol=1e-4, atol=1e-5)


def test_non_contiguous_inputs_are_copied(norm):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5), dtype=np.float32).T  # a transposed view
    w = rng.standard_normal(8, dtype=np.float32)
    np.testing.assert_allclose(norm(x, w), rms_norm(x, w), rtol=1e-5, atol=1e-5)


def test_in_place_argument_is_updated():
    m = hybrid.compile(APPEND)
    assert m.signature("append")["args"][0]["inout"]
    cache = np.zeros((3, 4), np.float32)
    row = np.array([[1, 2, 3, 4]], np.float32)
    out = m.append(cache, row, np.array(1, np.int64))
    np.testing.assert_array_equal(out, 2 * row)
    np.testing.assert_array_equal(cache[1], row[0])
    np.testing.assert_array_equal(cache[[0, 2]], 0)
    with pytest.raises(ValueError, match="updated in place"):
        m.append(np.zeros((4, 3), np.float32).T, row, np.array(0, np.int64))


def test_onnx_model_with_weights():
    m = hybrid.compile(os.path.join(MODELS, "matmul_weights.onnx"))
    w = np.linspace(-1, 1, 64 * 96).astype(np.float32).reshape(64, 96)
    x = np.random.default_rng(3).standard_normal((2, 5, 64), dtype=np.float32)
    np.testing.assert_allclose(m(x), x.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)


def test_wrong_arguments_name_the_argument(norm):
    x = np.zeros((2, 8), np.float32)
    w = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match=r"argument 0 of 'norm' is f32\[\?, 8\], got a float64"):
        norm(x.astype(np.float64), w)
    with pytest.raises(ValueError, match="argument"):
        norm(np.zeros((2, 7), np.float32), w)
    with pytest.raises(ValueError, match="argument"):
        norm(np.zeros(8, np.float32), w)
    with pytest.raises(ValueError, match="takes 2 arguments, got 1"):
        norm(x)
    with pytest.raises(AttributeError, match="no entry point 'forward'"):
        norm.forward(x, w)


def test_compile_errors_carry_the_diagnostics():
    with pytest.raises(hybrid.CompileError, match=r"<string>:1:\d+: error: "):
        hybrid.compile("func.func @f( {")
    with pytest.raises(hybrid.CompileError, match="cannot open input file"):
        hybrid.compile("/nonexistent/model.mlir")
    bad = NORM.replace("tensor<8xf32>) -> tensor<?x8xf32> {",
                       "tensor<9xf32>) -> tensor<?x8xf32> {").replace(
                           "%x, %w : tensor<?x8xf32>, tensor<8xf32>",
                           "%x, %w : tensor<?x8xf32>, tensor<9xf32>")
    with pytest.raises(hybrid.CompileError, match="error: "):
        hybrid.compile(bad)
    with pytest.raises(ValueError, match="sparse must be"):
        hybrid.compile(NORM, sparse="sometimes")


def test_opt_runs_hybrid_passes():
    causal = ATTENTION.replace("?", "4096")
    out = hybrid.opt(causal, "hybrid-sparsify-attention{topk=4 window-size=256 dense-len=1024}")
    assert "hybrid.block_select" in out and "hybrid.block_sparse_attention" in out
    assert "hybrid.attention " not in out
    with pytest.raises(ValueError, match="pass pipeline"):
        hybrid.opt(causal, "no-such-pass")


def test_cost_report():
    report = hybrid.cost_report(ATTENTION.replace("?", "4096"), context_length=4096)
    assert [line["op"] for line in report] == ["hybrid.attention", "module"]
    assert report[0]["flops"] > 0
    assert report[-1]["context_length"] == 4096


def test_bf16_helpers_round_to_nearest_even():
    x = np.array([1.0, -2.5, 3.14159, 1e-3, 65504.0], np.float32)
    words = hybrid.f32_to_bf16(x)
    assert words.dtype == np.uint16
    back = hybrid.bf16_to_f32(words)
    np.testing.assert_allclose(back, x, rtol=2 ** -8)
    # 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: even is 1.
    assert hybrid.bf16_to_f32(hybrid.f32_to_bf16(np.float32(1 + 2 ** -8)))[()] == 1.0


DTYPES = """
func.func @dtypes(%h: tensor<4xf16>, %b: tensor<4xbf16>, %m: tensor<4xi1>, %x: tensor<4xf32>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xbf16>, tensor<4xf16>) {
  %hf = arith.extf %h : tensor<4xf16> to tensor<4xf32>
  %bf = arith.extf %b : tensor<4xbf16> to tensor<4xf32>
  %zero = arith.constant dense<0.0> : tensor<4xf32>
  %sel = arith.select %m, %x, %zero : tensor<4xi1>, tensor<4xf32>
  %xb = arith.truncf %x : tensor<4xf32> to tensor<4xbf16>
  %xh = arith.truncf %x : tensor<4xf32> to tensor<4xf16>
  return %hf, %bf, %sel, %xb, %xh : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xbf16>, tensor<4xf16>
}
"""


def test_f16_bf16_and_bool_arrays():
    m = hybrid.compile(DTYPES)
    sig = m.signature("dtypes")
    assert [a["dtype"] for a in sig["args"]] == ["f16", "bf16", "bool", "f32"]
    h = np.array([1.5, -2.0, 65504.0, 1e-3], np.float16)
    x = np.array([1.0, -2.5, 3.14159, 1e-3], np.float32)
    mask = np.array([True, False, True, False])
    hf, bf, sel, xb, xh = m.dtypes(h, hybrid.f32_to_bf16(x), mask, x)
    np.testing.assert_array_equal(hf, h.astype(np.float32))
    np.testing.assert_array_equal(bf, hybrid.bf16_to_f32(hybrid.f32_to_bf16(x)))
    np.testing.assert_array_equal(sel, np.where(mask, x, 0))
    assert xb.dtype == np.uint16 and xh.dtype == np.float16
    np.testing.assert_array_equal(xb, hybrid.f32_to_bf16(x))
    np.testing.assert_array_equal(xh, x.astype(np.float16))
    with pytest.raises(ValueError, match=r"argument 1 of 'dtypes' is bf16\[4\], got a float32"):
        m.dtypes(h, x, mask, x)


def test_checkpoint_folder_forward_matches_torch_reference():
    folder = os.path.join(ROOT, "test", "HF", "minicpm-sala-tiny")
    m = hybrid.compile(folder, entries=["forward"])
    assert m.entries == ["forward"]
    ids = np.load(os.path.join(folder, "input_ids.npy"))
    expected = np.load(os.path.join(folder, "logits.npy"))
    logits = m.forward(ids)
    np.testing.assert_allclose(logits, expected, atol=1e-4 * np.abs(expected).max())
    m.set_num_threads(1)
    np.testing.assert_allclose(m.forward(ids), logits, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="thread count"):
        m.set_num_threads(100000)


def test_gpu_target_without_a_driver_is_a_clear_error(monkeypatch):
    # target="nvptx" compiles the kernels to PTX (no CUDA toolkit needed);
    # loading the module needs the driver, and its absence is an error
    # that says so, never a crash.
    monkeypatch.setenv("HYBRID_CUDA_DRIVER", "/nonexistent/libcuda.so.1")
    src = """func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
      %y = arith.addf %x, %x : tensor<4xf32>
      return %y : tensor<4xf32>
    }"""
    with pytest.raises(RuntimeError, match="no CUDA driver"):
        hybrid.compile(src, target="nvptx")
    with pytest.raises(ValueError, match="target must be 'cpu' or 'nvptx'"):
        hybrid.compile(src, target="tpu")
