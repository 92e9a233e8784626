// RUN: hybrid-opt %s --hybrid-gpu-check-supported --verify-diagnostics

// Every hybrid op has a GPU kernel; an op the GPU stage has none for (a
// packed layout, which only the CPU's prepacked weights use) is named,
// with where it is and what to do instead, before bufferization would fail
// on it obscurely.
func.func @pack(%x: tensor<8x8xf32>) -> tensor<2x8x4xf32> {
  %e = tensor.empty() : tensor<2x8x4xf32>
  // expected-error @below {{'linalg.pack' has no GPU lowering yet; compile this module for the CPU}}
  %p = linalg.pack %x inner_dims_pos = [0] inner_tiles = [4] into %e : tensor<8x8xf32> -> tensor<2x8x4xf32>
  return %p : tensor<2x8x4xf32>
}

// Ported ops pass.
func.func @verify(%p: tensor<8xi32>, %d: tensor<8xi32>, %t: tensor<8x32xf32>) -> tensor<8xi32> {
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %t : tensor<8xi32>, tensor<8xi32>, tensor<8x32xf32>
  return %path : tensor<8xi32>
}
