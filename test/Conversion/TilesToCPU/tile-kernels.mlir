// The CPU stage defines each tile kernel: rows x (cols / lanes) accumulators
// loaded once, a K loop unrolled by 4 of vector loads of B, broadcasts of
// packed A and FMAs, then a remainder loop, and one store per accumulator.
//
// RUN: hybrid-opt %s --hybrid-cpu-tile-kernels="vector-width=16" --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func private @tile_2x32(
// CHECK-COUNT-4: vector.load %{{.*}} : memref<?xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4{{.*}} iter_args
// CHECK-COUNT-16: vector.fma
// CHECK: scf.yield
// CHECK: scf.for
// CHECK-COUNT-4: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-4: vector.store
// CHECK-NOT: vector.store
// CHECK: return
func.func private @tile_2x32(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 32 : i64}

// -----

// Row-major A (a matrix read in place, as K in attention's S^T = K Q^T):
// each row's broadcast reads a[aOff + r * lda + p].
// CHECK-LABEL: func.func private @tile_rowA_2x16(
// CHECK-SAME: %[[KC:[^:]*]]: index, %[[A:[^:]*]]: memref<?xf32>, %[[AOFF:[^:]*]]: index, %[[LDA:[^:]*]]: index
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step %c4{{.*}} iter_args
// CHECK: %[[OFF:.*]] = arith.muli %{{.*}}, %[[LDA]]
// CHECK-NEXT: %[[ROW:.*]] = arith.addi %[[AOFF]], %[[OFF]]
// CHECK-NEXT: %[[AT:.*]] = arith.addi %[[ROW]], %{{.*}}
// CHECK-NEXT: memref.load %[[A]][%[[AT]]]
func.func private @tile_rowA_2x16(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 16 : i64, hybrid.tile_a_layout = "row_major"}

// -----

// A static lda replaces the argument in the row offsets.
// CHECK-LABEL: func.func private @tile_rowA_lda64(
// CHECK-NOT: hybrid.tile
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK: scf.for
// CHECK: arith.muli %{{.*}}, %[[C64]]
func.func private @tile_rowA_lda64(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 16 : i64, hybrid.tile_a_layout = "row_major", hybrid.tile_lda = 64 : i64}

// -----

// A streamed B is fetched ahead: one prefetch per vector of B per k step,
// 32 k steps ahead.
// CHECK-LABEL: func.func private @tile_stream_2x32(
// CHECK-NOT: hybrid.tile
// CHECK: scf.for
// CHECK-COUNT-2: memref.prefetch %{{.*}}[%{{.*}}], read, locality<3>, data : memref<?xf32>
// CHECK-COUNT-4: vector.fma
func.func private @tile_stream_2x32(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 32 : i64, hybrid.tile_stream_b}

// -----

// expected-error @+1 {{unknown hybrid.tile_a_layout "column_major"}}
func.func private @tile_bad_layout(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 16 : i64, hybrid.tile_a_layout = "column_major"}

// -----

// expected-error @+1 {{matmul tile 2x24 is not whole vectors of 16 lanes}}
func.func private @tile_2x24(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 24 : i64}

// -----

// expected-error @+1 {{no CPU body for tile kernel 'conv'}}
func.func private @tile_conv(index)
    attributes {hybrid.tile_kernel = "conv", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 32 : i64}

// -----

// expected-error @+1 {{tile kernel without hybrid.tile_rows and hybrid.tile_cols}}
func.func private @tile_bare(index) attributes {hybrid.tile_kernel = "matmul"}

// -----

// expected-error @+1 {{matmul tile kernel must have type '(index, memref<?xf32>, index, index, memref<?xf32>, index, index, memref<?xf32>, index, index) -> ()'}}
func.func private @tile_short(index)
    attributes {hybrid.tile_kernel = "matmul", hybrid.tile_rows = 2 : i64, hybrid.tile_cols = 32 : i64}
