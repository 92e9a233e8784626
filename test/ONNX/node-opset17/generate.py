#!/usr/bin/python3
"""Writes ONNX's own node test cases for the ops torch.onnx.export emits
for decoder LMs (opsets 13 to 17), in the layout of ONNX's backend node
tests: <case>/model.onnx and <case>/test_data_set_0/{input,output}_N.pb,
listed in MANIFEST.tsv.

The cases come from the case generators that Debian's python3-onnx (ONNX
1.12) ships in onnx/backend/test/case/node/, run unchanged: each builds its
node and computes the expected outputs with numpy. The package ships the
generators but not their data, so this script runs them. Run with
/usr/bin/python3; the output is checked in, so tests need neither Python
nor onnx.
"""
import os
import shutil

import numpy as np

# Some ONNX 1.12 generators still spell numpy's removed aliases.
for alias, builtin in (("float", float), ("int", int), ("bool", bool),
                       ("object", object), ("str", str)):
    if not hasattr(np, alias):
        setattr(np, alias, builtin)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from onnx.backend.test.case import node as node_cases  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = """Add Sub Mul Div Pow Sqrt Reciprocal Neg Exp Log Sigmoid Relu Tanh Erf
Cos Sin Abs Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Not Where
Max Min Clip Cast Identity Shape Constant ConstantOfShape Reshape Transpose
Unsqueeze Squeeze Concat Slice Split Expand Gather Range Trilu ReduceSum
ReduceMean ReduceMax ReduceMin MatMul Gemm LogSoftmax LayerNormalization""".split()


def describe(values, infos):
    parts = []
    for v, info in zip(values, infos):
        a = np.asarray(v)
        parts.append(f"{info.name}:{a.dtype}{list(a.shape)}")
    return ", ".join(parts)


def main():
    np.random.seed(0)
    cases = [c for c in node_cases.collect_testcases(None)
             if c.model.graph.node[0].op_type in OPS and len(c.model.graph.node) == 1
             and not c.name.endswith("_expanded")]
    for entry in os.listdir(HERE):
        if entry.startswith("test_"):
            shutil.rmtree(os.path.join(HERE, entry))
    rows = []
    seen = set()
    for case in sorted(cases, key=lambda c: c.name):
        # A few generators emit one name twice: the first case stands.
        if case.name in seen:
            continue
        seen.add(case.name)
        graph = case.model.graph
        node = graph.node[0]
        inputs, outputs = case.data_sets[0]
        folder = os.path.join(HERE, case.name)
        data = os.path.join(folder, "test_data_set_0")
        os.makedirs(data)
        onnx.save(case.model, os.path.join(folder, "model.onnx"))
        for kind, values, infos in (("input", inputs, graph.input),
                                    ("output", outputs, graph.output)):
            for i, (v, info) in enumerate(zip(values, infos)):
                t = numpy_helper.from_array(np.asarray(v), info.name)
                with open(os.path.join(data, f"{kind}_{i}.pb"), "wb") as f:
                    f.write(t.SerializeToString())
        opset = max(o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx"))
        rows.append("\t".join([case.name, node.op_type, str(opset), str(len(inputs)),
                               str(len(outputs)),
                               describe(inputs, graph.input) + " -> " +
                               describe(outputs, graph.output)]))
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
        f.write("test_name\top\topset\tn_inputs\tn_outputs\tshapes\n")
        f.write("\n".join(rows) + "\n")
    print(f"{len(rows)} cases")


if __name__ == "__main__":
    main()
