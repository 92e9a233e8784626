#!/usr/bin/python3
"""Writes tiny random-weight Hugging Face checkpoints and their reference
logits, for the Hugging Face importer's tests.

The torch modules below follow transformers' modeling code, detail for
detail: LlamaRMSNorm (the mean of squares in f32, weight times the
normalised input), LlamaRotaryEmbedding (inv_freq = 1 / theta^(2i/D) in
f32, cos/sin of t * inv_freq, rotate_half), repeat_kv's head order,
scaled dot-product attention with a causal mask, LlamaMLP's SwiGLU,
Qwen3's per-head q_norm/k_norm before RoPE and explicit head_dim,
MiniCPM's scale_emb, scale_depth / sqrt(num_hidden_layers) on each
residual branch and hidden / (hidden_size / dim_model_base) before
lm_head, and tied embeddings. MiniCPM-SALA (whose modeling file is not
reachable from here) follows the published ports' reading of it
(OminiX-MLX minicpm-sala-mlx): `mixer_types` picks, per layer, InfLLM-V2
attention (HyPE: no RoPE unless attn_use_rope, an optional sigmoid output
gate o_gate) or Lightning Attention (per-head q_norm/k_norm, RoPE,
queries times lightning_scale, the state decaying by exp(-slope) with
ALiBi slopes per head, S = decay * S + k v^T and o = q S, an RMSNorm over
the heads' output and a sigmoid gate z_proj before o_proj).

Each checkpoint folder holds config.json, the weights in real HF layout
(model.safetensors, or shards with model.safetensors.index.json, written
by safetensors_io.py: torch 1.13 has no safetensors writer), input_ids.npy
[2, 9] and logits.npy (the reference forward pass in f32, from the
weights as stored: bf16 weights are widened), and greedy_ids.npy /
greedy_logits.npy (16 greedy steps after the prompt, each recomputed over
the whole sequence), and tree_ids / tree_parents / tree_logits.npy (a
7-node draft tree rooted at the last prompt token, each node's logits
recomputed over the prompt and its path). Needs Debian's python3-torch
and python3-numpy; the output is checked in. With folder names as
arguments only those are written.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))


class RMSNorm(nn.Module):  # LlamaRMSNorm
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(dim))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def infllm_v2_visible(q, k, cfg, stats):
    """The keys each query sees under InfLLM-V2 block-sparse attention, as
    ../shared/reference/semantics.md sections 2-3 define it (queries at
    positions 0..S-1 over S keys): [B, Hkv, S, S] bool. Ties go to the
    lower block (adjacent blocks' pooling windows share a kernel, so exact
    ties happen). `stats` collects the nonzero score gaps at the top-k cut:
    a near tie would make the test data fragile."""
    b_, hq, s_, d = q.shape
    hkv = k.shape[1]
    g_ = hq // hkv
    ks, kst, bs = cfg["kernel_size"], cfg["kernel_stride"], cfg["block_size"]
    local, pstride = cfg["window_size"] // bs, bs // kst
    pad = ks // kst - 1
    window = pstride + pad
    n_kernels = (s_ - ks) // kst + 1 if s_ >= ks else 0
    n_blocks = (s_ + bs - 1) // bs
    k1 = torch.stack([k[:, :, c * kst:c * kst + ks].mean(2) for c in range(n_kernels)], 2)
    visible = torch.zeros(b_, hkv, s_, s_, dtype=torch.bool)
    for b in range(b_):
        for h in range(hkv):
            for t in range(s_):
                nvis = sum(1 for c in range(n_kernels) if c * kst + ks - 1 <= t)
                score = torch.zeros(nvis)
                if nvis:
                    for g in range(g_):
                        logits = (k1[b, h, :nvis] @ q[b, h * g_ + g, t]) * d ** -0.5
                        score += torch.softmax(logits, 0)
                qb = t // bs
                cands = []
                for blk in range(n_blocks):
                    if blk > qb - local:
                        continue
                    window_scores = [score[c].item() for c in range(blk * pstride - pad,
                                                                    blk * pstride - pad + window)
                                     if 0 <= c < nvis]
                    best = max(window_scores) if window_scores else None
                    if blk < cfg["init_blocks"]:
                        best = float("inf")
                    if best is not None:
                        cands.append((-best, blk))
                cands.sort()
                if len(cands) > cfg["topk"]:
                    gap = cands[cfg["topk"]][0] - cands[cfg["topk"] - 1][0]
                    if gap > 0:
                        stats.append(gap)
                chosen = {blk for _, blk in cands[:cfg["topk"]]}
                for j in range(t + 1):
                    blk = j // bs
                    visible[b, h, t, j] = blk in chosen or qb - local < blk <= qb
    return visible


def rope_frequencies(c, seq_len):
    """inv_freq and the cos/sin factor, as transformers' modeling_rope_utils
    computes them for rope_type default, linear, llama3 and longrope."""
    d, base = c["head_dim"], c["rope_theta"]
    shape = torch.arange(0, d, 2, dtype=torch.int64).float() / d
    inv_freq = 1.0 / (base ** shape)
    rs = c.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        return inv_freq / rs["factor"], 1.0
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled), 1.0
    if kind == "longrope":
        orig = rs["original_max_position_embeddings"]
        factor = rs.get("factor") or c["max_position_embeddings"] / orig
        attention = rs.get("attention_factor") or (
            1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(orig)))
        ext = torch.tensor(rs["long_factor"] if seq_len > orig else rs["short_factor"],
                           dtype=torch.float32)
        return 1.0 / (ext * base ** shape), attention
    return inv_freq, 1.0


def repeat_kv(x, n_rep):
    b, h, s, d = x.shape
    return x[:, :, None, :, :].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


class Attention(nn.Module):  # LlamaAttention / Qwen3Attention, no cache
    def __init__(self, c):
        super().__init__()
        self.c = c
        h, d = c["hidden_size"], c["head_dim"]
        self.q_proj = nn.Linear(h, c["num_attention_heads"] * d, bias=False)
        self.k_proj = nn.Linear(h, c["num_key_value_heads"] * d, bias=False)
        self.v_proj = nn.Linear(h, c["num_key_value_heads"] * d, bias=False)
        self.o_proj = nn.Linear(c["num_attention_heads"] * d, h, bias=False)
        if c["qwen3_qk_norm"]:
            self.q_norm = RMSNorm(d, c["rms_norm_eps"])
            self.k_norm = RMSNorm(d, c["rms_norm_eps"])
        if c.get("attn_use_output_gate"):
            self.o_gate = nn.Linear(h, c["num_attention_heads"] * d, bias=False)

    def forward(self, x, cos, sin):
        c = self.c
        b, s, _ = x.shape
        d, hq, hkv = c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]
        q = self.q_proj(x).view(b, s, hq, d)
        k = self.k_proj(x).view(b, s, hkv, d)
        if c["qwen3_qk_norm"]:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.v_proj(x).view(b, s, hkv, d).transpose(1, 2)
        if c["attn_use_rope"]:
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        sparse = c.get("sparse_config")
        if sparse and s >= sparse["dense_len"]:
            mask = repeat_kv(infllm_v2_visible(q, k, sparse, c["gaps"]).float(), hq // hkv)
            bias = torch.where(mask > 0, 0.0, float("-inf"))
        else:
            bias = torch.full((s, s), float("-inf")).triu(1)
        k, v = repeat_kv(k, hq // hkv), repeat_kv(v, hq // hkv)
        w = torch.matmul(q, k.transpose(2, 3)) * d ** -0.5
        w = w + bias
        w = nn.functional.softmax(w, dim=-1, dtype=torch.float32)
        o = torch.matmul(w, v).transpose(1, 2).reshape(b, s, hq * d)
        if c.get("attn_use_output_gate"):
            o = o * torch.sigmoid(self.o_gate(x))
        return self.o_proj(o)


def alibi_slopes(n):
    """ALiBi's per-head slopes (Press et al.), Lightning Attention's decay
    rates."""
    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][:n - closest]


class LightningAttention(nn.Module):  # MiniCPM-SALA's lightning layers, step form
    def __init__(self, c):
        super().__init__()
        self.c = c
        h, d = c["hidden_size"], c["lightning_head_dim"]
        nh, nkv = c["lightning_nh"], c["lightning_nkv"]
        self.q_proj = nn.Linear(h, nh * d, bias=False)
        self.k_proj = nn.Linear(h, nkv * d, bias=False)
        self.v_proj = nn.Linear(h, nkv * d, bias=False)
        self.o_proj = nn.Linear(nh * d, h, bias=False)
        if c["qk_norm"]:
            self.q_norm = RMSNorm(d, c["rms_norm_eps"])
            self.k_norm = RMSNorm(d, c["rms_norm_eps"])
        if c["use_output_norm"]:
            self.o_norm = RMSNorm(nh * d, c["rms_norm_eps"])
        if c["use_output_gate"]:
            self.z_proj = nn.Linear(h, nh * d, bias=False)

    def forward(self, x, cos, sin):
        c = self.c
        b, s, _ = x.shape
        d, nh, nkv = c["lightning_head_dim"], c["lightning_nh"], c["lightning_nkv"]
        q = self.q_proj(x).view(b, s, nh, d)
        k = self.k_proj(x).view(b, s, nkv, d)
        if c["qk_norm"]:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.v_proj(x).view(b, s, nkv, d).transpose(1, 2)
        if c["lightning_use_rope"]:
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        q = q * {"1/sqrt(d)": d ** -0.5, "1/d": 1.0 / d, "1": 1.0}[c["lightning_scale"]]
        decay = torch.exp(-torch.tensor(alibi_slopes(nh)))[None, :, None, None]
        state = torch.zeros(b, nh, d, d)
        outs = []
        for t in range(s):
            state = state * decay + k[:, :, t, :, None] * v[:, :, t, None, :]
            outs.append(torch.einsum("bhd,bhde->bhe", q[:, :, t], state))
        o = torch.stack(outs, 2).transpose(1, 2).reshape(b, s, nh * d)
        if c["use_output_norm"]:
            o = self.o_norm(o)
        if c["use_output_gate"]:
            o = o * torch.sigmoid(self.z_proj(x))
        return self.o_proj(o)


class MLP(nn.Module):  # LlamaMLP
    def __init__(self, c):
        super().__init__()
        h, f = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, f, bias=False)
        self.up_proj = nn.Linear(h, f, bias=False)
        self.down_proj = nn.Linear(f, h, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class BlockMLP(nn.Module):  # thunlp/BlockFFN's BlockMLP, norm_after_router="rms"
    def __init__(self, c):
        super().__init__()
        h, e, be = c["hidden_size"], c["num_experts"], c["expert_size"]
        self.e, self.be = e, be
        self.linear = c["ffn_type"] == "block_linear"
        self.router_proj = nn.Linear(h, e, bias=False)
        self.router_norm = RMSNorm(e, c["rms_norm_eps"])
        if self.linear:
            self.up_proj = nn.Parameter(torch.empty(e * be, h))
            self.down_proj = nn.Parameter(torch.empty(h, e * be))
        else:
            self.up_proj = nn.Parameter(torch.empty(e, be, h))
            self.down_proj = nn.Parameter(torch.empty(e, h, be))

    def forward(self, x):
        b, s, m = x.shape
        x = x.view(b * s, m)
        r = self.router_norm(nn.functional.relu(self.router_proj(x)))
        if self.linear:
            up = nn.functional.silu(nn.functional.linear(x, self.up_proj))
            up = up.view(b * s, self.e, self.be) * r.unsqueeze(-1)
            down = nn.functional.linear(up.view(b * s, self.e * self.be), self.down_proj)
        else:
            up = nn.functional.silu(torch.matmul(x, self.up_proj.transpose(1, 2)))
            up = up * r.T.unsqueeze(-1)
            down = torch.einsum("esd,emd->sm", up, self.down_proj)
        return down.view(b, s, m)


class Layer(nn.Module):
    def __init__(self, c, i):
        super().__init__()
        self.c = c
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        lightning = c.get("mixer_types", ["minicpm4"] * (i + 1))[i] == "lightning-attn"
        self.self_attn = LightningAttention(c) if lightning else Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = BlockMLP(c) if c.get("ffn_type", "vanilla") != "vanilla" else MLP(c)

    def forward(self, x, cos, sin):
        scale = self.c["residual_scale"]
        x = x + self.self_attn(self.input_layernorm(x), cos, sin) * scale
        return x + self.mlp(self.post_attention_layernorm(x)) * scale


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c, i) for i in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Model(c)
        if not c["tie_word_embeddings"]:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids):
        c = self.c
        x = self.model.embed_tokens(ids) * c["scale_emb"]
        inv_freq, attention = rope_frequencies(c, ids.shape[1])
        t = torch.arange(ids.shape[1]).float()
        freqs = t[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos() * attention, emb.sin() * attention
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        x = self.model.norm(x) * c["logit_input_scale"]
        head = self.model.embed_tokens.weight if c["tie_word_embeddings"] else self.lm_head.weight
        return x @ head.t()


def make(name, config, seed, dtype="F32", shards=1, prompt=9):
    if len(sys.argv) > 1 and name not in sys.argv[1:]:
        return
    torch.manual_seed(seed)
    c = dict(config)
    c["gaps"] = []
    arch = c["architectures"][0]
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c["qwen3_qk_norm"] = arch == "Qwen3ForCausalLM"
    sala = arch == "MiniCPMSALAForCausalLM"
    minicpm = sala or arch == "MiniCPMForCausalLM"
    c.setdefault("tie_word_embeddings", minicpm)
    # SALA's defaults, as its ports read config.json.
    c.setdefault("attn_use_rope", not sala)
    for key in ("qk_norm", "use_output_norm", "use_output_gate"):
        c.setdefault(key, False)
    c.setdefault("lightning_use_rope", True)
    c.setdefault("lightning_nh", c["num_attention_heads"])
    c.setdefault("lightning_nkv", c["num_key_value_heads"])
    c.setdefault("lightning_head_dim", c["head_dim"])
    c.setdefault("lightning_scale", "1/sqrt(d)")
    c["scale_emb"] = c.get("scale_emb", 1.0) if minicpm else 1.0
    c["residual_scale"] = (c.get("scale_depth", 1.0) / math.sqrt(c["num_hidden_layers"])
                           if minicpm else 1.0)
    c["logit_input_scale"] = (c.get("dim_model_base", c["hidden_size"]) / c["hidden_size"]
                              if minicpm else 1.0)
    lm = CausalLM(c)
    with torch.no_grad():
        for p in lm.parameters():  # weights of a trained model's scale
            if p.dim() >= 2:
                p.normal_(0, 0.5 / math.sqrt(p.shape[-1]))
        state = {k: v.float() for k, v in lm.state_dict().items()}
        if dtype == "BF16":  # the reference sees the weights as stored
            for k, v in state.items():
                v.copy_(v.to(torch.bfloat16).float())
            lm.load_state_dict(state)
        arrays = {k: v.numpy() for k, v in state.items()}
        folder = os.path.join(HERE, name)
        os.makedirs(folder, exist_ok=True)
        for f in os.listdir(folder):
            os.remove(os.path.join(folder, f))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        names = sorted(state)
        if shards == 1:
            safetensors_io.save(os.path.join(folder, "model.safetensors"), arrays, dtype)
        else:
            weight_map = {}
            for i in range(shards):
                file = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
                part = {n: arrays[n] for n in names[i::shards]}
                safetensors_io.save(os.path.join(folder, file), part, dtype)
                weight_map.update({n: file for n in part})
            with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
        ids = torch.randint(0, c["vocab_size"], (2, prompt))
        logits = lm(ids)
        np.save(os.path.join(folder, "input_ids.npy"), ids.numpy().astype(np.int64))
        np.save(os.path.join(folder, "logits.npy"), logits.numpy().astype(np.float32))
        # 16 greedy steps after the prompt, each a full forward pass: the
        # chosen ids [2, 16] and the logits they were chosen from.
        seq, steps = ids, []
        for _ in range(16):
            step = lm(seq)[:, -1]
            steps.append(step)
            seq = torch.cat([seq, step.argmax(-1, keepdim=True)], dim=1)
        np.save(os.path.join(folder, "greedy_ids.npy"), seq[:, prompt:].numpy().astype(np.int64))
        np.save(os.path.join(folder, "greedy_logits.npy"),
                torch.stack(steps, 1).numpy().astype(np.float32))
        # A draft tree over the last prompt token (the root, committed but
        # not yet in the cache): node i's logits are those of the prompt
        # before the root followed by the path root..i. Sparse models share
        # one block selection across a tree (a policy, not this reference),
        # so they get none unless the tree stays below dense_len.
        parents = [-1, 0, 0, 1, 1, 2, 4]
        sparse = c.get("sparse_config")
        if not sparse or prompt - 1 + len(parents) < sparse["dense_len"]:
            tree = torch.randint(0, c["vocab_size"], (2, len(parents)))
            tree[:, 0] = ids[:, -1]
            node_logits = []
            for i in range(len(parents)):
                path, j = [], i
                while j >= 0:
                    path.insert(0, j)
                    j = parents[j]
                node_logits.append(lm(torch.cat([ids[:, :-1], tree[:, path]], 1))[:, -1])
            np.save(os.path.join(folder, "tree_ids.npy"), tree.numpy().astype(np.int64))
            np.save(os.path.join(folder, "tree_parents.npy"), np.array(parents, np.int32))
            np.save(os.path.join(folder, "tree_logits.npy"),
                    torch.stack(node_logits, 1).numpy().astype(np.float32))
    print(name, tuple(logits.shape), "max |logit| %.2f" % logits.abs().max().item(),
          "smallest top-k score gap %.2g" % min(c["gaps"]) if c["gaps"] else "")


BASE = {"vocab_size": 128, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "max_position_embeddings": 256}

make("llama-tiny", dict(BASE, architectures=["LlamaForCausalLM"], model_type="llama",
                        rope_theta=10000.0, tie_word_embeddings=False, torch_dtype="float32"), 1)
make("qwen3-tiny-sharded", dict(BASE, architectures=["Qwen3ForCausalLM"], model_type="qwen3",
                                head_dim=32, rope_theta=1000000.0, tie_word_embeddings=True,
                                rope_scaling=None, torch_dtype="float32"), 2, shards=3)
make("minicpm4-sparse-tiny", dict(BASE, architectures=["MiniCPMForCausalLM"], model_type="minicpm",
                                  rope_theta=10000.0, scale_emb=12.0, scale_depth=1.4,
                                  dim_model_base=32, torch_dtype="float32",
                                  sparse_config={"kernel_size": 4, "kernel_stride": 2,
                                                 "block_size": 8, "topk": 2, "init_blocks": 1,
                                                 "window_size": 8, "use_nope": False,
                                                 "dense_len": 24}), 4, prompt=40)
make("llama3-rope-tiny", dict(BASE, architectures=["LlamaForCausalLM"], model_type="llama",
                              rope_theta=10000.0, tie_word_embeddings=False,
                              rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                            "original_max_position_embeddings": 64}), 7)
make("minicpm-longrope-tiny", dict(BASE, architectures=["MiniCPMForCausalLM"], model_type="minicpm",
                                   rope_theta=10000.0, scale_emb=12.0, scale_depth=1.4,
                                   dim_model_base=32, max_position_embeddings=64,
                                   rope_scaling={"rope_type": "longrope",
                                                 "short_factor": [1.0, 1.0, 1.1, 1.2, 1.4, 1.7, 2.1, 2.6],
                                                 "long_factor": [1.0, 1.5, 2.2, 3.1, 4.3, 5.8, 7.6, 9.9],
                                                 "original_max_position_embeddings": 16}), 8,
     prompt=24)
BLOCKFFN = dict(BASE, architectures=["MiniCPMForCausalLM"], model_type="minicpm",
                rope_theta=10000.0, scale_emb=12.0, scale_depth=1.4, dim_model_base=32,
                torch_dtype="float32", ffn_type="block", num_experts=8, expert_size=16,
                router_act="relu", norm_after_router="rms")
BLOCKFFN.pop("intermediate_size")
make("minicpm-blockffn-tiny", BLOCKFFN, 5)
make("minicpm-blockffn-linear-tiny", dict(BLOCKFFN, ffn_type="block_linear"), 6)
make("minicpm-tiny-bf16", dict(BASE, architectures=["MiniCPMForCausalLM"], model_type="minicpm",
                               rope_theta=10000.0, scale_emb=12.0, scale_depth=1.4,
                               dim_model_base=32, torch_dtype="bfloat16"), 3, dtype="BF16")
SALA = dict(BASE, architectures=["MiniCPMSALAForCausalLM"], model_type="minicpm_sala",
            num_hidden_layers=4, rope_theta=10000.0, scale_emb=12.0, scale_depth=1.4,
            dim_model_base=32, torch_dtype="float32",
            sparse_config={"kernel_size": 4, "kernel_stride": 2, "block_size": 8, "topk": 2,
                           "init_blocks": 1, "window_size": 8, "use_nope": False,
                           "dense_len": 24})
make("minicpm-sala-tiny", dict(SALA, mixer_types=["lightning-attn", "minicpm4",
                                                  "lightning-attn", "lightning-attn"],
                               attn_use_rope=False, lightning_use_rope=True, qk_norm=True,
                               use_output_norm=True, use_output_gate=True,
                               attn_use_output_gate=True, lightning_scale="1/sqrt(d)"), 9,
     prompt=40)
SALA_BLOCKFFN = dict(SALA, mixer_types=["minicpm4", "lightning-attn", "lightning-attn",
                                        "lightning-attn"],
                     attn_use_rope=True, lightning_use_rope=False, lightning_nkv=2,
                     lightning_scale="1/d", torch_dtype="bfloat16", ffn_type="block_linear",
                     num_experts=8, expert_size=16, router_act="relu", norm_after_router="rms",
                     sparse_config=dict(SALA["sparse_config"], dense_len=64))
SALA_BLOCKFFN.pop("intermediate_size")
make("minicpm-sala-blockffn-tiny-bf16", SALA_BLOCKFFN, 10, dtype="BF16")
