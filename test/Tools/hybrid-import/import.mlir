// hybrid-import on ONNX's own node tests (test/ONNX/node): RMSNormalization
// becomes hybrid.rms_norm with its attributes; Softmax the three linalg
// reductions; graph inputs keep their ONNX names.
//
// RUN: hybrid-import %S/../../ONNX/node/test_rms_normalization_3d_axis1_epsilon/model.onnx | FileCheck %s --check-prefix=RMS
// RUN: hybrid-import %S/../../ONNX/node/test_softmax_axis_1/model.onnx | FileCheck %s --check-prefix=SOFTMAX
// RUN: hybrid-import %S/../../ONNX/node/test_rotary_embedding_with_interleaved_rotary_dim/model.onnx | FileCheck %s --check-prefix=ROPE
// RUN: hybrid-import %S/../../ONNX/node/test_softmax_axis_1/model.onnx --emit-bytecode -o %t.mlirbc
// RUN: hybrid-opt %t.mlirbc | FileCheck %s --check-prefix=SOFTMAX

// RMS: func.func @test_rms_normalization_3d_axis1_epsilon(%[[X:.*]]: tensor<2x3x5xf32> {hybrid.onnx_name = "X"}, %[[W:.*]]: tensor<3x5xf32> {hybrid.onnx_name = "W"}) -> tensor<2x3x5xf32>
// RMS: hybrid.rms_norm %[[X]], %[[W]] {axis = 1 : i64, epsilon = 1.000000e-01 : f32}

// SOFTMAX-LABEL: func.func @test_softmax_axis_1
// SOFTMAX: linalg.generic {{.*}}iterator_types = ["parallel", "reduction", "parallel"]
// SOFTMAX: arith.maximumf
// SOFTMAX: math.exp
// SOFTMAX: arith.addf
// SOFTMAX: arith.divf

// ROPE: hybrid.rotary_embedding %{{.*}}, %{{.*}}, %{{.*}} positions(%{{.*}} : tensor<2x3xi64>) {interleaved, rotary_embedding_dim = 4 : i64}
