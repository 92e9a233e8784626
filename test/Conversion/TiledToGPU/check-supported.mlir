// RUN: hybrid-opt %s --hybrid-gpu-check-supported --verify-diagnostics

// An op the GPU stage has no kernel for yet is named, with where it is and
// what to do instead, before bufferization would fail on it obscurely.
func.func @running_sum(%x: tensor<4xf32>, %a: tensor<1xi64>) -> tensor<4xf32> {
  // expected-error @below {{'hybrid.cumsum' has no GPU lowering yet; compile this module for the CPU}}
  %y = hybrid.cumsum %x, %a : tensor<4xf32>, tensor<1xi64>
  return %y : tensor<4xf32>
}

// Ported ops pass.
func.func @norm(%x: tensor<4x64xf32>, %w: tensor<64xf32>) -> tensor<4x64xf32> {
  %y = hybrid.rms_norm %x, %w : tensor<4x64xf32>, tensor<64xf32>
  return %y : tensor<4x64xf32>
}
