// RUN: hybrid-opt %s --hybrid-dense-sparse-switch | FileCheck %s

// CHECK-LABEL: func.func @switch
// CHECK: %[[C2:.*]] = arith.constant 2 : index
// CHECK: %[[KEYS:.*]] = tensor.dim %arg1, %[[C2]]
// CHECK: %[[LEN:.*]] = arith.constant 8192 : index
// CHECK: %[[SHORT:.*]] = arith.cmpi slt, %[[KEYS]], %[[LEN]]
// CHECK: scf.if %[[SHORT]] -> (tensor<1x8x?x64xf32>) {
// CHECK:   hybrid.attention %arg0, %arg1, %arg2 {causal}
// CHECK: } else {
// CHECK:   hybrid.block_select
// CHECK:   hybrid.block_sparse_attention
// CHECK: } {hybrid.dense_sparse_switch}
func.func @switch(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>)
    -> tensor<1x8x?x64xf32> {
  %s = hybrid.block_select %q, %k
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : tensor<1x2x?x16xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}

// Indices that do not come from a selection over the same keys: left alone.
// CHECK-LABEL: func.func @given_indices
// CHECK-NOT: scf.if
// CHECK: hybrid.block_sparse_attention
func.func @given_indices(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                         %v: tensor<1x2x?x64xf32>, %s: tensor<1x2x?x16xi32>)
    -> tensor<1x8x?x64xf32> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : tensor<1x2x?x16xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}
