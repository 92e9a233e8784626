// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-gpu --canonicalize --verify-diagnostics | FileCheck %s

// GQA (16 query heads over 2 KV heads), causal: one block per (32 rows of
// a KV head's packed query group, KV head, batch); Q (scaled), K, V and P
// tiles in shared memory, padded by one float per row.
// CHECK-DAG:   memref.global "private" @[[QS:__hybrid_shared]] : memref<32x129xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[KS:__hybrid_shared_0]] : memref<16x129xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[VS:__hybrid_shared_1]] : memref<16x129xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[PS:__hybrid_shared_2]] : memref<32x17xf32, #gpu.address_space<workgroup>>
// CHECK-LABEL: func @gqa_causal
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %c2{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c128
// CHECK:         %[[Q:.*]] = memref.get_global @[[QS]]
// CHECK:         %[[K:.*]] = memref.get_global @[[KS]]
// CHECK:         %[[V:.*]] = memref.get_global @[[VS]]
// CHECK:         %[[P:.*]] = memref.get_global @[[PS]]
// Q staged once (32 rows x 128), times 1/sqrt(128).
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c4096 step %c128
// CHECK:           arith.mulf %{{.*}}, %cst
// CHECK:           memref.store {{.*}}, %[[Q]]
// Key tiles up to the block's causal limit only.
// CHECK:         %[[END:.*]] = arith.minsi
// CHECK:         scf.for %{{.*}} = %c0 to %[[END]] step %c16 iter_args
// CHECK:           gpu.barrier
// CHECK:           memref.store {{.*}}, %[[K]]
// CHECK:           memref.store {{.*}}, %[[V]]
// CHECK:           gpu.barrier
// CHECK:           scf.for %{{.*}} = %c0 to %c128 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32)
// CHECK:           arith.cmpi sle
// The row's max and sum: shuffles among its 4 threads.
// CHECK-COUNT-2:   gpu.shuffle xor
// CHECK:           math.exp
// CHECK:           memref.store {{.*}}, %[[P]]
// CHECK-COUNT-2:   gpu.shuffle xor
// CHECK:           gpu.barrier
// 32 output columns per thread (128 / 4).
// CHECK:           scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK:       bufferization.to_tensor {{.*}} restrict writable
func.func @gqa_causal(%q: tensor<1x16x?x128xf32>, %k: tensor<1x2x?x128xf32>, %v: tensor<1x2x?x128xf32>) -> tensor<1x16x?x128xf32> {
  %o = hybrid.attention %q, %k, %v {causal} : tensor<1x16x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>
  return %o : tensor<1x16x?x128xf32>
}

// -----

// bf16 Q, K and V: the tensor-core form. 64 packed rows a block (4 warps of
// 16); Q and K tiles in bf16, V transposed (its 120 columns padded to 15
// fragments of 8), every row padded by 8 halves.
// CHECK-DAG:   memref.global "private" @[[QT:__hybrid_shared]] : memref<64x136xbf16, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[KT:__hybrid_shared_0]] : memref<16x136xbf16, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[VT:__hybrid_shared_1]] : memref<120x24xbf16, #gpu.address_space<workgroup>>
// CHECK-LABEL: func @gqa_causal_tensor_cores
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %{{.*}}, {{.*}} = %c2{{.*}}, {{.*}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c128
// Q staged once, unscaled, in bf16.
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c8192 step %c128
// CHECK:           memref.store {{.*}} : memref<64x136xbf16, #gpu.address_space<workgroup>>
// Key tiles of 16 up to the block's causal limit; the max and sum of two
// rows, then 15 x 4 accumulators of O.
// CHECK:         %{{.*}}:64 = scf.for %{{.*}} = %c0 to %{{.*}} step %c16 iter_args
// CHECK:           gpu.barrier
// CHECK:           memref.store {{.*}} : memref<16x136xbf16, #gpu.address_space<workgroup>>
// CHECK:           memref.store {{.*}} : memref<120x24xbf16, #gpu.address_space<workgroup>>
// CHECK:           gpu.barrier
// S = Q K^T over the head dimension in steps of 16: two fragments of 8 keys.
// CHECK:           scf.for %{{.*}} = %c0 to %c128 step %c16 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-2:     nvvm.mma.sync {{.*}} {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// The causal limit on every score, then each row's max and sum over its
// group's 4 lanes.
// CHECK:           arith.cmpi sle
// CHECK-COUNT-2:   gpu.shuffle xor
// CHECK:           math.exp
// CHECK-COUNT-2:   gpu.shuffle xor
// P, rounded to bf16, is the A operand of P V: 15 fragments of O.
// CHECK:           arith.truncf {{.*}} : f32 to bf16
// CHECK-COUNT-15:  nvvm.mma.sync
// CHECK-NOT:       nvvm.mma.sync
// CHECK:           scf.yield
// O / l, stored where the column is below 120.
// CHECK:         arith.divf
// CHECK:         memref.store {{.*}} : memref<1x16x?x120xbf16>
func.func @gqa_causal_tensor_cores(%q: tensor<1x16x?x128xbf16>, %k: tensor<1x2x?x128xbf16>, %v: tensor<1x2x?x120xbf16>) -> tensor<1x16x?x120xbf16> {
  %o = hybrid.attention %q, %k, %v {causal} : tensor<1x16x?x128xbf16>, tensor<1x2x?x128xbf16>, tensor<1x2x?x120xbf16>
  return %o : tensor<1x16x?x120xbf16>
}

// -----

// A draft tree walks each node's ancestors; a boolean mask is read with
// its broadcast dims clamped; softcap goes through tanh.
// CHECK-LABEL: func @tree_mask_softcap
// CHECK:       gpu.launch
// CHECK:         math.tanh
// CHECK:         scf.if
// CHECK:           scf.for {{.*}} -> (index, i1)
// CHECK:         arith.minui
// CHECK:         tensor.extract %arg3
func.func @tree_mask_softcap(%q: tensor<1x4x?x64xf32>, %k: tensor<1x4x?x64xf32>, %v: tensor<1x4x?x64xf32>, %m: tensor<?x?xi1>, %p: tensor<?xi32>) -> tensor<1x4x?x64xf32> {
  %o = hybrid.attention %q, %k, %v mask(%m : tensor<?x?xi1>) tree(%p : tensor<?xi32>) {causal, softcap = 30.0 : f32}
      : tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}

// -----

func.func @wide_heads(%q: tensor<1x1x4x256xf32>, %k: tensor<1x1x8x256xf32>, %v: tensor<1x1x8x256xf32>) -> tensor<1x1x4x256xf32> {
  // expected-error @below {{the GPU attention kernel needs static head dimensions of at most 128}}
  %o = hybrid.attention %q, %k, %v : tensor<1x1x4x256xf32>, tensor<1x1x8x256xf32>, tensor<1x1x8x256xf32>
  return %o : tensor<1x1x4x256xf32>
}
