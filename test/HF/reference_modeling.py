"""Torch reference models of the decoders Hybrid imports from Hugging Face
checkpoints, written from their modeling code detail for detail (see
make_checkpoints.py for what each follows). Shared by make_checkpoints.py
(the importer's test data) and models/train_sala.py (the trained model's
training script and logits reference).

`CausalLM(derived_config(config))` builds a model from a config.json
dict; `forward(ids)` returns the logits of one pass from empty caches.
"""
import math

import torch
from torch import nn


def derived_config(config):
    """config.json's fields with transformers' (and SALA's ports') defaults
    filled in, plus the derived scalings the modules read. `gaps` collects
    InfLLM-V2's top-k score gaps (see infllm_v2_visible)."""
    c = dict(config)
    c.setdefault("gaps", [])
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
    return c


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


def project_heads(m, x, cos, sin, heads, kv_heads, d, qk_norm, rope):
    """Q [b, heads, s, d], K and V [b, kv_heads, s, d] of x through m's
    q/k/v_proj, with per-head q_norm/k_norm before RoPE when asked."""
    b, s, _ = x.shape
    q = m.q_proj(x).view(b, s, heads, d)
    k = m.k_proj(x).view(b, s, kv_heads, d)
    if qk_norm:
        q, k = m.q_norm(q), m.k_norm(k)
    q, k = q.transpose(1, 2), k.transpose(1, 2)
    v = m.v_proj(x).view(b, s, kv_heads, d).transpose(1, 2)
    if rope:
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
    return q, k, v


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
        q, k, v = project_heads(self, x, cos, sin, hq, hkv, d, c["qwen3_qk_norm"],
                                c["attn_use_rope"])
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


class LightningAttention(nn.Module):  # MiniCPM-SALA's lightning layers
    """The step form (state by state, as decode runs it) by default;
    `parallel` computes the same outputs as masked products."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.parallel = False
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

    def queries_keys_values(self, x, cos, sin):
        """Q, K, V [b, nh, s, d]: K/V repeated to the query heads, Q
        times lightning_scale."""
        c = self.c
        d, nh, nkv = c["lightning_head_dim"], c["lightning_nh"], c["lightning_nkv"]
        q, k, v = project_heads(self, x, cos, sin, nh, nkv, d, c["qk_norm"],
                                c["lightning_use_rope"])
        k, v = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        q = q * {"1/sqrt(d)": d ** -0.5, "1/d": 1.0 / d, "1": 1.0}[c["lightning_scale"]]
        return q, k, v

    def forward(self, x, cos, sin):
        c = self.c
        b, s, _ = x.shape
        q, k, v = self.queries_keys_values(x, cos, sin)
        d, nh = c["lightning_head_dim"], c["lightning_nh"]
        slopes = torch.tensor(alibi_slopes(nh))
        if self.parallel:
            # o_t = sum_{s <= t} exp(-slope (t - s)) (q_t . k_s) v_s: the
            # same sums as the step form, as products (for training).
            t = torch.arange(s, dtype=torch.float32)
            age = (t[:, None] - t[None, :]).clamp(min=0)
            weight = torch.exp(-slopes[:, None, None] * age) * (t[:, None] >= t[None, :])
            o = torch.matmul(torch.matmul(q, k.transpose(2, 3)) * weight, v)
        else:
            decay = torch.exp(-slopes)[None, :, None, None]
            state = torch.zeros(b, nh, d, d)
            outs = []
            for t in range(s):
                state = state * decay + k[:, :, t, :, None] * v[:, :, t, None, :]
                outs.append(torch.einsum("bhd,bhde->bhe", q[:, :, t], state))
            o = torch.stack(outs, 2)
        o = o.transpose(1, 2).reshape(b, s, nh * d)
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
