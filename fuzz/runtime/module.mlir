// The module hybrid-fuzz-runtime calls with arbitrary shapes, dtypes and
// values (compiled with AddressSanitizer's checks at build time): every
// dynamic size and index operand comes from the fuzzer, so each op's
// run-time checks must refuse what its kernel cannot run.

#cfg = #hybrid.sparse_config<kernel_size = 4, kernel_stride = 2, block_size = 8,
    topk = 2, init_blocks = 1, window_size = 16, dense_len = 0>

// Causal GQA attention over a cache read in place (offset, key_length).
func.func @attention(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>,
                     %v: tensor<1x2x?x8xf32>, %pos: index, %len: index)
    -> tensor<1x4x?x8xf32> {
  %o = hybrid.attention %q, %k, %v offset(%pos) key_length(%len) {causal}
      : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
  return %o : tensor<1x4x?x8xf32>
}

// Attention over a draft tree (parents from the caller).
func.func @tree_attention(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>,
                          %v: tensor<1x2x?x8xf32>, %tree: tensor<?xi32>)
    -> tensor<1x4x?x8xf32> {
  %o = hybrid.attention %q, %k, %v tree(%tree : tensor<?xi32>) {causal}
      : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
  return %o : tensor<1x4x?x8xf32>
}

// InfLLM-V2: block selection and block-sparse attention, the block
// indices from the caller too.
func.func @sparse(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>,
                  %v: tensor<1x2x?x8xf32>, %blocks: tensor<1x2x?x?xi32>)
    -> (tensor<1x2x?x2xi32>, tensor<1x4x?x8xf32>) {
  %s = hybrid.block_select %q, %k config(#cfg)
      : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%blocks : tensor<1x2x?x?xi32>)
      config(#cfg) : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
  return %s, %o : tensor<1x2x?x2xi32>, tensor<1x4x?x8xf32>
}

// Gated linear recurrence from a state, over a draft tree.
func.func @recurrence(%q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>,
                      %v: tensor<1x2x?x8xf32>, %g: tensor<1x2x?xf32>,
                      %s0: tensor<1x2x8x8xf32>, %tree: tensor<?xi32>)
    -> (tensor<1x2x?x8xf32>, tensor<1x2x?x8x8xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<1x2x?xf32>)
      state(%s0 : tensor<1x2x8x8xf32>) tree(%tree : tensor<?xi32>)
      : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
  return %o, %s : tensor<1x2x?x8xf32>, tensor<1x2x?x8x8xf32>
}

// RoPE by position ids.
func.func @rotate(%x: tensor<1x4x?x8xf32>, %cos: tensor<?x4xf32>,
                  %sin: tensor<?x4xf32>, %pos: tensor<1x?xi64>)
    -> tensor<1x4x?x8xf32> {
  %0 = hybrid.rotary_embedding %x, %cos, %sin positions(%pos : tensor<1x?xi64>)
      : tensor<1x4x?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>
  return %0 : tensor<1x4x?x8xf32>
}

// BlockFFN MoE.
func.func @moe(%x: tensor<?x16xf32>, %wr: tensor<4x16xf32>, %gamma: tensor<4xf32>,
               %up: tensor<4x8x16xf32>, %down: tensor<4x16x8xf32>)
    -> tensor<?x16xf32> {
  %0 = hybrid.chunk_moe blockffn %x, %wr norm(%gamma : tensor<4xf32>)
      experts(%up, %down : tensor<4x8x16xf32>, tensor<4x16x8xf32>) {chunk = 4}
      : tensor<?x16xf32>, tensor<4x16xf32>
  return %0 : tensor<?x16xf32>
}

// Tree verification, then the accepted path moved in a cache and a
// per-node state picked.
func.func @verify_commit(%parents: tensor<?xi32>, %draft: tensor<?xi32>,
                         %logits: tensor<?x?xf32>, %cache: tensor<1x2x?x8xf32>,
                         %states: tensor<1x2x?x8x8xf32>, %prefix: index)
    -> (tensor<?xi32>, tensor<i32>, tensor<i32>, tensor<1x2x?x8xf32>,
        tensor<1x2x8x8xf32>) {
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %logits
      : tensor<?xi32>, tensor<?xi32>, tensor<?x?xf32>
  %c, %s = hybrid.kv_compact %path, %len at %prefix
      caches(%cache : tensor<1x2x?x8xf32>)
      states(%states : tensor<1x2x?x8x8xf32>) : tensor<?xi32>, tensor<i32>
  return %path, %len, %bonus, %c, %s
      : tensor<?xi32>, tensor<i32>, tensor<i32>, tensor<1x2x?x8xf32>,
        tensor<1x2x8x8xf32>
}

// Per-line ops along a run-time axis and k.
func.func @lines(%x: tensor<?x?xf32>, %axis: tensor<1xi64>, %kk: tensor<1xi64>)
    -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xi64>) {
  %c = hybrid.cumsum %x, %axis : tensor<?x?xf32>, tensor<1xi64>
  %v, %i = hybrid.topk %x, %kk {axis = 1 : i64, largest}
      : tensor<?x?xf32>, tensor<1xi64> -> tensor<?x?xf32>, tensor<?x?xi64>
  return %c, %v, %i : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xi64>
}
