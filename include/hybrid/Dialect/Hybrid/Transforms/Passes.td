//===- Passes.td - Hybrid-level transformation passes ------*- tablegen -*-===//

#ifndef HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_TD
#define HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

// Options every cost-model-driven pass takes.
defvar CostModelOptions = [
  Option<"contextLength", "context-length", "int64_t", /*default=*/"4096",
         "Keys in the KV cache for dynamic key lengths">,
  Option<"treeSize", "tree-size", "int64_t", /*default=*/"0",
         "Draft-tree nodes verified per step (0: plain decoding)">,
  Option<"chunkSparsity", "chunk-sparsity", "double", /*default=*/"0.7",
         "Fraction of experts a MoE chunk skips">,
];

def HybridExportEntryPoints : Pass<"hybrid-export-entry-points", "ModuleOp"> {
  let summary = "Mark public functions as runtime entry points";
  let description = [{
    Every public `func.func` with a body becomes an entry point of the
    compiled module: it gets `llvm.emit_c_interface`, so the runtime can call
    it through the stable C ABI (`_mlir_ciface_<name>`, memref descriptors by
    pointer), whatever its signature. The entry points' tensor-level
    signatures (with parameters, their layouts, in-out arguments and the
    model's input names) are recorded as the module's `hybrid.entry_points`
    (JSON), which the compiled module carries as its metadata; the
    importers' argument notes are then dropped.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def HybridPrepackWeights : Pass<"hybrid-prepack-weights", "ModuleOp"> {
  let summary = "Bind weights that products read as B in the tiled product's panels";
  let description = [{
    A weight parameter (`#hybrid.parameter`, f32 `[K, N]`) that entry points
    read only as the right operand of plain `linalg.matmul`s (an ONNX
    `x @ W`) is bound once, at load time, in the layout the tiled product
    reads: `tensor<ceil(N/P) x K x P>`, panels of `P = panel-cols` columns
    (the register tile's width), the last zero-padded. The parameter gets
    `panels = P` (the runtime packs the file's rows when it binds it) and
    each product reads `linalg.unpack` of it, which the tiled product
    consumes directly (the unpack is never materialised there). Without it
    every call packs B again: 14-18% of a 256 x 2048 x 8192 product. Weights
    narrower than one panel, and weights anything else reads, keep their
    layout.
  }];
  let options = [
    Option<"panelCols", "panel-cols", "int64_t", /*default=*/"32",
           "Columns per panel (the target's register tile width)">,
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def HybridHoistWeightTransposes
    : Pass<"hybrid-hoist-weight-transposes", "ModuleOp"> {
  let summary = "Bind weights that are only read transposed in that layout";
  let description = [{
    A weight parameter (`#hybrid.parameter`) whose every use is a
    `linalg.transpose`, possibly through `tensor.expand_shape` /
    `tensor.collapse_shape` (which do not move bytes), is bound transposed:
    the argument takes the transpose's type, the parameter gets the
    transpose's `permutation` (the runtime transposes the file's tensor
    once, when it binds it), and the transposes read the argument. Without
    it every call transposes the weight again: BlockFFN's `down_proj`,
    stored `[H, E * Be]` and read per expert as `[E, H, Be]`, cost 15% of a
    decode step of the bundled model. Weights read in more than one layout
    keep theirs.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def HybridCostReport : Pass<"hybrid-cost-report", "ModuleOp"> {
  let summary = "Print the cost model's estimates as JSON";
  let description = [{
    One JSON line per hybrid op (its name, location, FLOPs, bytes moved,
    KV-cache and recurrent-state bytes, dense versus attended keys, active
    versus total experts) and one for the module, for one step at the given
    context length and draft-tree size. The IR is unchanged.
  }];
  let options = CostModelOptions;
}

def HybridSelectGQALayout : Pass<"hybrid-select-gqa-layout", "ModuleOp"> {
  let summary = "Choose head-major or group-packed for each attention op";
  let description = [{
    Asks the cost model how many K/V bytes each layout reads on the step's
    shapes (query rows, G, head dims, context length) and records the cheaper
    one in the op's `layout` attribute (ties: head-major). The lowering
    honours it: group-packed puts the G heads of a KV group into one block of
    rows, so decode (one query row) and verification (tree-size rows) read
    each K/V byte once per group instead of once per head. Ops that already
    have a layout keep it unless `force`. With `report`, a remark on each op
    says why.
  }];
  let options = !listconcat(CostModelOptions, [
    Option<"force", "force", "bool", /*default=*/"false",
           "Also replace layouts already set">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark with the estimate behind each choice">,
  ]);
}

def HybridSparsifyAttention : Pass<"hybrid-sparsify-attention", "ModuleOp"> {
  let summary = "Turn dense attention into block selection + block-sparse attention";
  let description = [{
    Training-free sparse attention: every causal `hybrid.attention` without a
    mask (optionally only the ones listed in `layers`, counted in module
    order from 0) becomes `hybrid.block_select` followed by
    `hybrid.block_sparse_attention` with the given sparse configuration
    (MiniCPM4's defaults). Below `dense-len` keys the result is exactly the
    dense op's (the op's dense fallback); above, it attends the selected
    blocks and the local window.
  }];
  let options = [
    Option<"kernelSize", "kernel-size", "int64_t", "32", "Compression kernel">,
    Option<"kernelStride", "kernel-stride", "int64_t", "16", "Compression stride">,
    Option<"blockSize", "block-size", "int64_t", "64", "Keys per block">,
    Option<"topk", "topk", "int64_t", "64", "Selected blocks per row">,
    Option<"initBlocks", "init-blocks", "int64_t", "1", "Always-selected first blocks">,
    Option<"windowSize", "window-size", "int64_t", "2048", "Local window in keys">,
    Option<"denseLen", "dense-len", "int64_t", "8192", "Dense below this many keys">,
    ListOption<"layers", "layers", "int64_t",
               "Indices of the attention ops to sparsify (default: all)">,
  ];
  let dependentDialects = ["mlir::hybrid::HybridDialect"];
}

def HybridDenseSparseSwitch : Pass<"hybrid-dense-sparse-switch", "ModuleOp"> {
  let summary = "InfLLM-V2's dense-sparse switch as control flow";
  let description = [{
    A `hybrid.block_sparse_attention` fed by a `hybrid.block_select` over the
    same query and keys becomes `scf.if (Skv < dense_len)`: dense
    `hybrid.attention` on the short side, block selection plus block-sparse
    attention on the long side, decided at run time on the dynamic length.
    Short sequences then skip the selection entirely.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
                           "mlir::tensor::TensorDialect"];
}

def HybridFuseSparseSpeculation
    : Pass<"hybrid-fuse-sparse-speculation", "ModuleOp"> {
  let summary = "Fuse sparsity with speculative verification over a draft tree";
  let description = [{
    In every function that verifies a draft tree (`hybrid.tree_verify
    %parents, ...`):

    1. a `hybrid.block_sparse_attention` over the tree whose blocks come from
       a tree-less `hybrid.block_select` gets one selection for the whole
       tree: the selection takes `tree(%parents)` and `policy`
       (`union` of the nodes' selections, or the `root`'s);
    2. a `hybrid.chunk_moe` over exactly the tree's N tokens takes the tree
       as its chunk (`chunk = N`), so the experts the tree activates are read
       once (BlockFFN's fusion of activation sparsity with speculation);
    3. a tree-less `hybrid.linear_recurrence` over exactly the tree's tokens
       computes per-node states from each node's parent (`tree(%parents)`),
       and its committed state becomes the accepted node's, selected by a
       `hybrid.kv_compact` after the verification: no replay.

    Ops whose shapes or uses do not fit are left alone.
  }];
  let options = [
    Option<"policy", "policy", "std::string", /*default=*/"\"union\"",
           "How the tree's nodes share one block selection: union or root">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark on every op the pass fuses">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def HybridRaiseAttention : Pass<"hybrid-raise-attention", "ModuleOp"> {
  let summary = "Recognise attention spelled as MatMul, scale, mask, Softmax, MatMul";
  let description = [{
    Replaces the linalg/tensor spelling of attention that exporters produce
    (`linalg.batch_matmul` of Q with `linalg.transpose`d K, an optional
    constant scaling and additive mask, `linalg.softmax` over the keys, and
    `linalg.batch_matmul` with V, on `[B x heads, S, D]` collapses of
    `[B, H, S, D]` tensors) with one `hybrid.attention`. K and V repeated to
    the query heads by `linalg.broadcast` (GQA's repeat-interleave) are traced
    back to their KV heads, so the op sees `Hq = G x Hkv`. It also recognises
    RMSNorm over the last dimension (square, sum, divide by the width, add a
    constant epsilon, rsqrt or sqrt, scale by a weight) as `hybrid.rms_norm`,
    and Hugging Face's rotate-half rotary embedding with cos/sin tables made
    of two equal halves as `hybrid.rotary_embedding`. Chains that differ
    (non-zero accumulators, softmax over another dimension, non-constant
    scales or epsilons, tables whose halves may differ) are left alone.
  }];
  let dependentDialects = ["mlir::hybrid::HybridDialect",
                           "mlir::tensor::TensorDialect"];
}

def HybridDecomposeSoftmax : Pass<"hybrid-decompose-softmax", "ModuleOp"> {
  let summary = "Lower linalg.softmax left after raising to linalg ops";
  let description = [{
    Importers spell Softmax as `linalg.softmax`, the form
    `hybrid-raise-attention` recognises inside attention. The ones left (a
    softmax that is not part of an attention) become upstream's numerically
    stable decomposition: a max reduction, `exp(x - max)`, a sum reduction
    and a division, as `linalg.generic` ops the loop lowering takes.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::math::MathDialect"];
}

def HybridMaterializeWriteBacks
    : Pass<"hybrid-materialize-write-backs", "ModuleOp"> {
  let summary = "Turn hybrid.write_back into bufferization's in-place write";
  let description = [{
    Right before One-Shot Bufferize: each `hybrid.write_back %v into %arg`
    becomes `bufferization.materialize_in_destination %v in %arg`, which
    bufferization turns into a write into the argument's buffer (nothing
    at all when `%v` was computed in place from `%arg`). `hybrid.write_back`
    exists because the upstream op in its tensor form has no side effect:
    canonicalisation would erase it while its result is unused.
  }];
  let dependentDialects = ["mlir::bufferization::BufferizationDialect"];
}

def HybridOutlineKernels : Pass<"hybrid-outline-kernels", "ModuleOp"> {
  let summary = "Give structurally identical kernels one function, called per use";
  let description = [{
    Moves every hybrid op, every linalg op on tensors and every elementwise
    op on tensors (with the `tensor.empty` and constant `linalg.fill` inits
    only it uses) into a private function and replaces it with a call. Ops that are the same up to their operands
    (same op, attributes, types, and constants) share one function, so a
    model whose layers repeat the same shapes is lowered, optimised and
    code-generated once per distinct kernel instead of once per layer:
    compile time and memory grow with the kinds of layers, not their count.
    Operands defined outside become arguments; constants are cloned in.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

#endif // HYBRID_DIALECT_HYBRID_TRANSFORMS_PASSES_TD
