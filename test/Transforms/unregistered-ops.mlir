// An unregistered op next to hybrid ops: the passes that look for hybrid ops
// skip it (they used to crash on its null dialect), and the CPU pipeline
// reports that it cannot compile it.
//
// RUN: hybrid-opt %s --allow-unregistered-dialect --hybrid-cost-report -o /dev/null | FileCheck %s --check-prefix=COST
// RUN: hybrid-opt %s --allow-unregistered-dialect --convert-hybrid-to-loops | FileCheck %s --check-prefix=LOOPS
// RUN: not hybrid-opt %s --allow-unregistered-dialect --hybrid-cpu-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=PIPELINE

// COST: "op":"module"
// LOOPS-LABEL: func.func @f
// LOOPS-NOT: hybrid.rms_norm %
// LOOPS: "test.opaque"
// PIPELINE: error: op was not bufferized
func.func @f(%x: tensor<4x8xf32>, %w: tensor<8xf32>) -> tensor<4x8xf32> {
  %n = hybrid.rms_norm %x, %w : tensor<4x8xf32>, tensor<8xf32>
  %y = "test.opaque"(%n) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
