// hybrid-import on ONNX's own node tests (test/ONNX/node): RMSNormalization
// becomes hybrid.rms_norm with its attributes; Softmax linalg.softmax (the
// form raising looks for); graph inputs keep their ONNX names.
//
// RUN: hybrid-import %S/../../ONNX/node/test_rms_normalization_3d_axis1_epsilon/model.onnx | FileCheck %s --check-prefix=RMS
// RUN: hybrid-import %S/../../ONNX/node/test_softmax_axis_1/model.onnx | FileCheck %s --check-prefix=SOFTMAX
// RUN: hybrid-import %S/../../ONNX/node/test_rotary_embedding_with_interleaved_rotary_dim/model.onnx | FileCheck %s --check-prefix=ROPE
// RUN: hybrid-import %S/../../ONNX/node/test_attention_3d_gqa_causal/model.onnx | FileCheck %s --check-prefix=ATTN3D
// RUN: hybrid-import %S/../../ONNX/node/test_attention_4d_with_past_and_present/model.onnx | FileCheck %s --check-prefix=PAST
// RUN: hybrid-import %S/../../ONNX/node/test_attention_4d_with_qk_matmul_softmax/model.onnx | FileCheck %s --check-prefix=QK
// RUN: hybrid-import %S/../../ONNX/node/test_linear_attention_gated_delta_gqa/model.onnx | FileCheck %s --check-prefix=LINEAR
// RUN: hybrid-import %S/../../ONNX/models/symbolic_dims.onnx | FileCheck %s --check-prefix=DYN
// RUN: hybrid-import %S/../../ONNX/models/symbolic_dims.onnx --dim batch=1 --dim seq=128 | FileCheck %s --check-prefix=FIXED
// RUN: not hybrid-import %S/../../ONNX/models/symbolic_dims.onnx --dim batch=x 2>&1 | FileCheck %s --check-prefix=BADDIM
// RUN: hybrid-import %S/../../ONNX/node/test_softmax_axis_1/model.onnx --emit-bytecode -o %t.mlirbc
// RUN: hybrid-opt %t.mlirbc | FileCheck %s --check-prefix=SOFTMAX

// RMS: func.func @test_rms_normalization_3d_axis1_epsilon(%[[X:.*]]: tensor<2x3x5xf32> {hybrid.arg_name = "X"}, %[[W:.*]]: tensor<3x5xf32> {hybrid.arg_name = "W"}) -> tensor<2x3x5xf32>
// RMS: hybrid.rms_norm %[[X]], %[[W]] {axis = 1 : i64, epsilon = 1.000000e-01 : f32}

// SOFTMAX-LABEL: func.func @test_softmax_axis_1
// SOFTMAX: linalg.softmax dimension(1) ins(%arg0 : tensor<3x4x5xf32>)

// ROPE: hybrid.rotary_embedding %{{.*}}, %{{.*}}, %{{.*}} positions(%{{.*}} : tensor<2x3xi64>) {interleaved, rotary_embedding_dim = 4 : i64}

// Attention with 3-D inputs: heads split, causal from query 0 (no past),
// heads joined again.
// ATTN3D: %[[ZERO:.*]] = arith.constant 0 : index
// ATTN3D: tensor.expand_shape %arg0 {{.*}} into tensor<2x4x9x8xf32>
// ATTN3D: hybrid.attention %{{.*}}, %{{.*}}, %{{.*}} offset(%[[ZERO]]) {causal} : tensor<2x9x4x8xf32>, tensor<2x3x6x8xf32>, tensor<2x3x6x8xf32>
// ATTN3D: tensor.collapse_shape {{.*}} into tensor<2x4x72xf32>

// The past cache goes in front of K and V, which become present_key/value.
// PAST: %[[K:.*]] = tensor.insert_slice %arg1 into %{{.*}}[0, 0, 12, 0] [2, 3, 6, 8]
// PAST: %[[V:.*]] = tensor.insert_slice %arg2 into %{{.*}}[0, 0, 12, 0] [2, 3, 6, 8]
// PAST: %[[Y:.*]] = hybrid.attention %arg0, %[[K]], %[[V]] mask(%arg3 : tensor<4x18xf32>)
// PAST: return %[[Y]], %[[K]], %[[V]]

// The qk_matmul_output (mode 3: after the softmax) is hybrid.attention_scores.
// QK: %[[Y:.*]] = hybrid.attention %arg0, %arg1, %arg2 mask(%arg3
// QK: %[[S:.*]] = hybrid.attention_scores %arg0, %arg1 mask(%arg3 {{.*}}stage = #hybrid.score_stage<probabilities>
// QK: return %[[Y]], %[[S]]

// LinearAttention: heads split, decay and beta heads-first, the recurrence.
// LINEAR: hybrid.linear_recurrence gated_delta

// Symbolic dims stay dynamic, unless --dim fixes them.
// DYN: func.func @symbolic_dims(%{{.*}}: tensor<?x?x16xf32> {{.*}}) -> tensor<?x?x16xf32>
// FIXED: func.func @symbolic_dims(%{{.*}}: tensor<1x128x16xf32> {{.*}}) -> tensor<1x128x16xf32>
// BADDIM: error: --dim expects name=size (a non-negative integer), got 'batch=x'
