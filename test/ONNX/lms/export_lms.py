#!/usr/bin/python3
"""Exports small decoder LMs with torch.onnx.export and keeps torch's outputs.

The modules follow Hugging Face transformers' modeling code (LlamaRMSNorm,
LlamaRotaryEmbedding's rotate_half, repeat_kv, LlamaMLP's SwiGLU, the
additive causal mask) with random weights:

  llama_gqa   Llama-style GQA decoder: 2 layers, hidden 64, 4 query heads,
              2 KV heads, head dim 16, SwiGLU 128, vocabulary 256.
  blockffn    the same attention, with a BlockFFN-style MoE feed-forward:
              ReLU-routed experts (router -> ReLU -> RMSNorm gates) over 4
              experts of width 32, every expert computed and gated.

Each model takes input_ids [batch, seq] (symbolic, opset 17, torch 1.13 is
the newest exporter here) and returns logits [batch, seq, 256]. For each,
<name>.onnx, <name>.input_ids.npy and <name>.logits.npy (torch's output, in
float64-checked f32) are written beside this script; the files are checked
in so that tests need neither torch nor onnx.
"""
import argparse
import math
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN = 256, 64, 2, 4, 2, 16, 128
EXPERTS, EXPERT_DIM = 4, 32
THETA, EPS = 10000.0, 1e-6


class RMSNorm(nn.Module):  # LlamaRMSNorm
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(dim))

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + EPS))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, h, s, d = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(b, h, n_rep, s, d)
    return x.reshape(b, h * n_rep, s, d)


class Attention(nn.Module):  # LlamaAttention, no cache
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(x).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(x).view(b, s, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, HEADS // KV_HEADS)
        v = repeat_kv(v, HEADS // KV_HEADS)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HEAD_DIM) + mask
        w = nn.functional.softmax(w, dim=-1, dtype=torch.float32)
        o = torch.matmul(w, v).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM)
        return self.o_proj(o)


class MLP(nn.Module):  # LlamaMLP
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, FFN, bias=False)
        self.up_proj = nn.Linear(HIDDEN, FFN, bias=False)
        self.down_proj = nn.Linear(FFN, HIDDEN, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Expert(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.Linear(HIDDEN, EXPERT_DIM, bias=False)
        self.down = nn.Linear(EXPERT_DIM, HIDDEN, bias=False)

    def forward(self, x):
        return self.down(nn.functional.silu(self.up(x)))


class BlockFFN(nn.Module):
    """BlockFFN's router: ReLU, then RMSNorm, gives sparse non-negative
    gates; every expert runs and is weighted by its gate (the dense
    reference form of chunk-level MoE)."""

    def __init__(self):
        super().__init__()
        self.router = nn.Linear(HIDDEN, EXPERTS, bias=False)
        self.router_norm = RMSNorm(EXPERTS)
        self.experts = nn.ModuleList([Expert() for _ in range(EXPERTS)])

    def forward(self, x):
        gates = self.router_norm(torch.relu(self.router(x)))  # [b, s, E]
        y = 0
        for e, expert in enumerate(self.experts):
            y = y + gates[..., e:e + 1] * expert(x)
        return y


class Layer(nn.Module):
    def __init__(self, moe):
        super().__init__()
        self.input_layernorm = RMSNorm(HIDDEN)
        self.self_attn = Attention()
        self.post_attention_layernorm = RMSNorm(HIDDEN)
        self.mlp = BlockFFN() if moe else MLP()

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LM(nn.Module):
    def __init__(self, moe):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList([Layer(moe) for _ in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)
        inv_freq = 1.0 / (THETA ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, input_ids):
        b, s = input_ids.shape
        x = self.embed_tokens(input_ids)
        pos = torch.arange(s, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((s, s), torch.finfo(torch.float32).min).triu(1)[None, None]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def export(name, moe, seed):
    torch.manual_seed(seed)
    model = LM(moe).eval()
    ids = torch.randint(0, VOCAB, (2, 11))
    path = os.path.join(HERE, name + ".onnx")
    with torch.no_grad():
        torch.onnx.export(model, (ids,), path, opset_version=17,
                          input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}})
        logits = model(ids)
    np.save(os.path.join(HERE, name + ".input_ids.npy"), ids.numpy())
    np.save(os.path.join(HERE, name + ".logits.npy"), logits.numpy())


# A larger shape for benchmarks (bench/import/exported_lms.py), not tests.
BENCH = dict(VOCAB=8192, HIDDEN=1024, LAYERS=4, HEADS=16, KV_HEADS=4, HEAD_DIM=64,
             FFN=2816, EXPERTS=8, EXPERT_DIM=512)

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE, help="where to write (default: beside this script)")
    ap.add_argument("--bench-shape", action="store_true",
                    help="hidden 1024, 4 layers, 16/4 heads: for benchmarks")
    args = ap.parse_args()
    HERE = args.out
    if args.bench_shape:
        globals().update(BENCH)
    export("llama_gqa", moe=False, seed=0)
    export("blockffn", moe=True, seed=1)
