// hybrid-opt is mlir-opt plus the hybrid dialect: upstream dialects and
// passes, textual pipelines, IR printing, and out-of-tree plugins.
//
// RUN: hybrid-opt --help | FileCheck %s --check-prefix=HELP
// HELP-DAG: --load-dialect-plugin
// HELP-DAG: --load-pass-plugin
// HELP-DAG: --mlir-print-ir-after-all
// HELP-DAG: --pass-pipeline
// HELP-DAG: --convert-linalg-to-loops
// HELP-DAG: --one-shot-bufferize
//
// RUN: hybrid-opt --show-dialects | FileCheck %s --check-prefix=DIALECTS
// DIALECTS: Available Dialects:
// DIALECTS-SAME: arith
// DIALECTS-SAME: hybrid
// DIALECTS-SAME: linalg
// DIALECTS-SAME: tensor
//
// RUN: hybrid-opt %s --pass-pipeline='builtin.module(func.func(canonicalize))' \
// RUN:   -mlir-print-ir-after-all 2>&1 | FileCheck %s
// CHECK: IR Dump After Canonicalizer
// CHECK-LABEL: func.func @folds_around_hybrid_ops
// CHECK-NOT: arith.addi
// CHECK: hybrid.rms_norm
// CHECK: return %{{.*}}, %c5

func.func @folds_around_hybrid_ops(%x: tensor<4x8xf32>, %w: tensor<8xf32>)
    -> (tensor<4x8xf32>, index) {
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %sum = arith.addi %c2, %c3 : index
  %y = hybrid.rms_norm %x, %w : tensor<4x8xf32>, tensor<8xf32>
  return %y, %sum : tensor<4x8xf32>, index
}
