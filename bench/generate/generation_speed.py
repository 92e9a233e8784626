#!/usr/bin/python3
"""Generation speed of the bundled model (models/sala-kjv) by context:
time to first token and decode tokens/s of hybrid-generate with the prompt
filling the context up to 128 new tokens, at 1K, 8K and 32K tokens, for
  plain       greedy decoding, sparse attention as configured (auto)
  dense       greedy decoding, --sparse none
  draft-4     speculative, the draft model, 4-node chains/trees (depth 3)
  draft-16    speculative, 16-node trees (depth 6)
  fr-4        draft-4 with FR-Spec's draft head over the 512 most frequent
              tokens (--draft-vocab 512)
  lookup      speculative, prompt lookup
  plain-64k   plain, with the caches allocated for 65536 tokens instead of
              the context + 64: decode-step time must not grow with the
              allocation (the caches are updated in place)
each a separate process on a model compiled beforehand (the cache), the
median of --repeat runs. The prompt is KJV text (Debian's bible-kjv),
tokenized by the model's own tokenizer (python3-sentencepiece). Greedy
speculative runs must emit the plain run's tokens; the script checks it.

    bench/generate/generation_speed.py [--contexts 1024 8192 32768]
        [--threads 2] [--repeat 3] [--build build]
        [--model DIR --variants plain dense ...]

With --model (a checkpoint without a tokenizer, e.g. the random-weight
24-layer SALA of bench/import/hf_compile.py), the prompt is random ids.
"""
import argparse
import json
import os
import statistics
import subprocess
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
    "fr-4": ["--draft", DRAFT, "--tree-size", "4", "--tree-depth", "3",
             "--draft-vocab", "512"],
    "lookup": ["--draft", "lookup"],
    "plain-64k": [],
}
# Variants whose caches hold this many tokens, not the context + 64.
CAPACITY = {"plain-64k": 65536}


def kjv_ids(sp, count):
    text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                          capture_output=True, text=True).stdout
    words = " ".join(line.split(" ", 1)[1] for line in text.splitlines() if " " in line)
    # Start at Exodus so the prompt is not the model's first training text.
    ids = [1] + sp.encode(words[words.index("Now these are the names"):])
    if len(ids) < count:
        raise SystemExit(f"the KJV has {len(ids)} tokens, fewer than {count}")
    return ids[:count]


def run(build, model, args, threads):
    out = subprocess.run([os.path.join(build, "bin", "hybrid-generate"), model, *args,
                          "--json", "--num-threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 8192, 32768])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args()
    tokenizer = os.path.join(args.model, "tokenizer.model")
    sp = spm.SentencePieceProcessor(model_file=tokenizer) if os.path.exists(tokenizer) else None
    vocab = json.load(open(os.path.join(args.model, "config.json")))["vocab_size"]
    tmp = tempfile.mkdtemp()
    print("| context | variant | TTFT ms | decode tok/s | tokens/step | speed-up |")
    print("|---|---|---|---|---|---|")
    for context in args.contexts:
        prompt = os.path.join(tmp, f"prompt-{context}.npy")
        ids = (kjv_ids(sp, context - NEW) if sp else
               np.random.default_rng(0).integers(0, vocab, context - NEW).tolist())
        np.save(prompt, np.array([ids], np.int64))
        base = ["--prompt-ids", prompt, "--max-new-tokens", str(NEW)]
        plain_tokens, plain_speed = None, None
        for name in args.variants:
            extra = VARIANTS[name] + [
                "--context", str(CAPACITY.get(name, context + 64))]
            results = [run(args.build, args.model, base + extra, args.threads)
                       for _ in range(args.repeat)]
            tokens = results[0]["tokens"]
            if name == "plain":
                plain_tokens = tokens
            elif name != "dense" and tokens != plain_tokens:
                raise SystemExit(f"{name} at {context}: tokens differ from plain decoding")
            ttft = statistics.median(r["timings"]["time_to_first_token_s"] for r in results)
            speed = statistics.median(r["timings"]["decode_tokens_per_s"] for r in results)
            if name == "plain":
                plain_speed = speed
            ratio = f"{speed / plain_speed:.2f}x" if plain_speed else "-"
            print(f"| {context} | {name} | {1e3 * ttft:.0f} | {speed:.1f} | "
                  f"{results[0]['mean_accepted']:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
