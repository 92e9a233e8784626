// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// Greedy acceptance: a block per node takes the target's argmax (the
// maximum, then the lowest index holding it: two block reductions), then
// one thread walks the nodes in order and writes path, length and bonus.
// CHECK-LABEL: func @verify
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}}) threads({{.*}}) in ({{.*}} = %c256
// CHECK:         gpu.shuffle xor
// CHECK:         arith.fptoui
// CHECK:       gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}} = %c1, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c1
// CHECK:         scf.for {{.*}} -> (index, index)
// CHECK-COUNT-3: bufferization.to_tensor
func.func @verify(%p: tensor<8xi32>, %d: tensor<8xi32>, %t: tensor<8x100xf32>) -> (tensor<8xi32>, tensor<i32>, tensor<i32>) {
  %path, %len, %bonus = hybrid.tree_verify %p, %d, %t : tensor<8xi32>, tensor<8xi32>, tensor<8x100xf32>
  return %path, %len, %bonus : tensor<8xi32>, tensor<i32>, tensor<i32>
}
