// RUN: hybrid-opt %s --hybrid-cost-report="context-length=1024 tree-size=8" -o /dev/null | FileCheck %s

// Dense attention at 1024 keys, 8 query rows (the tree), Hq = 4, Hkv = 2,
// D = 64, f32: KV cache = 2 (K and V) x 2 heads x 1024 x 64 x 4 B = 1048576.
// CHECK: {"attended_keys":1020.5,"bytes":{{.*}},"dense_keys":1024,"flops":{{.*}},"kv_cache_bytes":1048576,"loc":"{{.*}}cost-report.mlir{{.*}}","op":"hybrid.attention","state_bytes":0}
// Block-sparse: at most (topk + local blocks) x block keys = (2 + 2) x 64.
// CHECK: {"attended_keys":256,{{.*}}"op":"hybrid.block_sparse_attention"
// Block selection: (1024 - 32) / 16 + 1 = 63 kernel windows; scores
// 2 x 4 heads x 8 rows x 63 x 64 = 258048 plus compression 2 x 1024 x 64 =
// 131072 flops; it reads K once: 131072 x 4 B.
// CHECK: {"bytes":524288,"flops":389120,"kv_cache_bytes":0,"loc":"{{.*}}","op":"hybrid.block_select","state_bytes":0}
// Recurrent state: 2 heads x 64 x 64 x 4 B.
// CHECK: {{.*}}"op":"hybrid.linear_recurrence","state_bytes":32768}
// 30% of 16 experts per chunk.
// CHECK: {"active_experts":4.8{{[0-9]*}},{{.*}}"experts":16,{{.*}}"op":"hybrid.chunk_moe"
// CHECK: {"active_experts":{{.*}},"context_length":1024,{{.*}}"kv_cache_bytes":2097152,"op":"module","state_bytes":32768,"tree_size":8}

func.func @step(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>, %s: tensor<1x2x?x2xi32>,
                %x: tensor<?x256xf32>, %wr: tensor<16x256xf32>, %g: tensor<16xf32>,
                %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>) {
  %a = hybrid.attention %q, %k, %k {causal}
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %b = hybrid.block_sparse_attention %q, %k, %k blocks(%s : tensor<1x2x?x2xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 2, init_blocks = 1, window_size = 128, dense_len = 0>)
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %sel = hybrid.block_select %q, %k
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 2, init_blocks = 1, window_size = 128, dense_len = 0>)
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>
  %o, %st = hybrid.linear_recurrence linear %q, %k, %k
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<16xf32>)
      experts(%up, %down : tensor<16x64x256xf32>, tensor<16x256x64xf32>) {chunk = 8}
      : tensor<?x256xf32>, tensor<16x256xf32>
  return
}
