// A MiniCPM-SALA-style hybrid stack, small enough to read:
//   * one block-sparse attention layer (InfLLM-V2) for every three
//     linear-recurrence layers (Lightning Attention, gated DeltaNet);
//   * a BlockFFN MoE after every mixer (ReLU + RMSNorm router, 8-token chunks);
//   * one speculative verification step over an 8-node draft tree
//     (tree attention + per-node recurrent states, greedy acceptance, commit).
// Model dim 256, 4 query heads and 2 KV heads of 64, 16 experts of width 64.
// The sequence length is dynamic: one module serves every length.

#sparse = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16,
    block_size = 64, topk = 16, init_blocks = 1, window_size = 256,
    dense_len = 2048>

module {
  // [T, 256] hidden states -> [1, 2, T, 64] key/value heads.
  func.func private @split_heads(%x: tensor<?x256xf32>, %w: tensor<256x128xf32>)
      -> tensor<1x2x?x64xf32> {
    %c0 = arith.constant 0 : index
    %t = tensor.dim %x, %c0 : tensor<?x256xf32>
    %zero = arith.constant 0.0 : f32
    %init = tensor.empty(%t) : tensor<?x128xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x128xf32>) -> tensor<?x128xf32>
    %proj = linalg.matmul ins(%x, %w : tensor<?x256xf32>, tensor<256x128xf32>)
                          outs(%acc : tensor<?x128xf32>) -> tensor<?x128xf32>
    %split = tensor.expand_shape %proj [[0, 1], [2, 3]] output_shape [1, %t, 2, 64]
        : tensor<?x128xf32> into tensor<1x?x2x64xf32>
    %heads_init = tensor.empty(%t) : tensor<1x2x?x64xf32>
    %heads = linalg.transpose ins(%split : tensor<1x?x2x64xf32>)
                              outs(%heads_init : tensor<1x2x?x64xf32>) permutation = [0, 2, 1, 3]
    return %heads : tensor<1x2x?x64xf32>
  }

  // Layer 0 of every group of four: InfLLM-V2 block-sparse attention.
  func.func @sparse_attention_layer(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                                    %v: tensor<1x2x?x64xf32>, %cos: tensor<32768x32xf32>,
                                    %sin: tensor<32768x32xf32>, %pos: tensor<1x?xi64>)
      -> tensor<1x4x?x64xf32> {
    %qr = hybrid.rotary_embedding %q, %cos, %sin positions(%pos : tensor<1x?xi64>)
        : tensor<1x4x?x64xf32>, tensor<32768x32xf32>, tensor<32768x32xf32>
    %kr = hybrid.rotary_embedding %k, %cos, %sin positions(%pos : tensor<1x?xi64>)
        : tensor<1x2x?x64xf32>, tensor<32768x32xf32>, tensor<32768x32xf32>
    %blocks = hybrid.block_select %qr, %kr config(#sparse)
        : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>
    %o = hybrid.block_sparse_attention %qr, %kr, %v blocks(%blocks : tensor<1x2x?x16xi32>)
        config(#sparse) : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
    return %o : tensor<1x4x?x64xf32>
  }

  // The block selection that @sparse_attention_layer makes, exposed so that
  // a driver can report the fraction of keys it attends.
  func.func @attention_blocks(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                              %cos: tensor<32768x32xf32>, %sin: tensor<32768x32xf32>,
                              %pos: tensor<1x?xi64>) -> tensor<1x2x?x16xi32> {
    %qr = hybrid.rotary_embedding %q, %cos, %sin positions(%pos : tensor<1x?xi64>)
        : tensor<1x4x?x64xf32>, tensor<32768x32xf32>, tensor<32768x32xf32>
    %kr = hybrid.rotary_embedding %k, %cos, %sin positions(%pos : tensor<1x?xi64>)
        : tensor<1x2x?x64xf32>, tensor<32768x32xf32>, tensor<32768x32xf32>
    %blocks = hybrid.block_select %qr, %kr config(#sparse)
        : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>
    return %blocks : tensor<1x2x?x16xi32>
  }

  // Layers 1-3: linear recurrence (Lightning: constant per-head decay;
  // gated DeltaNet: data-dependent decay and beta), carrying the state.
  func.func @lightning_layer(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                             %v: tensor<1x2x?x64xf32>, %state: tensor<1x2x64x64xf32>)
      -> (tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>) {
    %o, %s = hybrid.linear_recurrence gated %q, %k, %v state(%state : tensor<1x2x64x64xf32>)
        {decay_slopes = array<f32: 0.25, 0.0625>, chunk_size = 64}
        : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
    return %o, %s : tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>
  }

  func.func @gated_delta_layer(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                               %v: tensor<1x2x?x64xf32>, %g: tensor<1x2x?xf32>,
                               %beta: tensor<1x2x?xf32>, %state: tensor<1x2x64x64xf32>)
      -> (tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>) {
    %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<1x2x?xf32>)
        beta(%beta : tensor<1x2x?xf32>) state(%state : tensor<1x2x64x64xf32>) {chunk_size = 64}
        : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
    return %o, %s : tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>
  }

  // BlockFFN after every mixer: RMSNorm, then the chunk-level MoE.
  func.func @blockffn(%x: tensor<?x256xf32>, %norm: tensor<256xf32>,
                      %router: tensor<16x256xf32>, %router_norm: tensor<16xf32>,
                      %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>)
      -> tensor<?x256xf32> {
    %h = hybrid.rms_norm %x, %norm {epsilon = 1.0e-6 : f32} : tensor<?x256xf32>, tensor<256xf32>
    %y = hybrid.chunk_moe blockffn %h, %router norm(%router_norm : tensor<16xf32>)
        experts(%up, %down : tensor<16x64x256xf32>, tensor<16x256x64xf32>)
        {chunk = 8} : tensor<?x256xf32>, tensor<16x256xf32>
    return %y : tensor<?x256xf32>
  }

  // [T, 256] -> [1, 4, T, 64] query heads.
  func.func private @split_q_heads(%x: tensor<?x256xf32>, %w: tensor<256x256xf32>)
      -> tensor<1x4x?x64xf32> {
    %c0 = arith.constant 0 : index
    %t = tensor.dim %x, %c0 : tensor<?x256xf32>
    %zero = arith.constant 0.0 : f32
    %init = tensor.empty(%t) : tensor<?x256xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x256xf32>) -> tensor<?x256xf32>
    %proj = linalg.matmul ins(%x, %w : tensor<?x256xf32>, tensor<256x256xf32>)
                          outs(%acc : tensor<?x256xf32>) -> tensor<?x256xf32>
    %split = tensor.expand_shape %proj [[0, 1], [2, 3]] output_shape [1, %t, 4, 64]
        : tensor<?x256xf32> into tensor<1x?x4x64xf32>
    %heads_init = tensor.empty(%t) : tensor<1x4x?x64xf32>
    %heads = linalg.transpose ins(%split : tensor<1x?x4x64xf32>)
                              outs(%heads_init : tensor<1x4x?x64xf32>) permutation = [0, 2, 1, 3]
    return %heads : tensor<1x4x?x64xf32>
  }

  // [1, 4, T, 64] heads -> [T, 256] through the output projection.
  func.func private @merge_heads(%o: tensor<1x4x?x64xf32>, %w: tensor<256x256xf32>)
      -> tensor<?x256xf32> {
    %c2 = arith.constant 2 : index
    %t = tensor.dim %o, %c2 : tensor<1x4x?x64xf32>
    %tok_init = tensor.empty(%t) : tensor<1x?x4x64xf32>
    %tok = linalg.transpose ins(%o : tensor<1x4x?x64xf32>)
                            outs(%tok_init : tensor<1x?x4x64xf32>) permutation = [0, 2, 1, 3]
    %flat = tensor.collapse_shape %tok [[0, 1], [2, 3]] : tensor<1x?x4x64xf32> into tensor<?x256xf32>
    %zero = arith.constant 0.0 : f32
    %init = tensor.empty(%t) : tensor<?x256xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x256xf32>) -> tensor<?x256xf32>
    %y = linalg.matmul ins(%flat, %w : tensor<?x256xf32>, tensor<256x256xf32>)
                       outs(%acc : tensor<?x256xf32>) -> tensor<?x256xf32>
    return %y : tensor<?x256xf32>
  }

  // The four-layer group: sparse attention, Lightning, gated DeltaNet,
  // Lightning; each mixer and each BlockFFN adds to the residual stream.
  // Weights are tied across the three linear layers to keep the example
  // short; the recurrent state of each linear layer is carried in and out.
  func.func @stack(%x: tensor<?x256xf32>, %pos: tensor<1x?xi64>,
                   %cos: tensor<32768x32xf32>, %sin: tensor<32768x32xf32>,
                   %wq: tensor<256x256xf32>, %wk: tensor<256x128xf32>,
                   %wv: tensor<256x128xf32>, %wo: tensor<256x256xf32>,
                   %g: tensor<1x2x?xf32>, %beta: tensor<1x2x?xf32>,
                   %s1: tensor<1x2x64x64xf32>, %s2: tensor<1x2x64x64xf32>,
                   %s3: tensor<1x2x64x64xf32>, %norm: tensor<256xf32>,
                   %router: tensor<16x256xf32>, %router_norm: tensor<16xf32>,
                   %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>)
      -> (tensor<?x256xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>,
          tensor<1x2x64x64xf32>) {
    // Layer 0: block-sparse attention.
    %q0 = func.call @split_q_heads(%x, %wq) : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<1x4x?x64xf32>
    %k0 = func.call @split_heads(%x, %wk) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %v0 = func.call @split_heads(%x, %wv) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %a0 = func.call @sparse_attention_layer(%q0, %k0, %v0, %cos, %sin, %pos)
        : (tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<32768x32xf32>,
           tensor<32768x32xf32>, tensor<1x?xi64>) -> tensor<1x4x?x64xf32>
    %m0 = func.call @merge_heads(%a0, %wo) : (tensor<1x4x?x64xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    %r0 = arith.addf %x, %m0 : tensor<?x256xf32>
    %f0 = func.call @blockffn(%r0, %norm, %router, %router_norm, %up, %down)
        : (tensor<?x256xf32>, tensor<256xf32>, tensor<16x256xf32>, tensor<16xf32>,
           tensor<16x64x256xf32>, tensor<16x256x64xf32>) -> tensor<?x256xf32>
    %x1 = arith.addf %r0, %f0 : tensor<?x256xf32>

    // Layer 1: Lightning Attention.
    %q1 = func.call @split_q_heads(%x1, %wq) : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<1x4x?x64xf32>
    %k1 = func.call @split_heads(%x1, %wk) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %v1 = func.call @split_heads(%x1, %wv) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %a1, %n1 = func.call @lightning_layer(%q1, %k1, %v1, %s1)
        : (tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x64x64xf32>)
        -> (tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>)
    %m1 = func.call @merge_heads(%a1, %wo) : (tensor<1x4x?x64xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    %r1 = arith.addf %x1, %m1 : tensor<?x256xf32>
    %f1 = func.call @blockffn(%r1, %norm, %router, %router_norm, %up, %down)
        : (tensor<?x256xf32>, tensor<256xf32>, tensor<16x256xf32>, tensor<16xf32>,
           tensor<16x64x256xf32>, tensor<16x256x64xf32>) -> tensor<?x256xf32>
    %x2 = arith.addf %r1, %f1 : tensor<?x256xf32>

    // Layer 2: gated DeltaNet.
    %q2 = func.call @split_q_heads(%x2, %wq) : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<1x4x?x64xf32>
    %k2 = func.call @split_heads(%x2, %wk) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %v2 = func.call @split_heads(%x2, %wv) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %a2, %n2 = func.call @gated_delta_layer(%q2, %k2, %v2, %g, %beta, %s2)
        : (tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?xf32>,
           tensor<1x2x?xf32>, tensor<1x2x64x64xf32>) -> (tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>)
    %m2 = func.call @merge_heads(%a2, %wo) : (tensor<1x4x?x64xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    %r2 = arith.addf %x2, %m2 : tensor<?x256xf32>
    %f2 = func.call @blockffn(%r2, %norm, %router, %router_norm, %up, %down)
        : (tensor<?x256xf32>, tensor<256xf32>, tensor<16x256xf32>, tensor<16xf32>,
           tensor<16x64x256xf32>, tensor<16x256x64xf32>) -> tensor<?x256xf32>
    %x3 = arith.addf %r2, %f2 : tensor<?x256xf32>

    // Layer 3: Lightning Attention.
    %q3 = func.call @split_q_heads(%x3, %wq) : (tensor<?x256xf32>, tensor<256x256xf32>) -> tensor<1x4x?x64xf32>
    %k3 = func.call @split_heads(%x3, %wk) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %v3 = func.call @split_heads(%x3, %wv) : (tensor<?x256xf32>, tensor<256x128xf32>) -> tensor<1x2x?x64xf32>
    %a3, %n3 = func.call @lightning_layer(%q3, %k3, %v3, %s3)
        : (tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x64x64xf32>)
        -> (tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>)
    %m3 = func.call @merge_heads(%a3, %wo) : (tensor<1x4x?x64xf32>, tensor<256x256xf32>) -> tensor<?x256xf32>
    %r3 = arith.addf %x3, %m3 : tensor<?x256xf32>
    %f3 = func.call @blockffn(%r3, %norm, %router, %router_norm, %up, %down)
        : (tensor<?x256xf32>, tensor<256xf32>, tensor<16x256xf32>, tensor<16xf32>,
           tensor<16x64x256xf32>, tensor<16x256x64xf32>) -> tensor<?x256xf32>
    %x4 = arith.addf %r3, %f3 : tensor<?x256xf32>
    return %x4, %n1, %n2, %n3 : tensor<?x256xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>,
        tensor<1x2x64x64xf32>
  }

  // One verification step over an 8-node draft tree: the target model's
  // tree attention and per-node recurrent states, greedy acceptance against
  // its logits, then the commit of the accepted path.
  func.func @verify_step(%q: tensor<1x4x?x64xf32>, %kcache: tensor<1x2x?x64xf32>,
                         %vcache: tensor<1x2x?x64xf32>, %lq: tensor<1x4x8x64xf32>,
                         %lk: tensor<1x2x8x64xf32>, %lv: tensor<1x2x8x64xf32>,
                         %state: tensor<1x2x64x64xf32>, %draft: tensor<8xi32>,
                         %logits: tensor<8x32000xf32>, %prefix: index)
      -> (tensor<1x4x?x64xf32>, tensor<8xi32>, tensor<i32>, tensor<i32>,
          tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x64x64xf32>) {
    //            0
    //          /   \
    //         1     2
    //        / \    |
    //       3   4   5
    //       |
    //       6 - 7
    %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
    %attn = hybrid.attention %q, %kcache, %vcache tree(%parents : tensor<8xi32>)
        {causal, layout = #hybrid.gqa_layout<group_packed>}
        : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
    %o, %node_states = hybrid.linear_recurrence gated %lq, %lk, %lv
        state(%state : tensor<1x2x64x64xf32>) tree(%parents : tensor<8xi32>)
        {decay_slopes = array<f32: 0.25, 0.0625>}
        : tensor<1x4x8x64xf32>, tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32>
    %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %logits
        : tensor<8xi32>, tensor<8xi32>, tensor<8x32000xf32>
    %k2, %v2, %s2 = hybrid.kv_compact %path, %len at %prefix
        caches(%kcache, %vcache : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>)
        states(%node_states : tensor<1x2x8x64x64xf32>) : tensor<8xi32>, tensor<i32>
    return %attn, %path, %len, %bonus, %k2, %v2, %s2
        : tensor<1x4x?x64xf32>, tensor<8xi32>, tensor<i32>, tensor<i32>,
          tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x64x64xf32>
  }
}
