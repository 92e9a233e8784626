// The tiled form of a projection: tasks over blocks of C (scf.forall), K in
// cache blocks, packed panels, and one call per register tile to a tile
// kernel declared for the target stage to define. No scalar triple loop.
//
// RUN: hybrid-opt %s --convert-hybrid-to-loops="vector-width=16" | FileCheck %s
// RUN: hybrid-opt %s --convert-hybrid-to-loops="vector-width=8" | FileCheck %s --check-prefix=AVX2

// CHECK-LABEL: func.func @projection
// CHECK-NOT: linalg.matmul
// CHECK: scf.forall
// CHECK: scf.for
// Full tiles of 12 rows, then 4, then single rows.
// CHECK: call @__hybrid_tile_matmul_12x32(
// CHECK: call @__hybrid_tile_matmul_4x32(
// CHECK: call @__hybrid_tile_matmul_1x32(
// CHECK-DAG: func.func private @__hybrid_tile_matmul_12x32(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index) attributes {hybrid.tile_a_layout = "k_major", hybrid.tile_cols = 32 : i64, hybrid.tile_kernel = "matmul", hybrid.tile_rows = 12 : i64}
// CHECK-DAG: func.func private @__hybrid_tile_matmul_4x32(
// CHECK-DAG: func.func private @__hybrid_tile_matmul_1x32(
// AVX2-DAG: func.func private @__hybrid_tile_matmul_6x16(
// AVX2-DAG: func.func private @__hybrid_tile_matmul_2x16(
// AVX2-DAG: func.func private @__hybrid_tile_matmul_1x16(
func.func @projection(%x: tensor<?x256xf32>, %w: tensor<256x128xf32>,
                      %acc: tensor<?x128xf32>) -> tensor<?x128xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<?x256xf32>, tensor<256x128xf32>)
                     outs(%acc : tensor<?x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
