// The tiled form of a projection: tasks over blocks of C (scf.forall), K in
// cache blocks, packed panels, and one call per register tile to a tile
// kernel declared for the target stage to define. No scalar triple loop.
//
// RUN: hybrid-opt %s --convert-hybrid-to-loops="vector-width=16" -split-input-file | FileCheck %s
// RUN: hybrid-opt %s --convert-hybrid-to-loops="vector-width=8" | FileCheck %s --check-prefix=AVX2

// CHECK-LABEL: func.func @projection
// CHECK-NOT: linalg.matmul
// CHECK: scf.forall
// CHECK: scf.for
// Full tiles of 8 rows, then 4, then single rows.
// CHECK: call @__hybrid_tile_matmul_8x48(
// CHECK: call @__hybrid_tile_matmul_4x48(
// CHECK: call @__hybrid_tile_matmul_1x48(
// CHECK-DAG: func.func private @__hybrid_tile_matmul_8x48(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index) attributes {hybrid.tile_a_layout = "k_major", hybrid.tile_cols = 48 : i64, hybrid.tile_kernel = "matmul", hybrid.tile_rows = 8 : i64}
// CHECK-DAG: func.func private @__hybrid_tile_matmul_4x48(
// CHECK-DAG: func.func private @__hybrid_tile_matmul_1x48(
// AVX2-DAG: func.func private @__hybrid_tile_matmul_6x16(
// AVX2-DAG: func.func private @__hybrid_tile_matmul_2x16(
// AVX2-DAG: func.func private @__hybrid_tile_matmul_1x16(
func.func @projection(%x: tensor<?x256xf32>, %w: tensor<256x128xf32>,
                      %acc: tensor<?x128xf32>) -> tensor<?x128xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<?x256xf32>, tensor<256x128xf32>)
                     outs(%acc : tensor<?x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// A weight prepacked in panels of 48 (hybrid-prepack-weights): the product
// reads the panels where they are (no unpack, no packing of B), with the
// kernels that fetch B ahead for few rows and the plain ones otherwise.
// CHECK-LABEL: func.func @prepacked
// CHECK-NOT: linalg.unpack
// CHECK: scf.forall
// CHECK: call @__hybrid_tile_matmul_8x48_streamB(
// CHECK: call @__hybrid_tile_matmul_8x48(
// CHECK-DAG: func.func private @__hybrid_tile_matmul_8x48_streamB({{.*}}) attributes {{{.*}}hybrid.tile_stream_b
func.func @prepacked(%x: tensor<?x256xf32>, %w: tensor<3x256x48xf32>,
                     %acc: tensor<?x100xf32>) -> tensor<?x100xf32> {
  %e = tensor.empty() : tensor<256x100xf32>
  %u = linalg.unpack %w outer_dims_perm = [1, 0] inner_dims_pos = [1]
      inner_tiles = [48] into %e : tensor<3x256x48xf32> -> tensor<256x100xf32>
  %y = linalg.matmul ins(%x, %u : tensor<?x256xf32>, tensor<256x100xf32>)
                     outs(%acc : tensor<?x100xf32>) -> tensor<?x100xf32>
  return %y : tensor<?x100xf32>
}

// -----

// Panels read by something else, or of another width than the product's
// tile, are copied back to [K, N] first.
// CHECK-LABEL: func.func @unpacked
// CHECK-NOT: linalg.unpack
// CHECK: memref.alloc() {{.*}} : memref<256x100xf32>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: return
func.func @unpacked(%w: tensor<4x256x32xf32>) -> tensor<256x100xf32> {
  %e = tensor.empty() : tensor<256x100xf32>
  %u = linalg.unpack %w outer_dims_perm = [1, 0] inner_dims_pos = [1]
      inner_tiles = [32] into %e : tensor<4x256x32xf32> -> tensor<256x100xf32>
  return %u : tensor<256x100xf32>
}
