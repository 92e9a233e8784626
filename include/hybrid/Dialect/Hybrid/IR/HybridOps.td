//===- HybridOps.td - Operations of the hybrid dialect -----*- tablegen -*-===//
//
// The op set. The math each op computes is the contract in
// shared/reference/semantics.md; the descriptions below restate it for a
// reader of the generated docs.
//
//===----------------------------------------------------------------------===//

#ifndef HYBRID_DIALECT_HYBRID_IR_HYBRIDOPS_TD
#define HYBRID_DIALECT_HYBRID_IR_HYBRIDOPS_TD

include "hybrid/Dialect/Hybrid/IR/HybridDialect.td"
include "hybrid/Dialect/Hybrid/IR/HybridAttrs.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Hybrid_Float : AnyTypeOf<[F16, BF16, F32], "f16, bf16 or f32">;
def Hybrid_FloatTensor4D : TensorRankOf<[Hybrid_Float], [4]>;
def Hybrid_FloatTensor : RankedTensorOf<[Hybrid_Float]>;
def Hybrid_I32Tensor4D : TensorRankOf<[I32], [4]>;
def Hybrid_F32Tensor4D : TensorRankOf<[F32], [4]>;
def Hybrid_StateTensor : TensorRankOf<[F32], [4, 5]>;
def Hybrid_MaskTensor : TensorRankOf<[Hybrid_Float, I1], [2, 3, 4]>;
def Hybrid_TreeParents : TensorRankOf<[I32], [1]>;
def Hybrid_TokenTensor : TensorRankOf<[I32], [1]>;
def Hybrid_ScalarI32 : TensorRankOf<[I32], [0]>;

