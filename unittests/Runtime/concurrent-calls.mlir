// The module HybridConcurrentCallsTests calls from several threads at once
// (compiled by hybrid-run at build time).

// RoPE by position ids: an id past the 64-row cache is a run-time error,
// raised inside the kernel's parallel loop over (batch, token, head).
func.func @rotate(%x: tensor<1x4x?x8xf32>, %cos: tensor<64x4xf32>,
                  %sin: tensor<64x4xf32>, %pos: tensor<1x?xi64>)
    -> tensor<1x4x?x8xf32> {
  %0 = hybrid.rotary_embedding %x, %cos, %sin positions(%pos : tensor<1x?xi64>)
      : tensor<1x4x?x8xf32>, tensor<64x4xf32>, tensor<64x4xf32>
  return %0 : tensor<1x4x?x8xf32>
}

// A product with a weight the runtime binds (and a caller may rebind).
func.func @project(%x: tensor<?x8xf32>,
    %w: tensor<8x8xf32> {hybrid.parameter = #hybrid.parameter<
        key = "w", file = "w.bin", offset = 0, length = 256>})
    -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%n) : tensor<?x8xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = linalg.matmul ins(%x, %w : tensor<?x8xf32>, tensor<8x8xf32>)
      outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
