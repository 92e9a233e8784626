#!/usr/bin/env python3
"""Runs the GPU bundle made by prepare.py, on a machine with a GPU.

For every case: runs its GPU module with hybrid-exec on the inputs, compares
the results with the expected ones (max |gpu - ref| / max |ref|): the CPU
module's, carried in the bundle, or for the large speed cases PyTorch's on
the GPU (f32 without TF32), whose inputs are made here (cases.py). Times 10
calls and, where PyTorch is installed, the same operation in PyTorch
(torch.matmul, scaled_dot_product_attention). Prints one line per case;
exits 1 when any case mismatches or fails.

  python3 check.py            (from the bundle's folder)
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import inputs as make_inputs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def torch_op(case, inputs, dtype=None):
    """The case's operation in PyTorch on the GPU (None without one)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    t = [torch.from_numpy(x).cuda() for x in inputs]
    if dtype is not None:
        t = [x.to(dtype) for x in t]
    if case.startswith("matmul"):
        return lambda: torch.matmul(t[0], t[1])
    if case.startswith("attention_gqa_causal"):
        q, k, v = t
        g = q.shape[1] // k.shape[1]
        k2, v2 = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
        return lambda: F.scaled_dot_product_attention(q, k2, v2, is_causal=True)
    if case.startswith("recurrence_gated_prefill"):
        return lambda: torch_gated_recurrence(*t)
    return None


def torch_gated_recurrence(q, k, v, g, s0, chunk=64):
    """The gated rule with a per-head log-decay in plain PyTorch, chunked
    (fla's naive chunk form): outputs and the final state per KV head."""
    import torch
    group = q.shape[1] // k.shape[1]
    k, v, g = (x.repeat_interleave(group, 1) for x in (k, v, g))
    state = s0.repeat_interleave(group, 1).clone()
    scale = q.shape[-1] ** -0.5
    out = torch.empty(*q.shape[:3], v.shape[-1], device=q.device,
                      dtype=q.dtype)
    for t0 in range(0, q.shape[2], chunk):
        qc, kc, vc = (x[:, :, t0:t0 + chunk] for x in (q, k, v))
        gam = g[:, :, t0:t0 + chunk].cumsum(-1)
        c = gam.shape[-1]
        causal = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
        diff = (gam[..., :, None] - gam[..., None, :]).masked_fill(
            ~causal, float("-inf"))
        weights = (qc @ kc.transpose(-1, -2)) * diff.exp()
        out[:, :, t0:t0 + chunk] = scale * (
            (qc * gam.exp()[..., None]) @ state + weights @ vc)
        tail = (gam[..., -1:] - gam).exp()[..., None]
        state = gam[..., -1:, None].exp() * state + \
            (kc * tail).transpose(-1, -2) @ vc
    return out, state[:, ::group]


def torch_reference(case, inputs):
    """PyTorch's result in f32 (None without PyTorch and a GPU)."""
    try:
        import torch
    except ImportError:
        return None
    fn = torch_op(case, inputs, dtype=torch.float32)
    if fn is None:
        return None
    out = fn()
    return [o.double().cpu().numpy()
            for o in (out if isinstance(out, tuple) else (out,))]


def torch_ms(case, inputs):
    fn = torch_op(case, inputs)
    if fn is None:
        return None
    import torch
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(10):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 10


def main():
    exe = os.path.join(HERE, "bin", "hybrid-exec")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(HERE, "lib") + ":" + env.get("LD_LIBRARY_PATH", "")
    bad = 0
    for c in json.load(open(os.path.join(HERE, "manifest.json"))):
        with tempfile.TemporaryDirectory() as tmp:
            if c["reference"] != "torch":
                d = os.path.join(HERE, "cases", c["case"])
                names = sorted(os.path.join(d, f) for f in os.listdir(d)
                               if f.startswith("in") and f.endswith(".npy"))
                inputs = [np.load(n) for n in names]
                wants = [np.load(os.path.join(d, f)) for f in
                         sorted(f for f in os.listdir(d)
                                if f.startswith("expected"))]
            else:
                inputs = make_inputs(c["case"], np.random.default_rng(0))
                names = []
                for i, x in enumerate(inputs):
                    names.append(os.path.join(tmp, f"in{i}.npy"))
                    np.save(names[-1], x)
                wants = torch_reference(c["case"], inputs)
                if wants is None:
                    print(f"{c['case']}: FAILED: its reference needs PyTorch "
                          "with a GPU", flush=True)
                    bad += 1
                    continue
            outs = [os.path.join(tmp, f"out{i}.npy") for i in range(len(wants))]
            cmd = [exe, os.path.join(HERE, c["module"]), "--entry", c["entry"],
                   "--repeat", "10"]
            for o in outs:
                cmd += ["--output", o]
            for n in names:
                cmd += ["--input", n]
            if "parameters" in c:
                cmd += ["--parameters", os.path.join(HERE, c["parameters"])]
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode:
                print(f"{c['case']}: FAILED: {r.stderr.strip()}", flush=True)
                bad += 1
                continue
            gots = [np.load(o).astype(np.float64) for o in outs]
        err, ok = 0.0, True
        for got, want in zip(gots, wants):
            want = want.astype(np.float64)
            finite = np.isfinite(want)
            if got.shape != want.shape or (np.isfinite(got) != finite).any():
                ok = False
                continue
            if finite.any():
                err = max(err, np.abs(got - want)[finite].max() /
                          max(np.abs(want[finite]).max(), 1e-30))
        times = [float(x) for x in
                 re.findall(r"invocation \d+: ([0-9.]+) ms", r.stdout)]
        best = min(times[1:]) if len(times) > 1 else float("nan")
        peer = torch_ms(c["case"], inputs)
        ok = ok and err <= c["rtol"]
        bad += not ok
        print(f"{c['case']}: {'ok' if ok else 'MISMATCH'} rel.err {err:.2e} "
              f"(tol {c['rtol']:g}, vs {c['reference']}), hybrid "
              f"{best:.3f} ms per call incl. copies in and out"
              + (f", torch {peer:.3f} ms on device-resident tensors"
                 if peer else ""), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
