"""Hybrid from Python: compile models, run them on numpy arrays, run passes.

    import numpy as np
    import hybrid

    m = hybrid.compile("model.onnx")          # or MLIR text, an .mlir path,
    y = m(x)                                  # or a Hugging Face folder
    y = m.forward(ids)                        # entry points by name
    print(m.signature("forward"))

    text = hybrid.opt(mlir_text, "hybrid-sparsify-attention{topk=16}")
    report = hybrid.cost_report(mlir_text, context_length=32768)
    ir = hybrid.import_model("model.onnx")    # the IR, to change with opt()
    m = hybrid.compile(ir, parameters="model-folder")

    model = hybrid.load("models/sala-kjv", draft="models/sala-kjv-draft")
    print(model.generate("And the LORD said", max_new_tokens=64)["text"])
    for piece in model.stream("In the beginning", temperature=0.8, seed=7):
        print(piece, end="")

Arrays go in and come out as numpy arrays (f32, f16, f64, i64, i32, i8,
bool; bf16 as uint16 words: see `bf16_to_f32` and `f32_to_bf16`). Inputs
are read in place when C-contiguous with the argument's dtype. A wrong
dtype, rank or shape raises ValueError naming the argument; a source that
does not compile raises CompileError with the compiler's diagnostics.

Set-up: build the project (scripts/test.sh or ninja -C build), then put
build/python on PYTHONPATH.
"""

import json as _json

import numpy as _np

from ._hybrid import CompileError, RuntimeError  # noqa: A004 (runtime's own)
from ._hybrid import compile as _compile
from ._hybrid import _opt, _cost_report, runtime_version, import_model

__version__ = runtime_version()

__all__ = ["CompileError", "RuntimeError", "Module", "compile", "opt",
           "cost_report", "import_model", "load", "Generator", "bf16_to_f32", "f32_to_bf16",
           "runtime_version", "__version__"]


class Module:
    """A compiled module. Call an entry point as `module.name(*arrays)`,
    `module["name"](*arrays)`, or `module(*arrays)` when it has one entry
    point (or `forward`)."""

    def __init__(self, impl):
        self._impl = impl

    @property
    def entries(self):
        """The entry points' names, in module order."""
        return list(self._impl.entries)

    def signature(self, entry):
        """`{"args": [...], "results": [...]}`: each with name, kind
        ("tensor" or "scalar"), dtype, shape (None where dynamic) and, for
        arguments, whether the call updates it in place (a KV cache)."""
        return self._impl.signature(entry)

    def set_num_threads(self, n):
        """Threads per call (0: all cores)."""
        self._impl.set_num_threads(n)

    def moe_activity(self):
        """Chunk-level MoE activity since loading (active (expert, chunk)
        pairs, chunks, all pairs)."""
        return self._impl.moe_activity()

    def __getitem__(self, entry):
        if entry not in self._impl.entries:
            raise KeyError("no entry point '%s' (the module has: %s)"
                           % (entry, ", ".join(self._impl.entries)))

        def call(*args):
            return self._impl.call(entry, *args)
        call.__name__ = entry
        call.__doc__ = "Entry point '%s': %s" % (entry, self.signature(entry))
        return call

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(str(e)) from None

    def __call__(self, *args):
        entries = self._impl.entries
        if len(entries) == 1:
            return self[entries[0]](*args)
        if "forward" in entries:
            return self["forward"](*args)
        raise TypeError("the module has several entry points (%s): call one "
                        "by name" % ", ".join(entries))

    def __repr__(self):
        return "<hybrid.Module entries=%s>" % self.entries


def compile(source, *, sparse="none", parallel=True, entries=(), tree_size=0,
            parameters=None, target="cpu"):
    """Compiles `source` and returns a loaded `Module`.

    `source` is MLIR text, or the path of an .mlir file, an .onnx model or a
    Hugging Face checkpoint folder (its weights are bound from its folder).
    `sparse="auto"` turns causal attention into InfLLM-V2 block-sparse
    attention; `entries` picks a checkpoint's entry points (default: all);
    `tree_size` is the draft nodes per verification step, for the cost
    model; `parameters` is the folder weights are bound from when `source`
    is text (an `import_model` result, changed by `opt`); `target="nvptx"`
    compiles the kernels for an NVIDIA GPU (PTX, JIT-compiled by the driver
    when the module loads). Raises CompileError with the diagnostics."""
    return Module(_compile(str(source), sparse=sparse, parallel=parallel,
                           entries=list(entries), tree_size=tree_size,
                           parameters="" if parameters is None else str(parameters),
                           target=target))


