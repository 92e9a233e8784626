// RUN: hybrid-opt %s --hybrid-sparsify-attention="topk=16 window-size=256 dense-len=4096" | FileCheck %s
// RUN: hybrid-opt %s --hybrid-sparsify-attention="layers=1" | FileCheck %s --check-prefix=LAYER1
// RUN: not hybrid-opt %s --hybrid-sparsify-attention="block-size=48" 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @layers
// CHECK: %[[SEL:.*]] = hybrid.block_select %arg0, %arg1 config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64, topk = 16, init_blocks = 1, window_size = 256, dense_len = 4096>) {scale = 1.250000e-01 : f32}
// CHECK: hybrid.block_sparse_attention %arg0, %arg1, %arg2 blocks(%[[SEL]] : tensor<1x2x?x16xi32>) config({{.*}}) {scale = 1.250000e-01 : f32}
// CHECK: hybrid.block_select
// CHECK: hybrid.block_sparse_attention
// Non-causal or masked attention has no block-sparse form: left alone.
// CHECK: hybrid.attention %arg0, %arg1, %arg2 :
// CHECK: hybrid.attention %arg0, %arg1, %arg2 mask
// CHECK-NOT: hybrid.block_select

// Only the second attention op (index 1).
// LAYER1-LABEL: func.func @layers
// LAYER1: hybrid.attention %arg0, %arg1, %arg2 {causal, scale
// LAYER1-NEXT: hybrid.block_select
// LAYER1-NEXT: hybrid.block_sparse_attention
// LAYER1-NEXT: hybrid.attention
// LAYER1-NEXT: hybrid.attention

// BAD: error: sparse_config block_size 48 does not divide window_size 2048
func.func @layers(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>,
                  %m: tensor<?x?xf32>)
    -> (tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) {
  %0 = hybrid.attention %q, %k, %v {causal, scale = 0.125 : f32}
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %1 = hybrid.attention %q, %k, %v {causal}
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %2 = hybrid.attention %q, %k, %v
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %3 = hybrid.attention %q, %k, %v mask(%m : tensor<?x?xf32>) {causal}
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %0, %1, %2, %3 : tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>
}
