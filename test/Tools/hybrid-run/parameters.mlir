// Entry points that read one parameter must agree on what it is: the
// runtime refuses the module when they do not.
//
// RUN: not hybrid-run %s --entry a 2>&1 | FileCheck %s
// CHECK: hybrid-run: error: {{.*}}: entry points disagree on parameter 'w'

func.func @a(%w: tensor<8xf32> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 32>})
    -> tensor<8xf32> {
  return %w : tensor<8xf32>
}
func.func @b(%w: tensor<8xf16> {hybrid.parameter =
    #hybrid.parameter<key = "w", file = "w.bin", offset = 0, length = 16>})
    -> tensor<8xf16> {
  return %w : tensor<8xf16>
}
