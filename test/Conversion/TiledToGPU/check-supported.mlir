// RUN: hybrid-opt %s --hybrid-gpu-check-supported --verify-diagnostics

// An op the GPU stage has no kernel for yet is named, with where it is and
// what to do instead, before bufferization would fail on it obscurely.
func.func @verify(%p: tensor<8xi32>, %d: tensor<8xi32>, %t: tensor<8x32xf32>) -> tensor<8xi32> {
  // expected-error @below {{'hybrid.tree_verify' has no GPU lowering yet; compile this module for the CPU}}
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %t : tensor<8xi32>, tensor<8xi32>, tensor<8x32xf32>
  return %path : tensor<8xi32>
}

// Ported ops pass.
func.func @norm(%x: tensor<4x64xf32>, %w: tensor<64xf32>) -> tensor<4x64xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<4x64xf32>, tensor<64xf32>
  return %y : tensor<4x64xf32>
}
