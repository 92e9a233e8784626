#!/usr/bin/python3
"""Trains the bundled models on the King James Bible: `sala-kjv`, a tiny
MiniCPM-SALA-style hybrid (three Lightning Attention layers and one
InfLLM-V2 sparse-attention layer, BlockFFN MLPs, GQA, RoPE on the
lightning layers, tied embeddings), and `sala-kjv-draft`, a one-layer
Lightning Attention model with the same tokenizer that drafts for
speculative decoding.

Why a separate draft model and not an EAGLE head: the engine then needs no
hook into the target's hidden states, the draft is an ordinary checkpoint
through the same importer, and one draft layer costs a small fraction of
a target step.

Reproducible: the corpus, the tokenizer (SentencePiece, one thread) and
the training (torch seeded, fixed step count) are deterministic. Needs
Debian's bible-kjv (the `bible` command and its text), python3-torch,
python3-sentencepiece and python3-numpy; about 30 minutes on 2 cores.

    models/train_sala.py [--steps N] [--draft-steps N] [--out models]

Writes, per model, a Hugging Face folder: config.json, model.safetensors
(bf16), tokenizer.model, and README.md with the held-out perplexity; the
draft's folder also gets frequent_tokens.npy, every token id ranked by its
count in the training chapters (most frequent first, ties by id), from
which FR-Spec's draft head takes its vocabulary subset
(`hybrid-generate --draft-vocab N`). `--only frequent-tokens` writes that
file alone, with the tokenizer already in the draft's folder.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "HF"))
import safetensors_io  # noqa: E402
from reference_modeling import CausalLM, derived_config  # noqa: E402

VOCAB = 2048
SEQ = 256
SPARSE = {"kernel_size": 16, "kernel_stride": 8, "block_size": 32, "topk": 4,
          "init_blocks": 1, "window_size": 64, "use_nope": True, "dense_len": 128}
COMMON = {"vocab_size": VOCAB, "hidden_size": 256, "num_attention_heads": 4,
          "num_key_value_heads": 2, "head_dim": 64, "rms_norm_eps": 1e-6,
          "hidden_act": "silu", "rope_theta": 10000.0, "max_position_embeddings": 65536,
          "tie_word_embeddings": True, "scale_emb": 12.0, "scale_depth": 1.4,
          "dim_model_base": 64, "bos_token_id": 1, "eos_token_id": 2,
          "torch_dtype": "bfloat16"}
TARGET = dict(COMMON, architectures=["MiniCPMSALAForCausalLM"], model_type="minicpm_sala",
              num_hidden_layers=4,
              mixer_types=["lightning-attn", "lightning-attn", "lightning-attn", "minicpm4"],
              sparse_config=SPARSE, attn_use_rope=False, lightning_use_rope=True,
              qk_norm=True, use_output_norm=True, use_output_gate=True,
              attn_use_output_gate=True, lightning_nh=4, lightning_nkv=4,
              lightning_head_dim=64, lightning_scale="1/sqrt(d)",
              ffn_type="block_linear", num_experts=8, expert_size=128, router_act="relu",
              norm_after_router="rms")
# One Lightning Attention layer: its cost per token is constant in the
# context, where a dense draft's KV cache read grows with it (at 8K keys a
# one-layer dense draft step costs as much as a target step).
DRAFT = dict(COMMON, architectures=["MiniCPMSALAForCausalLM"], model_type="minicpm_sala",
             num_hidden_layers=1, intermediate_size=512, mixer_types=["lightning-attn"],
             lightning_use_rope=True, qk_norm=True, use_output_norm=True,
             use_output_gate=True, lightning_nh=4, lightning_nkv=4, lightning_head_dim=64,
             lightning_scale="1/sqrt(d)")


def corpus():
    """The KJV's chapters as text (verse references dropped), split into
    training and held-out chapters (every 20th)."""
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    chapters = {}
    for line in raw.splitlines():
        m = re.match(r"(\d?[A-Za-z]+\d+):\d+ (.*)", line)
        if m:
            chapters.setdefault(m.group(1), []).append(m.group(2).strip())
    texts = [" ".join(v) for v in chapters.values()]
    held = [t for i, t in enumerate(texts) if i % 20 == 19]
    train = [t for i, t in enumerate(texts) if i % 20 != 19]
    return train, held


def train_tokenizer(train, out):
    lines = os.path.join(out, "verses.txt")
    with open(lines, "w") as f:
        for chapter in train:
            for verse in re.split(r"(?<=[.;:?!])\s+", chapter):
                f.write(verse + "\n")
    prefix = os.path.join(out, "kjv-tokenizer")
    spm.SentencePieceTrainer.train(
        input=lines, model_prefix=prefix, vocab_size=VOCAB, model_type="unigram",
        character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1, shuffle_input_sentence=False, seed_sentencepiece_size=200000,
        max_sentence_length=8192)
    os.remove(lines)
    os.remove(prefix + ".vocab")
    return prefix + ".model"


def stream(sp, texts):
    """One token stream: BOS chapter EOS, chapter after chapter."""
    ids = []
    for t in texts:
        ids += [1] + sp.encode(t) + [2]
    return torch.tensor(ids, dtype=torch.int64)


def build(config, dense):
    c = derived_config(config)
    if dense:  # training windows stay below dense_len's sparse regime
        c.pop("sparse_config", None)
    lm = CausalLM(c)
    for m in lm.modules():
        if hasattr(m, "parallel"):
            m.parallel = True
    return lm


def evaluate(lm, data, seq=SEQ):
    lm.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data) - seq - 1, seq):
            x = data[start:start + seq + 1]
            logits = lm(x[None, :-1])
            total += torch.nn.functional.cross_entropy(logits[0], x[1:], reduction="sum").item()
            count += seq
    lm.train()
    return math.exp(total / count)


def train(config, data, held, steps, seed, name):
    torch.manual_seed(seed)
    lm = build(config, dense=True)
    with torch.no_grad():
        for p in lm.parameters():
            if p.dim() >= 2:
                p.normal_(0, 1.0 / math.sqrt(p.shape[-1]))
    params = sum(p.numel() for p in lm.parameters())
    print(f"{name}: {params / 1e6:.2f} M parameters, {steps} steps", flush=True)
    opt = torch.optim.AdamW(lm.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    batch, warmup = 8, 100
    gen = torch.Generator().manual_seed(seed)
    begin = time.time()
    for step in range(steps):
        lr = 3e-3 * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - SEQ - 1, (batch,), generator=gen)
        x = torch.stack([data[s:s + SEQ + 1] for s in starts.tolist()])
        logits = lm(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step} loss {loss.item():.3f} lr {lr:.2e} "
                  f"{time.time() - begin:.0f} s", flush=True)
    return lm, evaluate(lm, held)


def save(lm, config, folder, tokenizer, perplexity, steps, seed):
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().float().numpy() for k, v in lm.state_dict().items()}
    safetensors_io.save(os.path.join(folder, "model.safetensors"), state, "BF16")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(tokenizer, "rb") as src, open(os.path.join(folder, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(f"# {os.path.basename(folder)}\n\nTrained by `models/train_sala.py` "
                f"({steps} steps, seed {seed}) on the King James Bible (Debian's "
                f"bible-kjv), every 20th chapter held out.\n\n"
                f"Held-out perplexity (bf16 weights, {SEQ}-token windows): "
                f"{perplexity:.2f}\n")


def save_frequent_tokens(data, vocab, folder):
    """FR-Spec's ranking: token ids by descending count in `data` (the
    training stream), ties by id; ids never seen last."""
    counts = np.bincount(data.numpy(), minlength=vocab)
    order = np.lexsort((np.arange(vocab), -counts)).astype(np.int64)
    np.save(os.path.join(folder, "frequent_tokens.npy"), order)
    top = counts[order]
    for k in (256, 512, 1024):
        print(f"frequent tokens: the top {k} cover "
              f"{100.0 * top[:k].sum() / counts.sum():.1f}% of the training "
              f"tokens", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--draft-steps", type=int, default=800)
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", choices=["sala-kjv", "sala-kjv-draft",
                                       "frequent-tokens"],
                    help="train one of the two models (the tokenizer is "
                         "trained either way, identically), or rank the "
                         "draft's tokens alone")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    train_text, held_text = corpus()
    os.makedirs(args.out, exist_ok=True)
    draft_folder = os.path.join(args.out, "sala-kjv-draft")
    if args.only == "frequent-tokens":
        sp = spm.SentencePieceProcessor(
            model_file=os.path.join(draft_folder, "tokenizer.model"))
        save_frequent_tokens(stream(sp, train_text), sp.get_piece_size(),
                             draft_folder)
        return
    tokenizer = train_tokenizer(train_text, args.out)
    sp = spm.SentencePieceProcessor(model_file=tokenizer)
    data, held = stream(sp, train_text), stream(sp, held_text)
    print(f"corpus: {len(data)} training tokens, {len(held)} held out", flush=True)
    for name, config, steps, seed in (("sala-kjv", TARGET, args.steps, 1),
                                      ("sala-kjv-draft", DRAFT, args.draft_steps, 2)):
        if args.only and name != args.only:
            continue
        lm, _ = train(config, data, held, steps, seed, name)
        # Measured as stored: bf16 weights.
        with torch.no_grad():
            for p in lm.parameters():
                p.copy_(p.to(torch.bfloat16).float())
        perplexity = evaluate(lm, held)
        print(f"{name}: held-out perplexity {perplexity:.2f}", flush=True)
        save(lm, config, os.path.join(args.out, name), tokenizer, perplexity, steps, seed)
        if name == "sala-kjv-draft":
            save_frequent_tokens(data, sp.get_piece_size(), draft_folder)
    os.remove(tokenizer)


if __name__ == "__main__":
    main()
