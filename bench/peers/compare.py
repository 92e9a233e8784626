#!/usr/bin/python3
"""Hybrid against its peers on the same shapes, thread count and inputs.

Run through scripts/bench.sh, which installs the peers and sets the
environment. For each case, Hybrid (the compiled module through the runtime's
C API, in this process), numpy on OpenBLAS (pthreads build) and ONNX Runtime
(onnxruntime-node, a child process; its fastest formulation: B as a
constant initializer, which ORT prepacks) are called in turn, one call each
per round, after a warm-up; every output is checked against a float64
reference before any time is reported. Prints a table and, with --json,
one JSON line per case.

The script refuses to report when numpy is not on the OpenBLAS pthreads
library with the requested thread count, since a misconfigured peer
proves nothing.
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def fail(message):
    sys.exit("bench: error: " + message)


# --- Peers' configuration ----------------------------------------------------

def openblas_config(threads):
    """The loaded OpenBLAS (path, core, threads); refuses anything else."""
    np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)
    libs = {line.split()[-1] for line in open("/proc/self/maps") if "blas" in line}
    openblas = [lib for lib in libs if "libopenblas" in lib]
    if not openblas:
        fail("numpy is not using OpenBLAS (loaded: %s); install "
             "libopenblas0-pthread" % sorted(libs))
    if "pthread" not in openblas[0]:
        fail("numpy's OpenBLAS is not the pthreads build: " + openblas[0])
    lib = ctypes.CDLL(openblas[0])
    lib.openblas_get_corename.restype = ctypes.c_char_p
    got = lib.openblas_get_num_threads()
    if got != threads:
        fail("OpenBLAS runs %d threads, not %d" % (got, threads))
    return {"library": openblas[0], "core": lib.openblas_get_corename().decode(),
            "threads": got}


class HybridRuntime:
    """The thin runtime's C API through ctypes."""

    def __init__(self, build):
        self.lib = ctypes.CDLL(os.path.join(build, "lib", "libhybrid_runtime.so"))
        L = self.lib
        for name, res, args in [
            ("hybrid_module_load", ctypes.c_void_p, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
            ("hybrid_module_set_num_threads", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int]),
            ("hybrid_tensor_wrap", ctypes.c_void_p, [ctypes.c_int, ctypes.c_size_t,
                                                     ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p,
                                                     ctypes.POINTER(ctypes.c_void_p)]),
            ("hybrid_module_invoke", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p,
                                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t,
                                                       ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]),
            ("hybrid_tensor_data", ctypes.c_void_p, [ctypes.c_void_p]),
            ("hybrid_tensor_num_elements", ctypes.c_size_t, [ctypes.c_void_p]),
            ("hybrid_tensor_free", None, [ctypes.c_void_p]),
            ("hybrid_module_bind_parameters_from_folder", ctypes.c_void_p,
             [ctypes.c_void_p, ctypes.c_char_p]),
            ("hybrid_status_message", ctypes.c_char_p, [ctypes.c_void_p]),
            ("hybrid_status_free", None, [ctypes.c_void_p]),
        ]:
            fn = getattr(L, name)
            fn.restype, fn.argtypes = res, args

    def check(self, status, what):
        if status:
            message = self.lib.hybrid_status_message(status).decode()
            self.lib.hybrid_status_free(status)
            fail("%s: %s" % (what, message))

    def load(self, path, threads):
        module = ctypes.c_void_p()
        self.check(self.lib.hybrid_module_load(path.encode(), ctypes.byref(module)), path)
        self.check(self.lib.hybrid_module_set_num_threads(module, threads), "threads")
        return module

    DTYPES = {np.dtype(np.float32): 0, np.dtype(np.int64): 4, np.dtype(np.int32): 5}

    def wrap(self, array):
        """A tensor viewing `array`'s data, which the caller keeps alive."""
        shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        tensor = ctypes.c_void_p()
        self.check(self.lib.hybrid_tensor_wrap(self.DTYPES[array.dtype], array.ndim, shape,
                                               array.ctypes.data, ctypes.byref(tensor)), "wrap")
        return tensor

    def bind_parameters(self, module, folder):
        """Maps the module's weights from the model's folder."""
        self.check(self.lib.hybrid_module_bind_parameters_from_folder(module, folder.encode()),
                   folder)

    def invoke(self, module, entry, tensors, shape):
        """Runs `entry`; returns (milliseconds, result as numpy)."""
        args = (ctypes.c_void_p * len(tensors))(*tensors)
        result = (ctypes.c_void_p * 1)()
        start = time.perf_counter()
        self.check(self.lib.hybrid_module_invoke(module, entry.encode(), args, len(tensors),
                                                 result, 1), entry)
        ms = (time.perf_counter() - start) * 1e3
        count = int(np.prod(shape))
        data = ctypes.cast(self.lib.hybrid_tensor_data(result[0]), ctypes.POINTER(ctypes.c_float))
        out = np.ctypeslib.as_array(data, shape=(count,)).reshape(shape).copy()
        self.lib.hybrid_tensor_free(result[0])
        return ms, out


