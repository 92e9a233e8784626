#!/usr/bin/python3
"""Import and compile cost of Hugging Face checkpoints at real width, by
depth and architecture: configurations at hidden 1024 (16 query / 8 KV
heads of 64, SwiGLU 2816, vocabulary 32000) with 1, 6 and 24 layers for
Llama, and 24 layers for Qwen3 (per-head Q/K norms, tied embeddings),
MiniCPM4 (InfLLM-V2 sparse_config), MiniCPM with BlockFFN (32 experts
of 88) and MiniCPM-SALA (one InfLLM-V2 layer in four, the others Lightning
Attention with 16 heads, q/k norms, output norm and gate), random bf16
weights written at run time (the 24-layer Llama is
690 MB; nothing is checked in). For each, as separate processes:

  import   hybrid-import DIR -o /dev/null
  compile  hybrid-run DIR --compile-only --emit-so m.so (three entry
           points: forward, prefill, decode)
  run      hybrid-run m.so --parameters DIR --entry forward, 16 tokens
           (load, map the weights, one invocation)

and prints wall time and peak resident memory of each. Needs
python3-numpy; scripts/bench.sh runs it with HYBRID_BENCH_IMPORT=1.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "HF"))
import safetensors_io  # noqa: E402
from child_process import measure  # noqa: E402

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB = 1024, 16, 8, 64, 2816, 32000


ARCHS = ("llama", "qwen3", "minicpm4", "blockffn", "sala")
EXPERTS, EXPERT_SIZE = 32, 88


def write_checkpoint(folder, layers, arch="llama"):
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN,
              "num_hidden_layers": layers, "num_attention_heads": HEADS,
              "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
              "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu",
              "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    if arch == "qwen3":
        config.update(architectures=["Qwen3ForCausalLM"], model_type="qwen3",
                      tie_word_embeddings=True)
    elif arch in ("minicpm4", "blockffn", "sala"):
        config.update(architectures=["MiniCPMForCausalLM"], model_type="minicpm",
                      scale_emb=12, scale_depth=1.4, dim_model_base=256,
                      tie_word_embeddings=True)
        if arch in ("minicpm4", "sala"):
            config["sparse_config"] = {"kernel_size": 32, "kernel_stride": 16,
                                       "init_blocks": 1, "block_size": 64,
                                       "window_size": 2048, "topk": 64,
                                       "use_nope": False, "dense_len": 8192}
        if arch == "sala":
            config.update(architectures=["MiniCPMSALAForCausalLM"], model_type="minicpm_sala",
                          mixer_types=["minicpm4" if i % 4 == 1 else "lightning-attn"
                                       for i in range(layers)],
                          attn_use_rope=False, lightning_use_rope=True, qk_norm=True,
                          use_output_norm=True, use_output_gate=True,
                          attn_use_output_gate=True, lightning_nh=HEADS,
                          lightning_nkv=HEADS, lightning_head_dim=HEAD_DIM)
        elif arch == "blockffn":
            config.update(ffn_type="block", num_experts=EXPERTS, expert_size=EXPERT_SIZE,
                          router_act="relu", norm_after_router="rms")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    rng = np.random.default_rng(0)

    def w(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[-1]))

    t = {"model.embed_tokens.weight": w(VOCAB, HIDDEN), "model.norm.weight": np.ones(HIDDEN, np.float32)}
    if not config["tie_word_embeddings"]:
        t["lm_head.weight"] = w(VOCAB, HIDDEN)
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        lightning = arch == "sala" and config["mixer_types"][i] == "lightning-attn"
        kv_heads = HEADS if lightning else KV_HEADS
        t[p + "self_attn.q_proj.weight"] = w(HEADS * HEAD_DIM, HIDDEN)
        t[p + "self_attn.k_proj.weight"] = w(kv_heads * HEAD_DIM, HIDDEN)
        t[p + "self_attn.v_proj.weight"] = w(kv_heads * HEAD_DIM, HIDDEN)
        t[p + "self_attn.o_proj.weight"] = w(HIDDEN, HEADS * HEAD_DIM)
        if lightning:
            t[p + "self_attn.q_norm.weight"] = np.ones(HEAD_DIM, np.float32)
            t[p + "self_attn.k_norm.weight"] = np.ones(HEAD_DIM, np.float32)
            t[p + "self_attn.o_norm.weight"] = np.ones(HEADS * HEAD_DIM, np.float32)
            t[p + "self_attn.z_proj.weight"] = w(HEADS * HEAD_DIM, HIDDEN)
        elif arch == "sala":
            t[p + "self_attn.o_gate.weight"] = w(HEADS * HEAD_DIM, HIDDEN)
        if arch == "qwen3":
            t[p + "self_attn.q_norm.weight"] = np.ones(HEAD_DIM, np.float32)
            t[p + "self_attn.k_norm.weight"] = np.ones(HEAD_DIM, np.float32)
        if arch == "blockffn":
            t[p + "mlp.router_proj.weight"] = w(EXPERTS, HIDDEN)
            t[p + "mlp.router_norm.weight"] = np.ones(EXPERTS, np.float32)
            t[p + "mlp.up_proj"] = w(EXPERTS, EXPERT_SIZE, HIDDEN)
            t[p + "mlp.down_proj"] = w(EXPERTS, HIDDEN, EXPERT_SIZE)
        else:
            t[p + "mlp.gate_proj.weight"] = w(FFN, HIDDEN)
            t[p + "mlp.up_proj.weight"] = w(FFN, HIDDEN)
            t[p + "mlp.down_proj.weight"] = w(HIDDEN, FFN)
    safetensors_io.save(os.path.join(folder, "model.safetensors"), t, "BF16")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--write":
        write_checkpoint(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, nargs="+", default=[1, 6, 24],
                    help="depths measured for Llama")
    ap.add_argument("--archs", nargs="+", default=list(ARCHS[1:]), choices=ARCHS,
                    help="other architectures, measured at the deepest depth")
    args = ap.parse_args()
    tools = os.path.join(args.build, "bin")
    tmp = tempfile.mkdtemp()
    try:
        ids = os.path.join(tmp, "ids.npy")
        np.save(ids, np.random.default_rng(1).integers(0, VOCAB, (1, 16)).astype(np.int64))
        print("| architecture | layers | weights | import s (MB) | compile s (MB) | run s (MB) |")
        print("|---|---|---|---|---|---|")
        runs = [("llama", layers) for layers in args.layers]
        runs += [(arch, max(args.layers)) for arch in args.archs]
        for arch, layers in runs:
            folder = os.path.join(tmp, f"{arch}-{layers}")
            os.makedirs(folder)
            # In a child: this process stays small, so that the children
            # it forks to measure start small too.
            subprocess.run([sys.executable, __file__, "--write", folder, str(layers), arch],
                           check=True)
            size = os.path.getsize(os.path.join(folder, "model.safetensors"))
            so = os.path.join(tmp, f"{arch}-{layers}.so")
            imp = measure([os.path.join(tools, "hybrid-import"), folder, "-o", "/dev/null"])
            comp = measure([os.path.join(tools, "hybrid-run"), folder, "--compile-only",
                            "--emit-so", so])
            run = measure([os.path.join(tools, "hybrid-run"), so, "--parameters", folder,
                           "--entry", "forward", "--input", ids,
                           "--num-threads", str(args.threads)])
            print(f"| {arch} | {layers} | {size / 2**20:.0f} MB bf16 | {imp[0]:.2f} ({imp[1]:.0f}) | "
                  f"{comp[0]:.1f} ({comp[1]:.0f}) | {run[0]:.2f} ({run[1]:.0f}) |", flush=True)
            shutil.rmtree(folder)
            os.remove(so)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
