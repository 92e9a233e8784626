// Weights read only transposed (through reshapes, and through the private
// layer functions the importers share between layers) are bound
// transposed; anything else keeps its layout.
//
// RUN: hybrid-opt %s --hybrid-hoist-weight-transposes -split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-hoist-weight-transposes --hybrid-export-entry-points -split-input-file | FileCheck %s --check-prefix=META

// BlockFFN's down_proj [H, E*Be] read as [E, H, Be] by a layer function.
// CHECK-LABEL: func.func private @layer
// CHECK-SAME: (%[[D:.+]]: tensor<8x4x16xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK: return %[[D]]
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[W:.+]]: tensor<8x4x16xbf16> {hybrid.parameter = #hybrid.parameter<key = "down", file = "m.bin", offset = 0, length = 1024, permutation = [1, 0, 2]>}
// CHECK-NOT: linalg.transpose
// CHECK-NOT: tensor.expand_shape
// CHECK: call @layer(%[[W]])
// META: \22parameter\22:{\22file\22:\22m.bin\22,\22key\22:\22down\22,\22length\22:1024,\22offset\22:0,\22permutation\22:[1,0,2]},\22shape\22:[8,4,16]
func.func private @layer(%down: tensor<4x128xbf16>) -> tensor<8x4x16xbf16> {
  %split = tensor.expand_shape %down [[0], [1, 2]] output_shape [4, 8, 16]
      : tensor<4x128xbf16> into tensor<4x8x16xbf16>
  %e = tensor.empty() : tensor<8x4x16xbf16>
  %t = linalg.transpose ins(%split : tensor<4x8x16xbf16>)
      outs(%e : tensor<8x4x16xbf16>) permutation = [1, 0, 2]
  return %t : tensor<8x4x16xbf16>
}
func.func @decode(%w: tensor<4x128xbf16> {hybrid.parameter = #hybrid.parameter<
    key = "down", file = "m.bin", offset = 0, length = 1024>}) -> tensor<8x4x16xbf16> {
  %r = call @layer(%w) : (tensor<4x128xbf16>) -> tensor<8x4x16xbf16>
  return %r : tensor<8x4x16xbf16>
}

// -----

// Read transposed and as it is, or not a parameter: left alone (the
// private function's transpose moves to its caller, which transposes
// the caller's own operand).
// CHECK-LABEL: func.func private @transposes
// CHECK-SAME: (%{{.+}}: tensor<3x2xf32>)
// CHECK-LABEL: func.func @kept
// CHECK-SAME: %[[P:[a-z0-9]+]]: tensor<2x3xf32> {hybrid.parameter = #hybrid.parameter<key = "both", file = "m.bin", offset = 0, length = 24>}
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3xf32>)
// CHECK: %[[T:.+]] = linalg.transpose ins(%[[P]]
// CHECK: %[[U:.+]] = linalg.transpose ins(%[[X]]
// CHECK: call @transposes(%[[U]])
// CHECK: return %[[T]], %[[P]]
// META-NOT: \22permutation
func.func private @transposes(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %e = tensor.empty() : tensor<3x2xf32>
  %t = linalg.transpose ins(%x : tensor<2x3xf32>) outs(%e : tensor<3x2xf32>)
      permutation = [1, 0]
  return %t : tensor<3x2xf32>
}
func.func @kept(%both: tensor<2x3xf32> {hybrid.parameter = #hybrid.parameter<
    key = "both", file = "m.bin", offset = 0, length = 24>},
    %x: tensor<2x3xf32>) -> (tensor<3x2xf32>, tensor<2x3xf32>, tensor<3x2xf32>) {
  %e = tensor.empty() : tensor<3x2xf32>
  %t = linalg.transpose ins(%both : tensor<2x3xf32>) outs(%e : tensor<3x2xf32>)
      permutation = [1, 0]
  %u = call @transposes(%x) : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %t, %both, %u : tensor<3x2xf32>, tensor<2x3xf32>, tensor<3x2xf32>
}
