// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-gpu --canonicalize --verify-diagnostics | FileCheck %s

// InfLLM-V2's sparse attention on the flash kernel: a block per (query,
// KV head, batch) whose rows are the group's 8 query heads (they share the
// query's selection); the key loop runs over ranges: each selected block
// before the local window (once), then the window; below dense_len, every
// key up to the causal limit.
// CHECK-LABEL: func @sparse
// CHECK:       call @__hybrid_raise
// Block indices outside [-1, ceil(Skv / 64)) are an error, as on the CPU:
// one thread block scans them all on the device, the host reads one flag.
// CHECK:       %[[FLAG:.*]] = memref.alloc() : memref<1xi32>
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK:         scf.for {{.*}} step %c256 iter_args({{.*}}) -> (f32)
// CHECK:           arith.cmpi slt, %{{.*}}, %c-1
// CHECK:           arith.cmpi sge
// CHECK:         memref.store {{.*}}, %[[FLAG]]
// CHECK:       %[[ANY:.*]] = memref.load %[[FLAG]]
// CHECK:       arith.cmpi ne, %[[ANY]]
// CHECK:       call @__hybrid_raise
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %c2{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c128
// 16 slots + the window.
// CHECK:         scf.for %{{.*}} = %c0 to %c17 step %c1 iter_args
// A block listed twice is attended once.
// CHECK:           scf.for {{.*}} -> (i1)
// CHECK:           scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16 iter_args
// CHECK:             gpu.barrier
// CHECK:             gpu.shuffle xor
func.func @sparse(%q: tensor<1x16x?x128xbf16>, %k: tensor<1x2x?x128xbf16>, %v: tensor<1x2x?x128xbf16>,
                  %s: tensor<1x2x?x16xi32>) -> tensor<1x16x?x128xbf16> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : tensor<1x2x?x16xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x128xbf16>
  return %o : tensor<1x16x?x128xbf16>
}

// -----

// A draft tree's nodes attend the prefix ranges as the root does, then the
// tree's keys under the ancestor mask: one more range (4 slots + window +
// tree).
// CHECK-LABEL: func @tree
// CHECK:       gpu.launch
// CHECK:         scf.for %{{.*}} = %c0 to %c6 step %c1 iter_args
// CHECK:           scf.for {{.*}} -> (index, i1)
func.func @tree(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>,
                %s: tensor<1x4x?x4xi32>, %p: tensor<?xi32>) -> tensor<1x4x?x64xf32> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%s : tensor<1x4x?x4xi32>) tree(%p : tensor<?xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 4, init_blocks = 1, window_size = 128, dense_len = 1024>)
      : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}
