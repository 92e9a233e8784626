// RUN: hybrid-opt %s --split-input-file --hybrid-gpu-device-buffers | FileCheck %s

// An entry point copies its arguments to the device once, runs on device
// buffers, copies its result back into a host buffer (which the caller
// owns) and frees what it allocated on the device.
// CHECK-LABEL: func @entry
// CHECK-SAME:    (%[[X:.*]]: memref<?xf32>) -> memref<?xf32>
// CHECK:         %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK:         %[[DX:.*]] = gpu.alloc (%[[N]]) : memref<?xf32>
// CHECK:         gpu.memcpy %[[DX]], %[[X]]
// CHECK:         %[[T:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK:         call @kernel(%[[DX]], %[[T]])
// CHECK:         %[[H:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK:         gpu.memcpy %[[H]], %[[T]]
// The argument is only read: not copied back.
// CHECK-NOT:     gpu.memcpy %[[X]]
// CHECK-DAG:     gpu.dealloc %[[T]]
// CHECK-DAG:     gpu.dealloc %[[DX]]
// CHECK:         return %[[H]]
func.func private @kernel(%x: memref<?xf32>, %y: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%c0] : memref<?xf32>
    memref.store %v, %y[%c0] : memref<?xf32>
    gpu.terminator
  }
  return
}
func.func @entry(%x: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  call @kernel(%x, %t) : (memref<?xf32>, memref<?xf32>) -> ()
  return %t : memref<?xf32>
}

// -----

// An argument written in place (a KV cache) is copied back before return.
// CHECK-LABEL: func @in_place
// CHECK-SAME:    (%[[CACHE:.*]]: memref<8x4xf32>, %[[ROW:.*]]: memref<4xf32>)
// CHECK:         %[[DC:.*]] = gpu.alloc () : memref<8x4xf32>
// CHECK:         gpu.memcpy %[[DC]], %[[CACHE]]
// CHECK:         %[[DR:.*]] = gpu.alloc () : memref<4xf32>
// CHECK:         gpu.memcpy %[[DR]], %[[ROW]]
// CHECK:         %[[SLOT:.*]] = memref.subview %[[DC]]
// CHECK:         gpu.memcpy %[[SLOT]], %[[DR]]
// CHECK:         gpu.memcpy %[[CACHE]], %[[DC]]
// CHECK-NOT:     gpu.memcpy %[[ROW]]
// CHECK:         return
func.func @in_place(%cache: memref<8x4xf32>, %row: memref<4xf32>) {
  %slot = memref.subview %cache[3, 0] [1, 4] [1, 1] : memref<8x4xf32> to memref<4xf32, strided<[1], offset: 12>>
  memref.copy %row, %slot : memref<4xf32> to memref<4xf32, strided<[1], offset: 12>>
  return
}

// -----

// A host read of a device buffer (a check's condition computed by a
// kernel) is copied back: a one-thread kernel stages the element, which is
// copied into a host buffer and read there.
// CHECK-LABEL: func @host_read
// CHECK:         %[[H:.*]] = memref.alloca() : memref<1xi1>
// CHECK:         %[[D:.*]] = gpu.alloc () : memref<i1>
// CHECK:         gpu.memcpy %[[D]], %arg0
// CHECK:         %[[S:.*]] = gpu.alloc () : memref<1xi1>
// CHECK:         gpu.launch
// CHECK:           %[[V:.*]] = memref.load %[[D]][]
// CHECK:           memref.store %[[V]], %[[S]][%{{.*}}]
// CHECK:         gpu.memcpy %[[H]], %[[S]]
// CHECK:         gpu.dealloc %[[S]]
// CHECK:         %[[R:.*]] = memref.load %[[H]][%{{.*}}] : memref<1xi1>
// CHECK:         return %[[R]]
func.func @host_read(%ok: memref<i1>) -> i1 {
  %v = memref.load %ok[] : memref<i1>
  return %v : i1
}

// -----

// A bound parameter (a weight: `parameter` in the entry's recorded
// signature) arrives in device memory, where the runtime keeps it: no copy
// in, no copy back, not freed.
// CHECK-LABEL: func @with_weight
// CHECK-SAME:    (%[[X:.*]]: memref<4xf32>, %[[W:.*]]: memref<4xf32>)
// CHECK:         %[[DX:.*]] = gpu.alloc () : memref<4xf32>
// CHECK:         gpu.memcpy %[[DX]], %[[X]]
// CHECK-NOT:     gpu.memcpy {{.*}}%[[W]]
// CHECK:         call @kernel2(%[[DX]], %[[W]])
// CHECK-NOT:     gpu.dealloc %[[W]]
module attributes {hybrid.entry_points = "[{\22args\22:[{\22dtype\22:\22f32\22,\22kind\22:\22tensor\22,\22shape\22:[4]},{\22dtype\22:\22f32\22,\22kind\22:\22tensor\22,\22parameter\22:{\22key\22:\22w\22},\22shape\22:[4]}],\22name\22:\22with_weight\22,\22results\22:[]}]"} {
  func.func private @kernel2(%x: memref<4xf32>, %w: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %v = memref.load %w[%c0] : memref<4xf32>
      memref.store %v, %x[%c0] : memref<4xf32>
      gpu.terminator
    }
    return
  }
  func.func @with_weight(%x: memref<4xf32>, %w: memref<4xf32>) {
    call @kernel2(%x, %w) : (memref<4xf32>, memref<4xf32>) -> ()
    return
  }
}

