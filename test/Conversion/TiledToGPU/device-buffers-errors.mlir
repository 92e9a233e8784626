// RUN: hybrid-opt %s --hybrid-gpu-device-buffers --verify-diagnostics

// A host op still writing a device buffer element by element is named (it
// would fault at run time).
func.func @host_write(%x: memref<4xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  // expected-error @below {{the host writes a device buffer here}}
  memref.store %v, %x[%c0] : memref<4xf32>
  return
}
