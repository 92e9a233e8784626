// Caches updated in place through a private layer function (as the
// Hugging Face importer builds them): the KV cache's new row and the
// compressed-key cache's new windows are written into the caller's
// buffers, and nothing copies a whole cache back. The compressed cache is
// updated by an outlined kernel, so the layer returns it only after the
// kernel's result is dropped: drop-equivalent-buffer-results runs twice.
//
// RUN: hybrid-opt %s --hybrid-cpu-pipeline \
// RUN:   -mlir-print-ir-after=drop-equivalent-buffer-results -o /dev/null 2>&1 \
// RUN:   | FileCheck %s

#cfg = #hybrid.sparse_config<kernel_size = 4, kernel_stride = 2, block_size = 8,
                             topk = 2, init_blocks = 1, window_size = 8,
                             dense_len = 16>

func.func private @layer(%k: tensor<1x2x1x16xf32>, %cache: tensor<1x2x?x16xf32>,
                         %k1: tensor<1x2x?x16xf32>, %pos: index)
    -> (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) {
  %c = tensor.insert_slice %k into %cache[0, 0, %pos, 0] [1, 2, 1, 16] [1, 1, 1, 1]
      : tensor<1x2x1x16xf32> into tensor<1x2x?x16xf32>
  %c1 = arith.constant 1 : index
  %len = arith.addi %pos, %c1 : index
  %n = hybrid.compress_keys %k1, %c key_length(%len) since(%pos) config(#cfg)
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return %c, %n : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
}

func.func @step(%k: tensor<1x2x1x16xf32>,
                %cache: tensor<1x2x?x16xf32> {hybrid.inout},
                %k1: tensor<1x2x?x16xf32> {hybrid.inout}, %pos: index) {
  %c, %n = func.call @layer(%k, %cache, %k1, %pos)
      : (tensor<1x2x1x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, index)
      -> (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>)
  hybrid.write_back %c into %cache : tensor<1x2x?x16xf32>
  hybrid.write_back %n into %k1 : tensor<1x2x?x16xf32>
  return
}

// The second run: the layer returns nothing, and the entry's write-backs
// are self-copies (erased by the canonicalisation that follows).
// CHECK: IR Dump After DropEquivalentBufferResultsPass
// CHECK: IR Dump After DropEquivalentBufferResultsPass
// CHECK: func.func private @layer({{.*}}) {
// CHECK: call @__hybrid_kernel_compress_keys{{.*}} -> ()
// CHECK-NEXT: return
// CHECK: func.func @step(%[[K:[a-z0-9]+]]: memref<1x2x1x16xf32>, %[[CACHE:[a-z0-9]+]]: memref<1x2x?x16xf32>, %[[K1:[a-z0-9]+]]: memref<1x2x?x16xf32>, %{{.*}}: index)
// CHECK-NEXT: call @layer(
// CHECK-NEXT: memref.copy %[[CACHE]], %[[CACHE]] :
// CHECK-NEXT: memref.copy %[[K1]], %[[K1]] :
// CHECK-NEXT: return
