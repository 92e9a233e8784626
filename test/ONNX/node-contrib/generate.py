#!/usr/bin/python3
"""Writes single-node cases of the ONNX Runtime contrib ops that ORT's
exporters emit for LLMs, with outputs computed by ONNX Runtime 1.30 itself
(onnxruntime-node: its CPU kernels define these ops), in the layout of
ONNX's node tests (<case>/model.onnx, <case>/test_data_set_0/*.pb,
MANIFEST.tsv).

Needs Debian's python3-onnx and python3-numpy, node, and onnxruntime-node
installed by scripts/bench.sh (build/bench-peers). The output is checked
in; tests need none of this.

  generate.py [--build BUILD]
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
from compare import OrtPeer  # noqa: E402

TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64,
         np.dtype(np.int32): TensorProto.INT32}
rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def rope_cache(positions, dim):
    inv = 1.0 / (10000 ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    angles = np.arange(positions)[:, None] * inv[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


CASES = []


def case(name, op, inputs, outputs, domain="com.microsoft", **attrs):
    """inputs: [(name, array | None)], outputs: [name | ""]."""
    CASES.append((name, op, inputs, outputs, domain, attrs))


# SimplifiedLayerNormalization (default domain) and SkipSimplifiedLayerNormalization.
case("test_simplified_layer_norm", "SimplifiedLayerNormalization",
     [("X", randn(2, 3, 16)), ("scale", randn(16))], ["Y"], domain="", epsilon=1e-6)
case("test_simplified_layer_norm_axis1", "SimplifiedLayerNormalization",
     [("X", randn(2, 3, 4)), ("scale", randn(3, 4))], ["Y"], domain="", axis=1)
case("test_skip_simplified_layer_norm", "SkipSimplifiedLayerNormalization",
     [("input", randn(2, 5, 16)), ("skip", randn(2, 5, 16)), ("gamma", randn(16))],
     ["output", "", "", "input_skip_bias_sum"], epsilon=1e-5)
case("test_skip_simplified_layer_norm_bias", "SkipSimplifiedLayerNormalization",
     [("input", randn(2, 5, 16)), ("skip", randn(2, 5, 16)), ("gamma", randn(16)),
      ("bias", randn(16))], ["output"], epsilon=1e-6)

# RotaryEmbedding (com.microsoft): positions per token into [max_pos, D/2]
# caches; 3-D with num_heads, 4-D [B, N, S, H], interleaved, partial.
cos, sin = rope_cache(16, 8)
pos = rng.integers(0, 16, (2, 4)).astype(np.int64)
case("test_contrib_rotary_3d", "RotaryEmbedding",
     [("input", randn(2, 4, 16)), ("position_ids", pos), ("cos_cache", cos), ("sin_cache", sin)],
     ["output"], num_heads=2)
case("test_contrib_rotary_3d_interleaved", "RotaryEmbedding",
     [("input", randn(2, 4, 16)), ("position_ids", pos), ("cos_cache", cos), ("sin_cache", sin)],
     ["output"], num_heads=2, interleaved=1)
case("test_contrib_rotary_4d", "RotaryEmbedding",
     [("input", randn(2, 3, 4, 8)), ("position_ids", pos), ("cos_cache", cos), ("sin_cache", sin)],
     ["output"])
cos4, sin4 = rope_cache(16, 4)
case("test_contrib_rotary_partial", "RotaryEmbedding",
     [("input", randn(2, 4, 16)), ("position_ids", pos), ("cos_cache", cos4), ("sin_cache", sin4)],
     ["output"], num_heads=2, rotary_embedding_dim=4)

# GroupQueryAttention: prompts (no past), steps over a past, a padded batch
# (entries of different lengths in a right-padded past buffer), a sliding
# window, rotary inside the op, a packed QKV input.
def gqa(name, batch, seq, past, heads=4, kv_heads=2, dim=8, seqlens=None,
        rotary=False, packed=False, **attrs):
    """seqlens: tokens per batch entry after this step (default past + seq);
    the past buffer holds `past` positions, right-padded."""
    seqlens = seqlens or [past + seq] * batch
    total = past + seq if not past or seq > 1 else max(seqlens)
    if packed:
        inputs = [("query", randn(batch, seq, (heads + 2 * kv_heads) * dim)),
                  ("key", None), ("value", None)]
    else:
        inputs = [("query", randn(batch, seq, heads * dim)),
                  ("key", randn(batch, seq, kv_heads * dim)),
                  ("value", randn(batch, seq, kv_heads * dim))]
    if past:
        inputs += [("past_key", randn(batch, kv_heads, past, dim)),
                   ("past_value", randn(batch, kv_heads, past, dim))]
    else:
        inputs += [("past_key", None), ("past_value", None)]
    inputs += [("seqlens_k", np.array(seqlens, np.int32) - 1),
               ("total_sequence_length", np.array(total, np.int32))]
    if rotary:
        cos, sin = rope_cache(32, dim)
        inputs += [("cos_cache", cos), ("sin_cache", sin)]
        attrs["do_rotary"] = 1
    case(name, "GroupQueryAttention", inputs, ["output", "present_key", "present_value"],
         num_heads=heads, kv_num_heads=kv_heads, **attrs)


gqa("test_gqa_prompt", 1, 5, 0)
gqa("test_gqa_prompt_batch2", 2, 6, 0)
gqa("test_gqa_past", 2, 1, 7)
gqa("test_gqa_past_chunk", 1, 3, 4)
gqa("test_gqa_scale_softcap", 1, 4, 2, scale=0.3, softcap=2.0)
gqa("test_gqa_padded_batch", 3, 1, 6, seqlens=[7, 4, 1])
gqa("test_gqa_local_window", 1, 6, 0, local_window_size=2)
gqa("test_gqa_local_window_past", 2, 1, 9, local_window_size=3)
gqa("test_gqa_rotary_prompt", 1, 5, 0, dim=16, rotary=True)
gqa("test_gqa_rotary_past_interleaved", 2, 1, 5, dim=16, rotary=True, rotary_interleaved=1)
gqa("test_gqa_packed", 1, 4, 3, packed=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    ort = OrtPeer(os.path.join(args.build, "bench-peers", "node_modules"), 1)
    tmp = tempfile.mkdtemp()
    for entry in os.listdir(HERE):
        if entry.startswith("test_"):
            shutil.rmtree(os.path.join(HERE, entry))
    rows = []
    for name, op, inputs, outputs, domain, attrs in CASES:
        node = helper.make_node(op, [n if a is not None else "" for n, a in inputs],
                                outputs, name=name, domain=domain, **attrs)
        present = [(n, a) for n, a in inputs if a is not None]
        graph_in = [helper.make_tensor_value_info(n, TYPES[a.dtype], a.shape) for n, a in present]
        opsets = [helper.make_opsetid("", 17)]
        if domain:
            opsets.append(helper.make_opsetid(domain, 1))

        def model(out_infos):
            m = helper.make_model(helper.make_graph([node], name, graph_in, out_infos),
                                  opset_imports=opsets)
            m.ir_version = 8
            return m

        # ORT first, with output types only; then the shapes it produced.
        names = [o for o in outputs if o]
        path = os.path.join(tmp, name + ".onnx")
        onnx.save(model([helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                         for o in names]), path)
        feeds = {}
        for n, a in present:
            feeds[n] = os.path.join(tmp, n + ".npy")
            np.save(feeds[n], a)
        ort.load(path)
        out_paths = [os.path.join(tmp, "out_%d.npy" % i) for i in range(len(names))]
        ort.request(op="run", inputs=feeds, output=None, outputs=out_paths)
        results = [np.load(p) for p in out_paths]
        folder = os.path.join(HERE, name)
        data = os.path.join(folder, "test_data_set_0")
        os.makedirs(data)
        onnx.save(model([helper.make_tensor_value_info(o, TensorProto.FLOAT, r.shape)
                         for o, r in zip(names, results)]), os.path.join(folder, "model.onnx"))
        for i, (n, a) in enumerate(present):
            with open(os.path.join(data, "input_%d.pb" % i), "wb") as f:
                f.write(numpy_helper.from_array(a, n).SerializeToString())
        for i, (n, r) in enumerate(zip(names, results)):
            with open(os.path.join(data, "output_%d.pb" % i), "wb") as f:
                f.write(numpy_helper.from_array(r, n).SerializeToString())
        shapes = ", ".join("%s:%s%s" % (n, a.dtype, list(a.shape)) for n, a in present)
        shapes += " -> " + ", ".join("%s:%s" % (n, list(r.shape)) for n, r in zip(names, results))
        rows.append("\t".join([name, op, "1", str(len(present)), str(len(names)), shapes]))
    shutil.rmtree(tmp)
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("test_name\top\topset\tn_inputs\tn_outputs\tshapes\n")
        f.write("\n".join(rows) + "\n")
    print(len(rows), "cases")


if __name__ == "__main__":
    main()