// -----

// An argument updated in place (`inout` in the recorded signature: a KV
// cache) also arrives in device memory, kept there by the runtime between
// calls: not copied in or back, not freed. A buffer returned by a call (an
// outlined kernel's result) is freed on the device once its host copy is
// made, unless buffer deallocation freed its base already (an offset view).
// CHECK-LABEL: func @append
// CHECK-SAME:    (%[[X:.*]]: memref<4xf32>, %[[C:.*]]: memref<4xf32>) -> memref<4xf32>
// CHECK:         %[[DX:.*]] = gpu.alloc () : memref<4xf32>
// CHECK:         gpu.memcpy %[[DX]], %[[X]]
// CHECK-NOT:     gpu.memcpy {{.*}}%[[C]]
// CHECK:         %[[R:.*]] = call @kernel3(%[[DX]], %[[C]])
// CHECK:         %[[H:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK:         gpu.memcpy %[[H]], %[[R]]
// CHECK-NOT:     gpu.memcpy {{.*}}%[[C]]
// CHECK:         gpu.dealloc %[[DX]]
// CHECK:         %[[BASE:[a-z_0-9]+]], {{.*}} = memref.extract_strided_metadata %[[R]]
// CHECK:         %[[P0:.*]] = memref.extract_aligned_pointer_as_index %[[BASE]]
// CHECK:         %[[P1:.*]] = memref.extract_aligned_pointer_as_index %[[R]]
// CHECK:         %[[WHOLE:.*]] = arith.cmpi eq, %[[P0]], %[[P1]]
// CHECK:         scf.if %[[WHOLE]] {
// CHECK-NEXT:      gpu.dealloc %[[R]]
// CHECK-NOT:     gpu.dealloc %[[C]]
// CHECK:         return %[[H]]
module attributes {hybrid.entry_points = "[{\22args\22:[{\22dtype\22:\22f32\22,\22kind\22:\22tensor\22,\22shape\22:[4]},{\22dtype\22:\22f32\22,\22inout\22:true,\22kind\22:\22tensor\22,\22shape\22:[4]}],\22name\22:\22append\22,\22results\22:[{\22dtype\22:\22f32\22,\22kind\22:\22tensor\22,\22shape\22:[4]}]}]"} {
  func.func private @kernel3(%x: memref<4xf32>, %c: memref<4xf32>) -> memref<4xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %r = memref.alloc() : memref<4xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
               threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %v = memref.load %x[%c0] : memref<4xf32>
      memref.store %v, %c[%c0] : memref<4xf32>
      memref.store %v, %r[%c0] : memref<4xf32>
      gpu.terminator
    }
    return %r : memref<4xf32>
  }
  func.func @append(%x: memref<4xf32>, %c: memref<4xf32>) -> memref<4xf32> {
    %r = call @kernel3(%x, %c) : (memref<4xf32>, memref<4xf32>) -> memref<4xf32>
    return %r : memref<4xf32>
  }
}

// -----

// A host loop that reads a device buffer and leaves device memory alone (a
// check walking a draft tree's parents) reads a host copy of the whole
// buffer, made once before the loop (a kernel stages it contiguously) and
// freed after it, not one read-back per element.
// CHECK-LABEL: func @check_parents
// CHECK-SAME:    (%[[P:.*]]: memref<?xi32>)
// CHECK:         %[[D:.*]] = gpu.alloc (%{{.*}}) : memref<?xi32>
// CHECK:         gpu.memcpy %[[D]], %[[P]]
// CHECK:         %[[S:.*]] = gpu.alloc (%{{.*}}) : memref<?xi32>
// CHECK:         gpu.launch
// CHECK:           memref.load %[[D]]
// CHECK:           memref.store {{.*}}, %[[S]]
// CHECK:         %[[H:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
// CHECK:         gpu.memcpy %[[H]], %[[S]]
// CHECK:         gpu.dealloc %[[S]]
// CHECK:         scf.for
// CHECK-NOT:       gpu.launch
// CHECK:           memref.load %[[H]]
// CHECK:         }
// CHECK:         memref.dealloc %[[H]]
func.func @check_parents(%parents: memref<?xi32>) -> i1 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0 : i32
  %false = arith.constant false
  %n = memref.dim %parents, %c0 : memref<?xi32>
  %bad = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %false) -> (i1) {
    %p = memref.load %parents[%i] : memref<?xi32>
    %neg = arith.cmpi slt, %p, %zero : i32
    %or = arith.ori %acc, %neg : i1
    scf.yield %or : i1
  }
  return %bad : i1
}
