// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// cumsum: the run-time axis read and checked on the host, then a thread per
// line running the sum.
// CHECK-LABEL: func @cumsum
// CHECK:       call @__hybrid_raise
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK:         scf.for {{.*}} iter_args({{.*}}) -> (f32)
// CHECK:           arith.addf
// CHECK:           memref.store
func.func @cumsum(%x: tensor<3x5xf32>, %a: tensor<1xi64>) -> tensor<3x5xf32> {
  %y = hybrid.cumsum %x, %a {exclusive} : tensor<3x5xf32>, tensor<1xi64>
  return %y : tensor<3x5xf32>
}

// topk: a thread per element counts the elements that beat it (its rank)
// and writes itself there when the rank is below k.
// CHECK-LABEL: func @topk
// CHECK:       gpu.launch
// CHECK:         %[[RANK:.*]] = scf.for {{.*}} -> (index)
// CHECK:           arith.cmpf ogt
// CHECK:         arith.cmpi ult, %[[RANK]]
// CHECK:           memref.store
// CHECK:           arith.index_cast
func.func @topk(%x: tensor<3x4xf32>, %k: tensor<1xi64>) -> (tensor<3x?xf32>, tensor<3x?xi64>) {
  %v, %i = hybrid.topk %x, %k {axis = 1 : i64, largest} : tensor<3x4xf32>, tensor<1xi64> -> tensor<3x?xf32>, tensor<3x?xi64>
  return %v, %i : tensor<3x?xf32>, tensor<3x?xi64>
}

// attention_scores: a block per (row, head, batch), the row's keys strided
// over the threads; the probabilities take a block max and a block sum.
// CHECK-LABEL: func @scores
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c4, {{.*}} = %c8, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c128
// CHECK:         scf.for {{.*}} -> (f32)
// CHECK:         gpu.shuffle xor
// CHECK:         math.exp
// CHECK:         gpu.shuffle xor
func.func @scores(%q: tensor<1x8x4x64xf32>, %k: tensor<1x2x6x64xf32>) -> tensor<1x8x4x6xf32> {
  %s = hybrid.attention_scores %q, %k {causal, stage = #hybrid.score_stage<probabilities>}
      : tensor<1x8x4x64xf32>, tensor<1x2x6x64xf32> -> tensor<1x8x4x6xf32>
  return %s : tensor<1x8x4x6xf32>
}
