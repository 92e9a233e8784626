#!/usr/bin/python3
"""Reference data for the trained model's tests (test/Generate/sala-kjv):
the torch model of test/HF/reference_modeling.py, loaded from
models/sala-kjv (bf16 weights, f32 arithmetic), over the first of
test/Generate/prompts.txt:

  prompt_ids.npy  [1, T]   BOS + the prompt's tokens
  logits.npy      [1, T, V] the logits of one pass over it
  greedy_ids.npy  [1, 32]  32 greedy tokens, each from a full recompute

Below dense_len (128 keys), so the sparse layer attends densely in both.
Needs python3-torch, python3-sentencepiece, python3-numpy.
"""
import json
import os
import sys

import numpy as np
import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "HF"))
import safetensors_io  # noqa: E402
from reference_modeling import CausalLM, derived_config  # noqa: E402


def main():
    model = os.path.join(HERE, "sala-kjv")
    out = os.path.join(HERE, "..", "test", "Generate", "sala-kjv")
    os.makedirs(out, exist_ok=True)
    config = json.load(open(os.path.join(model, "config.json")))
    lm = CausalLM(derived_config(config))
    state = {k: torch.from_numpy(v) for k, v in
             safetensors_io.load(os.path.join(model, "model.safetensors")).items()}
    lm.load_state_dict(state)
    lm.eval()
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model, "tokenizer.model"))
    prompt = open(os.path.join(HERE, "..", "test", "Generate", "prompts.txt")).readline().strip()
    ids = torch.tensor([[config["bos_token_id"]] + sp.encode(prompt)])
    assert ids.shape[1] + 32 < derived_config(config)["sparse_config"]["dense_len"]
    with torch.no_grad():
        logits = lm(ids)
        seq = ids
        for _ in range(32):
            seq = torch.cat([seq, lm(seq)[:, -1].argmax(-1, keepdim=True)], 1)
    np.save(os.path.join(out, "prompt_ids.npy"), ids.numpy().astype(np.int64))
    np.save(os.path.join(out, "logits.npy"), logits.numpy().astype(np.float32))
    np.save(os.path.join(out, "greedy_ids.npy"), seq[:, ids.shape[1]:].numpy().astype(np.int64))
    print("prompt:", prompt)
    print("greedy:", sp.decode(seq[0, ids.shape[1]:].tolist()))


if __name__ == "__main__":
    main()
