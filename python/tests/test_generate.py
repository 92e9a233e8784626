"""hybrid.load(...).generate(...): the bundled model through the engine
hybrid-generate uses, compared with hybrid-generate itself."""

import json
import os
import subprocess

import pytest

import hybrid

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODEL = os.path.join(ROOT, "models", "sala-kjv")
DRAFT = os.path.join(ROOT, "models", "sala-kjv-draft")
TOOL = os.path.join(os.path.dirname(hybrid.__file__), "..", "..", "bin", "hybrid-generate")
PROMPT = "And the LORD spake unto Moses, saying,"


def tool_env(**extra):
    """The environment for a tool: ours without LD_PRELOAD, which carries
    the ASan runtime into python alone in the sanitized build (a sanitized
    tool has its own)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("compiled-models"))


@pytest.fixture(scope="module")
def model(cache):
    return hybrid.load(MODEL, cache_dir=cache)


def test_greedy_tokens_equal_hybrid_generate(model, cache):
    got = model.generate(PROMPT, max_new_tokens=24)
    tool = subprocess.run([TOOL, MODEL, "--prompt", PROMPT, "--max-new-tokens", "24",
                           "--json"], capture_output=True, text=True, check=True,
                          env=tool_env(HYBRID_CACHE_DIR=cache))
    expected = json.loads(tool.stdout)
    assert got["tokens"] == expected["tokens"]
    assert got["text"] == expected["text"]
    assert got["prompt_tokens"] == expected["prompt_tokens"]
    assert got["stop"] == "length" and len(got["tokens"]) == 24


def test_sampling_is_seeded(model):
    a = model.generate(PROMPT, max_new_tokens=12, temperature=0.8, top_p=0.9, seed=7)
    b = model.generate(PROMPT, max_new_tokens=12, temperature=0.8, top_p=0.9, seed=7)
    c = model.generate(PROMPT, max_new_tokens=12, temperature=0.8, top_p=0.9, seed=8)
    assert a["tokens"] == b["tokens"]
    assert a["tokens"] != c["tokens"]


def test_stream_and_callback_give_the_final_text(model):
    final = model.generate(PROMPT, max_new_tokens=20)["text"]
    assert "".join(model.stream(PROMPT, max_new_tokens=20)) == final
    pieces = []
    model.generate(PROMPT, max_new_tokens=20, on_text=pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == final


@pytest.mark.parametrize("draft, draft_vocab",
                         [("lookup", 0), (DRAFT, 0), (DRAFT, 512)])
def test_greedy_speculation_equals_plain_greedy(cache, model, draft, draft_vocab):
    plain = model.generate(PROMPT, max_new_tokens=32)["tokens"]
    speculative = hybrid.load(MODEL, draft=draft, tree_size=4,
                              draft_vocab=draft_vocab, cache_dir=cache)
    assert speculative.info["speculative"]
    got = speculative.generate(PROMPT, max_new_tokens=32, tree_size=4)
    assert got["tokens"] == plain
    assert got["stats"]["steps"] < 32  # it did accept drafted tokens


def test_token_ids_prompt(model):
    ids = [1, 57, 12, 300]
    got = model.generate(ids, max_new_tokens=4)
    assert got["prompt_tokens"] == 4 and len(got["tokens"]) == 4


def test_bad_requests_raise(model, cache):
    with pytest.raises(ValueError, match="empty"):
        model.generate([], max_new_tokens=4)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.generate([1, 5000], max_new_tokens=4)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(PROMPT, top_p=0.0)
    with pytest.raises(ValueError, match="sparse must be"):
        hybrid.load(MODEL, sparse="sometimes", cache_dir=cache)
    with pytest.raises(RuntimeError):
        hybrid.load(os.path.join(ROOT, "no-such-model"), cache_dir=cache)

    def fail(piece):
        raise KeyError("stop here")
    with pytest.raises(KeyError, match="stop here"):
        model.generate(PROMPT, max_new_tokens=8, on_text=fail)
