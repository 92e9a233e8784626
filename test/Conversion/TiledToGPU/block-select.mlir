// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-gpu --canonicalize --verify-diagnostics | FileCheck %s

// InfLLM-V2's block selection: the compressed keys first (a thread per
// value), then a block per (query, KV head, batch): kernel scores (each
// head's softmax, block reductions, summed in shared memory), block scores
// by max-pool, and the top k by rank, in ascending block order.
// CHECK-DAG:   memref.global "private" @{{.*}} : memref<8192xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @{{.*}} : memref<2048xf32, #gpu.address_space<workgroup>>
// CHECK-LABEL: func @select
// CHECK:       call @__hybrid_raise
// The compressed keys.
// CHECK:       gpu.launch
// CHECK:         scf.for {{.*}} -> (f32)
// The selection.
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}} = %c2{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:         gpu.shuffle xor
// CHECK:         math.exp
// CHECK:         gpu.barrier
// CHECK:         arith.maximumf
// CHECK:         gpu.barrier
// CHECK:         arith.index_cast {{.*}} : index to i32
// CHECK:         memref.store
func.func @select(%q: tensor<1x16x?x128xf32>, %k: tensor<1x2x?x128xf32>) -> tensor<1x2x?x16xi32> {
  %s = hybrid.block_select %q, %k
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xf32>, tensor<1x2x?x128xf32>
  return %s : tensor<1x2x?x16xi32>
}

// -----

// A draft tree: the nodes select at the first tree key, then share the
// union of their selections (a second launch: marks in shared memory, each
// marked block written at its rank).
// CHECK-LABEL: func @tree
// CHECK:       gpu.launch
// CHECK:       gpu.launch
// CHECK:       gpu.launch
// CHECK:         memref.store %c1_i32
// CHECK:         gpu.barrier
func.func @tree(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %p: tensor<?xi32>) -> tensor<1x4x?x?xi32> {
  %s = hybrid.block_select %q, %k tree(%p : tensor<?xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 4, init_blocks = 1, window_size = 128, dense_len = 1024>)
      : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>
  return %s : tensor<1x4x?x?xi32>
}
