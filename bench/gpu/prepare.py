#!/usr/bin/env python3
"""Builds the bundle that checks the GPU backend on a machine with a GPU.

Run here (where Hybrid is built): for each case in CASES, writes seeded
random inputs, compiles bench/gpu/cases.mlir's entry for the CPU and for
--target nvptx, and records the CPU module's results as the expected ones
(the CPU path is itself tested against the references); the large speed
cases are generated and checked against PyTorch on the GPU machine
(cases.py). The bundle
(default build/gpu-check) holds the GPU modules, the inputs and expected
outputs, hybrid-exec and the runtime libraries: everything check.py needs
on a GPU machine that has no compiler. It stays well under 64 MiB.

  bench/gpu/prepare.py [--build build] [--out build/gpu-check]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np

from cases import CASES, MODELS, RESULTS, inputs

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    out = os.path.abspath(args.out or os.path.join(build, "gpu-check"))
    hybrid_run = os.path.join(build, "bin", "hybrid-run")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "bin"))
    os.makedirs(os.path.join(out, "lib"))
    shutil.copy(os.path.join(build, "bin", "hybrid-exec"), os.path.join(out, "bin"))
    for lib in ["libhybrid_runtime.so", "libhybrid_runtime_cuda.so"]:
        shutil.copy(os.path.join(build, "lib", lib), os.path.join(out, "lib"))
    for script in ["check.py", "cases.py"]:
        shutil.copy(os.path.join(HERE, script), out)
    cases_mlir = os.path.join(HERE, "cases.mlir")
    compiled = {}
    manifest = []
    for case, entry, rtol, reference in CASES:
        print(f"prepare: {case}", flush=True)
        if entry not in compiled:
            for target in ["cpu", "nvptx"]:
                so = os.path.join(out, "modules", f"{entry}.{target}.so")
                os.makedirs(os.path.dirname(so), exist_ok=True)
                run([hybrid_run, cases_mlir, "--entry", entry, "--target",
                     target, "--compile-only", "--emit-so", so])
            compiled[entry] = True
        entry_manifest = {"case": case, "entry": entry, "rtol": rtol,
                          "reference": reference,
                          "module": f"modules/{entry}.nvptx.so"}
        manifest.append(entry_manifest)
        if reference != "cpu":
            continue
        d = os.path.join(out, "cases", case)
        os.makedirs(d)
        names = []
        for i, x in enumerate(inputs(case, np.random.default_rng(0))):
            names.append(f"in{i}.npy")
            np.save(os.path.join(d, names[-1]), x)
        # The CPU module's results are the expected ones.
        cpu = os.path.join(out, "modules", f"{entry}.cpu.so")
        # ('<u2' inputs are raw bf16 words: numpy has no bf16.)
        cmd = [hybrid_run, cpu, "--entry", entry, "--bf16"]
        for i in range(RESULTS.get(entry, 1)):
            cmd += ["--output", os.path.join(d, f"expected{i}.npy")]
        for n in names:
            cmd += ["--input", os.path.join(d, n)]
        run(cmd)
    source_root = os.path.dirname(os.path.dirname(HERE))
    for case, folder, rtol in MODELS:
        print(f"prepare: {case}", flush=True)
        checkpoint = os.path.join(source_root, "test", "HF", folder)
        d = os.path.join(out, "cases", case)
        model = os.path.join(d, "model")
        os.makedirs(model)
        for f in os.listdir(checkpoint):
            if f == "config.json" or f.endswith(".safetensors") or \
                    f.endswith(".index.json"):
                shutil.copy(os.path.join(checkpoint, f), model)
        shutil.copy(os.path.join(checkpoint, "input_ids.npy"),
                    os.path.join(d, "in0.npy"))
        shutil.copy(os.path.join(checkpoint, "logits.npy"),
                    os.path.join(d, "expected0.npy"))
        so = os.path.join(out, "modules", f"{case}.nvptx.so")
        run([hybrid_run, checkpoint, "--entry", "forward", "--target",
             "nvptx", "--compile-only", "--emit-so", so])
        manifest.append({"case": case, "entry": "forward", "rtol": rtol,
                         "reference": "torch modelling code",
                         "module": f"modules/{case}.nvptx.so",
                         "parameters": f"cases/{case}/model"})
    # The GPU machine needs only the GPU modules.
    for f in os.listdir(os.path.join(out, "modules")):
        if f.endswith(".cpu.so"):
            os.remove(os.path.join(out, "modules", f))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    size = sum(os.path.getsize(os.path.join(r, f))
               for r, _, fs in os.walk(out) for f in fs)
    print(f"bundle: {out} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
