// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// The new rows of the compressed-key cache (kernels whose window ends in
// (since, key_length]): checked on the host, computed a thread per value
// (the window mean), then inserted into the cache in place.
// CHECK-LABEL: func @compress
// CHECK:       call @__hybrid_raise
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK:         scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (f32)
// CHECK:         arith.mulf %{{.*}}, %cst
// CHECK:       tensor.insert_slice
func.func @compress(%k1: tensor<1x2x?x128xf32>, %kc: tensor<1x2x?x128xbf16>, %pos: index, %len: index)
    -> tensor<1x2x?x128xf32> {
  %c = hybrid.compress_keys %k1, %kc key_length(%len) since(%pos)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x2x?x128xf32>, tensor<1x2x?x128xbf16>
  return %c : tensor<1x2x?x128xf32>
}
