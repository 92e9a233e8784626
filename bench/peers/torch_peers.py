#!/usr/bin/python3
"""PyTorch (Debian's python3-torch, CPU) on the shapes of hybrid-bench.

One JSON line per case, like hybrid-bench. The peer computes the same math
with dense tensor ops (it has no block-sparse, recurrence or chunk-MoE
kernels): dense causal GQA attention, the step-form recurrence, and the
dense FFN of the same size as the MoE.
"""

import json
import time

import torch

torch.set_num_threads(torch.get_num_threads())


def best_ms(fn, repeat=3):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def emit(op, variant, shape, ms, flops):
    print(json.dumps({"op": op, "variant": variant, "peer": "torch-%s" % torch.__version__,
                      "shape": shape, "best_ms": round(ms, 3),
                      "gflops": round(flops / (ms * 1e6), 2)}), flush=True)


def attention(q, k, v, causal_offset):
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    out = torch.empty(q.shape[:3] + (v.shape[3],))
    sq, skv = q.shape[2], k.shape[2]
    mask = torch.ones(sq, skv, dtype=torch.bool).tril(diagonal=causal_offset)
    for h in range(q.shape[1]):  # one head at a time: S x S scores per head
        s = (q[0, h] @ k[0, h].T) / q.shape[3] ** 0.5
        s = s.masked_fill(~mask, float("-inf"))
        out[0, h] = torch.softmax(s, dim=-1) @ v[0, h]
    return out


def main():
    torch.manual_seed(0)
    B, Hq, Hkv, S, D = 1, 16, 2, 4096, 128
    q, k, v = torch.randn(B, Hq, S, D), torch.randn(B, Hkv, S, D), torch.randn(B, Hkv, S, D)
    ms = best_ms(lambda: attention(q, k, v, 0), repeat=1)
    emit("attention_prefill", "dense_causal", {"B": B, "Hq": Hq, "Hkv": Hkv, "S": S, "D": D},
         ms, 4.0 * Hq * D * S * (S + 1) / 2)

    Sq, Skv = 16, 32768
    q, k, v = torch.randn(B, Hq, Sq, D), torch.randn(B, Hkv, Skv, D), torch.randn(B, Hkv, Skv, D)
    ms = best_ms(lambda: attention(q, k, v, Skv - Sq))
    emit("attention_32k", "dense", {"B": B, "Hq": Hq, "Hkv": Hkv, "Sq": Sq, "Skv": Skv, "D": D},
         ms, 4.0 * Hq * D * Sq * Skv)

    H, T = 16, 8192
    q, k, v = torch.randn(H, T, D) * 0.1, torch.randn(H, T, D) * 0.09, torch.randn(H, T, D)

    def step_form():
        state = torch.zeros(H, D, D)
        decay = torch.exp(torch.tensor(-0.01))
        for t in range(T):
            state = state * decay + k[:, t, :, None] * v[:, t, None, :]
            torch.einsum("hd,hde->he", q[:, t], state)

    ms = best_ms(step_form, repeat=1)
    emit("linear_recurrence_gated", "step", {"B": 1, "H": H, "T": T, "D": D}, ms,
         4.0 * H * T * D * D)

    T, Dm, E, Be = 256, 1024, 64, 128
    x = torch.randn(T, Dm)
    up, down = torch.randn(E * Be, Dm) * 0.03, torch.randn(Dm, E * Be) * 0.03
    ms = best_ms(lambda: torch.nn.functional.silu(x @ up.T) @ down.T)
    emit("chunk_moe", "dense_ffn_same_size", {"T": T, "Dm": Dm, "E": E, "expert_width": Be},
         ms, 4.0 * T * Dm * Be * E)


if __name__ == "__main__":
    main()
