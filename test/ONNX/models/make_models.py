#!/usr/bin/python3
"""Writes the small hand-made ONNX models of test/Tools/hybrid-import: a
graph with symbolic dims, and malformed graphs for errors.test.

Run with Debian's python3-onnx (1.12); the .onnx files it writes are
checked in, so the tests need neither Python nor onnx.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


def save(name, nodes, inputs, outputs, opset=13, domain="", initializers=(), also=()):
    """also: more (domain, opset) imports."""
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    opsets = [helper.make_opsetid(domain, opset)] + [helper.make_opsetid(d, v) for d, v in also]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, os.path.join(HERE, name + ".onnx"))


x = helper.make_tensor_value_info("x", F, [2, 3])
y = helper.make_tensor_value_info("y", F, [2, 3])

# A node reads a value nothing defines.
save("undefined_value", [helper.make_node("Softmax", ["ghost"], ["y"], name="sm")], [x], [y])
# The same op at an opset outside the importer's range (Softmax-11 flattens
# to 2-D: a different op).
save("old_opset", [helper.make_node("Softmax", ["x"], ["y"], name="sm")], [x], [y], opset=11)
# A domain the model does not import.
save("foreign_domain",
     [helper.make_node("Softmax", ["x"], ["y"], name="sm", domain="com.example")], [x], [y])
# A graph output that no node produces.
save("missing_output", [helper.make_node("Softmax", ["x"], ["t"], name="sm")], [x], [y])
# Two nodes define the same value.
save("defined_twice",
     [helper.make_node("Softmax", ["x"], ["y"], name="a"),
      helper.make_node("Softmax", ["x"], ["y"], name="b")], [x], [y])
# A small initializer (a norm's scale) becomes an IR constant.
save("with_initializer",
     [helper.make_node("RMSNormalization", ["x", "w"], ["y"], name="norm")], [x], [y],
     opset=23, initializers=[numpy_helper.from_array(np.array([1, 2, 3], np.float32), "w")])
# Weights (more than 4 KB) are parameters, mapped from the model's files at
# load time. The scale is linspace(0.5, 1.5, 2048), which the tests rebuild.
big_x = helper.make_tensor_value_info("x", F, [2, 2048])
big_y = helper.make_tensor_value_info("y", F, [2, 2048])
scale = np.linspace(0.5, 1.5, 2048).astype(np.float32)
norm = [helper.make_node("RMSNormalization", ["x", "w"], ["y"], name="norm")]


def save_norm(name, weight):
    save(name, norm, [big_x], [big_y], opset=23, initializers=[weight])
    return os.path.join(HERE, name + ".onnx")


# Inline raw_data, mapped in place from the .onnx itself.
save_norm("with_weights", numpy_helper.from_array(scale, "w"))
# Packed float_data (the other little-endian layout), mapped the same way.
save_norm("float_data_weights",
          helper.make_tensor("w", F, [2048], scale.tolist(), raw=False))
# A payload at an offset that is not a multiple of 4: copied once, aligned.
for pad in range(8):
    path = save_norm("misaligned_weights",
                     numpy_helper.from_array(scale, "w" + "_" * pad))
    model = open(path, "rb").read()
    if model.find(scale.tobytes()) % 4 != 0:
        break
    os.remove(path)
else:
    raise SystemExit("no misaligned layout found")
# Let the node read the padded name.
m = onnx.load(path)
m.graph.node[0].input[1] = m.graph.initializer[0].name
onnx.save(m, path)
assert open(path, "rb").read().find(scale.tobytes()) % 4 != 0


def external(name, location, offset=0, length=None):
    """The scale as external data at `offset` of `location`."""
    w = numpy_helper.from_array(scale, "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": str(offset)}
    if length is not None:
        entries["length"] = str(length)
    for k, v in entries.items():
        e = w.external_data.add()
        e.key, e.value = k, v
    save_norm(name, w)


# The scale after 100 bytes of something else, in a file beside the model.
with open(os.path.join(HERE, "external_weights.bin"), "wb") as f:
    f.write(b"\x7f" * 100 + scale.tobytes())
external("external_weights", "external_weights.bin", offset=100)
# Bad external data: each one clear error.
external("external_missing", "no_such_file.bin")
external("external_short", "external_weights.bin", offset=4000)
external("external_escape", "../models/external_weights.bin", offset=100)
external("external_absolute", "/etc/hostname")
external("external_wrong_length", "external_weights.bin", offset=100, length=4096)
# A link that leads out of the folder (the test makes the link).
external("external_link", "link.bin", offset=100)
# A large initializer in varint int64_data cannot be mapped.
save("varint_weights", [helper.make_node("CumSum", ["x", "w"], ["y"], name="c")],
     [helper.make_tensor_value_info("x", TensorProto.INT64, [600])],
     [helper.make_tensor_value_info("y", TensorProto.INT64, [600])], opset=14,
     initializers=[helper.make_tensor("w", TensorProto.INT64, [600], list(range(600)))])
# A graph input without a shape.
save("no_shape", [helper.make_node("Softmax", ["x"], ["y"], name="sm")],
     [helper.make_tensor_value_info("x", F, None)], [y])

# Symbolic batch and sequence dims (dim_param), as exporters write them.
save("symbolic_dims", [helper.make_node("Softmax", ["x"], ["y"], name="sm")],
     [helper.make_tensor_value_info("x", F, ["batch", "seq", 16])],
     [helper.make_tensor_value_info("y", F, ["batch", "seq", 16])])
# A real ONNX op the importer does not know.
save("unknown_op", [helper.make_node("Hardmax", ["x"], ["y"], name="hm")], [x], [y])

# MatMul: activations with symbolic batch and sequence times a weight (a
# parameter: 24 KB), and a batched product of two inputs.
save("matmul_weights", [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")],
     [helper.make_tensor_value_info("x", F, ["batch", "seq", 64])],
     [helper.make_tensor_value_info("y", F, ["batch", "seq", 96])],
     initializers=[numpy_helper.from_array(
         np.linspace(-1, 1, 64 * 96).astype(np.float32).reshape(64, 96), "w")])
save("batch_matmul", [helper.make_node("MatMul", ["a", "b"], ["y"], name="bmm")],
     [helper.make_tensor_value_info("a", F, [2, 3, 4, 5]),
      helper.make_tensor_value_info("b", F, [2, 3, 5, 6])],
     [helper.make_tensor_value_info("y", F, [2, 3, 4, 6])])
# Batch dims that broadcast.
save("broadcast_matmul", [helper.make_node("MatMul", ["a", "b"], ["y"], name="bmm")],
     [helper.make_tensor_value_info("a", F, [2, 3, 4, 5]),
      helper.make_tensor_value_info("b", F, [1, 3, 5, 6])],
     [helper.make_tensor_value_info("y", F, [2, 3, 4, 6])])

# com.microsoft GroupQueryAttention with symbolic batch, sequence and past
# (one compiled module for every length: HybridImportTests runs it on the
# node-contrib cases of its shape), and with inputs not supported yet.
def gqa(name, extra_inputs=()):
    names = ["q", "k", "v", "past_k", "past_v", "seqlens_k", "total"] + [n for n, _ in extra_inputs]
    ins = [helper.make_tensor_value_info("q", F, ["batch", "seq", 32]),
           helper.make_tensor_value_info("k", F, ["batch", "seq", 16]),
           helper.make_tensor_value_info("v", F, ["batch", "seq", 16]),
           helper.make_tensor_value_info("past_k", F, ["batch", 2, "past", 8]),
           helper.make_tensor_value_info("past_v", F, ["batch", 2, "past", 8]),
           helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, ["batch"]),
           helper.make_tensor_value_info("total", TensorProto.INT32, [])]
    ins += [helper.make_tensor_value_info(n, F, shape) for n, shape in extra_inputs]
    node = helper.make_node("GroupQueryAttention", names, ["y", "present_k", "present_v"],
                            name="gqa", domain="com.microsoft", num_heads=4, kv_num_heads=2)
    save(name, [node], ins,
         [helper.make_tensor_value_info("y", F, ["batch", "seq", 32]),
          helper.make_tensor_value_info("present_k", F, ["batch", 2, "total", 8]),
          helper.make_tensor_value_info("present_v", F, ["batch", 2, "total", 8])],
         opset=17, also=[("com.microsoft", 1)])


gqa("gqa_dynamic")
gqa("gqa_attention_bias", [("cos", [32, 8]), ("sin", [32, 8]), ("pos", ["batch", "seq"]),
                           ("bias", ["batch", 1, "seq", "total"])])

# Gather with run-time indices: an index outside [-n, n) fails the call.
save("gather_indices", [helper.make_node("Gather", ["data", "idx"], ["y"], name="g", axis=0)],
     [helper.make_tensor_value_info("data", F, [4, 3]),
      helper.make_tensor_value_info("idx", TensorProto.INT64, [2])],
     [helper.make_tensor_value_info("y", F, [2, 3])])

# Operands of the wrong rank, each of which crashed the importer before it
# checked them (found by hybrid-fuzz-onnx): a 3-D value under 4-D Attention,
# a 1-D key under 3-D Attention, GroupQueryAttention's seqlens_k as a
# scalar, and Concat of parts of different ranks.
save("attention_3d_value", [helper.make_node("Attention", ["q", "k", "v"], ["y"], name="attn")],
     [helper.make_tensor_value_info("q", F, [2, 3, 4, 8]),
      helper.make_tensor_value_info("k", F, [2, 3, 6, 8]),
      helper.make_tensor_value_info("v", F, [2, 6, 8])],
     [helper.make_tensor_value_info("y", F, [2, 3, 4, 8])], opset=23)
save("attention_1d_key", [helper.make_node("Attention", ["q", "k", "v"], ["y"], name="attn",
                                           q_num_heads=2, kv_num_heads=2)],
     [helper.make_tensor_value_info("q", F, [2, 4, 16]),
      helper.make_tensor_value_info("k", F, [16]),
      helper.make_tensor_value_info("v", F, [2, 4, 16])],
     [helper.make_tensor_value_info("y", F, [2, 4, 16])], opset=23)
gqa_scalar = helper.make_node("GroupQueryAttention", ["q", "k", "v", "", "", "seqlens_k", "total"],
                              ["y"], name="gqa", domain="com.microsoft", num_heads=4,
                              kv_num_heads=2)
save("gqa_scalar_seqlens", [gqa_scalar],
     [helper.make_tensor_value_info("q", F, [1, 3, 32]),
      helper.make_tensor_value_info("k", F, [1, 3, 16]),
      helper.make_tensor_value_info("v", F, [1, 3, 16]),
      helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, []),
      helper.make_tensor_value_info("total", TensorProto.INT32, [])],
     [helper.make_tensor_value_info("y", F, [1, 3, 32])], opset=17, also=[("com.microsoft", 1)])
save("concat_ranks", [helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=0)],
     [helper.make_tensor_value_info("a", F, [2, 3]),
      helper.make_tensor_value_info("b", F, [4])],
     [helper.make_tensor_value_info("y", F, [6, 3])])
# A scalar's transpose is the scalar (a 0-D transpose made the verifier
# allocate 9.8 GB; hybrid-fuzz-onnx).
save("transpose_scalar", [helper.make_node("Transpose", ["x"], ["y"], name="t")],
     [helper.make_tensor_value_info("x", F, [])], [helper.make_tensor_value_info("y", F, [])])
