#!/usr/bin/env python3
"""Assembles the PTX embedded in a lowered module with ptxas.

Reads MLIR text (hybrid-opt's output after hybrid-gpu-pipeline) on stdin,
unescapes every `gpu.binary` object's `assembly = "..."` string, runs
`ptxas -arch=ARCH -v` on it, and prints one line per kernel:

  kernel NAME: R registers, S bytes smem, B barriers, spills L/S bytes

Exits non-zero, with ptxas' message, when ptxas rejects any of them or the
input embeds no PTX. --keep DIR also writes each PTX file there.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def unescape(text):
    # MLIR prints quotes, backslashes and non-printable bytes as \XX.
    return re.sub(r"\\([0-9A-Fa-f]{2})",
                  lambda m: chr(int(m.group(1), 16)), text)


def summarise(log):
    lines = []
    kernel = None
    spills = "0/0"
    for line in log.splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            kernel = m.group(1)
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            spills = f"{m.group(1)}/{m.group(2)}"
        m = re.search(r"Used (\d+) registers, used (\d+) barriers"
                      r"(?:, (\d+) bytes cumulative stack size)?"
                      r"(?:, (\d+) bytes smem)?", line)
        if m and kernel:
            smem = m.group(4) or "0"
            lines.append(f"kernel {kernel}: {m.group(1)} registers, {smem} "
                         f"bytes smem, {m.group(2)} barriers, spills {spills} bytes")
            kernel, spills = None, "0/0"
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ptxas", required=True)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--keep")
    args = parser.parse_args()
    blobs = re.findall(r'assembly = "((?:[^"\\]|\\.)*)"', sys.stdin.read())
    if not blobs:
        sys.exit("ptxas_check.py: no gpu.binary assembly in the input")
    with tempfile.TemporaryDirectory() as tmp:
        for i, blob in enumerate(blobs):
            path = os.path.join(args.keep or tmp, f"kernel{i}.ptx")
            ptx = unescape(blob)
            with open(path, "w") as f:
                f.write(ptx)
            # libdevice is not where modules run: no call may reach it
            # (a toolkit on PATH at compile time would hide this by linking
            # it in).
            calls = sorted(set(re.findall(r"\b__nv_\w+", ptx)))
            if calls:
                sys.exit(f"{path} calls libdevice: {', '.join(calls)}")
            run = subprocess.run(
                [args.ptxas, f"-arch={args.arch}", "-v", path, "-o",
                 os.devnull], capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"ptxas rejected {path}:\n{run.stderr}")
            for line in summarise(run.stdout + run.stderr):
                print(line)


if __name__ == "__main__":
    main()
