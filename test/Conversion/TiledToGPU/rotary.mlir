// RUN: hybrid-opt %s --convert-hybrid-to-gpu --canonicalize | FileCheck %s

// The CPU kernel's shape checks run on the host, before the launch (the
// module's error status); then one thread per element, rotated with its
// pair partner (i, i + 32) by its position's angle, or copied.
// CHECK-LABEL: func @rope
// CHECK:       call @__hybrid_raise
// CHECK:       %[[WORK:.*]] = arith.select
// CHECK:       arith.cmpi sgt, %[[WORK]]
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK:         %[[D:.*]] = arith.remui %{{.*}}, %c64
// CHECK:         scf.if %{{.*}} -> (f32)
// CHECK:           %[[FIRST:.*]] = arith.cmpi ult, %[[D]], %c32
// CHECK:           tensor.extract %arg3
// CHECK:           tensor.extract %arg1
// CHECK:           tensor.extract %arg2
// CHECK:           arith.subf
// CHECK:           arith.addf
// CHECK:           arith.select %[[FIRST]]
// CHECK:       bufferization.to_tensor {{.*}} restrict writable
func.func @rope(%x: tensor<1x8x?x64xf32>, %c: tensor<?x32xf32>, %s: tensor<?x32xf32>, %p: tensor<1x?xi64>) -> tensor<1x8x?x64xf32> {
  %y = hybrid.rotary_embedding %x, %c, %s positions(%p : tensor<1x?xi64>) : tensor<1x8x?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
  return %y : tensor<1x8x?x64xf32>
}
