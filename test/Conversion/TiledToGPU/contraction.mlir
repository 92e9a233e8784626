// RUN: hybrid-opt %s --hybrid-linalg-to-gpu --canonicalize | FileCheck %s

// f32: one 64 x 64 tile of C per block of 256 threads, A and B staged in
// 16-deep slices of shared memory, a 4 x 4 register tile of FMAs each.
// Shared tiles are module globals in the workgroup address space (copied
// into each kernel's module by outlining).
// CHECK-DAG:   memref.global "private" @[[SA:__hybrid_shared]] : memref<16x64xf32, #gpu.address_space<workgroup>> = uninitialized
// CHECK-DAG:   memref.global "private" @[[SB:__hybrid_shared_0]] : memref<16x64xf32, #gpu.address_space<workgroup>> = uninitialized
// CHECK-LABEL: func @matmul_f32
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %[[NT:.*]], {{.*}} = %[[MT:.*]], {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:         %[[A:.*]] = memref.get_global @[[SA]]
// CHECK:         %[[B:.*]] = memref.get_global @[[SB]]
// CHECK:         scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK:           memref.store {{.*}}, %[[A]]
// CHECK:           memref.store {{.*}}, %[[B]]
// CHECK:           gpu.barrier
// CHECK-COUNT-16:  arith.addf {{.*}} fastmath<contract>
// CHECK:           gpu.barrier
// CHECK-NOT:     linalg.matmul
func.func @matmul_f32(%a: memref<?x64xf32>, %b: memref<64x96xf32>, %c: memref<?x96xf32>) {
  linalg.matmul ins(%a, %b : memref<?x64xf32>, memref<64x96xf32>) outs(%c : memref<?x96xf32>)
  return
}

// f16 (and bf16) operands: tensor cores, 8 warps of 2 x 2 m16n8k16
// fragments, A row-major and B column-major in padded shared tiles.
// CHECK-LABEL: func @matmul_f16
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK-COUNT-2: memref.get_global {{.*}} : memref<64x40xf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-8: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>{{.*}} : (vector<2xf16>, vector<2xf16>, f32)
// CHECK-NOT:     nvvm.mma.sync
func.func @matmul_f16(%a: memref<?x?xf16>, %b: memref<?x?xf16>, %c: memref<?x?xf32>) {
  linalg.matmul ins(%a, %b : memref<?x?xf16>, memref<?x?xf16>) outs(%c : memref<?x?xf32>)
  return
}

// bf16 fragments are passed as i32 words.
// CHECK-LABEL: func @batch_matmul_bf16
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}}, {{.*}} = %c4{{.*}})
// CHECK:       nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}} : (i32, i32, f32)
func.func @batch_matmul_bf16(%a: memref<4x?x64xbf16>, %b: memref<4x64x32xbf16>, %c: memref<4x?x32xf32>) {
  linalg.batch_matmul ins(%a, %b : memref<4x?x64xbf16>, memref<4x64x32xbf16>) outs(%c : memref<4x?x32xf32>)
  return
}

// A transposed operand is read through its map: B[n, k].
// CHECK-LABEL: func @matmul_transpose_b
// CHECK:       gpu.launch
// CHECK:         memref.load %arg1[%{{.*}}, %{{.*}}] : memref<32x64xf32>
func.func @matmul_transpose_b(%a: memref<8x64xf32>, %b: memref<32x64xf32>, %c: memref<8x32xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
    ins(%a, %b : memref<8x64xf32>, memref<32x64xf32>) outs(%c : memref<8x32xf32>)
  return
}

// bf16 weights against f32 activations (a bf16 checkpoint's projections):
// tensor cores, the f32 operand staged as two bf16 tiles (its rounding and
// the rest), each multiplied by the bf16 tile: 2 x 8 mma.sync per K slice.
// CHECK-LABEL: func @matmul_bf16_f32
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK-COUNT-3: memref.get_global {{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>
// CHECK:         %[[X:.*]] = scf.if {{.*}} -> (f32)
// CHECK:         %[[HI:.*]] = arith.truncf %[[X]] : f32 to bf16
// CHECK:         %[[BACK:.*]] = arith.extf %[[HI]] : bf16 to f32
// CHECK:         %[[REST:.*]] = arith.subf %[[X]], %[[BACK]]
// CHECK:         %[[LO:.*]] = arith.truncf %[[REST]] : f32 to bf16
// CHECK:         memref.store %[[HI]]
// CHECK:         memref.store %[[LO]]
// CHECK-COUNT-16: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}} : (i32, i32, f32)
// CHECK-NOT:     nvvm.mma.sync
func.func @matmul_bf16_f32(%w: memref<64x64xbf16>, %x: memref<64x?xf32>, %c: memref<64x?xf32>) {
  linalg.matmul ins(%w, %x : memref<64x64xbf16>, memref<64x?xf32>) outs(%c : memref<64x?xf32>)
  return
}
