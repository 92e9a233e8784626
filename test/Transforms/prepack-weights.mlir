// Weights that products read only as B are bound in the product's column
// panels; anything else keeps its layout.
//
// RUN: hybrid-opt %s --hybrid-prepack-weights="panel-cols=32" -split-input-file | FileCheck %s
// RUN: hybrid-opt %s --hybrid-prepack-weights="panel-cols=32" --hybrid-export-entry-points -split-input-file | FileCheck %s --check-prefix=META

// CHECK-LABEL: func.func @projections
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<2x64x32xf32> {hybrid.parameter = #hybrid.parameter<key = "w", file = "m.bin", offset = 0, length = 12800, panels = 32>}
// CHECK: %[[E0:.+]] = tensor.empty() : tensor<64x50xf32>
// CHECK: %[[U0:.+]] = linalg.unpack %[[W]] outer_dims_perm = [1, 0] inner_dims_pos = [1] inner_tiles = [32] into %[[E0]] : tensor<2x64x32xf32> -> tensor<64x50xf32>
// CHECK: linalg.matmul ins(%{{.+}}, %[[U0]] :
// CHECK: %[[U1:.+]] = linalg.unpack %[[W]]
// CHECK: linalg.matmul ins(%{{.+}}, %[[U1]] :
// META: hybrid.entry_points = "[{{.*}}\22parameter\22:{\22file\22:\22m.bin\22,\22key\22:\22w\22,\22length\22:12800,\22offset\22:0,\22panels\22:32},\22shape\22:[2,64,32]}
func.func @projections(%x: tensor<?x64xf32>, %y: tensor<3x64xf32>,
    %w: tensor<64x50xf32> {hybrid.parameter = #hybrid.parameter<
        key = "w", file = "m.bin", offset = 0, length = 12800>})
    -> (tensor<?x50xf32>, tensor<3x50xf32>) {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty(%m) : tensor<?x50xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<?x50xf32>) -> tensor<?x50xf32>
  %r = linalg.matmul ins(%x, %w : tensor<?x64xf32>, tensor<64x50xf32>)
                     outs(%f : tensor<?x50xf32>) -> tensor<?x50xf32>
  %e2 = tensor.empty() : tensor<3x50xf32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<3x50xf32>) -> tensor<3x50xf32>
  %r2 = linalg.matmul ins(%y, %w : tensor<3x64xf32>, tensor<64x50xf32>)
                      outs(%f2 : tensor<3x50xf32>) -> tensor<3x50xf32>
  return %r, %r2 : tensor<?x50xf32>, tensor<3x50xf32>
}

// -----

// Read by something else too (here returned), as A, narrower than a panel,
// bf16, or not a parameter: left alone.
// CHECK-LABEL: func.func @kept
// CHECK-SAME: tensor<64x50xf32> {hybrid.parameter = #hybrid.parameter<key = "returned", file = "m.bin", offset = 0, length = 12800>}
// CHECK-SAME: tensor<50x64xf32> {hybrid.parameter = #hybrid.parameter<key = "as_a", file = "m.bin", offset = 0, length = 12800>}
// CHECK-SAME: tensor<64x16xf32> {hybrid.parameter = #hybrid.parameter<key = "narrow", file = "m.bin", offset = 0, length = 4096>}
// CHECK-SAME: tensor<64x50xbf16> {hybrid.parameter = #hybrid.parameter<key = "bf16", file = "m.bin", offset = 0, length = 6400>}
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<64x50xf32>)
// CHECK-NOT: linalg.unpack
// META-NOT: panels
func.func @kept(%x: tensor<4x64xf32>,
    %returned: tensor<64x50xf32> {hybrid.parameter = #hybrid.parameter<
        key = "returned", file = "m.bin", offset = 0, length = 12800>},
    %as_a: tensor<50x64xf32> {hybrid.parameter = #hybrid.parameter<
        key = "as_a", file = "m.bin", offset = 0, length = 12800>},
    %narrow: tensor<64x16xf32> {hybrid.parameter = #hybrid.parameter<
        key = "narrow", file = "m.bin", offset = 0, length = 4096>},
    %bf16: tensor<64x50xbf16> {hybrid.parameter = #hybrid.parameter<
        key = "bf16", file = "m.bin", offset = 0, length = 6400>},
    %plain: tensor<64x50xf32>)
    -> (tensor<4x50xf32>, tensor<64x50xf32>, tensor<50x50xf32>,
        tensor<4x16xf32>, tensor<4x50xf32>, tensor<4x50xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x50xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x50xf32>) -> tensor<4x50xf32>
  %r1 = linalg.matmul ins(%x, %returned : tensor<4x64xf32>, tensor<64x50xf32>)
                      outs(%f : tensor<4x50xf32>) -> tensor<4x50xf32>
  %e2 = tensor.empty() : tensor<50x50xf32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<50x50xf32>) -> tensor<50x50xf32>
  %r2 = linalg.matmul ins(%as_a, %returned : tensor<50x64xf32>, tensor<64x50xf32>)
                      outs(%f2 : tensor<50x50xf32>) -> tensor<50x50xf32>
  %e3 = tensor.empty() : tensor<4x16xf32>
  %f3 = linalg.fill ins(%z : f32) outs(%e3 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %r3 = linalg.matmul ins(%x, %narrow : tensor<4x64xf32>, tensor<64x16xf32>)
                      outs(%f3 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %r4 = linalg.matmul ins(%x, %bf16 : tensor<4x64xf32>, tensor<64x50xbf16>)
                      outs(%f : tensor<4x50xf32>) -> tensor<4x50xf32>
  %r5 = linalg.matmul ins(%x, %plain : tensor<4x64xf32>, tensor<64x50xf32>)
                      outs(%f : tensor<4x50xf32>) -> tensor<4x50xf32>
  return %r1, %returned, %r2, %r3, %r4, %r5 : tensor<4x50xf32>, tensor<64x50xf32>,
      tensor<50x50xf32>, tensor<4x16xf32>, tensor<4x50xf32>, tensor<4x50xf32>
}
