// RUN: hybrid-opt %s --hybrid-decompose-softmax | FileCheck %s

// A softmax outside attention becomes max, exp(x - max), sum, divide.
// CHECK-LABEL: func.func @rows
// CHECK-NOT: linalg.softmax
// CHECK: linalg.generic {{.*}}["parallel", "reduction"]
// CHECK: arith.maxnumf
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.divf
func.func @rows(%x: tensor<4x?xf32>) -> tensor<4x?xf32> {
  %c1 = arith.constant 1 : index
  %n = tensor.dim %x, %c1 : tensor<4x?xf32>
  %e = tensor.empty(%n) : tensor<4x?xf32>
  %y = linalg.softmax dimension(1) ins(%x : tensor<4x?xf32>) outs(%e : tensor<4x?xf32>) -> tensor<4x?xf32>
  return %y : tensor<4x?xf32>
}
