#!/usr/bin/env python3
"""Compiles every ONNX node test model for --target nvptx.

For each case folder under CASES (model.onnx inside), runs `hybrid-run
model.onnx --target nvptx --compile-only` and, with --ptxas, assembles
every embedded kernel (ptxas_check.py's rules: accepted, no libdevice).
Prints one line per case that does not compile (with its first error) and
a summary: "N of M compile for the GPU, K kernels accepted by ptxas".
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hybrid-run", required=True)
    parser.add_argument("--ptxas")
    parser.add_argument("--arch", default="sm_80")
    parser.add_argument("cases")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(n for n in os.listdir(args.cases)
                   if os.path.exists(os.path.join(args.cases, n, "model.onnx")))
    compiled, kernels = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            so = os.path.join(tmp, name + ".so")
            run = subprocess.run(
                [args.hybrid_run, os.path.join(args.cases, name, "model.onnx"),
                 "--target", "nvptx", "--compile-only", "--emit-so", so],
                capture_output=True, text=True)
            if run.returncode:
                errors = re.findall(r"error: (.*)", run.stderr)
                print(f"not compiled: {name}: {errors[0] if errors else run.stderr}")
                continue
            compiled += 1
            if args.ptxas:
                check = subprocess.run(
                    [sys.executable, os.path.join(here, "ptxas_check.py"),
                     "--ptxas", args.ptxas, "--arch", args.arch, "--so", so],
                    capture_output=True, text=True)
                if check.returncode:
                    print(f"rejected: {name}: {check.stderr.strip()}")
                    continue
                kernels += len(check.stdout.splitlines())
    print(f"{compiled} of {len(names)} compile for the GPU"
          + (f", {kernels} kernels accepted by ptxas" if args.ptxas else ""))


if __name__ == "__main__":
    main()
