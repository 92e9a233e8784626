// RUN: hybrid-opt %s --split-input-file --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// Gated delta rule, GQA (8 query heads over 4 KV heads), per-key decay:
// the shape checks on the host, then one block per (32 value columns, KV
// head, batch) whose 4 warps keep 64 / 4 = 16 state rows of their lane's
// column in registers across the tokens: whole chunks of 16 first (Γ per
// key dim, weighing each dim of the intra-chunk products), then steps.
// CHECK-DAG:   memref.global "private" @[[GAMMAS:__hybrid_shared_9]] : memref<16x65xf32, #gpu.address_space<workgroup>>
// CHECK-LABEL: func @gated_delta
// CHECK:       call @__hybrid_raise
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}} = %c4{{.*}}, {{.*}} = %c2{{.*}}) threads({{.*}}) in ({{.*}} = %c128
// CHECK:         %[[G:.*]] = memref.get_global @[[GAMMAS]]
// CHECK:         %[[CHUNKS:.*]] = arith.divui %{{.*}}, %c16
// CHECK:         scf.for %{{.*}} = %c0 to %[[CHUNKS]] step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// Γ per key dim: a thread per dim sums the chunk's log-decays.
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c64 step %c128 {
// CHECK-COUNT-16:    memref.store {{.*}}, %[[G]]
// CHECK:           gpu.barrier
// The key weights, each dim weighed by e^{Γ_t[i] - Γ_s[i]}.
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c256 step %c128 {
// CHECK:             memref.load %[[G]]
// CHECK:             math.exp
// Then the steps.
// CHECK:         %[[FROM:.*]] = arith.muli %[[CHUNKS]], %c16
// CHECK:         scf.for %{{.*}} = %[[FROM]] to %{{.*}} step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK:           gpu.barrier
// Per-key decays staged as exp(g), the key row beside them.
// CHECK:           math.exp
// CHECK:           gpu.barrier
// The delta rule's S^T k: the warps' partials combined through shared
// memory.
// CHECK:           gpu.barrier
// CHECK:           arith.subf
// One output per query head of the group.
// CHECK:           scf.for
// CHECK:             gpu.barrier
// CHECK:             memref.store
// CHECK:       bufferization.to_tensor {{.*}} restrict writable : memref<2x8x?x32xf32>
// CHECK:       bufferization.to_tensor {{.*}} restrict writable : memref<2x4x64x32xf32>
func.func @gated_delta(%q: tensor<2x8x?x64xf32>, %k: tensor<2x4x?x64xf32>, %v: tensor<2x4x?x32xf32>,
                       %g: tensor<2x4x?x64xf32>, %beta: tensor<2x4x?xf32>, %s0: tensor<2x4x64x32xf32>)
    -> (tensor<2x8x?x32xf32>, tensor<2x4x64x32xf32>) {
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<2x4x?x64xf32>) beta(%beta : tensor<2x4x?xf32>) state(%s0 : tensor<2x4x64x32xf32>)
      : tensor<2x8x?x64xf32>, tensor<2x4x?x64xf32>, tensor<2x4x?x32xf32>
  return %o, %s : tensor<2x8x?x32xf32>, tensor<2x4x64x32xf32>
}

// -----

// A draft tree: each node starts from its parent's stored state (the
// root from the prefix's) and stores its own.
// CHECK-LABEL: func @tree
// CHECK:       gpu.launch
// The prefix: whole chunks (a per-head decay), then single steps.
// CHECK:         %[[CHUNKS:.*]] = arith.divui %{{.*}}, %c16
// CHECK:         scf.for %{{.*}} = %c0 to %[[CHUNKS]] step %c1 iter_args
// CHECK:         %[[FROM:.*]] = arith.muli %[[CHUNKS]], %c16
// CHECK:         scf.for %{{.*}} = %[[FROM]] to
// CHECK:         scf.for %[[N:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK:           arith.cmpi slt
// CHECK:           memref.load {{.*}} : memref<1x2x?x64x64xf32>
// CHECK:           memref.store {{.*}}[%{{.*}}, %{{.*}}, %[[N]], %{{.*}}, %{{.*}}] : memref<1x2x?x64x64xf32>
func.func @tree(%q: tensor<1x2x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>, %p: tensor<?xi32>)
    -> (tensor<1x2x?x64xf32>, tensor<1x2x?x64x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v tree(%p : tensor<?xi32>) {decay_slopes = array<f32: 0.25, 0.0625>}
      : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o, %s : tensor<1x2x?x64xf32>, tensor<1x2x?x64x64xf32>
}

// -----

// Lightning Attention (gated, a per-head decay from slopes) in chunks of
// 16 tokens, the state (128 / 4 = 32 rows a thread) still in registers:
// the chunk's keys and values staged, its cumulative decays from the first
// thread, then per query head the weights e^{Γ_t - Γ_s} <q_t, k_s> (a
// thread per pair), the warps' partial e^{Γ_t} q_t S0 per token, and each
// warp's 4 tokens of output; the state updated once per chunk. The tokens
// past the last whole chunk take steps.
// CHECK-DAG:   memref.global "private" @[[KEYS:__hybrid_shared_3]] : memref<16x129xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[VALUES:__hybrid_shared_5]] : memref<16x32xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[WEIGHTS:__hybrid_shared_6]] : memref<16x17xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[DECAYS:__hybrid_shared_7]] : memref<3x16xf32, #gpu.address_space<workgroup>>
// CHECK-DAG:   memref.global "private" @[[PARTIALS:__hybrid_shared_8]] : memref<4x16x32xf32, #gpu.address_space<workgroup>>
// CHECK-LABEL: func @lightning_chunks
// CHECK:       gpu.launch
// CHECK:         %[[CHUNKS:.*]] = arith.divui %{{.*}}, %c16
// CHECK:         %{{.*}}:32 = scf.for %{{.*}} = %c0 to %[[CHUNKS]] step %c1 iter_args
// CHECK:           gpu.barrier
// CHECK:           memref.store {{.*}} : memref<16x129xf32, #gpu.address_space<workgroup>>
// CHECK:           memref.store {{.*}} : memref<16x32xf32, #gpu.address_space<workgroup>>
// CHECK:           math.exp
// CHECK:           memref.store {{.*}} : memref<3x16xf32, #gpu.address_space<workgroup>>
// CHECK:           gpu.barrier
// CHECK:           scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK:             gpu.barrier
// CHECK:             gpu.barrier
// CHECK:             scf.for %{{.*}} = %{{.*}} to %c256 step %c128 {
// CHECK:               memref.store {{.*}} : memref<16x17xf32, #gpu.address_space<workgroup>>
// CHECK:             scf.for %{{.*}} = %c0 to %c16 step %c1 {
// CHECK:               memref.store {{.*}} : memref<4x16x32xf32, #gpu.address_space<workgroup>>
// CHECK:             gpu.barrier
// CHECK-COUNT-4:     memref.store {{.*}} : memref<1x4x?x64xf32>
// CHECK:           scf.for %{{.*}} = %c0 to %c16 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK:         %[[FROM:.*]] = arith.muli %[[CHUNKS]], %c16
// CHECK:         scf.for %{{.*}} = %[[FROM]] to %{{.*}} step %c1 iter_args
func.func @lightning_chunks(%q: tensor<1x4x?x128xf32>, %k: tensor<1x2x?x128xf32>, %v: tensor<1x2x?x64xf32>)
    -> (tensor<1x4x?x64xf32>, tensor<1x2x128x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v {decay_slopes = array<f32: 0.5, 0.25>}
      : tensor<1x4x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x64xf32>
  return %o, %s : tensor<1x4x?x64xf32>, tensor<1x2x128x64xf32>
}

// -----

// Gated DeltaNet (a per-head decay) in chunks too: before the outputs, the
// chunk's new values by forward substitution, run by the first warp (a
// lane per column) over the strict intra-chunk key weights and the warps'
// partial e^{Γ_t} k_t S0, each scaled by β_t, written over the values.
// CHECK-LABEL: func @gated_deltanet_chunks
// CHECK:       gpu.launch
// CHECK:         scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args
// Strict (s < t) weights of the keys.
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c256 step %c128 {
// CHECK:             arith.cmpi ult
// CHECK:             memref.store {{.*}} : memref<16x17xf32, #gpu.address_space<workgroup>>
// CHECK:           gpu.barrier
// CHECK:           scf.if
// CHECK:             scf.for %[[T:.*]] = %c0 to %c16 step %c1 {
// CHECK:               scf.for %{{.*}} = %c0 to %[[T]] step %c1 iter_args
// CHECK:               arith.mulf
// CHECK:               memref.store {{.*}} : memref<16x32xf32, #gpu.address_space<workgroup>>
// CHECK:           gpu.barrier
// Then the query heads, as for Lightning.
// CHECK:           scf.for %{{.*}} = %c0 to %c2 step %c1 {
func.func @gated_deltanet_chunks(%q: tensor<1x4x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>,
                                 %g: tensor<1x2x?xf32>, %beta: tensor<1x2x?xf32>)
    -> (tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated_delta %q, %k, %v decay(%g : tensor<1x2x?xf32>) beta(%beta : tensor<1x2x?xf32>)
      : tensor<1x4x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o, %s : tensor<1x4x?x64xf32>, tensor<1x2x64x64xf32>
}
