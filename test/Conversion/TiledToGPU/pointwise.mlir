// RUN: hybrid-opt %s --hybrid-linalg-to-gpu --canonicalize | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>

// Elementwise: one thread per element, the innermost loop fastest.
// CHECK-LABEL: func @add
// CHECK:       %[[N:.*]] = arith.muli
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256
// CHECK:         %[[P:.*]] = arith.addi
// CHECK:         arith.cmpi ult, %[[P]], %[[N]]
// CHECK:         %[[J:.*]] = arith.remui %[[P]], %c128
// CHECK:         %[[X:.*]] = memref.load %arg0[%{{.*}}, %[[J]]]
// CHECK:         %[[Y:.*]] = memref.load %arg1[%{{.*}}, %[[J]]]
// CHECK:         %[[S:.*]] = arith.addf %[[X]], %[[Y]]
// CHECK:         memref.store %[[S]], %arg2[%{{.*}}, %[[J]]]
func.func @add(%x: memref<?x128xf32>, %y: memref<?x128xf32>, %z: memref<?x128xf32>) {
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : memref<?x128xf32>, memref<?x128xf32>) outs(%z : memref<?x128xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  return
}

// A row reduction: one thread per row, which runs the reduction loop with
// the row's running value in a register, and stores it once.
// CHECK-LABEL: func @row_max
// CHECK:       gpu.launch
// CHECK:         %[[I:.*]] = arith.addi
// CHECK:         %[[INIT:.*]] = memref.load %arg1[%[[I]]]
// CHECK:         %[[M:.*]] = scf.for %[[K:.*]] = %c0 to %c128 step %c1 iter_args(%[[ACC:.*]] = %[[INIT]]) -> (f32)
// CHECK:           %[[V:.*]] = memref.load %arg0[%[[I]], %[[K]]]
// CHECK:           %[[NEXT:.*]] = arith.maxnumf %[[V]], %[[ACC]]
// CHECK:           scf.yield %[[NEXT]]
// CHECK:         memref.store %[[M]], %arg1[%[[I]]]
func.func @row_max(%x: memref<?x128xf32>, %m: memref<?xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x128xf32>) outs(%m : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maxnumf %a, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// linalg.index is the thread's loop value; a fill reads no output.
// CHECK-LABEL: func @iota_and_fill
// CHECK:       gpu.launch
// CHECK:         %[[P:.*]] = arith.addi
// CHECK:         %[[F:.*]] = arith.index_cast %[[P]] : index to i64
// CHECK:         memref.store %[[F]], %arg0[%[[P]]]
// CHECK:       gpu.launch
// CHECK-NOT:     memref.load
// CHECK:         memref.store %cst, %arg1
func.func @iota_and_fill(%x: memref<?xi64>, %y: memref<4x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      outs(%x : memref<?xi64>) {
  ^bb0(%out: i64):
    %i = linalg.index 0 : index
    %v = arith.index_cast %i : index to i64
    linalg.yield %v : i64
  }
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<4x4xf32>)
  return
}
