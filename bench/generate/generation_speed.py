#!/usr/bin/python3
"""Generation speed of the bundled model (models/sala-kjv) by context:
time to first token and decode tokens/s of hybrid-generate with the prompt
filling the context up to 128 new tokens, at 1K, 8K and 32K tokens, for
  plain       greedy decoding, sparse attention as configured (auto)
  dense       greedy decoding, --sparse none
  draft-4     speculative, the draft model, 4-node chains/trees (depth 3)
  draft-16    speculative, 16-node trees (depth 6)
  lookup      speculative, prompt lookup
each a separate process on a model compiled beforehand (the cache), the
median of --repeat runs. The prompt is KJV text (Debian's bible-kjv),
tokenized by the model's own tokenizer (python3-sentencepiece). Greedy
speculative runs must emit the plain run's tokens; the script checks it.

    bench/generate/generation_speed.py [--contexts 1024 8192 32768]
        [--threads 2] [--repeat 3] [--build build]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
MODEL = os.path.join(ROOT, "models", "sala-kjv")
DRAFT = os.path.join(ROOT, "models", "sala-kjv-draft")
NEW = 128

VARIANTS = {
    "plain": [],
    "dense": ["--sparse", "none"],
    "draft-4": ["--draft", DRAFT, "--tree-size", "4", "--tree-depth", "3"],
    "draft-16": ["--draft", DRAFT, "--tree-size", "16", "--tree-depth", "6"],
    "lookup": ["--draft", "lookup"],
}


def kjv_ids(sp, count):
    text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                          capture_output=True, text=True).stdout
    words = " ".join(line.split(" ", 1)[1] for line in text.splitlines() if " " in line)
    # Start at Exodus so the prompt is not the model's first training text.
    ids = [1] + sp.encode(words[words.index("Now these are the names"):])
    if len(ids) < count:
        raise SystemExit(f"the KJV has {len(ids)} tokens, fewer than {count}")
    return ids[:count]


def run(build, args, threads):
    out = subprocess.run([os.path.join(build, "bin", "hybrid-generate"), MODEL, *args,
                          "--json", "--num-threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 8192, 32768])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    sp = spm.SentencePieceProcessor(model_file=os.path.join(MODEL, "tokenizer.model"))
    tmp = tempfile.mkdtemp()
    print("| context | variant | TTFT ms | decode tok/s | tokens/step | speed-up |")
    print("|---|---|---|---|---|---|")
    for context in args.contexts:
        prompt = os.path.join(tmp, f"prompt-{context}.npy")
        np.save(prompt, np.array([kjv_ids(sp, context - NEW)], np.int64))
        base = ["--prompt-ids", prompt, "--max-new-tokens", str(NEW),
                "--context", str(context + 64)]
        plain_tokens, plain_speed = None, None
        for name, extra in VARIANTS.items():
            results = [run(args.build, base + extra, args.threads) for _ in range(args.repeat)]
            tokens = results[0]["tokens"]
            if name == "plain":
                plain_tokens = tokens
            elif name != "dense" and tokens != plain_tokens:
                raise SystemExit(f"{name} at {context}: tokens differ from plain decoding")
            ttft = statistics.median(r["timings"]["time_to_first_token_s"] for r in results)
            speed = statistics.median(r["timings"]["decode_tokens_per_s"] for r in results)
            if name == "plain":
                plain_speed = speed
            print(f"| {context} | {name} | {1e3 * ttft:.0f} | {speed:.0f} | "
                  f"{results[0]['mean_accepted']:.2f} | {speed / plain_speed:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
