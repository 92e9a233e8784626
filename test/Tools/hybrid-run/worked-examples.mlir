// Small modules with hand-worked results, compiled and run by hybrid-run.
//
// RUN: hybrid-run %s --entry verify --print | FileCheck %s --check-prefix=VERIFY
// RUN: hybrid-run %s --entry attention --print | FileCheck %s --check-prefix=ATTN
// RUN: hybrid-run %s --entry norm --print | FileCheck %s --check-prefix=NORM
// RUN: hybrid-run %s --entry compact --print | FileCheck %s --check-prefix=COMPACT
// RUN: hybrid-run %s --entry recurrence --print | FileCheck %s --check-prefix=REC
// The same module with LLVM's work split over two threads (partitions of
// the functions, compiled apart and linked): the same results.
// RUN: hybrid-run %s --compile-only --emit-so %t.so --compile-threads 2 --verbose 2>&1 | FileCheck %s --check-prefix=SPLIT
// SPLIT: LLVM opt + codegen (2 threads)
// RUN: hybrid-run %t.so --entry verify --print | FileCheck %s --check-prefix=VERIFY
// RUN: hybrid-run %t.so --entry attention --print | FileCheck %s --check-prefix=ATTN
// RUN: hybrid-run %t.so --entry norm --print | FileCheck %s --check-prefix=NORM
// RUN: hybrid-run %t.so --entry compact --print | FileCheck %s --check-prefix=COMPACT
// RUN: hybrid-run %t.so --entry recurrence --print | FileCheck %s --check-prefix=REC

// Tree 0 -> {1, 2}, 1 -> 3. The target continues 0 with 7, 1 with 8: node 1
// (draft 7) and node 3 (draft 8) are accepted, node 2 (draft 5) is not; the
// bonus is the target's token after node 3.
// VERIFY: result #0: i32[4] = [0, 1, 3, -1]
// VERIFY: result #1: i32[] = 3
// VERIFY: result #2: i32[] = 9
func.func @verify() -> (tensor<4xi32>, tensor<i32>, tensor<i32>) {
  %parents = arith.constant dense<[-1, 0, 0, 1]> : tensor<4xi32>
  %draft = arith.constant dense<[0, 7, 5, 8]> : tensor<4xi32>
  %argmax = arith.constant dense<[7, 8, 1, 9]> : tensor<4xi32>
  %path, %len, %bonus = hybrid.tree_verify %parents, %draft, %argmax
      : tensor<4xi32>, tensor<4xi32>, tensor<4xi32>
  return %path, %len, %bonus : tensor<4xi32>, tensor<i32>, tensor<i32>
}

// Two keys with equal scores: the output is the mean of their values; the
// causal first row (offset 0) sees only the first key.
// ATTN: result #0: f32[1, 1, 2, 2] = {{\[\[\[}}[1, 10], [2, 20]]]]
func.func @attention() -> tensor<1x1x2x2xf32> {
  %q = arith.constant dense<[[[[0.0, 0.0], [0.0, 0.0]]]]> : tensor<1x1x2x2xf32>
  %k = arith.constant dense<[[[[1.0, 2.0], [3.0, 4.0]]]]> : tensor<1x1x2x2xf32>
  %v = arith.constant dense<[[[[1.0, 10.0], [3.0, 30.0]]]]> : tensor<1x1x2x2xf32>
  %c0 = arith.constant 0 : index
  %o = hybrid.attention %q, %k, %v offset(%c0) {causal}
      : tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>
  return %o : tensor<1x1x2x2xf32>
}

// [3, 4] / sqrt(12.5) = [0.848528, 1.13137], times the scale [1, 2].
// NORM: result #0: f32[1, 2] = {{\[\[}}0.848528, 2.26274]]
func.func @norm() -> tensor<1x2xf32> {
  %x = arith.constant dense<[[3.0, 4.0]]> : tensor<1x2xf32>
  %w = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %y = hybrid.rms_norm %x, %w {epsilon = 1.0e-12 : f32} : tensor<1x2xf32>, tensor<2xf32>
  return %y : tensor<1x2xf32>
}

// Prefix of 1 row; the tree's 3 rows follow. Path 0 -> 2: row 1 + 2 = 3
// moves to row 2; row 3 keeps its old value (dropped, past the length).
// COMPACT: result #0: f32[1, 1, 4, 1] = {{\[\[\[}}[10], [11], [13], [13]]]]
func.func @compact() -> tensor<1x1x4x1xf32> {
  %cache = arith.constant dense<[[[[10.0], [11.0], [12.0], [13.0]]]]> : tensor<1x1x4x1xf32>
  %path = arith.constant dense<[0, 2, -1]> : tensor<3xi32>
  %len = arith.constant dense<2> : tensor<i32>
  %prefix = arith.constant 1 : index
  %out = hybrid.kv_compact %path, %len at %prefix caches(%cache : tensor<1x1x4x1xf32>)
      : tensor<3xi32>, tensor<i32>
  return %out : tensor<1x1x4x1xf32>
}

// Linear attention with Dk = Dv = 1, scale 1: S accumulates k*v = 2, then
// 2 + 3 = 5; o_t = S * q_t.
// REC: result #0: f32[1, 1, 2, 1] = {{\[\[\[}}[2], [10]]]]
// REC: result #1: f32[1, 1, 1, 1] = {{\[\[\[}}[5]]]]
func.func @recurrence() -> (tensor<1x1x2x1xf32>, tensor<1x1x1x1xf32>) {
  %q = arith.constant dense<[[[[1.0], [2.0]]]]> : tensor<1x1x2x1xf32>
  %k = arith.constant dense<[[[[1.0], [1.0]]]]> : tensor<1x1x2x1xf32>
  %v = arith.constant dense<[[[[2.0], [3.0]]]]> : tensor<1x1x2x1xf32>
  %o, %s = hybrid.linear_recurrence linear %q, %k, %v {scale = 1.0 : f32}
      : tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>
  return %o, %s : tensor<1x1x2x1xf32>, tensor<1x1x1x1xf32>
}
