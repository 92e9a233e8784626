// The kernels' structure: parallel loops over independent rows, online
// softmax (no score matrix), run-time checks registered as error messages.
//
// RUN: hybrid-opt %s --convert-hybrid-to-loops --split-input-file | FileCheck %s

// CHECK: module attributes {hybrid.error_messages = [{{.*}}"hybrid.attention: value length does not match key length"
// CHECK: memref.global "public" @__hybrid_error_code : memref<i32> = dense<0>
// CHECK-LABEL: func.func @attention
// No buffer of the key length is allocated: blocks of up to 96 query rows
// keep S^T for one 48-key tile in stack scratch.
// CHECK-NOT: memref.alloc({{.*}}) {{.*}}: memref<?x?xf32>
// CHECK: scf.parallel
// CHECK: arith.constant 48 : index
// CHECK: memref.alloca(%{{.*}}) {{.*}} : memref<?xf32>
// S^T = K Q^T on the tile kernels, K rows read in place (row-major A, the
// static head dim as lda).
// CHECK: func.call @__hybrid_tile_matmul_6x8_rowA_lda64(
// The causal limit as a lane-wise select, the online softmax on vectors.
// CHECK: arith.cmpi sle, %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK: math.exp %{{.*}} : vector<8xf32>
// acc += P V with P = S^T read k-major.
// CHECK: func.call @__hybrid_tile_matmul_6x16(
// CHECK: bufferization.to_tensor {{.*}} restrict writable
func.func @attention(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                     %v: tensor<1x2x?x64xf32>) -> tensor<1x8x?x64xf32> {
  %o = hybrid.attention %q, %k, %v {causal}
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}

// -----

// Block-sparse attention reads its block list per row and decides
// dense/sparse on the run-time length.
// CHECK: "hybrid.block_sparse_attention: a block index is out of range [-1, ceil(Skv / block_size))"
// CHECK-LABEL: func.func @sparse
// CHECK: arith.cmpi slt, %{{.*}}, %c8192
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<1x2x?x16xi32>
func.func @sparse(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                  %v: tensor<1x2x?x64xf32>, %idx: tensor<1x2x?x16xi32>) -> tensor<1x8x?x64xf32> {
  %o = hybrid.block_sparse_attention %q, %k, %v blocks(%idx : tensor<1x2x?x16xi32>)
      config(#hybrid.sparse_config<kernel_size = 32, kernel_stride = 16, block_size = 64,
             topk = 16, init_blocks = 1, window_size = 256, dense_len = 8192>)
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o : tensor<1x8x?x64xf32>
}

// -----

// Chunk MoE: per expert, the chunks that route to it become runs of
// columns; an expert with none is never read. Its products are tile
// kernel calls with the weights read in place (static model dim as lda).
// CHECK-LABEL: func.func @moe
// CHECK: scf.parallel
// CHECK: %[[N:.*]]:2 = scf.for {{.*}} -> (index, index)
// CHECK: %[[ACTIVE:.*]] = scf.for {{.*}} -> (i1)
// CHECK: scf.if %[[ACTIVE]] -> (index, index)
// CHECK: %[[ANY:.*]] = arith.cmpi ugt, %[[N]]#0
// CHECK: scf.if %[[ANY]]
// CHECK: memref.collapse_shape %{{.*}} : memref<16x64x256xf32> into memref<262144xf32>
// CHECK: func.call @__hybrid_tile_matmul_6x16_rowA_lda256(
func.func @moe(%x: tensor<?x256xf32>, %wr: tensor<16x256xf32>, %g: tensor<16xf32>,
               %up: tensor<16x64x256xf32>, %down: tensor<16x256x64xf32>) -> tensor<?x256xf32> {
  %y = hybrid.chunk_moe blockffn %x, %wr norm(%g : tensor<16xf32>)
      experts(%up, %down : tensor<16x64x256xf32>, tensor<16x256x64xf32>)
      {chunk = 8} : tensor<?x256xf32>, tensor<16x256xf32>
  return %y : tensor<?x256xf32>
}
