// RUN: hybrid-opt %s --hybrid-fuse-sparse-speculation | FileCheck %s
// RUN: hybrid-opt %s --hybrid-fuse-sparse-speculation="policy=root" | FileCheck %s --check-prefix=ROOT
// RUN: not hybrid-opt %s --hybrid-fuse-sparse-speculation="policy=all" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: hybrid-opt %s --hybrid-fuse-sparse-speculation="report=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK
// REMARK: remark: the tree's nodes share one block selection (union of their selections)
// REMARK: remark: the tree's nodes form one MoE chunk: each active expert is read once per tree
// REMARK: remark: per-node recurrent states; the accepted node's state is committed after verification (no replay)

#cfg = #hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
    topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>

// A verification step over an 8-node tree.
// CHECK-LABEL: func.func @verify_step
// (1) One selection for the whole tree: the union of 8 x 16 blocks.
// CHECK: %[[SEL:.*]] = hybrid.block_select %{{.*}}, %{{.*}} tree(%[[P:.*]] : tensor<8xi32>) policy union config
// CHECK: hybrid.block_sparse_attention {{.*}} blocks(%[[SEL]] : tensor<1x2x8x128xi32>) tree(%[[P]] : tensor<8xi32>)
// ROOT: hybrid.block_select {{.*}} tree(%{{.*}} : tensor<8xi32>) policy root config
// ROOT: hybrid.block_sparse_attention {{.*}} blocks(%{{.*}} : tensor<1x2x8x16xi32>)
// (3) Per-node recurrent states.
// CHECK: %{{.*}}, %[[STATES:.*]] = hybrid.linear_recurrence gated {{.*}} tree(%[[P]] : tensor<8xi32>)
// (2) The tree is the MoE's chunk.
// CHECK: hybrid.chunk_moe blockffn {{.*}} {chunk = 8 : i64}
// CHECK: %[[PATH:.*]], %[[LEN:.*]], %{{.*}} = hybrid.tree_verify
// The committed state is the accepted node's.
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[COMMITTED:.*]] = hybrid.kv_compact %[[PATH]], %[[LEN]] at %[[C0]] states(%[[STATES]] : tensor<1x2x8x64x64xf32>)
// CHECK: return {{.*}}, %[[COMMITTED]]
// BAD: error: policy must be union or root, not 'all'
func.func @verify_step(%q: tensor<1x4x8x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>,
                       %lq: tensor<1x4x8x64xf32>, %lk: tensor<1x2x8x64xf32>,
                       %state: tensor<1x2x64x64xf32>, %x: tensor<8x256xf32>,
                       %wr: tensor<16x256xf32>, %g: tensor<16xf32>,
                       %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>,
                       %draft: tensor<8xi32>, %logits: tensor<8x1000xf32>)
    -> (tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<8x256xf32>, tensor<8xi32>,
        tensor<1x2x64x64xf32>) {
  %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
  %sel = hybrid.block_select %q, %k config(#cfg) : tensor<1x4x8x64xf32>, tensor<1x2x?x64xf32>
  %attn = hybrid.block_sparse_attention %q, %k, %v blocks(%sel : tensor<1x2x8x16xi32>)
      tree(%parents : tensor<8xi32>) config(#cfg)
      : tensor<1x4x8x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  %o, %s = hybrid.linear_recurrence gated %lq, %lk, %lk state(%state : tensor<1x2x64x64xf32>)
      {decay_slopes = array<f32: 0.25, 0.0625>}
      : tensor<1x4x8x64xf32>, tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32>
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<16xf32>)
      experts(%up, %down : tensor<16x64x256xf32>, tensor<16x256x64xf32>) {chunk = 4}
      : tensor<8x256xf32>, tensor<16x256xf32>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %logits
      : tensor<8xi32>, tensor<8xi32>, tensor<8x1000xf32>
  return %attn, %o, %y, %path, %s
      : tensor<1x4x8x64xf32>, tensor<1x4x8x64xf32>, tensor<8x256xf32>, tensor<8xi32>,
        tensor<1x2x64x64xf32>
}

// No verification, nothing to fuse: a prefill keeps its chunks and chain.
// CHECK-LABEL: func.func @prefill
// CHECK: hybrid.linear_recurrence gated
// CHECK-NOT: tree(
// CHECK: hybrid.chunk_moe blockffn {{.*}} {chunk = 4 : i64}
// CHECK-NOT: hybrid.kv_compact
func.func @prefill(%lq: tensor<1x4x8x64xf32>, %lk: tensor<1x2x8x64xf32>, %x: tensor<8x256xf32>,
                   %wr: tensor<16x256xf32>, %g: tensor<16xf32>,
                   %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>)
    -> (tensor<1x4x8x64xf32>, tensor<8x256xf32>) {
  %o, %s = hybrid.linear_recurrence gated %lq, %lk, %lk {decay_slopes = array<f32: 0.25, 0.0625>}
      : tensor<1x4x8x64xf32>, tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32>
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<16xf32>)
      experts(%up, %down : tensor<16x64x256xf32>, tensor<16x256x64xf32>) {chunk = 4}
      : tensor<8x256xf32>, tensor<16x256xf32>
  return %o, %y : tensor<1x4x8x64xf32>, tensor<8x256xf32>
}

// A recurrence over more tokens than the tree (a prefix plus the tree) is
// not the tree's: left alone.
// CHECK-LABEL: func.func @longer_than_tree
// CHECK: hybrid.linear_recurrence linear
// CHECK-NOT: tree(
// CHECK: hybrid.tree_verify
func.func @longer_than_tree(%lq: tensor<1x2x12x64xf32>, %draft: tensor<8xi32>,
                            %ids: tensor<8xi32>) -> (tensor<1x2x64x64xf32>, tensor<8xi32>) {
  %parents = arith.constant dense<[-1, 0, 0, 1, 1, 2, 3, 6]> : tensor<8xi32>
  %o, %s = hybrid.linear_recurrence linear %lq, %lq, %lq
      : tensor<1x2x12x64xf32>, tensor<1x2x12x64xf32>, tensor<1x2x12x64xf32>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %ids
      : tensor<8xi32>, tensor<8xi32>, tensor<8xi32>
  return %s, %path : tensor<1x2x64x64xf32>, tensor<8xi32>
}
