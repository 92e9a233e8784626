#!/usr/bin/python3
"""Compile cost against weight size: one ONNX graph, two weight sizes.

The graph is L layers of MatMul by a [D, D] weight and RMSNormalization by a
[D] scale, over x[batch, seq, D] with symbolic batch and seq. D = 512 gives
4 MB of weights and D = 8192 gives 1 GB; each size is written with the
weights inline (raw_data in the .onnx) and as external data (one .bin file).
For each model the script measures, as separate processes:

  import   hybrid-import model.onnx -o /dev/null
  compile  hybrid-run model.onnx --compile-only --emit-so m.so --verbose
  run      hybrid-run m.so --input x.npy (batch 1, seq 16): load, map the
           weights, one invocation

and prints wall time and peak resident memory (getrusage of the child). If
weights stayed out of the compiler, import and compile cost the same at
4 MB and at 1 GB; only mapping the weights touches them.

Needs Debian's python3-onnx and python3-numpy; scripts/bench.sh runs it with
HYBRID_BENCH_IMPORT=1.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

from child_process import measure

LAYERS = 4


def make_model(folder, dim, external):
    """Writes model.onnx (and weights.bin when external) into `folder`.
    """
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    weights_file = open(os.path.join(folder, "weights.bin"), "wb") if external else None
    offset = 0

    def initializer(name, array):
        nonlocal offset
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=array.shape)
        if external:
            weights_file.write(array.tobytes())
            t.data_location = TensorProto.EXTERNAL
            for k, v in (("location", "weights.bin"), ("offset", str(offset)),
                         ("length", str(array.nbytes))):
                e = t.external_data.add()
                e.key, e.value = k, v
            offset += array.nbytes
        else:
            t.raw_data = array.tobytes()
        inits.append(t)

    h = "x"
    for i in range(LAYERS):
        w = (rng.standard_normal((dim, dim), dtype=np.float32) / np.sqrt(dim)).astype(np.float32)
        initializer(f"w{i}", w)
        initializer(f"s{i}", np.ones(dim, np.float32))
        nodes.append(helper.make_node("MatMul", [h, f"w{i}"], [f"p{i}"], name=f"proj{i}"))
        nodes.append(helper.make_node("RMSNormalization", [f"p{i}", f"s{i}"], [f"h{i}"],
                                      name=f"norm{i}"))
        h = f"h{i}"
        del w
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(
        nodes, "layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", dim])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    if weights_file:
        weights_file.close()
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--write":
        make_model(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the CMake build folder")
    ap.add_argument("--dims", default="512,8192", help="model widths D")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    bins = os.path.join(args.build, "bin")
    work = tempfile.mkdtemp(prefix="hybrid-weights-", dir=args.build)
    rows = []
    try:
        x = os.path.join(work, "x.npy")
        for dim in map(int, args.dims.split(",")):
            np.save(x, np.random.default_rng(1).standard_normal((1, 16, dim), dtype=np.float32))
            for external in (False, True):
                folder = os.path.join(work, f"d{dim}-{'ext' if external else 'inline'}")
                os.makedirs(folder)
                print(f"==> D={dim}, {'external' if external else 'inline'} weights: writing",
                      flush=True)
                # Written by a child: forked processes inherit the RSS of
                # their parent, which must stay small to measure them.
                subprocess.run([sys.executable, __file__, "--write", folder, str(dim),
                                "1" if external else "0"], check=True)
                model = os.path.join(folder, "model.onnx")
                size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
                so = os.path.join(folder, "m.so")
                imp = measure([os.path.join(bins, "hybrid-import"), model, "-o", os.devnull])
                comp = measure([os.path.join(bins, "hybrid-run"), model, "--compile-only",
                                "--emit-so", so, "--verbose"])
                run = measure([os.path.join(bins, "hybrid-run"), so, "--parameters", folder,
                               "--input", x, "--num-threads", str(args.threads), "--verbose"])
                bind = [l for l in run[2].splitlines() if "bind parameters" in l]
                rows.append((dim, "external" if external else "inline", size, imp, comp,
                             os.path.getsize(so), run, bind[0].split()[-2] if bind else "?"))
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{LAYERS} layers of MatMul [D, D] + RMSNorm; x[batch, seq, D] symbolic; "
          f"run at batch 1, seq 16, {args.threads} threads")
    print("| D | weights | files | import s / MB | compile s / MB | .so | "
          "load+bind+run s / MB | bind ms |")
    print("|---|---|---|---|---|---|---|---|")
    for dim, kind, size, imp, comp, so, run, bind in rows:
        print(f"| {dim} | {kind} | {size / 2**20:.1f} MB | {imp[0]:.2f} / {imp[1]:.0f} | "
              f"{comp[0]:.2f} / {comp[1]:.0f} | {so / 1024:.0f} KB | "
              f"{run[0]:.2f} / {run[1]:.0f} | {bind} |")


if __name__ == "__main__":
    main()
