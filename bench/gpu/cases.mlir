// The GPU numerics and speed cases (bench/gpu/prepare.py compiles each
// entry for the CPU and for --target nvptx; bench/gpu/check.py runs them on
// the GPU machine and compares with the CPU's results).

func.func @mlp(%x: tensor<?x256xf32>, %w: tensor<256x320xf32>, %b: tensor<320xf32>) -> tensor<?x320xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x256xf32>
  %e = tensor.empty(%m) : tensor<?x320xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x320xf32>) -> tensor<?x320xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x256xf32>, tensor<256x320xf32>) outs(%f : tensor<?x320xf32>) -> tensor<?x320xf32>
  %bb = linalg.broadcast ins(%b : tensor<320xf32>) outs(%e : tensor<?x320xf32>) dimensions = [0]
  %s = arith.addf %y, %bb : tensor<?x320xf32>
  %r = math.tanh %s : tensor<?x320xf32>
  %e2 = tensor.empty(%m) : tensor<?x320xf32>
  %sm = linalg.softmax dimension(1) ins(%r : tensor<?x320xf32>) outs(%e2 : tensor<?x320xf32>) -> tensor<?x320xf32>
  return %sm : tensor<?x320xf32>
}

func.func @matmul_f32(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = tensor.dim %a, %c0 : tensor<?x?xf32>
  %n = tensor.dim %b, %c1 : tensor<?x?xf32>
  %e = tensor.empty(%m, %n) : tensor<?x?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
  %y = linalg.matmul ins(%a, %b : tensor<?x?xf32>, tensor<?x?xf32>) outs(%f : tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

func.func @matmul_f16(%a: tensor<?x?xf16>, %b: tensor<?x?xf16>) -> tensor<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = tensor.dim %a, %c0 : tensor<?x?xf16>
  %n = tensor.dim %b, %c1 : tensor<?x?xf16>
  %e = tensor.empty(%m, %n) : tensor<?x?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
  %y = linalg.matmul ins(%a, %b : tensor<?x?xf16>, tensor<?x?xf16>) outs(%f : tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

func.func @matmul_bf16_f32(%w: tensor<?x?xbf16>, %x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = tensor.dim %w, %c0 : tensor<?x?xbf16>
  %n = tensor.dim %x, %c1 : tensor<?x?xf32>
  %e = tensor.empty(%m, %n) : tensor<?x?xf32>
  %z = arith.constant 0.0 : f32
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x?xf32>) -> tensor<?x?xf32>
  %y = linalg.matmul ins(%w, %x : tensor<?x?xbf16>, tensor<?x?xf32>) outs(%f : tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

func.func @rms_norm(%x: tensor<?x?xf32>, %w: tensor<?xf32>) -> tensor<?x?xf32> {
  %y = hybrid.rms_norm %x, %w {epsilon = 1.0e-6 : f32} : tensor<?x?xf32>, tensor<?xf32>
  return %y : tensor<?x?xf32>
}

func.func @rope(%x: tensor<1x8x?x64xf32>, %c: tensor<?x32xf32>, %s: tensor<?x32xf32>, %p: tensor<1x?xi64>) -> tensor<1x8x?x64xf32> {
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<1x?xi64>) : tensor<1x8x?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
  return %y : tensor<1x8x?x64xf32>
}

func.func @attention_gqa_causal(%q: tensor<1x16x?x128xf16>, %k: tensor<1x2x?x128xf16>, %v: tensor<1x2x?x128xf16>) -> tensor<1x16x?x128xf16> {
  %o = hybrid.attention %q, %k, %v {causal} : tensor<1x16x?x128xf16>, tensor<1x2x?x128xf16>, tensor<1x2x?x128xf16>
  return %o : tensor<1x16x?x128xf16>
}

func.func @attention_tree(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>, %m: tensor<1x1x?x?xf32>, %p: tensor<?xi32>) -> tensor<1x4x?x64xf32> {
  %o = hybrid.attention %q, %k, %v mask(%m : tensor<1x1x?x?xf32>) tree(%p : tensor<?xi32>) {causal, softcap = 30.0 : f32}
      : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}

func.func @attention_tree_f16(%q: tensor<1x6x?x72xf16>, %k: tensor<1x2x?x72xf16>, %v: tensor<1x2x?x40xf16>, %m: tensor<1x1x?x?xf16>, %p: tensor<?xi32>) -> tensor<1x6x?x40xf16> {
  %o = hybrid.attention %q, %k, %v mask(%m : tensor<1x1x?x?xf16>) tree(%p : tensor<?xi32>) {causal, softcap = 30.0 : f32}
      : tensor<1x6x?x72xf16>, tensor<1x2x?x72xf16>, tensor<1x2x?x40xf16>
  return %o : tensor<1x6x?x40xf16>
}

func.func @attention_odd_dims(%q: tensor<2x3x?x8xf32>, %k: tensor<2x3x?x8xf32>, %v: tensor<2x3x?x10xf32>) -> tensor<2x3x?x10xf32> {
  %o = hybrid.attention %q, %k, %v : tensor<2x3x?x8xf32>, tensor<2x3x?x8xf32>, tensor<2x3x?x10xf32>
  return %o : tensor<2x3x?x10xf32>
}

func.func @recurrence_gated_delta(%q: tensor<1x8x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x48xf32>,
                                  %g: tensor<1x4x?x64xf32>, %beta: tensor<1x4x?xf32>, %s0: tensor<1x4x64x48xf32>)
    -> (tensor<1x8x?x48xf32>, tensor<1x4x64x48xf32>) {
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<1x4x?x64xf32>) beta(%beta : tensor<1x4x?xf32>) state(%s0 : tensor<1x4x64x48xf32>)
      : tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x48xf32>
  return %o, %s : tensor<1x8x?x48xf32>, tensor<1x4x64x48xf32>
}

func.func @recurrence_lightning_tree(%q: tensor<1x2x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>, %p: tensor<?xi32>)
    -> (tensor<1x2x?x64xf32>, tensor<1x2x?x64x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v tree(%p : tensor<?xi32>) {decay_slopes = array<f32: 0.25, 0.0625>}
      : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o, %s : tensor<1x2x?x64xf32>, tensor<1x2x?x64x64xf32>
}

func.func @recurrence_gated_prefill(%q: tensor<1x4x?x128xf32>, %k: tensor<1x2x?x128xf32>, %v: tensor<1x2x?x80xf32>,
                                    %g: tensor<1x2x?xf32>, %s0: tensor<1x2x128x80xf32>)
    -> (tensor<1x4x?x80xf32>, tensor<1x2x128x80xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v decay(%g : tensor<1x2x?xf32>) state(%s0 : tensor<1x2x128x80xf32>)
      : tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x80xf32>
  return %o, %s : tensor<1x4x?x80xf32>, tensor<1x2x128x80xf32>
}

func.func @recurrence_gated_deltanet_prefill(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x48xf32>,
                                             %g: tensor<1x2x?xf32>, %beta: tensor<1x2x?xf32>)
    -> (tensor<1x4x?x48xf32>, tensor<1x2x64x48xf32>) {
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<1x2x?xf32>) beta(%beta : tensor<1x2x?xf32>)
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x48xf32>
  return %o, %s : tensor<1x4x?x48xf32>, tensor<1x2x64x48xf32>
}

func.func @moe_blockffn(%x: tensor<?x256xf32>, %wr: tensor<16x256xf32>, %gamma: tensor<16xf32>,
                        %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>,
                        %su: tensor<128x256xf32>, %sd: tensor<256x128xf32>) -> tensor<?x256xf32> {
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%gamma : tensor<16xf32>)
      experts(%up, %down : tensor<16x64x256xf32>, tensor<16x256x64xf32>)
      shared(%su, %sd : tensor<128x256xf32>, tensor<256x128xf32>)
      {chunk = 8} : tensor<?x256xf32>, tensor<16x256xf32>
  return %y : tensor<?x256xf32>
}

func.func @moe_topk(%x: tensor<?x64xf32>, %wr: tensor<8x64xf32>, %up: tensor<8x32x64xf32>,
                    %down: tensor<8x64x32xf32>) -> tensor<?x64xf32> {
  %y = hybrid.chunk_moe topk_softmax %x, %wr
      experts(%up, %down : tensor<8x32x64xf32>, tensor<8x64x32xf32>)
      {chunk = 4, top_k = 2} : tensor<?x64xf32>, tensor<8x64xf32>
  return %y : tensor<?x64xf32>
}

func.func @sparse_attention(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>,
                            %s: tensor<1x2x?x4xi32>) -> tensor<1x8x?x64xf32> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : tensor<1x2x?x4xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 4, init_blocks = 1, window_size = 128, dense_len = 256>)
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}