def opt(text, pipeline):
    """Runs a pass pipeline (hybrid-opt's syntax, e.g.
    "hybrid-sparsify-attention{topk=16},canonicalize" or a full
    "builtin.module(...)") over MLIR text; returns the new text."""
    # The passes run on the module itself: its own anchor is implied.
    anchor = "builtin.module("
    if pipeline.startswith(anchor) and pipeline.endswith(")"):
        pipeline = pipeline[len(anchor):-1]
    return _opt(text, pipeline)


def cost_report(text, *, context_length=4096, tree_size=0, chunk_sparsity=0.7):
    """The cost model's estimate of every hybrid op in `text` for one step
    (a dict each: op, loc, FLOPs, bytes, cache and state bytes, keys,
    experts), then the module's total (op "module")."""
    return _json.loads(_cost_report(text, context_length, tree_size,
                                    chunk_sparsity))


class Generator:
    """A Hugging Face checkpoint ready to generate text (`load`): the same
    engine, sampler and drafters as hybrid-generate, so the same tokens."""

    def __init__(self, impl):
        self._impl = impl

    @property
    def info(self):
        """vocab_size, bos_token, eos_token, dense_len (-1 without sparse
        layers), has_tokenizer, speculative."""
        return self._impl.info

    def generate(self, prompt, *, max_new_tokens=128, temperature=0.0,
                 top_k=0, top_p=1.0, seed=0, ignore_eos=False, add_bos=True,
                 tree_size=16, tree_depth=6, on_text=None):
        """Generates after `prompt` (text, or a list of token ids) and
        returns {"text", "tokens", "prompt_tokens", "stop", "stats"}.
        temperature 0 is greedy; top_k / top_p filter as hybrid-generate
        does; a draft (see `load`) makes it speculative with trees of
        `tree_size` nodes and `tree_depth` levels. `on_text(piece)` sees
        the text word by word as it is generated."""
        return self._impl.generate(prompt, max_new_tokens, temperature,
                                   top_k, top_p, seed, ignore_eos, add_bos,
                                   tree_size, tree_depth, on_text)

    def stream(self, prompt, **options):
        """The generated text word by word, as an iterator (generation runs
        on a thread of its own while the caller reads)."""
        import queue
        import threading
        pieces = queue.Queue()
        done = object()
        failure = []

        def run():
            try:
                self.generate(prompt, on_text=pieces.put, **options)
            except BaseException as e:  # re-raised in the reader
                failure.append(e)
            finally:
                pieces.put(done)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        while True:
            piece = pieces.get()
            if piece is done:
                break
            yield piece
        thread.join()
        if failure:
            raise failure[0]


def load(folder, *, context=4096, sparse="auto", draft=None, tree_size=16,
         draft_vocab=0, threads=0, cache_dir=None, target="cpu"):
    """Opens a Hugging Face checkpoint folder for generation (compiled
    once, then taken from the compiled-model cache: `cache_dir`, else
    $HYBRID_CACHE_DIR or ~/.cache/hybrid). `context` is the tokens the
    caches hold; `sparse="none"` makes InfLLM-V2 layers dense; `draft` is
    "lookup" (prompt lookup) or a draft checkpoint folder; `draft_vocab`
    > 0 makes the draft's head score only its that many most frequent
    tokens (FR-Spec; the draft folder's frequent_tokens.npy);
    `target="nvptx"` runs the model on an NVIDIA GPU."""
    from ._generate import _TextGenerator  # sentencepiece: loaded on use
    return Generator(_TextGenerator(str(folder), context, sparse,
                                    "" if draft is None else str(draft),
                                    tree_size, draft_vocab, threads,
                                    "" if cache_dir is None else str(cache_dir),
                                    target))


def bf16_to_f32(words):
    """bf16 values held as uint16 words (how bf16 arrays come out) as f32."""
    words = _np.ascontiguousarray(words, dtype=_np.uint16)
    return (words.astype(_np.uint32) << 16).view(_np.float32)


def f32_to_bf16(values):
    """f32 values rounded to nearest even bf16, as uint16 words (how bf16
    arguments go in)."""
    bits = _np.ascontiguousarray(values, dtype=_np.float32).view(_np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(_np.uint16)
