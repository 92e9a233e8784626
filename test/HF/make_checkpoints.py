#!/usr/bin/python3
"""Writes tiny random-weight Hugging Face checkpoints and their reference
logits, for the Hugging Face importer's tests.

The torch modules (reference_modeling.py) follow transformers' modeling code, detail for
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

import safetensors_io
from reference_modeling import CausalLM, derived_config

HERE = os.path.dirname(os.path.abspath(__file__))


def make(name, config, seed, dtype="F32", shards=1, prompt=9):
    if len(sys.argv) > 1 and name not in sys.argv[1:]:
        return
    torch.manual_seed(seed)
    c = derived_config(config)
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
