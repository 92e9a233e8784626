//===- HybridAttrs.td - Attributes of the hybrid dialect ---*- tablegen -*-===//
//
// Enums (GQA layout, recurrence update rule, MoE router, tree policy) and the
// InfLLM-V2 sparse configuration, and the parameter binding of weights.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_HYBRIDATTRS_TD
#define HYBRID_DIALECT_HYBRID_IR_HYBRIDATTRS_TD

include "hybrid/Dialect/Hybrid/IR/HybridDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//
// On their own enums print as `#hybrid.update_rule<gated>`; ops that spell
// one in their assembly (`linear_recurrence gated ...`) use the bare keyword
// through the `custom<EnumKeyword>` directive of HybridOps.cpp.
//===----------------------------------------------------------------------===//

def Hybrid_GQALayout : I32EnumAttr<"GQALayout", "KV-head sharing layout", [
    I32EnumAttrCase<"HeadMajor", 0, "head_major">,
    I32EnumAttrCase<"GroupPacked", 1, "group_packed">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::hybrid";
}
def Hybrid_GQALayoutAttr : EnumAttr<Hybrid_Dialect, Hybrid_GQALayout,
                                    "gqa_layout"> {
  let summary = "How the query heads of one KV group are scheduled";
  let description = [{
    `head_major`: every query head reads the tiles of its KV head on its own.
    `group_packed`: the G query heads of a KV group (times the draft-tree
    nodes during verification) are the rows of one matrix product per KV
    tile, so each KV byte is read once per group. Both compute the same
    result; `hybrid-select-gqa-layout` chooses from the cost model.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def Hybrid_ScoreStage : I32EnumAttr<"ScoreStage", "Attention scores stage", [
    I32EnumAttrCase<"Logits", 0, "logits">,
    I32EnumAttrCase<"Biased", 1, "biased">,
    I32EnumAttrCase<"Probabilities", 2, "probabilities">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::hybrid";
}
def Hybrid_ScoreStageAttr : EnumAttr<Hybrid_Dialect, Hybrid_ScoreStage,
                                     "score_stage"> {
  let summary = "Which scores hybrid.attention_scores returns";
  let description = [{
    `logits`: `scale * Q K^T`, softcapped when the op has `softcap`.
    `biased`: the logits plus the mask and the causal limit (-inf where a
    key is not visible). `probabilities`: their softmax over the keys (0 in
    a row that sees no key).
  }];
  let assemblyFormat = "`<` $value `>`";
}

def Hybrid_UpdateRule : I32EnumAttr<"UpdateRule",
    "State update rule of a linear recurrence (ONNX LinearAttention-27)", [
    I32EnumAttrCase<"Linear", 0, "linear">,
    I32EnumAttrCase<"Gated", 1, "gated">,
    I32EnumAttrCase<"Delta", 2, "delta">,
    I32EnumAttrCase<"GatedDelta", 3, "gated_delta">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::hybrid";
}
def Hybrid_UpdateRuleAttr : EnumAttr<Hybrid_Dialect, Hybrid_UpdateRule,
                                     "update_rule"> {
  let assemblyFormat = "`<` $value `>`";
}

def Hybrid_RouterKind : I32EnumAttr<"RouterKind", "MoE router", [
    I32EnumAttrCase<"BlockFFN", 0, "blockffn">,
    I32EnumAttrCase<"Deco", 1, "deco">,
    I32EnumAttrCase<"TopKSoftmax", 2, "topk_softmax">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::hybrid";
}
def Hybrid_RouterKindAttr : EnumAttr<Hybrid_Dialect, Hybrid_RouterKind,
                                     "router"> {
  let assemblyFormat = "`<` $value `>`";
}

def Hybrid_TreePolicy : I32EnumAttr<"TreePolicy",
    "How the nodes of a draft tree share one block selection", [
    I32EnumAttrCase<"Union", 0, "union">,
    I32EnumAttrCase<"Root", 1, "root">]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::hybrid";
}
def Hybrid_TreePolicyAttr : EnumAttr<Hybrid_Dialect, Hybrid_TreePolicy,
                                     "tree_policy"> {
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// SparseConfigAttr
//===----------------------------------------------------------------------===//

def Hybrid_SparseConfigAttr : Hybrid_Attr<"SparseConfig", "sparse_config"> {
  let summary = "InfLLM-V2 block-sparse attention parameters";
  let description = [{
    Mirrors MiniCPM4's `sparse_config`. Keys are compressed by mean pooling
    windows of `kernel_size` keys every `kernel_stride`; block scores
    max-pool the kernel scores with window
    `block_size/kernel_stride + kernel_size/kernel_stride - 1`, stride
    `block_size/kernel_stride` and padding `kernel_size/kernel_stride - 1`;
    the first `init_blocks` blocks are always attended, the
    `window_size/block_size` most recent blocks are covered by the local
    window, and `topk` further blocks are selected. Below `dense_len` keys,
    attention is dense.

    ```mlir
    #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16,
        block_size = 64, topk = 64, init_blocks = 1, window_size = 2048,
        dense_len = 8192>
    ```
  }];
  let parameters = (ins "int64_t":$kernel_size, "int64_t":$kernel_stride,
                        "int64_t":$block_size, "int64_t":$topk,
                        "int64_t":$init_blocks, "int64_t":$window_size,
                        "int64_t":$dense_len);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of most recent blocks the local window always covers.
    int64_t getLocalBlocks() const { return getWindowSize() / getBlockSize(); }
    /// Max-pool stride from kernel scores to block scores.
    int64_t getPoolStride() const { return getBlockSize() / getKernelStride(); }
    /// Max-pool padding (kernel windows that straddle a block's start).
    int64_t getPoolPadding() const {
      return getKernelSize() / getKernelStride() - 1;
    }
    /// Max-pool window length in kernel scores.
    int64_t getPoolKernel() const { return getPoolStride() + getPoolPadding(); }
  }];
}

//===----------------------------------------------------------------------===//
// ParameterAttr
//===----------------------------------------------------------------------===//

def Hybrid_ParameterAttr : Hybrid_Attr<"Parameter", "parameter"> {
  let summary = "A weight bound at load time from the model's own files";
  let description = [{
    Marks an entry-point argument as a module parameter: the caller does not
    pass it; the runtime memory-maps `length` bytes at `offset` of `file`
    (relative to the model's folder) and binds them by `key`. Weights thus
    never enter the IR or the compiled code, and the same parameter may feed
    several entry points.

    ```mlir
    func.func @main(%x: tensor<?x64xf32>,
        %w: tensor<64x64xf32> {hybrid.parameter = #hybrid.parameter<
            key = "fc.weight", file = "model.onnx", offset = 120,
            length = 16384>})
    ```

    `panels = P` (set by `hybrid-prepack-weights`, never by an importer)
    says that the file holds a row-major `[K, N]` matrix but the argument
    takes it as the tiled product's column panels,
    `tensor<ceil(N/P) x K x P>` (panel `j` holds columns `[jP, jP + P)`,
    row by row, the last one zero-padded): the runtime lays it out so when
    it binds the parameter, once, instead of every call packing it.

    `permutation = [...]` (set by `hybrid-hoist-weight-transposes`)
    says that the argument takes the file's tensor transposed, as
    `linalg.transpose` with that permutation would: argument dim `i` is the
    file's dim `permutation[i]`, the file holding the row-major tensor of
    that permuted-back shape. The runtime transposes it once when it binds
    it (a caller binding it passes that permuted-back shape).

    `rows = [...]` (set by an importer: FR-Spec's frequency-ranked head of
    a draft model) says that the argument takes those rows of the file's
    tensor, in that order: argument row `i` is the file's row `rows[i]`,
    the file holding `[V, ...]` with every row below `V`. The runtime
    gathers them once when it binds it (a caller binding it passes the
    file's whole tensor).

    A parameter has at most one of panels, a permutation and rows.
  }];
  let parameters = (ins "StringAttr":$key, "StringAttr":$file,
                        "int64_t":$offset, "int64_t":$length,
                        DefaultValuedParameter<"int64_t", "0">:$panels,
                        OptionalParameter<"DenseI64ArrayAttr">:$permutation,
                        OptionalParameter<"DenseI64ArrayAttr">:$rows);
  let builders = [
    AttrBuilder<(ins "StringAttr":$key, "StringAttr":$file,
                     "int64_t":$offset, "int64_t":$length), [{
      return $_get($_ctxt, key, file, offset, length, /*panels=*/0,
                   /*permutation=*/DenseI64ArrayAttr(),
                   /*rows=*/DenseI64ArrayAttr());
    }]>
  ];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The argument attribute that carries it.
    static constexpr StringLiteral getArgAttrName() {
      return StringLiteral("hybrid.parameter");
    }
    /// Whether the argument takes the file's tensor as it is stored (no
    /// panels, permutation or rows).
    bool isAsStored() const {
      return !getPanels() && !getPermutation() && !getRows();
    }
  }];
}

#endif // HYBRID_DIALECT_HYBRID_IR_HYBRIDATTRS_TD