class OrtPeer:
    def __init__(self, node_modules, threads):
        node_modules = os.path.abspath(node_modules)
        env = dict(os.environ, HYBRID_ORT_NODE_MODULES=node_modules)
        self.threads = threads
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "ort_server.mjs")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=os.path.dirname(node_modules))

    def request(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            fail("onnxruntime: " + reply["error"])
        return reply

    def load(self, model):
        self.request(op="load", model=model, threads=self.threads)

    def run(self, inputs, output=None):
        return self.request(op="run", inputs=inputs, output=output)["ms"]


# --- Cases ---------------------------------------------------------------------

def matmul_onnx(path, b):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    K, N = b.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", K])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["m", N])],
        [numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def matmul_cases():
    yield "matmul 2048^3", 2048, 2048, 2048
    yield "matmul 256x1024 x 1024x8192", 256, 1024, 8192
    # Llama-3.2-1B-sized projections (hidden 2048, MLP 8192).
    for m in (1, 16, 256):
        yield "1B up-proj M=%d" % m, m, 2048, 8192
        yield "1B down-proj M=%d" % m, m, 8192, 2048


PAUSE_S = 0.2


def median_spread(times):
    t = sorted(times)
    return t[len(t) // 2], t[0], t[-1]


def aligned(array, alignment=64):
    """A copy of `array` whose data starts on a 64-byte boundary, as the
    runtime's own tensors and ONNX Runtime's do (numpy only promises 16)."""
    raw = np.empty(array.nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    out = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def finish_row(row, args, peaks, flops, bytes_read, hybrid_ms, printer):
    """Adds Hybrid's fractions of the measured GEMM peak and bandwidth, then
    prints the row (JSON with --json)."""
    row["hybrid_fraction_of_gemm_peak"] = round(
        flops / (hybrid_ms * 1e6) / peaks["gemm_gflops"], 2)
    row["hybrid_fraction_of_bandwidth"] = round(
        bytes_read / (hybrid_ms * 1e6) / peaks["bandwidth_gbs"], 2)
    if args.json:
        print(json.dumps(row), flush=True)
    else:
        printer(row)


def run_matmul(args, rt, ort, tmp, blas, peaks):
    rows = []
    rng = np.random.default_rng(0)
    for name, M, K, N in matmul_cases():
        if args.case and not any(c in name for c in args.case):
            continue
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        tol = 1e-4 * max(1.0, np.abs(ref).max())
        stem = os.path.join(tmp, "mm_%d_%d_%d" % (M, K, N))
        np.save(stem + "_a.npy", a)
        # One model for both: B is an initializer, which ORT prepacks when
        # it creates the session and Hybrid binds as a parameter, packed
        # into its product's panels when bound (hybrid-prepack-weights).
        matmul_onnx(stem + ".onnx", b)
        so = stem + ".so"
        proc = subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), stem + ".onnx",
                               "--input", stem + "_a.npy", "--emit-so", so, "--compile-only"],
                              capture_output=True, text=True)
        if proc.returncode:
            fail("compiling %s: %s" % (name, proc.stderr))
        module = rt.load(so, args.threads)
        rt.bind_parameters(module, tmp)
        a, b = aligned(a), aligned(b)
        tensors = [rt.wrap(a)]
        ort.load(stem + ".onnx")

        # Warm-up, with every output checked.
        _, out = rt.invoke(module, "mm", tensors, (M, N))
        outputs = {"hybrid": out, "numpy": a @ b}
        ort.run({"a": stem + "_a.npy"}, stem + "_ort.npy")
        outputs["ort"] = np.load(stem + "_ort.npy")
        for peer, got in outputs.items():
            err = np.abs(got - ref).max()
            if not err <= tol:
                fail("%s: %s is off the float64 reference by %g (tolerance %g)"
                     % (name, peer, err, tol))
        times = {"hybrid": [], "numpy": [], "ort": []}
        # OpenBLAS's and ORT's worker threads spin for a while after a call;
        # a pause before switching keeps one peer's spinners off the next
        # one's cores.
        for _ in range(args.calls):
            times["hybrid"].append(rt.invoke(module, "mm", tensors, (M, N))[0])
            time.sleep(PAUSE_S)
            start = time.perf_counter()
            a @ b
            times["numpy"].append((time.perf_counter() - start) * 1e3)
            time.sleep(PAUSE_S)
            times["ort"].append(ort.run({"a": stem + "_a.npy"}))
            time.sleep(PAUSE_S)
        flops = 2.0 * M * N * K
        stats = {k: median_spread(v) for k, v in times.items()}
        h = stats["hybrid"][0]
        row = {"case": name, "shape": {"M": M, "K": K, "N": N}, "threads": args.threads,
               "calls": args.calls}
        for peer, (med, lo, hi) in stats.items():
            row[peer] = {"median_ms": round(med, 3), "min_ms": round(lo, 3),
                         "max_ms": round(hi, 3), "gflops": round(flops / (med * 1e6), 1)}
        row["speed_vs_numpy"] = round(stats["numpy"][0] / h, 2)
        row["speed_vs_ort"] = round(stats["ort"][0] / h, 2)
        # Bytes that must be read at least once (B dominates at small M).
        finish_row(row, args, peaks, flops, 4.0 * (M * K + K * N + M * N), h, print_row)
        rows.append(row)
    return rows


ATTENTION_MLIR = """func.func @attn(%q: tensor<1x{Hq}x?x{D}xf32>, %k: tensor<1x{Hkv}x?x{D}xf32>,
                     %v: tensor<1x{Hkv}x?x{D}xf32>) -> tensor<1x{Hq}x?x{D}xf32> {{
  %o = hybrid.attention %q, %k, %v {{causal}}
      : tensor<1x{Hq}x?x{D}xf32>, tensor<1x{Hkv}x?x{D}xf32>, tensor<1x{Hkv}x?x{D}xf32>
  return %o : tensor<1x{Hq}x?x{D}xf32>
}}
"""


def gqa_onnx(path, Hq, Hkv, with_past):
    """com.microsoft.GroupQueryAttention (ORT's fastest CPU attention for GQA;
    BSNH activations, BNSH past K/V, always causal)."""
    import onnx
    from onnx import TensorProto, helper
    F, I = TensorProto.FLOAT, TensorProto.INT32
    names = ["query", "key", "value", "past_key" if with_past else "",
             "past_value" if with_past else "", "seqlens_k", "total_sequence_length"]
    inputs = [helper.make_tensor_value_info("query", F, [1, "s", None]),
              helper.make_tensor_value_info("key", F, [1, "s", None]),
              helper.make_tensor_value_info("value", F, [1, "s", None]),
              helper.make_tensor_value_info("seqlens_k", I, [1]),
              helper.make_tensor_value_info("total_sequence_length", I, [])]
    if with_past:
        inputs += [helper.make_tensor_value_info("past_key", F, [1, Hkv, "p", None]),
                   helper.make_tensor_value_info("past_value", F, [1, Hkv, "p", None])]
    node = helper.make_node("GroupQueryAttention", names,
                            ["output", "present_key", "present_value"],
                            domain="com.microsoft", num_heads=Hq, kv_num_heads=Hkv)
    graph = helper.make_graph(
        [node], "gqa", inputs,
        [helper.make_tensor_value_info("output", F, None),
         helper.make_tensor_value_info("present_key", F, None),
         helper.make_tensor_value_info("present_value", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, path)


def attention_matmul_onnx(path, Hq, Hkv, Sq, Skv, D):
    """The same attention as plain ONNX ops (ORT fuses K's transpose into
    its MatMul): the G heads of a KV group as the rows of one product, a
    bottom-right causal mask as an additive initializer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    G = Hq // Hkv
    rows = np.arange(G * Sq) % Sq
    mask = np.where(np.arange(Skv)[None, :] > (Skv - Sq + rows)[:, None], -np.inf, 0.0)
    F = TensorProto.FLOAT
    inits = [numpy_helper.from_array(mask.astype(np.float32), "mask"),
             numpy_helper.from_array(np.array([1, Hkv, G * Sq, D], np.int64), "grouped"),
             numpy_helper.from_array(np.array([1, Hq, Sq, D], np.int64), "heads"),
             numpy_helper.from_array(np.array(1 / np.sqrt(D), np.float32), "scale")]
    nodes = [helper.make_node("Reshape", ["q", "grouped"], ["qg"]),
             helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["qg", "kt"], ["s"]),
             helper.make_node("Mul", ["s", "scale"], ["ss"]),
             helper.make_node("Add", ["ss", "mask"], ["sm"]),
             helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["og"]),
             helper.make_node("Reshape", ["og", "heads"], ["o"])]
    graph = helper.make_graph(
        nodes, "attn",
        [helper.make_tensor_value_info("q", F, [1, Hq, Sq, D]),
         helper.make_tensor_value_info("k", F, [1, Hkv, Skv, D]),
         helper.make_tensor_value_info("v", F, [1, Hkv, Skv, D])],
        [helper.make_tensor_value_info("o", F, [1, Hq, Sq, D])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def attention_reference(q, k, v):
    """Causal (bottom-right) GQA attention in float64, one head at a time."""
    Hq, Sq, D = q.shape[1:]
    Hkv, Skv = k.shape[1:3]
    out = np.empty((1, Hq, Sq, D))
    mask = np.arange(Skv)[None, :] > (Skv - Sq + np.arange(Sq))[:, None]
    for h in range(Hq):
        kh, vh = k[0, h // (Hq // Hkv)].astype(np.float64), v[0, h // (Hq // Hkv)].astype(np.float64)
        s = q[0, h].astype(np.float64) @ kh.T / np.sqrt(D)
        s[mask] = -np.inf
        s = np.exp(s - s.max(axis=1, keepdims=True))
        out[0, h] = (s / s.sum(axis=1, keepdims=True)) @ vh
    return out


def attention_cases():
    # Causal GQA prefill, and decode of 1 and 16 query rows over 32K keys.
    yield "GQA prefill S=4096", 16, 2, 4096, 4096, 128
    yield "GQA decode Sq=1 @32K", 16, 2, 1, 32768, 128
    yield "GQA decode Sq=16 @32K", 16, 2, 16, 32768, 128


def run_attention(args, rt, ort, tmp, peaks):
    rows = []
    rng = np.random.default_rng(1)
    for name, Hq, Hkv, Sq, Skv, D in attention_cases():
        if args.case and not any(c in name for c in args.case):
            continue
        q = rng.standard_normal((1, Hq, Sq, D), dtype=np.float32)
        k = rng.standard_normal((1, Hkv, Skv, D), dtype=np.float32)
        v = rng.standard_normal((1, Hkv, Skv, D), dtype=np.float32)
        ref = attention_reference(q, k, v)
        stem = os.path.join(tmp, "attn_%d_%d" % (Sq, Skv))
        for arr, n in ((q, "q"), (k, "k"), (v, "v")):
            np.save("%s_%s.npy" % (stem, n), arr)
        open(stem + ".mlir", "w").write(ATTENTION_MLIR.format(Hq=Hq, Hkv=Hkv, D=D))
        so = stem + ".so"
        proc = subprocess.run([os.path.join(args.build, "bin", "hybrid-run"), stem + ".mlir",
                               "--entry", "attn"] +
                              sum((["--input", "%s_%s.npy" % (stem, n)] for n in "qkv"), []) +
                              ["--emit-so", so], capture_output=True, text=True)
        if proc.returncode:
            fail("compiling %s: %s" % (name, proc.stderr))
        module = rt.load(so, args.threads)
        q, k, v = aligned(q), aligned(k), aligned(v)
        tensors = [rt.wrap(q), rt.wrap(k), rt.wrap(v)]

        # ORT, two formulations: GroupQueryAttention (the new rows' K/V as
        # BSNH, the rest as the past cache, which it copies into its present
        # output) and, for decode, the plain-op graph; the faster one is the
        # peer.
        past = Skv - Sq
        bsnh = lambda x: np.ascontiguousarray(x.transpose(0, 2, 1, 3).reshape(1, x.shape[2], -1))
        feeds = {"query": bsnh(q), "key": bsnh(k[:, :, past:]), "value": bsnh(v[:, :, past:]),
                 "seqlens_k": np.array([Skv - 1], np.int32),
                 "total_sequence_length": np.array(Skv, np.int32)}
        if past:
            feeds["past_key"] = np.ascontiguousarray(k[:, :, :past])
            feeds["past_value"] = np.ascontiguousarray(v[:, :, :past])
        gqa_onnx(stem + "_gqa.onnx", Hq, Hkv, with_past=past > 0)
        paths = {}
        for n, arr in feeds.items():
            paths[n] = "%s_ort_%s.npy" % (stem, n)
            np.save(paths[n], arr)
        formulations = [("GroupQueryAttention", stem + "_gqa.onnx", paths,
                         lambda o: o.reshape(1, Sq, Hq, D).transpose(0, 2, 1, 3))]
        if past:
            attention_matmul_onnx(stem + "_mm.onnx", Hq, Hkv, Sq, Skv, D)
            formulations.append(("MatMul+Softmax", stem + "_mm.onnx",
                                 {n: "%s_%s.npy" % (stem, n) for n in "qkv"}, lambda o: o))

        _, out = rt.invoke(module, "attn", tensors, q.shape)
        tol = 1e-4 * max(1.0, np.abs(ref).max())
        outputs = [("hybrid", out)]
        best = None
        for label, model, inputs, layout in formulations:
            ort.load(model)
            ort.run(inputs, stem + "_ort.npy")
            outputs.append(("ort " + label, layout(np.load(stem + "_ort.npy"))))
            warm = min(ort.run(inputs) for _ in range(3))
            if best is None or warm < best[0]:
                best = (warm, label, model, inputs)
        for peer, got in outputs:
            err = np.abs(got - ref).max()
            if not err <= tol:
                fail("%s: %s is off the float64 reference by %g (tolerance %g)"
                     % (name, peer, err, tol))
        _, ort_label, model, paths = best
        ort.load(model)
        times = {"hybrid": [], "ort": []}
        for _ in range(args.calls):
            times["hybrid"].append(rt.invoke(module, "attn", tensors, q.shape)[0])
            time.sleep(PAUSE_S)
            times["ort"].append(ort.run(paths))
            time.sleep(PAUSE_S)
        keys = sum(Skv - Sq + i + 1 for i in range(Sq))
        flops = 4.0 * Hq * D * keys
        stats = {p: median_spread(t) for p, t in times.items()}
        h = stats["hybrid"][0]
        row = {"case": name, "shape": {"Hq": Hq, "Hkv": Hkv, "Sq": Sq, "Skv": Skv, "D": D},
               "threads": args.threads, "calls": args.calls, "ort_formulation": ort_label}
        for peer, (med, lo, hi) in stats.items():
            row[peer] = {"median_ms": round(med, 3), "min_ms": round(lo, 3),
                         "max_ms": round(hi, 3), "gflops": round(flops / (med * 1e6), 1)}
        row["speed_vs_ort"] = round(stats["ort"][0] / h, 2)
        # K and V must be read at least once.
        finish_row(row, args, peaks, flops, 8.0 * Hkv * Skv * D, h, print_attention_row)
        rows.append(row)
    return rows


def measure_peaks(threads):
    """The machine's GEMM rate (OpenBLAS sgemm, best of 2048^3 and 4096^3)
    and memory bandwidth (OpenBLAS sgemv over 256 MB, read once)."""
    best = 0.0
    for n in (2048, 4096):
        a = np.ones((n, n), np.float32)
        a @ a
        for _ in range(3):
            start = time.perf_counter()
            a @ a
            best = max(best, 2.0 * n ** 3 / (time.perf_counter() - start) / 1e9)
    big = np.ones((8192, 8192), np.float32)
    x = np.ones(8192, np.float32)
    big @ x
    bw = 0.0
    for _ in range(5):
        start = time.perf_counter()
        big @ x
        bw = max(bw, big.nbytes / (time.perf_counter() - start) / 1e9)
    return {"gemm_gflops": round(best, 1), "bandwidth_gbs": round(bw, 1)}


HEADER = "%-28s %-18s %-22s %-22s %-22s %8s %8s %6s" % (
    "case", "shape MxKxN", "hybrid ms (min-max)", "numpy ms", "ort ms", "vs np", "vs ort", "%peak")


def print_row(row):
    s = row["shape"]
    fmt = lambda p: "%.2f (%.2f-%.2f)" % (row[p]["median_ms"], row[p]["min_ms"], row[p]["max_ms"])
    print("%-28s %-18s %-22s %-22s %-22s %7.2fx %7.2fx %5.0f%%" % (
        row["case"], "%dx%dx%d" % (s["M"], s["K"], s["N"]), fmt("hybrid"), fmt("numpy"),
        fmt("ort"), row["speed_vs_numpy"], row["speed_vs_ort"],
        100 * row["hybrid_fraction_of_gemm_peak"]), flush=True)


ATTENTION_HEADER = "%-28s %-26s %-22s %-42s %8s %6s %6s" % (
    "case", "shape Hq/Hkv Sq x Skv D", "hybrid ms (min-max)", "ort ms (its faster formulation)",
    "vs ort", "%peak", "%bw")


def print_attention_row(row):
    s = row["shape"]
    fmt = lambda p: "%.2f (%.2f-%.2f)" % (row[p]["median_ms"], row[p]["min_ms"], row[p]["max_ms"])
    print("%-28s %-26s %-22s %-42s %7.2fx %5.0f%% %5.0f%%" % (
        row["case"], "%d/%d %dx%d %d" % (s["Hq"], s["Hkv"], s["Sq"], s["Skv"], s["D"]),
        fmt("hybrid"), fmt("ort") + " " + row["ort_formulation"], row["speed_vs_ort"],
        100 * row["hybrid_fraction_of_gemm_peak"],
        100 * row["hybrid_fraction_of_bandwidth"]), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--node-modules", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--case", action="append", help="only cases containing this")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.calls < 10:
        fail("--calls must be at least 10 (medians of fewer calls are noise)")

    blas = openblas_config(args.threads)
    rt = HybridRuntime(args.build)
    ort = OrtPeer(args.node_modules, args.threads)
    peaks = measure_peaks(args.threads)
    print("peers: numpy %s on %s (core %s, %d threads); onnxruntime-node, intra-op "
          "threads %d; Hybrid %d threads" % (np.__version__, blas["library"], blas["core"],
                                             blas["threads"], args.threads, args.threads))
    print("machine (measured): GEMM %.1f GFLOP/s (OpenBLAS sgemm), memory %.1f GB/s "
          "(OpenBLAS sgemv)" % (peaks["gemm_gflops"], peaks["bandwidth_gbs"]))
    print("median of %d alternating calls after a warm-up; vs = peer time / Hybrid time "
          "(>1: Hybrid faster)" % args.calls)
    with tempfile.TemporaryDirectory(prefix="hybrid-bench-") as tmp:
        if not args.json:
            print(HEADER)
        run_matmul(args, rt, ort, tmp, blas, peaks)
        if not args.json:
            print()
            print(ATTENTION_HEADER)
        run_attention(args, rt, ort, tmp, peaks)


if __name__ == "__main__":
    main()
