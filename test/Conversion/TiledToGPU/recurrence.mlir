// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// Gated delta rule, GQA (8 query heads over 4 KV heads), per-key decay:
// the shape checks on the host, then one block per (32 value columns, KV
// head, batch) whose 4 warps keep 64 / 4 = 16 state rows of their lane's
// column in registers across the tokens.
// CHECK-LABEL: func @gated_delta
// CHECK:       call @__hybrid_raise
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}} = %c4{{.*}}, {{.*}} = %c2{{.*}}) threads({{.*}}) in ({{.*}} = %c128
// CHECK:         scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
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

// A draft tree: each node starts from its parent's stored state (the
// root from the prefix's) and stores its own.
// CHECK-LABEL: func @tree
// CHECK:       gpu.launch
// CHECK:         scf.for
// CHECK:         scf.for %[[N:.*]] = %c0 to
// CHECK:           arith.cmpi slt
// CHECK:           memref.load {{.*}} : memref<1x2x?x64x64xf32>
// CHECK:           memref.store {{.*}}[%{{.*}}, %{{.*}}, %[[N]], %{{.*}}, %{{.*}}] : memref<1x2x?x64x64xf32>
func.func @tree(%q: tensor<1x2x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>, %p: tensor<?xi32>)
    -> (tensor<1x2x?x64xf32>, tensor<1x2x?x64x64xf32>) {
  %o, %s = hybrid.linear_recurrence gated %q, %k, %v tree(%p : tensor<?xi32>) {decay_slopes = array<f32: 0.25, 0.0625>}
      : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>
  return %o, %s : tensor<1x2x?x64xf32>, tensor<1x2x?x64x64xf32>
}
