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


def save(name, nodes, inputs, outputs, opset=13, domain="", initializers=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, opset)])
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
# Weights (more than 4 KB) are run-time parameters: not supported yet, named.
big_x = helper.make_tensor_value_info("x", F, [2, 2048])
big_y = helper.make_tensor_value_info("y", F, [2, 2048])
save("with_weights",
     [helper.make_node("RMSNormalization", ["x", "w"], ["y"], name="norm")], [big_x], [big_y],
     opset=23, initializers=[numpy_helper.from_array(np.ones(2048, np.float32), "w")])
# A graph input without a shape.
save("no_shape", [helper.make_node("Softmax", ["x"], ["y"], name="sm")],
     [helper.make_tensor_value_info("x", F, None)], [y])

# Symbolic batch and sequence dims (dim_param), as exporters write them.
save("symbolic_dims", [helper.make_node("Softmax", ["x"], ["y"], name="sm")],
     [helper.make_tensor_value_info("x", F, ["batch", "seq", 16])],
     [helper.make_tensor_value_info("y", F, ["batch", "seq", 16])])
# A real ONNX op the importer does not know.
save("unknown_op", [helper.make_node("Hardmax", ["x"], ["y"], name="hm")], [x], [y])
