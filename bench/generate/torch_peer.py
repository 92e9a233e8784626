#!/usr/bin/python3
"""The peer of bench/generate/generation_speed.py: Debian's torch (1.13,
eager, CPU) generating greedily with the same weights (models/sala-kjv),
incrementally: K/V caches for the attention layer (dense attention, as
hybrid-generate --sparse none), recurrent states for the lightning layers
(chunked prefill, the step form for decode), the modules of
test/HF/reference_modeling.py. Prints TTFT and decode tokens/s per
context, median of --repeat runs, after checking that its logits equal the
reference model's on a short prompt, that torch's BLAS is OpenBLAS's
pthreads build, and that it runs --threads threads.

    bench/generate/torch_peer.py [--contexts 1024 8192 32768] [--threads 2]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "test", "HF"))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
from generation_speed import MODEL, NEW, kjv_ids  # noqa: E402
from reference_modeling import (CausalLM, LightningAttention, alibi_slopes,  # noqa: E402
                                derived_config, project_heads, repeat_kv)

CHUNK = 256


class Incremental:
    """Greedy generation with caches over a reference CausalLM."""

    def __init__(self, lm, c):
        self.lm, self.c = lm, c
        self.caches = [None] * len(lm.model.layers)
        self.position = 0
        d = c["head_dim"]
        self.inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, d, 2).float() / d))

    def rope(self, t):
        freqs = torch.arange(self.position, self.position + t).float()[:, None] * self.inv_freq
        emb = torch.cat((freqs, freqs), -1)
        return emb.cos(), emb.sin()

    def attention(self, m, x, i, cos, sin):
        c, (b, s, _) = self.c, x.shape
        d, hq, hkv = c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]
        q, k, v = project_heads(m, x, cos, sin, hq, hkv, d, c["qwen3_qk_norm"],
                                c["attn_use_rope"])
        if self.caches[i] is not None:
            k = torch.cat([self.caches[i][0], k], 2)
            v = torch.cat([self.caches[i][1], v], 2)
        self.caches[i] = (k, v)
        k, v = repeat_kv(k, hq // hkv), repeat_kv(v, hq // hkv)
        w = torch.matmul(q, k.transpose(2, 3)) * d ** -0.5
        total = k.shape[2]
        rows = torch.arange(total - s, total)[:, None]
        w = w.masked_fill(torch.arange(total)[None, :] > rows, float("-inf"))
        o = torch.matmul(torch.softmax(w, -1), v).transpose(1, 2).reshape(b, s, hq * d)
        if c.get("attn_use_output_gate"):
            o = o * torch.sigmoid(m.o_gate(x))
        return m.o_proj(o)

    def lightning(self, m, x, i, cos, sin):
        c, (b, s, _) = self.c, x.shape
        d, nh = c["lightning_head_dim"], c["lightning_nh"]
        q, k, v = m.queries_keys_values(x, cos, sin)
        lam = torch.exp(-torch.tensor(alibi_slopes(nh)))[None, :, None, None]
        state = self.caches[i] if self.caches[i] is not None else torch.zeros(b, nh, d, d)
        outs = []
        for c0 in range(0, s, 64):  # chunked: intra-chunk products, state passing
            qc, kc, vc = q[:, :, c0:c0 + 64], k[:, :, c0:c0 + 64], v[:, :, c0:c0 + 64]
            n = qc.shape[2]
            t = torch.arange(n).float()
            age = (t[:, None] - t[None, :]).clamp(min=0)
            mask = (lam[0, :, :, :] ** age) * (t[:, None] >= t[None, :])
            intra = torch.matmul(torch.matmul(qc, kc.transpose(2, 3)) * mask, vc)
            inter = torch.matmul(qc * lam ** (t[:, None] + 1), state)
            outs.append(intra + inter)
            state = state * lam ** n + torch.matmul(
                (kc * lam ** (n - 1 - t[:, None])).transpose(2, 3), vc)
        self.caches[i] = state
        o = torch.cat(outs, 2).transpose(1, 2).reshape(b, s, nh * d)
        if c["use_output_norm"]:
            o = m.o_norm(o)
        if c["use_output_gate"]:
            o = o * torch.sigmoid(m.z_proj(x))
        return m.o_proj(o)

    def step(self, ids):
        """Logits of the last of `ids` [1, T], after the cached tokens."""
        c, lm = self.c, self.lm
        x = lm.model.embed_tokens(ids) * c["scale_emb"]
        cos, sin = self.rope(ids.shape[1])
        for i, layer in enumerate(lm.model.layers):
            h = layer.input_layernorm(x)
            mix = (self.lightning if isinstance(layer.self_attn, LightningAttention)
                   else self.attention)(layer.self_attn, h, i, cos, sin)
            x = x + mix * c["residual_scale"]
            x = x + layer.mlp(layer.post_attention_layernorm(x)) * c["residual_scale"]
        self.position += ids.shape[1]
        x = lm.model.norm(x[:, -1:]) * c["logit_input_scale"]
        return (x @ lm.model.embed_tokens.weight.t())[0, -1]


def load():
    config = json.load(open(os.path.join(MODEL, "config.json")))
    c = derived_config(config)
    c.pop("sparse_config")  # the peer attends densely
    lm = CausalLM(c)
    lm.load_state_dict({k: torch.from_numpy(v) for k, v in
                        safetensors_io.load(os.path.join(MODEL, "model.safetensors")).items()})
    lm.eval()
    return lm, c


def generate(lm, c, prompt):
    gen = Incremental(lm, c)
    start = time.perf_counter()
    for s in range(0, len(prompt), CHUNK):
        logits = gen.step(torch.tensor([prompt[s:s + CHUNK]]))
    token = int(logits.argmax())
    ttft = time.perf_counter() - start
    tokens = [token]
    decode = time.perf_counter()
    while len(tokens) < NEW:
        token = int(gen.step(torch.tensor([[token]])).argmax())
        tokens.append(token)
    return ttft, (NEW - 1) / (time.perf_counter() - decode), tokens


def check_blas(threads):
    libs = {line.split()[-1] for line in open("/proc/self/maps") if "blas" in line}
    openblas = [lib for lib in libs if "libopenblas" in lib and "pthread" in lib]
    if not openblas:
        sys.exit(f"torch_peer: torch's BLAS is not OpenBLAS's pthreads build: {sorted(libs)}")
    if torch.get_num_threads() != threads:
        sys.exit(f"torch_peer: torch runs {torch.get_num_threads()} threads, not {threads}")
    return openblas[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 8192, 32768])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm, c = load()
    with torch.no_grad():
        # The incremental peer equals the reference model on a short prompt.
        ids = list(range(3, 40))
        want = lm(torch.tensor([ids]))[0, -1]
        gen = Incremental(lm, c)
        gen.step(torch.tensor([ids[:20]]))
        got = gen.step(torch.tensor([ids[20:]]))
        err = float((got - want).abs().max())
        if err > 1e-4:
            sys.exit(f"torch_peer: incremental logits differ from the reference by {err}")
        blas = check_blas(args.threads)
        print(f"torch {torch.__version__}, {blas}, {torch.get_num_threads()} threads, "
              f"peer vs reference logits {err:.1e}")
        sp = spm.SentencePieceProcessor(model_file=os.path.join(MODEL, "tokenizer.model"))
        print("| context | torch TTFT ms | torch decode tok/s |")
        print("|---|---|---|")
        for context in args.contexts:
            prompt = kjv_ids(sp, context - NEW)
            runs = [generate(lm, c, prompt) for _ in range(args.repeat)]
            np.save(f"/tmp/torch_peer_tokens_{context}.npy", np.array(runs[0][2]))
            print(f"| {context} | {1e3 * statistics.median(r[0] for r in runs):.0f} | "
                  f"{statistics.median(r[1] for r in runs):.1f} |", flush=True)


if __name__ == "__main__":
    main()