// Upstream's I64Attr reads back as uint64_t, which turns a negative axis or a
// bad count into a huge positive one before the verifier sees it.
def Hybrid_I64Attr : TypedSignlessIntegerAttrBase<I64, "int64_t",
    "64-bit signless integer attribute"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Hybrid_AttentionOp : Hybrid_Op<"attention", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor]> {
  let summary = "Dense multi-head attention with GQA (ONNX Attention-23/24)";
  let description = [{
    `output = softmax(scale * Q K^T + mask) V` per query head, where
    `query: [B, Hq, Sq, D]`, `key: [B, Hkv, Skv, D]`, `value: [B, Hkv, Skv,
    Dv]`, `Hq` a multiple of `Hkv`, and KV head `j` serves query heads
    `[j*G, (j+1)*G)` with `G = Hq / Hkv` (ONNX's repeat-interleave order).

    * `causal`: key `j` is visible to query row `i` iff `j <= offset + i`.
      `offset` defaults to `Skv - Sq` (bottom-right: the queries are the
      newest tokens); ONNX Attention without `past_key` aligns top-left
      (`offset = 0`), with `past_key` at the past length.
    * `mask`: additive (float) or boolean (`i1`, true = visible), rank 2 to 4,
      broadcast to `[B, Hq, Sq, Skv]`.
    * `softcap = c` applies `c * tanh(x / c)` to the scaled scores, before
      the mask. `scale` defaults to `1/sqrt(D)`.
    * `tree(%parents)`: the last `N` query rows and the last `N` keys are the
      nodes of a draft tree (`parents[0] = -1`, `parents[i] < i`); a node
      attends every key before the tree plus its ancestors and itself. Needs
      `causal`.
    * `layout`: the GQA schedule (`#hybrid.gqa_layout<...>`); a hint that
      never changes the result.
    * `key_length`: only the first `key_length` rows of `key` and `value`
      are keys (`Skv = key_length`); the rows after them are storage, such
      as the unused part of a KV cache allocated for the context limit, and
      are never read. The kernels read such a cache in place instead of a
      copy of its valid rows. More than the rows there are is a run-time
      error.

    A row whose keys are all masked gives 0, not NaN.

    ```mlir
    %o = hybrid.attention %q, %k, %v {causal}
        : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>
    ```
  }];
  let arguments = (ins Hybrid_FloatTensor4D:$query, Hybrid_FloatTensor4D:$key,
                       Hybrid_FloatTensor4D:$value,
                       Optional<Hybrid_MaskTensor>:$mask,
                       Optional<Index>:$offset,
                       Optional<Index>:$key_length,
                       Optional<Hybrid_TreeParents>:$parents,
                       UnitAttr:$causal,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$softcap,
                       OptionalAttr<Hybrid_GQALayoutAttr>:$layout);
  let results = (outs Hybrid_FloatTensor4D:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`offset` `(` $offset^ `)`)?
    (`key_length` `(` $key_length^ `)`)?
    (`tree` `(` $parents^ `:` type($parents) `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

def Hybrid_AttentionScoresOp : Hybrid_Op<"attention_scores", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "The scores of an attention (ONNX Attention's qk_matmul_output)";
  let description = [{
    The `[B, Hq, Sq, Skv]` scores that `hybrid.attention` with the same
    query, key, mask, offset, `causal`, `scale` and `softcap` computes
    internally, at the stage `stage` names: the logits, the biased logits
    (mask and causal limit applied, -inf where masked) or the softmax
    probabilities (0 in a row that sees no key). An inspection output: it
    materialises the whole score matrix, which `hybrid.attention` never does.

    ```mlir
    %s = hybrid.attention_scores %q, %k {causal, stage = #hybrid.score_stage<probabilities>}
        : tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32> -> tensor<1x8x4x6xf32>
    ```
  }];
  let arguments = (ins Hybrid_FloatTensor4D:$query, Hybrid_FloatTensor4D:$key,
                       Optional<Hybrid_MaskTensor>:$mask,
                       Optional<Index>:$offset,
                       UnitAttr:$causal,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$softcap,
                       Hybrid_ScoreStageAttr:$stage);
  let results = (outs Hybrid_FloatTensor4D:$scores);
  let assemblyFormat = [{
    $query `,` $key
    (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`offset` `(` $offset^ `)`)?
    attr-dict `:` type($query) `,` type($key) `->` type($scores)
  }];
  let hasVerifier = 1;
}

def Hybrid_BlockSelectOp : Hybrid_Op<"block_select", [Pure,
    AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "InfLLM-V2 block selection";
  let description = [{
    Chooses, for every query token and KV head, the key blocks that
    `hybrid.block_sparse_attention` attends. With the parameters of
    `config` (`#hybrid.sparse_config`):

    1. compressed keys per KV head: `K1[c] = mean(K[c*stride, c*stride +
       kernel))`, full windows only;
    2. kernel scores `s[t, c]`: the softmax over the visible kernels
       (`c*stride + kernel - 1 <= pos(t)`) of `scale * q_g(t) . K1[c]`,
       summed over the G query heads of the group;
    3. block scores: max-pool of `s` (see `#hybrid.sparse_config`);
    4. blocks `k < init_blocks` are forced; the local blocks
       `qb - local_blocks < k <= qb` and future blocks `k > qb` are excluded,
       with `qb = pos(t) / block_size`;
    5. the `topk` best block ids, ascending, padded with `-1`.

    `query: [B, Hq, Sq, D]`, `key: [B, Hkv, Skv, D]`; the result is
    `[B, Hkv, Sq, topk] x i32`. `offset` sets `pos(t) = offset + t` and
    `key_length` limits the keys to the first rows as in `hybrid.attention`.

    `compressed(%k1)` reads the compressed keys of step 1 instead of
    computing them: `k1: [B, Hkv, C, D] x f32` whose first
    `(Skv - kernel) / stride + 1` rows hold them (a cache that
    `hybrid.compress_keys` keeps up to date, so that a decode step does not
    re-read every key). `key`'s values are then not read, only its shape.

    With `tree(%parents)`, the last `N` query rows are draft-tree nodes that
    share one selection: `tree_policy = #hybrid.tree_policy<union>` (the
    default) takes the union of the nodes' selections, so the result's last
    dimension is `topk * N`; `root` takes the root's selection.
  }];
  let arguments = (ins Hybrid_FloatTensor4D:$query, Hybrid_FloatTensor4D:$key,
                       Optional<Index>:$offset,
                       Optional<Index>:$key_length,
                       Optional<Hybrid_F32Tensor4D>:$compressed,
                       Optional<Hybrid_TreeParents>:$parents,
                       Hybrid_SparseConfigAttr:$config,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<Hybrid_TreePolicyAttr>:$tree_policy);
  let results = (outs Hybrid_I32Tensor4D:$block_indices);
  let assemblyFormat = [{
    $query `,` $key
    (`offset` `(` $offset^ `)`)?
    (`key_length` `(` $key_length^ `)`)?
    (`compressed` `(` $compressed^ `:` type($compressed) `)`)?
    (`tree` `(` $parents^ `:` type($parents) `)`)?
    (`policy` custom<EnumKeyword>($tree_policy)^)?
    `config` `(` qualified($config) `)`
    attr-dict `:` type($query) `,` type($key)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The tree policy in effect (`union` when a tree is given without one).
    TreePolicy getEffectiveTreePolicy() {
      return getTreePolicy().value_or(TreePolicy::Union);
    }
  }];
}

def Hybrid_CompressKeysOp : Hybrid_Op<"compress_keys", [Pure,
    AttrSizedOperandSegments, AllTypesMatch<["compressed", "result"]>]> {
  let summary = "Keeps a cache of InfLLM-V2's compressed keys up to date";
  let description = [{
    Step 1 of `hybrid.block_select`, done incrementally. `compressed: [B,
    Hkv, C, D] x f32` holds the compressed keys `K1[c] = mean(key[c*stride,
    c*stride + kernel))` of the first `since` keys; the result holds those
    of the first `Skv` keys (`key_length`, or `key`'s sequence size): the
    rows `c` whose window ends in `(since, Skv]` are computed from `key`,
    every other row is left as it is. `since` defaults to 0 (every row).

    The new rows are written with one `tensor.insert_slice`, so a result
    written back into its cache argument bufferizes in place: a decode step
    costs at most one window of keys, not the whole cache. A cache with
    fewer rows than `Skv`'s kernels, or a key of another batch, head count
    or head dim, is a run-time error.

    ```mlir
    %k1 = hybrid.compress_keys %k1_cache, %keys key_length(%len) since(%pos)
        config(#cfg) : tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
    ```
  }];
  let arguments = (ins Hybrid_F32Tensor4D:$compressed,
                       Hybrid_FloatTensor4D:$key,
                       Optional<Index>:$key_length,
                       Optional<Index>:$since,
                       Hybrid_SparseConfigAttr:$config);
  let results = (outs Hybrid_F32Tensor4D:$result);
  let assemblyFormat = [{
    $compressed `,` $key
    (`key_length` `(` $key_length^ `)`)?
    (`since` `(` $since^ `)`)?
    `config` `(` qualified($config) `)`
    attr-dict `:` type($compressed) `,` type($key)
  }];
  let hasVerifier = 1;
}

def Hybrid_BlockSparseAttentionOp : Hybrid_Op<"block_sparse_attention", [Pure,
    AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "Attention over selected key blocks plus the local window";
  let description = [{
    InfLLM-V2 stage 2 / NOSA. Query `t` of KV group `h` attends exactly the
    keys in the blocks `block_indices[b, h, t, :]` (`[k*bs, (k+1)*bs)`, `-1`
    entries ignored) together with the local window (blocks
    `qb - local_blocks + 1 .. qb`), intersected with causality; the softmax
    runs over that set only. The result equals `hybrid.attention` under the
    corresponding mask, and its cost grows with the attended keys, not with
    `Skv`. When `Skv < dense_len` the op computes dense causal attention
    (InfLLM-V2's dense-sparse switch).

    `block_indices: [B, Hkv, Sq, K] x i32` usually comes from
    `hybrid.block_select`. An index `>= ceil(Skv / block_size)` is an error:
    the verifier reports it when the indices are constant and `Skv` static,
    the runtime otherwise. `offset`, `key_length`, `tree`, `scale`,
    `softcap` and `layout` mean what they mean on `hybrid.attention`; with
    a tree the nodes attend each other under the tree mask.
  }];
  let arguments = (ins Hybrid_FloatTensor4D:$query, Hybrid_FloatTensor4D:$key,
                       Hybrid_FloatTensor4D:$value,
                       Hybrid_I32Tensor4D:$block_indices,
                       Optional<Index>:$offset,
                       Optional<Index>:$key_length,
                       Optional<Hybrid_TreeParents>:$parents,
                       Hybrid_SparseConfigAttr:$config,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<F32Attr>:$softcap,
                       OptionalAttr<Hybrid_GQALayoutAttr>:$layout);
  let results = (outs Hybrid_FloatTensor4D:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value `blocks` `(` $block_indices `:`
    type($block_indices) `)`
    (`offset` `(` $offset^ `)`)?
    (`key_length` `(` $key_length^ `)`)?
    (`tree` `(` $parents^ `:` type($parents) `)`)?
    `config` `(` qualified($config) `)`
    attr-dict `:` type($query) `,` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear recurrence
//===----------------------------------------------------------------------===//

def Hybrid_LinearRecurrenceOp : Hybrid_Op<"linear_recurrence", [Pure,
    AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "Linear attention recurrence (ONNX LinearAttention-27)";
  let description = [{
    Per KV head, an fp32 state `S: [Dk, Dv]` (from `initial_state`, or 0)
    advances over the tokens `t`:

    * gated rules (`gated`, `gated_delta`): `S = S * exp(g_t)`, where the
      log-decay `g` is the `decay` operand, per head `[B, Hkv, T]` or per key
      dim `[B, Hkv, T, Dk]`, or Lightning Attention's constant per-head decay
      `g = -decay_slopes[h]`;
    * delta rules (`delta`, `gated_delta`): `v_t = beta_t * (v_t - S^T k_t)`
      with `beta: [B, Hkv or 1, T]`;
    * `S = S + k_t v_t^T`, and `o_t = scale * S^T q_t` for every query head
      of the group.

    `query: [B, Hq, T, Dk]`, `key: [B, Hkv, T, Dk]`, `value: [B, Hkv, T,
    Dv]`. Results: `output: [B, Hq, T, Dv]` and the final state
    `[B, Hkv, Dk, Dv] x f32`. `chunk_size` is a schedule hint for the
    chunked (prefill) form; it never changes the result.

    With `tree(%parents)` the last `N` tokens are draft-tree nodes: node `i`
    starts from its parent's state (the root from the state after the
    prefix), `S(i) = decay_i * S(parent(i)) + k_i v_i^T`, and the second
    result holds every node's state, `[B, Hkv, N, Dk, Dv]`, from which
    `hybrid.kv_compact` selects the accepted one. No replay.
  }];
  let arguments = (ins Hybrid_FloatTensor4D:$query, Hybrid_FloatTensor4D:$key,
                       Hybrid_FloatTensor4D:$value,
                       Optional<Hybrid_FloatTensor>:$decay,
                       Optional<Hybrid_FloatTensor>:$beta,
                       Optional<TensorRankOf<[F32], [4]>>:$initial_state,
                       Optional<Hybrid_TreeParents>:$parents,
                       Hybrid_UpdateRuleAttr:$update_rule,
                       OptionalAttr<F32Attr>:$scale,
                       OptionalAttr<DenseF32ArrayAttr>:$decay_slopes,
                       OptionalAttr<Hybrid_I64Attr>:$chunk_size);
  let results = (outs Hybrid_FloatTensor4D:$output,
                      Hybrid_StateTensor:$final_state);
  let assemblyFormat = [{
    custom<EnumKeyword>($update_rule) $query `,` $key `,` $value
    (`decay` `(` $decay^ `:` type($decay) `)`)?
    (`beta` `(` $beta^ `:` type($beta) `)`)?
    (`state` `(` $initial_state^ `:` type($initial_state) `)`)?
    (`tree` `(` $parents^ `:` type($parents) `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True for `gated` and `gated_delta`.
    bool isGated() {
      return getUpdateRule() == UpdateRule::Gated ||
             getUpdateRule() == UpdateRule::GatedDelta;
    }
    /// True for `delta` and `gated_delta`.
    bool isDelta() {
      return getUpdateRule() == UpdateRule::Delta ||
             getUpdateRule() == UpdateRule::GatedDelta;
    }
  }];
}

//===----------------------------------------------------------------------===//
// Chunk-level MoE
//===----------------------------------------------------------------------===//

def Hybrid_ChunkMoEOp : Hybrid_Op<"chunk_moe", [Pure, AttrSizedOperandSegments,
    InferTypeOpAdaptor]> {
  let summary = "Mixture of experts with chunk-level expert loading (BlockFFN)";
  let description = [{
    `input: [T, Dm]`, router `router_weight: [E, Dm]`, experts
    `expert_up: [E, Be, Dm]` and `expert_down: [E, Dm, Be]`; result
    `[T, Dm]`. Router kinds:

    * `blockffn`: `r = RMSNorm(ReLU(x W_r^T))` with weight
      `router_norm: [E]` and `epsilon`; no top-k, an expert with `r_te = 0`
      is inactive for token `t`;
    * `deco`: `r = ReLU(x W_r^T) * router_scale` (`router_scale: [E]`);
    * `topk_softmax`: softmax over the `top_k` largest logits (Mixtral).

    `y_t = sum over active e of r_te * W_e SiLU(U_e x_t)`, plus the shared
    expert `shared_down SiLU(shared_up x_t)` when given.

    `chunk` groups consecutive tokens (or the nodes of one draft tree): the
    result is exactly the token-level one, but the compiled code reads each
    expert in the chunk's active union once per chunk and no other expert.

    The weights may be stored in another float type than `input` (a bf16
    checkpoint under f32 activations): each is widened as it is read, so
    an expert no chunk activates is neither read nor converted.
  }];
  let arguments = (ins TensorRankOf<[Hybrid_Float], [2]>:$input,
                       TensorRankOf<[Hybrid_Float], [2]>:$router_weight,
                       Optional<TensorRankOf<[Hybrid_Float], [1]>>:$router_norm,
                       Optional<TensorRankOf<[Hybrid_Float], [1]>>:$router_scale,
                       TensorRankOf<[Hybrid_Float], [3]>:$expert_up,
                       TensorRankOf<[Hybrid_Float], [3]>:$expert_down,
                       Optional<TensorRankOf<[Hybrid_Float], [2]>>:$shared_up,
                       Optional<TensorRankOf<[Hybrid_Float], [2]>>:$shared_down,
                       Hybrid_RouterKindAttr:$router,
                       Hybrid_I64Attr:$chunk,
                       OptionalAttr<Hybrid_I64Attr>:$top_k,
                       DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs TensorRankOf<[Hybrid_Float], [2]>:$output);
  let assemblyFormat = [{
    custom<EnumKeyword>($router) $input `,` $router_weight
    (`norm` `(` $router_norm^ `:` type($router_norm) `)`)?
    (`route_scale` `(` $router_scale^ `:` type($router_scale) `)`)?
    `experts` `(` $expert_up `,` $expert_down `:` type($expert_up) `,`
    type($expert_down) `)`
    (`shared` `(` $shared_up^ `,` $shared_down `:` type($shared_up) `,`
    type($shared_down) `)`)?
    attr-dict `:` type($input) `,` type($router_weight)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Speculative decoding
//===----------------------------------------------------------------------===//

def Hybrid_TreeVerifyOp : Hybrid_Op<"tree_verify", [Pure,
    InferTypeOpAdaptor]> {
  let summary = "Greedy acceptance over a draft tree (EAGLE-2, Medusa)";
  let description = [{
    `parents: [N]` (`parents[0] = -1`: the root is the last committed
    token; `parents[i] < i`), `draft_tokens: [N]`, and `target`: the target
    model's logits `[N, V]` or its argmax ids `[N]`.

    With `a[i] = argmax(target[i])`, node `i > 0` is correct iff
    `draft_tokens[i] == a[parents[i]]`, and accepted iff it and all its
    non-root ancestors are correct. The deepest accepted node wins (ties: the
    lowest index). Results:

    * `path: [N] x i32`: the node ids root..accepted node, padded with `-1`;
    * `length: tensor<i32>`: the path's length `depth + 1`, which is also the
      number of tokens emitted this step;
    * `bonus: tensor<i32>`: `a[accepted node]`.

    The emitted tokens are `draft_tokens[path[1..length)]` then `bonus`.
  }];
  let arguments = (ins Hybrid_TreeParents:$parents,
                       Hybrid_TokenTensor:$draft_tokens,
                       TensorRankOf<[Hybrid_Float, I32, I64], [1, 2]>:$target);
  let results = (outs Hybrid_TokenTensor:$path, Hybrid_ScalarI32:$length,
                      Hybrid_ScalarI32:$bonus);
  let assemblyFormat = [{
    $parents `,` $draft_tokens `,` $target attr-dict `:` type($parents) `,`
    type($draft_tokens) `,` type($target)
  }];
  let hasVerifier = 1;
}

def Hybrid_KVCompactOp : Hybrid_Op<"kv_compact", [Pure,
    AttrSizedOperandSegments, InferTypeOpAdaptor]> {
  let summary = "Commit the accepted draft path to the KV cache and state";
  let description = [{
    After `hybrid.tree_verify`: the draft tree's `N` KV rows sit at cache
    positions `prefix_len + i`. The rows of the accepted path
    (`path[0 .. length)`) move to the contiguous positions
    `prefix_len .. prefix_len + length - 1`; the other draft rows are
    dropped (left as they are past the committed length).

    `caches` are `[B, H, S, D]` KV caches (keys and values of any number of
    layers); `node_states` are per-node recurrent states
    `[B, H, N, Dk, Dv]` from `hybrid.linear_recurrence` with a tree, from
    which the accepted node's state `[B, H, Dk, Dv]` is selected. Results:
    the compacted caches, then the selected states, in operand order.

    `keep(%states)` gives, one per node-state operand, the state committed
    before the tree `[B, H, Dk, Dv]`: a call that fails its checks (a
    malformed path, a length out of range) then returns it unchanged as
    the selected state, so that writing the result back loses nothing.
    Without it such a call selects zeros.

    The caches are updated by one `tensor.insert_slice` per moved row, so a
    result written back into its cache argument (`hybrid.write_back`)
    bufferizes in place: a commit costs the accepted rows, not the cache.
  }];
  let arguments = (ins Hybrid_TreeParents:$path, Hybrid_ScalarI32:$length,
                       Index:$prefix_len,
                       Variadic<Hybrid_FloatTensor4D>:$caches,
                       Variadic<TensorRankOf<[F32], [5]>>:$node_states,
                       Variadic<Hybrid_F32Tensor4D>:$kept_states);
  let results = (outs Variadic<Hybrid_FloatTensor>:$results);
  let assemblyFormat = [{
    $path `,` $length `at` $prefix_len
    (`caches` `(` $caches^ `:` type($caches) `)`)?
    (`states` `(` $node_states^ `:` type($node_states) `)`)?
    (`keep` `(` $kept_states^ `:` type($kept_states) `)`)?
    attr-dict `:` type($path) `,` type($length)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Normalisation and position encoding
//===----------------------------------------------------------------------===//

def Hybrid_CumSumOp : Hybrid_Op<"cumsum", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "Cumulative sum along a run-time axis (ONNX CumSum-14)";
  let description = [{
    `output[..., k, ...]` is the sum of `input` over the axis up to and
    including `k` (before `k` with `exclusive`; from the end with
    `reverse`). `axis` is a run-time integer (a 0-D or one-element 1-D
    tensor), negative counting from the end; an axis outside `[-rank,
    rank)` is a run-time error. Integers add exactly; floats in their own
    type.
  }];
  let arguments = (ins RankedTensorOf<[Hybrid_Float, F64, I32, I64]>:$input,
                       TensorOf<[I32, I64]>:$axis,
                       UnitAttr:$exclusive, UnitAttr:$reverse);
  let results = (outs RankedTensorOf<[Hybrid_Float, F64, I32, I64]>:$output);
  let assemblyFormat = [{
    $input `,` $axis attr-dict `:` type($input) `,` type($axis)
  }];
  let hasVerifier = 1;
}

def Hybrid_TopKOp : Hybrid_Op<"topk", [Pure]> {
  let summary = "The k largest or smallest elements along an axis (ONNX TopK-24)";
  let description = [{
    Along `axis`, the `k` largest (or, without `largest`, smallest) elements
    of `input` in order (largest first; smallest first without `largest`),
    equal values by lower index first, and their indices. `k` is a run-time
    integer (a one-element tensor); outside `[0, size of axis]` it is a
    run-time error. The results have `input`'s shape with the axis sized
    `k`.
  }];
  let arguments = (ins RankedTensorOf<[Hybrid_Float, F64, I32, I64]>:$input,
                       TensorOf<[I64]>:$k, Hybrid_I64Attr:$axis,
                       UnitAttr:$largest);
  let results = (outs RankedTensorOf<[Hybrid_Float, F64, I32, I64]>:$values,
                      RankedTensorOf<[I64]>:$indices);
  let assemblyFormat = [{
    $input `,` $k attr-dict `:` type($input) `,` type($k) `->` type($values)
    `,` type($indices)
  }];
  let hasVerifier = 1;
}

def Hybrid_RMSNormOp : Hybrid_Op<"rms_norm", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "RMS normalisation (ONNX RMSNormalization-23)";
  let description = [{
    `output = input / sqrt(mean(input^2) + epsilon) * scale`, the mean taken
    over the dimensions `[axis, rank)` in fp32; `scale` broadcasts to those
    dimensions. `axis` may be negative.
  }];
  let arguments = (ins Hybrid_FloatTensor:$input, Hybrid_FloatTensor:$scale,
                       DefaultValuedAttr<Hybrid_I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Hybrid_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` type($input) `,` type($scale)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// `axis` made non-negative.
    int64_t getNormalizedAxis() {
      int64_t rank = getInput().getType().getRank();
      return getAxis() < 0 ? getAxis() + rank : getAxis();
    }
  }];
}

def Hybrid_RotaryEmbeddingOp : Hybrid_Op<"rotary_embedding", [Pure,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "Rotary position embedding (ONNX RotaryEmbedding-23)";
  let description = [{
    Rotates the first `rotary_embedding_dim` features of each head (all of
    them when absent) by the angles in `cos_cache`/`sin_cache`; the rest
    pass through. `input` is `[B, H, S, D]`, or `[B, S, H*D]` with
    `num_heads`. With `position_ids: [B, S]` the caches are
    `[max_pos, rotary_dim/2]` tables indexed by position; without, they are
    `[B, S, rotary_dim/2]`. `interleaved` pairs features `(2i, 2i+1)`,
    otherwise `(i, i + rotary_dim/2)`.
  }];
  let arguments = (ins TensorRankOf<[Hybrid_Float], [3, 4]>:$input,
                       TensorRankOf<[Hybrid_Float], [2, 3]>:$cos_cache,
                       TensorRankOf<[Hybrid_Float], [2, 3]>:$sin_cache,
                       Optional<TensorRankOf<[I32, I64], [2]>>:$position_ids,
                       UnitAttr:$interleaved,
                       OptionalAttr<Hybrid_I64Attr>:$num_heads,
                       OptionalAttr<Hybrid_I64Attr>:$rotary_embedding_dim);
  let results = (outs TensorRankOf<[Hybrid_Float], [3, 4]>:$output);
  let assemblyFormat = [{
    $input `,` $cos_cache `,` $sin_cache
    (`positions` `(` $position_ids^ `:` type($position_ids) `)`)?
    attr-dict `:` type($input) `,` type($cos_cache) `,` type($sin_cache)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The entry-point interface: run-time conditions, in-place arguments
//===----------------------------------------------------------------------===//

def Hybrid_CheckOp : Hybrid_Op<"check", [MemoryEffects<[MemWrite]>]> {
  let summary = "A condition on run-time values that the invocation needs";
  let description = [{
    When `condition` is false the invocation fails with `message`: the
    caller gets an error status naming it instead of results. The ops after
    it still run, so whatever they read or write must stay in bounds either
    way (clamp what the condition guards); their results are discarded with
    the failed call. Importers use it for what only the inputs decide: a
    token id inside the vocabulary, a KV cache long enough for the step.

    ```mlir
    hybrid.check %fits, "the KV cache holds 4096 positions; this step needs more"
    ```
  }];
  let arguments = (ins I1:$condition, StrAttr:$message);
  let assemblyFormat = "$condition `,` $message attr-dict";
}

def Hybrid_WriteBackOp : Hybrid_Op<"write_back", [
    MemoryEffects<[MemWrite]>, AllTypesMatch<["value", "argument"]>]> {
  let summary = "Writes a tensor into an in-place argument of its function";
  let description = [{
    When the function returns, `argument` (a tensor argument of the
    enclosing function, marked `hybrid.inout` on an entry point) holds
    `value`: the caller's buffer is updated in place instead of a new
    result being returned. With `value` computed from `argument` by
    in-place ops (`tensor.insert_slice` into it, as a KV cache update is),
    bufferization writes straight into the caller's buffer and nothing is
    copied; otherwise `value` is copied in. A KV cache allocated once for
    the context limit is updated this way, one step at a time.

    ```mlir
    %new = tensor.insert_slice %k into %cache[0, 0, %pos, 0] [1, 8, 1, 64] [1, 1, 1, 1]
        : tensor<1x8x1x64xf32> into tensor<1x8x?x64xf32>
    hybrid.write_back %new into %cache : tensor<1x8x?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$value, AnyRankedTensor:$argument);
  let assemblyFormat = "$value `into` $argument attr-dict `:` type($value)";
  let hasVerifier = 1;
}

#endif // HYBRID_DIALECT_HYBRID_IR_HYBRIDOPS_TD
