// Identical kernels share one private function; different attributes or
// types get their own. A product's constant-filled init moves in with it;
// values from outside become arguments, constants are cloned.
//
// RUN: hybrid-opt %s --hybrid-outline-kernels --allow-unregistered-dialect --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @two_layers
// CHECK: %[[N0:.*]] = call @__hybrid_kernel_rms_norm_0(%arg0, %arg1)
// CHECK: %[[P0:.*]] = call @__hybrid_kernel_matmul_1(%{{.*}}, %[[N0]], %arg2)
// CHECK: %[[N1:.*]] = call @__hybrid_kernel_rms_norm_0(%[[P0]], %arg1)
// CHECK: %[[P1:.*]] = call @__hybrid_kernel_matmul_1(%{{.*}}, %[[N1]], %arg2)
// A different epsilon is a different kernel.
// CHECK: call @__hybrid_kernel_rms_norm_2(%[[P1]], %arg1)
// An unregistered op is left where it is.
// CHECK: "test.opaque"
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @two_layers(%x: tensor<?x64xf32>, %w: tensor<64xf32>,
                      %m: tensor<64x64xf32>) -> tensor<?x64xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %t = tensor.dim %x, %c0 : tensor<?x64xf32>
  %n0 = hybrid.rms_norm %x, %w : tensor<?x64xf32>, tensor<64xf32>
  %e0 = tensor.empty(%t) : tensor<?x64xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<?x64xf32>) -> tensor<?x64xf32>
  %p0 = linalg.matmul ins(%n0, %m : tensor<?x64xf32>, tensor<64x64xf32>)
                      outs(%f0 : tensor<?x64xf32>) -> tensor<?x64xf32>
  %n1 = hybrid.rms_norm %p0, %w : tensor<?x64xf32>, tensor<64xf32>
  %e1 = tensor.empty(%t) : tensor<?x64xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?x64xf32>) -> tensor<?x64xf32>
  %p1 = linalg.matmul ins(%n1, %m : tensor<?x64xf32>, tensor<64x64xf32>)
                      outs(%f1 : tensor<?x64xf32>) -> tensor<?x64xf32>
  %n2 = hybrid.rms_norm %p1, %w {epsilon = 1.0e-6 : f32} : tensor<?x64xf32>, tensor<64xf32>
  %o = "test.opaque"(%n2) : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// CHECK: func.func private @__hybrid_kernel_rms_norm_0(%{{.*}}: tensor<?x64xf32>, %{{.*}}: tensor<64xf32>) -> tensor<?x64xf32>
// CHECK-SAME: passthrough = ["noinline"]
// CHECK: hybrid.rms_norm
// CHECK: func.func private @__hybrid_kernel_matmul_1(%[[T:.*]]: index, %[[A:.*]]: tensor<?x64xf32>, %[[B:.*]]: tensor<64x64xf32>)
// CHECK-DAG: %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[E:.*]] = tensor.empty(%[[T]])
// CHECK: %[[F:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%[[E]]
// CHECK: linalg.matmul ins(%[[A]], %[[B]] : {{.*}}) outs(%[[F]]
// CHECK: func.func private @__hybrid_kernel_rms_norm_2(
// CHECK: epsilon = 9.99999997E-7
// CHECK-NOT: func.func private

// -----

// A linalg.generic body that reads values from outside: the scalar argument
// becomes an argument of the kernel, the constant is cloned in.
// CHECK-LABEL: func.func @captures
// CHECK: call @__hybrid_kernel_generic_0(%arg0, %arg1)
// CHECK: func.func private @__hybrid_kernel_generic_0(%[[X:.*]]: tensor<8xf32>, %[[S:.*]]: f32)
// CHECK: %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK: linalg.generic
// CHECK: arith.mulf %{{.*}}, %[[S]]
// CHECK: arith.addf %{{.*}}, %[[TWO]]
func.func @captures(%x: tensor<8xf32>, %s: f32) -> tensor<8xf32> {
  %two = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                       iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %s : f32
    %r = arith.addf %m, %two : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}
